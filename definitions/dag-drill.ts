/**
 * DAG drill: Phi's exact DAG semantics on demand, every job shaped by run parameters.
 *
 *     a ──┐
 *         ├──→ c ──┐
 *     b ──┤        ├──→ g
 *         ├──→ d ──┼─(COMPLETION)─→ e
 *         └─(DATA_READY: rows > 0)─→ f ──┘
 *
 *  - `{ "sleepMs": { "a": 4000 } }`: a job sleeps that long. `d` starts as soon as `b` ends, whatever `a` does.
 *  - `{ "fail": ["a"] }`: those jobs fail permanently; only their dependents are skipped.
 *  - `{ "rows": 0 }`: `b` outputs no rows, so `f`'s condition is false and `f` (and `g` after it) skip.
 *  - `{ "blobBytes": { "b": 300000 } }`: `b` outputs that many characters; its dependents count them.
 * Every job returns how many rows it saw upstream, so the data flow shows in the records.
 */
import { definePipeline, z } from 'phi';

const step = './handlers/drill/step.ts';
const job = z.enum(['a', 'b', 'c', 'd', 'e', 'f', 'g']);

export default definePipeline({
  id: 'dag-drill',
  description: 'Exact DAG semantics on demand: durations, failures and data per job',
  parameters: { sleepMs: {}, fail: [], rows: 1, blobBytes: {} },
  runParameters: z.object({
    sleepMs: z.partialRecord(job, z.number().int().min(0).max(25_000)).optional(),
    fail: z.array(job).optional(),
    rows: z.number().int().min(0).optional(),
    blobBytes: z.partialRecord(job, z.number().int().min(0).max(1_000_000)).optional(),
  }),
  defaults: { timeoutSeconds: 30, retry: { maxAttempts: 1 } },
  jobs: {
    a: { handler: step },
    b: { handler: step },
    c: { handler: step, dependsOn: ['a', 'b'] },
    d: { handler: step, dependsOn: ['b'] },
    e: { handler: step, dependsOn: [{ job: 'd', on: 'COMPLETION' }] },
    f: { handler: step, dependsOn: [{ job: 'b', on: 'DATA_READY', condition: 'rows > 0' }] },
    g: { handler: step, dependsOn: ['c', 'f'] },
  },
});

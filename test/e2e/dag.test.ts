/**
 * Exact DAG semantics on the local emulator, through the shipped `dag-drill` pipeline (see
 * definitions/dag-drill.ts): a → c, b → c, b → d, d →(COMPLETION) e, b →(DATA_READY rows > 0) f,
 * c → g, f → g. Run parameters set each job's duration, failure and data; the records say what ran when.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { deadLetterQueueUrl, peekDeadLetters, waitForDeadLetter } from '../../lib/client/dead-letters.ts';
import type { RunView } from '../../lib/model/contract/index.ts';
import type { Parameters } from '../../lib/model/pipeline.ts';
import { main } from '../../lib/cli/main.ts';
import type { ObservedPlan } from '../../lib/plan/observed.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

async function drill(parameters: Parameters): Promise<RunView> {
  const { run } = await client.startRun('dag-drill', { parameters });
  return client.waitForRun(run.runId, { timeoutMs: 60_000 });
}

const attempt = (view: RunView, job: string) => {
  const found = view.jobs[job]?.attempts[0];
  if (!found) throw new Error(`job ${job} has no attempt: ${JSON.stringify(view.jobs[job])}`);
  return found;
};
const ms = (iso: string | undefined): number => Date.parse(iso ?? '');

describe('a DAG that is not series-parallel', () => {
  it('starts each job as soon as its own upstreams end: d runs while a still does, and the run takes its critical path', async () => {
    // a and d take 4 s, b and c 1 s: layer by layer d would wait for a (8 s); the DAG needs 5 s.
    const view = await drill({ sleepMs: { a: 4000, b: 1000, c: 1000, d: 4000 } });

    expect(view.run.status).toBe('SUCCEEDED');
    expect(ms(attempt(view, 'd').startedAt)).toBeLessThan(ms(attempt(view, 'a').completedAt));
    expect(ms(attempt(view, 'd').startedAt)).toBeGreaterThanOrEqual(ms(attempt(view, 'b').completedAt));
    expect(ms(attempt(view, 'c').startedAt)).toBeGreaterThanOrEqual(Math.max(ms(attempt(view, 'a').completedAt), ms(attempt(view, 'b').completedAt)));
    // 5 s of work on the critical path; the emulator adds its own start-up and Phi its gating
    expect(view.run.durationMs).toBeLessThan(6_500);
  });

  it('hands each job its upstreams’ outputs', async () => {
    const view = await drill({ rows: 7 });
    expect(attempt(view, 'c').outputs).toEqual({ rows: 1, upstream: ['a', 'b'], upstreamRows: 8 });
    expect(attempt(view, 'f').outputs).toEqual({ rows: 1, upstream: ['b'], upstreamRows: 7 });
    expect(attempt(view, 'a').outputs).toEqual({ rows: 1, upstream: [], upstreamRows: 0 });
  });
});

describe('large outputs', () => {
  it('keeps outputs over 256 KiB in the outputs bucket and hands them downstream as the same object', async () => {
    const view = await drill({ blobBytes: { b: 300_000 } });
    expect(view.run.status).toBe('SUCCEEDED');
    const b = attempt(view, 'b');
    expect(b.outputs).toBeUndefined();
    expect(b.outputsRef).toMatchObject({ key: `outputs/dag-drill/${view.run.runId}/b/1.json`, bytes: expect.any(Number) });
    expect(b.outputsRef!.bytes).toBeGreaterThan(300_000);
    // c, d and f each received b's 300,000-character blob
    for (const job of ['c', 'd', 'f']) expect(attempt(view, job).outputs).toMatchObject({ upstreamBlobBytes: 300_000 });
  });
});

describe('failure isolation', () => {
  it('skips only the failed job’s dependents: every independent branch runs to its end, then the run fails with one dead letter', async () => {
    const view = await drill({ fail: ['a'], sleepMs: { d: 500 } });

    expect(view.run.status).toBe('FAILED');
    expect(view.run.jobs).toEqual({
      a: { status: 'FAILED', attempts: 1, errorCode: 'DRILL_FAILURE' },
      b: { status: 'SUCCEEDED', attempts: 1 },
      c: { status: 'SKIPPED', attempts: 0, reason: 'UPSTREAM_FAILED' },
      d: { status: 'SUCCEEDED', attempts: 1 },
      e: { status: 'SUCCEEDED', attempts: 1 },
      f: { status: 'SUCCEEDED', attempts: 1 },
      // its upstream c was skipped because a failed
      g: { status: 'SKIPPED', attempts: 0, reason: 'UPSTREAM_FAILED' },
    });
    expect(view.run.error).toEqual({ code: 'DRILL_FAILURE', message: 'job a fails on purpose', jobId: 'a' });
    expect(view.jobs.c).toEqual({ status: 'SKIPPED', attempts: [] });
    const letter = await waitForDeadLetter(view.run.runId);
    expect(letter).toMatchObject({ jobId: 'a', errorCode: 'DRILL_FAILURE', errorCategory: 'PERMANENT', attempts: 1 });
    expect((await peekDeadLetters(await deadLetterQueueUrl())).filter((m) => m.runId === view.run.runId)).toHaveLength(1);
  });
});

describe('dependency forms', () => {
  it('runs a COMPLETION dependent after its upstream failed, and skips a SUCCESS dependent', async () => {
    const view = await drill({ fail: ['d'] });
    expect(view.run.status).toBe('FAILED');
    expect(view.run.jobs?.d).toEqual({ status: 'FAILED', attempts: 1, errorCode: 'DRILL_FAILURE' });
    expect(view.run.jobs?.e).toEqual({ status: 'SUCCEEDED', attempts: 1 });
    // e ran with no outputs from d, which failed
    expect(attempt(view, 'e').outputs).toEqual({ rows: 1, upstream: [], upstreamRows: 0 });
    expect(view.run.jobs?.g).toEqual({ status: 'SUCCEEDED', attempts: 1 });
  });

  it('runs a DATA_READY dependent when its condition holds over the upstream’s outputs, and skips it (and what needs it) when not', async () => {
    const holds = await drill({ rows: 3 });
    expect(holds.run.jobs?.f).toEqual({ status: 'SUCCEEDED', attempts: 1 });

    const fails = await drill({ rows: 0 });
    expect(fails.run.status).toBe('SUCCEEDED');
    expect(fails.run.jobs?.f).toEqual({ status: 'SKIPPED', attempts: 0, reason: 'CONDITION_FALSE' });
    expect(fails.run.jobs?.g).toEqual({ status: 'SKIPPED', attempts: 0, reason: 'UPSTREAM_SKIPPED' });
    expect(fails.run.jobs?.c).toEqual({ status: 'SUCCEEDED', attempts: 1 });
  });
});

describe('phi plan --observed', () => {
  it('weighs the plan with the durations of the latest succeeded runs, read from the deployment', async () => {
    // a run whose b → d chain is clearly the longest
    await drill({ sleepMs: { b: 1500, d: 1500 } });
    const printed: string[] = [];
    const code = await main(['plan', '--observed', '--runs', '1', '--json'], (t) => printed.push(t), (t) => printed.push(t));
    expect(code).toBe(0);
    const output = JSON.parse(printed.join('\n')) as { observed: ObservedPlan[] };
    const observed = output.observed.find((o) => o.pipelineId === 'dag-drill')!;
    expect(observed.runs).toBe(1);
    expect(observed.median.path).toEqual(['b', 'd', 'e']);
    expect(observed.median.ms).toBeGreaterThanOrEqual(3000);
    expect(observed.median.ms).toBeLessThan(4000);
    expect(observed.unobserved).toEqual([]);
  });
});

/**
 * `npm run bench`: the speed and memory targets of the specs, measured and printed as figures and
 * ratios to their targets (ratio < 1 meets the target). Not a test: it never fails on a slow machine.
 *   - DAG resolution (validate + layers + critical path + ASL) < 100 ms      (SPEC-POS)
 *   - CLI startup: `phi validate` on the shipped examples < 1 s              (SPEC-POS)
 *   - task runtime overhead < 5 % of a 50 ms handler                         (SPEC-POS)
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PipelineManifest, RunTaskPayload } from '../../lib/model/contract/index.ts';
import { PipelineSchema, type Pipeline } from '../../lib/model/pipeline.ts';
import { compilePlan } from '../../lib/plan/compile.ts';
import { findCycles, topologicalOrder } from '../../lib/plan/graph.ts';
import { randomDag, writeGeneratedPipeline } from '../support/generated-pipeline.ts';
import { createLogger } from '../../functions/shared/log.ts';
import { runAttempt } from '../../functions/runtime/core.ts';
import { MemoryOutputStore, MemoryRecordStore } from '../unit/support/memory-store.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const rows: [string, string, string][] = [];
const record = (name: string, figure: string, ratio: string): void => {
  rows.push([name, figure, ratio]);
};

/** A random DAG of `jobs` jobs and 3 edges a job (each to a distinct earlier job; seeded, so runs compare) over 5 handler files. */
function syntheticPipeline(jobs: number, seed = 42): Pipeline {
  let state = seed;
  const rand = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ids = Array.from({ length: jobs }, (_, i) => `job-${String(i).padStart(5, '0')}`);
  const defs: Record<string, { handler: string; dependsOn: string[] }> = {};
  ids.forEach((id, i) => {
    const deps = new Set<string>();
    while (deps.size < Math.min(3, i)) deps.add(ids[Math.floor(rand() * i)]!);
    defs[id] = { handler: `./handler-${i % 5}.ts`, dependsOn: [...deps] };
  });
  return PipelineSchema.parse({ id: `bench-${jobs}`, schedule: { cron: '0 19 * * 1-5', timezone: 'America/New_York' }, jobs: defs });
}

/** The mean time of `repeat` calls in steady state, after as many warm-up calls (so the JIT has compiled the code). */
function time<T>(fn: () => T, repeat: number): { ms: number; value: T } {
  let value = fn();
  for (let i = 1; i < repeat; i++) value = fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) value = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6 / repeat, value };
}

const now = new Date('2026-11-22T12:00:00Z');
const planMs = new Map<number, number>();
for (const size of [10, 100, 1000, 5000]) {
  const pipeline = syntheticPipeline(size);
  const { ms, value } = time(() => compilePlan([{ file: path.join(ROOT, 'definitions', 'bench.ts'), pipeline }], now), size >= 1000 ? 5 : 20);
  planMs.set(size, ms);
  const problems = value.problems.map((p) => p.code).join(', ') || 'no problems';
  const target = size === 1000 ? `${(ms / 20).toFixed(3)} of 20 ms (1,000-job target)` : `${(ms / 100).toFixed(3)} of 100 ms`;
  record(`DAG resolution + plan, ${size} jobs, ${3 * size} edges (${problems})`, `${ms.toFixed(2)} ms`, target);
}
// Growth: time per (V + E) log V from 1,000 to 5,000 jobs; 1 or less is no worse than O((V+E) log V).
const cost = (v: number): number => 4 * v * Math.log2(v);
record('plan growth 1,000 → 5,000 jobs, against (V+E) log V', `×${((planMs.get(5000) ?? 0) / (planMs.get(1000) ?? 1)).toFixed(2)}`, `${(((planMs.get(5000) ?? 0) / (planMs.get(1000) ?? 1)) / (cost(5000) / cost(1000))).toFixed(3)} of the n log n growth`);

const chain = Array.from({ length: 10_000 }, (_, i) => ({ id: `n${i}`, dependsOn: i > 0 ? [`n${i - 1}`] : [`n${9_999}`], weight: 1 }));
const cycles = time(() => findCycles(chain), 5);
record('cycle detection, 10,000-job cycle', `${cycles.ms.toFixed(2)} ms`, `${(cycles.ms / 100).toFixed(3)} of 100 ms`);

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const kept: ReturnType<typeof compilePlan>[] = [];
const hundred = syntheticPipeline(100);
gc();
const heapBefore = process.memoryUsage().heapUsed;
for (let i = 0; i < 20; i++) kept.push(compilePlan([{ file: path.join(ROOT, 'definitions', 'bench.ts'), pipeline: hundred }], now));
gc();
const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 20 / 2 ** 20;
record('heap held by one 100-job plan (mean of 20 kept)', `${heapMb.toFixed(2)} MiB`, `(${kept[0]!.plan.pipelines.length} plan, ${kept[0]!.problems.length} problems)`);

const startups: number[] = [];
for (let i = 0; i < 3; i++) {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, [path.join(ROOT, 'bin', 'phi.js'), 'validate', '--definitions', path.join(ROOT, 'definitions')], { cwd: ROOT, stdio: 'pipe' });
  startups.push(Number(process.hrtime.bigint() - start) / 1e6);
}
const startup = Math.min(...startups);
record('CLI startup: phi validate (the shipped examples), best of 3', `${startup.toFixed(0)} ms`, `${(startup / 1000).toFixed(3)} of 1 s`);

{
  // phi plan end to end on a folder holding a 1,000-job pipeline: start-up, loading, planning, printing.
  const dir = writeGeneratedPipeline('plan-1000', randomDag(1000, 3, 5), { dir: path.join(ROOT, '.phi', 'bench-plan') });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    execFileSync(process.execPath, [path.join(ROOT, 'bin', 'phi.js'), 'plan', '--definitions', dir], { cwd: ROOT, stdio: 'pipe' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const best = Math.min(...times);
  record('phi plan on a 1,000-job folder, end to end, best of 3', `${best.toFixed(0)} ms`, `${(best / 1000).toFixed(3)} of 1 s`);
}

// Runtime overhead: the wrapper's own work around a handler that works for 50 ms, for a job with two
// upstreams and two dependents, records kept in memory (DynamoDB latency is the network's, not the
// runtime's, and is measured by the e2e runs).
const manifest: PipelineManifest = {
  pipelineId: 'bench',
  definitionVersion: 'x',
  jobs: {
    work: {
      parameters: { a: 1 },
      retry: { maxAttempts: 3, initialDelaySeconds: 1, backoffMultiplier: 2, maxDelaySeconds: 10, jitter: 'FULL', retryableErrors: [], nonRetryableErrors: [] },
      upstream: [{ job: 'u1', on: 'SUCCESS', skipOnUpstreamSkip: true }, { job: 'u2', on: 'SUCCESS', skipOnUpstreamSkip: true }],
      dependents: [{ job: 'd1', upstreamCount: 1 }, { job: 'd2', upstreamCount: 2 }],
    },
  },
};
const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const silent = createLogger({}, () => {});
const handlerMs = 50;
const bare: number[] = [];
const wrapped: number[] = [];
for (let i = 0; i < 20; i++) {
  const store = new MemoryRecordStore();
  const runId = `r${i}`;
  for (const up of ['u1', 'u2']) await store.recordUpstreamEnded(runId, 'work', up, { status: 'SUCCEEDED', attempt: 1 });
  const payload: RunTaskPayload = { action: 'run', run: { runId, pipelineId: 'bench', trigger: 'API', parameters: {} }, jobId: 'work', attempt: 1, executionArn: 'arn' };
  let start = performance.now();
  busy(handlerMs);
  bare.push(performance.now() - start);
  start = performance.now();
  await runAttempt(manifest, payload, { handler: () => (busy(handlerMs), { ok: true }) }, { store, log: silent, sendToken: async () => {}, sendDeadLetter: async () => {}, outputs: new MemoryOutputStore() });
  wrapped.push(performance.now() - start);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const overhead = (median(wrapped) - median(bare)) / median(bare);
record(`task runtime overhead around a ${handlerMs} ms handler`, `${(median(wrapped) - median(bare)).toFixed(3)} ms (${(overhead * 100).toFixed(2)} %)`, `${(overhead / 0.05).toFixed(3)} of 5 %`);

// A 1,000-job run (3,000 edges, 5 handler files), every job through the real runtime core over the
// in-memory store, in dependency order: the requests each job costs in DynamoDB and Lambda, and the
// plan's state transitions and history events. (The wall time on the emulator is the e2e scale test's.)
{
  const jobs = randomDag(1000, 3, 5);
  const pipeline = PipelineSchema.parse({ id: 'scale-1000', jobs: Object.fromEntries(jobs.map((j) => [j.id, { handler: `./handlers/step-${j.handler}.ts`, dependsOn: [...j.dependsOn] }])) });
  const scalePlan = compilePlan([{ file: path.join(ROOT, 'definitions', 'scale.ts'), pipeline }], now).plan.pipelines[0]!;
  const memory = new MemoryRecordStore();
  const calls = new Map<string, number>();
  const counted = new Proxy(memory, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + (prop === 'getAttempts' ? Math.ceil((args[0] as unknown[]).length / 100) : 1));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const runId = 'r-scale';
  await memory.createRun({ runId, pipelineId: 'scale-1000', trigger: 'API', parameters: {}, queuedAt: now.toISOString() });
  let invocations = 0;
  for (const job of topologicalOrder(scalePlan.jobs.map((j) => ({ id: j.id, dependsOn: j.dependsOn, weight: 1 })))) {
    // The state machine's gate: one conditional UpdateItem for each job that has upstreams.
    if ((scalePlan.manifest.jobs[job.id]?.upstream.length ?? 0) > 0) calls.set('gate', (calls.get('gate') ?? 0) + 1);
    invocations++;
    await runAttempt(scalePlan.manifest, { action: 'run', run: { runId, pipelineId: 'scale-1000', trigger: 'API', parameters: {} }, jobId: job.id, attempt: 1, executionArn: 'arn' }, { handler: () => ({ n: 1 }) }, { store: counted, log: silent, sendToken: async () => {}, sendDeadLetter: async () => {}, outputs: new MemoryOutputStore() });
  }
  // Every counted call is one request: a read, or else a write (a transaction is one request).
  const READS = ['readAttemptContext', 'getJobState', 'getRun', 'getAttempts'];
  const reads = READS.reduce((n, m) => n + (calls.get(m) ?? 0), 0);
  const writes = [...calls].filter(([m]) => !READS.includes(m)).reduce((n, [, count]) => n + count, 0);
  const perJob = (n: number): string => (n / jobs.length).toFixed(2);
  record('1,000-job run: DynamoDB write requests per job (simulated)', perJob(writes), `${writes} in all: ${[...calls].filter(([m]) => !READS.includes(m)).map(([m, n]) => `${m} ${n}`).join(', ')}`);
  record('1,000-job run: DynamoDB read requests per job (simulated)', perJob(reads), `${reads} in all: ${READS.filter((m) => calls.has(m)).map((m) => `${m} ${calls.get(m)}`).join(', ')} (the run, the job's state, its attempt and its upstreams' first attempts in one batch)`);
  record('1,000-job run: Lambda invocations per job', perJob(invocations), `${invocations} job runs + 2 recorder calls per run`);
  record('1,000-job run: state transitions (plan)', `${scalePlan.estimates.stateTransitions.perRun}`, `${scalePlan.estimates.stateTransitions.perJob} per job (target 3 or fewer)`);
  record('1,000-job run: history events (plan)', `run ${scalePlan.estimates.historyEvents.run}`, `${scalePlan.estimates.historyEvents.perJob.expected} per job execution, ${scalePlan.estimates.historyEvents.perJob.worstCase} at most (limit 25,000 each)`);
}

const width = Math.max(...rows.map((r) => r[0].length));
console.log(`Phi benchmarks (node ${process.version}, ${new Date().toISOString()})`);
for (const [name, figure, ratio] of rows) console.log(`  ${name.padEnd(width)}  ${figure.padStart(18)}   ratio ${ratio}`);

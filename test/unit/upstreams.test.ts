/**
 * Cross-pipeline dependencies (issue #9, spec Rule 2 across pipelines): `after`, `provides` and
 * `requires` resolved at plan time (inferred edges, refused datasets and cycles), the DEPENDENCIES
 * check of `evaluateStart` (ready, stale, waiting, timed out, forced), and the runs that wait for
 * their upstreams against the in-memory record store: started by the upstream's end, skipped at their
 * timeout, triggered once per upstream run, never started twice.
 */
import { describe, expect, it } from 'vitest';
import { resumeWaitingRun, startRun, type TriggerDeps } from '../../functions/control/trigger.ts';
import { deliverUpstreamEnded, type UpstreamEndedDelivery } from '../../functions/control/upstream.ts';
import { waitCheckTime } from '../../functions/control/wait-checks.ts';
import { CheckOutcome, JobStatus, RunStatus, type DeployedUpstream, type StartRules } from '../../lib/model/contract/index.ts';
import { PipelineSchema, type JsonValue, type PipelineInput } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { evaluateStart } from '../../lib/model/start-rules.ts';
import { compilePlan } from '../../lib/plan/compile.ts';
import { compileUpstreams } from '../../lib/plan/upstreams.ts';
import { captureLogs, MemoryRecordStore } from './support/memory-store.ts';

const job = { handler: './handlers/noop.ts' };
const pipeline = (input: Omit<PipelineInput, 'jobs'>) => ({ file: `/defs/${input.id}.ts`, pipeline: PipelineSchema.parse({ jobs: { only: job }, ...input }) });

describe('cross-pipeline dependencies at plan time', () => {
  it('infer each required dataset’s provider as an after dependency (SUCCESS), merged with after entries, defaults filled in', () => {
    const { upstreams, problems } = compileUpstreams([
      pipeline({ id: 'data', schedule: { cron: '0 19 * * *' }, provides: ['market_data', 'events'] }),
      pipeline({ id: 'scenarios', schedule: { cron: '0 20 * * 0' }, requires: ['market_data'], provides: ['scenario_definitions'] }),
      pipeline({ id: 'metrics', requires: ['scenario_definitions', { dataset: 'market_data', maxAgeHours: 26, timeoutSeconds: 600 }] }),
      pipeline({ id: 'report', after: [{ pipeline: 'metrics', on: 'COMPLETION', timeoutSeconds: 0 }] }),
    ]);
    expect(problems).toEqual([]);
    expect(upstreams.get('data')).toBeUndefined();
    // Scheduled: gated by default, an hour's wait (spec Rule 2's timeout_seconds: 3600).
    expect(upstreams.get('scenarios')).toEqual([{ pipeline: 'data', on: 'SUCCESS', mode: 'gate', timeoutSeconds: 3600, datasets: ['market_data'] }]);
    // Nothing else starts it: triggered by its upstreams' ends.
    expect(upstreams.get('metrics')).toEqual([
      { pipeline: 'data', on: 'SUCCESS', mode: 'trigger', maxAgeHours: 26, timeoutSeconds: 600, datasets: ['market_data'] },
      { pipeline: 'scenarios', on: 'SUCCESS', mode: 'trigger', timeoutSeconds: 3600, datasets: ['scenario_definitions'] },
    ]);
    expect(upstreams.get('report')).toEqual([{ pipeline: 'metrics', on: 'COMPLETION', mode: 'trigger', timeoutSeconds: 0 }]);
  });

  it('refuses the seed’s chain as written: the assessment requires calculated_metrics, which nothing provides (DEP_007)', () => {
    const { problems } = compileUpstreams([
      pipeline({ id: 'data-pipeline', schedule: { cron: '0 19 * * *' }, provides: ['market_data', 'economic_data', 'events', 'news'] }),
      pipeline({ id: 'scenarios-pipeline', schedule: { cron: '0 20 * * 0' }, requires: ['market_data'], provides: ['scenario_definitions', 'scenario_timeseries'] }),
      pipeline({ id: 'metrics-pipeline', schedule: { cron: '0 21 * * 0' }, requires: ['scenario_definitions', 'market_data'], provides: ['technical_indicators', 'statistical_metrics', 'ml_features'] }),
      pipeline({ id: 'assessment-pipeline', schedule: { cron: '0 22 * * 0' }, requires: ['scenario_definitions', 'calculated_metrics'], provides: ['backtest_results'] }),
    ]);
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toEqual([[ProblemCode.DEP_007_NO_PROVIDER, 'assessment-pipeline', 'requires[1]']]);
    expect(problems[0]!.message).toContain('calculated_metrics');
  });

  it('refuses an unknown upstream (DEP_006), a dataset two pipelines provide (DEP_008), one upstream named twice with other settings (DEP_010)', () => {
    const { problems } = compileUpstreams([
      pipeline({ id: 'a', provides: ['shared'] }),
      pipeline({ id: 'b', provides: ['shared', 'own'] }),
      pipeline({ id: 'c', after: [{ pipeline: 'nowhere' }, { pipeline: 'b', timeoutSeconds: 60 }], requires: ['shared', { dataset: 'own', timeoutSeconds: 120 }] }),
      pipeline({ id: 'd', after: [{ pipeline: 'a' }, { pipeline: 'a' }] }),
    ]);
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toEqual([
      [ProblemCode.DEP_006_UNKNOWN_PIPELINE, 'c', 'after[0].pipeline'],
      [ProblemCode.DEP_008_AMBIGUOUS_PROVIDER, 'c', 'requires[0]'],
      [ProblemCode.DEP_010_UPSTREAM_CONFLICT, 'c', 'requires[1]'],
      [ProblemCode.DEP_010_UPSTREAM_CONFLICT, 'd', 'after[1]'],
    ]);
  });

  it('refuses pipelines that depend on each other in a cycle, with its path, whether through after or datasets (DEP_009)', () => {
    const { problems } = compileUpstreams([
      pipeline({ id: 'x', requires: ['z-out'], provides: ['x-out'] }),
      pipeline({ id: 'y', after: [{ pipeline: 'x' }] }),
      pipeline({ id: 'z', after: [{ pipeline: 'y' }], provides: ['z-out'] }),
      pipeline({ id: 'self', after: [{ pipeline: 'self' }] }),
    ]);
    expect(problems.map((p) => [p.code, p.cyclePath])).toEqual([
      [ProblemCode.DEP_009_PIPELINE_CYCLE, ['self', 'self']],
      [ProblemCode.DEP_009_PIPELINE_CYCLE, ['x', 'z', 'y', 'x']],
    ]);
  });

  it('deploys the upstreams as start rules, counting one rule and its permission per upstream in the stack estimate', () => {
    const now = new Date('2026-11-23T00:00:00Z');
    const alone = compilePlan([pipeline({ id: 'down', schedule: { rate: '1 day' } })], now).plan.pipelines[0]!;
    const { plan, problems } = compilePlan([pipeline({ id: 'up', provides: ['ds'] }), pipeline({ id: 'down', schedule: { rate: '1 day' }, requires: ['ds'] })], now);
    expect(problems).toEqual([]);
    const down = plan.pipelines.find((p) => p.id === 'down')!;
    expect(down.startRules).toEqual({ upstreams: [{ pipeline: 'up', on: 'SUCCESS', mode: 'gate', timeoutSeconds: 3600, datasets: ['ds'] }] });
    expect(down.estimates.stackResources).toBe(alone.estimates.stackResources + 2);
  });
});

const up = (over: Partial<DeployedUpstream> = {}): DeployedUpstream => ({ pipeline: 'up', on: 'SUCCESS', mode: 'gate', timeoutSeconds: 600, ...over });
const NOW = new Date('2026-11-23T20:00:00Z');
const ago = (minutes: number): string => new Date(NOW.getTime() - minutes * 60_000).toISOString();

describe('evaluateStart: dependencies (spec Rule 2), after the schedule and before the limit on active runs', () => {
  it('starts when every upstream’s latest ended run ended as required, recently enough', () => {
    const d = evaluateStart({ rules: { upstreams: [up({ maxAgeHours: 2 })] }, trigger: 'SCHEDULE', now: NOW, upstreams: { up: { runId: 'up_1', status: RunStatus.SUCCEEDED, completedAt: ago(30) } } });
    expect(d.decision).toBe('START');
    expect(d.checks[3]).toMatchObject({ rule: 'DEPENDENCIES', spec: 'Rule 2', outcome: CheckOutcome.PASSED });
  });

  it('waits (PENDING) until the earliest timeout of the upstreams not ready, then skips: DEPENDENCY_TIMEOUT, or STALE_UPSTREAM when only their age was wrong', () => {
    const rules: StartRules = { upstreams: [up(), up({ pipeline: 'other', maxAgeHours: 1, timeoutSeconds: 300 })], maxActiveRuns: 1 };
    const failed = { runId: 'up_1', status: RunStatus.FAILED, completedAt: ago(10) };
    const old = { runId: 'other_1', status: RunStatus.SUCCEEDED, completedAt: ago(120) };
    const waiting = evaluateStart({ rules, trigger: 'SCHEDULE', now: NOW, upstreams: { up: failed, other: old } });
    expect(waiting).toMatchObject({ decision: 'WAIT', waitingSince: NOW.toISOString(), waitUntil: '2026-11-23T20:05:00.000Z' });
    expect(waiting.reason).toBeUndefined();
    expect(waiting.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.NOT_APPLICABLE, CheckOutcome.NOT_APPLICABLE, CheckOutcome.WAITING, CheckOutcome.NOT_EVALUATED]);
    const later = new Date(NOW.getTime() + 300_000);
    // Five minutes on, the stale one is still stale: skipped for its staleness.
    expect(evaluateStart({ rules, trigger: 'SCHEDULE', now: later, waitingSince: NOW, upstreams: { up: { ...failed, status: RunStatus.SUCCEEDED }, other: old } })).toMatchObject({ decision: 'SKIP', reason: 'STALE_UPSTREAM' });
    expect(evaluateStart({ rules, trigger: 'SCHEDULE', now: later, waitingSince: NOW, upstreams: { up: failed, other: undefined } })).toMatchObject({ decision: 'SKIP', reason: 'DEPENDENCY_TIMEOUT' });
    // Both ready by then: it starts (the limit is checked only now).
    const fresh = { runId: 'other_2', status: RunStatus.SUCCEEDED, completedAt: later.toISOString() };
    expect(evaluateStart({ rules, trigger: 'SCHEDULE', now: later, waitingSince: NOW, upstreams: { up: { ...failed, status: RunStatus.SUCCEEDED }, other: fresh }, activeRuns: 0 })).toMatchObject({ decision: 'START', activeRuns: 0 });
  });

  it('decides at once with a timeout of 0; COMPLETION takes a failed run; a run the upstream never ended is not ready', () => {
    expect(evaluateStart({ rules: { upstreams: [up({ timeoutSeconds: 0 })] }, trigger: 'API', now: NOW, upstreams: { up: undefined } })).toMatchObject({ decision: 'SKIP', reason: 'DEPENDENCY_TIMEOUT' });
    expect(evaluateStart({ rules: { upstreams: [up({ on: 'COMPLETION', timeoutSeconds: 0 })] }, trigger: 'API', now: NOW, upstreams: { up: { runId: 'up_1', status: RunStatus.FAILED, completedAt: ago(1) } } }).decision).toBe('START');
  });

  it('is bypassed by force, not applied to backfills and dead-letter retries, and not evaluated before the upstreams are read', () => {
    const rules: StartRules = { upstreams: [up({ timeoutSeconds: 0 })] };
    expect(evaluateStart({ rules, trigger: 'API', now: NOW, force: true, upstreams: { up: undefined } })).toMatchObject({ decision: 'START', forced: true, checks: [{}, {}, {}, { outcome: CheckOutcome.BYPASSED }, {}] });
    for (const trigger of ['BACKFILL', 'RETRY'] as const) expect(evaluateStart({ rules, trigger, now: NOW, upstreams: { up: undefined } }).checks[3]!.outcome).toBe(CheckOutcome.NOT_APPLICABLE);
    expect(evaluateStart({ rules, trigger: 'SCHEDULE', now: NOW }).checks[3]!.outcome).toBe(CheckOutcome.NOT_EVALUATED);
  });
});

const DOWN = 'down';
const UP = 'up';
const arn = (id: string): string => `arn:aws:states:us-east-1:123456789012:stateMachine:phi-${id}`;

function world(rules: StartRules) {
  const store = new MemoryRecordStore();
  const started: string[] = [];
  const checks: [string, string][] = [];
  const clock = { now: NOW.toISOString() };
  const { log } = captureLogs({ component: 'schedule-trigger' });
  const deps: TriggerDeps = {
    store,
    startExecution: async (_arn, name) => {
      await new Promise((r) => setTimeout(r, 0));
      if (!started.includes(name)) started.push(name);
    },
    stateMachines: new Map([[DOWN, arn(DOWN)], [UP, arn(UP)]]),
    startRules: new Map([[DOWN, rules]]),
    // As Scheduler keeps them: one schedule per run and time (named after both), however often asked.
    waitChecks: { schedule: async (runId, at) => void (checks.some(([r, a]) => r === runId && a === at) || checks.push([runId, at])), scheduleBatchClose: async () => {} },
    log,
    now: () => new Date(clock.now),
  };
  /** An ended run of the upstream pipeline, recorded. */
  const upstreamRun = async (id: string, status: typeof RunStatus.SUCCEEDED | typeof RunStatus.FAILED, at: string) => {
    await store.createRun({ runId: `${UP}_${id}`, pipelineId: UP, trigger: 'API', parameters: {}, queuedAt: at });
    return store.finishRun(`${UP}_${id}`, { status, at, jobs: {} });
  };
  const ended = (runId: string, status: RunStatus, completedAt: string, mode: 'trigger' | 'gate'): UpstreamEndedDelivery => ({
    pipelineId: DOWN,
    upstream: UP,
    mode,
    on: 'SUCCESS',
    event: { id: `ev-${runId}`, source: 'phi', 'detail-type': 'Phi Run Ended', detail: { runId, pipelineId: UP, status, completedAt } },
  });
  return { store, started, checks, clock, deps, upstreamRun, ended };
}

describe('a run waiting for its upstream pipelines', () => {
  const GATED: StartRules = { upstreams: [{ pipeline: UP, on: 'SUCCESS', mode: 'gate', maxAgeHours: 1, timeoutSeconds: 600 }] };

  it('is recorded PENDING (WAIT) without an execution, kept among the waiting runs, its timeout scheduled; the upstream’s end starts it, once', async () => {
    const w = world(GATED);
    await w.upstreamRun('old', RunStatus.SUCCEEDED, ago(180));
    const { created, run } = await startRun({ pipelineId: DOWN, trigger: 'SCHEDULE', scheduledTime: NOW.toISOString() }, w.deps);
    expect(created).toBe(true);
    expect(run).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'WAIT', waitUntil: '2026-11-23T20:10:00.000Z' } });
    expect(w.started).toEqual([]);
    expect(await w.store.listWaiting(DOWN)).toEqual([run.runId]);
    expect(w.checks).toEqual([[run.runId, '2026-11-23T20:10:00.000Z']]);
    // The schedule delivers it again: it is the same run, still waiting.
    expect((await startRun({ pipelineId: DOWN, trigger: 'SCHEDULE', scheduledTime: NOW.toISOString() }, w.deps)).run.status).toBe(RunStatus.PENDING);

    w.clock.now = '2026-11-23T20:04:00.000Z';
    const fresh = await w.upstreamRun('new', RunStatus.SUCCEEDED, w.clock.now);
    // Delivered twice at once (EventBridge's at-least-once): one start.
    const results = await Promise.all([deliverUpstreamEnded(w.ended(fresh.runId, RunStatus.SUCCEEDED, w.clock.now, 'gate'), w.deps), deliverUpstreamEnded(w.ended(fresh.runId, RunStatus.SUCCEEDED, w.clock.now, 'gate'), w.deps)]);
    expect(results.every((r) => r.started === undefined)).toBe(true);
    expect(w.started).toEqual([run.runId]);
    const after = await w.store.requireRun(run.runId);
    expect(after).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'START', latenessSeconds: 0 } });
    expect(after.startDecision?.checks[3]).toMatchObject({ rule: 'DEPENDENCIES', outcome: CheckOutcome.PASSED, detail: expect.stringContaining(fresh.runId) });
    expect(await w.store.listWaiting(DOWN)).toEqual([]);
  });

  it('ends SKIPPED at its timeout (DEPENDENCY_TIMEOUT), its wait in its record, never executed; a late upstream end changes nothing', async () => {
    const w = world(GATED);
    const { run } = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    w.clock.now = '2026-11-23T20:10:00.000Z';
    const skipped = await resumeWaitingRun(run.runId, w.deps);
    expect(skipped).toMatchObject({ status: RunStatus.SKIPPED, completedAt: w.clock.now, durationMs: 600_000, startDecision: { decision: 'SKIP', reason: 'DEPENDENCY_TIMEOUT' } });
    expect(skipped.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.SKIPPED]);
    const fresh = await w.upstreamRun('late', RunStatus.SUCCEEDED, w.clock.now);
    await deliverUpstreamEnded(w.ended(fresh.runId, RunStatus.SUCCEEDED, w.clock.now, 'gate'), w.deps);
    expect(w.started).toEqual([]);
    expect((await w.store.requireRun(run.runId)).status).toBe(RunStatus.SKIPPED);
  });

  it('is checked early, by a check or the sweeper, without changing: still waiting, with its one timeout', async () => {
    const w = world(GATED);
    const { run } = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    w.clock.now = '2026-11-23T20:05:00.000Z';
    expect((await resumeWaitingRun(run.runId, w.deps)).status).toBe(RunStatus.PENDING);
    expect(w.checks).toEqual([[run.runId, '2026-11-23T20:10:00.000Z']]);
    expect(await w.store.listWaiting(DOWN)).toEqual([run.runId]);
  });
});

describe('a triggered dependency', () => {
  const TRIGGERED: StartRules = { upstreams: [{ pipeline: UP, on: 'SUCCESS', mode: 'trigger', timeoutSeconds: 0 }] };

  it('starts one UPSTREAM run per upstream run (its id the run’s identity), with the upstream run in its event parameter', async () => {
    const w = world(TRIGGERED);
    const first = await w.upstreamRun('1', RunStatus.SUCCEEDED, ago(1));
    const a = await deliverUpstreamEnded(w.ended(first.runId, RunStatus.SUCCEEDED, first.completedAt!, 'trigger'), w.deps);
    const again = await deliverUpstreamEnded(w.ended(first.runId, RunStatus.SUCCEEDED, first.completedAt!, 'trigger'), w.deps);
    expect(a.started).toMatchObject({ created: true, status: RunStatus.PENDING });
    expect(again.started).toEqual({ ...a.started, created: false });
    const run = await w.store.requireRun(a.started!.runId);
    expect(run.runId).toMatch(/^down_u-[0-9a-f]{32}$/);
    expect(run).toMatchObject({ trigger: 'UPSTREAM', parameters: { event: { type: 'upstream', pipelineId: UP, runId: first.runId, status: 'SUCCEEDED' } } });
    const second = await w.upstreamRun('2', RunStatus.SUCCEEDED, NOW.toISOString());
    const b = await deliverUpstreamEnded(w.ended(second.runId, RunStatus.SUCCEEDED, second.completedAt!, 'trigger'), w.deps);
    expect(b.started!.runId).not.toBe(a.started!.runId);
    expect(w.started).toEqual([a.started!.runId, b.started!.runId]);
  });

  it('ignores an end its records do not show (anyone may put a "phi" event): no run of another pipeline, none still running, none unknown', async () => {
    const w = world(TRIGGERED);
    expect(await deliverUpstreamEnded(w.ended('up_unrecorded', RunStatus.SUCCEEDED, ago(1), 'trigger'), w.deps)).toEqual({ resumed: [] });
    await w.store.createRun({ runId: 'up_running', pipelineId: UP, trigger: 'API', parameters: {}, queuedAt: ago(5) });
    expect(await deliverUpstreamEnded(w.ended('up_running', RunStatus.SUCCEEDED, ago(1), 'trigger'), w.deps)).toEqual({ resumed: [] });
    await w.store.createRun({ runId: 'other_1', pipelineId: 'other', trigger: 'API', parameters: {}, queuedAt: ago(5) });
    await w.store.finishRun('other_1', { status: RunStatus.SUCCEEDED, at: ago(1), jobs: {} });
    expect(await deliverUpstreamEnded(w.ended('other_1', RunStatus.SUCCEEDED, ago(1), 'trigger'), w.deps)).toEqual({ resumed: [] });
    // A failed run claimed to have succeeded: its record says FAILED, which a SUCCESS dependency does not start on.
    const failed = await w.upstreamRun('f', RunStatus.FAILED, ago(1));
    expect((await deliverUpstreamEnded(w.ended(failed.runId, RunStatus.SUCCEEDED, ago(1), 'trigger'), w.deps)).started).toBeUndefined();
    expect(w.started).toEqual([]);
  });

  it('passes the upstream run’s succeeded jobs’ outputs, and leaves them out (saying so) when they would not fit the parameters', async () => {
    const w = world(TRIGGERED);
    const ended = async (id: string, outputs: Record<string, JsonValue>) => {
      const run = await w.upstreamRun(id, RunStatus.SUCCEEDED, ago(2));
      const base = { runId: run.runId, pipelineId: UP, definitionVersion: 'v1', parameters: {}, startedAt: ago(3) };
      for (const [jobId, out] of Object.entries(outputs)) {
        await w.store.startAttempt({ ...base, jobId, attempt: 1, status: JobStatus.RUNNING, transitions: [{ status: JobStatus.RUNNING, at: ago(3) }] });
        await w.store.finishAttempt({ ...base, jobId, attempt: 1, status: JobStatus.SUCCEEDED, completedAt: ago(2), outputs: out as Record<string, JsonValue>, transitions: [{ status: JobStatus.RUNNING, at: ago(3) }, { status: JobStatus.SUCCEEDED, at: ago(2) }] });
      }
      const { started } = await deliverUpstreamEnded(w.ended(run.runId, RunStatus.SUCCEEDED, ago(2), 'trigger'), w.deps);
      return (await w.store.requireRun(started!.runId)).parameters.event as Record<string, JsonValue>;
    };
    expect(await ended('small', { extract: { rows: 3 }, load: { table: 'prices' } })).toMatchObject({ type: 'upstream', outputs: { extract: { rows: 3 }, load: { table: 'prices' } } });
    const big = await ended('big', { a: { blob: 'x'.repeat(20_000) }, b: { blob: 'y'.repeat(20_000) } });
    expect(big).toMatchObject({ type: 'upstream', outputsOmitted: true });
    expect(big.outputs).toBeUndefined();
  });
});

describe('the timeout’s one-time schedule', () => {
  it('fires at the whole second at or after the timeout, never less than two seconds from now', () => {
    expect(waitCheckTime('2026-11-23T20:10:00.000Z', NOW)).toBe('2026-11-23T20:10:00');
    expect(waitCheckTime('2026-11-23T20:10:00.001Z', NOW)).toBe('2026-11-23T20:10:01');
    expect(waitCheckTime('2026-11-23T19:00:00.000Z', NOW)).toBe('2026-11-23T20:00:02');
  });
});

describe('queue if running (spec Rule 3, whenRunning: queue)', () => {
  const QUEUED: StartRules = { maxActiveRuns: 1, queueIfRunning: true };

  it('waits (PENDING, WAIT, no timeout) instead of skipping when the pipeline is at its limit', () => {
    const d = evaluateStart({ rules: QUEUED, trigger: 'SCHEDULE', now: NOW, activeRuns: 1 });
    expect(d).toMatchObject({ decision: 'WAIT', waitingSince: NOW.toISOString(), activeRuns: 1 });
    expect(d.waitUntil).toBeUndefined();
    expect(d.checks[4]).toMatchObject({ rule: 'CONCURRENCY', outcome: CheckOutcome.WAITING });
  });

  it('under concurrent starts runs one, queues the rest, and starts them one at a time, oldest first, as each run ends', async () => {
    const w = world(QUEUED);
    const starts = await Promise.all(Array.from({ length: 6 }, (_, i) => {
      w.clock.now = new Date(NOW.getTime() + i).toISOString();
      return startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    }));
    expect(w.started).toHaveLength(1);
    const queued = starts.filter((s) => s.run.startDecision?.decision === 'WAIT').map((s) => s.run);
    expect(queued).toHaveLength(5);
    expect(w.checks).toEqual([]);
    const order = [...queued].sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : 1)).map((r) => r.runId);
    for (let i = 0; i < order.length; i++) {
      const active = w.started.at(-1)!;
      w.clock.now = new Date(NOW.getTime() + 60_000 * (i + 1)).toISOString();
      const ended = await w.store.finishRun(active, { status: RunStatus.SUCCEEDED, at: w.clock.now, jobs: {} });
      // The pipeline's own run ended: its queued runs are evaluated again (delivered twice: one start).
      const own = { pipelineId: DOWN, upstream: DOWN, mode: 'gate' as const, on: 'COMPLETION' as const, event: { id: `e${i}`, source: 'phi', 'detail-type': 'Phi Run Ended', detail: { runId: ended.runId, pipelineId: DOWN, status: RunStatus.SUCCEEDED, completedAt: w.clock.now } } };
      await Promise.all([deliverUpstreamEnded(own, w.deps), deliverUpstreamEnded(own, w.deps)]);
      expect(w.started).toHaveLength(i + 2);
      expect(w.started.at(-1)).toBe(order[i]);
    }
    expect(await w.store.listWaiting(DOWN)).toEqual([]);
  });
});

describe('a pipeline its upstreams start', () => {
  it('must take a run with no parameters but Phi’s event (DEF_009), and must not declare event (TRIG_002)', async () => {
    const { z } = await import('zod');
    const now = new Date('2026-11-23T00:00:00Z');
    const up = pipeline({ id: 'up', provides: ['ds'] });
    const needs = pipeline({ id: 'down', requires: ['ds'], runParameters: z.object({ date: z.string() }) });
    expect(compilePlan([up, needs], now).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'requires']]);
    const declares = pipeline({ id: 'down', after: [{ pipeline: 'up' }], runParameters: z.object({ event: z.string().optional() }) });
    expect(compilePlan([up, declares], now).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'runParameters.event']]);
    // Gated, it starts its own runs: nothing of the kind is asked.
    const gated = pipeline({ id: 'down', schedule: { rate: '1 day' }, requires: ['ds'], runParameters: z.object({ date: z.string().default('today') }) });
    expect(compilePlan([up, gated], now).problems).toEqual([]);
  });
});

describe('what phi history and phi run --dry-run say of a waiting run', () => {
  it('names the rule it waits on and why', async () => {
    const { startNote, formatStartDecision } = await import('../../lib/cli/format.ts');
    const upstream = evaluateStart({ rules: { upstreams: [up()] }, trigger: 'SCHEDULE', now: NOW, upstreams: { up: undefined } });
    expect(startNote(upstream)).toBe('waiting (Rule 2): up has no ended run (needs: succeeded): not ready; waiting for up until 2026-11-23T20:10:00.000Z');
    const queued = evaluateStart({ rules: { maxActiveRuns: 1, queueIfRunning: true }, trigger: 'API', now: NOW, activeRuns: 1 });
    expect(startNote(queued)).toBe('waiting (Rule 3): 1 run(s) of the pipeline are active; at most 1: queued, it starts when one ends (oldest first)');
    expect(formatStartDecision('down', queued, {}).split('\n')[0]).toBe('a run of down would wait for an active run to end');
    expect(formatStartDecision('down', upstream, {}).split('\n')[0]).toBe('a run of down would wait, at most until 2026-11-23T20:10:00.000Z');
  });
});

describe('a waiting run, whatever fails around it', () => {
  const GATED: StartRules = { upstreams: [{ pipeline: UP, on: 'SUCCESS', mode: 'gate', timeoutSeconds: 600 }] };

  it('is started by the next evaluation when its execution would not start after its wait (it stays among the waiting runs until it has)', async () => {
    const w = world(GATED);
    const { run } = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    const fresh = await w.upstreamRun('1', RunStatus.SUCCEEDED, NOW.toISOString());
    const failing = { ...w.deps, startExecution: async () => { throw new Error('Rate exceeded'); } };
    await expect(deliverUpstreamEnded(w.ended(fresh.runId, RunStatus.SUCCEEDED, fresh.completedAt!, 'gate'), failing)).rejects.toThrow('Rate exceeded');
    expect(await w.store.requireRun(run.runId)).toMatchObject({ status: RunStatus.FAILED, error: { code: 'RUN_START_FAILED' } });
    expect(await w.store.listWaiting(DOWN)).toEqual([run.runId]);
    // EventBridge delivers the end again: the run starts.
    await deliverUpstreamEnded(w.ended(fresh.runId, RunStatus.SUCCEEDED, fresh.completedAt!, 'gate'), w.deps);
    expect(w.started).toEqual([run.runId]);
    expect(await w.store.requireRun(run.runId)).toMatchObject({ status: RunStatus.PENDING, executionArn: expect.any(String) });
    expect(await w.store.listWaiting(DOWN)).toEqual([]);
  });

  it('keeps force through its wait in the queue: forced past the windows and upstreams, not past the limit', async () => {
    const w = world({ ...GATED, maxActiveRuns: 1, queueIfRunning: true, windows: [{ start: '06:00', end: '07:00', timezone: 'UTC' }] });
    const first = await startRun({ pipelineId: DOWN, trigger: 'API', force: true }, w.deps);
    const second = await startRun({ pipelineId: DOWN, trigger: 'API', force: true }, w.deps);
    expect(second.run.startDecision).toMatchObject({ decision: 'WAIT', forced: true });
    w.clock.now = '2026-11-23T21:00:00.000Z';
    await w.store.finishRun(first.run.runId, { status: RunStatus.SUCCEEDED, at: w.clock.now, jobs: {} });
    expect(await resumeWaitingRun(second.run.runId, w.deps)).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'START', forced: true } });
    expect(w.started).toEqual([first.run.runId, second.run.runId]);
  });

  it('does not let a start whose execution failed before pass the limit when it is delivered again: it queues', async () => {
    const w = world({ maxActiveRuns: 1, queueIfRunning: true });
    const failing = { ...w.deps, startExecution: async () => { throw new Error('Rate exceeded'); } };
    const req = { pipelineId: DOWN, trigger: 'SCHEDULE' as const, scheduledTime: NOW.toISOString() };
    await expect(startRun(req, failing)).rejects.toThrow();
    w.clock.now = '2026-11-23T20:00:30.000Z';
    const other = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    expect(other.run.startDecision?.decision).toBe('START');
    const again = await startRun(req, w.deps);
    expect(again.run).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'WAIT' } });
    expect(w.started).toEqual([other.run.runId]);
  });

  it('keeps its place in the queue: a start while runs are queued queues behind them, even when a place is free', async () => {
    const w = world({ maxActiveRuns: 1, queueIfRunning: true });
    const active = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    w.clock.now = '2026-11-23T20:00:01.000Z';
    const queued = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    w.clock.now = '2026-11-23T20:01:00.000Z';
    await w.store.finishRun(active.run.runId, { status: RunStatus.SUCCEEDED, at: w.clock.now, jobs: {} });
    // A newcomer before the end's delivery: it does not take the free place.
    const newcomer = await startRun({ pipelineId: DOWN, trigger: 'API' }, w.deps);
    expect(newcomer.run.startDecision).toMatchObject({ decision: 'WAIT', checks: expect.arrayContaining([expect.objectContaining({ rule: 'CONCURRENCY', detail: expect.stringContaining('1 queued before it') })]) });
    expect(w.started).toEqual([active.run.runId]);
    const own = { pipelineId: DOWN, upstream: DOWN, mode: 'gate' as const, on: 'COMPLETION' as const, event: { id: 'e', source: 'phi', 'detail-type': 'Phi Run Ended', detail: { runId: active.run.runId, pipelineId: DOWN, status: RunStatus.SUCCEEDED, completedAt: w.clock.now } } };
    await deliverUpstreamEnded(own, w.deps);
    expect(w.started).toEqual([active.run.runId, queued.run.runId]);
    expect((await w.store.requireRun(newcomer.run.runId)).status).toBe(RunStatus.PENDING);
  });
});

describe('the sweeper’s backstop for a lost upstream end', () => {
  const TRIGGERED: StartRules = { upstreams: [{ pipeline: UP, on: 'SUCCESS', mode: 'trigger', timeoutSeconds: 0 }] };

  it('starts the run an upstream run’s end should have started (the same identity), once, and only for ends between 5 minutes and 2 hours old', async () => {
    const { deliverMissedEnds } = await import('../../functions/control/upstream.ts');
    const w = world(TRIGGERED);
    const lost = await w.upstreamRun('lost', RunStatus.SUCCEEDED, ago(30));
    const seen = await w.upstreamRun('seen', RunStatus.SUCCEEDED, ago(40));
    // Too fresh (its event may still come), too old, or not as required: left alone.
    await w.upstreamRun('fresh', RunStatus.SUCCEEDED, ago(1));
    await w.upstreamRun('old', RunStatus.SUCCEEDED, ago(300));
    await w.upstreamRun('failed', RunStatus.FAILED, ago(30));
    const delivered = await deliverUpstreamEnded(w.ended(seen.runId, RunStatus.SUCCEEDED, seen.completedAt!, 'trigger'), w.deps);
    const started = await deliverMissedEnds(w.deps);
    expect(started).toHaveLength(1);
    expect(await w.store.requireRun(started[0]!)).toMatchObject({ trigger: 'UPSTREAM', parameters: { event: { runId: lost.runId } } });
    expect(await deliverMissedEnds(w.deps)).toEqual([]);
    // Its event, late after all: the same run.
    expect((await deliverUpstreamEnded(w.ended(lost.runId, RunStatus.SUCCEEDED, lost.completedAt!, 'trigger'), w.deps)).started).toMatchObject({ runId: started[0], created: false });
    expect(w.started).toEqual([delivered.started!.runId, started[0]]);
  });
});

describe('a start deferred to its next window (outsideWindow: defer)', () => {
  it('waits PENDING with its check at the window’s start, then starts there; its upstreams’ timeouts count from then, not from its delivery', async () => {
    const rules: StartRules = { windows: [{ start: '22:00', end: '23:00', timezone: 'UTC' }], deferOutsideWindow: true, upstreams: [{ pipeline: UP, on: 'SUCCESS', mode: 'gate', timeoutSeconds: 600 }] };
    const w = world(rules);
    const { run } = await startRun({ pipelineId: DOWN, trigger: 'SCHEDULE', scheduledTime: NOW.toISOString() }, w.deps);
    expect(run).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'WAIT', waitUntil: '2026-11-23T22:00:00.000Z' } });
    expect(w.checks).toEqual([[run.runId, '2026-11-23T22:00:00.000Z']]);
    w.clock.now = '2026-11-23T22:00:00.000Z';
    // Its window is open, its upstream not ready: it waits for that now, ten minutes from the window's start.
    expect(await resumeWaitingRun(run.runId, w.deps)).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'WAIT', waitingSince: '2026-11-23T22:00:00.000Z', waitUntil: '2026-11-23T22:10:00.000Z' } });
    w.clock.now = '2026-11-23T22:05:00.000Z';
    const fresh = await w.upstreamRun('1', RunStatus.SUCCEEDED, w.clock.now);
    await deliverUpstreamEnded(w.ended(fresh.runId, RunStatus.SUCCEEDED, w.clock.now, 'gate'), w.deps);
    expect(await w.store.requireRun(run.runId)).toMatchObject({ startDecision: { decision: 'START', latenessSeconds: 0 } });
    expect(w.started).toEqual([run.runId]);
  });
});

describe('datasets declared by jobs', () => {
  it('count as their pipeline’s: a job’s provides make its pipeline the provider, a job’s requires an upstream of its pipeline (a disabled job’s neither)', () => {
    const withJobs = (id: string, jobs: Record<string, object>, rest: object = {}) => ({ file: `/defs/${id}.ts`, pipeline: PipelineSchema.parse({ id, jobs, ...rest }) });
    const { upstreams, problems } = compileUpstreams([
      withJobs('ingest', { fetch: { ...job, provides: ['prices'] }, old: { ...job, enabled: false, provides: ['legacy'] } }),
      withJobs('report', { render: { ...job, requires: [{ dataset: 'prices', maxAgeHours: 2 }] }, mail: { ...job, requires: [{ dataset: 'prices', maxAgeHours: 2 }] } }, { schedule: { cron: '0 8 * * *' } }),
      withJobs('archive', { keep: { ...job, requires: ['legacy'] } }),
    ]);
    expect(upstreams.get('report')).toEqual([{ pipeline: 'ingest', on: 'SUCCESS', mode: 'gate', maxAgeHours: 2, timeoutSeconds: 3600, datasets: ['prices'] }]);
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toEqual([[ProblemCode.DEP_007_NO_PROVIDER, 'archive', 'jobs.keep.requires[0]']]);
    // Made and needed inside one pipeline: no cross-pipeline edge (its jobs' dependsOn orders them).
    const inside = compileUpstreams([withJobs('etl', { make: { ...job, provides: ['rows'] }, use: { ...job, dependsOn: ['make'], requires: ['rows'] } })]);
    expect(inside).toEqual({ upstreams: new Map(), problems: [] });
  });
});

describe('each dataset’s freshness, as phi plan --observed tells it', () => {
  it('is its provider’s last success, fresh for a pipeline whose maxAgeHours it is within', async () => {
    const { datasetFreshness } = await import('../../lib/plan/observed.ts');
    const { formatDatasets } = await import('../../lib/cli/format.ts');
    const plan = {
      pipelines: [
        { id: 'data', provides: ['prices', 'news'] },
        { id: 'weekly', startRules: { upstreams: [{ pipeline: 'data', on: 'SUCCESS' as const, mode: 'gate' as const, maxAgeHours: 2, timeoutSeconds: 60, datasets: ['prices'] }] } },
        { id: 'daily', startRules: { upstreams: [{ pipeline: 'data', on: 'SUCCESS' as const, mode: 'gate' as const, maxAgeHours: 26, timeoutSeconds: 60, datasets: ['prices'] }] } },
      ],
    };
    const found = datasetFreshness(plan, new Map([['data', ago(180)]]), NOW);
    expect(found).toEqual([
      { dataset: 'news', provider: 'data', lastSucceededAt: ago(180), consumers: [] },
      { dataset: 'prices', provider: 'data', lastSucceededAt: ago(180), consumers: [{ pipelineId: 'weekly', maxAgeHours: 2, fresh: false }, { pipelineId: 'daily', maxAgeHours: 26, fresh: true }] },
    ]);
    expect(formatDatasets(found)).toContain(`prices  from data, last success ${ago(180)}; stale for weekly (≤ 2 h), fresh for daily (≤ 26 h)`);
    expect(datasetFreshness(plan, new Map(), NOW)[1]!.consumers.every((c) => c.fresh === false)).toBe(true);
  });
});

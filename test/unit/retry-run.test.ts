/**
 * Retrying an ended run (`POST /runs/{runId}/retry`, `phi retry <runId> [--from-failed]`):
 * - through the control API (`route`) over the in-memory record store and a Step Functions that keeps
 *   what it was asked to start: the retry's identity, record, execution input, refusals and audit;
 * - through the task runtime (`runAttempt`, `attemptFailed`), each job driven as the state machine
 *   would drive it: which jobs of a run retried from its failed jobs run again, which take the outputs
 *   of the retried run, and what their dependents are given.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { route, type ApiDeps } from '../../functions/control/api.ts';
import type { TriggerDeps } from '../../functions/control/trigger.ts';
import { attemptFailed, PhiTaskError, runAttempt, type LoadedHandler, type RuntimeDeps } from '../../functions/runtime/core.ts';
import { PermanentError, type Outputs, type TaskContext } from '../../functions/runtime/index.ts';
import {
  ApiErrorCode,
  JobStatus,
  MAX_INLINE_OUTPUTS_BYTES,
  PipelineManifestSchema,
  RunInputSchema,
  RunStatus,
  SkipReason,
  TaskPayloadSchema,
  TriggerType,
  type AuditRecord,
  type CaughtError,
  type FailedTaskPayload,
  type PipelineManifest,
  type RetryRunResponse,
  type RunInput,
  type RunRecord,
  type RunTaskPayload,
} from '../../lib/model/contract/index.ts';
import { z } from 'zod';
import type { JsonSchema } from '../../lib/model/run-parameters.ts';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import { quietCancelDeps } from './support/cancel-deps.ts';
import { captureLogs, clock, MemoryOutputStore, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'daily-sales';
const NOW = '2024-05-10T10:00:00.000Z';
const CALLER = 'arn:aws:iam::123456789012:user/ops';
const MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-daily-sales';

// ---------------------------------------------------------------------------------------------------
// Through the control API
// ---------------------------------------------------------------------------------------------------

/** What a run of PIPELINE may set, compiled as a deploy compiles it. */
const RUN_PARAMETERS = ((): JsonSchema => {
  const result = runParametersJsonSchema(z.object({ date: z.string().min(1).optional() }));
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.schema;
})();

function world() {
  const store = new MemoryRecordStore();
  const { log } = captureLogs({ component: 'control-api' });
  const executions = new Map<string, RunInput>();
  const trigger: TriggerDeps = {
    store,
    stateMachines: new Map([[PIPELINE, MACHINE]]),
    runParameters: new Map([[PIPELINE, RUN_PARAMETERS]]),
    startExecution: async (_arn, name, input) => {
      if (!executions.has(name)) executions.set(name, RunInputSchema.parse(JSON.parse(input)));
    },
    log,
    now: clock(NOW),
  };
  const api: ApiDeps = { trigger, store, cancel: quietCancelDeps(store, log, clock(NOW)), audit: store };
  return { store, api, executions };
}

/** An ended run of PIPELINE: a scheduled one, with parameters. */
async function endedRun(store: MemoryRecordStore, runId: string, status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'PENDING' = RunStatus.FAILED): Promise<RunRecord> {
  await store.createRun({ runId, pipelineId: PIPELINE, trigger: TriggerType.SCHEDULE, scheduledTime: '2024-05-09T06:00:00Z', scheduleId: 'default', parameters: { date: '2024-05-09' }, queuedAt: '2024-05-09T06:00:01.000Z' });
  if (status !== RunStatus.PENDING) await store.finishRun(runId, { status, at: '2024-05-09T06:10:00.000Z', jobs: {} });
  return (await store.getRun(runId))!;
}

const retry = (runId: string, body: unknown = {}): Parameters<typeof route>[0] => ({
  httpMethod: 'POST',
  resource: '/runs/{runId}/retry',
  pathParameters: { runId },
  body: typeof body === 'string' ? body : JSON.stringify(body),
  requestContext: { identity: { userArn: CALLER } } as unknown as APIGatewayProxyEvent['requestContext'],
});
const bodyOf = <T>(res: APIGatewayProxyResult): T => JSON.parse(res.body) as T;
const codeOf = (res: APIGatewayProxyResult): string => bodyOf<{ error: { code: string } }>(res).error.code;

describe('POST /runs/{runId}/retry', () => {
  it('starts a RETRY run with the ended run’s parameters and scheduled time, linked to it, and its execution reuses that run’s outputs with fromFailed', async () => {
    const w = world();
    await endedRun(w.store, `${PIPELINE}_s-1`);
    const res = await route(retry(`${PIPELINE}_s-1`, { fromFailed: true, reason: 'warehouse back' }), w.api);
    expect(res.statusCode).toBe(201);
    const { created, run } = bodyOf<RetryRunResponse>(res);
    expect(created).toBe(true);
    expect(run).toMatchObject({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, parameters: { date: '2024-05-09' }, scheduledTime: '2024-05-09T06:00:00Z', retryOf: { runId: `${PIPELINE}_s-1`, fromFailed: true, by: CALLER, at: NOW } });
    expect(run.runId.startsWith(`${PIPELINE}_r-`)).toBe(true);
    expect(w.executions.get(run.runId)).toMatchObject({ runId: run.runId, trigger: TriggerType.RETRY, reuseFrom: `${PIPELINE}_s-1`, scheduledTime: '2024-05-09T06:00:00Z' });
    expect(w.store.audit).toEqual([expect.objectContaining<Partial<AuditRecord>>({ action: 'RETRY', pipeline: PIPELINE, by: CALLER, runId: run.runId, reason: 'warehouse back', detail: `run ${PIPELINE}_s-1 from its failed jobs: retry run recorded ${run.status}` })]);
  });

  it('keeps Phi’s event parameter of an upstream-triggered run, and of a retry of a retry', async () => {
    const w = world();
    const event = { pipelineId: 'upstream', runId: 'upstream_s-1', status: 'SUCCEEDED' };
    await w.store.createRun({ runId: `${PIPELINE}_u-1`, pipelineId: PIPELINE, trigger: TriggerType.UPSTREAM, parameters: { date: '2024-05-09', event }, queuedAt: '2024-05-09T06:00:01.000Z' });
    await w.store.finishRun(`${PIPELINE}_u-1`, { status: RunStatus.FAILED, at: '2024-05-09T06:10:00.000Z', jobs: {} });
    const first = bodyOf<RetryRunResponse>(await route(retry(`${PIPELINE}_u-1`, { fromFailed: true }), w.api)).run;
    expect(first.parameters).toEqual({ date: '2024-05-09', event });
    await w.store.finishRun(first.runId, { status: RunStatus.FAILED, at: NOW, jobs: {} });
    const second = bodyOf<RetryRunResponse>(await route(retry(first.runId, { fromFailed: true }), w.api)).run;
    expect(second.parameters).toEqual({ date: '2024-05-09', event });
    expect(second.retryOf?.runId).toBe(first.runId);
  });

  it('re-runs every job of a whole retry: its execution reuses nothing', async () => {
    const w = world();
    await endedRun(w.store, `${PIPELINE}_s-1`, RunStatus.SUCCEEDED);
    const { run } = bodyOf<RetryRunResponse>(await route(retry(`${PIPELINE}_s-1`), w.api));
    expect(run.retryOf).toMatchObject({ runId: `${PIPELINE}_s-1` });
    expect(run.retryOf?.fromFailed).toBeUndefined();
    expect(w.executions.get(run.runId)?.reuseFrom).toBeUndefined();
  });

  it('starts one run however often the same retry is asked for; a whole retry and one from the failed jobs are two', async () => {
    const w = world();
    await endedRun(w.store, `${PIPELINE}_s-1`);
    const first = bodyOf<RetryRunResponse>(await route(retry(`${PIPELINE}_s-1`, { fromFailed: true }), w.api));
    const again = await route(retry(`${PIPELINE}_s-1`, { fromFailed: true }), w.api);
    expect(again.statusCode).toBe(200);
    expect(bodyOf<RetryRunResponse>(again)).toMatchObject({ created: false, run: { runId: first.run.runId } });
    const whole = bodyOf<RetryRunResponse>(await route(retry(`${PIPELINE}_s-1`), w.api));
    expect(whole.created).toBe(true);
    expect(whole.run.runId).not.toBe(first.run.runId);
    expect([...w.executions.keys()].sort()).toEqual([first.run.runId, whole.run.runId].sort());
  });

  it('refuses a run that has not ended (409 API_015), --from-failed on a run that succeeded (409 API_016), an unknown run (404) and a bad body (400), starting nothing', async () => {
    const w = world();
    await endedRun(w.store, `${PIPELINE}_s-running`, RunStatus.PENDING);
    await endedRun(w.store, `${PIPELINE}_s-ok`, RunStatus.SUCCEEDED);
    const running = await route(retry(`${PIPELINE}_s-running`), w.api);
    expect([running.statusCode, codeOf(running)]).toEqual([409, ApiErrorCode.RUN_NOT_ENDED]);
    const succeeded = await route(retry(`${PIPELINE}_s-ok`, { fromFailed: true }), w.api);
    expect([succeeded.statusCode, codeOf(succeeded)]).toEqual([409, ApiErrorCode.NOTHING_TO_RETRY]);
    const unknown = await route(retry(`${PIPELINE}_s-none`), w.api);
    expect([unknown.statusCode, codeOf(unknown)]).toEqual([404, ApiErrorCode.RUN_NOT_FOUND]);
    const bad = await route(retry(`${PIPELINE}_s-ok`, { fromFailed: 'yes' }), w.api);
    expect([bad.statusCode, codeOf(bad)]).toEqual([400, ApiErrorCode.INVALID_REQUEST]);
    expect(w.executions.size).toBe(0);
    expect(w.store.audit).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Through the task runtime
// ---------------------------------------------------------------------------------------------------

/**
 * a → b → d ← c → e, and f ← b by COMPLETION: `b` fails in the first run, so `d` is skipped and `f`
 * runs after it; `a`, `c`, `e` succeed.
 */
const MANIFEST: PipelineManifest = (() => {
  const retry = { maxAttempts: 1, initialDelaySeconds: 1, backoffMultiplier: 2, maxDelaySeconds: 60, jitter: 'NONE', retryableErrors: [], nonRetryableErrors: [] };
  const on = (job: string, kind = 'SUCCESS') => ({ job, on: kind, skipOnUpstreamSkip: true });
  const upstream: Record<string, ReturnType<typeof on>[]> = { a: [], b: [on('a')], c: [], d: [on('b'), on('c')], e: [on('c')], f: [on('b', 'COMPLETION')] };
  const jobs = Object.fromEntries(
    Object.entries(upstream).map(([id, ups]) => [
      id,
      { parameters: {}, retry, upstream: ups, dependents: Object.entries(upstream).filter(([, u]) => u.some((d) => d.job === id)).map(([other, u]) => ({ job: other, upstreamCount: u.length })) },
    ]),
  );
  return PipelineManifestSchema.parse({ pipelineId: PIPELINE, definitionVersion: 'def-1', jobs });
})();
const ORDER = ['a', 'c', 'b', 'd', 'e', 'f'] as const;

interface Calls {
  /** Each job the handlers ran, with the upstream outputs it was given. */
  readonly ran: Record<string, TaskContext['upstream']>;
}

/** Drives every job of one run through the runtime, in an order its dependencies allow; `failing` jobs throw a permanent error. */
async function drive(runId: string, deps: RuntimeDeps, options: { failing?: readonly string[]; reuseFrom?: string; outputs?: (job: string) => Outputs; manifest?: PipelineManifest; order?: readonly string[] } = {}): Promise<Calls> {
  const calls: Calls = { ran: {} };
  const manifest = options.manifest ?? MANIFEST;
  const run = { runId, pipelineId: PIPELINE, trigger: TriggerType.RETRY, parameters: {}, ...(options.reuseFrom !== undefined ? { reuseFrom: options.reuseFrom } : {}) };
  for (const jobId of options.order ?? ORDER) {
    const loaded: LoadedHandler = {
      handler: (ctx) => {
        calls.ran[jobId] = ctx.upstream;
        if (options.failing?.includes(jobId)) throw new PermanentError('WAREHOUSE_DOWN', 'no warehouse');
        return options.outputs?.(jobId) ?? { made: `${jobId} in ${runId}` };
      },
    };
    const payload = TaskPayloadSchema.parse({ action: 'run', run, jobId, attempt: 1, executionArn: `arn:aws:states:us-east-1:1:execution:phi-${PIPELINE}:${runId}` }) as RunTaskPayload;
    try {
      await runAttempt(manifest, payload, loaded, deps);
    } catch (err) {
      if (!(err instanceof PhiTaskError)) throw err;
      const caught: CaughtError = { Error: err.name, Cause: JSON.stringify({ errorType: err.name, errorMessage: err.message }) };
      await attemptFailed(manifest, TaskPayloadSchema.parse({ ...payload, action: 'failed', caught }) as FailedTaskPayload, deps);
    }
  }
  return calls;
}

function runtime(): { store: MemoryRecordStore; outputs: MemoryOutputStore; deps: RuntimeDeps } {
  const store = new MemoryRecordStore();
  const outputs = new MemoryOutputStore();
  const { log } = captureLogs({ component: 'task-runtime' });
  return { store, outputs, deps: { store, log, outputs, now: clock(NOW), sendToken: async () => {}, sendDeadLetter: async () => {} } };
}

const statuses = async (store: MemoryRecordStore, runId: string): Promise<Record<string, string | undefined>> =>
  Object.fromEntries(await Promise.all(ORDER.map(async (j) => [j, (await store.getJobState(runId, j))?.status] as const)));

describe('a run retried from its failed jobs', () => {
  const FIRST = `${PIPELINE}_s-1`;
  const RETRY = `${PIPELINE}_r-1`;

  it('runs again the jobs that failed or were skipped and every job downstream of one that runs again; the others take the first run’s outputs without running', async () => {
    const { store, deps } = runtime();
    await drive(FIRST, deps, { failing: ['b'] });
    expect(await statuses(store, FIRST)).toEqual({ a: 'SUCCEEDED', b: 'FAILED', c: 'SUCCEEDED', d: 'SKIPPED', e: 'SUCCEEDED', f: 'SUCCEEDED' });

    const second = await drive(RETRY, deps, { reuseFrom: FIRST });
    // b failed, d was skipped; f succeeded after b by COMPLETION, but b runs again now: so does f.
    expect(Object.keys(second.ran).sort()).toEqual(['b', 'd', 'f']);
    expect(await statuses(store, RETRY)).toEqual({ a: 'SUCCEEDED', b: 'SUCCEEDED', c: 'SUCCEEDED', d: 'SUCCEEDED', e: 'SUCCEEDED', f: 'SUCCEEDED' });
    // What the jobs that ran were given: the first run's outputs of the jobs that did not.
    expect(second.ran.b).toEqual({ a: { made: `a in ${FIRST}` } });
    expect(second.ran.d).toEqual({ b: { made: `b in ${RETRY}` }, c: { made: `c in ${FIRST}` } });
  });

  it('records each job it did not run as one succeeded attempt with the outputs and checksum of the attempt that made them, naming it', async () => {
    const { store, deps } = runtime();
    await drive(FIRST, deps, { failing: ['b'] });
    await drive(RETRY, deps, { reuseFrom: FIRST });
    const [made] = await store.getAttempts([{ runId: FIRST, jobId: 'a', attempt: 1 }]);
    const [taken] = await store.getAttempts([{ runId: RETRY, jobId: 'a', attempt: 1 }]);
    expect(taken).toMatchObject({ status: JobStatus.SUCCEEDED, outputs: made!.outputs, outputChecksum: made!.outputChecksum, reusedFrom: { runId: FIRST, attempt: 1 }, durationMs: 0, completedAt: NOW });
    const [ran] = await store.getAttempts([{ runId: RETRY, jobId: 'b', attempt: 1 }]);
    expect(ran?.reusedFrom).toBeUndefined();
  });

  it('names, after a second retry, the attempt that ran the handler, and reuses what the first retry ran', async () => {
    const { store, deps } = runtime();
    await drive(FIRST, deps, { failing: ['b'] });
    await drive(RETRY, deps, { reuseFrom: FIRST, failing: ['d'] });
    const third = await drive(`${PIPELINE}_r-2`, deps, { reuseFrom: RETRY });
    expect(Object.keys(third.ran)).toEqual(['d']);
    expect(third.ran.d).toEqual({ b: { made: `b in ${RETRY}` }, c: { made: `c in ${FIRST}` } });
    const taken = async (jobId: string) => (await store.getAttempts([{ runId: `${PIPELINE}_r-2`, jobId, attempt: 1 }]))[0]?.reusedFrom;
    expect(await taken('a')).toEqual({ runId: FIRST, attempt: 1 });
    expect(await taken('b')).toEqual({ runId: RETRY, attempt: 1 });
  });

  it('copies outputs kept in the outputs bucket to the reusing attempt’s own object (the first expires with its run), the dependent reading the same outputs', async () => {
    const { store, outputs, deps } = runtime();
    const big = { rows: 'x'.repeat(MAX_INLINE_OUTPUTS_BYTES + 10) };
    await drive(FIRST, deps, { failing: ['b'], outputs: (job) => (job === 'a' ? big : { made: job }) });
    const second = await drive(RETRY, deps, { reuseFrom: FIRST });
    expect(second.ran.b).toEqual({ a: big });
    const [made] = await store.getAttempts([{ runId: FIRST, jobId: 'a', attempt: 1 }]);
    const [taken] = await store.getAttempts([{ runId: RETRY, jobId: 'a', attempt: 1 }]);
    expect(taken?.outputsRef?.key).toContain(`/${RETRY}/a/`);
    expect(taken?.outputChecksum).toBe(made?.outputChecksum);
    expect(outputs.objects.get(taken!.outputsRef!.key)).toBe(outputs.objects.get(made!.outputsRef!.key));
  });

  it('takes the outputs of a job whose upstream ended as it did before without running (skipped by a false condition), and runs one whose upstream ended otherwise', async () => {
    const retry = { maxAttempts: 1, initialDelaySeconds: 1, backoffMultiplier: 2, maxDelaySeconds: 60, jitter: 'NONE', retryableErrors: [], nonRetryableErrors: [] };
    // a → s (DATA_READY rows > 5, false: skipped) → t (runs after a skipped upstream); x fails.
    const manifest = PipelineManifestSchema.parse({
      pipelineId: PIPELINE,
      definitionVersion: 'def-1',
      jobs: {
        a: { parameters: {}, retry, upstream: [], dependents: [{ job: 's', upstreamCount: 1 }] },
        s: { parameters: {}, retry, upstream: [{ job: 'a', on: 'DATA_READY', condition: 'rows > 5', skipOnUpstreamSkip: true }], dependents: [{ job: 't', upstreamCount: 1 }] },
        t: { parameters: {}, retry, upstream: [{ job: 's', on: 'SUCCESS', skipOnUpstreamSkip: false }], dependents: [] },
        x: { parameters: {}, retry, upstream: [], dependents: [] },
      },
    });
    const { store, deps } = runtime();
    const first = await drive(FIRST, deps, { failing: ['x'], outputs: (job): Outputs => (job === 'a' ? { rows: 1 } : { made: job }), manifest, order: ['a', 'x', 's', 't'] });
    expect(Object.keys(first.ran).sort()).toEqual(['a', 't', 'x']);
    expect((await store.getJobState(FIRST, 's'))?.reason).toBe(SkipReason.CONDITION_FALSE);
    const second = await drive(RETRY, deps, { reuseFrom: FIRST, manifest, order: ['a', 'x', 's', 't'] });
    // s is skipped again (a's outputs, reused, still fail the condition): t's input is the same.
    expect(Object.keys(second.ran)).toEqual(['x']);
    expect((await store.getAttempts([{ runId: RETRY, jobId: 't', attempt: 1 }]))[0]?.reusedFrom).toEqual({ runId: FIRST, attempt: 1 });
  });

  it('runs a job whose earlier run has no success to take (cancelled, skipped or absent) like any other run', async () => {
    const { store, deps } = runtime();
    await drive(FIRST, deps, { failing: ['a'] });
    expect(await statuses(store, FIRST)).toMatchObject({ a: 'FAILED', b: 'SKIPPED' });
    expect((await store.getJobState(FIRST, 'b'))?.reason).toBe(SkipReason.UPSTREAM_FAILED);
    const second = await drive(RETRY, deps, { reuseFrom: FIRST });
    expect(Object.keys(second.ran).sort()).toEqual(['a', 'b', 'd', 'f']);
    const fresh = await drive(`${PIPELINE}_r-none`, deps, { reuseFrom: `${PIPELINE}_s-unknown` });
    expect(Object.keys(fresh.ran).sort()).toEqual([...ORDER].sort());
  });
});

describe('the run status a retry asks about', () => {
  it('lets a failed or cancelled run be retried from its failed jobs', async () => {
    for (const status of [RunStatus.FAILED, RunStatus.CANCELLED] as const) {
      const w = world();
      await endedRun(w.store, `${PIPELINE}_s-1`, status);
      expect((await route(retry(`${PIPELINE}_s-1`, { fromFailed: true }), w.api)).statusCode).toBe(201);
    }
  });
});

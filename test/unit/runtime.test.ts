/**
 * The task runtime's core (`runAttempt`, `attemptFailed`, `classifyError`, `retryDelaySeconds`,
 * `PhiTaskError`, `checksum`) against the in-memory record store, a stepping clock, a capturing
 * logger, a task-token sender and a dead-letter sender that keep what they were given.
 *
 * The store's `registerToken(runId, jobId, token)` plays the state machine's gate ("Wait for upstream"):
 * a dependent's iteration that arrives before its last upstream has ended registers its token there.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  DeadLetterMessageSchema,
  ErrorCategory,
  ErrorInfoSchema,
  ExecErrorCode,
  JobStatus,
  MAX_INLINE_OUTPUTS_BYTES,
  MAX_OUTPUTS_BYTES,
  PipelineManifestSchema,
  RetryDecisionSchema,
  RunStatus,
  SkipReason,
  TASK_ERROR_NAME,
  TaskPayloadSchema,
  TaskResultSchema,
  type CaughtError,
  type DeadLetterMessage,
  type ErrorInfo,
  type FailedTaskPayload,
  type JobAttemptRecord,
  type JobManifest,
  type JobStateRecord,
  type PipelineManifest,
  type ResolvedDependency,
  type ResolvedRetry,
  type RunInput,
  type RunTaskPayload,
  type UpstreamOutcome,
} from '../../lib/model/contract/index.ts';
import { PhiError } from '../../lib/model/errors.ts';
import type { JobEnd } from '../../functions/shared/records/store.ts';
import { DependencyType, PipelineSchema } from '../../lib/model/pipeline.ts';
import { compilePlan } from '../../lib/plan/compile.ts';
import { attemptFailed, checksum, classifyError, MAX_INFRA_TRIES, PhiTaskError, retryDelaySeconds, runAttempt, type LoadedHandler, type RuntimeDeps } from '../../functions/runtime/core.ts';
import { JobError, PermanentError, TransientError, type Outputs, type Parameters, type TaskContext, type TaskHandler } from '../../functions/runtime/index.ts';
import { captureLogs, clock, MemoryOutputStore, MemoryRecordStore, type LogLine } from './support/memory-store.ts';

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T10:00:02.500Z';
const T2 = '2024-05-01T10:05:00.000Z';
const PIPELINE_ID = 'daily-sales';
const DEFINITION_VERSION = 'def-1';
const RUN_ID = 'k-0123456789abcdef0123456789abcdef';
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${RUN_ID}`;
const SCHEDULED = '2024-05-01T10:00:00Z';
/** The parameters of the default `extract` job (pipeline's merged with the job's, as the compiler writes them). */
const EXTRACT_PARAMETERS = { region: 'eu-west-1', date: 'from-config', limit: 10 };

// ---------------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------------

const RETRY: ResolvedRetry = {
  maxAttempts: 3,
  initialDelaySeconds: 60,
  backoffMultiplier: 2,
  maxDelaySeconds: 3600,
  jitter: 'NONE',
  retryableErrors: [],
  nonRetryableErrors: [],
};

interface JobSpec {
  readonly parameters?: Parameters;
  readonly retry?: Partial<ResolvedRetry>;
  /** Plain ids wait for SUCCESS (skipOnUpstreamSkip true), as a plain id in `dependsOn` does. */
  readonly upstream?: readonly (string | ResolvedDependency)[];
}

const dependency = (job: string, on: DependencyType, extra: { condition?: string; skipOnUpstreamSkip?: boolean } = {}): ResolvedDependency => ({
  job,
  on,
  ...(extra.condition !== undefined ? { condition: extra.condition } : {}),
  skipOnUpstreamSkip: extra.skipOnUpstreamSkip ?? true,
});

/** A manifest of these jobs; each job's dependents are derived from the others' upstreams, as the plan compiler does. */
function pipeline(jobs: Readonly<Record<string, JobSpec>>): PipelineManifest {
  const upstreamOf = (spec: JobSpec): ResolvedDependency[] => (spec.upstream ?? []).map((d) => (typeof d === 'string' ? dependency(d, DependencyType.SUCCESS) : d));
  const entries = Object.entries(jobs).map(([id, spec]): [string, JobManifest] => [
    id,
    {
      parameters: spec.parameters ?? {},
      retry: { ...RETRY, ...spec.retry },
      upstream: upstreamOf(spec),
      dependents: Object.entries(jobs)
        .filter(([, other]) => upstreamOf(other).some((d) => d.job === id))
        .map(([other, otherSpec]) => ({ job: other, upstreamCount: upstreamOf(otherSpec).length })),
    },
  ]);
  return PipelineManifestSchema.parse({ pipelineId: PIPELINE_ID, definitionVersion: DEFINITION_VERSION, jobs: Object.fromEntries(entries) });
}

/** The one-job pipeline most tests run: `extract`, 3 attempts, no upstream, no dependent. */
const single = (spec: JobSpec = {}): PipelineManifest => pipeline({ extract: { parameters: EXTRACT_PARAMETERS, ...spec } });

// ---------------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------------

const runInput = (overrides: Partial<RunInput> = {}): RunInput => ({
  runId: RUN_ID,
  pipelineId: PIPELINE_ID,
  trigger: 'SCHEDULE',
  scheduledTime: SCHEDULED,
  parameters: {},
  ...overrides,
});

/** A `run` task as the state machine sends it (parsed by the contract's schema, as the Lambda entry does). */
function runPayload(jobId = 'extract', attempt = 1, run: Partial<RunInput> = {}): RunTaskPayload {
  return TaskPayloadSchema.parse({ action: 'run', run: runInput(run), jobId, attempt, executionArn: EXECUTION_ARN }) as RunTaskPayload;
}

/** A `failed` task: the state machine caught `caught` from attempt `attempt`. */
function failedPayload(jobId: string, attempt: number, caught: CaughtError, run: Partial<RunInput> = {}): FailedTaskPayload {
  return TaskPayloadSchema.parse({ action: 'failed', run: runInput(run), jobId, attempt, executionArn: EXECUTION_ARN, caught }) as FailedTaskPayload;
}

/** What Step Functions' Catch hands on after the Lambda function threw `err` (the Node.js runtime's error shape). */
const lambdaCaught = (err: unknown): CaughtError => {
  const e = err as Error;
  return { Error: e.name, Cause: JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] }) };
};

const TIMEOUT: CaughtError = { Error: 'States.Timeout', Cause: '' };

// ---------------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------------

interface Harness {
  readonly store: MemoryRecordStore;
  /** Every task token sent (each wakes a dependent's waiting iteration). */
  readonly tokens: string[];
  /** Every dead letter sent. */
  readonly letters: DeadLetterMessage[];
  readonly lines: LogLine[];
  /** The outputs bucket. */
  readonly outputs: MemoryOutputStore;
  /** How many coming token sends fail (Step Functions throttling) without sending. */
  failTokenSends: number;
  /** The runtime's dependencies over this harness, with a fresh clock answering `instants` (T0, then T1). */
  deps(options?: { instants?: readonly string[]; random?: () => number }): RuntimeDeps;
}

function harness(store = new MemoryRecordStore()): Harness {
  const { log, lines } = captureLogs({ component: 'task-runtime' });
  const tokens: string[] = [];
  const letters: DeadLetterMessage[] = [];
  const outputs = new MemoryOutputStore();
  const h: Harness = {
    store,
    tokens,
    letters,
    lines,
    outputs,
    failTokenSends: 0,
    deps: ({ instants = [T0, T1], random } = {}) => ({
      store,
      log,
      outputs,
      now: clock(...instants),
      ...(random ? { random } : {}),
      sendToken: async (token) => {
        if (h.failTokenSends > 0) {
          h.failTokenSends--;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        tokens.push(token);
      },
      sendDeadLetter: async (message) => {
        letters.push(structuredClone(message));
      },
    }),
  };
  return h;
}

/** A handler as the Lambda entry hands it over after loading the module. */
const use = (handler: TaskHandler): LoadedHandler => ({ handler });

/** A handler that answers a value the TaskHandler type does not allow, as plain JavaScript could. */
const returning = (value: unknown): LoadedHandler => use((() => value) as unknown as TaskHandler);

const throwing = (err: unknown): LoadedHandler =>
  use(() => {
    throw err;
  });

/** A handler that counts its calls. */
function counting(outputs: Outputs = { ok: true }): { loaded: LoadedHandler; calls: () => number } {
  let calls = 0;
  return {
    loaded: use(() => {
      calls++;
      return outputs;
    }),
    calls: () => calls,
  };
}

/** The context the handler was given (`run` it, then read `seen()`). */
function capturing(outputs: Outputs = {}): { loaded: LoadedHandler; seen: () => TaskContext } {
  let seen: TaskContext | undefined;
  return {
    loaded: use((ctx) => {
      seen = ctx;
      return outputs;
    }),
    seen: () => {
      if (!seen) throw new Error('the handler was not called');
      return seen;
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** The PhiTaskError a promise rejects with. */
async function taskError(promise: Promise<unknown>): Promise<PhiTaskError> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(PhiTaskError);
  return err as PhiTaskError;
}

async function onlyAttempt(store: MemoryRecordStore, jobId = 'extract'): Promise<JobAttemptRecord> {
  const attempts = await store.listAttempts(RUN_ID, jobId);
  expect(attempts).toHaveLength(1);
  return attempts[0] as JobAttemptRecord;
}

async function attempt(store: MemoryRecordStore, jobId: string, n: number): Promise<JobAttemptRecord | undefined> {
  return (await store.getAttempts([{ runId: RUN_ID, jobId, attempt: n }]))[0];
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The record the runtime writes as attempt `n` of `extract` starts (default job, no run overrides). */
const runningRecord = (n: number, at = T0, parameters: Parameters = EXTRACT_PARAMETERS): JobAttemptRecord => ({
  runId: RUN_ID,
  pipelineId: PIPELINE_ID,
  jobId: 'extract',
  attempt: n,
  status: JobStatus.RUNNING,
  definitionVersion: DEFINITION_VERSION,
  parameters,
  startedAt: at,
  transitions: [{ status: JobStatus.RUNNING, at }],
});

/** A succeeded attempt of an upstream job, written through the store as its own runtime would. */
async function upstreamSucceeded(store: MemoryRecordStore, jobId: string, n: number, outputs: Outputs): Promise<void> {
  await store.startAttempt({ ...runningRecord(n), jobId, parameters: {} });
  await store.finishAttempt({
    ...runningRecord(n),
    jobId,
    parameters: {},
    status: JobStatus.SUCCEEDED,
    completedAt: T1,
    durationMs: 2500,
    transitions: [
      { status: JobStatus.RUNNING, at: T0 },
      { status: JobStatus.SUCCEEDED, at: T1 },
    ],
    outputs,
    outputChecksum: checksum(outputs),
  });
}

/** Records on `dependent`'s state how `upstream` ended, as the upstream's own release does. */
async function upstreamEnded(store: MemoryRecordStore, dependent: string, upstream: string, outcome: UpstreamOutcome): Promise<void> {
  await store.recordUpstreamEnded(RUN_ID, dependent, upstream, outcome);
}

/** A terminal run record: the run ended (its execution was stopped) while jobs were still to come. */
async function endedRun(store: MemoryRecordStore): Promise<void> {
  await store.createRun({ runId: RUN_ID, pipelineId: PIPELINE_ID, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, parameters: {}, queuedAt: T0 });
  await store.finishRun(RUN_ID, { status: RunStatus.FAILED, at: T1, jobs: {}, error: { code: 'States.Aborted', message: 'stopped' } });
}

// ---------------------------------------------------------------------------------------------------
// runAttempt: success
// ---------------------------------------------------------------------------------------------------

describe('runAttempt: a successful attempt', () => {
  it('records the attempt RUNNING before the handler runs, then SUCCEEDED with outputs, checksum, duration and transitions', async () => {
    // GIVEN a handler that reads its own attempt's record while it runs
    const h = harness();
    const outputs = { rows: 1200, files: ['a.csv', 'b.csv'], meta: { source: 'feed', ok: true } };
    let during: JobAttemptRecord[] = [];
    const loaded = use(async () => {
      during = await h.store.listAttempts(RUN_ID, 'extract');
      return outputs;
    });

    // WHEN attempt 1 runs
    const result = await runAttempt(single(), runPayload(), loaded, h.deps());

    // THEN it answers SUCCEEDED, attempt 1
    expect(result).toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    // AND the attempt was RUNNING while the handler ran
    expect(during).toEqual([runningRecord(1)]);
    // AND it is SUCCEEDED now, with the outputs and the SHA-256 of their canonical JSON
    expect(await onlyAttempt(h.store)).toStrictEqual({
      ...runningRecord(1),
      status: JobStatus.SUCCEEDED,
      completedAt: T1,
      durationMs: 2500,
      transitions: [
        { status: JobStatus.RUNNING, at: T0 },
        { status: JobStatus.SUCCEEDED, at: T1 },
      ],
      outputs,
      outputChecksum: sha256('{"files":["a.csv","b.csv"],"meta":{"ok":true,"source":"feed"},"rows":1200}'),
    });
  });

  it('ends the job SUCCEEDED with its attempt', async () => {
    const h = harness();
    await runAttempt(single(), runPayload('extract', 2), use(() => ({ rows: 1 })), h.deps());
    expect(await h.store.getJobState(RUN_ID, 'extract')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'extract',
      upstream: {},
      ready: false,
      status: JobStatus.SUCCEEDED,
      attempt: 2,
      completedAt: T1,
    } satisfies JobStateRecord);
  });

  it('answers a TaskResult the state machine parses: status and attempt only, the outputs stay in the attempt record', async () => {
    const h = harness();
    const outputs = { rows: 1, report: 'x'.repeat(10_000) };
    const answer = await runAttempt(single(), runPayload(), use(() => outputs), h.deps());
    expect(TaskResultSchema.parse(answer)).toStrictEqual(answer);
    expect(answer).toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(JSON.stringify(answer)).not.toContain('rows');
    expect((await onlyAttempt(h.store)).outputs).toEqual(outputs);
  });

  it('numbers the attempt as the payload does, in the record, the context and the answer', async () => {
    const h = harness();
    const { loaded, seen } = capturing();
    await expect(runAttempt(single(), runPayload('extract', 3), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 3 });
    expect(seen().attempt).toBe(3);
    expect((await onlyAttempt(h.store)).attempt).toBe(3);
  });

  it('checksums the canonical JSON of the outputs, so key order does not change outputChecksum (array order does)', async () => {
    const checksumOf = async (outputs: Outputs): Promise<string | undefined> => {
      const h = harness();
      await runAttempt(single(), runPayload(), use(() => outputs), h.deps());
      return (await onlyAttempt(h.store)).outputChecksum;
    };
    const expected = sha256('{"a":{"c":2,"d":[1,{"e":null,"f":"x"}]},"b":1}');
    expect(await checksumOf({ b: 1, a: { d: [1, { f: 'x', e: null }], c: 2 } })).toBe(expected);
    expect(await checksumOf({ a: { c: 2, d: [1, { e: null, f: 'x' }] }, b: 1 })).toBe(expected);
    expect(await checksumOf({ a: { c: 2, d: [{ e: null, f: 'x' }, 1] }, b: 1 })).not.toBe(expected);
  });

  it('exports checksum as the SHA-256 hex of the canonical JSON', () => {
    expect(checksum({ b: [2, 1], a: 'é' })).toBe(sha256('{"a":"é","b":[2,1]}'));
    expect(checksum({})).toBe(sha256('{}'));
  });

  it('treats a handler that returns nothing as a success with empty outputs', async () => {
    const h = harness();
    await expect(runAttempt(single(), runPayload(), use(() => undefined), h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    const record = await onlyAttempt(h.store);
    expect(record.outputs).toEqual({});
    expect(record.outputChecksum).toBe(sha256('{}'));
  });

  it('awaits an async handler before recording its outputs', async () => {
    const h = harness();
    const loaded = use(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { late: 'yes' };
    });
    await expect(runAttempt(single(), runPayload(), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect((await onlyAttempt(h.store)).outputs).toEqual({ late: 'yes' });
  });

  it('writes only the attempt and the job end for a job without dependents', async () => {
    const h = harness();
    await runAttempt(single(), runPayload(), use(() => ({ rows: 1 })), h.deps());
    expect(h.store.writes.map((w) => [w.op, w.key.slice(w.key.indexOf('|') + 1)])).toEqual([
      ['startAttempt', 'JOB#extract#001'],
      ['finishAttempt', 'JOB#extract#001'],
      ['endJob', 'STATE#extract'],
    ]);
    expect(h.tokens).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// runAttempt: parameters and context
// ---------------------------------------------------------------------------------------------------

describe('runAttempt: parameters and context', () => {
  it('merges parameters pipeline < job < run, for the handler and the record (manifest from the plan compiler)', async () => {
    // GIVEN a pipeline compiled from its definition: pipeline parameters, a job overriding some
    const { plan, problems } = compilePlan(
      [
        {
          file: '/definitions/daily-sales.ts',
          pipeline: PipelineSchema.parse({
            id: PIPELINE_ID,
            parameters: { region: 'eu-west-1', date: 'from-pipeline', limit: 10 },
            jobs: { extract: { handler: './extract.ts', parameters: { date: 'from-job', bucket: 'raw' } } },
          }),
        },
      ],
      new Date(T0),
    );
    expect(problems).toEqual([]);
    const manifest = plan.pipelines[0]?.manifest;
    if (!manifest) throw new Error('no pipeline planned');

    // WHEN a run without overrides and a run with overrides each run the job
    const plain = harness();
    const withoutOverrides = capturing();
    await runAttempt(manifest, runPayload('extract', 1, { parameters: {} }), withoutOverrides.loaded, plain.deps());
    const overridden = harness();
    const withOverrides = capturing();
    await runAttempt(manifest, runPayload('extract', 1, { parameters: { date: '2024-04-30', dryRun: true } }), withOverrides.loaded, overridden.deps());

    // THEN the job's parameters win over the pipeline's, and the run's over both
    expect(withoutOverrides.seen().parameters).toStrictEqual({ region: 'eu-west-1', date: 'from-job', limit: 10, bucket: 'raw' });
    const merged = { region: 'eu-west-1', date: '2024-04-30', limit: 10, bucket: 'raw', dryRun: true };
    expect(withOverrides.seen().parameters).toStrictEqual(merged);
    expect((await onlyAttempt(overridden.store)).parameters).toStrictEqual(merged);
  });

  it('merges the manifest job parameters < the run overrides', async () => {
    const h = harness();
    const { loaded, seen } = capturing();
    await runAttempt(single(), runPayload('extract', 1, { parameters: { date: '2024-04-30', dryRun: true } }), loaded, h.deps());
    const merged = { region: 'eu-west-1', date: '2024-04-30', limit: 10, dryRun: true };
    expect(seen().parameters).toStrictEqual(merged);
    expect((await onlyAttempt(h.store)).parameters).toStrictEqual(merged);
  });

  it('gives the handler its pipeline, run, job, attempts, trigger, scheduled time, execution and no upstream outputs', async () => {
    const h = harness();
    const { loaded, seen } = capturing();
    await runAttempt(single(), runPayload(), loaded, h.deps());
    const { log, ...rest } = seen();
    expect(rest).toStrictEqual({
      pipelineId: PIPELINE_ID,
      runId: RUN_ID,
      jobId: 'extract',
      attempt: 1,
      maxAttempts: 3,
      trigger: 'SCHEDULE',
      scheduledTime: SCHEDULED,
      executionArn: EXECUTION_ARN,
      parameters: EXTRACT_PARAMETERS,
      upstream: {},
    } satisfies Omit<TaskContext, 'log'>);
    expect(typeof log.info).toBe('function');
  });

  it('gives no scheduledTime to a run that was not scheduled', async () => {
    const h = harness();
    const { loaded, seen } = capturing();
    await runAttempt(single(), runPayload('extract', 1, { trigger: 'API', scheduledTime: undefined }), loaded, h.deps());
    expect(seen().trigger).toBe('API');
    expect(seen()).not.toHaveProperty('scheduledTime');
  });

  it('gives maxAttempts from the job’s retry policy', async () => {
    const h = harness();
    const { loaded, seen } = capturing();
    await runAttempt(single({ retry: { maxAttempts: 7 } }), runPayload(), loaded, h.deps());
    expect(seen().maxAttempts).toBe(7);
  });

  it('gives ctx.upstream the outputs of each upstream that succeeded, read from its succeeded attempt’s record', async () => {
    // GIVEN `load` waits for `extract` (succeeded on attempt 2) and `lookup` (succeeded on attempt 1)
    const h = harness();
    const manifest = pipeline({ extract: {}, lookup: {}, load: { upstream: ['extract', 'lookup'] } });
    await h.store.startAttempt({ ...runningRecord(1), parameters: {} });
    await h.store.finishAttempt({ ...runningRecord(1), parameters: {}, status: JobStatus.FAILED, errorCode: 'RATE_LIMITED', errorMessage: 'x', errorCategory: 'TRANSIENT', willRetry: true });
    await upstreamSucceeded(h.store, 'extract', 2, { rows: 1200, key: 's3://bucket/extract.csv' });
    await upstreamSucceeded(h.store, 'lookup', 1, { currency: 'EUR' });
    await upstreamEnded(h.store, 'load', 'extract', { status: JobStatus.SUCCEEDED, attempt: 2 });
    await upstreamEnded(h.store, 'load', 'lookup', { status: JobStatus.SUCCEEDED, attempt: 1 });

    // WHEN `load` runs
    const { loaded, seen } = capturing();
    await runAttempt(manifest, runPayload('load'), loaded, h.deps());

    // THEN it sees both upstreams' outputs, extract's from attempt 2
    expect(seen().upstream).toStrictEqual({ extract: { rows: 1200, key: 's3://bucket/extract.csv' }, lookup: { currency: 'EUR' } });
  });

  it('gives ctx.upstream the outputs of an upstream run by the runtime itself, which released the dependent', async () => {
    const h = harness();
    const manifest = pipeline({ extract: {}, load: { upstream: ['extract'] } });
    await runAttempt(manifest, runPayload('extract'), use(() => ({ rows: 3 })), h.deps());

    const { loaded, seen } = capturing();
    await expect(runAttempt(manifest, runPayload('load'), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(seen().upstream).toStrictEqual({ extract: { rows: 3 } });
  });

  it('gives no outputs for an upstream that failed (a COMPLETION dependency lets the job run)', async () => {
    // GIVEN `report` waits on the completion of `extract`, which failed, and on the success of `lookup`
    const h = harness();
    const manifest = pipeline({ extract: {}, lookup: {}, report: { upstream: [dependency('extract', DependencyType.COMPLETION), 'lookup'] } });
    await h.store.startAttempt({ ...runningRecord(3), parameters: {} });
    await h.store.finishAttempt({ ...runningRecord(3), parameters: {}, status: JobStatus.FAILED, errorCode: 'BAD_INPUT', errorMessage: 'x', errorCategory: 'PERMANENT', willRetry: false });
    await upstreamSucceeded(h.store, 'lookup', 1, { currency: 'EUR' });
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.FAILED, attempt: 3 });
    await upstreamEnded(h.store, 'report', 'lookup', { status: JobStatus.SUCCEEDED, attempt: 1 });

    // WHEN `report` runs
    const { loaded, seen } = capturing();
    await expect(runAttempt(manifest, runPayload('report'), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });

    // THEN only the succeeded upstream has outputs
    expect(seen().upstream).toStrictEqual({ lookup: { currency: 'EUR' } });
  });
});

// ---------------------------------------------------------------------------------------------------
// runAttempt: deciding from the upstreams' outcomes
// ---------------------------------------------------------------------------------------------------

describe('runAttempt: skipping a job its upstreams rule out', () => {
  /** `report` waits on `extract` (as `dep` says); `report` has one dependent, `publish`, whose iteration waits with token tok-publish. */
  const chain = (dep: string | ResolvedDependency): PipelineManifest => pipeline({ extract: {}, report: { upstream: [dep] }, publish: { upstream: ['report'] } });

  async function skipped(manifest: PipelineManifest, outcome: UpstreamOutcome, outputs?: Outputs) {
    const h = harness();
    if (outputs) await upstreamSucceeded(h.store, 'extract', outcome.attempt, outputs);
    await upstreamEnded(h.store, 'report', 'extract', outcome);
    expect(h.store.registerToken(RUN_ID, 'publish', 'tok-publish')).toBe(true);
    const { loaded, calls } = counting();
    const result = await runAttempt(manifest, runPayload('report'), loaded, h.deps());
    return { h, result, calls };
  }

  it.each([
    { upstream: 'FAILED', outcome: { status: JobStatus.FAILED, attempt: 3 }, reason: SkipReason.UPSTREAM_FAILED },
    { upstream: 'SKIPPED because its own upstream failed', outcome: { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.UPSTREAM_FAILED }, reason: SkipReason.UPSTREAM_FAILED },
    { upstream: 'CANCELLED by an operator', outcome: { status: JobStatus.CANCELLED, attempt: 1, reason: SkipReason.JOB_CANCELLED }, reason: SkipReason.UPSTREAM_CANCELLED },
    { upstream: 'SKIPPED by a cancel', outcome: { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.JOB_CANCELLED }, reason: SkipReason.UPSTREAM_CANCELLED },
  ])('skips $reason when a SUCCESS upstream ended $upstream: the job ends SKIPPED and its dependents are released SKIPPED', async ({ outcome, reason }) => {
    const { h, result, calls } = await skipped(chain('extract'), outcome);

    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(calls()).toBe(0);
    expect(await h.store.listAttempts(RUN_ID, 'report')).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'report')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'report',
      upstream: { extract: outcome },
      ready: false,
      status: JobStatus.SKIPPED,
      reason,
      attempt: 0,
      completedAt: T0,
    } satisfies JobStateRecord);
    expect(await h.store.getJobState(RUN_ID, 'publish')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'publish',
      upstream: { report: { status: JobStatus.SKIPPED, reason, attempt: 0 } },
      ready: true,
      token: 'tok-publish',
    } satisfies JobStateRecord);
    expect(h.tokens).toEqual(['tok-publish']);
  });

  it('skips UPSTREAM_SKIPPED when an upstream was skipped by a false condition and skipOnUpstreamSkip holds', async () => {
    const { h, result, calls } = await skipped(chain('extract'), { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.CONDITION_FALSE });
    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(calls()).toBe(0);
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_SKIPPED, attempt: 0 });
    expect((await h.store.getJobState(RUN_ID, 'publish'))?.upstream).toStrictEqual({ report: { status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_SKIPPED, attempt: 0 } });
    expect(h.tokens).toEqual(['tok-publish']);
  });

  it('runs after a skipped upstream when skipOnUpstreamSkip is false, with no outputs for it', async () => {
    const h = harness();
    const manifest = chain(dependency('extract', DependencyType.SUCCESS, { skipOnUpstreamSkip: false }));
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.CONDITION_FALSE });
    const { loaded, seen } = capturing({ published: false });
    await expect(runAttempt(manifest, runPayload('report'), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(seen().upstream).toStrictEqual({});
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SUCCEEDED, attempt: 1 });
  });

  it('still skips UPSTREAM_FAILED after an upstream skipped for a failure, even when skipOnUpstreamSkip is false', async () => {
    const { h, result } = await skipped(chain(dependency('extract', DependencyType.SUCCESS, { skipOnUpstreamSkip: false })), { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.UPSTREAM_FAILED });
    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED });
  });

  it('runs a DATA_READY dependent whose condition holds over the upstream’s outputs', async () => {
    const h = harness();
    const manifest = chain(dependency('extract', DependencyType.DATA_READY, { condition: 'rows > 0 && status == "ok"' }));
    await upstreamSucceeded(h.store, 'extract', 1, { rows: 5, status: 'ok' });
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.SUCCEEDED, attempt: 1 });
    const { loaded, seen } = capturing();
    await expect(runAttempt(manifest, runPayload('report'), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(seen().upstream).toStrictEqual({ extract: { rows: 5, status: 'ok' } });
  });

  it('skips CONDITION_FALSE a DATA_READY dependent whose condition is false, releasing its dependents SKIPPED', async () => {
    const { h, result, calls } = await skipped(chain(dependency('extract', DependencyType.DATA_READY, { condition: 'rows > 0' })), { status: JobStatus.SUCCEEDED, attempt: 1 }, { rows: 0 });
    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(calls()).toBe(0);
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.CONDITION_FALSE, attempt: 0 });
    expect((await h.store.getJobState(RUN_ID, 'publish'))?.upstream).toStrictEqual({ report: { status: JobStatus.SKIPPED, reason: SkipReason.CONDITION_FALSE, attempt: 0 } });
    expect(h.tokens).toEqual(['tok-publish']);
  });

  it('skips CONDITION_FALSE a DATA_READY dependent whose upstream was skipped and skipOnUpstreamSkip is false (no outputs to test)', async () => {
    const manifest = chain(dependency('extract', DependencyType.DATA_READY, { condition: 'rows > 0', skipOnUpstreamSkip: false }));
    const { h, result } = await skipped(manifest, { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.CONDITION_FALSE });
    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.CONDITION_FALSE });
  });

  it('runs a COMPLETION dependent after its upstream failed', async () => {
    const h = harness();
    const manifest = chain(dependency('extract', DependencyType.COMPLETION));
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.FAILED, attempt: 3 });
    const { loaded, calls } = counting({ cleaned: true });
    await expect(runAttempt(manifest, runPayload('report'), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(calls()).toBe(1);
    expect((await onlyAttempt(h.store, 'report')).outputs).toEqual({ cleaned: true });
  });

  it('reports UPSTREAM_FAILED first when several dependencies do not hold', async () => {
    const h = harness();
    const manifest = pipeline({
      extract: {},
      lookup: {},
      report: { upstream: [dependency('lookup', DependencyType.DATA_READY, { condition: 'rows > 0' }), 'extract'] },
    });
    await upstreamSucceeded(h.store, 'lookup', 1, { rows: 0 });
    await upstreamEnded(h.store, 'report', 'lookup', { status: JobStatus.SUCCEEDED, attempt: 1 });
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.FAILED, attempt: 1 });
    await runAttempt(manifest, runPayload('report'), counting().loaded, h.deps());
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED });
  });

  it('skips UPSTREAM_FAILED when an upstream’s end was never recorded (it cannot have been waited for)', async () => {
    const h = harness();
    await upstreamEnded(h.store, 'report', 'lookup', { status: JobStatus.SUCCEEDED, attempt: 1 });
    const manifest = pipeline({ extract: {}, lookup: {}, report: { upstream: ['extract', 'lookup'] } });
    await expect(runAttempt(manifest, runPayload('report'), counting().loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(await h.store.getJobState(RUN_ID, 'report')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED });
  });

  it('decides only on attempt 1: a retry of a job that ran is not skipped again', async () => {
    // GIVEN a job state that would skip (its upstream is recorded FAILED), reached on attempt 2
    const h = harness();
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.FAILED, attempt: 1 });
    const { loaded, calls } = counting();
    await expect(runAttempt(chain('extract'), runPayload('report', 2), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 2 });
    expect(calls()).toBe(1);
  });

  it('propagates a failure down a chain: a job skipped for a failed upstream makes its own dependent skip UPSTREAM_FAILED', async () => {
    const h = harness();
    const manifest = chain('extract');
    await upstreamEnded(h.store, 'report', 'extract', { status: JobStatus.FAILED, attempt: 3 });
    await runAttempt(manifest, runPayload('report'), counting().loaded, h.deps());
    await expect(runAttempt(manifest, runPayload('publish'), counting().loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(await h.store.getJobState(RUN_ID, 'publish')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED });
  });

  it('logs the skip with its reason and the run/job/attempt fields', async () => {
    const { h } = await skipped(chain('extract'), { status: JobStatus.FAILED, attempt: 1 });
    expect(h.lines.find((l) => l.message === 'job skipped')).toMatchObject({
      level: 'INFO',
      component: 'task-runtime',
      pipelineId: PIPELINE_ID,
      runId: RUN_ID,
      jobId: 'report',
      attempt: 1,
      reason: SkipReason.UPSTREAM_FAILED,
    });
  });
});

describe('runAttempt: a run that has ended', () => {
  it('skips the job RUN_ENDED without running the handler, ending it and releasing its dependents SKIPPED', async () => {
    // GIVEN the run record is terminal (its execution was stopped)
    const h = harness();
    await endedRun(h.store);
    const manifest = pipeline({ extract: {}, load: { upstream: ['extract'] } });
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    const { loaded, calls } = counting();

    // WHEN a job's attempt arrives
    const result = await runAttempt(manifest, runPayload('extract'), loaded, h.deps());

    // THEN it is skipped RUN_ENDED, nothing runs, and its dependent is released
    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(calls()).toBe(0);
    expect(await h.store.listAttempts(RUN_ID)).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'extract',
      upstream: {},
      ready: false,
      status: JobStatus.SKIPPED,
      reason: SkipReason.RUN_ENDED,
      attempt: 0,
      completedAt: T0,
    } satisfies JobStateRecord);
    expect((await h.store.getJobState(RUN_ID, 'load'))?.upstream).toStrictEqual({ extract: { status: JobStatus.SKIPPED, reason: SkipReason.RUN_ENDED, attempt: 0 } });
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('ends a job whose retry arrives after the run ended CANCELLED (RUN_ENDED) with its last attempt, running nothing', async () => {
    // GIVEN attempt 1 failed and is to be retried, and the run ends meanwhile
    const h = harness();
    const manifest = pipeline({ extract: { parameters: EXTRACT_PARAMETERS }, load: { upstream: ['extract'] } });
    await taskError(runAttempt(manifest, runPayload('extract', 1), throwing(new Error('boom')), h.deps()));
    await endedRun(h.store);
    const { loaded, calls } = counting();

    // WHEN attempt 2 arrives
    const result = await runAttempt(manifest, runPayload('extract', 2), loaded, h.deps({ instants: [T2] }));

    // THEN nothing runs; the job is CANCELLED at attempt 1 and its dependent released with that
    expect(result).toStrictEqual({ status: JobStatus.SKIPPED, attempt: 1 });
    expect(TaskResultSchema.parse(result)).toStrictEqual(result);
    expect(calls()).toBe(0);
    expect((await h.store.listAttempts(RUN_ID)).map((a) => a.attempt)).toEqual([1]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'extract',
      upstream: {},
      ready: false,
      status: JobStatus.CANCELLED,
      reason: SkipReason.RUN_ENDED,
      attempt: 1,
      completedAt: T2,
    } satisfies JobStateRecord);
    expect((await h.store.getJobState(RUN_ID, 'load'))?.upstream).toStrictEqual({ extract: { status: JobStatus.CANCELLED, reason: SkipReason.RUN_ENDED, attempt: 1 } });
  });

  it('logs that the job was not started because its run ended', async () => {
    const h = harness();
    await endedRun(h.store);
    await runAttempt(single(), runPayload(), counting().loaded, h.deps());
    expect(h.lines.find((l) => l.message === 'job not started: its run has ended')).toMatchObject({
      level: 'INFO',
      pipelineId: PIPELINE_ID,
      runId: RUN_ID,
      jobId: 'extract',
      attempt: 1,
      status: JobStatus.SKIPPED,
    });
  });

  it('runs the job while the run is RUNNING', async () => {
    const h = harness();
    await h.store.markRunRunning({ runId: RUN_ID, pipelineId: PIPELINE_ID, trigger: 'SCHEDULE', parameters: {} }, T0);
    await expect(runAttempt(single(), runPayload(), counting().loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
  });
});

// ---------------------------------------------------------------------------------------------------
// runAttempt: redelivery
// ---------------------------------------------------------------------------------------------------

describe('runAttempt: a repeated delivery of an ended job', () => {
  it('answers a succeeded job as it ended and runs the handler zero more times, rewriting no attempt and sending no second token', async () => {
    // GIVEN extract succeeded and woke load, which started
    const h = harness();
    const manifest = pipeline({ extract: {}, load: { upstream: ['extract'] } });
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    const { loaded, calls } = counting({ rows: 1 });
    const first = await runAttempt(manifest, runPayload('extract'), loaded, h.deps());
    await runAttempt(manifest, runPayload('load'), counting().loaded, h.deps());
    const writes = h.store.writes.length;
    const records = await h.store.listAttempts(RUN_ID);
    const states = await h.store.listJobStates(RUN_ID);

    // WHEN the same `run` is delivered again
    const second = await runAttempt(manifest, runPayload('extract'), loaded, h.deps({ instants: [T2] }));

    // THEN it answers the same, runs nothing, and every record is as it was
    expect(second).toStrictEqual(first);
    expect(second).toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(calls()).toBe(1);
    expect(h.store.writes.slice(writes).map((w) => w.op)).not.toContain('startAttempt');
    expect(h.store.writes.slice(writes).map((w) => w.op)).not.toContain('finishAttempt');
    expect(h.store.writes.slice(writes).map((w) => w.op)).not.toContain('endJob');
    expect(await h.store.listAttempts(RUN_ID)).toEqual(records);
    expect(await h.store.listJobStates(RUN_ID)).toEqual(states);
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('answers a skipped job SKIPPED, attempt 0, without running it', async () => {
    const h = harness();
    await endedRun(h.store);
    await runAttempt(single(), runPayload(), counting().loaded, h.deps());
    const { loaded, calls } = counting();
    await expect(runAttempt(single(), runPayload(), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(calls()).toBe(0);
  });

  it('throws a permanent PhiTaskError with the job’s error code for a job that ended FAILED, running nothing', async () => {
    const h = harness();
    await h.store.endJob(RUN_ID, 'extract', { status: JobStatus.FAILED, at: T1, attempt: 3, errorCode: 'BAD_INPUT' });
    const { loaded, calls } = counting();
    const err = await taskError(runAttempt(single(), runPayload('extract', 3), loaded, h.deps()));
    expect(err.info).toStrictEqual({ code: 'BAD_INPUT', message: 'job extract already ended FAILED', category: ErrorCategory.PERMANENT });
    expect(calls()).toBe(0);
    expect(await h.store.listAttempts(RUN_ID)).toEqual([]);
  });

  it('throws a permanent EXEC_004_TASK_FAILED for a job that ended CANCELLED without an error code', async () => {
    const h = harness();
    await h.store.endJob(RUN_ID, 'extract', { status: JobStatus.CANCELLED, at: T1, attempt: 1, reason: SkipReason.RUN_ENDED });
    const err = await taskError(runAttempt(single(), runPayload(), counting().loaded, h.deps()));
    expect(err.info).toStrictEqual({ code: ExecErrorCode.TASK_FAILED, message: 'job extract already ended CANCELLED', category: ErrorCategory.PERMANENT });
  });
});

// ---------------------------------------------------------------------------------------------------
// runAttempt: releasing dependents
// ---------------------------------------------------------------------------------------------------

describe('runAttempt: releasing dependents', () => {
  /** `load` waits for both `extract` and `lookup`. */
  const diamond = (): PipelineManifest => pipeline({ extract: {}, lookup: {}, load: { upstream: ['extract', 'lookup'] } });

  it('records each upstream’s outcome and claims a 2-upstream dependent ready only when the second ends, sending its token exactly once', async () => {
    // GIVEN load's iteration is waiting at the gate
    const h = harness();
    expect(h.store.registerToken(RUN_ID, 'load', 'tok-load')).toBe(true);

    // WHEN the first upstream ends
    await runAttempt(diamond(), runPayload('extract'), use(() => ({ rows: 1 })), h.deps());

    // THEN its outcome is recorded but load is not ready and not woken
    expect(await h.store.getJobState(RUN_ID, 'load')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'load',
      upstream: { extract: { status: JobStatus.SUCCEEDED, attempt: 1 } },
      ready: false,
      token: 'tok-load',
    } satisfies JobStateRecord);
    expect(h.tokens).toEqual([]);

    // WHEN the second ends (on its second attempt)
    await runAttempt(diamond(), runPayload('lookup', 2), use(() => ({ currency: 'EUR' })), h.deps());

    // THEN load is ready and its token was sent once
    expect(await h.store.getJobState(RUN_ID, 'load')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'load',
      upstream: { extract: { status: JobStatus.SUCCEEDED, attempt: 1 }, lookup: { status: JobStatus.SUCCEEDED, attempt: 2 } },
      ready: true,
      token: 'tok-load',
    } satisfies JobStateRecord);
    expect(h.tokens).toEqual(['tok-load']);

    // AND once load has started, a repeated delivery of either upstream sends nothing more
    await runAttempt(diamond(), runPayload('load'), use(() => ({})), h.deps());
    await runAttempt(diamond(), runPayload('lookup', 2), use(() => ({ currency: 'EUR' })), h.deps());
    await runAttempt(diamond(), runPayload('extract'), use(() => ({ rows: 1 })), h.deps());
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('wakes the dependent once when both upstreams end at the same time', async () => {
    const h = harness();
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    await Promise.all([
      runAttempt(diamond(), runPayload('extract'), use(() => ({ rows: 1 })), h.deps()),
      runAttempt(diamond(), runPayload('lookup'), use(() => ({ currency: 'EUR' })), h.deps()),
    ]);
    expect(h.tokens).toEqual(['tok-load']);
    expect(await h.store.getJobState(RUN_ID, 'load')).toMatchObject({ ready: true });
  });

  it('marks ready without a send a dependent whose iteration has not reached the gate; the gate then lets it through', async () => {
    const h = harness();
    await runAttempt(diamond(), runPayload('extract'), use(() => ({ rows: 1 })), h.deps());
    await runAttempt(diamond(), runPayload('lookup'), use(() => ({ currency: 'EUR' })), h.deps());

    expect(h.tokens).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'load')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'load',
      upstream: { extract: { status: JobStatus.SUCCEEDED, attempt: 1 }, lookup: { status: JobStatus.SUCCEEDED, attempt: 1 } },
      ready: true,
    } satisfies JobStateRecord);
    // The iteration arriving now does not wait: it runs at once.
    expect(h.store.registerToken(RUN_ID, 'load', 'tok-late')).toBe(false);
    expect(h.tokens).toEqual([]);
  });

  it('releases every dependent of the job, each with its own count', async () => {
    const h = harness();
    const manifest = pipeline({ extract: {}, lookup: {}, load: { upstream: ['extract'] }, audit: { upstream: ['extract', 'lookup'] } });
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    h.store.registerToken(RUN_ID, 'audit', 'tok-audit');
    await runAttempt(manifest, runPayload('extract'), use(() => ({ rows: 1 })), h.deps());
    expect(h.tokens).toEqual(['tok-load']);
    expect((await h.store.getJobState(RUN_ID, 'audit'))?.upstream).toStrictEqual({ extract: { status: JobStatus.SUCCEEDED, attempt: 1 } });
  });

  it('releases nothing when the attempt fails (the job is not over until attemptFailed says so)', async () => {
    const h = harness();
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    await taskError(runAttempt(pipeline({ extract: {}, load: { upstream: ['extract'] } }), runPayload('extract'), throwing(new Error('boom')), h.deps()));
    expect(h.tokens).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toBeUndefined();
    expect((await h.store.getJobState(RUN_ID, 'load'))?.upstream).toStrictEqual({});
  });
});

// ---------------------------------------------------------------------------------------------------
// runAttempt: failures
// ---------------------------------------------------------------------------------------------------

describe('PhiTaskError', () => {
  it('is named PhiTaskError, is a PhiError with the code, and its message parses as the ErrorInfo', () => {
    const info: ErrorInfo = { code: 'RATE_LIMITED', message: 'the feed asked us to slow down', category: ErrorCategory.TRANSIENT };
    const err = new PhiTaskError(info);
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(PhiError);
    expect(err.name).toBe('PhiTaskError');
    expect(err.name).toBe(TASK_ERROR_NAME);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.info).toStrictEqual(info);
    expect(ErrorInfoSchema.parse(JSON.parse(err.message))).toStrictEqual(info);
  });
});

describe('runAttempt: a handler that throws', () => {
  it('records the failure and throws PhiTaskError whose message parses as the ErrorInfo', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), throwing(new TransientError('RATE_LIMITED', 'the feed asked us to slow down')), h.deps()));
    const info: ErrorInfo = { code: 'RATE_LIMITED', message: 'the feed asked us to slow down', category: ErrorCategory.TRANSIENT };
    expect(err.name).toBe(TASK_ERROR_NAME);
    expect(ErrorInfoSchema.parse(JSON.parse(err.message))).toStrictEqual(info);
    expect(err.info).toStrictEqual(info);
  });

  it('throws EXEC_001_HANDLER_ERROR, transient, for an uncoded handler error', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), throwing(new Error('socket hang up')), h.deps()));
    expect(JSON.parse(err.message)).toStrictEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'socket hang up', category: ErrorCategory.TRANSIENT });
  });

  it('throws for a rejected async handler too', async () => {
    const h = harness();
    const loaded = use(async () => {
      await Promise.resolve();
      throw new PermanentError('BAD_INPUT', 'no data for that date');
    });
    const err = await taskError(runAttempt(single(), runPayload(), loaded, h.deps()));
    expect(err.info).toStrictEqual({ code: 'BAD_INPUT', message: 'no data for that date', category: ErrorCategory.PERMANENT });
  });

  it.each([
    { attempt: 1, willRetry: true },
    { attempt: 2, willRetry: true },
    { attempt: 3, willRetry: false },
  ])('records a transient failure of attempt $attempt of 3 FAILED with willRetry $willRetry', async ({ attempt: n, willRetry }) => {
    const h = harness();
    await taskError(runAttempt(single(), runPayload('extract', n), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    expect(await onlyAttempt(h.store)).toStrictEqual({
      ...runningRecord(n),
      status: JobStatus.FAILED,
      completedAt: T1,
      durationMs: 2500,
      transitions: [
        { status: JobStatus.RUNNING, at: T0 },
        { status: JobStatus.FAILED, at: T1 },
      ],
      errorCode: 'RATE_LIMITED',
      errorMessage: 'slow down',
      errorCategory: ErrorCategory.TRANSIENT,
      willRetry,
    } satisfies JobAttemptRecord);
  });

  it('records willRetry false when the job allows a single attempt', async () => {
    const h = harness();
    await taskError(runAttempt(single({ retry: { maxAttempts: 1 } }), runPayload(), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    expect((await onlyAttempt(h.store)).willRetry).toBe(false);
  });

  it('records a permanent failure with willRetry false even with attempts left', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), throwing(new PermanentError('BAD_INPUT', 'no data for that date')), h.deps()));
    expect(err.info).toStrictEqual({ code: 'BAD_INPUT', message: 'no data for that date', category: ErrorCategory.PERMANENT });
    expect(await onlyAttempt(h.store)).toMatchObject({ errorCode: 'BAD_INPUT', errorMessage: 'no data for that date', errorCategory: ErrorCategory.PERMANENT, willRetry: false });
  });

  it('keeps a permanent failure permanent, with its code, whatever the size of its message: the message is cut within the record, saying so', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), throwing(new PermanentError('BAD_INPUT', 'x'.repeat(500_000))), h.deps()));
    expect(err.info).toMatchObject({ code: 'BAD_INPUT', category: ErrorCategory.PERMANENT });
    expect(err.info.message).toHaveLength(4096);
    expect(err.info.message).toMatch(/…\[495\d{3} more characters cut\]$/);
    expect(await onlyAttempt(h.store)).toMatchObject({ errorCode: 'BAD_INPUT', errorCategory: ErrorCategory.PERMANENT, willRetry: false });
    const long = await taskError(runAttempt(single(), runPayload(), throwing(Object.assign(new Error('no'), { code: 'E'.repeat(500) })), harness().deps()));
    expect(long.info.code).toBe('E'.repeat(64));
  });

  it('says what a thrown value is even when turning it into text throws', async () => {
    const hostile = { toString: () => { throw new Error('no'); } };
    const err = await taskError(runAttempt(single(), runPayload(), throwing(hostile), harness().deps()));
    expect(err.info).toMatchObject({ code: 'EXEC_001_HANDLER_ERROR', message: '[object Object]' });
  });

  it('classifies with the job’s lists (Rule 10): a TransientError the job lists as non-retryable is permanent', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single({ retry: { nonRetryableErrors: ['RATE_LIMITED'] } }), runPayload(), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    expect(err.info.category).toBe(ErrorCategory.PERMANENT);
    expect(await onlyAttempt(h.store)).toMatchObject({ errorCategory: ErrorCategory.PERMANENT, willRetry: false });
  });

  it('classifies with the job’s lists (Rule 10): a code outside a non-empty retryableErrors is permanent', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single({ retry: { retryableErrors: ['RATE_LIMITED'] } }), runPayload(), throwing(new TransientError('SOCKET_RESET', 'reset')), h.deps()));
    expect(err.info).toStrictEqual({ code: 'SOCKET_RESET', message: 'reset', category: ErrorCategory.PERMANENT });
  });

  it('classifies with the job’s lists (Rule 10): a listed retryable code is transient even thrown as PermanentError', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single({ retry: { retryableErrors: ['RATE_LIMITED'] } }), runPayload(), throwing(new PermanentError('RATE_LIMITED', 'x')), h.deps()));
    expect(err.info.category).toBe(ErrorCategory.TRANSIENT);
    expect((await onlyAttempt(h.store)).willRetry).toBe(true);
  });

  it('does not end the job or send a dead letter: that is attemptFailed’s decision', async () => {
    const h = harness();
    await taskError(runAttempt(single({ retry: { maxAttempts: 1 } }), runPayload(), throwing(new PermanentError('BAD_INPUT', 'x')), h.deps()));
    expect(await h.store.getJobState(RUN_ID, 'extract')).toBeUndefined();
    expect(h.letters).toEqual([]);
  });

  it('logs the failure at ERROR with its code, message, category, willRetry and the run/job/attempt fields', async () => {
    const h = harness();
    await taskError(runAttempt(single(), runPayload(), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    expect(h.lines.find((l) => l.message === 'attempt failed')).toMatchObject({
      level: 'ERROR',
      pipelineId: PIPELINE_ID,
      runId: RUN_ID,
      jobId: 'extract',
      attempt: 1,
      errorCode: 'RATE_LIMITED',
      errorMessage: 'slow down',
      errorCategory: ErrorCategory.TRANSIENT,
      willRetry: true,
    });
  });
});

describe('runAttempt: a handler that returns something other than a JSON object', () => {
  it.each([
    ['a string', 'done'],
    ['an array', [{ rows: 1 }]],
    ['a number', 42],
    ['a boolean', true],
    ['an object holding a non-JSON value', { at: new Date(0), fn: () => 1 }],
    ['an object holding NaN', { ratio: Number.NaN }],
    ['an object that refers to itself', (() => { const o: Record<string, unknown> = { rows: 1 }; o.self = o; return o; })()],
    ['an object nesting 10,000 levels deep', Array.from({ length: 10_000 }).reduce<Record<string, unknown>>((inner) => ({ inner }), {})],
    ['an object nesting 32 levels deep, one more than DynamoDB keeps in the record', Array.from({ length: 31 }).reduce<Record<string, unknown>>((inner) => ({ inner }), {})],
  ])('fails permanently with EXEC_003_INVALID_OUTPUT when it returns %s, keeping no outputs', async (_what, value) => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), returning(value), h.deps()));
    expect(err.info).toStrictEqual({ code: ExecErrorCode.INVALID_OUTPUT, message: expect.any(String), category: ErrorCategory.PERMANENT });
    const record = await onlyAttempt(h.store);
    expect(record).toMatchObject({ status: JobStatus.FAILED, errorCode: ExecErrorCode.INVALID_OUTPUT, errorCategory: ErrorCategory.PERMANENT, willRetry: false });
    expect(record.outputs).toBeUndefined();
    expect(record.outputChecksum).toBeUndefined();
  });

  it('keeps outputs nesting 31 levels deep, as many as the record can hold', async () => {
    const h = harness();
    const deepest = Array.from({ length: 30 }).reduce<Record<string, unknown>>((inner) => ({ inner }), {});
    await runAttempt(single(), runPayload(), returning(deepest), h.deps());
    expect(await onlyAttempt(h.store)).toMatchObject({ status: JobStatus.SUCCEEDED, outputs: deepest });
  });

  it('says what it returned: an array is called an array', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), returning([1]), h.deps()));
    expect(err.info.message).toBe('the handler returned an array, not a JSON object of outputs');
  });
});

describe('runAttempt: large outputs', () => {
  /** Outputs whose JSON, `{"blob":"…"}`, is exactly `bytes` bytes of ASCII. */
  const outputsOf = (bytes: number): Outputs => ({ blob: 'x'.repeat(bytes - '{"blob":""}'.length) });

  it('keeps outputs of exactly 32 KiB in the attempt record, the limit the README documents', async () => {
    const h = harness();
    const outputs = outputsOf(32 * 1024);
    await expect(runAttempt(single(), runPayload(), use(() => outputs), h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    const record = await onlyAttempt(h.store);
    expect(record.outputs).toEqual(outputs);
    expect(record.outputsRef).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(record.outputs))).toBe(32 * 1024);
    expect(h.outputs.objects.size).toBe(0);
  });

  it('keeps larger outputs (here 300 KB, over Step Functions’ 256 KiB too) in the outputs bucket, the record holding where, their size and checksum', async () => {
    const h = harness();
    const outputs = outputsOf(300_000);
    await runAttempt(single(), runPayload(), use(() => outputs), h.deps());
    const record = await onlyAttempt(h.store);
    expect(record.outputs).toBeUndefined();
    expect(record.outputsRef).toEqual({ bucket: 'phi-outputs', key: `outputs/${record.pipelineId}/${RUN_ID}/${record.jobId}/1.json`, bytes: 300_000 });
    expect(JSON.parse(h.outputs.objects.get(record.outputsRef!.key)!)).toEqual(outputs);
    expect(record.outputChecksum).toBe(checksum(outputs));
  });

  it('hands a dependent the same object, whether its upstream’s outputs were kept in the record or the bucket', async () => {
    const h = harness();
    const manifest = pipeline({ small: {}, large: {}, report: { upstream: ['small', 'large'] } });
    const big = outputsOf(100_000);
    await runAttempt(manifest, runPayload('small'), use(() => ({ rows: 3 })), h.deps());
    await runAttempt(manifest, runPayload('large'), use(() => big), h.deps());
    let seen: unknown;
    await runAttempt(manifest, runPayload('report'), use((ctx) => void (seen = ctx.upstream)), h.deps());
    expect(seen).toEqual({ small: { rows: 3 }, large: big });
  });

  it('fails permanently with EXEC_003_INVALID_OUTPUT one byte over, naming both sizes, keeping no outputs and not retrying', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single(), runPayload(), use(() => outputsOf(MAX_OUTPUTS_BYTES + 1)), h.deps()));
    expect(err.info).toStrictEqual({ code: ExecErrorCode.INVALID_OUTPUT, message: expect.stringContaining(String(MAX_OUTPUTS_BYTES + 1)), category: ErrorCategory.PERMANENT });
    expect(err.info.message).toContain(`at most ${MAX_OUTPUTS_BYTES}`);
    const record = await onlyAttempt(h.store);
    expect(record).toMatchObject({ status: JobStatus.FAILED, errorCode: ExecErrorCode.INVALID_OUTPUT, errorCategory: ErrorCategory.PERMANENT, willRetry: false });
    expect(record.outputs).toBeUndefined();
    expect(record.outputChecksum).toBeUndefined();
  });

  it('counts UTF-8 bytes, not characters', async () => {
    // 16,400 two-byte characters: under the record's limit in characters, over it in bytes.
    const outputs = { blob: 'é'.repeat(16_400) };
    expect(JSON.stringify(outputs).length).toBeLessThan(MAX_INLINE_OUTPUTS_BYTES);
    const h = harness();
    await runAttempt(single(), runPayload(), use(() => outputs), h.deps());
    expect((await onlyAttempt(h.store)).outputsRef?.bytes).toBe(Buffer.byteLength(JSON.stringify(outputs)));
  });
});

describe('runAttempt: a handler module that could not be loaded', () => {
  it('records the attempt FAILED with EXEC_005_HANDLER_LOAD_FAILED, permanent, and throws it', async () => {
    const h = harness();
    const message = 'the handler file could not be loaded: Cannot find package "left-pad"';
    const err = await taskError(runAttempt(single(), runPayload(), { error: message }, h.deps()));
    expect(err.info).toStrictEqual({ code: ExecErrorCode.HANDLER_LOAD_FAILED, message, category: ErrorCategory.PERMANENT });
    expect(await onlyAttempt(h.store)).toStrictEqual({
      ...runningRecord(1),
      status: JobStatus.FAILED,
      completedAt: T1,
      durationMs: 2500,
      transitions: [
        { status: JobStatus.RUNNING, at: T0 },
        { status: JobStatus.FAILED, at: T1 },
      ],
      errorCode: ExecErrorCode.HANDLER_LOAD_FAILED,
      errorMessage: message,
      errorCategory: ErrorCategory.PERMANENT,
      willRetry: false,
    } satisfies JobAttemptRecord);
  });

  it('is permanent even when the job lists EXEC_005 as retryable', async () => {
    const h = harness();
    const err = await taskError(runAttempt(single({ retry: { retryableErrors: [ExecErrorCode.HANDLER_LOAD_FAILED] } }), runPayload(), { error: 'no handler' }, h.deps()));
    expect(err.info.category).toBe(ErrorCategory.PERMANENT);
  });
});

describe('runAttempt: a payload for a job the manifest does not hold', () => {
  it.each(['transfrom', 'constructor', 'toString'])('throws a permanent EXEC_004_TASK_FAILED for job %s and writes nothing', async (jobId) => {
    const h = harness();
    const { loaded, calls } = counting();
    const err = await taskError(runAttempt(single(), runPayload(jobId), loaded, h.deps()));
    expect(err.info).toStrictEqual({ code: ExecErrorCode.TASK_FAILED, message: `job ${jobId} is not one of the jobs of pipeline ${PIPELINE_ID} this function runs`, category: ErrorCategory.PERMANENT });
    expect(calls()).toBe(0);
    expect(h.store.writes).toEqual([]);
  });
});

describe('runAttempt: logs', () => {
  it('writes lines, the runtime’s and the handler’s own, that carry pipelineId, runId, jobId and attempt', async () => {
    const h = harness();
    const loaded = use((ctx) => {
      ctx.log.info('fetching', { date: ctx.parameters.date });
      return { rows: 1 };
    });
    await runAttempt(single(), runPayload('extract', 2), loaded, h.deps());
    expect(h.lines.map((l) => l.message)).toEqual(['attempt started', 'fetching', 'metrics', 'attempt succeeded']);
    for (const line of h.lines) {
      expect(line).toMatchObject({ component: 'task-runtime', pipelineId: PIPELINE_ID, runId: RUN_ID, jobId: 'extract', attempt: 2 });
      expect(typeof line.timestamp).toBe('string');
    }
    expect(h.lines[0]).toMatchObject({ level: 'INFO', maxAttempts: 3 });
    expect(h.lines[1]).toMatchObject({ level: 'INFO', date: 'from-config' });
    // The attempt's duration as a metric (embedded metric format), by pipeline and job.
    expect(h.lines[2]).toMatchObject({ pipeline: PIPELINE_ID, job: 'extract', JobDuration: 2500, _aws: { CloudWatchMetrics: [{ Namespace: 'Phi', Dimensions: [['pipeline', 'job']], Metrics: [{ Name: 'JobDuration', Unit: 'Milliseconds' }] }] } });
    expect(h.lines[3]).toMatchObject({ level: 'INFO', durationMs: 2500 });
  });

  // BUG (functions/runtime/core.ts, `release`, `log: deps.log`): releaseDependents is given the base
  // logger, not the attempt's child logger, so its 'dependent released' line has jobId but no
  // pipelineId, runId or attempt, although functions/shared/log.ts says every line carries them when
  // known (and they are known here). The same holds for releases done by attemptFailed.
  it('carries pipelineId, runId and attempt on the line that says a dependent was released too', async () => {
    const h = harness();
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    await runAttempt(pipeline({ extract: {}, load: { upstream: ['extract'] } }), runPayload(), use(() => ({ rows: 1 })), h.deps());
    const released = h.lines.find((l) => l.message === 'dependent released');
    expect(released).toMatchObject({ dependent: 'load', waiting: true });
    expect(released).toMatchObject({ pipelineId: PIPELINE_ID, runId: RUN_ID, jobId: 'extract', attempt: 1 });
  });
});

// ---------------------------------------------------------------------------------------------------
// classifyError and retryDelaySeconds
// ---------------------------------------------------------------------------------------------------

describe('classifyError (Rule 10)', () => {
  const noLists = { retryableErrors: [], nonRetryableErrors: [] };

  it('makes a code in nonRetryableErrors permanent, even when thrown as TransientError or also listed as retryable', () => {
    expect(classifyError(new TransientError('RATE_LIMITED', 'slow down'), { retryableErrors: [], nonRetryableErrors: ['RATE_LIMITED'] })).toStrictEqual({
      code: 'RATE_LIMITED',
      message: 'slow down',
      category: ErrorCategory.PERMANENT,
    });
    expect(classifyError(new TransientError('RATE_LIMITED', 'slow down'), { retryableErrors: ['RATE_LIMITED'], nonRetryableErrors: ['RATE_LIMITED'] }).category).toBe(
      ErrorCategory.PERMANENT,
    );
  });

  it('with a non-empty retryableErrors, makes only those codes transient: any other code is permanent even as TransientError', () => {
    const lists = { retryableErrors: ['RATE_LIMITED', 'UPSTREAM_5XX'], nonRetryableErrors: [] };
    expect(classifyError(new TransientError('RATE_LIMITED', 'slow down'), lists).category).toBe(ErrorCategory.TRANSIENT);
    expect(classifyError(new JobError('UPSTREAM_5XX', 'bad gateway'), lists).category).toBe(ErrorCategory.TRANSIENT);
    expect(classifyError(new TransientError('SOCKET_RESET', 'reset'), lists)).toStrictEqual({ code: 'SOCKET_RESET', message: 'reset', category: ErrorCategory.PERMANENT });
    // An error without a code is EXEC_001_HANDLER_ERROR, which the list does not name either.
    expect(classifyError(new Error('oops'), lists)).toStrictEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'oops', category: ErrorCategory.PERMANENT });
  });

  it('lets the job’s lists override the error’s own category: a listed retryable code is transient even as PermanentError', () => {
    expect(classifyError(new PermanentError('RATE_LIMITED', 'x'), { retryableErrors: ['RATE_LIMITED'], nonRetryableErrors: [] }).category).toBe(ErrorCategory.TRANSIENT);
  });

  it('without lists, follows the error’s category: PermanentError is permanent, TransientError transient', () => {
    expect(classifyError(new PermanentError('BAD_INPUT', 'no such date'), noLists)).toStrictEqual({ code: 'BAD_INPUT', message: 'no such date', category: ErrorCategory.PERMANENT });
    expect(classifyError(new TransientError('RATE_LIMITED', 'slow down'), noLists)).toStrictEqual({ code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT });
  });

  it('treats a coded error without a category as transient', () => {
    expect(classifyError(new JobError('FEED_EMPTY', 'nothing yet'), noLists)).toStrictEqual({ code: 'FEED_EMPTY', message: 'nothing yet', category: ErrorCategory.TRANSIENT });
  });

  it('classifies an Error without a code as EXEC_001_HANDLER_ERROR, transient, keeping its message', () => {
    expect(classifyError(new TypeError('cannot read x of undefined'), noLists)).toStrictEqual({
      code: ExecErrorCode.HANDLER_ERROR,
      message: 'cannot read x of undefined',
      category: ErrorCategory.TRANSIENT,
    });
  });

  it('treats an empty or non-string code as no code', () => {
    expect(classifyError(Object.assign(new Error('a'), { code: '' }), noLists).code).toBe(ExecErrorCode.HANDLER_ERROR);
    expect(classifyError(Object.assign(new Error('b'), { code: 503 }), noLists).code).toBe(ExecErrorCode.HANDLER_ERROR);
  });

  it('classifies a thrown non-Error value as EXEC_001_HANDLER_ERROR, transient, with the value as its message', () => {
    expect(classifyError('boom', noLists)).toStrictEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'boom', category: ErrorCategory.TRANSIENT });
    expect(classifyError(42, noLists)).toStrictEqual({ code: ExecErrorCode.HANDLER_ERROR, message: '42', category: ErrorCategory.TRANSIENT });
    expect(classifyError(null, noLists)).toStrictEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'null', category: ErrorCategory.TRANSIENT });
    expect(classifyError(undefined, noLists)).toStrictEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'undefined', category: ErrorCategory.TRANSIENT });
  });

  it('reads code, message and category from a thrown plain object', () => {
    expect(classifyError({ code: 'QUOTA', message: 'over quota', category: 'PERMANENT' }, noLists)).toStrictEqual({
      code: 'QUOTA',
      message: 'over quota',
      category: ErrorCategory.PERMANENT,
    });
  });

  it('ignores a category that is not TRANSIENT or PERMANENT', () => {
    expect(classifyError({ code: 'X', message: 'y', category: 'FATAL' }, noLists).category).toBe(ErrorCategory.TRANSIENT);
  });
});

describe('retryDelaySeconds (Rules 8 and 9)', () => {
  const policy = (overrides: Partial<ResolvedRetry> = {}): ResolvedRetry => ({ ...RETRY, ...overrides });

  it.each([
    { attempt: 1, delay: 60 },
    { attempt: 2, delay: 120 },
    { attempt: 3, delay: 240 },
    { attempt: 4, delay: 480 },
  ])('waits initial × multiplier^(attempt − 1) after attempt $attempt: $delay s (no jitter)', ({ attempt: n, delay }) => {
    expect(retryDelaySeconds(policy(), n)).toBe(delay);
  });

  it('caps the delay at maxDelaySeconds', () => {
    const capped = policy({ initialDelaySeconds: 60, backoffMultiplier: 10, maxDelaySeconds: 300 });
    expect(retryDelaySeconds(capped, 1)).toBe(60);
    expect(retryDelaySeconds(capped, 2)).toBe(300);
    expect(retryDelaySeconds(capped, 9)).toBe(300);
  });

  it('rounds a fractional delay to whole seconds', () => {
    expect(retryDelaySeconds(policy({ initialDelaySeconds: 10, backoffMultiplier: 1.5 }), 3)).toBe(23);
  });

  it('with FULL jitter, draws round(random × the computed delay), the cap applied first', () => {
    const full = policy({ jitter: 'FULL', initialDelaySeconds: 60, backoffMultiplier: 2, maxDelaySeconds: 100 });
    expect(retryDelaySeconds(full, 1, () => 0)).toBe(0);
    expect(retryDelaySeconds(full, 1, () => 0.5)).toBe(30);
    expect(retryDelaySeconds(full, 2, () => 0.5)).toBe(50);
    expect(retryDelaySeconds(full, 2, () => 0.999)).toBe(100);
  });

  it('with FULL jitter and the default random, stays between 0 and the computed delay', () => {
    const full = policy({ jitter: 'FULL' });
    for (let i = 0; i < 50; i++) {
      const delay = retryDelaySeconds(full, 2);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(120);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// attemptFailed
// ---------------------------------------------------------------------------------------------------

describe('attemptFailed: retrying', () => {
  /** Runs attempt `n` with a handler that throws `err`; answers what Step Functions caught. */
  async function failAttempt(h: Harness, manifest: PipelineManifest, n: number, err: unknown): Promise<CaughtError> {
    return lambdaCaught(await taskError(runAttempt(manifest, runPayload('extract', n), throwing(err), h.deps())));
  }

  it.each([
    { attempt: 1, delaySeconds: 60 },
    { attempt: 2, delaySeconds: 120 },
  ])('retries a transient failure of attempt $attempt of 3 after $delaySeconds s, as attempt + 1', async ({ attempt: n, delaySeconds }) => {
    const h = harness();
    const caught = await failAttempt(h, single(), n, new TransientError('RATE_LIMITED', 'slow down'));
    const record = await onlyAttempt(h.store);
    const decision = await attemptFailed(single(), failedPayload('extract', n, caught), h.deps({ instants: [T2] }));
    expect(decision).toStrictEqual({ retry: true, again: false, delaySeconds, attempt: n + 1, infraTries: 0 });
    expect(RetryDecisionSchema.parse(decision)).toStrictEqual(decision);
    // The attempt keeps what it recorded; the job is not over; no dead letter.
    expect(await onlyAttempt(h.store)).toStrictEqual(record);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toBeUndefined();
    expect(h.letters).toEqual([]);
  });

  it('answers the same decision when the same failure is handled twice, writing nothing more', async () => {
    const h = harness();
    const caught = await failAttempt(h, single(), 1, new TransientError('RATE_LIMITED', 'slow down'));
    const first = await attemptFailed(single(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));
    const writes = h.store.writes.length;
    const second = await attemptFailed(single(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));
    expect(second).toStrictEqual(first);
    expect(h.store.writes).toHaveLength(writes);
    expect(h.letters).toEqual([]);
  });

  it('caps the delay at maxDelaySeconds', async () => {
    const h = harness();
    const manifest = single({ retry: { maxAttempts: 5, initialDelaySeconds: 60, backoffMultiplier: 10, maxDelaySeconds: 300 } });
    const caught = await failAttempt(h, manifest, 3, new Error('socket hang up'));
    await expect(attemptFailed(manifest, failedPayload('extract', 3, caught), h.deps())).resolves.toStrictEqual({ retry: true, again: false, delaySeconds: 300, attempt: 4, infraTries: 0 });
  });

  it.each([
    { random: 0, delaySeconds: 0 },
    { random: 0.25, delaySeconds: 30 },
    { random: 0.999, delaySeconds: 120 },
  ])('draws a FULL jitter delay from the injected random ($random → $delaySeconds s of 120)', async ({ random, delaySeconds }) => {
    const h = harness();
    const manifest = single({ retry: { jitter: 'FULL' } });
    const caught = await failAttempt(h, manifest, 2, new Error('socket hang up'));
    await expect(attemptFailed(manifest, failedPayload('extract', 2, caught), h.deps({ random: () => random }))).resolves.toStrictEqual({ retry: true, again: false, delaySeconds, attempt: 3, infraTries: 0 });
  });

  it('logs the retry with its code, its delay and the run/job/attempt fields', async () => {
    const h = harness();
    const caught = await failAttempt(h, single(), 1, new TransientError('RATE_LIMITED', 'slow down'));
    await attemptFailed(single(), failedPayload('extract', 1, caught), h.deps());
    expect(h.lines.find((l) => l.message === 'attempt will be retried')).toMatchObject({
      level: 'INFO',
      pipelineId: PIPELINE_ID,
      runId: RUN_ID,
      jobId: 'extract',
      attempt: 1,
      errorCode: 'RATE_LIMITED',
      delaySeconds: 60,
    });
  });

  it('follows the attempt’s own recorded error over what Step Functions caught', async () => {
    // GIVEN attempt 1 recorded a permanent failure, and the caught error looks transient
    const h = harness();
    await failAttempt(h, single(), 1, new PermanentError('BAD_INPUT', 'no data for that date'));
    const record = await onlyAttempt(h.store);
    const caught: CaughtError = { Error: 'Runtime.HandlerError', Cause: '{"errorMessage":"something else"}' };

    // WHEN the failure is handled
    const decision = await attemptFailed(single(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));

    // THEN the recorded error decides: no retry, and the dead letter carries it; the record is left as it was
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 });
    expect(h.letters.map((l) => [l.errorCode, l.errorMessage, l.errorCategory])).toEqual([['BAD_INPUT', 'no data for that date', ErrorCategory.PERMANENT]]);
    expect(await onlyAttempt(h.store)).toStrictEqual(record);
  });
});

describe('attemptFailed: failing the job for good', () => {
  const manifest = (): PipelineManifest => pipeline({ extract: { parameters: EXTRACT_PARAMETERS }, load: { upstream: ['extract'] } });

  /** Attempt `n` of `extract` throws `err`, then its failure is handled at T2. */
  async function failAndHandle(h: Harness, n: number, err: unknown, run: Partial<RunInput> = {}) {
    const thrown = await taskError(runAttempt(manifest(), runPayload('extract', n, run), throwing(err), h.deps()));
    return attemptFailed(manifest(), failedPayload('extract', n, lambdaCaught(thrown), run), h.deps({ instants: [T2] }));
  }

  it('after the last attempt, sends one dead letter, ends the job FAILED and releases its dependents FAILED', async () => {
    // GIVEN load waits on extract, and extract's third (last) attempt failed transiently
    const h = harness();
    h.store.registerToken(RUN_ID, 'load', 'tok-load');

    // WHEN the failure is handled
    const decision = await failAndHandle(h, 3, new TransientError('RATE_LIMITED', 'slow down'), { parameters: { date: '2024-04-30' } });

    // THEN no retry
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 3, infraTries: 0 });
    // AND exactly one dead letter, carrying the error, the attempts, the parameters and the run
    expect(h.letters).toEqual([
      {
        kind: 'phi.job.failed',
        pipelineId: PIPELINE_ID,
        runId: RUN_ID,
        jobId: 'extract',
        attempts: 3,
        errorCode: 'RATE_LIMITED',
        errorMessage: 'slow down',
        errorCategory: ErrorCategory.TRANSIENT,
        parameters: { region: 'eu-west-1', date: '2024-04-30', limit: 10 },
        executionArn: EXECUTION_ARN,
        trigger: 'SCHEDULE',
        scheduledTime: SCHEDULED,
        failedAt: T2,
      } satisfies DeadLetterMessage,
    ]);
    expect(DeadLetterMessageSchema.parse(h.letters[0])).toStrictEqual(h.letters[0]);
    expect(h.store.deadLetterClaims(RUN_ID)).toEqual(['extract']);
    // AND the job ended FAILED with its error code
    expect(await h.store.getJobState(RUN_ID, 'extract')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'extract',
      upstream: {},
      ready: false,
      status: JobStatus.FAILED,
      attempt: 3,
      errorCode: 'RATE_LIMITED',
      completedAt: T2,
    } satisfies JobStateRecord);
    // AND load was released with the failure and woken
    expect(await h.store.getJobState(RUN_ID, 'load')).toStrictEqual({
      runId: RUN_ID,
      jobId: 'load',
      upstream: { extract: { status: JobStatus.FAILED, attempt: 3 } },
      ready: true,
      token: 'tok-load',
    } satisfies JobStateRecord);
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('sends a dead letter without scheduledTime for a run that was not scheduled', async () => {
    const h = harness();
    await failAndHandle(h, 3, new Error('boom'), { trigger: 'API', scheduledTime: undefined });
    expect(h.letters).toHaveLength(1);
    expect(h.letters[0]).toMatchObject({ trigger: 'API', errorCode: ExecErrorCode.HANDLER_ERROR });
    expect(h.letters[0]).not.toHaveProperty('scheduledTime');
  });

  it('does not retry a permanent error, even with attempts left', async () => {
    const h = harness();
    const decision = await failAndHandle(h, 1, new PermanentError('BAD_INPUT', 'no data for that date'));
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 });
    expect(h.letters).toEqual([expect.objectContaining({ attempts: 1, errorCode: 'BAD_INPUT', errorCategory: ErrorCategory.PERMANENT })]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.FAILED, attempt: 1, errorCode: 'BAD_INPUT' });
  });

  it('lets the dependent decide after the failure: a SUCCESS dependent is then skipped UPSTREAM_FAILED', async () => {
    const h = harness();
    await failAndHandle(h, 1, new PermanentError('BAD_INPUT', 'x'));
    await expect(runAttempt(manifest(), runPayload('load'), counting().loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SKIPPED, attempt: 0 });
    expect(await h.store.getJobState(RUN_ID, 'load')).toMatchObject({ status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED });
  });

  it('does nothing for a failure handled again after the job ended: no second dead letter, no second release', async () => {
    const h = harness();
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    const thrown = await taskError(runAttempt(manifest(), runPayload('extract', 3), throwing(new Error('boom')), h.deps()));
    const payload = failedPayload('extract', 3, lambdaCaught(thrown));
    await attemptFailed(manifest(), payload, h.deps({ instants: [T2] }));
    // load, woken, skips
    await runAttempt(manifest(), runPayload('load'), use(() => ({})), h.deps());
    const writes = h.store.writes.length;

    const records = await h.store.listAttempts(RUN_ID);
    const states = await h.store.listJobStates(RUN_ID);

    const again = await attemptFailed(manifest(), payload, h.deps({ instants: ['2024-05-01T11:00:00.000Z'] }));

    expect(again).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 3, infraTries: 0 });
    expect(h.letters).toHaveLength(1);
    expect(h.tokens).toEqual(['tok-load']);
    expect(h.store.writes.slice(writes).map((w) => w.op)).not.toContain('claimDeadLetter');
    expect(await h.store.listAttempts(RUN_ID)).toEqual(records);
    expect(await h.store.listJobStates(RUN_ID)).toEqual(states);
  });

  it('sends no second dead letter when handled again after its letter was sent but before the job ended, and ends the job', async () => {
    // GIVEN the dead letter of extract was sent, then the function died before ending the job
    const h = harness();
    const thrown = await taskError(runAttempt(manifest(), runPayload('extract', 3), throwing(new Error('boom')), h.deps()));
    await h.store.claimDeadLetter(RUN_ID, 'extract', T2, 'an earlier call');
    await h.store.markDeadLetterSent(RUN_ID, 'extract', T2);

    // WHEN the failure is handled (again)
    const decision = await attemptFailed(manifest(), failedPayload('extract', 3, lambdaCaught(thrown)), h.deps({ instants: [T2] }));

    // THEN no letter is sent, and the job is ended and its dependent released
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 3, infraTries: 0 });
    expect(h.letters).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.FAILED, attempt: 3 });
    expect((await h.store.getJobState(RUN_ID, 'load'))?.upstream).toStrictEqual({ extract: { status: JobStatus.FAILED, attempt: 3 } });
  });

  it('logs the permanent failure at ERROR with its code, attempts and the run/job/attempt fields', async () => {
    const h = harness();
    await failAndHandle(h, 3, new TransientError('RATE_LIMITED', 'slow down'));
    expect(h.lines.find((l) => l.message === 'job failed permanently')).toMatchObject({
      level: 'ERROR',
      pipelineId: PIPELINE_ID,
      runId: RUN_ID,
      jobId: 'extract',
      attempt: 3,
      errorCode: 'RATE_LIMITED',
      attempts: 3,
    });
  });
});

describe('attemptFailed: an attempt whose invocation ended without recording its end', () => {
  /** Starts attempt `n` with a handler that never returns (its invocation is then killed); answers once it is running. */
  async function hangingAttempt(h: Harness, manifest: PipelineManifest, n: number): Promise<void> {
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    void runAttempt(
      manifest,
      runPayload('extract', n),
      use(() => {
        started();
        return new Promise<never>(() => {});
      }),
      h.deps(),
    );
    await running;
  }

  it('closes an attempt left RUNNING by a timeout FAILED with EXEC_002_TIMEOUT, transient, and retries it', async () => {
    // GIVEN attempt 1 started at T0 and its invocation timed out
    const h = harness();
    await hangingAttempt(h, single(), 1);
    expect((await onlyAttempt(h.store)).status).toBe(JobStatus.RUNNING);

    // WHEN Step Functions hands on States.Timeout at T2
    const decision = await attemptFailed(single(), failedPayload('extract', 1, TIMEOUT), h.deps({ instants: [T2] }));

    // THEN the attempt is closed FAILED, and the job retried
    expect(decision).toStrictEqual({ retry: true, again: false, delaySeconds: 60, attempt: 2, infraTries: 0 });
    expect(await onlyAttempt(h.store)).toStrictEqual({
      ...runningRecord(1),
      status: JobStatus.FAILED,
      completedAt: T2,
      durationMs: Date.parse(T2) - Date.parse(T0),
      transitions: [
        { status: JobStatus.RUNNING, at: T0 },
        { status: JobStatus.FAILED, at: T2 },
      ],
      errorCode: ExecErrorCode.TIMEOUT,
      errorMessage: 'the attempt timed out (States.Timeout)',
      errorCategory: ErrorCategory.TRANSIENT,
      willRetry: true,
    } satisfies JobAttemptRecord);
    expect(h.letters).toEqual([]);
  });

  it('closes a timed-out last attempt with willRetry false and fails the job with EXEC_002_TIMEOUT', async () => {
    const h = harness();
    await hangingAttempt(h, single(), 3);
    const decision = await attemptFailed(single(), failedPayload('extract', 3, TIMEOUT), h.deps({ instants: [T2] }));
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 3, infraTries: 0 });
    expect(await onlyAttempt(h.store)).toMatchObject({ status: JobStatus.FAILED, errorCode: ExecErrorCode.TIMEOUT, willRetry: false });
    expect(h.letters).toEqual([expect.objectContaining({ errorCode: ExecErrorCode.TIMEOUT, attempts: 3, parameters: EXTRACT_PARAMETERS })]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.FAILED, errorCode: ExecErrorCode.TIMEOUT });
  });

  it('recognises Lambda’s own timeout inside a Runtime error as EXEC_002_TIMEOUT', async () => {
    const h = harness();
    await hangingAttempt(h, single(), 1);
    const caught: CaughtError = { Error: 'Sandbox.Timedout', Cause: '{"errorMessage":"RequestId: 1 Error: Task timed out after 300.00 seconds"}' };
    await attemptFailed(single(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));
    expect(await onlyAttempt(h.store)).toMatchObject({ errorCode: ExecErrorCode.TIMEOUT, errorCategory: ErrorCategory.TRANSIENT });
  });

  it('gives an attempt that has no record (the invocation itself failed) a FAILED record, and decides on what was caught', async () => {
    // GIVEN attempt 2 never reached the runtime
    const h = harness();
    const caught: CaughtError = { Error: 'Lambda.Unknown', Cause: 'The function returned an unknown error' };

    // WHEN its failure is handled at T2
    const decision = await attemptFailed(single(), failedPayload('extract', 2, caught, { parameters: { dryRun: true } }), h.deps({ instants: [T2] }));

    // THEN it is retried, and the attempt is recorded FAILED with the caught error
    expect(decision).toStrictEqual({ retry: true, again: false, delaySeconds: 120, attempt: 3, infraTries: 0 });
    expect(await h.store.listAttempts(RUN_ID)).toStrictEqual([
      {
        ...runningRecord(2, T2, { ...EXTRACT_PARAMETERS, dryRun: true }),
        status: JobStatus.FAILED,
        completedAt: T2,
        durationMs: 0,
        transitions: [
          { status: JobStatus.RUNNING, at: T2 },
          { status: JobStatus.FAILED, at: T2 },
        ],
        errorCode: ExecErrorCode.TASK_FAILED,
        errorMessage: 'Lambda.Unknown: The function returned an unknown error',
        errorCategory: ErrorCategory.TRANSIENT,
        willRetry: true,
      } satisfies JobAttemptRecord,
    ]);
  });

  it('reads the ErrorInfo of a PhiTaskError from what was caught, under whatever name it arrived', async () => {
    const h = harness();
    const info: ErrorInfo = { code: 'BAD_INPUT', message: 'no data', category: ErrorCategory.PERMANENT };
    const caught: CaughtError = { Error: 'Runtime.HandlerError', Cause: JSON.stringify({ errorType: 'Runtime.HandlerError', errorMessage: JSON.stringify(info) }) };
    const decision = await attemptFailed(single(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 });
    expect(await attempt(h.store, 'extract', 1)).toMatchObject({ status: JobStatus.FAILED, errorCode: 'BAD_INPUT', errorCategory: ErrorCategory.PERMANENT, willRetry: false });
    expect(h.letters).toEqual([expect.objectContaining({ errorCode: 'BAD_INPUT', errorMessage: 'no data', parameters: EXTRACT_PARAMETERS })]);
  });

  it('leaves an attempt that recorded its own end as it was', async () => {
    const h = harness();
    await taskError(runAttempt(single(), runPayload(), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    const before = await onlyAttempt(h.store);
    await attemptFailed(single(), failedPayload('extract', 1, TIMEOUT), h.deps({ instants: [T2] }));
    expect(await onlyAttempt(h.store)).toStrictEqual(before);
    expect(h.store.writes.filter((w) => w.op === 'closeAttempt' || w.op === 'startAttempt')).toHaveLength(1);
  });

  it('throws a permanent EXEC_004_TASK_FAILED for a job the manifest does not hold', async () => {
    const h = harness();
    const err = await taskError(attemptFailed(single(), failedPayload('transfrom', 1, TIMEOUT), h.deps()));
    expect(err.info).toMatchObject({ code: ExecErrorCode.TASK_FAILED, category: ErrorCategory.PERMANENT });
    expect(h.store.writes).toEqual([]);
  });
});

describe('a woken job’s reads before it starts', () => {
  it('reads once when its upstreams succeeded at their first attempt: their attempts come with its own context', async () => {
    const h = harness();
    const manifest = pipeline({ extract: {}, lookup: {}, load: { upstream: ['extract', 'lookup'] } });
    await runAttempt(manifest, runPayload('extract'), use(() => ({ rows: 7 })), h.deps());
    await runAttempt(manifest, runPayload('lookup'), use(() => ({ region: 'eu' })), h.deps());
    const context = vi.spyOn(h.store, 'readAttemptContext');
    const attempts = vi.spyOn(h.store, 'getAttempts');

    const { loaded, seen } = capturing();
    await runAttempt(manifest, runPayload('load'), loaded, h.deps());

    expect(seen().upstream).toStrictEqual({ extract: { rows: 7 }, lookup: { region: 'eu' } });
    expect(context).toHaveBeenCalledTimes(1);
    expect(attempts).not.toHaveBeenCalled();
  });
});

describe('a job through retries, end to end', () => {
  it('fails, is retried, succeeds on attempt 2, and hands attempt 2’s outputs to its dependent', async () => {
    const h = harness();
    const manifest = pipeline({ extract: {}, load: { upstream: ['extract'] } });
    h.store.registerToken(RUN_ID, 'load', 'tok-load');

    const thrown = await taskError(runAttempt(manifest, runPayload('extract', 1), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    const decision = await attemptFailed(manifest, failedPayload('extract', 1, lambdaCaught(thrown)), h.deps());
    expect(decision).toStrictEqual({ retry: true, again: false, delaySeconds: 60, attempt: 2, infraTries: 0 });
    expect(h.tokens).toEqual([]);

    await expect(runAttempt(manifest, runPayload('extract', decision.attempt), use(() => ({ rows: 42 })), h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 2 });
    expect(h.tokens).toEqual(['tok-load']);
    expect((await h.store.listAttempts(RUN_ID, 'extract')).map((a) => [a.attempt, a.status, a.willRetry])).toEqual([
      [1, JobStatus.FAILED, true],
      [2, JobStatus.SUCCEEDED, undefined],
    ]);

    const { loaded, seen } = capturing();
    await runAttempt(manifest, runPayload('load'), loaded, h.deps());
    expect(seen().upstream).toStrictEqual({ extract: { rows: 42 } });
  });
});

// ---------------------------------------------------------------------------------------------------
// Interrupted ends: the function died after recording the attempt's success
// ---------------------------------------------------------------------------------------------------

/** A store whose next call of `method` fails as a throttled DynamoDB call would. */
class FlakyStore extends MemoryRecordStore {
  failNext: 'endJob' | 'claimReady' | undefined;

  private fail(method: string): void {
    if (this.failNext !== method) return;
    this.failNext = undefined;
    throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
  }

  override async endJob(runId: string, jobId: string, end: JobEnd, released?: boolean): Promise<boolean> {
    this.fail('endJob');
    return super.endJob(runId, jobId, end, released);
  }

  /** The release's one write for a dependent with one upstream: its end recorded and its claim. */
  override async claimReady(runId: string, jobId: string, by: string, ended?: { outcome: UpstreamOutcome; at: string }): Promise<{ claimed: boolean; token?: string }> {
    this.fail('claimReady');
    return super.claimReady(runId, jobId, by, ended);
  }
}

describe('an interrupted end: the function failed after recording its attempt’s success', () => {
  const manifest = (maxAttempts = 1): PipelineManifest => pipeline({ extract: { retry: { maxAttempts } }, load: { upstream: ['extract'] } });

  /**
   * Attempt 1 of extract succeeds, then the function fails (as `store.failNext` says): an infrastructure
   * failure carrying the attempt's end, so that its handler never runs again. Answers what Step Functions caught.
   */
  async function interrupted(h: Harness, maxAttempts = 1): Promise<CaughtError> {
    const err = await rejection(runAttempt(manifest(maxAttempts), runPayload(), use(() => ({ rows: 1 })), h.deps()));
    expect(err).toBeInstanceOf(PhiTaskError);
    expect((err as PhiTaskError).info).toMatchObject({ code: 'INFRA_001_STORE_UNAVAILABLE', category: 'INFRASTRUCTURE', pending: { result: { status: JobStatus.SUCCEEDED, outputs: { rows: 1 } } } });
    return lambdaCaught(err);
  }

  it.each([1, 3])('ends the job SUCCEEDED when its failure is handled (maxAttempts %i): no retry, no dead letter, dependents released SUCCEEDED', async (maxAttempts) => {
    // GIVEN the attempt's success was recorded, but recording the job's end failed
    const store = new FlakyStore();
    store.failNext = 'endJob';
    const h = harness(store);
    store.registerToken(RUN_ID, 'load', 'tok-load');
    const caught = await interrupted(h, maxAttempts);
    expect((await onlyAttempt(store)).status).toBe(JobStatus.SUCCEEDED);
    expect(await store.getJobState(RUN_ID, 'extract')).toBeUndefined();

    // WHEN the state machine hands the failure on
    const decision = await attemptFailed(manifest(maxAttempts), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));

    // THEN the job ends as its attempt did, and nothing is retried or dead-lettered
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 });
    expect(h.letters).toEqual([]);
    expect(await store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect((await onlyAttempt(store)).status).toBe(JobStatus.SUCCEEDED);
    expect((await store.getJobState(RUN_ID, 'load'))?.upstream).toStrictEqual({ extract: { status: JobStatus.SUCCEEDED, attempt: 1 } });
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('releases the dependents a failed release left waiting when the failure is handled', async () => {
    // GIVEN the job's end was recorded but releasing load failed
    const store = new FlakyStore();
    store.failNext = 'claimReady';
    const h = harness(store);
    store.registerToken(RUN_ID, 'load', 'tok-load');
    const caught = await interrupted(h);
    expect(await store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.SUCCEEDED });
    expect(h.tokens).toEqual([]);

    // WHEN the failure is handled
    const decision = await attemptFailed(manifest(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));

    // THEN load is released and woken, and the job stays SUCCEEDED
    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 });
    expect(h.tokens).toEqual(['tok-load']);
    expect((await store.getJobState(RUN_ID, 'load'))?.upstream).toStrictEqual({ extract: { status: JobStatus.SUCCEEDED, attempt: 1 } });
    expect(h.letters).toEqual([]);
  });

  it('completes the release on a repeated `run` too, without running the handler again', async () => {
    const store = new FlakyStore();
    store.failNext = 'claimReady';
    const h = harness(store);
    store.registerToken(RUN_ID, 'load', 'tok-load');
    await interrupted(h);

    const { loaded, calls } = counting();
    await expect(runAttempt(manifest(), runPayload(), loaded, h.deps())).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(calls()).toBe(0);
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('sends the token again when the first send failed after the dependent was claimed ready, and no more once the dependent started', async () => {
    // GIVEN load is waiting, and the token send fails once
    const h = harness();
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    h.failTokenSends = 1;
    const caught = await interrupted(h);
    expect(await h.store.getJobState(RUN_ID, 'load')).toMatchObject({ ready: true, token: 'tok-load' });
    expect(h.tokens).toEqual([]);

    // WHEN the failure is handled
    await attemptFailed(manifest(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));
    // THEN the token went through
    expect(h.tokens).toEqual(['tok-load']);

    // AND once load has started, handling the failure again sends it no more
    await runAttempt(manifest(), runPayload('load'), use(() => ({})), h.deps());
    await attemptFailed(manifest(), failedPayload('extract', 1, caught), h.deps({ instants: [T2] }));
    expect(h.tokens).toEqual(['tok-load']);
  });

  it('lets only the upstream that completed a dependent’s set send its token again', async () => {
    // GIVEN load waits on extract and lookup; lookup ended first, extract completed the set but its send failed
    const h = harness();
    const diamond = pipeline({ extract: {}, lookup: {}, load: { upstream: ['extract', 'lookup'] } });
    h.store.registerToken(RUN_ID, 'load', 'tok-load');
    await runAttempt(diamond, runPayload('lookup'), use(() => ({ currency: 'EUR' })), h.deps());
    h.failTokenSends = 1;
    await rejection(runAttempt(diamond, runPayload('extract'), use(() => ({ rows: 1 })), h.deps()));

    // WHEN lookup's `run` is delivered again
    await runAttempt(diamond, runPayload('lookup'), use(() => ({ currency: 'EUR' })), h.deps());
    // THEN it does not send load's token: it did not complete the set
    expect(h.tokens).toEqual([]);

    // WHEN extract's is
    await runAttempt(diamond, runPayload('extract'), use(() => ({ rows: 1 })), h.deps());
    // THEN the token is sent
    expect(h.tokens).toEqual(['tok-load']);
  });
});

// ---------------------------------------------------------------------------------------------------
// Phi's own storage failing (issue: records that never lie): never one of the job's attempts, never a
// handler that succeeded run again
// ---------------------------------------------------------------------------------------------------

/** A store whose listed methods fail (as DynamoDB does when throttled past the SDK's retries) while it is down. */
class DownStore extends MemoryRecordStore {
  down = new Set<string>();

  private check(method: string): void {
    if (this.down.has(method)) throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
  }

  override async getJobState(runId: string, jobId: string): Promise<JobStateRecord | undefined> {
    this.check('getJobState');
    return super.getJobState(runId, jobId);
  }

  override async finishAttempt(record: JobAttemptRecord): Promise<void> {
    this.check('finishAttempt');
    return super.finishAttempt(record);
  }

  override async getAttempts(keys: readonly { runId: string; jobId: string; attempt: number }[]): Promise<JobAttemptRecord[]> {
    this.check('getAttempts');
    return super.getAttempts(keys);
  }
}

describe('Phi’s storage failing', () => {
  it('after a handler that succeeded: the attempt’s end goes back with the error, is recorded when the store answers, and the handler runs once', async () => {
    const store = new DownStore();
    const h = harness(store);
    const { loaded, calls } = counting({ rows: 7 });
    store.down.add('finishAttempt');

    const err = await taskError(runAttempt(single({ retry: { maxAttempts: 1 } }), runPayload(), loaded, h.deps()));
    expect(err.info).toMatchObject({ code: ExecErrorCode.INFRA_UNAVAILABLE, category: ErrorCategory.INFRASTRUCTURE, pending: { startedAt: T0, completedAt: T1, result: { status: JobStatus.SUCCEEDED, outputs: { rows: 7 }, outputChecksum: checksum({ rows: 7 }) } } });
    expect((await onlyAttempt(store)).status).toBe(JobStatus.RUNNING);

    store.down.clear();
    const decision = await attemptFailed(single({ retry: { maxAttempts: 1 } }), failedPayload('extract', 1, lambdaCaught(err)), h.deps({ instants: [T2] }));

    expect(decision).toStrictEqual({ retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 });
    expect(await onlyAttempt(store)).toMatchObject({ status: JobStatus.SUCCEEDED, outputs: { rows: 7 }, startedAt: T0, completedAt: T1 });
    expect(await store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(h.letters).toEqual([]);
    expect(calls()).toBe(1);
  });

  it('before the handler ran: the same attempt runs again after a delay, costing none of the job’s attempts', async () => {
    const store = new DownStore();
    const h = harness(store);
    const { loaded, calls } = counting();
    store.down.add('getJobState');
    const err = await taskError(runAttempt(single({ retry: { maxAttempts: 1 } }), runPayload(), loaded, h.deps()));
    expect(err.info).toStrictEqual({ code: ExecErrorCode.INFRA_UNAVAILABLE, message: expect.stringContaining('Rate of requests'), category: ErrorCategory.INFRASTRUCTURE });
    expect(calls()).toBe(0);

    store.down.clear();
    const decision = await attemptFailed(single({ retry: { maxAttempts: 1 } }), { ...failedPayload('extract', 1, lambdaCaught(err)), infraTries: 2 }, h.deps());
    expect(decision).toStrictEqual({ retry: true, again: false, delaySeconds: 8, attempt: 1, infraTries: 3 });
    expect(await store.listAttempts(RUN_ID)).toEqual([]);
    await runAttempt(single({ retry: { maxAttempts: 1 } }), runPayload('extract', 1), loaded, h.deps());
    expect(calls()).toBe(1);
    expect((await onlyAttempt(store)).status).toBe(JobStatus.SUCCEEDED);
  });

  it('while deciding: the same failure is handed back later, a bounded number of times, then the step fails for the recorder to close the job', async () => {
    const store = new DownStore();
    const h = harness(store);
    const caught: CaughtError = { Error: 'States.Timeout', Cause: 'timed out' };
    store.down.add('getJobState');
    const decision = await attemptFailed(single(), { ...failedPayload('extract', 1, caught), infraTries: 0 }, h.deps());
    expect(decision).toStrictEqual({ retry: false, again: true, delaySeconds: 2, attempt: 1, infraTries: 1 });
    await expect(attemptFailed(single(), { ...failedPayload('extract', 1, caught), infraTries: MAX_INFRA_TRIES }, h.deps())).rejects.toThrow('Rate of requests');
  });

  it('a handler’s failure that could not be recorded is recorded, then decided, as it was', async () => {
    const store = new DownStore();
    const h = harness(store);
    store.down.add('finishAttempt');
    const err = await taskError(runAttempt(single(), runPayload(), throwing(new TransientError('RATE_LIMITED', 'slow down')), h.deps()));
    expect(err.info.pending?.result).toStrictEqual({ status: JobStatus.FAILED, error: { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT } });

    store.down.clear();
    const decision = await attemptFailed(single(), failedPayload('extract', 1, lambdaCaught(err)), h.deps({ instants: [T2] }));
    expect(decision).toStrictEqual({ retry: true, again: false, delaySeconds: 60, attempt: 2, infraTries: 0 });
    expect(await onlyAttempt(store)).toMatchObject({ status: JobStatus.FAILED, errorCode: 'RATE_LIMITED', errorCategory: ErrorCategory.TRANSIENT, willRetry: true, completedAt: T1 });
  });

  it('never turns an ended attempt back to RUNNING, nor runs its handler again, when the same attempt is delivered again', async () => {
    const h = harness();
    await taskError(runAttempt(single(), runPayload(), throwing(new PermanentError('BAD_INPUT', 'no')), h.deps()));
    const { loaded, calls } = counting();
    const again = await taskError(runAttempt(single(), runPayload(), loaded, h.deps()));
    expect(again.info).toStrictEqual({ code: 'BAD_INPUT', message: 'no', category: ErrorCategory.PERMANENT });
    expect(calls()).toBe(0);
    expect((await onlyAttempt(h.store)).status).toBe(JobStatus.FAILED);
  });
});

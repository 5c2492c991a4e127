/**
 * The recorder's core (`record`, `fromStatusChange`) against the in-memory record store, a capturing
 * dead-letter sender and a capturing `sendToken`. The state a run's jobs leave (attempts, job ends,
 * upstream outcomes, task tokens at the gate) is written with the store's own methods, as the jobs'
 * functions and the state machine's gate write it; the recorder then only starts runs, abandons jobs
 * and finishes runs.
 */
import { describe, expect, it } from 'vitest';
import {
  DeadLetterMessageSchema,
  ErrorCategory,
  ExecErrorCode,
  JobStatus,
  RecorderEventSchema,
  RUN_START_FAILED,
  RunStatus,
  SkipReason,
  TASK_ERROR_NAME,
  type CaughtError,
  type DeadLetterMessage,
  type ErrorInfo,
  type JobAttemptRecord,
  type JobStateRecord,
  type RecorderEvent,
  type RunInput,
  type RunRecord,
} from '../../lib/model/contract/index.ts';
import { fromStatusChange, record, type RecorderDeps } from '../../functions/control/recorder.ts';
import { PhiTaskError } from '../../functions/runtime/core.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'daily-sales';
const RUN_ID = 'k-0123456789abcdef0123456789abcdef';
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${RUN_ID}`;
const QUEUED = '2024-05-01T09:59:59.000Z';
const STARTED = '2024-05-01T10:00:00.000Z';
const FINISHED = '2024-05-01T10:05:00.000Z';
/** An instant of the run's day, `hh:mm:ss`. */
const at = (time: string): string => `2024-05-01T${time}.000Z`;

/** The parameters a job's function merges for its attempts (the job's own, then the run's). */
const ATTEMPT_PARAMETERS = { region: 'eu-west-1', date: '2024-04-30' };

const runInput = (overrides: Partial<RunInput> = {}): RunInput => ({
  runId: RUN_ID,
  pipelineId: PIPELINE,
  trigger: 'API',
  parameters: { date: '2024-04-30' },
  ...overrides,
});

/** A recorder event as the Lambda entry sees it: parsed by the contract's schema. */
const event = (e: unknown): RecorderEvent => RecorderEventSchema.parse(e);

interface Harness {
  store: MemoryRecordStore;
  /** The dead letters that were sent. */
  sent: DeadLetterMessage[];
  /** Every dead-letter send attempted, failed ones included. */
  sendCalls: number;
  /** How many coming dead-letter sends fail (SQS throttling, an outage) without sending. */
  failSends: number;
  /** The task tokens that were sent (the Map iterations woken). */
  tokens: string[];
  /** Every token send attempted, failed ones included. */
  tokenCalls: number;
  /** How many coming token sends fail (Step Functions throttling) without sending. */
  failTokens: number;
  lines: ReturnType<typeof captureLogs>['lines'];
  deps: (now: string) => RecorderDeps;
}

function harness(): Harness {
  const store = new MemoryRecordStore();
  const { log, lines } = captureLogs({ component: 'recorder' });
  const h: Harness = {
    store,
    sent: [],
    sendCalls: 0,
    failSends: 0,
    tokens: [],
    tokenCalls: 0,
    failTokens: 0,
    lines,
    deps: (now) => ({
      store,
      log,
      jobLists: JOB_LISTS,
      now: clock(now),
      sendDeadLetter: async (message) => {
        h.sendCalls++;
        if (h.failSends > 0) {
          h.failSends--;
          throw Object.assign(new Error('SQS is unavailable'), { name: 'ServiceUnavailable' });
        }
        h.sent.push(structuredClone(message));
      },
      sendToken: async (token) => {
        h.tokenCalls++;
        if (h.failTokens > 0) {
          h.failTokens--;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        h.tokens.push(token);
      },
    }),
  };
  return h;
}

type Graph = Record<string, string[]>;

/** The default pipeline: extract → load. */
const GRAPH: Graph = { extract: [], load: ['extract'] };

/** The job lists the deploys wrote (content-addressed: every harness may share them). */
const JOB_LISTS = new MemoryJobLists();

const runStarted = (graph: Graph = GRAPH, extra: Record<string, unknown> = {}): RecorderEvent =>
  event({ action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-1', jobList: JOB_LISTS.put(graph), ...extra });

/** A run the trigger queued and the state machine's first step started, with the pipeline's job graph. */
async function startedRun(h: Harness, graph: Graph = GRAPH, input: RunInput = runInput()): Promise<void> {
  await h.store.createRun({ runId: input.runId, pipelineId: input.pipelineId, trigger: input.trigger, parameters: input.parameters, queuedAt: QUEUED });
  await record(runStarted(graph, { run: input }), h.deps(STARTED));
}

/** The run's last step (`caught` absent), or the step after the jobs' Map failed (`caught`). */
const runFinished = (extra: Record<string, unknown> = {}): RecorderEvent => event({ action: 'runFinished', run: runInput(), executionArn: EXECUTION_ARN, ...extra });

/** The iteration's "Abandon job" step: the job's function could not close the job. */
const jobAbandoned = (jobId: string, caught: CaughtError, extra: Record<string, unknown> = {}): RecorderEvent =>
  event({ action: 'jobAbandoned', run: runInput(), jobId, attempt: 1, executionArn: EXECUTION_ARN, caught, ...extra });

/** What Step Functions' Catch hands on for a Lambda function error: `{ Error, Cause }`, Cause being Lambda's error JSON. */
const caughtLambdaError = (errorName: string, err: { name: string; message: string }): CaughtError => ({
  Error: errorName,
  Cause: JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: [] }),
});

/** The message the recorder gives an abandoned job: what the caught error says. */
const abandonedMessage = (code: string, message: string): string => `the job's function could not close it: ${code}: ${message}`;

/** An attempt as its job's function starts it: RUNNING. */
async function startAttempt(h: Harness, jobId: string, attempt: number, startedAt: string, released = false): Promise<JobAttemptRecord> {
  const started: JobAttemptRecord = {
    runId: RUN_ID,
    pipelineId: PIPELINE,
    jobId,
    attempt,
    status: JobStatus.RUNNING,
    definitionVersion: 'def-1',
    parameters: ATTEMPT_PARAMETERS,
    startedAt,
    transitions: [{ status: JobStatus.RUNNING, at: startedAt }],
  };
  await h.store.startAttempt(started, released);
  return started;
}

/** An attempt its job's function ran to success. */
async function succeededAttempt(h: Harness, jobId: string, attempt: number, [startedAt, completedAt]: [string, string]): Promise<void> {
  const started = await startAttempt(h, jobId, attempt, startedAt);
  await h.store.finishAttempt({
    ...started,
    status: JobStatus.SUCCEEDED,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(startedAt),
    transitions: [...started.transitions, { status: JobStatus.SUCCEEDED, at: completedAt }],
    outputs: { rows: 1 },
  });
}

/** An attempt that failed, as its job's function records it (with whether it will be retried). */
async function failedAttempt(h: Harness, jobId: string, attempt: number, [startedAt, completedAt]: [string, string], error: ErrorInfo, willRetry: boolean): Promise<void> {
  const started = await startAttempt(h, jobId, attempt, startedAt);
  await h.store.finishAttempt({
    ...started,
    status: JobStatus.FAILED,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(startedAt),
    transitions: [...started.transitions, { status: JobStatus.FAILED, at: completedAt }],
    errorCode: error.code,
    errorMessage: error.message,
    errorCategory: error.category,
    willRetry,
  });
}

/** A job its function ran to success on its last attempt (the earlier ones failed and were retried). */
async function jobSucceeded(h: Harness, jobId: string, opts: { attempts?: number; at?: [string, string] } = {}): Promise<void> {
  const attempts = opts.attempts ?? 1;
  const [start, end] = opts.at ?? [at('10:00:01'), at('10:01:00')];
  for (let n = 1; n < attempts; n++) await failedAttempt(h, jobId, n, [start, start], { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }, true);
  await succeededAttempt(h, jobId, attempts, [start, end]);
  await h.store.endJob(RUN_ID, jobId, { status: JobStatus.SUCCEEDED, at: end, attempt: attempts });
}

/** A job its function failed for good: its last attempt FAILED (no retry) and its end. */
async function jobFailed(h: Harness, jobId: string, error: ErrorInfo, opts: { at?: [string, string] } = {}): Promise<void> {
  const [start, end] = opts.at ?? [at('10:00:01'), at('10:01:00')];
  await failedAttempt(h, jobId, 1, [start, end], error, false);
  await h.store.endJob(RUN_ID, jobId, { status: JobStatus.FAILED, at: end, attempt: 1, errorCode: error.code });
}

/** A job its function skipped (its dependencies said so): no attempt, an end with its reason. */
async function jobSkipped(h: Harness, jobId: string, reason: SkipReason, when: string = at('10:01:00')): Promise<void> {
  await h.store.endJob(RUN_ID, jobId, { status: JobStatus.SKIPPED, at: when, attempt: 0, reason });
}

const badInput: ErrorInfo = { code: 'BAD_INPUT', message: 'no data for 2024-04-30', category: ErrorCategory.PERMANENT };

describe('record: runStarted', () => {
  it('marks a PENDING run RUNNING with its execution, definition version and job graph, and answers the run input', async () => {
    const h = harness();
    await h.store.createRun({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', parameters: { date: '2024-04-30' }, queuedAt: QUEUED });

    const answer = await record(runStarted(), h.deps(STARTED));

    expect(answer).toEqual(runInput());
    expect(await h.store.getRun(RUN_ID)).toEqual({
      runId: RUN_ID,
      pipelineId: PIPELINE,
      status: RunStatus.RUNNING,
      trigger: 'API',
      parameters: { date: '2024-04-30' },
      queuedAt: QUEUED,
      startedAt: STARTED,
      executionArn: EXECUTION_ARN,
      definitionVersion: 'def-1',
      jobList: JOB_LISTS.put(GRAPH),
      transitions: [
        { status: RunStatus.PENDING, at: QUEUED },
        { status: RunStatus.RUNNING, at: STARTED },
      ],
    } satisfies RunRecord);
  });

  it('answers the validated input with default parameters, the state the machine carries on with', async () => {
    const h = harness();
    const answer = await record(runStarted(GRAPH, { run: { runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL' } }), h.deps(STARTED));
    expect(answer).toEqual({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL', parameters: {} });
  });

  it('creates the record RUNNING for a run started without the trigger (no record yet)', async () => {
    const h = harness();
    await record(runStarted(GRAPH, { run: runInput({ trigger: 'MANUAL', scheduledTime: '2024-05-01T10:00:00Z' }) }), h.deps(STARTED));
    expect(await h.store.getRun(RUN_ID)).toEqual({
      runId: RUN_ID,
      pipelineId: PIPELINE,
      status: RunStatus.RUNNING,
      trigger: 'MANUAL',
      scheduledTime: '2024-05-01T10:00:00Z',
      parameters: { date: '2024-04-30' },
      queuedAt: STARTED,
      startedAt: STARTED,
      executionArn: EXECUTION_ARN,
      definitionVersion: 'def-1',
      jobList: JOB_LISTS.put(GRAPH),
      transitions: [{ status: RunStatus.RUNNING, at: STARTED }],
    } satisfies RunRecord);
  });

  it('reopens a run whose first start failed (RUN_START_FAILED): RUNNING again, without the start error', async () => {
    const h = harness();
    await h.store.createRun({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', parameters: { date: '2024-04-30' }, queuedAt: QUEUED });
    await h.store.markRunStartFailed(RUN_ID, at('09:59:59'), 'StartExecution was throttled');
    expect((await h.store.requireRun(RUN_ID)).error?.code).toBe(RUN_START_FAILED);

    await record(runStarted(), h.deps(STARTED));

    const run = await h.store.requireRun(RUN_ID);
    expect(run).toMatchObject({ status: RunStatus.RUNNING, startedAt: STARTED, executionArn: EXECUTION_ARN, jobList: JOB_LISTS.put(GRAPH) });
    expect(run).not.toHaveProperty('error');
    expect(run).not.toHaveProperty('jobs');
    expect(run).not.toHaveProperty('completedAt');
    expect(run.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.FAILED, RunStatus.RUNNING]);
  });

  it('is a no-op when repeated: the run keeps one RUNNING transition, its first start time and its graph', async () => {
    const h = harness();
    await startedRun(h);
    const before = await h.store.requireRun(RUN_ID);

    const answer = await record(runStarted({ other: [] }, { definitionVersion: 'def-2' }), h.deps(at('10:00:09')));

    expect(answer).toEqual(runInput());
    expect(await h.store.requireRun(RUN_ID)).toEqual(before);
  });

  it('logs with the pipelineId, runId and action', async () => {
    const h = harness();
    await startedRun(h);
    expect(h.lines.find((l) => l.message === 'run started')).toMatchObject({
      level: 'INFO',
      component: 'recorder',
      pipelineId: PIPELINE,
      runId: RUN_ID,
      action: 'runStarted',
      executionArn: EXECUTION_ARN,
    });
  });
});

describe('RecorderEventSchema', () => {
  const valid = { action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-1', jobList: { bucket: 'cdk-assets', key: 'abc.json' } };

  it('accepts the three actions the state machine sends', () => {
    expect(RecorderEventSchema.safeParse(valid).success).toBe(true);
    expect(RecorderEventSchema.safeParse({ action: 'jobAbandoned', run: runInput(), jobId: 'extract', attempt: 2, executionArn: EXECUTION_ARN, caught: { Error: 'States.Timeout' } }).success).toBe(true);
    expect(RecorderEventSchema.safeParse({ action: 'runFinished', run: runInput(), executionArn: EXECUTION_ARN }).success).toBe(true);
    expect(RecorderEventSchema.safeParse({ action: 'runFinished', run: runInput(), executionArn: EXECUTION_ARN, caught: { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'x' } }).success).toBe(true);
  });

  it('refuses a runStarted event without where its job list is (the recorder reads the graph from it when the run ends)', () => {
    const { jobList: _jobList, ...withoutJobList } = valid;
    expect(RecorderEventSchema.safeParse(withoutJobList).success).toBe(false);
    expect(RecorderEventSchema.safeParse({ ...valid, jobList: { bucket: 'cdk-assets' } }).success).toBe(false);
    expect(RecorderEventSchema.safeParse({ ...valid, jobList: { bucket: '', key: 'abc.json' } }).success).toBe(false);
  });

  it('refuses a run input without its ids or with an unknown trigger', () => {
    expect(RecorderEventSchema.safeParse({ ...valid, run: { pipelineId: PIPELINE, trigger: 'API' } }).success).toBe(false);
    expect(RecorderEventSchema.safeParse({ ...valid, run: runInput({ runId: '' }) }).success).toBe(false);
    expect(RecorderEventSchema.safeParse({ ...valid, run: { ...runInput(), trigger: 'CRON' } }).success).toBe(false);
  });

  it('refuses a jobAbandoned event without its caught error or with an attempt below 1', () => {
    const abandoned = { action: 'jobAbandoned', run: runInput(), jobId: 'extract', attempt: 1, executionArn: EXECUTION_ARN, caught: { Error: 'States.Timeout' } };
    const { caught: _caught, ...withoutCaught } = abandoned;
    expect(RecorderEventSchema.safeParse(withoutCaught).success).toBe(false);
    expect(RecorderEventSchema.safeParse({ ...abandoned, attempt: 0 }).success).toBe(false);
    expect(RecorderEventSchema.safeParse({ ...abandoned, caught: { Cause: 'no name' } }).success).toBe(false);
  });

  it('refuses the old recorder’s jobFailed action', () => {
    expect(RecorderEventSchema.safeParse({ action: 'jobFailed', run: runInput(), jobId: 'extract', executionArn: EXECUTION_ARN, maxAttempts: 3, outcome: {} }).success).toBe(false);
  });
});

describe('record: runFinished', () => {
  it('keeps the run record within DynamoDB’s item size: a summary too large with codes keeps statuses and attempts, and says so', async () => {
    // 3,000 jobs with 30-character ids, each failed with a 64-character code: about 450 KB of summary with the codes
    const ids = Array.from({ length: 3_000 }, (_, i) => `job-${String(i).padStart(4, '0')}`.padEnd(30, 'x'));
    const code = 'E'.repeat(64);
    const h = harness();
    await startedRun(h, Object.fromEntries(ids.map((id) => [id, []])));
    for (const id of ids) await h.store.endJob(RUN_ID, id, { status: JobStatus.FAILED, at: at('10:01:00'), attempt: 1, errorCode: code });

    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.FAILED);
    expect(finished.jobsCompacted).toBe(true);
    expect(Object.keys(finished.jobs ?? {})).toHaveLength(3_000);
    expect(finished.jobs?.[ids[0]!]).toEqual({ status: JobStatus.FAILED, attempts: 1 });
    expect(Buffer.byteLength(JSON.stringify(finished))).toBeLessThan(400 * 1024);
    // the code is still on the job's own state, and in its dead letter
    expect((await h.store.getJobState(RUN_ID, ids[0]!))?.errorCode).toBe(code);
    expect(h.sent).toHaveLength(3_000);
  });

  it('keeps every code and reason in the summary when they fit', async () => {
    const h = harness();
    await startedRun(h);
    await jobFailed(h, 'extract', badInput);
    await jobSkipped(h, 'load', SkipReason.UPSTREAM_FAILED);
    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;
    expect(finished.jobsCompacted).toBeUndefined();
    expect(finished.jobs).toEqual({ extract: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' }, load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED } });
  });

  it('finishes a run SUCCEEDED when no job failed, with a per-job summary of each job’s end and latest attempt', async () => {
    const h = harness();
    await startedRun(h);
    await jobSucceeded(h, 'extract', { attempts: 2 });
    await jobSucceeded(h, 'load', { at: [at('10:02:00'), at('10:03:00')] });

    const answer = await record(runFinished(), h.deps(FINISHED));

    const expected: RunRecord = {
      runId: RUN_ID,
      pipelineId: PIPELINE,
      status: RunStatus.SUCCEEDED,
      trigger: 'API',
      parameters: { date: '2024-04-30' },
      queuedAt: QUEUED,
      startedAt: STARTED,
      completedAt: FINISHED,
      durationMs: 300_000,
      executionArn: EXECUTION_ARN,
      definitionVersion: 'def-1',
      jobList: JOB_LISTS.put(GRAPH),
      transitions: [
        { status: RunStatus.PENDING, at: QUEUED },
        { status: RunStatus.RUNNING, at: STARTED },
        { status: RunStatus.SUCCEEDED, at: FINISHED },
      ],
      jobs: {
        extract: { status: JobStatus.SUCCEEDED, attempts: 2 },
        load: { status: JobStatus.SUCCEEDED, attempts: 1 },
      },
    };
    expect(answer).toEqual(expected);
    expect(await h.store.getRun(RUN_ID)).toEqual(expected);
    expect(h.lines.find((l) => l.message === 'run finished')).toMatchObject({ level: 'INFO', pipelineId: PIPELINE, runId: RUN_ID, action: 'runFinished', status: RunStatus.SUCCEEDED });
  });

  it('still succeeds when jobs were skipped by their own conditions, summarising each with its reason', async () => {
    const h = harness();
    await startedRun(h, { extract: [], load: ['extract'], report: ['load'] });
    await jobSucceeded(h, 'extract');
    await jobSkipped(h, 'load', SkipReason.CONDITION_FALSE);
    await jobSkipped(h, 'report', SkipReason.UPSTREAM_SKIPPED);

    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.SUCCEEDED);
    expect(finished.jobs).toEqual({
      extract: { status: JobStatus.SUCCEEDED, attempts: 1 },
      load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.CONDITION_FALSE },
      report: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_SKIPPED },
    });
    expect(finished).not.toHaveProperty('error');
  });

  it('counts a job’s attempts from its latest attempt record, or from its end when it has no attempt record', async () => {
    const h = harness();
    await startedRun(h, { extract: [], load: [] });
    // extract ended on attempt 1, but a later attempt was recorded after its end (a late duplicate): the latest counts.
    await jobSucceeded(h, 'extract');
    await succeededAttempt(h, 'extract', 2, [at('10:02:00'), at('10:02:30')]);
    // load ended on attempt 2 without any attempt record.
    await h.store.endJob(RUN_ID, 'load', { status: JobStatus.SUCCEEDED, at: at('10:03:00'), attempt: 2 });

    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;

    expect(finished.jobs).toEqual({
      extract: { status: JobStatus.SUCCEEDED, attempts: 2 },
      load: { status: JobStatus.SUCCEEDED, attempts: 2 },
    });
  });

  it('finishes a run FAILED when a job failed: run.error names the first job to fail (by its end), its code and its last attempt’s message', async () => {
    const h = harness();
    // extract → orders, customers → load → report
    await startedRun(h, { extract: [], orders: ['extract'], customers: ['extract'], load: ['orders', 'customers'], report: ['load'] });
    await jobSucceeded(h, 'extract');
    // Two jobs fail side by side; "orders" (listed later) fails before "customers".
    await jobFailed(h, 'customers', { code: 'BAD_INPUT', message: 'no customers for 2024-04-30', category: ErrorCategory.PERMANENT }, { at: [at('10:01:00'), at('10:03:00')] });
    await jobFailed(h, 'orders', { code: 'SCHEMA_DRIFT', message: 'orders.csv has a new column', category: ErrorCategory.PERMANENT }, { at: [at('10:01:00'), at('10:02:00')] });
    // Their dependents' functions skipped them.
    await jobSkipped(h, 'load', SkipReason.UPSTREAM_FAILED, at('10:03:01'));
    await jobSkipped(h, 'report', SkipReason.UPSTREAM_FAILED, at('10:03:02'));

    const finished = await record(runFinished(), h.deps(FINISHED));

    const expected: RunRecord = {
      runId: RUN_ID,
      pipelineId: PIPELINE,
      status: RunStatus.FAILED,
      trigger: 'API',
      parameters: { date: '2024-04-30' },
      queuedAt: QUEUED,
      startedAt: STARTED,
      completedAt: FINISHED,
      durationMs: 300_000,
      executionArn: EXECUTION_ARN,
      definitionVersion: 'def-1',
      jobList: JOB_LISTS.put({ extract: [], orders: ['extract'], customers: ['extract'], load: ['orders', 'customers'], report: ['load'] }),
      transitions: [
        { status: RunStatus.PENDING, at: QUEUED },
        { status: RunStatus.RUNNING, at: STARTED },
        { status: RunStatus.FAILED, at: FINISHED },
      ],
      jobs: {
        extract: { status: JobStatus.SUCCEEDED, attempts: 1 },
        orders: { status: JobStatus.FAILED, attempts: 1, errorCode: 'SCHEMA_DRIFT' },
        customers: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' },
        load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
        report: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
      },
      error: { code: 'SCHEMA_DRIFT', message: 'orders.csv has a new column', jobId: 'orders' },
    };
    expect(finished).toEqual(expected);
    expect(await h.store.getRun(RUN_ID)).toEqual(expected);
    expect(h.lines.find((l) => l.message === 'run finished')).toMatchObject({ runId: RUN_ID, status: RunStatus.FAILED });
  });

  it('names the job’s last attempt’s message, not an earlier one', async () => {
    const h = harness();
    await startedRun(h, { extract: [] });
    await failedAttempt(h, 'extract', 1, [at('10:00:01'), at('10:00:02')], { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }, true);
    await failedAttempt(h, 'extract', 2, [at('10:01:00'), at('10:01:30')], { code: 'RATE_LIMITED', message: 'still too fast', category: ErrorCategory.TRANSIENT }, false);
    await h.store.endJob(RUN_ID, 'extract', { status: JobStatus.FAILED, at: at('10:01:30'), attempt: 2, errorCode: 'RATE_LIMITED' });

    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;

    expect(finished.jobs).toEqual({ extract: { status: JobStatus.FAILED, attempts: 2, errorCode: 'RATE_LIMITED' } });
    expect(finished.error).toEqual({ code: 'RATE_LIMITED', message: 'still too fast', jobId: 'extract' });
  });

  it('names a failed job’s error even when the jobs’ Map failed too (caught): the job’s failure is the run’s error', async () => {
    const h = harness();
    await startedRun(h);
    await jobFailed(h, 'extract', badInput);
    await jobSkipped(h, 'load', SkipReason.UPSTREAM_FAILED);

    const finished = (await record(runFinished({ caught: { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'the Map failed' } }), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.FAILED);
    expect(finished.error).toEqual({ code: 'BAD_INPUT', message: 'no data for 2024-04-30', jobId: 'extract' });
  });

  it('closes an attempt still RUNNING as the run ends CANCELLED (RUN_ENDED) and summarises its job CANCELLED; the failed job stays the run’s error', async () => {
    const h = harness();
    // orders and customers run side by side; customers fails while orders' second attempt still runs.
    await startedRun(h, { orders: [], customers: [], load: ['orders', 'customers'] });
    await failedAttempt(h, 'orders', 1, [at('10:00:01'), at('10:00:02')], { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }, true);
    const ordersSecond = await startAttempt(h, 'orders', 2, at('10:02:00'));
    await jobFailed(h, 'customers', { code: 'BAD_INPUT', message: 'no customers', category: ErrorCategory.PERMANENT });
    const [ordersFirst] = await h.store.listAttempts(RUN_ID, 'orders');

    const finished = (await record(runFinished({ caught: { Error: 'EXECUTION_ABORTED', Cause: 'stopped by an operator' } }), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.FAILED);
    expect(finished.jobs).toEqual({
      customers: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' },
      orders: { status: JobStatus.CANCELLED, attempts: 2, reason: SkipReason.RUN_ENDED },
      load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED },
    });
    // The cancelled job is not the run's error: the failed one is.
    expect(finished.error).toEqual({ code: 'BAD_INPUT', message: 'no customers', jobId: 'customers' });
    expect(await h.store.listAttempts(RUN_ID, 'orders')).toEqual([
      ordersFirst,
      {
        ...ordersSecond,
        status: JobStatus.CANCELLED,
        completedAt: FINISHED,
        durationMs: Date.parse(FINISHED) - Date.parse(at('10:02:00')),
        errorCode: SkipReason.RUN_ENDED,
        errorMessage: 'the run ended while this attempt ran',
        transitions: [
          { status: JobStatus.RUNNING, at: at('10:02:00') },
          { status: JobStatus.CANCELLED, at: FINISHED },
        ],
      } satisfies JobAttemptRecord,
    ]);
  });

  it('summarises a job stopped between two attempts (its latest FAILED, to be retried, no end) CANCELLED (RUN_ENDED), leaving that attempt as it was', async () => {
    const h = harness();
    await startedRun(h, { extract: [] });
    await failedAttempt(h, 'extract', 1, [at('10:00:01'), at('10:00:02')], { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }, true);
    const attempts = await h.store.listAttempts(RUN_ID);

    const finished = (await record(runFinished({ caught: { Error: 'EXECUTION_TIMED_OUT', Cause: 'the execution timed out' } }), h.deps(FINISHED))) as RunRecord;

    expect(finished.jobs).toEqual({ extract: { status: JobStatus.CANCELLED, attempts: 1, reason: SkipReason.RUN_ENDED } });
    // No job failed for good: the run's error is what ended it.
    expect(finished.error).toEqual({ code: 'EXECUTION_TIMED_OUT', message: 'the execution timed out' });
    expect(await h.store.listAttempts(RUN_ID)).toEqual(attempts);
  });

  it('fails a run that ends with a job never started, even with no failed job and nothing caught: the job is SKIPPED (RUN_ENDED)', async () => {
    const h = harness();
    await startedRun(h, { extract: [], load: ['extract'], report: [] });
    await jobSucceeded(h, 'extract');
    await jobSucceeded(h, 'report');

    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.FAILED);
    expect(finished.jobs).toEqual({
      extract: { status: JobStatus.SUCCEEDED, attempts: 1 },
      load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED },
      report: { status: JobStatus.SUCCEEDED, attempts: 1 },
    });
    expect(finished.error).toEqual({ code: ExecErrorCode.TASK_FAILED, message: 'the run ended before all of its jobs' });
  });

  it('fails a run whose jobs’ Map failed (caught) though every job succeeded, with the caught error as run.error', async () => {
    const h = harness();
    await startedRun(h);
    await jobSucceeded(h, 'extract');
    await jobSucceeded(h, 'load');

    const finished = (await record(runFinished({ caught: { Error: 'States.Runtime', Cause: 'an ASL path did not resolve' } }), h.deps(FINISHED))) as RunRecord;

    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      jobs: { extract: { status: JobStatus.SUCCEEDED, attempts: 1 }, load: { status: JobStatus.SUCCEEDED, attempts: 1 } },
      error: { code: 'States.Runtime', message: 'an ASL path did not resolve' },
    });
    expect(finished.error).not.toHaveProperty('jobId');
  });

  it('names the caught error without a Cause by its Error alone', async () => {
    const h = harness();
    await startedRun(h, { extract: [] });
    const finished = (await record(runFinished({ caught: { Error: 'States.Runtime' } }), h.deps(FINISHED))) as RunRecord;
    expect(finished.jobs).toEqual({ extract: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED } });
    expect(finished.error).toEqual({ code: 'States.Runtime', message: 'the run ended before all of its jobs' });
  });

  it('takes the jobs from the graph kept on the run record, not from the event or from records of other jobs', async () => {
    const h = harness();
    await startedRun(h);
    await jobSucceeded(h, 'extract');
    await jobSucceeded(h, 'load');
    // A job that is not in this run's graph (a stray record) is no part of its summary.
    await jobFailed(h, 'ghost', badInput);

    // An old event's jobIds and status are not the contract any more: they are dropped.
    const finished = (await record(runFinished({ jobIds: ['extract', 'load', 'ghost'], status: 'FAILED' }), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.SUCCEEDED);
    expect(finished.jobs).toEqual({ extract: { status: JobStatus.SUCCEEDED, attempts: 1 }, load: { status: JobStatus.SUCCEEDED, attempts: 1 } });
  });

  it('summarises the jobs that have attempts when the run record has no job list (a run whose start was never recorded)', async () => {
    const h = harness();
    await h.store.markRunRunning({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', parameters: {}, executionArn: EXECUTION_ARN, definitionVersion: 'def-0' }, STARTED);
    await jobSucceeded(h, 'load');
    await jobSucceeded(h, 'extract');
    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;
    expect(finished.jobList).toBeUndefined();
    expect(finished.status).toBe(RunStatus.SUCCEEDED);
    expect(finished.jobs).toEqual({ extract: { status: JobStatus.SUCCEEDED, attempts: 1 }, load: { status: JobStatus.SUCCEEDED, attempts: 1 } });
  });

  it('leaves a terminal run untouched: the first result stays, a later finish writes nothing and cancels nothing', async () => {
    const h = harness();
    await startedRun(h);
    await jobFailed(h, 'extract', badInput);
    await jobSkipped(h, 'load', SkipReason.UPSTREAM_FAILED);
    const first = await record(runFinished(), h.deps(FINISHED));
    // A late attempt (a redelivered invocation) starts after the run ended.
    await startAttempt(h, 'late', 1, at('10:08:00'));
    const writes = h.store.writes.length;

    const again = await record(runFinished(), h.deps(at('10:09:00')));
    const caught = await record(runFinished({ caught: { Error: 'EXECUTION_ABORTED', Cause: 'stopped' } }), h.deps(at('10:10:00')));
    const restarted = await record(runStarted(GRAPH, { definitionVersion: 'def-2' }), h.deps(at('10:11:00')));

    expect(restarted).toEqual(runInput());
    expect(again).toEqual(first);
    expect(caught).toEqual(first);
    expect(h.store.writes.length).toBe(writes);
    expect((await h.store.listAttempts(RUN_ID, 'late')).map((a) => a.status)).toEqual([JobStatus.RUNNING]);
    const stored = await h.store.requireRun(RUN_ID);
    expect(stored).toEqual(first);
    expect(stored).toMatchObject({ status: RunStatus.FAILED, completedAt: FINISHED, definitionVersion: 'def-1' });
    expect(stored.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED]);
  });

  it('keeps a SUCCEEDED result when EventBridge reports the execution later (its status change is a second finish)', async () => {
    const h = harness();
    await startedRun(h);
    await jobSucceeded(h, 'extract');
    await jobSucceeded(h, 'load');
    const first = await record(runFinished(), h.deps(FINISHED));

    const late = fromStatusChange({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: EXECUTION_ARN, status: 'FAILED', input: JSON.stringify(runInput()), error: 'States.Runtime', cause: 'after the last step' },
    });
    expect(late).toBeDefined();

    expect(await record(late as RecorderEvent, h.deps(at('10:06:00')))).toEqual(first);
    expect(await h.store.requireRun(RUN_ID)).toMatchObject({ status: RunStatus.SUCCEEDED, completedAt: FINISHED });
  });

  it('refuses to finish a run that has no record (REC_001_NOT_FOUND)', async () => {
    const h = harness();
    await expect(record(runFinished(), h.deps(FINISHED))).rejects.toMatchObject({ name: 'RecordError', code: 'REC_001_NOT_FOUND' });
  });
});

describe('record: jobAbandoned', () => {
  /** The run's graph: extract → load; extract, other → report. */
  const ABANDON_GRAPH: Graph = { extract: [], other: [], load: ['extract'], report: ['extract', 'other'] };

  it('fails the job in its function’s place: its RUNNING attempt closed FAILED (EXEC_006_ABANDONED), its end, one dead letter', async () => {
    const h = harness();
    await startedRun(h);
    await failedAttempt(h, 'extract', 1, [at('10:00:01'), at('10:00:02')], { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }, true);
    // Attempt 2 never finishes: Step Functions times the task out, and the function deciding on it fails too.
    const second = await startAttempt(h, 'extract', 2, at('10:01:00'));
    const [first] = await h.store.listAttempts(RUN_ID);

    const answer = await record(jobAbandoned('extract', { Error: 'States.Timeout', Cause: '' }, { attempt: 2 }), h.deps(FINISHED));

    expect(answer).toEqual({ jobId: 'extract', status: JobStatus.FAILED });
    const message = abandonedMessage(ExecErrorCode.TIMEOUT, 'the attempt timed out (States.Timeout)');
    expect(await h.store.listAttempts(RUN_ID, 'extract')).toEqual([
      first,
      {
        ...second,
        status: JobStatus.FAILED,
        completedAt: FINISHED,
        // The recorder knows when the attempt started, so the closed attempt has its duration.
        durationMs: Date.parse(FINISHED) - Date.parse(at('10:01:00')),
        transitions: [
          { status: JobStatus.RUNNING, at: at('10:01:00') },
          { status: JobStatus.FAILED, at: FINISHED },
        ],
        errorCode: ExecErrorCode.ABANDONED,
        errorMessage: message,
        errorCategory: ErrorCategory.TRANSIENT,
        willRetry: false,
      } satisfies JobAttemptRecord,
    ]);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toEqual({
      runId: RUN_ID,
      jobId: 'extract',
      upstream: {},
      ready: false,
      status: JobStatus.FAILED,
      completedAt: FINISHED,
      attempt: 2,
      errorCode: ExecErrorCode.ABANDONED,
    } satisfies JobStateRecord);
    expect(h.sent).toEqual([
      {
        kind: 'phi.job.failed',
        pipelineId: PIPELINE,
        runId: RUN_ID,
        jobId: 'extract',
        attempts: 2,
        errorCode: ExecErrorCode.ABANDONED,
        errorMessage: message,
        errorCategory: ErrorCategory.TRANSIENT,
        parameters: ATTEMPT_PARAMETERS,
        executionArn: EXECUTION_ARN,
        trigger: 'API',
        failedAt: FINISHED,
      } satisfies DeadLetterMessage,
    ]);
    expect(DeadLetterMessageSchema.safeParse(h.sent[0]).success).toBe(true);
    expect(h.store.deadLetterClaims(RUN_ID)).toEqual(['extract']);
  });

  it('sends exactly one dead letter when the step is delivered twice, and leaves the job’s first end', async () => {
    const h = harness();
    await startedRun(h);
    await startAttempt(h, 'extract', 1, at('10:01:00'));
    const abandoned = jobAbandoned('extract', { Error: 'States.Timeout' });

    await record(abandoned, h.deps(FINISHED));
    const attempts = await h.store.listAttempts(RUN_ID);
    const state = await h.store.getJobState(RUN_ID, 'extract');
    const again = await record(abandoned, h.deps(at('10:05:02')));

    expect(again).toEqual({ jobId: 'extract', status: JobStatus.FAILED });
    expect(h.sendCalls).toBe(1);
    expect(h.sent).toEqual([
      {
        kind: 'phi.job.failed',
        pipelineId: PIPELINE,
        runId: RUN_ID,
        jobId: 'extract',
        attempts: 1,
        errorCode: ExecErrorCode.ABANDONED,
        errorMessage: abandonedMessage(ExecErrorCode.TIMEOUT, 'the attempt timed out (States.Timeout)'),
        errorCategory: ErrorCategory.TRANSIENT,
        parameters: ATTEMPT_PARAMETERS,
        executionArn: EXECUTION_ARN,
        trigger: 'API',
        failedAt: FINISHED,
      } satisfies DeadLetterMessage,
    ]);
    expect(await h.store.listAttempts(RUN_ID)).toEqual(attempts);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toEqual(state);
    expect(h.lines.filter((l) => l.message === 'job abandoned')).toHaveLength(1);
  });

  it('names the caught error in the job’s message: the runtime’s ErrorInfo, read alike from AWS and from an emulator', async () => {
    const info: ErrorInfo = { code: 'RATE_LIMITED', message: 'the feed asked us to slow down', category: ErrorCategory.TRANSIENT };
    const thrown = new PhiTaskError(info);
    const messages: string[] = [];
    for (const errorName of [TASK_ERROR_NAME, 'Runtime.HandlerError']) {
      const h = harness();
      await startedRun(h);
      await record(jobAbandoned('extract', caughtLambdaError(errorName, thrown)), h.deps(FINISHED));
      expect(h.sent).toHaveLength(1);
      messages.push(h.sent[0]?.errorMessage ?? '');
    }
    expect(messages).toEqual([abandonedMessage('RATE_LIMITED', 'the feed asked us to slow down'), abandonedMessage('RATE_LIMITED', 'the feed asked us to slow down')]);
  });

  it.each([
    ['an unknown Lambda error', caughtLambdaError('Lambda.Unknown', { name: 'Unknown', message: 'the function crashed' }), abandonedMessage(ExecErrorCode.TASK_FAILED, 'Lambda.Unknown: the function crashed')],
    ['a runtime exit', { Error: 'Runtime.ExitError', Cause: 'RequestId: 1 Error: Runtime exited with error: signal: killed' }, abandonedMessage(ExecErrorCode.TASK_FAILED, 'Runtime.ExitError: RequestId: 1 Error: Runtime exited with error: signal: killed')],
    ['Lambda’s Sandbox.Timedout', { Error: 'Sandbox.Timedout', Cause: JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 3.00 seconds' }) }, abandonedMessage(ExecErrorCode.TIMEOUT, 'the attempt timed out (Sandbox.Timedout)')],
  ])('names %s in the job’s message, and closes a RUNNING attempt with it', async (_name, caught, message) => {
    const h = harness();
    await startedRun(h);
    await startAttempt(h, 'extract', 1, at('10:01:00'));

    await record(jobAbandoned('extract', caught), h.deps(FINISHED));

    expect(h.sent).toEqual([expect.objectContaining({ errorCode: ExecErrorCode.ABANDONED, errorMessage: message, attempts: 1 })]);
    expect(await h.store.listAttempts(RUN_ID)).toEqual([
      expect.objectContaining({ status: JobStatus.FAILED, errorCode: ExecErrorCode.ABANDONED, errorMessage: message, errorCategory: ErrorCategory.TRANSIENT, willRetry: false }),
    ]);
  });

  it('fails a job that never recorded an attempt (its gate failed) with the event’s attempt, the run’s parameters and its scheduled time', async () => {
    const h = harness();
    const run = runInput({ trigger: 'SCHEDULE', scheduledTime: '2024-05-01T10:00:00Z' });
    await startedRun(h, GRAPH, run);

    await record(jobAbandoned('load', { Error: 'DynamoDb.InternalServerErrorException', Cause: 'Internal server error' }, { run }), h.deps(FINISHED));

    expect(h.sent).toEqual([
      {
        kind: 'phi.job.failed',
        pipelineId: PIPELINE,
        runId: RUN_ID,
        jobId: 'load',
        attempts: 1,
        errorCode: ExecErrorCode.ABANDONED,
        errorMessage: abandonedMessage(ExecErrorCode.TASK_FAILED, 'DynamoDb.InternalServerErrorException: Internal server error'),
        errorCategory: ErrorCategory.TRANSIENT,
        parameters: { date: '2024-04-30' },
        executionArn: EXECUTION_ARN,
        trigger: 'SCHEDULE',
        scheduledTime: '2024-05-01T10:00:00Z',
        failedAt: FINISHED,
      } satisfies DeadLetterMessage,
    ]);
    // No attempt is made up for it.
    expect(await h.store.listAttempts(RUN_ID)).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'load')).toMatchObject({ status: JobStatus.FAILED, attempt: 1, errorCode: ExecErrorCode.ABANDONED, completedAt: FINISHED });
  });

  it('leaves an attempt its function already closed (FAILED, to be retried) as it was, and ends the job on that attempt', async () => {
    const h = harness();
    await startedRun(h);
    await failedAttempt(h, 'extract', 1, [at('10:00:01'), at('10:00:02')], { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }, true);
    const attempts = await h.store.listAttempts(RUN_ID);

    await record(jobAbandoned('extract', caughtLambdaError('Lambda.Unknown', { name: 'Error', message: 'the function crashed while deciding' })), h.deps(FINISHED));

    expect(await h.store.listAttempts(RUN_ID)).toEqual(attempts);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.FAILED, attempt: 1, errorCode: ExecErrorCode.ABANDONED });
    expect(h.sent).toEqual([expect.objectContaining({ jobId: 'extract', attempts: 1, errorCode: ExecErrorCode.ABANDONED, parameters: ATTEMPT_PARAMETERS })]);
  });

  it('closes only the abandoned job’s own RUNNING attempt, not that of another job (even one whose id begins the same)', async () => {
    const h = harness();
    await startedRun(h, { extract: [], 'extract-eu': [] });
    await startAttempt(h, 'extract-eu', 1, at('10:01:00'));
    await startAttempt(h, 'extract', 1, at('10:01:00'));

    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED));

    expect((await h.store.listAttempts(RUN_ID)).map((a) => [a.jobId, a.status])).toEqual([
      ['extract', JobStatus.FAILED],
      ['extract-eu', JobStatus.RUNNING],
    ]);
    expect(await h.store.getJobState(RUN_ID, 'extract-eu')).toBeUndefined();
    expect(h.sent).toEqual([expect.objectContaining({ jobId: 'extract', attempts: 1, errorCode: ExecErrorCode.ABANDONED })]);
  });

  it('leaves a job its function had ended FAILED as it ended: no second dead letter, its own error kept', async () => {
    const h = harness();
    await startedRun(h);
    // The job's function failed the job for good (and sent its dead letter), then could not answer.
    await jobFailed(h, 'extract', badInput);
    await h.store.claimDeadLetter(RUN_ID, 'extract', at('10:01:00'), 'the job function');
    await h.store.markDeadLetterSent(RUN_ID, 'extract', at('10:01:00'));
    const attempts = await h.store.listAttempts(RUN_ID);
    const state = await h.store.getJobState(RUN_ID, 'extract');

    await record(jobAbandoned('extract', caughtLambdaError('Lambda.Unknown', { name: 'Error', message: 'crashed' })), h.deps(FINISHED));

    expect(h.sendCalls).toBe(0);
    expect(await h.store.listAttempts(RUN_ID)).toEqual(attempts);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toEqual(state);
    expect(h.lines.find((l) => l.message === 'job abandoned')).toBeUndefined();
  });

  it('releases its dependents from the run’s graph: each whose upstreams have all ended is made ready and its waiting iteration woken, once', async () => {
    const h = harness();
    await startedRun(h, ABANDON_GRAPH);
    // load waits at its gate; report waits too, and its other upstream has ended already.
    expect(h.store.registerToken(RUN_ID, 'load', 'token-load')).toBe(true);
    expect(h.store.registerToken(RUN_ID, 'report', 'token-report')).toBe(true);
    await jobSucceeded(h, 'other');
    await h.store.recordUpstreamEnded(RUN_ID, 'report', 'other', { status: JobStatus.SUCCEEDED, attempt: 1 });
    await startAttempt(h, 'extract', 1, at('10:01:00'));

    const abandoned = jobAbandoned('extract', { Error: 'States.Timeout' });
    await record(abandoned, h.deps(FINISHED));
    // Woken, load and report start: a repeated delivery sends them nothing more.
    await startAttempt(h, 'load', 1, at('10:05:01'), true);
    await startAttempt(h, 'report', 1, at('10:05:01'), true);
    await record(abandoned, h.deps(at('10:05:02')));

    expect(h.tokens).toEqual(['token-load', 'token-report']);
    expect(h.tokenCalls).toBe(2);
    expect(await h.store.getJobState(RUN_ID, 'load')).toEqual({
      runId: RUN_ID,
      jobId: 'load',
      upstream: { extract: { status: JobStatus.FAILED, attempt: 1 } },
      ready: true,
      token: 'token-load',
    } satisfies JobStateRecord);
    expect(await h.store.getJobState(RUN_ID, 'report')).toEqual({
      runId: RUN_ID,
      jobId: 'report',
      upstream: { other: { status: JobStatus.SUCCEEDED, attempt: 1 }, extract: { status: JobStatus.FAILED, attempt: 1 } },
      ready: true,
      token: 'token-report',
    } satisfies JobStateRecord);
    expect(h.lines.filter((l) => l.message === 'dependent released').map((l) => [l.dependent, l.waiting, l.runId, l.action])).toEqual([
      ['load', true, RUN_ID, 'jobAbandoned'],
      ['report', true, RUN_ID, 'jobAbandoned'],
    ]);
  });

  it('records its end on a dependent that still waits for another upstream, without making it ready', async () => {
    const h = harness();
    await startedRun(h, ABANDON_GRAPH);
    expect(h.store.registerToken(RUN_ID, 'report', 'token-report')).toBe(true);

    await record(jobAbandoned('extract', { Error: 'States.Timeout' }, { attempt: 3 }), h.deps(FINISHED));

    expect(h.tokens).toEqual([]);
    expect(await h.store.getJobState(RUN_ID, 'report')).toEqual({
      runId: RUN_ID,
      jobId: 'report',
      upstream: { extract: { status: JobStatus.FAILED, attempt: 3 } },
      ready: false,
      token: 'token-report',
    } satisfies JobStateRecord);
  });

  it('makes ready a dependent whose iteration has not reached its gate yet: no token is sent, and the gate then does not wait', async () => {
    const h = harness();
    await startedRun(h);

    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED));

    expect(h.tokenCalls).toBe(0);
    expect(await h.store.getJobState(RUN_ID, 'load')).toEqual({ runId: RUN_ID, jobId: 'load', upstream: { extract: { status: JobStatus.FAILED, attempt: 1 } }, ready: true } satisfies JobStateRecord);
    expect(h.store.registerToken(RUN_ID, 'load', 'token-load')).toBe(false);
  });

  it('rethrows when the dead letter cannot be sent, so that Step Functions retries the step', async () => {
    const h = harness();
    await startedRun(h);
    await startAttempt(h, 'extract', 1, at('10:01:00'));
    h.failSends = 1;

    await expect(record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED))).rejects.toThrow('SQS is unavailable');

    expect(h.sent).toEqual([]);
    expect(h.lines.find((l) => l.message === 'job abandoned')).toBeUndefined();
  });

  it('sends the one dead letter when the step is retried after a failed send', async () => {
    const h = harness();
    await startedRun(h);
    await startAttempt(h, 'extract', 1, at('10:01:00'));
    h.failSends = 1;
    await expect(record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED))).rejects.toThrow('SQS is unavailable');

    // Step Functions retries the step (SERVICE_RETRY): this time the message goes out, once.
    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(at('10:05:01')));
    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(at('10:05:02')));

    expect(h.sent).toEqual([expect.objectContaining({ jobId: 'extract', errorCode: ExecErrorCode.ABANDONED })]);
    expect(h.sendCalls).toBe(2);
  });

  it('rethrows when a waiting dependent cannot be woken, so that Step Functions retries the step', async () => {
    const h = harness();
    await startedRun(h);
    expect(h.store.registerToken(RUN_ID, 'load', 'token-load')).toBe(true);
    h.failTokens = 1;

    await expect(record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED))).rejects.toThrow('Rate exceeded');
    expect(h.tokens).toEqual([]);
  });

  it('wakes the waiting dependent when the step is retried after a failed token send', async () => {
    const h = harness();
    await startedRun(h);
    expect(h.store.registerToken(RUN_ID, 'load', 'token-load')).toBe(true);
    h.failTokens = 1;
    await expect(record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED))).rejects.toThrow('Rate exceeded');

    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(at('10:05:01')));

    expect(h.tokens).toEqual(['token-load']);
  });

  it('releases the dependents of a job that had ended with how it ended, not FAILED', async () => {
    const h = harness();
    await startedRun(h);
    await jobSucceeded(h, 'extract');

    await record(jobAbandoned('extract', caughtLambdaError('Lambda.Unknown', { name: 'Error', message: 'crashed' })), h.deps(FINISHED));

    expect(h.sendCalls).toBe(0);
    expect(await h.store.getJobState(RUN_ID, 'extract')).toMatchObject({ status: JobStatus.SUCCEEDED });
    expect((await h.store.getJobState(RUN_ID, 'load'))?.upstream).toEqual({ extract: { status: JobStatus.SUCCEEDED, attempt: 1 } });
  });

  it('is counted as the job’s failure when the run finishes', async () => {
    const h = harness();
    await startedRun(h);
    await startAttempt(h, 'extract', 1, at('10:01:00'));
    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(at('10:04:00')));
    await jobSkipped(h, 'load', SkipReason.UPSTREAM_FAILED, at('10:04:30'));

    const finished = (await record(runFinished(), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.FAILED);
    expect(finished.jobs).toEqual({
      extract: { status: JobStatus.FAILED, attempts: 1, errorCode: ExecErrorCode.ABANDONED },
      load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
    });
    expect(finished.error).toEqual({ code: ExecErrorCode.ABANDONED, message: abandonedMessage(ExecErrorCode.TIMEOUT, 'the attempt timed out (States.Timeout)'), jobId: 'extract' });
  });

  it('logs the abandoned job with pipelineId, runId, action, jobId and the caught error’s code', async () => {
    const h = harness();
    await startedRun(h);
    await record(jobAbandoned('extract', { Error: 'States.Timeout' }), h.deps(FINISHED));
    expect(h.lines.find((l) => l.message === 'job abandoned')).toMatchObject({
      level: 'ERROR',
      component: 'recorder',
      pipelineId: PIPELINE,
      runId: RUN_ID,
      action: 'jobAbandoned',
      jobId: 'extract',
      errorCode: ExecErrorCode.TIMEOUT,
    });
  });
});

describe('fromStatusChange', () => {
  const change = (status: string, detail: Record<string, unknown> = {}): Record<string, unknown> => ({
    version: '0',
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { executionArn: EXECUTION_ARN, stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-daily-sales', status, input: JSON.stringify(runInput()), error: null, cause: null, ...detail },
  });

  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'])('turns an execution that ended %s into a runFinished of its run, caught EXECUTION_<status>', (status) => {
    expect(fromStatusChange(change(status))).toEqual({
      action: 'runFinished',
      run: runInput(),
      executionArn: EXECUTION_ARN,
      caught: { Error: `EXECUTION_${status}`, Cause: `the execution ended ${status}` },
    } satisfies RecorderEvent);
  });

  it('carries the execution’s cause, or else its error, as the Cause', () => {
    expect(fromStatusChange(change('FAILED', { error: 'States.Runtime', cause: 'an ASL path did not resolve' }))).toMatchObject({ caught: { Error: 'EXECUTION_FAILED', Cause: 'an ASL path did not resolve' } });
    expect(fromStatusChange(change('FAILED', { error: 'States.Runtime' }))).toMatchObject({ caught: { Error: 'EXECUTION_FAILED', Cause: 'States.Runtime' } });
  });

  it('reads the run from the execution’s input, with its defaults', () => {
    const event = fromStatusChange(change('ABORTED', { input: JSON.stringify({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL' }) }));
    expect(event?.run).toEqual({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL', parameters: {} });
  });

  it('is undefined for anything else: other statuses, other sources and detail types, the recorder’s own events', () => {
    expect(fromStatusChange(change('SUCCEEDED'))).toBeUndefined();
    expect(fromStatusChange(change('RUNNING'))).toBeUndefined();
    expect(fromStatusChange({ ...change('FAILED'), source: 'aws.lambda' })).toBeUndefined();
    expect(fromStatusChange({ ...change('FAILED'), 'detail-type': 'Step Functions Map Run Status Change' })).toBeUndefined();
    expect(fromStatusChange({ action: 'runFinished', run: runInput(), executionArn: EXECUTION_ARN })).toBeUndefined();
    expect(fromStatusChange(runStarted())).toBeUndefined();
    expect(fromStatusChange(null)).toBeUndefined();
    expect(fromStatusChange('ABORTED')).toBeUndefined();
  });

  it('closes the run of an aborted execution: the running job CANCELLED, the job after it SKIPPED (RUN_ENDED), run.error the abort', async () => {
    const h = harness();
    await startedRun(h);
    await startAttempt(h, 'extract', 1, at('10:01:00'));
    const aborted = fromStatusChange(change('ABORTED'));
    expect(aborted).toBeDefined();

    const finished = (await record(aborted as RecorderEvent, h.deps(FINISHED))) as RunRecord;

    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      completedAt: FINISHED,
      jobs: {
        extract: { status: JobStatus.CANCELLED, attempts: 1, reason: SkipReason.RUN_ENDED },
        load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED },
      },
      error: { code: 'EXECUTION_ABORTED', message: 'the execution ended ABORTED' },
    });
    expect((await h.store.listAttempts(RUN_ID)).map((a) => a.status)).toEqual([JobStatus.CANCELLED]);
    expect(h.lines.find((l) => l.message === 'run finished')).toMatchObject({ pipelineId: PIPELINE, runId: RUN_ID, action: 'runFinished', status: RunStatus.FAILED });
  });
});

describe('fromStatusChange: an input that is not a run’s', () => {
  it('names the run after the execution (its name is the run id, its state machine phi-<pipeline>), so the run is still closed', () => {
    const event = {
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: 'arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:m-by-hand', status: 'ABORTED', input: '{"hello": "world"}' },
    };
    expect(fromStatusChange(event)).toMatchObject({ action: 'runFinished', run: { runId: 'm-by-hand', pipelineId: 'daily-sales', trigger: 'MANUAL', parameters: {} }, caught: { Error: 'EXECUTION_ABORTED' } });
    expect(fromStatusChange({ ...event, detail: { ...event.detail, input: 'not json' } })).toMatchObject({ run: { runId: 'm-by-hand', pipelineId: 'daily-sales' } });
  });
});

/**
 * The recorder's core (`record`, `errorFromOutcome`) against the in-memory record store and a
 * capturing dead-letter sender. Attempts are written by the real runtime core (`runTask`), so the
 * recorder reads exactly what the runtime leaves.
 */
import { describe, expect, it } from 'vitest';
import {
  DeadLetterMessageSchema,
  ErrorCategory,
  ExecErrorCode,
  JobStatus,
  RecorderEventSchema,
  RunStatus,
  SkipReason,
  TRANSIENT_ERROR_NAME,
  type DeadLetterMessage,
  type ErrorInfo,
  type JobAttemptRecord,
  type RecorderEvent,
  type RunInput,
  type RunRecord,
  type TaskResult,
} from '../../lib/model/contract/index.ts';
import { errorFromOutcome, fromStatusChange, record, type RecorderDeps } from '../../functions/control/recorder.ts';
import { PhiTransientError, runTask } from '../../functions/runtime/core.ts';
import { PermanentError, TransientError, type TaskHandler } from '../../functions/runtime/index.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'daily-sales';
const RUN_ID = 'k-0123456789abcdef0123456789abcdef';
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${RUN_ID}`;
const QUEUED = '2024-05-01T09:59:59.000Z';
const STARTED = '2024-05-01T10:00:00.000Z';
const FINISHED = '2024-05-01T10:05:00.000Z';

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
  /** Every send attempted, failed ones included. */
  sendCalls: number;
  /** How many coming sends fail (SQS throttling, an outage) without sending. */
  failSends: number;
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
    lines,
    deps: (now) => ({
      store,
      log,
      now: clock(now),
      sendDeadLetter: async (message) => {
        h.sendCalls++;
        if (h.failSends > 0) {
          h.failSends--;
          throw Object.assign(new Error('SQS is unavailable'), { name: 'ServiceUnavailable' });
        }
        h.sent.push(structuredClone(message));
      },
    }),
  };
  return h;
}

/** Runs one attempt of a job through the real runtime core; answers its result or what it threw. */
async function attempt(
  store: MemoryRecordStore,
  opts: { jobId: string; handler: TaskHandler; retryCount?: number; maxAttempts?: number; run?: RunInput; at?: [string, string] },
): Promise<TaskResult | PhiTransientError> {
  const { log } = captureLogs();
  const [start, end] = opts.at ?? [STARTED, '2024-05-01T10:00:01.000Z'];
  try {
    return await runTask(
      {
        pipelineId: PIPELINE,
        jobId: opts.jobId,
        parameters: { region: 'eu-west-1', date: 'from-config' },
        maxAttempts: opts.maxAttempts ?? 3,
        retryableErrors: [],
        nonRetryableErrors: [],
        definitionVersion: 'def-1',
      },
      { run: opts.run ?? runInput(), jobId: opts.jobId, retryCount: opts.retryCount ?? 0, executionArn: EXECUTION_ARN },
      opts.handler,
      { store, log, now: clock(start, end) },
    );
  } catch (err) {
    if (err instanceof PhiTransientError) return err;
    throw err;
  }
}

const fail =
  (err: Error): TaskHandler =>
  () => {
    throw err;
  };
const succeed: TaskHandler = () => ({ ok: true });

/** What Step Functions' Catch hands on for a Lambda function error: `{ Error, Cause }`, Cause being Lambda's error JSON. */
const caughtLambdaError = (errorName: string, err: { name: string; message: string }) => ({
  Error: errorName,
  Cause: JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: [] }),
});

type Graph = Record<string, string[]>;

/** The default pipeline: extract → load. */
const GRAPH: Graph = { extract: [], load: ['extract'] };

const runStarted = (graph: Graph = GRAPH, extra: Record<string, unknown> = {}): RecorderEvent =>
  event({ action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-1', graph, ...extra });

/** A run the trigger queued and the state machine's first step started, with the pipeline's job graph. */
async function startedRun(h: Harness, graph: Graph = GRAPH, input: RunInput = runInput()): Promise<void> {
  await h.store.createRun({ runId: input.runId, pipelineId: input.pipelineId, trigger: input.trigger, parameters: input.parameters, queuedAt: QUEUED });
  await record(runStarted(graph, { run: input }), h.deps(STARTED));
}

const runFinished = (status: 'SUCCEEDED' | 'FAILED', extra: Record<string, unknown> = {}): RecorderEvent =>
  event({ action: 'runFinished', run: runInput(), executionArn: EXECUTION_ARN, status, ...extra });

/** Starts an attempt that never finishes (its invocation hangs, then times out or is stopped). */
async function hangingAttempt(store: MemoryRecordStore, jobId: string, opts: { retryCount?: number; at?: [string, string] } = {}): Promise<void> {
  const never = new Promise<never>(() => undefined);
  void attempt(store, { jobId, handler: () => never, ...opts });
  await new Promise((resolve) => setTimeout(resolve, 0));
}

const jobFailed = (jobId: string, outcome: unknown, extra: Partial<{ run: RunInput; maxAttempts: number }> = {}): RecorderEvent =>
  event({ action: 'jobFailed', run: runInput(), jobId, executionArn: EXECUTION_ARN, maxAttempts: 3, outcome, ...extra });

describe('record: runStarted', () => {
  it('marks a PENDING run RUNNING, keeping the job graph, and answers the run input', async () => {
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
      graph: GRAPH,
      transitions: [
        { status: RunStatus.PENDING, at: QUEUED },
        { status: RunStatus.RUNNING, at: STARTED },
      ],
    });
  });

  it('refuses a runStarted event without the job graph (the recorder reads it back when the run ends)', () => {
    expect(RecorderEventSchema.safeParse({ action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-1' }).success).toBe(false);
  });

  it('answers the validated input with default parameters, the state the machine carries on with', async () => {
    const h = harness();
    const answer = await record(runStarted(GRAPH, { run: { runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL' } }), h.deps(STARTED));
    expect(answer).toEqual({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL', parameters: {} });
  });

  it('creates the record RUNNING for a run started without the trigger (no record yet)', async () => {
    const h = harness();
    await record(runStarted(GRAPH, { run: runInput({ trigger: 'MANUAL' }) }), h.deps(STARTED));
    expect(await h.store.getRun(RUN_ID)).toMatchObject({
      status: RunStatus.RUNNING,
      trigger: 'MANUAL',
      graph: GRAPH,
      queuedAt: STARTED,
      startedAt: STARTED,
      transitions: [{ status: RunStatus.RUNNING, at: STARTED }],
    });
  });

  it('is a no-op when repeated: the run keeps one RUNNING transition, its first start time and its graph', async () => {
    const h = harness();
    await startedRun(h);
    await record(runStarted({ other: [] }), h.deps('2024-05-01T10:00:09.000Z'));
    const run = await h.store.requireRun(RUN_ID);
    expect(run.startedAt).toBe(STARTED);
    expect(run.graph).toEqual(GRAPH);
    expect(run.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.RUNNING]);
  });

  it('logs with the pipelineId and runId', async () => {
    const h = harness();
    await startedRun(h);
    expect(h.lines.find((l) => l.message === 'run started')).toMatchObject({ level: 'INFO', pipelineId: PIPELINE, runId: RUN_ID, action: 'runStarted', executionArn: EXECUTION_ARN });
  });
});

describe('errorFromOutcome', () => {
  const info: ErrorInfo = { code: 'RATE_LIMITED', message: 'the feed asked us to slow down', category: ErrorCategory.TRANSIENT };

  it('reads a returned permanent failure, with its attempt', () => {
    const error: ErrorInfo = { code: 'BAD_INPUT', message: 'no such date', category: ErrorCategory.PERMANENT };
    expect(errorFromOutcome({ result: { status: JobStatus.FAILED, attempt: 2, error } })).toEqual({ error, attempt: 2 });
  });

  it('reads the same ErrorInfo from a PhiTransientError caught in AWS form and in the emulator’s Runtime.HandlerError form', () => {
    const thrown = new PhiTransientError(info);
    const aws = caughtLambdaError(TRANSIENT_ERROR_NAME, thrown);
    const emulator = caughtLambdaError('Runtime.HandlerError', thrown);
    expect(aws).toEqual({
      Error: 'PhiTransientError',
      Cause: JSON.stringify({ errorType: 'PhiTransientError', errorMessage: JSON.stringify(info), trace: [] }),
    });
    expect(errorFromOutcome(aws)).toEqual({ error: info });
    expect(errorFromOutcome(emulator)).toEqual({ error: info });
  });

  it.each(['States.Timeout', 'Sandbox.Timedout'])('reads %s as EXEC_002_TIMEOUT, transient', (name) => {
    const causes = [undefined, '', JSON.stringify({ errorType: name, errorMessage: 'Task timed out after 3.00 seconds' })];
    for (const Cause of causes) {
      const { error } = errorFromOutcome(Cause === undefined ? { Error: name } : { Error: name, Cause });
      expect(error).toEqual({ code: ExecErrorCode.TIMEOUT, message: expect.stringContaining(name), category: ErrorCategory.TRANSIENT });
    }
  });

  it('reads an unknown Catch error as EXEC_004_TASK_FAILED naming the error and its message', () => {
    expect(errorFromOutcome(caughtLambdaError('Lambda.ServiceException', { name: 'ServiceException', message: 'Rate exceeded' }))).toEqual({
      error: { code: ExecErrorCode.TASK_FAILED, message: 'Lambda.ServiceException: Rate exceeded', category: ErrorCategory.TRANSIENT },
    });
    expect(errorFromOutcome({ Error: 'Runtime.ExitError', Cause: 'RequestId: 1 Error: Runtime exited with error: signal: killed' })).toEqual({
      error: { code: ExecErrorCode.TASK_FAILED, message: 'Runtime.ExitError: RequestId: 1 Error: Runtime exited with error: signal: killed', category: ErrorCategory.TRANSIENT },
    });
  });

  it('reads an unrecognised outcome as EXEC_004_TASK_FAILED', () => {
    expect(errorFromOutcome({ something: 'else' }).error).toMatchObject({ code: ExecErrorCode.TASK_FAILED, message: expect.stringContaining('unrecognised task outcome') });
    expect(errorFromOutcome(null).error.code).toBe(ExecErrorCode.TASK_FAILED);
  });
});

describe('record: jobFailed', () => {
  it('sends exactly one dead-letter message for a returned permanent failure, with the attempt’s merged parameters', async () => {
    const h = harness();
    await startedRun(h);
    const run = runInput({ parameters: { date: '2024-04-30', dryRun: true } });
    const result = await attempt(h.store, { jobId: 'transform', handler: fail(new PermanentError('BAD_INPUT', 'no data for 2024-04-30')), run });
    expect(result).toMatchObject({ status: JobStatus.FAILED });
    const attemptBefore = await h.store.listAttempts(RUN_ID);
    const writesBefore = h.store.writes.length;

    const answer = await record(jobFailed('transform', { result }, { run }), h.deps(FINISHED));

    expect(h.sent).toHaveLength(1);
    const message = DeadLetterMessageSchema.parse(h.sent[0]);
    expect(message).toEqual({
      kind: 'phi.job.failed',
      pipelineId: PIPELINE,
      runId: RUN_ID,
      jobId: 'transform',
      attempts: 1,
      errorCode: 'BAD_INPUT',
      errorMessage: 'no data for 2024-04-30',
      errorCategory: ErrorCategory.PERMANENT,
      parameters: { region: 'eu-west-1', date: '2024-04-30', dryRun: true },
      executionArn: EXECUTION_ARN,
      trigger: 'API',
      failedAt: FINISHED,
    });
    expect(answer).toEqual(message);
    // The runtime closed the attempt already: the recorder leaves it as it was (closeAttempt only from
    // RUNNING); its writes are the claim of the job's dead letter and, once sent, its mark.
    expect(await h.store.listAttempts(RUN_ID)).toEqual(attemptBefore);
    expect(h.store.writes.slice(writesBefore)).toEqual([
      { op: 'claimDeadLetter', key: `RUN#${RUN_ID}|DLQ#transform` },
      { op: 'markDeadLetterSent', key: `RUN#${RUN_ID}|DLQ#transform` },
    ]);
  });

  it('reports the same error for a Catch outcome in AWS form and in the emulator’s form', async () => {
    const messages: DeadLetterMessage[] = [];
    for (const errorName of [TRANSIENT_ERROR_NAME, 'Runtime.HandlerError']) {
      const h = harness();
      await startedRun(h);
      let thrown: TaskResult | PhiTransientError | undefined;
      for (let retryCount = 0; retryCount < 3; retryCount++) {
        thrown = await attempt(h.store, { jobId: 'extract', retryCount, handler: fail(new TransientError('RATE_LIMITED', 'slow down')) });
      }
      expect(thrown).toBeInstanceOf(PhiTransientError);
      await record(jobFailed('extract', caughtLambdaError(errorName, thrown as PhiTransientError)), h.deps(FINISHED));
      expect(h.sent).toHaveLength(1);
      messages.push(DeadLetterMessageSchema.parse(h.sent[0]));
    }
    expect(messages[0]).toMatchObject({ jobId: 'extract', attempts: 3, errorCode: 'RATE_LIMITED', errorMessage: 'slow down', errorCategory: ErrorCategory.TRANSIENT });
    expect(messages[1]).toEqual(messages[0]);
  });

  it('closes a RUNNING last attempt FAILED with EXEC_002_TIMEOUT on States.Timeout, and dead-letters the timeout', async () => {
    const h = harness();
    await startedRun(h);
    await attempt(h.store, { jobId: 'extract', retryCount: 0, handler: fail(new TransientError('RATE_LIMITED', 'slow down')) });
    // Attempt 2 starts and never finishes: Step Functions times the task out.
    const never = new Promise<never>(() => undefined);
    void attempt(h.store, { jobId: 'extract', retryCount: 1, handler: () => never, at: ['2024-05-01T10:01:00.000Z', '2024-05-01T10:02:00.000Z'] });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const [first, second] = await h.store.listAttempts(RUN_ID);
    expect(second).toMatchObject({ attempt: 2, status: JobStatus.RUNNING });

    await record(jobFailed('extract', { Error: 'States.Timeout', Cause: '' }), h.deps(FINISHED));

    const [firstAfter, secondAfter] = await h.store.listAttempts(RUN_ID);
    expect(firstAfter).toEqual(first);
    // The recorder knows when the attempt started, so the closed attempt has its duration.
    expect(secondAfter).toEqual({
      ...(second as JobAttemptRecord),
      status: JobStatus.FAILED,
      completedAt: FINISHED,
      durationMs: Date.parse(FINISHED) - Date.parse('2024-05-01T10:01:00.000Z'),
      transitions: [
        { status: JobStatus.RUNNING, at: '2024-05-01T10:01:00.000Z' },
        { status: JobStatus.FAILED, at: FINISHED },
      ],
      errorCode: ExecErrorCode.TIMEOUT,
      errorMessage: expect.stringContaining('States.Timeout'),
      errorCategory: ErrorCategory.TRANSIENT,
      willRetry: false,
    });
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ jobId: 'extract', attempts: 2, errorCode: ExecErrorCode.TIMEOUT, errorCategory: ErrorCategory.TRANSIENT });
  });

  it('keeps the timeout when the timed-out attempt’s own finish arrives late (an attempt is finished once)', async () => {
    const h = harness();
    await startedRun(h);
    let release: (outputs: { late: boolean }) => void = () => undefined;
    const handler: TaskHandler = () => new Promise((resolve) => (release = resolve));
    const late = attempt(h.store, { jobId: 'extract', handler, at: ['2024-05-01T10:01:00.000Z', '2024-05-01T10:06:00.000Z'] });
    await new Promise((resolve) => setTimeout(resolve, 0));

    await record(jobFailed('extract', { Error: 'States.Timeout' }), h.deps(FINISHED));
    const closed = await h.store.listAttempts(RUN_ID);
    release({ late: true });
    await expect(late).resolves.toMatchObject({ status: JobStatus.SUCCEEDED });

    expect(await h.store.listAttempts(RUN_ID)).toEqual(closed);
    expect(closed).toEqual([expect.objectContaining({ status: JobStatus.FAILED, errorCode: ExecErrorCode.TIMEOUT, completedAt: FINISHED })]);
  });

  it('reports an unknown Catch error as EXEC_004_TASK_FAILED, and closes a RUNNING attempt with it', async () => {
    const h = harness();
    await startedRun(h);
    const never = new Promise<never>(() => undefined);
    void attempt(h.store, { jobId: 'extract', handler: () => never });
    await new Promise((resolve) => setTimeout(resolve, 0));

    await record(jobFailed('extract', caughtLambdaError('Lambda.Unknown', { name: 'Unknown', message: 'the function crashed' })), h.deps(FINISHED));

    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ errorCode: ExecErrorCode.TASK_FAILED, errorMessage: 'Lambda.Unknown: the function crashed', attempts: 1 });
    expect(await h.store.listAttempts(RUN_ID)).toEqual([expect.objectContaining({ status: JobStatus.FAILED, errorCode: ExecErrorCode.TASK_FAILED, willRetry: false })]);
  });

  it('dead-letters a job that never recorded an attempt with the run’s parameters, maxAttempts and the scheduled time', async () => {
    const h = harness();
    const run = runInput({ trigger: 'SCHEDULE', scheduledTime: '2024-05-01T10:00:00Z' });
    await record(jobFailed('extract', { Error: 'Lambda.TooManyRequestsException', Cause: 'Rate exceeded' }, { run, maxAttempts: 4 }), h.deps(FINISHED));
    expect(h.sent).toHaveLength(1);
    expect(DeadLetterMessageSchema.parse(h.sent[0])).toMatchObject({
      attempts: 4,
      parameters: { date: '2024-04-30' },
      trigger: 'SCHEDULE',
      scheduledTime: '2024-05-01T10:00:00Z',
      errorCode: ExecErrorCode.TASK_FAILED,
    });
  });

  it('closes only the failed job’s own RUNNING attempt, not that of another job (even one whose id begins the same)', async () => {
    const h = harness();
    await startedRun(h, { extract: [], 'extract-eu': [] });
    await hangingAttempt(h.store, 'extract-eu');
    await hangingAttempt(h.store, 'extract');

    await record(jobFailed('extract', { Error: 'States.Timeout' }), h.deps(FINISHED));

    expect((await h.store.listAttempts(RUN_ID)).map((a) => [a.jobId, a.status])).toEqual([
      ['extract', JobStatus.FAILED],
      ['extract-eu', JobStatus.RUNNING],
    ]);
    expect(h.sent).toEqual([expect.objectContaining({ jobId: 'extract', attempts: 1, errorCode: ExecErrorCode.TIMEOUT })]);
  });

  it('sends no second dead letter when its step is retried: the job’s dead letter is claimed once', async () => {
    const h = harness();
    await startedRun(h);
    const result = await attempt(h.store, { jobId: 'transform', handler: fail(new PermanentError('BAD_INPUT', 'no data')) });

    const first = await record(jobFailed('transform', { result }), h.deps(FINISHED));
    const retried = await record(jobFailed('transform', { result }), h.deps('2024-05-01T10:05:02.000Z'));

    expect(h.sent).toEqual([first]);
    expect(h.sendCalls).toBe(1);
    expect(retried).toEqual({ ...(first as DeadLetterMessage), failedAt: '2024-05-01T10:05:02.000Z' });
    expect(h.lines.filter((l) => l.message === 'job failed permanently')).toHaveLength(1);
    expect(h.lines.find((l) => l.message === 'dead letter already sent')).toMatchObject({ level: 'WARN', runId: RUN_ID, jobId: 'transform' });
  });

  it('rethrows when the send fails, and the retried step sends the one dead letter', async () => {
    const h = harness();
    await startedRun(h);
    const result = await attempt(h.store, { jobId: 'transform', handler: fail(new PermanentError('BAD_INPUT', 'no data')) });
    h.failSends = 1;

    await expect(record(jobFailed('transform', { result }), h.deps(FINISHED))).rejects.toThrow('SQS is unavailable');
    expect(h.sent).toEqual([]);
    expect(h.lines.find((l) => l.message === 'job failed permanently')).toBeUndefined();

    // Step Functions retries the step (RECORDER_RETRY): this time the message goes out, once.
    await record(jobFailed('transform', { result }), h.deps('2024-05-01T10:05:01.000Z'));
    await record(jobFailed('transform', { result }), h.deps('2024-05-01T10:05:02.000Z'));
    expect(h.sent).toEqual([expect.objectContaining({ jobId: 'transform', errorCode: 'BAD_INPUT', failedAt: '2024-05-01T10:05:01.000Z' })]);
    expect(h.sendCalls).toBe(2);
    expect(h.store.deadLetterClaims(RUN_ID)).toEqual(['transform']);
  });

  it('sends one dead letter for each failed job of a run', async () => {
    const h = harness();
    await startedRun(h, { orders: [], customers: [] });
    const orders = await attempt(h.store, { jobId: 'orders', handler: fail(new PermanentError('SCHEMA_DRIFT', 'new column')) });
    const customers = await attempt(h.store, { jobId: 'customers', handler: fail(new PermanentError('BAD_INPUT', 'no customers')) });
    await record(jobFailed('orders', { result: orders }), h.deps(FINISHED));
    await record(jobFailed('customers', { result: customers }), h.deps(FINISHED));
    await record(jobFailed('orders', { result: orders }), h.deps(FINISHED));
    expect(h.sent.map((m) => [m.jobId, m.errorCode])).toEqual([
      ['orders', 'SCHEMA_DRIFT'],
      ['customers', 'BAD_INPUT'],
    ]);
  });

  it('logs the permanent failure with pipelineId, runId and jobId', async () => {
    const h = harness();
    const result = await attempt(h.store, { jobId: 'transform', handler: fail(new PermanentError('BAD_INPUT', 'x')) });
    await record(jobFailed('transform', { result }), h.deps(FINISHED));
    expect(h.lines.find((l) => l.message === 'job failed permanently')).toMatchObject({
      level: 'ERROR',
      pipelineId: PIPELINE,
      runId: RUN_ID,
      jobId: 'transform',
      errorCode: 'BAD_INPUT',
      attempts: 1,
    });
  });
});

describe('record: runFinished', () => {
  it('finishes a SUCCEEDED run with a per-job summary of each job’s last attempt', async () => {
    const h = harness();
    await startedRun(h);
    await attempt(h.store, { jobId: 'extract', retryCount: 0, handler: fail(new TransientError('RATE_LIMITED', 'slow down')) });
    await attempt(h.store, { jobId: 'extract', retryCount: 1, handler: succeed });
    await attempt(h.store, { jobId: 'load', handler: succeed });

    const answer = await record(runFinished('SUCCEEDED'), h.deps(FINISHED));

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
      graph: GRAPH,
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
    expect(h.lines.find((l) => l.message === 'run finished')).toMatchObject({ pipelineId: PIPELINE, runId: RUN_ID, status: RunStatus.SUCCEEDED });
  });

  it('takes the jobs from the graph kept on the run record, not from the event (an old event’s jobIds are ignored)', async () => {
    const h = harness();
    await startedRun(h);
    await attempt(h.store, { jobId: 'extract', handler: succeed });
    await attempt(h.store, { jobId: 'load', handler: succeed });
    const finished = (await record(runFinished('SUCCEEDED', { jobIds: ['extract', 'load', 'ghost'] }), h.deps(FINISHED))) as RunRecord;
    expect(Object.keys(finished.jobs ?? {}).sort()).toEqual(['extract', 'load']);
  });

  it('finishes a FAILED run: jobs downstream of a failure are SKIPPED (UPSTREAM_FAILED), transitively, and run.error names the first failed job', async () => {
    const h = harness();
    // extract → orders, customers → load → report
    await startedRun(h, { extract: [], orders: ['extract'], customers: ['extract'], load: ['orders', 'customers'], report: ['load'] });
    await attempt(h.store, { jobId: 'extract', handler: succeed });
    // Two jobs of one layer fail; "orders" (listed first) fails after "customers".
    await attempt(h.store, { jobId: 'orders', handler: fail(new PermanentError('SCHEMA_DRIFT', 'orders.csv has a new column')), at: ['2024-05-01T10:01:00.000Z', '2024-05-01T10:03:00.000Z'] });
    await attempt(h.store, {
      jobId: 'customers',
      handler: fail(new PermanentError('BAD_INPUT', 'no customers for 2024-04-30')),
      at: ['2024-05-01T10:01:00.000Z', '2024-05-01T10:02:00.000Z'],
    });

    const finished = await record(runFinished('FAILED', { caught: { Error: 'PhiJobFailed', Cause: 'job customers failed' } }), h.deps(FINISHED));

    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      completedAt: FINISHED,
      jobs: {
        extract: { status: JobStatus.SUCCEEDED, attempts: 1 },
        orders: { status: JobStatus.FAILED, attempts: 1, errorCode: 'SCHEMA_DRIFT' },
        customers: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' },
        load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
        report: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
      },
      error: { code: 'BAD_INPUT', message: 'no customers for 2024-04-30', jobId: 'customers' },
    });
    expect(await h.store.getRun(RUN_ID)).toEqual(finished);
  });

  it('tells the two kinds of SKIPPED apart: UPSTREAM_FAILED below a failed job, RUN_ENDED for an independent job of a later layer', async () => {
    const h = harness();
    // Layer 1: a, b. Layer 2: c (after a), d (after b). Layer 3: e (after c), f (after d).
    await startedRun(h, { a: [], b: [], c: ['a'], d: ['b'], e: ['c'], f: ['d'] });
    await attempt(h.store, { jobId: 'a', handler: succeed });
    await attempt(h.store, { jobId: 'b', handler: fail(new PermanentError('BAD_INPUT', 'b cannot run')) });

    // Layer 1 fails because of b: the run ends before layer 2.
    const finished = (await record(runFinished('FAILED', { caught: { Error: 'PhiJobFailed', Cause: 'job b failed' } }), h.deps(FINISHED))) as RunRecord;

    expect(finished.status).toBe(RunStatus.FAILED);
    expect(finished.jobs).toEqual({
      a: { status: JobStatus.SUCCEEDED, attempts: 1 },
      b: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' },
      c: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED },
      d: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
      e: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED },
      f: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
    });
  });

  it('closes an attempt still RUNNING as the run ends CANCELLED (RUN_ENDED) and summarises its job CANCELLED', async () => {
    const h = harness();
    // orders and customers run side by side; customers fails while orders' second attempt still runs.
    await startedRun(h, { orders: [], customers: [], load: ['orders', 'customers'] });
    await attempt(h.store, { jobId: 'orders', handler: fail(new TransientError('RATE_LIMITED', 'slow down')) });
    await hangingAttempt(h.store, 'orders', { retryCount: 1, at: ['2024-05-01T10:02:00.000Z', '2024-05-01T10:09:00.000Z'] });
    await attempt(h.store, { jobId: 'customers', handler: fail(new PermanentError('BAD_INPUT', 'no customers')) });
    const [ordersFirst, ordersSecond] = await h.store.listAttempts(RUN_ID, 'orders');
    expect(ordersSecond).toMatchObject({ attempt: 2, status: JobStatus.RUNNING });

    const finished = (await record(runFinished('FAILED', { caught: { Error: 'PhiJobFailed', Cause: 'job customers failed' } }), h.deps(FINISHED))) as RunRecord;

    expect(finished.jobs).toEqual({
      customers: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' },
      orders: { status: JobStatus.CANCELLED, attempts: 2, reason: SkipReason.RUN_ENDED },
      load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.UPSTREAM_FAILED },
    });
    // The cancelled job is not the run's error: the failed one is.
    expect(finished.error).toEqual({ code: 'BAD_INPUT', message: 'no customers', jobId: 'customers' });
    const [first, second] = await h.store.listAttempts(RUN_ID, 'orders');
    expect(first).toEqual(ordersFirst);
    expect(second).toEqual({
      ...(ordersSecond as JobAttemptRecord),
      status: JobStatus.CANCELLED,
      completedAt: FINISHED,
      durationMs: Date.parse(FINISHED) - Date.parse('2024-05-01T10:02:00.000Z'),
      errorCode: SkipReason.RUN_ENDED,
      errorMessage: expect.any(String),
      transitions: [
        { status: JobStatus.RUNNING, at: '2024-05-01T10:02:00.000Z' },
        { status: JobStatus.CANCELLED, at: FINISHED },
      ],
    });
    expect(second).not.toHaveProperty('willRetry');
  });

  it('closes the run of an aborted execution (from EventBridge): the running job CANCELLED, the jobs after it SKIPPED (RUN_ENDED)', async () => {
    const h = harness();
    await startedRun(h);
    await hangingAttempt(h.store, 'extract');
    const aborted = fromStatusChange({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: EXECUTION_ARN, status: 'ABORTED', input: JSON.stringify(runInput()), error: null, cause: null },
    });

    const finished = (await record(aborted!, h.deps(FINISHED))) as RunRecord;

    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      jobs: {
        extract: { status: JobStatus.CANCELLED, attempts: 1, reason: SkipReason.RUN_ENDED },
        load: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED },
      },
      error: { code: 'EXECUTION_ABORTED' },
    });
    expect((await h.store.listAttempts(RUN_ID)).map((a) => a.status)).toEqual([JobStatus.CANCELLED]);
  });

  it('puts the caught error in run.error when no job attempt failed; the jobs that never ran are SKIPPED (RUN_ENDED)', async () => {
    const h = harness();
    await startedRun(h, { extract: [] });
    const finished = await record(runFinished('FAILED', { caught: { Error: 'States.Runtime', Cause: 'an ASL path did not resolve' } }), h.deps(FINISHED));
    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      jobs: { extract: { status: JobStatus.SKIPPED, attempts: 0, reason: SkipReason.RUN_ENDED } },
      error: { code: 'States.Runtime', message: 'an ASL path did not resolve' },
    });
  });

  it('summarises the jobs that have attempts when the run record has no graph (a run started before graphs were kept)', async () => {
    const h = harness();
    await h.store.markRunRunning({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', parameters: {}, executionArn: EXECUTION_ARN, definitionVersion: 'def-0' }, STARTED);
    await attempt(h.store, { jobId: 'load', handler: succeed });
    await attempt(h.store, { jobId: 'extract', handler: succeed });
    const finished = (await record(runFinished('SUCCEEDED'), h.deps(FINISHED))) as RunRecord;
    expect(finished.graph).toBeUndefined();
    expect(finished.jobs).toEqual({ extract: { status: JobStatus.SUCCEEDED, attempts: 1 }, load: { status: JobStatus.SUCCEEDED, attempts: 1 } });
  });

  it('leaves a terminal run untouched: the first result stays, a later finish writes nothing and cancels nothing', async () => {
    const h = harness();
    await startedRun(h);
    await attempt(h.store, { jobId: 'extract', handler: fail(new PermanentError('BAD_INPUT', 'x')) });
    const first = await record(runFinished('FAILED'), h.deps(FINISHED));
    // A late attempt (a retried invocation) starts after the run ended.
    await hangingAttempt(h.store, 'load', { at: ['2024-05-01T10:08:00.000Z', '2024-05-01T10:08:30.000Z'] });
    const writes = h.store.writes.length;

    const again = await record(runFinished('SUCCEEDED'), h.deps('2024-05-01T10:09:00.000Z'));
    const repeated = await record(runFinished('FAILED', { caught: { Error: 'EXECUTION_ABORTED', Cause: 'stopped' } }), h.deps('2024-05-01T10:10:00.000Z'));
    const restarted = await record(runStarted(GRAPH, { definitionVersion: 'def-2' }), h.deps('2024-05-01T10:11:00.000Z'));

    expect(restarted).toEqual(runInput());
    expect(again).toEqual(first);
    expect(repeated).toEqual(first);
    expect(h.store.writes.length).toBe(writes);
    expect((await h.store.listAttempts(RUN_ID, 'load')).map((a) => a.status)).toEqual([JobStatus.RUNNING]);
    const stored = await h.store.requireRun(RUN_ID);
    expect(stored).toEqual(first);
    expect(stored).toMatchObject({ status: RunStatus.FAILED, completedAt: FINISHED, definitionVersion: 'def-1' });
    expect(stored.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED]);
  });

  it('refuses to finish a run that has no record (REC_001_NOT_FOUND)', async () => {
    const h = harness();
    await expect(record(runFinished('SUCCEEDED'), h.deps(FINISHED))).rejects.toMatchObject({ name: 'RecordError', code: 'REC_001_NOT_FOUND' });
  });
});

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
  TRANSIENT_ERROR_NAME,
  type DeadLetterMessage,
  type ErrorInfo,
  type JobAttemptRecord,
  type RecorderEvent,
  type RunInput,
  type RunRecord,
  type TaskResult,
} from '../../infra/model/contract.ts';
import { errorFromOutcome, record, type RecorderDeps } from '../../functions/control/recorder.ts';
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
  sent: DeadLetterMessage[];
  lines: ReturnType<typeof captureLogs>['lines'];
  deps: (now: string) => RecorderDeps;
}

function harness(): Harness {
  const store = new MemoryRecordStore();
  const sent: DeadLetterMessage[] = [];
  const { log, lines } = captureLogs({ component: 'recorder' });
  return {
    store,
    sent,
    lines,
    deps: (now) => ({
      store,
      log,
      now: clock(now),
      sendDeadLetter: async (message) => {
        sent.push(structuredClone(message));
      },
    }),
  };
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

async function startedRun(h: Harness, input: RunInput = runInput()): Promise<void> {
  await h.store.createRun({ runId: input.runId, pipelineId: input.pipelineId, trigger: input.trigger, parameters: input.parameters, queuedAt: QUEUED });
  await record(event({ action: 'runStarted', run: input, executionArn: EXECUTION_ARN, definitionVersion: 'def-1' }), h.deps(STARTED));
}

const runFinished = (status: 'SUCCEEDED' | 'FAILED', jobIds: string[], extra: Record<string, unknown> = {}): RecorderEvent =>
  event({ action: 'runFinished', run: runInput(), executionArn: EXECUTION_ARN, status, jobIds, ...extra });

const jobFailed = (jobId: string, outcome: unknown, extra: Partial<{ run: RunInput; maxAttempts: number }> = {}): RecorderEvent =>
  event({ action: 'jobFailed', run: runInput(), jobId, executionArn: EXECUTION_ARN, maxAttempts: 3, outcome, ...extra });

describe('record: runStarted', () => {
  it('marks a PENDING run RUNNING and answers the run input', async () => {
    const h = harness();
    await h.store.createRun({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', parameters: { date: '2024-04-30' }, queuedAt: QUEUED });

    const answer = await record(event({ action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-1' }), h.deps(STARTED));

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
      transitions: [
        { status: RunStatus.PENDING, at: QUEUED },
        { status: RunStatus.RUNNING, at: STARTED },
      ],
    });
  });

  it('answers the validated input with default parameters, the state the machine carries on with', async () => {
    const h = harness();
    const answer = await record(event({ action: 'runStarted', run: { runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL' }, executionArn: EXECUTION_ARN, definitionVersion: 'def-1' }), h.deps(STARTED));
    expect(answer).toEqual({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'MANUAL', parameters: {} });
  });

  it('creates the record RUNNING for a run started without the trigger (no record yet)', async () => {
    const h = harness();
    await record(event({ action: 'runStarted', run: runInput({ trigger: 'MANUAL' }), executionArn: EXECUTION_ARN, definitionVersion: 'def-1' }), h.deps(STARTED));
    expect(await h.store.getRun(RUN_ID)).toMatchObject({
      status: RunStatus.RUNNING,
      trigger: 'MANUAL',
      queuedAt: STARTED,
      startedAt: STARTED,
      transitions: [{ status: RunStatus.RUNNING, at: STARTED }],
    });
  });

  it('is a no-op when repeated: the run keeps one RUNNING transition and its first start time', async () => {
    const h = harness();
    await startedRun(h);
    await record(event({ action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-1' }), h.deps('2024-05-01T10:00:09.000Z'));
    const run = await h.store.requireRun(RUN_ID);
    expect(run.startedAt).toBe(STARTED);
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
    // The runtime closed the attempt already: the recorder leaves it as it was (finishAttempt only from RUNNING).
    expect(await h.store.listAttempts(RUN_ID)).toEqual(attemptBefore);
    expect(h.store.writes.length).toBe(writesBefore);
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
    expect(secondAfter).toEqual({
      ...(second as JobAttemptRecord),
      status: JobStatus.FAILED,
      completedAt: FINISHED,
      durationMs: 240_000,
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

    const answer = await record(runFinished('SUCCEEDED', ['extract', 'load']), h.deps(FINISHED));

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

  it('finishes a FAILED run: jobs that never ran are SKIPPED (UPSTREAM_FAILED) and run.error names the first failed job', async () => {
    const h = harness();
    await startedRun(h);
    await attempt(h.store, { jobId: 'extract', handler: succeed });
    // Two jobs of one layer fail; "orders" (listed first) fails after "customers".
    await attempt(h.store, { jobId: 'orders', handler: fail(new PermanentError('SCHEMA_DRIFT', 'orders.csv has a new column')), at: ['2024-05-01T10:01:00.000Z', '2024-05-01T10:03:00.000Z'] });
    await attempt(h.store, {
      jobId: 'customers',
      handler: fail(new PermanentError('BAD_INPUT', 'no customers for 2024-04-30')),
      at: ['2024-05-01T10:01:00.000Z', '2024-05-01T10:02:00.000Z'],
    });

    const finished = await record(
      runFinished('FAILED', ['extract', 'orders', 'customers', 'load', 'report'], { caught: { Error: 'PhiJobFailed', Cause: 'job customers failed' } }),
      h.deps(FINISHED),
    );

    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      completedAt: FINISHED,
      jobs: {
        extract: { status: JobStatus.SUCCEEDED, attempts: 1 },
        orders: { status: JobStatus.FAILED, attempts: 1, errorCode: 'SCHEMA_DRIFT' },
        customers: { status: JobStatus.FAILED, attempts: 1, errorCode: 'BAD_INPUT' },
        load: { status: JobStatus.SKIPPED, attempts: 0, reason: 'UPSTREAM_FAILED' },
        report: { status: JobStatus.SKIPPED, attempts: 0, reason: 'UPSTREAM_FAILED' },
      },
      error: { code: 'BAD_INPUT', message: 'no customers for 2024-04-30', jobId: 'customers' },
    });
    expect(await h.store.getRun(RUN_ID)).toEqual(finished);
  });

  it('puts the caught error in run.error when no job attempt failed', async () => {
    const h = harness();
    await startedRun(h);
    const finished = await record(runFinished('FAILED', ['extract'], { caught: { Error: 'States.Runtime', Cause: 'an ASL path did not resolve' } }), h.deps(FINISHED));
    expect(finished).toMatchObject({
      status: RunStatus.FAILED,
      jobs: { extract: { status: JobStatus.SKIPPED, attempts: 0, reason: 'UPSTREAM_FAILED' } },
      error: { code: 'States.Runtime', message: 'an ASL path did not resolve' },
    });
  });

  it('keeps the first terminal status when the run is finished twice: a run never leaves a terminal status', async () => {
    const h = harness();
    await startedRun(h);
    await attempt(h.store, { jobId: 'extract', handler: fail(new PermanentError('BAD_INPUT', 'x')) });
    const first = await record(runFinished('FAILED', ['extract']), h.deps(FINISHED));

    const again = await record(runFinished('SUCCEEDED', ['extract']), h.deps('2024-05-01T10:09:00.000Z'));
    const repeated = await record(runFinished('FAILED', ['extract']), h.deps('2024-05-01T10:10:00.000Z'));
    const restarted = await record(event({ action: 'runStarted', run: runInput(), executionArn: EXECUTION_ARN, definitionVersion: 'def-2' }), h.deps('2024-05-01T10:11:00.000Z'));

    expect(restarted).toEqual(runInput());
    expect(again).toEqual(first);
    expect(repeated).toEqual(first);
    const stored = await h.store.requireRun(RUN_ID);
    expect(stored).toEqual(first);
    expect(stored).toMatchObject({ status: RunStatus.FAILED, completedAt: FINISHED, definitionVersion: 'def-1' });
    expect(stored.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED]);
  });
});

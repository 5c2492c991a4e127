/**
 * The task runtime's core (`runTask`, `classifyError`) against an in-memory attempt store, a stepping
 * clock and a capturing logger.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ErrorCategory,
  ErrorInfoSchema,
  ExecErrorCode,
  JobStatus,
  MAX_OUTPUTS_BYTES,
  TRANSIENT_ERROR_NAME,
  TaskResultSchema,
  type ErrorInfo,
  type JobAttemptRecord,
  type JobRuntimeConfig,
  type TaskPayload,
} from '../../lib/model/contract/index.ts';
import type { AttemptClosure } from '../../functions/shared/records/store.ts';
import { classifyError, PhiTransientError, runTask, type AttemptStore } from '../../functions/runtime/core.ts';
import { JobError, PermanentError, TransientError, type Parameters, type TaskContext, type TaskHandler } from '../../functions/runtime/index.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T10:00:02.500Z';
const RUN_ID = 'k-0123456789abcdef0123456789abcdef';
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${RUN_ID}`;

function jobConfig(overrides: Partial<JobRuntimeConfig> = {}): JobRuntimeConfig {
  return {
    pipelineId: 'daily-sales',
    jobId: 'extract',
    parameters: { region: 'eu-west-1', date: 'from-config', limit: 10 },
    maxAttempts: 3,
    retryableErrors: [],
    nonRetryableErrors: [],
    definitionVersion: 'def-1',
    ...overrides,
  };
}

function taskPayload(retryCount = 0, parameters: Parameters = {}): TaskPayload {
  return {
    run: { runId: RUN_ID, pipelineId: 'daily-sales', trigger: 'SCHEDULE', scheduledTime: '2024-05-01T10:00:00Z', parameters },
    jobId: 'extract',
    retryCount,
    executionArn: EXECUTION_ARN,
  };
}

interface CloseCall {
  readonly runId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly closure: AttemptClosure;
}

/** An attempt store over the shared in-memory store that also keeps what each call was given. */
function recordingStore(memory = new MemoryRecordStore()): { store: AttemptStore; memory: MemoryRecordStore; started: JobAttemptRecord[]; finished: JobAttemptRecord[]; closed: CloseCall[] } {
  const started: JobAttemptRecord[] = [];
  const finished: JobAttemptRecord[] = [];
  const closed: CloseCall[] = [];
  const store: AttemptStore = {
    startAttempt: async (record) => {
      started.push(structuredClone(record));
      await memory.startAttempt(record);
    },
    finishAttempt: async (record) => {
      finished.push(structuredClone(record));
      await memory.finishAttempt(record);
    },
    closeAttempt: async (runId, jobId, attempt, closure) => {
      closed.push(structuredClone({ runId, jobId, attempt, closure }));
      await memory.closeAttempt(runId, jobId, attempt, closure);
    },
  };
  return { store, memory, started, finished, closed };
}

function run(handler: TaskHandler, opts: { config?: JobRuntimeConfig; payload?: TaskPayload; memory?: MemoryRecordStore } = {}) {
  const { store, memory, started, finished, closed } = recordingStore(opts.memory);
  const { log, lines } = captureLogs({ component: 'task-runtime' });
  const result = runTask(opts.config ?? jobConfig(), opts.payload ?? taskPayload(), handler, { store, log, now: clock(T0, T1) });
  return { result, memory, started, finished, closed, lines };
}

async function onlyAttempt(memory: MemoryRecordStore): Promise<JobAttemptRecord> {
  const attempts = await memory.listAttempts(RUN_ID);
  expect(attempts).toHaveLength(1);
  return attempts[0] as JobAttemptRecord;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A handler that answers a value the TaskHandler type does not allow, as plain JavaScript could. */
const returning = (value: unknown): TaskHandler => (() => value) as unknown as TaskHandler;

const throwing =
  (err: unknown): TaskHandler =>
  () => {
    throw err;
  };

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

describe('runTask: a successful attempt', () => {
  it('records the attempt RUNNING as it starts, then SUCCEEDED with outputs, checksum, duration and transitions', async () => {
    const outputs = { rows: 1200, files: ['a.csv', 'b.csv'], meta: { source: 'feed', ok: true } };
    const { result, memory, started } = run(() => outputs);

    await expect(result).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });

    expect(started).toHaveLength(1);
    expect(started[0]).toEqual({
      runId: RUN_ID,
      pipelineId: 'daily-sales',
      jobId: 'extract',
      attempt: 1,
      status: JobStatus.RUNNING,
      definitionVersion: 'def-1',
      parameters: { region: 'eu-west-1', date: 'from-config', limit: 10 },
      startedAt: T0,
      transitions: [{ status: JobStatus.RUNNING, at: T0 }],
    });

    const record = await onlyAttempt(memory);
    expect(record).toEqual({
      ...started[0],
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
    expect(record.errorCode).toBeUndefined();
    expect(record.willRetry).toBeUndefined();
  });

  it('returns a result the state machine can parse as a TaskResult', async () => {
    const { result } = run(() => ({ rows: 1 }));
    const answer = await result;
    expect(TaskResultSchema.parse(answer)).toStrictEqual(answer);
  });

  it('returns only status and attempt: the outputs stay in the attempt record, out of the Step Functions state', async () => {
    const outputs = { rows: 1, report: 'x'.repeat(10_000) };
    const { result, memory } = run(() => outputs);
    const answer = await result;
    expect(answer).toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect(answer).not.toHaveProperty('outputs');
    expect(JSON.stringify(answer)).not.toContain('rows');
    expect((await onlyAttempt(memory)).outputs).toEqual(outputs);
  });

  it('numbers the attempt retryCount + 1, in the record, the context and the result', async () => {
    let seen: number | undefined;
    const { result, memory } = run(
      (ctx) => {
        seen = ctx.attempt;
        return { ok: true };
      },
      { payload: taskPayload(2) },
    );
    await expect(result).resolves.toMatchObject({ status: JobStatus.SUCCEEDED, attempt: 3 });
    expect(seen).toBe(3);
    expect((await onlyAttempt(memory)).attempt).toBe(3);
  });

  it('merges parameters pipeline/job config < run overrides, for the handler and the record', async () => {
    let seen: Parameters | undefined;
    const { result, memory } = run(
      (ctx) => {
        seen = ctx.parameters;
      },
      { payload: taskPayload(0, { date: '2024-04-30', dryRun: true }) },
    );
    await result;
    const merged = { region: 'eu-west-1', date: '2024-04-30', limit: 10, dryRun: true };
    expect(seen).toEqual(merged);
    expect((await onlyAttempt(memory)).parameters).toEqual(merged);
  });

  it('gives the handler its run, job, trigger, scheduled time and execution', async () => {
    let seen: Omit<TaskContext, 'log' | 'parameters'> | undefined;
    const { result } = run((ctx) => {
      const { log: _log, parameters: _parameters, ...rest } = ctx;
      seen = rest;
    });
    await result;
    expect(seen).toEqual({
      pipelineId: 'daily-sales',
      runId: RUN_ID,
      jobId: 'extract',
      attempt: 1,
      maxAttempts: 3,
      trigger: 'SCHEDULE',
      scheduledTime: '2024-05-01T10:00:00Z',
      executionArn: EXECUTION_ARN,
    });
  });

  it('checksums the canonical JSON of the outputs, so key order does not change outputChecksum', async () => {
    const first = run(() => ({ b: 1, a: { d: [1, { f: 'x', e: null }], c: 2 } }));
    const reordered = run(() => ({ a: { c: 2, d: [1, { e: null, f: 'x' }] }, b: 1 }));
    const other = run(() => ({ a: { c: 2, d: [{ e: null, f: 'x' }, 1] }, b: 1 }));
    await Promise.all([first.result, reordered.result, other.result]);

    const checksumOf = async (memory: MemoryRecordStore) => (await onlyAttempt(memory)).outputChecksum;
    const expected = sha256('{"a":{"c":2,"d":[1,{"e":null,"f":"x"}]},"b":1}');
    expect(await checksumOf(first.memory)).toBe(expected);
    expect(await checksumOf(reordered.memory)).toBe(expected);
    // Array order is data: it does change the checksum.
    expect(await checksumOf(other.memory)).not.toBe(expected);
  });

  it('treats a handler that returns nothing as a success with empty outputs', async () => {
    const { result, memory } = run(() => undefined);
    await expect(result).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    const record = await onlyAttempt(memory);
    expect(record.outputs).toEqual({});
    expect(record.outputChecksum).toBe(sha256('{}'));
  });

  it('awaits an async handler before recording its outputs', async () => {
    const { result, memory } = run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { late: 'yes' };
    });
    await expect(result).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    expect((await onlyAttempt(memory)).outputs).toEqual({ late: 'yes' });
  });

  it('writes log lines, the runtime’s and the handler’s own, that carry pipelineId, runId, jobId and attempt', async () => {
    const { result, lines } = run(
      (ctx) => {
        ctx.log.info('fetching', { date: ctx.parameters.date });
        return { rows: 1 };
      },
      { payload: taskPayload(1) },
    );
    await result;
    expect(lines.map((l) => l.message)).toEqual(['attempt started', 'fetching', 'attempt succeeded']);
    for (const line of lines) {
      expect(line).toMatchObject({ component: 'task-runtime', pipelineId: 'daily-sales', runId: RUN_ID, jobId: 'extract', attempt: 2 });
      expect(typeof line.timestamp).toBe('string');
    }
    expect(lines[0]).toMatchObject({ level: 'INFO', maxAttempts: 3 });
    expect(lines[1]).toMatchObject({ level: 'INFO', date: 'from-config' });
    expect(lines[2]).toMatchObject({ level: 'INFO', durationMs: 2500 });
  });
});

describe('runTask: a handler that returns something other than a JSON object', () => {
  it.each([
    ['a string', 'done'],
    ['an array', [{ rows: 1 }]],
    ['a number', 42],
    ['a boolean', true],
    ['an object holding a non-JSON value', { at: new Date(0), fn: () => 1 }],
  ])('fails permanently with EXEC_003_INVALID_OUTPUT when it returns %s, and returns FAILED without throwing', async (_what, value) => {
    const { result, memory } = run(returning(value));
    const answer = await result;
    expect(answer).toEqual({
      status: JobStatus.FAILED,
      attempt: 1,
      error: { code: ExecErrorCode.INVALID_OUTPUT, message: expect.any(String), category: ErrorCategory.PERMANENT },
    });
    const record = await onlyAttempt(memory);
    expect(record).toMatchObject({
      status: JobStatus.FAILED,
      errorCode: ExecErrorCode.INVALID_OUTPUT,
      errorCategory: ErrorCategory.PERMANENT,
      willRetry: false,
    });
    expect(record.outputs).toBeUndefined();
    expect(record.outputChecksum).toBeUndefined();
  });
});

describe('runTask: outputs over MAX_OUTPUTS_BYTES', () => {
  /** Outputs whose JSON, `{"blob":"…"}`, is exactly `bytes` bytes of ASCII. */
  const outputsOf = (bytes: number) => ({ blob: 'x'.repeat(bytes - '{"blob":""}'.length) });

  it('keeps outputs of exactly 32 KiB, the limit the README documents', async () => {
    const outputs = outputsOf(32 * 1024);
    const { result, memory } = run(() => outputs);
    await expect(result).resolves.toStrictEqual({ status: JobStatus.SUCCEEDED, attempt: 1 });
    const kept = (await onlyAttempt(memory)).outputs;
    expect(kept).toEqual(outputs);
    expect(Buffer.byteLength(JSON.stringify(kept))).toBe(32 * 1024);
  });

  it('fails permanently with EXEC_003_INVALID_OUTPUT one byte over, returning FAILED (never retried) and keeping no outputs', async () => {
    const { result, memory } = run(() => outputsOf(MAX_OUTPUTS_BYTES + 1), { payload: taskPayload(0) });
    const answer = await result;
    expect(answer).toStrictEqual({
      status: JobStatus.FAILED,
      attempt: 1,
      error: { code: ExecErrorCode.INVALID_OUTPUT, message: expect.stringContaining(String(MAX_OUTPUTS_BYTES + 1)), category: ErrorCategory.PERMANENT },
    });
    expect((answer as { error: ErrorInfo }).error.message).toContain(String(MAX_OUTPUTS_BYTES));
    const record = await onlyAttempt(memory);
    expect(record).toMatchObject({ status: JobStatus.FAILED, errorCode: ExecErrorCode.INVALID_OUTPUT, errorCategory: ErrorCategory.PERMANENT, willRetry: false });
    expect(record.outputs).toBeUndefined();
    expect(record.outputChecksum).toBeUndefined();
  });

  it('counts UTF-8 bytes, not characters', async () => {
    // 16,400 two-byte characters: under the limit in characters, over it in bytes.
    const outputs = { blob: 'é'.repeat(16_400) };
    expect(JSON.stringify(outputs).length).toBeLessThan(MAX_OUTPUTS_BYTES);
    const { result } = run(() => outputs);
    await expect(result).resolves.toMatchObject({ status: JobStatus.FAILED, error: { code: ExecErrorCode.INVALID_OUTPUT, category: ErrorCategory.PERMANENT } });
  });
});

describe('classifyError (Rule 10)', () => {
  const noLists = { retryableErrors: [], nonRetryableErrors: [] };

  it('makes a code in nonRetryableErrors permanent, even when thrown as TransientError or also listed as retryable', () => {
    expect(classifyError(new TransientError('RATE_LIMITED', 'slow down'), { retryableErrors: [], nonRetryableErrors: ['RATE_LIMITED'] })).toEqual({
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
    expect(classifyError(new TransientError('SOCKET_RESET', 'reset'), lists)).toEqual({ code: 'SOCKET_RESET', message: 'reset', category: ErrorCategory.PERMANENT });
    // An error without a code is EXEC_001_HANDLER_ERROR, which the list does not name either.
    expect(classifyError(new Error('oops'), lists)).toEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'oops', category: ErrorCategory.PERMANENT });
  });

  it('lets the job’s lists override the error’s own category: a listed retryable code is transient even as PermanentError', () => {
    expect(classifyError(new PermanentError('RATE_LIMITED', 'x'), { retryableErrors: ['RATE_LIMITED'], nonRetryableErrors: [] }).category).toBe(ErrorCategory.TRANSIENT);
  });

  it('without lists, follows the error’s category: PermanentError is permanent, TransientError transient', () => {
    expect(classifyError(new PermanentError('BAD_INPUT', 'no such date'), noLists)).toEqual({ code: 'BAD_INPUT', message: 'no such date', category: ErrorCategory.PERMANENT });
    expect(classifyError(new TransientError('RATE_LIMITED', 'slow down'), noLists)).toEqual({ code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT });
  });

  it('treats a coded error without a category as transient', () => {
    expect(classifyError(new JobError('FEED_EMPTY', 'nothing yet'), noLists)).toEqual({ code: 'FEED_EMPTY', message: 'nothing yet', category: ErrorCategory.TRANSIENT });
  });

  it('classifies an Error without a code as EXEC_001_HANDLER_ERROR, transient, keeping its message', () => {
    expect(classifyError(new TypeError('cannot read x of undefined'), noLists)).toEqual({
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
    expect(classifyError('boom', noLists)).toEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'boom', category: ErrorCategory.TRANSIENT });
    expect(classifyError(42, noLists)).toEqual({ code: ExecErrorCode.HANDLER_ERROR, message: '42', category: ErrorCategory.TRANSIENT });
    expect(classifyError(null, noLists)).toEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'null', category: ErrorCategory.TRANSIENT });
    expect(classifyError(undefined, noLists)).toEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'undefined', category: ErrorCategory.TRANSIENT });
  });

  it('reads code, message and category from a thrown plain object', () => {
    expect(classifyError({ code: 'QUOTA', message: 'over quota', category: 'PERMANENT' }, noLists)).toEqual({
      code: 'QUOTA',
      message: 'over quota',
      category: ErrorCategory.PERMANENT,
    });
  });

  it('ignores a category that is not TRANSIENT or PERMANENT', () => {
    expect(classifyError({ code: 'X', message: 'y', category: 'FATAL' }, noLists).category).toBe(ErrorCategory.TRANSIENT);
  });
});

describe('runTask: a transient failure', () => {
  it('throws PhiTransientError, named PhiTransientError, whose message parses as the ErrorInfo', async () => {
    const { result } = run(throwing(new TransientError('RATE_LIMITED', 'the feed asked us to slow down')));
    const err = await caught(result);
    const info: ErrorInfo = { code: 'RATE_LIMITED', message: 'the feed asked us to slow down', category: ErrorCategory.TRANSIENT };

    expect(err).toBeInstanceOf(PhiTransientError);
    expect(err).toBeInstanceOf(Error);
    const e = err as PhiTransientError;
    expect(e.name).toBe('PhiTransientError');
    expect(e.name).toBe(TRANSIENT_ERROR_NAME);
    expect(ErrorInfoSchema.parse(JSON.parse(e.message))).toEqual(info);
    expect(e.info).toEqual(info);
  });

  it('throws PhiTransientError for an uncoded handler error too (EXEC_001_HANDLER_ERROR)', async () => {
    const { result } = run(throwing(new Error('socket hang up')));
    const err = await caught(result);
    expect(err).toBeInstanceOf(PhiTransientError);
    expect(JSON.parse((err as Error).message)).toEqual({ code: ExecErrorCode.HANDLER_ERROR, message: 'socket hang up', category: ErrorCategory.TRANSIENT });
  });

  it.each([
    { retryCount: 0, attempt: 1, willRetry: true },
    { retryCount: 1, attempt: 2, willRetry: true },
    { retryCount: 2, attempt: 3, willRetry: false },
  ])('records attempt $attempt of 3 FAILED with willRetry $willRetry', async ({ retryCount, attempt, willRetry }) => {
    const { result, memory } = run(throwing(new TransientError('RATE_LIMITED', 'slow down')), { payload: taskPayload(retryCount) });
    await expect(result).rejects.toBeInstanceOf(PhiTransientError);
    expect(await onlyAttempt(memory)).toEqual({
      runId: RUN_ID,
      pipelineId: 'daily-sales',
      jobId: 'extract',
      attempt,
      status: JobStatus.FAILED,
      definitionVersion: 'def-1',
      parameters: { region: 'eu-west-1', date: 'from-config', limit: 10 },
      startedAt: T0,
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
    });
  });

  it('records willRetry false when the job allows a single attempt', async () => {
    const { result, memory } = run(throwing(new TransientError('RATE_LIMITED', 'slow down')), { config: jobConfig({ maxAttempts: 1 }) });
    await expect(result).rejects.toBeInstanceOf(PhiTransientError);
    expect((await onlyAttempt(memory)).willRetry).toBe(false);
  });

  it('logs the failure at ERROR with its code, category, willRetry and the run/job/attempt fields', async () => {
    const { result, lines } = run(throwing(new TransientError('RATE_LIMITED', 'slow down')));
    await expect(result).rejects.toThrow();
    const failed = lines.find((l) => l.message === 'attempt failed');
    expect(failed).toMatchObject({
      level: 'ERROR',
      pipelineId: 'daily-sales',
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

describe('runTask: a permanent failure', () => {
  it('returns FAILED with the error (never throws) and records it PERMANENT with willRetry false, even with attempts left', async () => {
    const { result, memory, lines } = run(throwing(new PermanentError('BAD_INPUT', 'no data for that date')));
    const answer = await result;
    const error: ErrorInfo = { code: 'BAD_INPUT', message: 'no data for that date', category: ErrorCategory.PERMANENT };
    expect(answer).toEqual({ status: JobStatus.FAILED, attempt: 1, error });
    expect(TaskResultSchema.parse(answer)).toEqual(answer);

    expect(await onlyAttempt(memory)).toMatchObject({
      attempt: 1,
      status: JobStatus.FAILED,
      completedAt: T1,
      durationMs: 2500,
      errorCode: 'BAD_INPUT',
      errorMessage: 'no data for that date',
      errorCategory: ErrorCategory.PERMANENT,
      willRetry: false,
      transitions: [
        { status: JobStatus.RUNNING, at: T0 },
        { status: JobStatus.FAILED, at: T1 },
      ],
    });
    expect(lines.find((l) => l.message === 'attempt failed')).toMatchObject({ level: 'ERROR', errorCategory: ErrorCategory.PERMANENT, willRetry: false, attempt: 1 });
  });

  it('returns (does not throw) a TransientError the job lists as non-retryable', async () => {
    const { result, memory } = run(throwing(new TransientError('RATE_LIMITED', 'slow down')), {
      config: jobConfig({ nonRetryableErrors: ['RATE_LIMITED'] }),
    });
    await expect(result).resolves.toEqual({
      status: JobStatus.FAILED,
      attempt: 1,
      error: { code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.PERMANENT },
    });
    expect(await onlyAttempt(memory)).toMatchObject({ errorCategory: ErrorCategory.PERMANENT, willRetry: false });
  });

  it('returns (does not throw) a code outside a non-empty retryableErrors', async () => {
    const { result } = run(throwing(new TransientError('SOCKET_RESET', 'reset')), { config: jobConfig({ retryableErrors: ['RATE_LIMITED'] }) });
    await expect(result).resolves.toMatchObject({ status: JobStatus.FAILED, error: { code: 'SOCKET_RESET', category: ErrorCategory.PERMANENT } });
  });
});

describe('runTask: an attempt whose invocation ended without a result', () => {
  const runningAttempt = (attempt: number): JobAttemptRecord => ({
    runId: RUN_ID,
    pipelineId: 'daily-sales',
    jobId: 'extract',
    attempt,
    status: JobStatus.RUNNING,
    definitionVersion: 'def-1',
    parameters: {},
    startedAt: T0,
    transitions: [{ status: JobStatus.RUNNING, at: T0 }],
  });

  it('is closed FAILED when the next attempt starts, and a finished attempt is left as it was', async () => {
    // GIVEN attempt 1 recorded RUNNING and never finished (its Lambda timed out), attempt 2 a normal failure
    const memory = new MemoryRecordStore();
    await memory.startAttempt(runningAttempt(1));
    const { log } = captureLogs();

    // WHEN attempt 2 runs (retryCount 1)
    await runTask(jobConfig(), taskPayload(1), () => ({ ok: true }), { store: memory, log, now: clock(T1) });

    // THEN attempt 1 is closed FAILED, transient, and attempt 2 succeeded
    const [first, second] = await memory.listAttempts(RUN_ID);
    expect(first).toMatchObject({ attempt: 1, status: JobStatus.FAILED, errorCode: ExecErrorCode.TASK_FAILED, errorCategory: ErrorCategory.TRANSIENT, willRetry: true, completedAt: T1 });
    expect(first?.transitions.map((t) => t.status)).toEqual([JobStatus.RUNNING, JobStatus.FAILED]);
    expect(second).toMatchObject({ attempt: 2, status: JobStatus.SUCCEEDED });

    // AND a third attempt leaves the finished attempt 2 untouched
    await runTask(jobConfig(), taskPayload(2), () => ({ ok: true }), { store: memory, log, now: clock(T1) });
    expect((await memory.listAttempts(RUN_ID))[1]).toEqual(second);
  });

  it('closes attempt N-1 through closeAttempt (FAILED, EXEC_004_TASK_FAILED, transient, willRetry) before recording attempt N', async () => {
    const memory = new MemoryRecordStore();
    await memory.startAttempt(runningAttempt(2));
    const { result, closed } = run(() => ({ ok: true }), { payload: taskPayload(2), memory });
    await result;

    expect(closed).toEqual([
      {
        runId: RUN_ID,
        jobId: 'extract',
        attempt: 2,
        closure: {
          status: JobStatus.FAILED,
          at: T0,
          errorCode: ExecErrorCode.TASK_FAILED,
          errorMessage: expect.stringMatching(/attempt 2 ended without a result.*attempt 3 started/),
          errorCategory: ErrorCategory.TRANSIENT,
          willRetry: true,
        },
      },
    ]);
    expect(memory.writes.map((w) => [w.op, w.key.slice(w.key.indexOf('|') + 1)])).toEqual([
      ['startAttempt', 'JOB#extract#002'],
      ['closeAttempt', 'JOB#extract#002'],
      ['startAttempt', 'JOB#extract#003'],
      ['finishAttempt', 'JOB#extract#003'],
    ]);
    expect((await memory.listAttempts(RUN_ID)).map((a) => [a.attempt, a.status])).toEqual([
      [2, JobStatus.FAILED],
      [3, JobStatus.SUCCEEDED],
    ]);
  });

  it('closes nothing on a first attempt', async () => {
    const { result, closed, memory } = run(() => ({ ok: true }));
    await result;
    expect(closed).toEqual([]);
    expect(memory.writes.map((w) => w.op)).toEqual(['startAttempt', 'finishAttempt']);
  });

  it('leaves a previous attempt that recorded its own failure with its own error', async () => {
    const memory = new MemoryRecordStore();
    const first = run(throwing(new TransientError('RATE_LIMITED', 'slow down')), { memory });
    await expect(first.result).rejects.toBeInstanceOf(PhiTransientError);
    const [before] = await memory.listAttempts(RUN_ID);

    await run(() => ({ ok: true }), { payload: taskPayload(1), memory }).result;

    const [after, second] = await memory.listAttempts(RUN_ID);
    expect(after).toEqual(before);
    expect(after).toMatchObject({ status: JobStatus.FAILED, errorCode: 'RATE_LIMITED' });
    expect(second).toMatchObject({ attempt: 2, status: JobStatus.SUCCEEDED });
  });

  it('writes no record for a previous attempt that never recorded one (its invocation never reached the runtime)', async () => {
    const { result, closed, memory } = run(() => ({ ok: true }), { payload: taskPayload(1) });
    await result;
    expect(closed.map((c) => c.attempt)).toEqual([1]);
    expect((await memory.listAttempts(RUN_ID)).map((a) => a.attempt)).toEqual([2]);
  });
});

/**
 * The task runtime's core: runs one attempt of one job's handler, records it, and answers the state
 * machine. Adapters (the Lambda entry, tests) supply the records store and the clock.
 *
 * Permanent failures are returned as `{ status: FAILED }` so Step Functions never retries them;
 * transient failures are thrown as `PhiTransientError` so the state's Retry policy applies.
 */
import { createHash } from 'node:crypto';
import {
  ErrorCategory,
  ExecErrorCode,
  JobStatus,
  MAX_OUTPUTS_BYTES,
  OutputsSchema,
  TRANSIENT_ERROR_NAME,
  type ErrorInfo,
  type JobAttemptRecord,
  type JobRuntimeConfig,
  type TaskPayload,
  type TaskResult,
} from '../../lib/model/contract/index.ts';
import { canonicalJson, jsonBytes } from '../../lib/model/canonical.ts';
import { PhiError } from '../../lib/model/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { RecordStore } from '../shared/records/store.ts';
import type { TaskContext, TaskHandler } from './index.ts';

/** The error thrown to Step Functions for a transient failure. Its message is the `ErrorInfo` as JSON. */
export class PhiTransientError extends PhiError {
  override readonly name = TRANSIENT_ERROR_NAME;
  constructor(readonly info: ErrorInfo) {
    super(info.code, JSON.stringify(info));
  }
}

export type AttemptStore = Pick<RecordStore, 'startAttempt' | 'finishAttempt' | 'closeAttempt'>;

export interface RuntimeDeps {
  readonly store: AttemptStore;
  readonly log: Logger;
  readonly now?: () => Date;
}

/**
 * Classifies a thrown error (spec Rule 10). The job's lists win: a code in `nonRetryableErrors` is
 * permanent; when `retryableErrors` is not empty, only its codes are transient. Otherwise the error's
 * own category, and an error without one is transient (DEFAULT_ERROR_CATEGORY).
 */
export function classifyError(err: unknown, config: Pick<JobRuntimeConfig, 'retryableErrors' | 'nonRetryableErrors'>): ErrorInfo {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; category?: unknown };
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : ExecErrorCode.HANDLER_ERROR;
  const message = typeof e.message === 'string' ? e.message : String(err);
  let category: ErrorCategory;
  if (config.nonRetryableErrors.includes(code)) category = ErrorCategory.PERMANENT;
  else if (config.retryableErrors.length > 0) category = config.retryableErrors.includes(code) ? ErrorCategory.TRANSIENT : ErrorCategory.PERMANENT;
  else if (e.category === ErrorCategory.PERMANENT || e.category === ErrorCategory.TRANSIENT) category = e.category;
  else category = ErrorCategory.TRANSIENT;
  return { code, message, category };
}

export const checksum = (outputs: unknown): string => createHash('sha256').update(canonicalJson(outputs)).digest('hex');

export async function runTask(config: JobRuntimeConfig, payload: TaskPayload, handler: TaskHandler, deps: RuntimeDeps): Promise<TaskResult> {
  const now = deps.now ?? (() => new Date());
  const attempt = payload.retryCount + 1;
  const parameters = { ...config.parameters, ...payload.run.parameters };
  const log = deps.log.child({ pipelineId: config.pipelineId, runId: payload.run.runId, jobId: config.jobId, attempt });
  const startedAt = now().toISOString();
  const base: JobAttemptRecord = {
    runId: payload.run.runId,
    pipelineId: config.pipelineId,
    jobId: config.jobId,
    attempt,
    status: JobStatus.RUNNING,
    definitionVersion: config.definitionVersion,
    parameters,
    startedAt,
    transitions: [{ status: JobStatus.RUNNING, at: startedAt }],
  };
  if (attempt > 1) {
    // The previous attempt failed; if its invocation ended without recording that (a timeout or a
    // crash), its record is still RUNNING and is closed here.
    await deps.store.closeAttempt(base.runId, config.jobId, attempt - 1, {
      status: JobStatus.FAILED,
      at: startedAt,
      errorCode: ExecErrorCode.TASK_FAILED,
      errorMessage: `attempt ${attempt - 1} ended without a result (timeout, crash or lost invocation); attempt ${attempt} started`,
      errorCategory: ErrorCategory.TRANSIENT,
      willRetry: true,
    });
  }
  await deps.store.startAttempt(base);
  log.info('attempt started', { maxAttempts: config.maxAttempts });

  const ctx: TaskContext = {
    pipelineId: config.pipelineId,
    runId: payload.run.runId,
    jobId: config.jobId,
    attempt,
    maxAttempts: config.maxAttempts,
    trigger: payload.run.trigger,
    ...(payload.run.scheduledTime ? { scheduledTime: payload.run.scheduledTime } : {}),
    executionArn: payload.executionArn,
    parameters,
    log,
  };

  let error: ErrorInfo | undefined;
  let outputs: Record<string, unknown> = {};
  try {
    const returned = await handler(ctx);
    const parsed = OutputsSchema.safeParse(returned ?? {});
    const bytes = parsed.success ? jsonBytes(parsed.data) : 0;
    if (!parsed.success) error = { code: ExecErrorCode.INVALID_OUTPUT, message: `the handler returned ${Array.isArray(returned) ? 'an array' : typeof returned}, not a JSON object of outputs`, category: ErrorCategory.PERMANENT };
    else if (bytes > MAX_OUTPUTS_BYTES) error = { code: ExecErrorCode.INVALID_OUTPUT, message: `the handler returned ${bytes} bytes of outputs; at most ${MAX_OUTPUTS_BYTES} are kept: store large results (in S3) and return their key`, category: ErrorCategory.PERMANENT };
    else outputs = parsed.data;
  } catch (err) {
    error = classifyError(err, config);
  }

  const completedAt = now().toISOString();
  const finished = {
    ...base,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(startedAt),
  };
  if (error) {
    const willRetry = error.category === ErrorCategory.TRANSIENT && attempt < config.maxAttempts;
    await deps.store.finishAttempt({
      ...finished,
      status: JobStatus.FAILED,
      transitions: [...base.transitions, { status: JobStatus.FAILED, at: completedAt }],
      errorCode: error.code,
      errorMessage: error.message,
      errorCategory: error.category,
      willRetry,
    });
    log.error('attempt failed', { errorCode: error.code, errorMessage: error.message, errorCategory: error.category, willRetry });
    if (error.category === ErrorCategory.TRANSIENT) throw new PhiTransientError(error);
    return { status: JobStatus.FAILED, attempt, error };
  }
  await deps.store.finishAttempt({
    ...finished,
    status: JobStatus.SUCCEEDED,
    transitions: [...base.transitions, { status: JobStatus.SUCCEEDED, at: completedAt }],
    outputs: outputs as JobAttemptRecord['outputs'],
    outputChecksum: checksum(outputs),
  });
  log.info('attempt succeeded', { durationMs: finished.durationMs });
  return { status: JobStatus.SUCCEEDED, attempt };
}

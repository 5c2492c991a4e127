/**
 * The recorder: the state machine's calls to keep run records and the dead-letter queue true.
 *  - runStarted: the run becomes RUNNING; answers the validated run input (the state from then on).
 *  - jobFailed: a job failed for good: its last attempt is recorded, and one DLQ message is sent.
 *  - runFinished: the run becomes SUCCEEDED/FAILED with a per-job summary.
 * And, from EventBridge, an execution that ended without reaching its own last step (aborted, timed
 * out) closes its run FAILED, so no record stays RUNNING.
 */
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  CaughtErrorSchema,
  DeadLetterMessageSchema,
  ExecutionStatusChangeSchema,
  JOB_FAILED_ERROR_NAME,
  RunInputSchema,
  ErrorCategory,
  ErrorInfoSchema,
  ExecErrorCode,
  JobStatus,
  RecorderEventSchema,
  RunStatus,
  TaskResultSchema,
  type DeadLetterMessage,
  type ErrorInfo,
  type JobAttemptRecord,
  type JobSummary,
  type RecorderEvent,
  type RunInput,
  type RunRecord,
} from '../../infra/model/contract.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { recordStoreFromEnv, type RecordStore } from '../shared/records.ts';

export interface RecorderDeps {
  readonly store: Pick<RecordStore, 'markRunRunning' | 'finishRun' | 'listAttempts' | 'finishAttempt'>;
  readonly sendDeadLetter: (message: DeadLetterMessage) => Promise<void>;
  readonly log: Logger;
  readonly now?: () => Date;
}

/**
 * What a failed task's outcome says about the error. A permanent failure arrives as the job's own
 * result; anything else as Step Functions' `{ Error, Cause }`, where a Lambda error's Cause is
 * `{"errorType","errorMessage",...}` and the runtime's transient errors carry their `ErrorInfo` as
 * the message.
 */
export function errorFromOutcome(outcome: unknown): { error: ErrorInfo; attempt?: number } {
  const asResult = TaskResultSchema.safeParse((outcome as { result?: unknown } | null)?.result);
  if (asResult.success && asResult.data.status === JobStatus.FAILED) return { error: asResult.data.error, attempt: asResult.data.attempt };
  const caught = CaughtErrorSchema.safeParse(outcome);
  if (!caught.success) return { error: { code: ExecErrorCode.TASK_FAILED, message: `unrecognised task outcome: ${JSON.stringify(outcome)}`, category: ErrorCategory.TRANSIENT } };
  const { Error: name, Cause: cause = '' } = caught.data;
  const lambdaError = tryJson(cause) as { errorMessage?: unknown } | undefined;
  const info = ErrorInfoSchema.safeParse(tryJson(typeof lambdaError?.errorMessage === 'string' ? lambdaError.errorMessage : ''));
  if (info.success) return { error: info.data };
  if (name === 'States.Timeout' || name === 'Sandbox.Timedout') {
    return { error: { code: ExecErrorCode.TIMEOUT, message: `the attempt timed out (${name})`, category: ErrorCategory.TRANSIENT } };
  }
  const message = typeof lambdaError?.errorMessage === 'string' ? lambdaError.errorMessage : cause;
  return { error: { code: ExecErrorCode.TASK_FAILED, message: `${name}: ${message}`.slice(0, 2000), category: ErrorCategory.TRANSIENT } };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const latestByJob = (attempts: readonly JobAttemptRecord[]): Map<string, JobAttemptRecord> => {
  const latest = new Map<string, JobAttemptRecord>();
  for (const a of attempts) if ((latest.get(a.jobId)?.attempt ?? 0) < a.attempt) latest.set(a.jobId, a);
  return latest;
};

export async function record(event: RecorderEvent, deps: RecorderDeps): Promise<RunInput | RunRecord | DeadLetterMessage> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const log = deps.log.child({ pipelineId: event.run.pipelineId, runId: event.run.runId, action: event.action });
  switch (event.action) {
    case 'runStarted': {
      const { run } = event;
      await deps.store.markRunRunning({ ...run, executionArn: event.executionArn, definitionVersion: event.definitionVersion }, now);
      log.info('run started', { executionArn: event.executionArn });
      return run;
    }
    case 'jobFailed': {
      const { error, attempt } = errorFromOutcome(event.outcome);
      const attempts = (await deps.store.listAttempts(event.run.runId)).filter((a) => a.jobId === event.jobId);
      const last = attempts.reduce<JobAttemptRecord | undefined>((max, a) => (a.attempt > (max?.attempt ?? 0) ? a : max), undefined);
      // An attempt the runtime never finished (timeout, crash) is closed here with what Step Functions saw.
      if (last && last.status === JobStatus.RUNNING) {
        await deps.store.finishAttempt({
          ...last,
          status: JobStatus.FAILED,
          completedAt: now,
          durationMs: Date.parse(now) - Date.parse(last.startedAt),
          transitions: [...last.transitions, { status: JobStatus.FAILED, at: now }],
          errorCode: error.code,
          errorMessage: error.message,
          errorCategory: error.category,
          willRetry: false,
        });
      }
      const lastError: ErrorInfo =
        last?.errorCode && last.status === JobStatus.FAILED && last.errorCategory
          ? { code: last.errorCode, message: last.errorMessage ?? '', category: last.errorCategory }
          : error;
      const message = DeadLetterMessageSchema.parse({
        kind: 'phi.job.failed',
        pipelineId: event.run.pipelineId,
        runId: event.run.runId,
        jobId: event.jobId,
        attempts: attempt ?? last?.attempt ?? event.maxAttempts,
        errorCode: lastError.code,
        errorMessage: lastError.message,
        errorCategory: lastError.category,
        parameters: last?.parameters ?? event.run.parameters,
        executionArn: event.executionArn,
        trigger: event.run.trigger,
        ...(event.run.scheduledTime ? { scheduledTime: event.run.scheduledTime } : {}),
        failedAt: now,
      });
      await deps.sendDeadLetter(message);
      log.error('job failed permanently', { jobId: event.jobId, errorCode: message.errorCode, attempts: message.attempts });
      return message;
    }
    case 'runFinished': {
      const latest = latestByJob(await deps.store.listAttempts(event.run.runId));
      const jobs: Record<string, JobSummary> = {};
      let firstFailure: { jobId: string; attempt: JobAttemptRecord } | undefined;
      for (const jobId of event.jobIds ?? [...latest.keys()].sort()) {
        const attempt = latest.get(jobId);
        if (!attempt) {
          jobs[jobId] = { status: JobStatus.SKIPPED, attempts: 0, reason: 'UPSTREAM_FAILED' };
          continue;
        }
        jobs[jobId] = { status: attempt.status, attempts: attempt.attempt, ...(attempt.errorCode && attempt.status === JobStatus.FAILED ? { errorCode: attempt.errorCode } : {}) };
        if (attempt.status === JobStatus.FAILED && (!firstFailure || (attempt.completedAt ?? '') < (firstFailure.attempt.completedAt ?? ''))) firstFailure = { jobId, attempt };
      }
      // A run that failed because a job did names that job's error; one that ended otherwise (aborted,
      // timed out, a recorder step failing) names what ended it.
      const jobFailed = event.caught === undefined || event.caught.Error === JOB_FAILED_ERROR_NAME;
      const error =
        event.status !== RunStatus.FAILED
          ? undefined
          : jobFailed && firstFailure
            ? { code: firstFailure.attempt.errorCode ?? ExecErrorCode.TASK_FAILED, message: firstFailure.attempt.errorMessage ?? '', jobId: firstFailure.jobId }
            : { code: event.caught?.Error ?? ExecErrorCode.TASK_FAILED, message: event.caught?.Cause ?? 'the run failed' };
      const finished = await deps.store.finishRun(event.run.runId, { status: event.status, at: now, jobs, ...(error ? { error } : {}) });
      log.info('run finished', { status: finished.status });
      return finished;
    }
  }
}

let lambdaDeps: RecorderDeps | undefined;
function depsFromEnv(): RecorderDeps {
  const queueUrl = process.env.PHI_DLQ_URL;
  if (!queueUrl) throw new Error('PHI_DLQ_URL is not set');
  const sqs = new SQSClient({});
  return {
    store: recordStoreFromEnv(),
    log: createLogger({ component: 'recorder' }),
    sendDeadLetter: async (message) => {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(message),
          MessageAttributes: {
            pipelineId: { DataType: 'String', StringValue: message.pipelineId },
            jobId: { DataType: 'String', StringValue: message.jobId },
            errorCode: { DataType: 'String', StringValue: message.errorCode },
          },
        }),
      );
    },
  };
}

/** Turns an execution status change into the `runFinished` it stands for. */
export function fromStatusChange(event: unknown): RecorderEvent | undefined {
  const change = ExecutionStatusChangeSchema.safeParse(event);
  if (!change.success) return undefined;
  const { detail } = change.data;
  return {
    action: 'runFinished',
    run: RunInputSchema.parse(JSON.parse(detail.input)),
    executionArn: detail.executionArn,
    status: RunStatus.FAILED,
    caught: { Error: `EXECUTION_${detail.status}`, Cause: detail.cause ?? detail.error ?? `the execution ended ${detail.status}` },
  };
}

export async function handler(event: unknown): Promise<unknown> {
  lambdaDeps ??= depsFromEnv();
  return record(fromStatusChange(event) ?? RecorderEventSchema.parse(event), lambdaDeps);
}

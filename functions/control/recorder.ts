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
  ErrorCategory,
  ErrorInfoSchema,
  ExecErrorCode,
  ExecutionStatusChangeSchema,
  JOB_FAILED_ERROR_NAME,
  JobStatus,
  RecorderEventSchema,
  RunInputSchema,
  RunStatus,
  SkipReason,
  TaskResultSchema,
  TERMINAL_RUN_STATUSES,
  type DeadLetterMessage,
  type ErrorInfo,
  type JobAttemptRecord,
  type JobSummary,
  type RecorderEvent,
  type RunInput,
  type RunRecord,
} from '../../lib/model/contract/index.ts';
import { ConfigurationError } from '../../lib/model/errors.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { latestByJob, type RecordStore } from '../shared/records/store.ts';

export interface RecorderDeps {
  readonly store: Pick<RecordStore, 'markRunRunning' | 'finishRun' | 'requireRun' | 'listAttempts' | 'closeAttempt' | 'claimDeadLetter' | 'markDeadLetterSent'>;
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

/** Every job upstream of `jobId` in `graph`, transitively. */
function upstreamOf(jobId: string, graph: Readonly<Record<string, readonly string[]>>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(graph[jobId] ?? [])];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(graph[id] ?? []));
  }
  return seen;
}

export async function record(event: RecorderEvent, deps: RecorderDeps): Promise<RunInput | RunRecord | DeadLetterMessage> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const log = deps.log.child({ pipelineId: event.run.pipelineId, runId: event.run.runId, action: event.action });
  switch (event.action) {
    case 'runStarted': {
      const { run } = event;
      await deps.store.markRunRunning({ ...run, executionArn: event.executionArn, definitionVersion: event.definitionVersion, graph: event.graph }, now);
      log.info('run started', { executionArn: event.executionArn });
      return run;
    }
    case 'jobFailed': {
      const { error, attempt } = errorFromOutcome(event.outcome);
      const last = latestByJob(await deps.store.listAttempts(event.run.runId, event.jobId)).get(event.jobId);
      // An attempt the runtime never finished (timeout, crash) is closed with what Step Functions saw.
      if (last?.status === JobStatus.RUNNING) {
        await deps.store.closeAttempt(event.run.runId, event.jobId, last.attempt, { status: JobStatus.FAILED, at: now, durationMs: Date.parse(now) - Date.parse(last.startedAt), errorCode: error.code, errorMessage: error.message, errorCategory: error.category, willRetry: false });
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
      // One dead letter per failed job, however often this step is retried.
      if (!(await deps.store.claimDeadLetter(event.run.runId, event.jobId, now))) {
        log.warn('dead letter already sent', { jobId: event.jobId });
        return message;
      }
      await deps.sendDeadLetter(message);
      await deps.store.markDeadLetterSent(event.run.runId, event.jobId, now);
      log.error('job failed permanently', { jobId: event.jobId, errorCode: message.errorCode, attempts: message.attempts });
      return message;
    }
    case 'runFinished': {
      const run = await deps.store.requireRun(event.run.runId);
      if (TERMINAL_RUN_STATUSES.includes(run.status)) return run;
      const latest = latestByJob(await deps.store.listAttempts(event.run.runId));
      const graph = run.graph ?? Object.fromEntries([...latest.keys()].map((id) => [id, []]));
      const jobs: Record<string, JobSummary> = {};
      let firstFailure: { jobId: string; attempt: JobAttemptRecord } | undefined;
      for (const jobId of Object.keys(graph).sort()) {
        const attempt = latest.get(jobId);
        if (attempt?.status === JobStatus.RUNNING) {
          // Still running as the run ends (a sibling failed, or the execution stopped): its result is not used.
          await deps.store.closeAttempt(run.runId, jobId, attempt.attempt, { status: JobStatus.CANCELLED, at: now, durationMs: Date.parse(now) - Date.parse(attempt.startedAt), errorCode: SkipReason.RUN_ENDED, errorMessage: 'the run ended while this attempt ran' });
          jobs[jobId] = { status: JobStatus.CANCELLED, attempts: attempt.attempt, reason: SkipReason.RUN_ENDED };
        } else if (attempt) {
          jobs[jobId] = { status: attempt.status, attempts: attempt.attempt, ...(attempt.errorCode && attempt.status === JobStatus.FAILED ? { errorCode: attempt.errorCode } : {}) };
          if (attempt.status === JobStatus.FAILED && (!firstFailure || (attempt.completedAt ?? '') < (firstFailure.attempt.completedAt ?? ''))) firstFailure = { jobId, attempt };
        }
      }
      for (const jobId of Object.keys(graph).sort()) {
        if (jobs[jobId]) continue;
        const failedUpstream = [...upstreamOf(jobId, graph)].some((id) => jobs[id]?.status === JobStatus.FAILED);
        jobs[jobId] = { status: JobStatus.SKIPPED, attempts: 0, reason: failedUpstream ? SkipReason.UPSTREAM_FAILED : SkipReason.RUN_ENDED };
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
      const finished = await deps.store.finishRun(run.runId, { status: event.status, at: now, jobs, ...(error ? { error } : {}) });
      log.info('run finished', { status: finished.status });
      return finished;
    }
  }
}

let lambdaDeps: RecorderDeps | undefined;
function depsFromEnv(): RecorderDeps {
  const queueUrl = process.env.PHI_DLQ_URL;
  if (!queueUrl) throw new ConfigurationError('PHI_DLQ_URL');
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

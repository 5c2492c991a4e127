/**
 * The recorder: the state machine's calls to keep run records true.
 *  - runStarted: the run becomes RUNNING; answers the validated run input (the state from then on).
 *  - jobAbandoned: a job's own function could not close its job (it could not be invoked, or failed
 *    while deciding on a failure): the job is failed in its place, with its one dead letter, and its
 *    dependents are released (from the run's graph) so that none waits forever.
 *  - runFinished: every job has ended (or the jobs' Map failed): the run becomes SUCCEEDED when no job
 *    failed, FAILED otherwise, with a per-job summary.
 * And, from EventBridge, an execution that ended without reaching its own last step (aborted, timed
 * out) closes its run FAILED, so no record stays RUNNING.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PhiError, describeError } from '../../lib/model/errors.ts';
import {
  ErrorCategory,
  ExecErrorCode,
  ExecutionStatusChangeSchema,
  JobStatus,
  RecorderEventSchema,
  RunInputSchema,
  RunStatus,
  SkipReason,
  summaryWithin,
  TERMINAL_RUN_STATUSES,
  TriggerType,
  type DeadLetterMessage,
  type JobAttemptRecord,
  type JobGraph,
  type JobStateRecord,
  type JobSummary,
  type RecorderEvent,
  type RunInput,
  type RunEvent,
  type RunRecord,
  runEndedEvent,
  runStartedEvent,
} from '../../lib/model/contract/index.ts';
import { jsonBytes } from '../../lib/model/canonical.ts';
import { jobFailureSamples, METRIC_DIMENSIONS, runEndMetrics, runStartMetrics } from '../../lib/model/contract/metrics.ts';
import { emitMetrics } from '../shared/metrics.ts';
import { deadLetterOf, deadLetterSenderFromEnv, sendDeadLetterOnce } from '../shared/dead-letters.ts';
import { errorFromCaught } from '../shared/failures.ts';
import { graphOfRun, jobListsFromS3, type JobLists } from '../shared/job-lists.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { cancelledAt, latestByJob, type RecordStore } from '../shared/records/store.ts';
import { releaseDependents, sendTaskToken, type ReleaseDeps } from '../shared/release.ts';

export interface RecorderDeps {
  readonly store: Pick<
    RecordStore,
    'markRunRunning' | 'finishRun' | 'requireRun' | 'listAttempts' | 'listJobStates' | 'getJobState' | 'closeAttempt' | 'endJob' | 'recordUpstreamEnded' | 'claimReady' | 'claimDeadLetter' | 'releaseDeadLetterClaim' | 'markDeadLetterSent'
  >;
  readonly sendDeadLetter: (message: DeadLetterMessage) => Promise<void>;
  readonly sendToken: ReleaseDeps['sendToken'];
  /** Where a run's graph is read from (its job list). */
  readonly jobLists: JobLists;
  /**
   * Publishes a run's `Phi Run Started` / `Phi Run Ended` event (EventBridge, default bus). A publish
   * that fails is logged and never fails the recording. @default none is published
   */
  readonly publishRunEvent?: (event: RunEvent) => Promise<void>;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** Publishes `event` if there is one and a publisher: a failure is logged (`run event not published`), never thrown. */
async function publishSafely(event: RunEvent | undefined, deps: Pick<RecorderDeps, 'publishRunEvent'>, log: Logger): Promise<void> {
  if (event === undefined || deps.publishRunEvent === undefined) return;
  try {
    await deps.publishRunEvent(event);
  } catch (err) {
    log.warn('run event not published', { detailType: event.detailType, error: describeError(err) });
  }
}

/** The jobs that wait for `jobId` in `graph` (job → its upstreams), each with how many upstreams it has. */
export function dependentsIn(graph: JobGraph, jobId: string): { job: string; upstreamCount: number }[] {
  return Object.entries(graph)
    .filter(([, upstream]) => upstream.includes(jobId))
    .map(([job, upstream]) => ({ job, upstreamCount: upstream.length }));
}

export async function record(event: RecorderEvent, deps: RecorderDeps): Promise<RunInput | RunRecord | { jobId: string; status: JobSummary['status'] }> {
  const clock = deps.now ?? (() => new Date());
  const now = clock().toISOString();
  const log = deps.log.child({ pipelineId: event.run.pipelineId, runId: event.run.runId, action: event.action });
  switch (event.action) {
    case 'runStarted': {
      const { run } = event;
      const started = await deps.store.markRunRunning({ ...run, executionArn: event.executionArn, definitionVersion: event.definitionVersion, jobList: event.jobList }, now);
      log.info('run started', { executionArn: event.executionArn });
      // Counted once: by the call that made the run RUNNING (a repeated step finds it started before).
      if (started.startedAt === now) emitMetrics(runStartMetrics(started), { [METRIC_DIMENSIONS.pipeline]: started.pipelineId }, log, clock);
      await publishSafely(runStartedEvent(started), deps, log);
      return run;
    }
    case 'jobAbandoned': {
      const { run, jobId, attempt } = event;
      const caught = errorFromCaught(event.caught);
      const error = { code: ExecErrorCode.ABANDONED, message: `the job's function could not close it: ${caught.code}: ${caught.message}`.slice(0, 2000), category: ErrorCategory.TRANSIENT };
      const last = latestByJob(await deps.store.listAttempts(run.runId, jobId)).get(jobId);
      if (last?.status === JobStatus.RUNNING) {
        await deps.store.closeAttempt(run.runId, jobId, last.attempt, { status: JobStatus.FAILED, at: now, durationMs: Date.parse(now) - Date.parse(last.startedAt), errorCode: error.code, errorMessage: error.message, errorCategory: error.category, willRetry: false });
      }
      const attempts = Math.max(last?.attempt ?? 0, attempt);
      await deps.store.endJob(run.runId, jobId, { status: JobStatus.FAILED, at: now, attempt: attempts, errorCode: error.code });
      // The first end wins: the job's own function may have ended it already (and sent its dead letter).
      const end: { status?: JobSummary['status']; attempt?: number; reason?: string } = (await deps.store.getJobState(run.runId, jobId)) ?? { status: JobStatus.FAILED, attempt: attempts };
      if (end.status === JobStatus.FAILED) {
        // Sent on every delivery until it has been: a send that failed is retried with the step.
        const sent = await sendDeadLetterOnce(deps, deadLetterOf(run, { jobId, attempts, error, parameters: last?.parameters ?? run.parameters, executionArn: event.executionArn, failedAt: now }));
        if (sent) log.error('job abandoned', { jobId, errorCode: caught.code });
      }
      const graph = await graphOfRun(await deps.store.requireRun(run.runId), deps.jobLists, [jobId]);
      const status = end.status ?? JobStatus.FAILED;
      await releaseDependents({ store: deps.store, sendToken: deps.sendToken, log, now: clock }, run.runId, jobId, { status, attempt: end.attempt ?? attempts, ...(end.reason ? { reason: end.reason } : {}) }, dependentsIn(graph, jobId));
      return { jobId, status };
    }
    case 'runFinished': {
      // The summary is built from the run as read; the run is closed only while it still has that
      // status (a start recorded meanwhile brings the graph the summary needs: it is built again).
      for (let read = 1; ; read++) {
        // The run and its jobs' records read at once (the execution's last step: its end waits on this).
        const [run, attempts, states] = await Promise.all([deps.store.requireRun(event.run.runId), deps.store.listAttempts(event.run.runId), deps.store.listJobStates(event.run.runId)]);
        if (TERMINAL_RUN_STATUSES.includes(run.status)) return run;
        const closed = await finishRunFrom(run, attempts, states, event, deps, now, log);
        // Counted once: by the call that closed the run.
        if (TERMINAL_RUN_STATUSES.includes(closed.status) && closed.completedAt === now) emitMetrics({ ...runEndMetrics(closed), JobFailure: jobFailureSamples(closed) }, { [METRIC_DIMENSIONS.pipeline]: closed.pipelineId }, log, clock);
        if (TERMINAL_RUN_STATUSES.includes(closed.status)) await publishSafely(runEndedEvent(closed), deps, log);
        if (TERMINAL_RUN_STATUSES.includes(closed.status) || read >= 3) return closed;
      }
    }
  }
}

/** Closes `run` (as read, not terminal) from its jobs' records: each job's end, the summary and the dead letters. */
async function finishRunFrom(run: RunRecord, attempts: readonly JobAttemptRecord[], states: readonly JobStateRecord[], event: Extract<RecorderEvent, { action: 'runFinished' }>, deps: RecorderDeps, now: string, log: Logger): Promise<RunRecord> {
  const latest = latestByJob(attempts);
  const ended = new Map(states.filter((s) => s.status !== undefined).map((s) => [s.jobId, s]));
  const graph = await graphOfRun(run, deps.jobLists, latest.keys());
  const jobs: Record<string, JobSummary> = {};
  let firstFailure: { jobId: string; at: string; code: string; message: string } | undefined;
  const runCancel = (run.cancellations ?? []).find((c) => c.job === undefined);
  // Why a job without an end has none: the run was cancelled, or it ended otherwise.
  const cut = runCancel ? SkipReason.RUN_CANCELLED : SkipReason.RUN_ENDED;
  for (const jobId of Object.keys(graph).sort()) {
    const state = ended.get(jobId);
    const attempt = latest.get(jobId);
    if (state?.status) {
      jobs[jobId] = { status: state.status, attempts: attempt?.attempt ?? state.attempt ?? 0, ...(state.errorCode ? { errorCode: state.errorCode } : {}), ...(state.reason ? { reason: state.reason } : {}) };
      if (state.status === JobStatus.FAILED && (!firstFailure || (state.completedAt ?? '') < firstFailure.at)) {
        firstFailure = { jobId, at: state.completedAt ?? now, code: state.errorCode ?? attempt?.errorCode ?? ExecErrorCode.TASK_FAILED, message: attempt?.errorMessage ?? '' };
      }
    } else if (attempt?.status === JobStatus.SUCCEEDED || (attempt?.status === JobStatus.FAILED && attempt.willRetry !== true)) {
      // Its attempt ended for good, but its function could not record the job's end (a crash between the two).
      jobs[jobId] = { status: attempt.status, attempts: attempt.attempt, ...(attempt.status === JobStatus.FAILED && attempt.errorCode ? { errorCode: attempt.errorCode } : {}) };
      if (attempt.status === JobStatus.FAILED && (!firstFailure || (attempt.completedAt ?? '') < firstFailure.at)) {
        firstFailure = { jobId, at: attempt.completedAt ?? now, code: attempt.errorCode ?? ExecErrorCode.TASK_FAILED, message: attempt.errorMessage ?? '' };
      }
    } else if (attempt && (attempt.status === JobStatus.RUNNING || attempt.willRetry === true)) {
      // Running, or between two attempts, as the run ended (its execution was stopped): its result is not used.
      if (attempt.status === JobStatus.RUNNING) {
        await deps.store.closeAttempt(run.runId, jobId, attempt.attempt, cancelledAt(attempt, now, cut, 'the run ended while this attempt ran'));
      }
      jobs[jobId] = { status: JobStatus.CANCELLED, attempts: attempt.attempt, reason: cut };
    } else {
      jobs[jobId] = { status: JobStatus.SKIPPED, attempts: attempt?.attempt ?? 0, reason: cut };
    }
    // The job's own end agrees with the summary: a job still running elsewhere cannot end it otherwise
    // later, and when something else ended it first (the job itself, a cancel, a concurrent close of
    // the run), the summary takes that end.
    const summary = jobs[jobId]!;
    if (!state?.status) {
      if (!(await deps.store.endJob(run.runId, jobId, { status: summary.status, at: now, attempt: summary.attempts, ...(summary.reason ? { reason: summary.reason } : {}), ...(summary.errorCode ? { errorCode: summary.errorCode } : {}) }))) {
        const actual = await deps.store.getJobState(run.runId, jobId);
        if (actual?.status) jobs[jobId] = { status: actual.status, attempts: Math.max(summary.attempts, actual.attempt ?? 0), ...(actual.errorCode ? { errorCode: actual.errorCode } : {}), ...(actual.reason ? { reason: actual.reason } : {}) };
      }
    }
  }
  // A run cut short: a late worker may have started an attempt after our read. An attempt starts only
  // while its job has no end (one transaction), and we read attempts after ending the jobs: an attempt
  // that started before its job's end is seen and closed here, never left RUNNING.
  if (Object.values(jobs).some((j) => j.reason === cut)) {
    for (const late of latestByJob(await deps.store.listAttempts(run.runId)).values()) {
      if (late.status !== JobStatus.RUNNING) continue;
      await deps.store.closeAttempt(run.runId, late.jobId, late.attempt, cancelledAt(late, now, cut, 'the run ended as this attempt started'));
    }
  }
  const failed = Object.values(jobs).some((j) => j.status === JobStatus.FAILED);
  const incomplete = Object.values(jobs).some((j) => j.reason === SkipReason.RUN_ENDED);
  const jobCancel = (run.cancellations ?? []).find((c) => c.job !== undefined);
  const status = runCancel || (jobCancel && !failed) ? RunStatus.CANCELLED : event.caught === undefined && !failed && !incomplete ? RunStatus.SUCCEEDED : RunStatus.FAILED;
  // A run that failed because a job did names that job's error; one cancelled names who cancelled
  // it; one that ended otherwise (aborted, timed out, the jobs' Map failing) names what ended it.
  const cancel = runCancel ?? jobCancel;
  const error =
    status === RunStatus.SUCCEEDED
      ? undefined
      : status === RunStatus.CANCELLED && cancel
        ? { code: cancel.job ? SkipReason.JOB_CANCELLED : SkipReason.RUN_CANCELLED, message: `cancelled by ${cancel.by} at ${cancel.at}${cancel.reason ? `: ${cancel.reason}` : ''}`, ...(cancel.job ? { jobId: cancel.job } : {}) }
        : firstFailure
          ? { code: firstFailure.code, message: firstFailure.message, jobId: firstFailure.jobId }
          : { code: event.caught?.Error ?? ExecErrorCode.TASK_FAILED, message: event.caught?.Cause ?? 'the run ended before all of its jobs' };
  // Every job that ended FAILED has its dead letter, whoever ended it (its own function sent it, unless
  // it died first or the run was stopped between its attempt and its end): sent once, before the run closes.
  for (const [jobId, job] of Object.entries(jobs)) {
    if (job.status !== JobStatus.FAILED) continue;
    const attempt = latest.get(jobId);
    const failure = { code: job.errorCode ?? attempt?.errorCode ?? ExecErrorCode.TASK_FAILED, message: attempt?.errorMessage ?? '', category: attempt?.errorCategory ?? ErrorCategory.PERMANENT };
    const failedAt = ended.get(jobId)?.completedAt ?? attempt?.completedAt ?? now;
    await sendDeadLetterOnce(deps, deadLetterOf(run, { jobId, attempts: job.attempts, error: failure, parameters: attempt?.parameters ?? run.parameters, executionArn: event.executionArn, failedAt }));
  }
  // Within DynamoDB's item size whatever the number of jobs: codes and reasons stay on the jobs' states when they would not fit.
  const { jobs: kept, compacted } = summaryWithin(jobs, jsonBytes({ ...run, jobs: undefined, error }));
  const finished = await deps.store.finishRun(run.runId, { status, at: now, jobs: kept, ...(compacted ? { jobsCompacted: true as const } : {}), ...(error ? { error } : {}) }, run.status === RunStatus.PENDING ? RunStatus.PENDING : RunStatus.RUNNING);
  log.info('run finished', { status: finished.status });
  return finished;
}

/**
 * The run an execution stands for: its input, or, for an input that is not a run's (an execution
 * started by hand with other input), what its ARN says: the execution is named by the run id, its
 * state machine `phi-<pipeline>`.
 */
function runOfExecution(executionArn: string, input: string): RunInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    parsed = undefined;
  }
  const run = RunInputSchema.safeParse(parsed);
  if (run.success) return run.data;
  const [, stateMachine = '', runId = ''] = /:execution:([^:]+):([^:]+)$/.exec(executionArn) ?? [];
  return { runId, pipelineId: stateMachine.replace(/^phi-/, ''), trigger: TriggerType.MANUAL, parameters: {} };
}

/** Turns an execution status change into the `runFinished` it stands for. */
export function fromStatusChange(event: unknown): RecorderEvent | undefined {
  const change = ExecutionStatusChangeSchema.safeParse(event);
  if (!change.success) return undefined;
  const { detail } = change.data;
  return {
    action: 'runFinished',
    run: runOfExecution(detail.executionArn, detail.input),
    executionArn: detail.executionArn,
    caught: { Error: `EXECUTION_${detail.status}`, Cause: detail.cause ?? detail.error ?? `the execution ended ${detail.status}` },
  };
}

/** The recorder's dependencies in a Lambda function (the recorder's, the control API's, the sweeper's), from its environment. */
export function recorderDepsFromEnv(log: Logger, store: RecorderDeps['store'] = recordStoreFromEnv(), sfn = new SFNClient({})): RecorderDeps {
  return { store, log, sendDeadLetter: deadLetterSenderFromEnv(), sendToken: sendTaskToken(sfn, log), jobLists: jobListsFromS3(), publishRunEvent: runEventPublisher() };
}

/** Puts a run event on the account's default event bus (the only bus the functions may put on). */
export function runEventPublisher(client = new EventBridgeClient({})): (event: RunEvent) => Promise<void> {
  return async (event) => {
    const out = await client.send(new PutEventsCommand({ Entries: [{ Source: event.source, DetailType: event.detailType, Detail: JSON.stringify(event.detail) }] }));
    // PutEvents answers 200 with the entries it could not put counted.
    if ((out.FailedEntryCount ?? 0) > 0) throw new PhiError('EVT_001_PUT_FAILED', `${out.Entries?.[0]?.ErrorCode ?? 'unknown'}: ${out.Entries?.[0]?.ErrorMessage ?? 'the event was not put'}`);
  };
}

let lambdaDeps: RecorderDeps | undefined;

export async function handler(event: unknown): Promise<unknown> {
  lambdaDeps ??= recorderDepsFromEnv(createLogger({ component: 'recorder' }));
  return record(fromStatusChange(event) ?? RecorderEventSchema.parse(event), lambdaDeps);
}

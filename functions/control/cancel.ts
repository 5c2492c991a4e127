/**
 * Cancelling (spec Rule 16), through the control API.
 * - A whole run: the cancel is recorded with who asked, its execution is stopped, and the run is closed
 *   at once (CANCELLED): running jobs end CANCELLED, jobs not started SKIPPED, both with reason
 *   RUN_CANCELLED. The execution's own status change closes nothing twice.
 * - One job, with a scope (`JOB`, `IMMEDIATE_DEPENDENTS`, `ALL_DOWNSTREAM`): each job in scope that has
 *   not ended ends now, CANCELLED if it had started, SKIPPED if not, reason JOB_CANCELLED; a running
 *   attempt is closed CANCELLED and its child execution stopped where it has one of its own. The
 *   cancelled jobs' dependents are released (those out of scope skip, UPSTREAM_CANCELLED, unless a
 *   COMPLETION edge lets them run), and the rest of the run goes on. The run then ends CANCELLED unless
 *   a job failed.
 */
import { CancelScope, JobStatus, SkipReason, TERMINAL_RUN_STATUSES, type Cancellation, type JobGraph, type RunInput, type RunRecord } from '../../lib/model/contract/index.ts';
import { PhiError } from '../../lib/model/errors.ts';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { createLogger, type Logger } from '../shared/log.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { cancelledAt, latestByJob, type RecordStore } from '../shared/records/store.ts';
import { graphOfRun } from '../shared/job-lists.ts';
import { releaseDependents, type ReleaseDeps } from '../shared/release.ts';
import { dependentsIn, record, recorderDepsFromEnv, type RecorderDeps } from './recorder.ts';

export interface CancelDeps {
  readonly store: Pick<RecordStore, 'requireRun' | 'recordCancellation' | 'listAttempts' | 'listJobStates' | 'closeAttempt' | 'endJob' | 'recordUpstreamEnded' | 'claimReady'>;
  /** Closes the run the way the recorder does at its end. */
  readonly recorder: RecorderDeps;
  /** Stops an execution (the run's, or a job's own child execution); one that has ended already is fine. */
  readonly stopExecution: (executionArn: string, cause: string) => Promise<void>;
  readonly sendToken: ReleaseDeps['sendToken'];
  readonly log: Logger;
  readonly now?: () => Date;
}

export interface CancelRequest {
  /** The caller's identity (IAM ARN), recorded with the cancel. */
  readonly by: string;
  readonly reason?: string;
  /** Cancel this job (and its scope) only; the whole run when absent. */
  readonly job?: string;
  /** @default CancelScope.JOB */
  readonly scope?: CancelScope;
}

/** The run has ended: nothing is left to cancel. */
export class RunEndedError extends PhiError {
  constructor(readonly run: RunRecord) {
    super('API_007_RUN_ENDED', `run ${run.runId} has ended ${run.status}; there is nothing left to cancel`);
  }
}

/** The job is not one of the run's. */
export class JobNotFoundError extends PhiError {
  constructor(runId: string, jobId: string) {
    super('API_008_JOB_NOT_FOUND', `run ${runId} has no job "${jobId}"`);
  }
}

/** The jobs a cancel of `jobId` with `scope` takes, `jobId` first, then downstream in breadth-first order. */
export function jobsInScope(graph: JobGraph, jobId: string, scope: CancelScope): string[] {
  const dependents = (id: string): string[] => dependentsIn(graph, id).map((d) => d.job).sort();
  if (scope === CancelScope.JOB) return [jobId];
  if (scope === CancelScope.IMMEDIATE_DEPENDENTS) return [jobId, ...dependents(jobId)];
  const seen = new Set([jobId]);
  const order = [jobId];
  for (let i = 0; i < order.length; i++) {
    for (const next of dependents(order[i]!)) {
      if (seen.has(next)) continue;
      seen.add(next);
      order.push(next);
    }
  }
  return order;
}

const runInputOf = (run: RunRecord): RunInput => ({ runId: run.runId, pipelineId: run.pipelineId, trigger: run.trigger, parameters: run.parameters, ...(run.scheduledTime ? { scheduledTime: run.scheduledTime } : {}) });

export async function cancel(runId: string, request: CancelRequest, deps: CancelDeps): Promise<RunRecord> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const run = await deps.store.requireRun(runId);
  if (TERMINAL_RUN_STATUSES.includes(run.status)) throw new RunEndedError(run);
  const graph = await graphOfRun(run, deps.recorder.jobLists);
  const log = deps.log.child({ pipelineId: run.pipelineId, runId, cancelledBy: request.by });

  if (request.job === undefined) {
    const cancellation: Cancellation = { by: request.by, at: now, ...(request.reason ? { reason: request.reason } : {}), jobs: Object.keys(graph).sort() };
    if (!(await deps.store.recordCancellation(runId, cancellation))) throw new RunEndedError(await deps.store.requireRun(runId));
    if (run.executionArn) await deps.stopExecution(run.executionArn, `cancelled by ${request.by}${request.reason ? `: ${request.reason}` : ''}`);
    log.info('run cancelled');
    const closed = await record({ action: 'runFinished', run: runInputOf(run), executionArn: run.executionArn ?? '', caught: { Error: 'PhiRunCancelled', Cause: `cancelled by ${request.by}` } }, { ...deps.recorder, ...(deps.now ? { now: deps.now } : {}) });
    return closed as RunRecord;
  }

  const jobId = request.job;
  if (!Object.prototype.hasOwnProperty.call(graph, jobId)) throw new JobNotFoundError(runId, jobId);
  const scope = request.scope ?? CancelScope.JOB;
  const [attempts, states] = await Promise.all([deps.store.listAttempts(runId), deps.store.listJobStates(runId)]);
  const latest = latestByJob(attempts);
  const endedAlready = new Set(states.filter((s) => s.status !== undefined).map((s) => s.jobId));
  const cancelled: { jobId: string; status: JobStatus; attempt: number }[] = [];
  for (const id of jobsInScope(graph, jobId, scope)) {
    if (endedAlready.has(id)) continue;
    const attempt = latest.get(id);
    const status = attempt ? JobStatus.CANCELLED : JobStatus.SKIPPED;
    if (!(await deps.store.endJob(runId, id, { status, at: now, attempt: attempt?.attempt ?? 0, reason: SkipReason.JOB_CANCELLED }))) continue;
    if (attempt?.status === JobStatus.RUNNING) {
      await deps.store.closeAttempt(runId, id, attempt.attempt, cancelledAt(attempt, now, SkipReason.JOB_CANCELLED, `cancelled by ${request.by}`));
      // Only a child execution of its own: never the run's execution, which the job's iteration may share on an emulator.
      if (attempt.taskExecutionArn && attempt.taskExecutionArn !== run.executionArn) await deps.stopExecution(attempt.taskExecutionArn, `job ${id} cancelled by ${request.by}`);
    }
    cancelled.push({ jobId: id, status, attempt: attempt?.attempt ?? 0 });
  }
  await deps.store.recordCancellation(runId, { by: request.by, at: now, job: jobId, scope, ...(request.reason ? { reason: request.reason } : {}), jobs: cancelled.map((c) => c.jobId) });
  for (const c of cancelled) {
    await releaseDependents({ store: deps.store, sendToken: deps.sendToken, log, ...(deps.now ? { now: deps.now } : {}) }, runId, c.jobId, { status: c.status, attempt: c.attempt, reason: SkipReason.JOB_CANCELLED }, dependentsIn(graph, c.jobId));
  }
  log.info('jobs cancelled', { jobId, scope, jobs: cancelled.map((c) => c.jobId) });
  return deps.store.requireRun(runId);
}

/** The cancel's dependencies in the control API's Lambda, from its environment. */
export function cancelDepsFromEnv(): CancelDeps {
  const sfn = new SFNClient({});
  const log = createLogger({ component: 'cancel' });
  const store = recordStoreFromEnv();
  const recorder = recorderDepsFromEnv(log, store, sfn);
  return {
    store,
    recorder,
    sendToken: recorder.sendToken,
    log,
    stopExecution: async (executionArn, cause) => {
      try {
        await sfn.send(new StopExecutionCommand({ executionArn, error: 'PhiCancelled', cause: cause.slice(0, 32_000) }));
      } catch (err) {
        // Ended already (or never started): nothing to stop.
        if ((err as { name?: string }).name !== 'ExecutionDoesNotExist') throw err;
      }
    },
  };
}

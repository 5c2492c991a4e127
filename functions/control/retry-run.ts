/**
 * Retrying an ended run (`POST /runs/{runId}/retry`, `phi retry <runId> [--from-failed]`).
 *
 * The retry is a new run of the same pipeline (trigger `RETRY`) with the run's parameters and scheduled
 * time, recorded with `retryOf` (the run, who asked, when, and whether from its failed jobs). Its run id
 * derives from the retried run and the kind of retry, so asking twice starts one run: the second answer
 * is that run. A retry that fails again is retried in its turn.
 *
 * `fromFailed`: the retry run's execution carries `reuseFrom` (the retried run), and each of its jobs
 * decides as it comes (`functions/runtime/core.ts`): a job that succeeded in the retried run, and whose
 * upstreams all took their outputs so too, does not run again — its attempt takes the outputs (and
 * checksum) of the attempt that made them, `reusedFrom` naming it. Every other job runs: the ones that
 * failed, were skipped or cancelled, and every job downstream of one that runs again (its upstreams'
 * outputs may differ now, whatever its edges: `COMPLETION` and `DATA_READY` ones included).
 */
import { ApiErrorCode, RunStatus, TERMINAL_RUN_STATUSES, type RunRecord } from '../../lib/model/contract/index.ts';
import { PhiError } from '../../lib/model/errors.ts';
import { RecordError, type RecordStore } from '../shared/records/store.ts';
import { retryRequest, StartRefusedError, startRun, type TriggerDeps } from './trigger.ts';

export interface RetryRunDeps {
  readonly store: Pick<RecordStore, 'getRun'>;
  readonly trigger: TriggerDeps;
  readonly now?: () => Date;
}

/** The run to retry has not ended. */
export class RunNotEndedError extends PhiError {
  constructor(readonly run: RunRecord) {
    super(ApiErrorCode.RUN_NOT_ENDED, `run ${run.runId} is ${run.status}: a run is retried once it has ended (cancel it first to retry it now)`);
  }
}

/** `fromFailed` on a run whose jobs all succeeded. */
export class NothingToRetryError extends PhiError {
  constructor(readonly run: RunRecord) {
    super(ApiErrorCode.NOTHING_TO_RETRY, `run ${run.runId} SUCCEEDED: no job of it failed, so --from-failed has nothing to run again (retry it whole without --from-failed)`);
  }
}

/** The retry run would not start by its pipeline's start rules (its active-runs limit): nothing was recorded. */
export class RunRetryRefusedError extends PhiError {
  constructor(readonly runId: string, reason: string) {
    super(ApiErrorCode.RETRY_REFUSED, `the retry of run ${runId} would not start (${reason}); nothing was recorded: try again once the pipeline's active runs have ended`);
  }
}

/** Starts (or finds) the retry of an ended run. Throws `RecordError` REC_001_NOT_FOUND when the run has no record. */
export async function retryRun(runId: string, request: { readonly fromFailed: boolean; readonly by: string }, deps: RetryRunDeps): Promise<{ created: boolean; run: RunRecord }> {
  const original = await deps.store.getRun(runId);
  if (original === undefined) throw new RecordError('REC_001_NOT_FOUND', `run ${runId} does not exist`);
  if (!TERMINAL_RUN_STATUSES.includes(original.status)) throw new RunNotEndedError(original);
  if (request.fromFailed && original.status === RunStatus.SUCCEEDED) throw new NothingToRetryError(original);
  const now = (deps.now ?? deps.trigger.now ?? (() => new Date()))();
  const req = retryRequest(original, { runId, by: request.by, at: now.toISOString(), ...(request.fromFailed ? { fromFailed: true } : {}) });
  try {
    return await startRun(req, deps.trigger);
  } catch (err) {
    if (err instanceof StartRefusedError) throw new RunRetryRefusedError(runId, err.decision.reason ?? 'refused by its start rules');
    throw err;
  }
}

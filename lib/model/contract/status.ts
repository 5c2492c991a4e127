/** The statuses, reasons, trigger kinds and error codes every record, payload and answer speaks in. */

export const RunStatus = {
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  /** Cancelled by an operator: the whole run, or one of its jobs (and the dependents they chose) with nothing failing. */
  CANCELLED: 'CANCELLED',
  /** Never started: a start rule refused it (its record's `startDecision` says which and why). No execution, no jobs. */
  SKIPPED: 'SKIPPED',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED];
/** A run that holds (or may soon hold) an execution: what a limit on active runs counts. */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = [RunStatus.PENDING, RunStatus.RUNNING];

export const JobStatus = {
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  /** Never ran; its `reason` (a `SkipReason`) says why. */
  SKIPPED: 'SKIPPED',
  /** Was running when its run was stopped; its result is not used (reason `RUN_ENDED`). */
  CANCELLED: 'CANCELLED',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];
/** The statuses a job ends in. */
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SKIPPED, JobStatus.CANCELLED];

/** Why a job of a run has no result of its own. */
export const SkipReason = {
  /** An upstream it needed failed (or was skipped because something before it failed). */
  UPSTREAM_FAILED: 'UPSTREAM_FAILED',
  /** An upstream was skipped (a condition was false before it), and `skipOnUpstreamSkip` holds. */
  UPSTREAM_SKIPPED: 'UPSTREAM_SKIPPED',
  /** A `DATA_READY` dependency's condition was false over its upstream's outputs. */
  CONDITION_FALSE: 'CONDITION_FALSE',
  /** The run ended (its execution was stopped, aborted or timed out) before this job finished. */
  RUN_ENDED: 'RUN_ENDED',
  /** The run was cancelled before this job finished (spec Rule 16). */
  RUN_CANCELLED: 'RUN_CANCELLED',
  /** This job was cancelled, on its own or as a dependent of a cancelled job in the cancel's scope (Rule 16). */
  JOB_CANCELLED: 'JOB_CANCELLED',
  /** An upstream it needed was cancelled (it lies beyond the cancel's scope). */
  UPSTREAM_CANCELLED: 'UPSTREAM_CANCELLED',
} as const;

/** Which dependents a job's cancel takes along (spec Rule 16, `cancel_scope`). */
export const CancelScope = {
  /** The job alone. */
  JOB: 'JOB',
  /** The job and the jobs that wait for it directly. */
  IMMEDIATE_DEPENDENTS: 'IMMEDIATE_DEPENDENTS',
  /** The job and every job downstream of it. */
  ALL_DOWNSTREAM: 'ALL_DOWNSTREAM',
} as const;
export type CancelScope = (typeof CancelScope)[keyof typeof CancelScope];
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export const TriggerType = {
  SCHEDULE: 'SCHEDULE',
  API: 'API',
  MANUAL: 'MANUAL',
  EVENT: 'EVENT',
  UPSTREAM: 'UPSTREAM',
  /**
   * `phi backfill`: a past scheduled time started through the API (`scheduledTime`). Its run has the
   * identity a delivery of that time by its schedule would have: the two are one run, recorded with the
   * trigger of whichever came first.
   */
  BACKFILL: 'BACKFILL',
  /**
   * Catch-up (spec Rule 4): a scheduled time its schedule missed, started by the sweeper. Its run has
   * the identity the schedule's delivery of that time would have (the two are one run).
   */
  CATCHUP: 'CATCHUP',
  /** `phi dlq retry`, `phi retry`: a new run of a dead letter's pipeline, or of an ended run's, with its run's parameters (its record's `retryOf` names the letter or the run). */
  RETRY: 'RETRY',
} as const;
export type TriggerType = (typeof TriggerType)[keyof typeof TriggerType];

export const ErrorCategory = {
  TRANSIENT: 'TRANSIENT',
  PERMANENT: 'PERMANENT',
  /** Phi's own storage failed (records, outputs): retried by Phi, never spending one of the job's attempts. */
  INFRASTRUCTURE: 'INFRASTRUCTURE',
} as const;
export type ErrorCategory = (typeof ErrorCategory)[keyof typeof ErrorCategory];

/** Error codes Phi itself assigns, beside the codes a user's handler throws. */
export const ExecErrorCode = {
  /** The handler threw an error that carries no code of its own. */
  HANDLER_ERROR: 'EXEC_001_HANDLER_ERROR',
  /** An attempt ran past its timeout (Step Functions' `States.Timeout`, Lambda's `Sandbox.Timedout`). */
  TIMEOUT: 'EXEC_002_TIMEOUT',
  /** The handler returned something that is not a JSON object of outputs. */
  INVALID_OUTPUT: 'EXEC_003_INVALID_OUTPUT',
  /** The task failed outside the handler (runtime crash, Lambda service error). */
  TASK_FAILED: 'EXEC_004_TASK_FAILED',
  /** The handler's module could not be loaded (it throws at import, or exports no `handler` function). */
  HANDLER_LOAD_FAILED: 'EXEC_005_HANDLER_LOAD_FAILED',
  /** The job's function could not even record its failure; the recorder closed the job in its place. */
  ABANDONED: 'EXEC_006_ABANDONED',
  /** Phi's records or outputs could not be read or written, even after its retries. */
  INFRA_UNAVAILABLE: 'INFRA_001_STORE_UNAVAILABLE',
} as const;

/** The code a run gets when its execution could not be started; a later start of the same run reopens it. */
export const RUN_START_FAILED = 'RUN_START_FAILED';

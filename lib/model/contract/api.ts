/** The control API's bodies and error codes, shared by the API function and its client. */
import { z } from 'zod';
import { CancelScope, JobStatus, RunStatus, TriggerType } from './status.ts';
import { StartDecisionSchema } from './start.ts';
import { ParametersSchema, ScheduleIdSchema } from '../pipeline.ts';
import { JobAttemptRecordSchema, RunRecordSchema } from './records.ts';
import { RunParametersSchema } from './task.ts';

export const ApiErrorCode = {
  INVALID_JSON: 'API_001_INVALID_JSON',
  INVALID_REQUEST: 'API_002_INVALID_REQUEST',
  PIPELINE_NOT_FOUND: 'API_003_PIPELINE_NOT_FOUND',
  RUN_NOT_FOUND: 'API_004_RUN_NOT_FOUND',
  IDEMPOTENCY_CONFLICT: 'API_005_IDEMPOTENCY_CONFLICT',
  ROUTE_NOT_FOUND: 'API_006_ROUTE_NOT_FOUND',
  /** The run has ended: there is nothing left to cancel. */
  RUN_ENDED: 'API_007_RUN_ENDED',
  /** The job to cancel is not one of the run's. */
  JOB_NOT_FOUND: 'API_008_JOB_NOT_FOUND',
  /** Something unexpected failed: the answer carries the request id to look for in the logs. */
  INTERNAL: 'API_009_INTERNAL',
  /** The pipeline's state machine would not start the run (its stack may still be deploying): the run is recorded, and a start with the same idempotency key starts it. */
  RUN_START_FAILED: 'API_010_RUN_START_FAILED',
  /** The run's parameters are not what the pipeline's `runParameters` allows (or it declares none): the answer lists the issues. */
  INVALID_PARAMETERS: 'API_011_INVALID_PARAMETERS',
  /** A backfill's `scheduledTime` is still to come: only a time already past can be backfilled. */
  SCHEDULED_TIME_IN_FUTURE: 'API_012_SCHEDULED_TIME_IN_FUTURE',
  /** No dead letter with that message id waits in the queue (within the scan's bound): retried, purged, expired, or never sent. */
  DEAD_LETTER_NOT_FOUND: 'API_013_DEAD_LETTER_NOT_FOUND',
  /** The retry run of a dead letter or of a run would not start by its pipeline's start rules (its active-runs limit): nothing was started (a letter stays). */
  RETRY_REFUSED: 'API_014_RETRY_REFUSED',
  /** The run to retry has not ended: retry it once it has (or cancel it first). */
  RUN_NOT_ENDED: 'API_015_RUN_NOT_ENDED',
  /** `--from-failed` on a run whose every job succeeded: there is nothing to run again. */
  NOTHING_TO_RETRY: 'API_016_NOTHING_TO_RETRY',
} as const;

/** The deepest JSON a request body may nest. */
export const MAX_BODY_DEPTH = 32;

/**
 * A run id as Phi makes them (`<pipelineId>_k-…`, `_s-…`, `_m-…`; without the pipeline before Phi
 * held job roles to their pipeline's runs), at most 80 characters (it names the execution): anything
 * else names no run.
 */
export const RunIdSchema = z.string().max(80).regex(/^(?:[a-z][a-z0-9-]{0,39}_)?[a-z]-[A-Za-z0-9_-]{1,78}$/, 'not a run id');


/** `POST /runs/{runId}/cancel` body: the whole run, or `job` and the dependents `scope` takes. */
export const CancelRequestSchema = z
  .object({
    job: z.string().min(1).max(64).optional(),
    scope: z.enum(CancelScope).optional(),
    reason: z.string().max(1000).optional(),
  })
  .strict()
  .refine((r) => r.scope === undefined || r.job !== undefined, { message: 'a scope needs the job it starts from', path: ['scope'] });
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

/**
 * `POST /runs/{runId}/retry` body: a new run with the ended run's parameters (and scheduled time);
 * `fromFailed`: only the jobs that did not succeed run again (and their dependents), the others' outputs
 * are reused.
 */
export const RetryRunRequestSchema = z
  .object({
    fromFailed: z.boolean().default(false),
    reason: z.string().max(1000).optional(),
  })
  .strict();
export type RetryRunRequest = z.input<typeof RetryRunRequestSchema>;

/** `POST /runs/{runId}/retry` answer: the retry run (`created: false` when this run was retried so before: that retry). */
export const RetryRunResponseSchema = z.object({ created: z.boolean(), run: RunRecordSchema });
export type RetryRunResponse = z.infer<typeof RetryRunResponseSchema>;

/** `POST /runs/{runId}/cancel` answer: the run as the cancel left it. */
export const CancelResponseSchema = z.object({ run: RunRecordSchema });

/**
 * A backfilled scheduled time as the API keeps it: the UTC instant to the second (`2026-03-29T01:00:00Z`),
 * the form EventBridge Scheduler gives `<aws.scheduler.scheduled-time>` in, so that a backfill of a time
 * and its schedule's delivery of it are one run (the run id hashes the scheduled time as written).
 */
export const canonicalScheduledTime = (iso: string): string => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * `POST /pipelines/{id}/runs` body. `dryRun`: evaluate the start rules and the parameters, record and
 * start nothing (200 with the decision). `force`: start outside the pipeline's execution windows
 * (recorded as forced in the run's `startDecision`). `scheduledTime` (with `scheduleId`, default
 * `default`): a backfill of that scheduled time (trigger `BACKFILL`), an ISO 8601 instant with an offset
 * or `Z`, whole seconds, not in the future (else 400 `API_012_SCHEDULED_TIME_IN_FUTURE`); its run has the
 * identity the schedule's own delivery of that time has, so a repeated backfill or a delivery of the same
 * time answers with the one run. Whether the time is one of the schedule's fire times is the caller's
 * to check (`phi backfill` enumerates them from the definitions). Not with `idempotencyKey`.
 */
export const StartRunRequestSchema = z
  .object({
    parameters: RunParametersSchema.optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    dryRun: z.boolean().optional(),
    force: z.boolean().optional(),
    scheduledTime: z.iso
      .datetime({ offset: true })
      .refine((t) => Number.isFinite(Date.parse(t)) && Date.parse(t) % 1000 === 0, { message: 'a scheduled time is a whole second (schedules fire on whole minutes)' })
      .optional(),
    scheduleId: ScheduleIdSchema.optional(),
  })
  .strict()
  .refine((r) => r.scheduleId === undefined || r.scheduledTime !== undefined, { message: 'a scheduleId needs the scheduledTime it fired at', path: ['scheduleId'] })
  .refine((r) => r.scheduledTime === undefined || r.idempotencyKey === undefined, { message: 'a backfill (scheduledTime) has its identity already: leave out the idempotencyKey', path: ['idempotencyKey'] });
export type StartRunRequest = z.infer<typeof StartRunRequestSchema>;

/** `POST /pipelines/{id}/runs` answer: the run, and whether this request created it. */
export const StartRunResponseSchema = z.object({ created: z.boolean(), run: RunRecordSchema });

/** `POST /pipelines/{id}/runs` with `dryRun: true`: what a start would do now; nothing was recorded or started. */
export const DryRunResponseSchema = z.object({
  dryRun: z.literal(true),
  pipelineId: z.string(),
  /** The start rules' decision as of now (active runs counted, not admitted). */
  decision: StartDecisionSchema,
  /** The run's parameters, the defaults of the pipeline's `runParameters` filled in. */
  parameters: ParametersSchema,
});
export type DryRunResponse = z.infer<typeof DryRunResponseSchema>;

/** The most runs one page of history holds. */
export const MAX_HISTORY_PAGE = 100;

/** `GET /pipelines/{id}/runs?status=&trigger=&limit=&next=`: a page of the pipeline's runs, newest first. */
export const RunHistoryQuerySchema = z
  .object({
    status: z.enum(RunStatus).optional(),
    trigger: z.enum(TriggerType).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_HISTORY_PAGE).default(20),
    /** The `next` of the previous page (opaque). */
    next: z.string().min(1).max(1024).optional(),
  })
  .strict();
export type RunHistoryQuery = z.input<typeof RunHistoryQuerySchema>;

export const RunHistoryResponseSchema = z.object({
  pipelineId: z.string(),
  runs: z.array(RunRecordSchema),
  /** Pass it as `next` for the following page; absent on the last one. */
  next: z.string().optional(),
});
export type RunHistoryResponse = z.infer<typeof RunHistoryResponseSchema>;

/** A run as the API and the CLI show it: the record, and each job's status and attempts in order. */
export const RunViewSchema = z.object({
  run: RunRecordSchema,
  jobs: z.record(z.string(), z.object({ status: z.enum(JobStatus), attempts: z.array(JobAttemptRecordSchema) })),
});
export type RunView = z.infer<typeof RunViewSchema>;

/** How long one job's successful attempts took in a pipeline's recent runs, in milliseconds. */
export const JobDurationsSchema = z.object({ samples: z.number().int().min(1), medianMs: z.number().min(0), p95Ms: z.number().min(0) });
export type JobDurations = z.infer<typeof JobDurationsSchema>;

/** `GET /pipelines/{id}/durations?runs=N`: the observed durations of each job over the pipeline's last N succeeded runs. */
export const DurationsResponseSchema = z.object({
  pipelineId: z.string(),
  /** The runs the samples come from. */
  runs: z.number().int().min(0),
  jobs: z.record(z.string(), JobDurationsSchema),
});
export type DurationsResponse = z.infer<typeof DurationsResponseSchema>;

/** Every error answer: `{ error: { code, message, … } }`. */
export const ErrorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }).passthrough() });

/**
 * One reason a request was refused, in the `issues` of a 400 (`API_002_INVALID_REQUEST`: the body's
 * shape; `API_011_INVALID_PARAMETERS`: the run parameters against the pipeline's `runParameters`): where
 * (`parameters`, `lookbackDays`, `symbols[2]`), why, and the rule that refused it.
 */
export const ApiIssueSchema = z.object({ path: z.string(), message: z.string(), code: z.string() });
export type ApiIssue = z.infer<typeof ApiIssueSchema>;
export const IssuesBodySchema = z.object({ error: z.object({ issues: z.array(ApiIssueSchema) }) });

/** One log line of a run's jobs, as `GET /runs/{runId}/logs` answers it. */
export const RunLogEventSchema = z.object({
  /** When it was written (ISO). */
  at: z.string(),
  jobId: z.string().optional(),
  attempt: z.number().int().optional(),
  level: z.string().optional(),
  message: z.string(),
  /** The line's other structured fields (the handler's own among them). */
  fields: z.record(z.string(), z.unknown()).optional(),
});
export type RunLogEvent = z.infer<typeof RunLogEventSchema>;

/** `GET /runs/{runId}/logs[?job=J][&since=<ms>]`: the run's jobs' log lines, oldest first; `next` is where to go on from (`since`). */
export const RunLogsResponseSchema = z.object({
  runId: z.string(),
  events: z.array(RunLogEventSchema),
  /** Give it as `since` to read the lines written after these. */
  next: z.number().int(),
  /** Whether the run has ended (no more lines will come once they are read). */
  ended: z.boolean(),
});
export type RunLogsResponse = z.infer<typeof RunLogsResponseSchema>;

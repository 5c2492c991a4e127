/** The durable records: one per run, one per attempt of each job. Parsed with these schemas when read back. */
import { z } from 'zod';
import { jsonBytes } from '../canonical.ts';
import { ParametersSchema } from '../pipeline.ts';
import { CancelScope, ErrorCategory, JobStatus, RunStatus, TriggerType } from './status.ts';
import { IsoTimeSchema, OutputsSchema } from './task.ts';
import { JobListRefSchema } from './job-list.ts';
import { StartDecisionSchema } from './start.ts';

export const TransitionSchema = z.object({ status: z.string(), at: IsoTimeSchema });

export const JobSummarySchema = z.object({
  status: z.enum(JobStatus),
  attempts: z.number().int().min(0),
  errorCode: z.string().optional(),
  reason: z.string().optional(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** DynamoDB's item size: a run's record, its summary included, stays within it. */
export const MAX_RECORD_BYTES = 400 * 1024;

/** A job's entry in a summary kept to statuses and attempts (its code and reason are on the job's own state). */
export const compactSummaryEntry = (jobId: string, attempts: number): Record<string, JobSummary> => ({ [jobId]: { status: JobStatus.SUCCEEDED, attempts } });

/**
 * The summary a run's record keeps: every job's end, or, when codes and reasons would take the record
 * (`otherBytes` without its summary) past `MAX_RECORD_BYTES` with a margin, statuses and attempts only.
 */
export function summaryWithin(jobs: Record<string, JobSummary>, otherBytes: number): { jobs: Record<string, JobSummary>; compacted: boolean } {
  const budget = MAX_RECORD_BYTES - 16 * 1024 - otherBytes;
  if (jsonBytes(jobs) <= budget) return { jobs, compacted: false };
  return { jobs: Object.fromEntries(Object.entries(jobs).map(([id, j]) => [id, { status: j.status, attempts: j.attempts }])), compacted: true };
}

/** One cancel asked of a run: the whole run (no `job`), or one job and the dependents its scope takes. */
export const CancellationSchema = z.object({
  by: z.string(),
  at: IsoTimeSchema,
  reason: z.string().optional(),
  job: z.string().optional(),
  scope: z.enum(CancelScope).optional(),
  /** The jobs it ended. */
  jobs: z.array(z.string()),
});
export type Cancellation = z.infer<typeof CancellationSchema>;

/**
 * What a retry run retries, who asked and when: the dead letter (`messageId`, of job `jobId`) of an
 * earlier run (`phi dlq retry`), or a whole earlier run (`phi retry <runId>`; `fromFailed`: only its jobs
 * that did not succeed run again, the others' outputs are reused).
 */
export const RetryOfSchema = z.object({
  runId: z.string(),
  jobId: z.string().optional(),
  messageId: z.string().optional(),
  fromFailed: z.boolean().optional(),
  /** The caller's IAM identity. */
  by: z.string(),
  at: IsoTimeSchema,
});
export type RetryOf = z.infer<typeof RetryOfSchema>;

/** The durable record of one run. */
export const RunRecordSchema = z.object({
  runId: z.string(),
  pipelineId: z.string(),
  status: z.enum(RunStatus),
  trigger: z.enum(TriggerType),
  scheduledTime: IsoTimeSchema.optional(),
  /** The schedule that started it (`default` for a pipeline's one `schedule`); set on every scheduled run. */
  scheduleId: z.string().optional(),
  idempotencyKey: z.string().optional(),
  /** The trigger that started it (trigger `EVENT`: the pipeline's `triggers` id). */
  triggerId: z.string().optional(),
  /** The id of the EventBridge event that started it: with `triggerId`, its identity (a message trigger's run of one message: the SQS message id). */
  eventId: z.string().optional(),
  parameters: ParametersSchema,
  definitionVersion: z.string().optional(),
  executionArn: z.string().optional(),
  queuedAt: IsoTimeSchema,
  startedAt: IsoTimeSchema.optional(),
  completedAt: IsoTimeSchema.optional(),
  durationMs: z.number().optional(),
  transitions: z.array(TransitionSchema),
  /** Where the run's job list (its enabled jobs and their dependencies) is, from the run's start. */
  jobList: JobListRefSchema.optional(),
  jobs: z.record(z.string(), JobSummarySchema).optional(),
  /** The summary keeps statuses and attempts only, the record being within DynamoDB's item size: each job's code and reason are on its own state. */
  jobsCompacted: z.literal(true).optional(),
  error: z.object({ code: z.string(), message: z.string(), jobId: z.string().optional() }).optional(),
  /** Every cancel asked of the run: who (the caller's IAM identity), when, and what. */
  cancellations: z.array(CancellationSchema).optional(),
  /**
   * Whether its start rules let it start (windows, lateness, active runs), with every check: a SKIPPED
   * run's says why it never started, a late scheduled one's `late` and `latenessSeconds`, a forced one's
   * `forced`. Absent on runs recorded before the rules existed and on runs started outside Phi's trigger.
   */
  startDecision: StartDecisionSchema.optional(),
  /** A retry of a dead letter (trigger `RETRY`): the failed job's run, the job, the letter and who retried it. */
  retryOf: RetryOfSchema.optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** How an upstream job ended, as its dependents see it. */
export const UpstreamOutcomeSchema = z.object({
  status: z.enum(JobStatus),
  reason: z.string().optional(),
  /** The attempt whose outputs count (a succeeded job's last). */
  attempt: z.number().int().min(0),
});
export type UpstreamOutcome = z.infer<typeof UpstreamOutcomeSchema>;

/**
 * The state of one job of one run: how its upstreams ended (filled as they end), whether they all
 * have (`ready`, set once by whoever completed the last of them), the task token its Map iteration
 * waits on, and, once it has ended, its own terminal status.
 */
export const JobStateRecordSchema = z.object({
  runId: z.string(),
  jobId: z.string(),
  upstream: z.record(z.string(), UpstreamOutcomeSchema),
  ready: z.boolean(),
  token: z.string().optional(),
  /** Terminal once set; set once. */
  status: z.enum(JobStatus).optional(),
  reason: z.string().optional(),
  attempt: z.number().int().min(0).optional(),
  errorCode: z.string().optional(),
  completedAt: IsoTimeSchema.optional(),
});
export type JobStateRecord = z.infer<typeof JobStateRecordSchema>;

/** The durable record of one attempt of one job. */
export const JobAttemptRecordSchema = z.object({
  runId: z.string(),
  pipelineId: z.string(),
  jobId: z.string(),
  attempt: z.number().int().min(1),
  status: z.enum(JobStatus),
  definitionVersion: z.string(),
  parameters: ParametersSchema,
  startedAt: IsoTimeSchema,
  completedAt: IsoTimeSchema.optional(),
  durationMs: z.number().optional(),
  transitions: z.array(TransitionSchema),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  errorCategory: z.enum(ErrorCategory).optional(),
  willRetry: z.boolean().optional(),
  /** The outputs, when they are small (`MAX_INLINE_OUTPUTS_BYTES`); else `outputsRef`. */
  outputs: OutputsSchema.optional(),
  /** Where larger outputs are kept: an object of the platform's outputs bucket, with their size. */
  outputsRef: z.object({ bucket: z.string(), key: z.string(), bytes: z.number().int().min(0) }).optional(),
  /** SHA-256 of the outputs' canonical JSON. */
  outputChecksum: z.string().optional(),
  /** The job's child execution that ran the attempt (stopped when the job alone is cancelled). */
  taskExecutionArn: z.string().optional(),
  /**
   * A run retried from its failed jobs (`phi retry --from-failed`) did not run this job again: the
   * attempt took the outputs of the attempt that made them (`outputs` or `outputsRef`, and their checksum).
   */
  reusedFrom: z.object({ runId: z.string(), attempt: z.number().int().min(1) }).optional(),
});
export type JobAttemptRecord = z.infer<typeof JobAttemptRecordSchema>;

/**
 * The wire contract between the compiled state machine, the Lambda functions and the records: what a
 * state machine passes to a job and to the recorder, what a job answers, and what is stored in
 * DynamoDB. The plan compiler writes ASL that produces these shapes; `functions/` parses them with
 * these schemas at every boundary. Pure: schemas and constants only.
 */
import { z } from 'zod';
import { jsonBytes } from './canonical.ts';
import { ParametersSchema } from './pipeline.ts';

export const RunStatus = {
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [RunStatus.SUCCEEDED, RunStatus.FAILED];

export const JobStatus = {
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  /** Never ran: an upstream job failed (reason `UPSTREAM_FAILED`), or the run ended first (`RUN_ENDED`). */
  SKIPPED: 'SKIPPED',
  /** Was running when its run ended; its result is not used (reason `RUN_ENDED`). */
  CANCELLED: 'CANCELLED',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

/** Why a job of a finished run has no result of its own. */
export const SkipReason = {
  /** An upstream job failed. */
  UPSTREAM_FAILED: 'UPSTREAM_FAILED',
  /** The run ended (another job failed, or the execution was stopped) before this job finished. */
  RUN_ENDED: 'RUN_ENDED',
} as const;

export const TriggerType = {
  SCHEDULE: 'SCHEDULE',
  API: 'API',
  MANUAL: 'MANUAL',
  EVENT: 'EVENT',
  UPSTREAM: 'UPSTREAM',
} as const;
export type TriggerType = (typeof TriggerType)[keyof typeof TriggerType];

export const ErrorCategory = { TRANSIENT: 'TRANSIENT', PERMANENT: 'PERMANENT' } as const;
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
} as const;

/** The Lambda error name under which the runtime throws a transient failure, for Step Functions to retry. */
export const TRANSIENT_ERROR_NAME = 'PhiTransientError';
/**
 * Outputs are recorded with the attempt, so they stay well under DynamoDB's 400 KB item; pass a
 * reference (an S3 key) to anything larger.
 */
export const MAX_OUTPUTS_BYTES = 32 * 1024;

/** The error a job branch ends with after its failure has been recorded. */
export const JOB_FAILED_ERROR_NAME = 'PhiJobFailed';

const IsoTime = z.string().min(1);

/** A state machine's execution input: one run. */
export const RunInputSchema = z.object({
  runId: z.string().min(1),
  pipelineId: z.string().min(1),
  trigger: z.enum(TriggerType),
  scheduledTime: IsoTime.optional(),
  /** Run overrides: the top layer of every job's parameters. */
  parameters: ParametersSchema.default({}),
});
export type RunInput = z.infer<typeof RunInputSchema>;

/** What the state machine passes to a job's Lambda function. */
export const TaskPayloadSchema = z.object({
  run: RunInputSchema,
  jobId: z.string().min(1),
  /** `$$.State.RetryCount`: 0 on the first attempt. */
  retryCount: z.number().int().min(0),
  executionArn: z.string().min(1),
});
export type TaskPayload = z.infer<typeof TaskPayloadSchema>;

export const ErrorInfoSchema = z.object({
  code: z.string(),
  message: z.string(),
  category: z.enum(ErrorCategory),
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const OutputsSchema = ParametersSchema;

/**
 * What a job's Lambda function returns. A permanent failure is returned, not thrown, so that Step
 * Functions never retries it whatever name the error reaches it under; a transient failure is thrown
 * (as `PhiTransientError`) so that the state's Retry policy applies.
 */
export const TaskResultSchema = z.discriminatedUnion('status', [
  // Outputs stay in the attempt record: Step Functions state carries only what it routes on.
  z.object({ status: z.literal(JobStatus.SUCCEEDED), attempt: z.number().int() }),
  z.object({ status: z.literal(JobStatus.FAILED), attempt: z.number().int(), error: ErrorInfoSchema }),
]);
export type TaskResult = z.infer<typeof TaskResultSchema>;

/** What a Catch hands on: Step Functions' `{ Error, Cause }`. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

export const RecorderEventSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('runStarted'),
    run: RunInputSchema,
    executionArn: z.string(),
    definitionVersion: z.string(),
    /** The pipeline's enabled jobs and their dependencies, kept on the run record. */
    graph: z.record(z.string(), z.array(z.string())),
  }),
  z.object({
    action: z.literal('jobFailed'),
    run: RunInputSchema,
    jobId: z.string(),
    executionArn: z.string(),
    maxAttempts: z.number().int(),
    /** `$.job` as the branch left it: `{ result }` (the job's own answer) or what Catch caught (`{ Error, Cause }`). */
    outcome: z.unknown(),
  }),
  z.object({
    action: z.literal('runFinished'),
    run: RunInputSchema,
    executionArn: z.string(),
    status: z.enum([RunStatus.SUCCEEDED, RunStatus.FAILED]),
    caught: CaughtErrorSchema.optional(),
  }),
]);

/**
 * EventBridge's status-change event for a Phi execution that ended without its own final recorder
 * step (aborted, timed out, or failed inside a recorder step): it closes the run record.
 */
export const ExecutionStatusChangeSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string(),
    status: z.enum(['FAILED', 'TIMED_OUT', 'ABORTED']),
    input: z.string(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});
export type ExecutionStatusChange = z.infer<typeof ExecutionStatusChangeSchema>;
export type RecorderEvent = z.infer<typeof RecorderEventSchema>;

export const TransitionSchema = z.object({ status: z.string(), at: IsoTime });

export const JobSummarySchema = z.object({
  status: z.enum(JobStatus),
  attempts: z.number().int().min(0),
  errorCode: z.string().optional(),
  reason: z.string().optional(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** The durable record of one run. */
export const RunRecordSchema = z.object({
  runId: z.string(),
  pipelineId: z.string(),
  status: z.enum(RunStatus),
  trigger: z.enum(TriggerType),
  scheduledTime: IsoTime.optional(),
  idempotencyKey: z.string().optional(),
  parameters: ParametersSchema,
  definitionVersion: z.string().optional(),
  executionArn: z.string().optional(),
  queuedAt: IsoTime,
  startedAt: IsoTime.optional(),
  completedAt: IsoTime.optional(),
  durationMs: z.number().optional(),
  transitions: z.array(TransitionSchema),
  /** The enabled jobs and their dependencies (job id → upstream ids), from the run's start. */
  graph: z.record(z.string(), z.array(z.string())).optional(),
  jobs: z.record(z.string(), JobSummarySchema).optional(),
  error: z.object({ code: z.string(), message: z.string(), jobId: z.string().optional() }).optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** The durable record of one attempt of one job. */
export const JobAttemptRecordSchema = z.object({
  runId: z.string(),
  pipelineId: z.string(),
  jobId: z.string(),
  attempt: z.number().int().min(1),
  status: z.enum(JobStatus),
  definitionVersion: z.string(),
  parameters: ParametersSchema,
  startedAt: IsoTime,
  completedAt: IsoTime.optional(),
  durationMs: z.number().optional(),
  transitions: z.array(TransitionSchema),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  errorCategory: z.enum(ErrorCategory).optional(),
  willRetry: z.boolean().optional(),
  outputs: OutputsSchema.optional(),
  /** SHA-256 of the outputs' canonical JSON. */
  outputChecksum: z.string().optional(),
});
export type JobAttemptRecord = z.infer<typeof JobAttemptRecordSchema>;

/** A run as the API and the CLI show it: the record, and each job's status and attempts in order. */
export const RunViewSchema = z.object({
  run: RunRecordSchema,
  jobs: z.record(z.string(), z.object({ status: z.enum(JobStatus), attempts: z.array(JobAttemptRecordSchema) })),
});
export type RunView = z.infer<typeof RunViewSchema>;

/** The dead-letter message for one permanently failed job. */
export const DeadLetterMessageSchema = z.object({
  kind: z.literal('phi.job.failed'),
  pipelineId: z.string(),
  runId: z.string(),
  jobId: z.string(),
  attempts: z.number().int(),
  errorCode: z.string(),
  errorMessage: z.string(),
  errorCategory: z.enum(ErrorCategory),
  parameters: ParametersSchema,
  executionArn: z.string(),
  trigger: z.enum(TriggerType),
  scheduledTime: IsoTime.optional(),
  failedAt: IsoTime,
});
export type DeadLetterMessage = z.infer<typeof DeadLetterMessageSchema>;

/**
 * Run parameters travel in the execution input, every task payload and every record: kept small so
 * none of Step Functions' 256 KiB payloads, EventBridge's events or DynamoDB's 400 KB items overflow.
 */
export const MAX_RUN_PARAMETERS_BYTES = 32 * 1024;

/** Control API: `POST /pipelines/{id}/runs` body. */
export const StartRunRequestSchema = z
  .object({
    parameters: ParametersSchema.refine((p) => jsonBytes(p) <= MAX_RUN_PARAMETERS_BYTES, {
      message: `run parameters are at most ${MAX_RUN_PARAMETERS_BYTES} bytes of JSON; pass a reference (an S3 key) to larger inputs`,
    }).optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
  })
  .strict();
export type StartRunRequest = z.infer<typeof StartRunRequestSchema>;

/** What a job's Lambda function knows about its job, from its environment (`PHI_JOB`). */
export const JobRuntimeConfigSchema = z.object({
  pipelineId: z.string(),
  jobId: z.string(),
  /** Pipeline parameters merged with the job's (run overrides come with each payload). */
  parameters: ParametersSchema,
  maxAttempts: z.number().int().min(1),
  retryableErrors: z.array(z.string()),
  nonRetryableErrors: z.array(z.string()),
  definitionVersion: z.string(),
});
export type JobRuntimeConfig = z.infer<typeof JobRuntimeConfigSchema>;

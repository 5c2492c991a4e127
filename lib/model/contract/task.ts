/**
 * What the state machine passes to a job's Lambda function and what the function answers: the run
 * input, the task payload, the task result, and what a job's function knows of its job.
 */
import { z } from 'zod';
import { jsonBytes } from '../canonical.ts';
import { ParametersSchema } from '../pipeline.ts';
import { ErrorCategory, JobStatus, TriggerType } from './status.ts';

/** The Lambda error name under which the runtime throws a transient failure, for Step Functions to retry. */
export const TRANSIENT_ERROR_NAME = 'PhiTransientError';
/** The error a job branch ends with after its failure has been recorded. */
export const JOB_FAILED_ERROR_NAME = 'PhiJobFailed';

/**
 * Outputs are recorded with the attempt, so they stay well under DynamoDB's 400 KB item; pass a
 * reference (an S3 key) to anything larger.
 */
export const MAX_OUTPUTS_BYTES = 32 * 1024;
/**
 * Run parameters travel in the execution input, every task payload and every record: kept small so
 * none of Step Functions' 256 KiB payloads, EventBridge's events or DynamoDB's 400 KB items overflow.
 */
export const MAX_RUN_PARAMETERS_BYTES = 32 * 1024;

export const IsoTimeSchema = z.string().min(1);

/** Run overrides, bounded in size (see `MAX_RUN_PARAMETERS_BYTES`). */
export const RunParametersSchema = ParametersSchema.refine((p) => jsonBytes(p) <= MAX_RUN_PARAMETERS_BYTES, {
  message: `run parameters are at most ${MAX_RUN_PARAMETERS_BYTES} bytes of JSON; pass a reference (an S3 key) to larger inputs`,
});

/** A state machine's execution input: one run. */
export const RunInputSchema = z.object({
  runId: z.string().min(1),
  pipelineId: z.string().min(1),
  trigger: z.enum(TriggerType),
  scheduledTime: IsoTimeSchema.optional(),
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

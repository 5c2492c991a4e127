/**
 * What the state machine passes to a job's Lambda function and what the function answers: the run
 * input, the task payload, the task result, and what a job's function knows of its job.
 */
import { z } from 'zod';
import { jsonBytes } from '../canonical.ts';
import { DependencyType, ParametersSchema } from '../pipeline.ts';
import { ErrorCategory, JobStatus, TriggerType } from './status.ts';

/** The Lambda error name under which the runtime throws an attempt's failure. */
export const TASK_ERROR_NAME = 'PhiTaskError';

/**
 * Outputs up to this size are kept in the attempt record itself (well under DynamoDB's 400 KB item);
 * larger ones are written to the platform's outputs bucket and the record keeps a reference. Either
 * way a dependent's `ctx.upstream` holds the same object.
 */
export const MAX_INLINE_OUTPUTS_BYTES = 32 * 1024;
/** The most a job may return: what a Lambda function can hold and hand on comfortably (a reference to anything larger, please). */
export const MAX_OUTPUTS_BYTES = 16 * 1024 * 1024;
/** The deepest outputs may nest: DynamoDB keeps 32 levels, and the attempt record holds them one level down. */
export const MAX_OUTPUTS_DEPTH = 31;
/**
 * Run parameters travel in the execution input, every task payload and every record: kept small so
 * none of Step Functions' 256 KiB payloads, EventBridge's events or DynamoDB's 400 KB items overflow.
 */
export const MAX_RUN_PARAMETERS_BYTES = 32 * 1024;

/** The longest error code kept (a handler's own codes included): a run's summary holds one per job. */
export const MAX_ERROR_CODE_LENGTH = 64;
/** The longest error message kept in an attempt record and a dead letter. */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;

/** `text` within `max` characters, saying how much was cut. */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = ` …[${text.length - max} more characters cut]`;
  return text.slice(0, Math.max(0, max - marker.length)) + marker;
}

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
  /**
   * A run retried from its failed jobs (`phi retry --from-failed`): the earlier run whose succeeded jobs
   * this run does not run again, taking their outputs, unless one of their upstreams runs again.
   */
  reuseFrom: z.string().min(1).optional(),
});
export type RunInput = z.infer<typeof RunInputSchema>;

/** `{ Error, Cause }`: what a Catch hands on after a state failed. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });
export type CaughtError = z.infer<typeof CaughtErrorSchema>;

/** How many times Phi's own storage failed this job's current step and was retried (never one of the job's attempts). */
const InfraTriesSchema = z.number().int().min(0).default(0);

const JobTaskBase = {
  run: RunInputSchema,
  jobId: z.string().min(1),
  /** 1 on the first attempt: the state machine counts attempts, the job's function decides retries. */
  attempt: z.number().int().min(1),
  /** The run's execution (the parent of the job's Map iteration). */
  executionArn: z.string().min(1),
  /** The job's own child execution, where the state machine has one of its own: what stops the job alone. */
  taskExecutionArn: z.string().min(1).optional(),
};

/**
 * What the state machine passes to a job's Lambda function:
 * - `run`: run one attempt (or skip the job when its dependencies say so);
 * - `failed`: the attempt failed (`caught` is what Step Functions caught): decide whether to retry,
 *   and when not, fail the job for good (its dead letter, its dependents released).
 */
export const TaskPayloadSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('run'), ...JobTaskBase }),
  z.object({ action: z.literal('failed'), ...JobTaskBase, caught: CaughtErrorSchema, infraTries: InfraTriesSchema }),
]);
export type TaskPayload = z.infer<typeof TaskPayloadSchema>;
export type RunTaskPayload = Extract<TaskPayload, { action: 'run' }>;
export type FailedTaskPayload = Extract<TaskPayload, { action: 'failed' }>;

export const OutputsSchema = ParametersSchema;

/** An attempt's end that could not be recorded (its store failed): carried back to the job's function, which records it later. */
export const PendingEndSchema = z.object({
  startedAt: IsoTimeSchema,
  completedAt: IsoTimeSchema,
  result: z.discriminatedUnion('status', [
    z.object({
      status: z.literal(JobStatus.SUCCEEDED),
      outputs: OutputsSchema.optional(),
      outputsRef: z.object({ bucket: z.string(), key: z.string(), bytes: z.number().int().min(0) }).optional(),
      outputChecksum: z.string(),
    }),
    z.object({ status: z.literal(JobStatus.FAILED), error: z.object({ code: z.string(), message: z.string(), category: z.enum(ErrorCategory) }) }),
  ]),
});
export type PendingEnd = z.infer<typeof PendingEndSchema>;

export const ErrorInfoSchema = z.object({
  code: z.string(),
  message: z.string(),
  category: z.enum(ErrorCategory),
  /** For an infrastructure failure after the handler ran: how the attempt ended, to record once the store answers. */
  pending: PendingEndSchema.optional(),
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

/**
 * What a job's function answers a `run`: the job succeeded, or was skipped (its dependencies say so).
 * Every failure is thrown (as `PhiTaskError`, whose message is the `ErrorInfo`), caught by the state
 * machine and handed back as a `failed` task: retries never depend on the error's name, which an
 * emulator may not pass through.
 */
export const TaskResultSchema = z.object({
  // Outputs stay in the attempt record: Step Functions state carries only what it routes on.
  status: z.enum([JobStatus.SUCCEEDED, JobStatus.SKIPPED]),
  attempt: z.number().int().min(0),
});
export type TaskResult = z.infer<typeof TaskResultSchema>;

/**
 * What a job's function answers a `failed`: after `delaySeconds`, run `attempt` (`retry`), or decide
 * again (`again`: Phi's storage failed, the same failure is handed back once it may answer), or
 * neither (the job is closed). `infraTries` counts the storage failures of this step so far.
 */
export const RetryDecisionSchema = z.object({
  retry: z.boolean(),
  again: z.boolean(),
  delaySeconds: z.number().int().min(0),
  attempt: z.number().int().min(1),
  infraTries: z.number().int().min(0),
});
export type RetryDecision = z.infer<typeof RetryDecisionSchema>;

/** A retry policy with every default applied (spec RetryPolicy, Rules 8-11). */
export const ResolvedRetrySchema = z.object({
  maxAttempts: z.number().int().min(1),
  initialDelaySeconds: z.number().int().min(0),
  backoffMultiplier: z.number().min(1),
  maxDelaySeconds: z.number().int().min(0),
  jitter: z.enum(['NONE', 'FULL']),
  retryableErrors: z.array(z.string()),
  nonRetryableErrors: z.array(z.string()),
});
export type ResolvedRetry = z.infer<typeof ResolvedRetrySchema>;

/** One dependency with its defaults applied. */
export const ResolvedDependencySchema = z.object({
  job: z.string(),
  on: z.enum(DependencyType),
  condition: z.string().optional(),
  skipOnUpstreamSkip: z.boolean(),
});
export type ResolvedDependency = z.infer<typeof ResolvedDependencySchema>;

/** What a job's function knows of one job it serves. */
export const JobManifestSchema = z.object({
  /** Pipeline parameters merged with the job's (run overrides come with each payload). */
  parameters: ParametersSchema,
  retry: ResolvedRetrySchema,
  /** What the job waits for. */
  upstream: z.array(ResolvedDependencySchema),
  /** The jobs that wait for it, each with how many upstreams it waits for in all. */
  dependents: z.array(z.object({ job: z.string(), upstreamCount: z.number().int().min(1) })),
});
export type JobManifest = z.infer<typeof JobManifestSchema>;

/**
 * What every job function of a pipeline knows of the pipeline: bundled into the function at synth
 * (one function may serve many jobs), written by the plan compiler.
 */
export const PipelineManifestSchema = z.object({
  pipelineId: z.string(),
  definitionVersion: z.string(),
  jobs: z.record(z.string(), JobManifestSchema),
});
export type PipelineManifest = z.infer<typeof PipelineManifestSchema>;

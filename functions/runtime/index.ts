/**
 * What a job's handler sees: `import type { TaskHandler } from 'phi/runtime'`.
 *
 *   export const handler: TaskHandler = async (ctx) => {
 *     ctx.log.info('fetching', { date: ctx.parameters.date });
 *     if (rateLimited) throw new TransientError('RATE_LIMITED', 'the feed asked us to slow down');
 *     return { rows: 1200 };   // outputs, recorded with the attempt and handed to dependents as ctx.upstream[jobId]
 *   };
 */
import type { ErrorCategory, TriggerType } from '../../lib/model/contract/index.ts';
import type { JsonValue, Parameters } from '../../lib/model/pipeline.ts';
import { PhiError } from '../../lib/model/errors.ts';
import type { Logger } from '../shared/log.ts';

export type { Logger } from '../shared/log.ts';
export type { JsonValue, Parameters } from '../../lib/model/pipeline.ts';

export interface TaskContext {
  readonly pipelineId: string;
  readonly runId: string;
  readonly jobId: string;
  /** 1 on the first attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly trigger: TriggerType;
  /** For scheduled runs: the time the schedule fired for. */
  readonly scheduledTime?: string;
  readonly executionArn: string;
  /** Pipeline parameters < job parameters < the run's overrides. */
  readonly parameters: Parameters;
  /**
   * The outputs of each upstream job that succeeded, by job id (an upstream that failed or was
   * skipped, which a COMPLETION dependency lets this job run after, has none).
   */
  readonly upstream: Readonly<Record<string, Outputs>>;
  /** Structured logger; every line carries the pipeline, run, job and attempt. */
  readonly log: Logger;
}

/** A job's outputs: a JSON object, recorded with the attempt (with its SHA-256). */
export type Outputs = { [key: string]: JsonValue };

export type TaskHandler = (ctx: TaskContext) => Promise<Outputs | void> | Outputs | void;

/**
 * An error with a code. Its category decides whether the attempt is retried, unless the job's
 * `retryableErrors` / `nonRetryableErrors` lists say otherwise. A thrown error without a code is
 * `EXEC_001_HANDLER_ERROR` and transient.
 */
export class JobError extends PhiError {
  override name = 'JobError';
  constructor(
    code: string,
    message: string,
    readonly category?: ErrorCategory,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A failure that may pass: retried per the job's retry policy. */
export class TransientError extends JobError {
  override name = 'TransientError';
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, 'TRANSIENT', options);
  }
}

/** A failure that will not pass by retrying: the job fails at once. */
export class PermanentError extends JobError {
  override name = 'PermanentError';
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, 'PERMANENT', options);
  }
}

/** One dead letter per permanently failed job (spec Rule 15), however often the failure is handled. */
import { createHash, randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterMessage, ErrorInfo, RunInput } from '../../lib/model/contract/index.ts';
import type { Parameters } from '../../lib/model/pipeline.ts';
import { ConfigurationError, PhiError } from '../../lib/model/errors.ts';
import { DEAD_LETTER_LEASE_SECONDS, type RecordStore } from './records/store.ts';

export interface DeadLetterDeps {
  readonly store: Pick<RecordStore, 'claimDeadLetter' | 'releaseDeadLetterClaim' | 'markDeadLetterSent'>;
  readonly sendDeadLetter: (message: DeadLetterMessage) => Promise<void>;
  readonly now?: () => Date;
}

/** The dead letter of a job of `run` that failed for good with `error` after `attempts` attempts. */
export function deadLetterOf(
  run: Pick<RunInput, 'pipelineId' | 'runId' | 'trigger' | 'scheduledTime'>,
  failure: { readonly jobId: string; readonly attempts: number; readonly error: Pick<ErrorInfo, 'code' | 'message' | 'category'>; readonly parameters: Parameters; readonly executionArn: string; readonly failedAt: string },
): DeadLetterMessage {
  return {
    kind: 'phi.job.failed',
    pipelineId: run.pipelineId,
    runId: run.runId,
    jobId: failure.jobId,
    attempts: failure.attempts,
    errorCode: failure.error.code,
    errorMessage: failure.error.message,
    errorCategory: failure.error.category,
    parameters: failure.parameters,
    executionArn: failure.executionArn,
    trigger: run.trigger,
    ...(run.scheduledTime ? { scheduledTime: run.scheduledTime } : {}),
    failedAt: failure.failedAt,
  };
}

/** Another caller's live claim holds the dead letter: this caller tries again later (its step is retried). */
export class DeadLetterBusyError extends PhiError {
  constructor(message: DeadLetterMessage) {
    super('DLQ_001_CLAIM_BUSY', `the dead letter of job ${message.jobId} of run ${message.runId} is being sent by another caller; try again once its claim expires`);
  }
}

/**
 * Sends the job's dead letter unless it has been sent; `false` when it had been. One caller at a time
 * holds a claim with a lease; a caller that finds another's live claim throws `DeadLetterBusyError`,
 * and its retry sends the message if that claimant died before marking it sent.
 */
export async function sendDeadLetterOnce(deps: DeadLetterDeps, message: DeadLetterMessage, owner: string = randomUUID()): Promise<boolean> {
  const clock = deps.now ?? (() => new Date());
  const claimedAt = clock();
  const claim = await deps.store.claimDeadLetter(message.runId, message.jobId, claimedAt.toISOString(), owner);
  if (claim === 'sent') return false;
  if (claim === 'busy') throw new DeadLetterBusyError(message);
  if (clock().getTime() - claimedAt.getTime() >= (DEAD_LETTER_LEASE_SECONDS * 1000) / 2) {
    // The claim took so long to write (throttled, retried) that its lease may run out before the send:
    // another caller could take it over and send too. Given up, and claimed afresh by this step's retry.
    await deps.store.releaseDeadLetterClaim(message.runId, message.jobId, owner);
    throw new DeadLetterBusyError(message);
  }
  try {
    await deps.sendDeadLetter(message);
  } catch (err) {
    // Not sent: the claim is given up, so the retry of this step may claim it at once.
    await deps.store.releaseDeadLetterClaim(message.runId, message.jobId, owner);
    throw err;
  }
  await deps.store.markDeadLetterSent(message.runId, message.jobId, message.failedAt);
  return true;
}

/** How long the FIFO dead-letter queue drops a second copy of a letter (SQS's deduplication window). */
export const DEAD_LETTER_DEDUPLICATION_SECONDS = 300;

/**
 * The letter's deduplication id (and message group) on the FIFO queue: one per job of a run, so a
 * second send after one whose outcome was unknown (sent, then an error; a sender held past its claim's
 * lease) is dropped by SQS within its window.
 */
export function deadLetterDeduplicationId(message: Pick<DeadLetterMessage, 'runId' | 'jobId'>): string {
  return createHash('sha256').update(`${message.runId}/${message.jobId}`).digest('hex');
}

/** `sendDeadLetter` over the platform's queue (`PHI_DLQ_URL`, FIFO). */
export function deadLetterSenderFromEnv(env: NodeJS.ProcessEnv = process.env): (message: DeadLetterMessage) => Promise<void> {
  const queueUrl = env.PHI_DLQ_URL;
  if (!queueUrl) throw new ConfigurationError('PHI_DLQ_URL');
  const sqs = new SQSClient({});
  return async (message) => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: deadLetterDeduplicationId(message),
        MessageDeduplicationId: deadLetterDeduplicationId(message),
        MessageAttributes: {
          pipelineId: { DataType: 'String', StringValue: message.pipelineId },
          jobId: { DataType: 'String', StringValue: message.jobId },
          errorCode: { DataType: 'String', StringValue: message.errorCode },
        },
      }),
    );
  };
}

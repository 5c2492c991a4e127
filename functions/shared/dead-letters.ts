/** One dead letter per permanently failed job (spec Rule 15), however often the failure is handled. */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterMessage } from '../../lib/model/contract/index.ts';
import { ConfigurationError } from '../../lib/model/errors.ts';
import type { RecordStore } from './records/store.ts';

export interface DeadLetterDeps {
  readonly store: Pick<RecordStore, 'claimDeadLetter' | 'markDeadLetterSent'>;
  readonly sendDeadLetter: (message: DeadLetterMessage) => Promise<void>;
}

/** Sends the job's dead letter unless it has been sent; `false` when it had been. */
export async function sendDeadLetterOnce(deps: DeadLetterDeps, message: DeadLetterMessage): Promise<boolean> {
  if (!(await deps.store.claimDeadLetter(message.runId, message.jobId, message.failedAt))) return false;
  await deps.sendDeadLetter(message);
  await deps.store.markDeadLetterSent(message.runId, message.jobId, message.failedAt);
  return true;
}

/** `sendDeadLetter` over the platform's queue (`PHI_DLQ_URL`). */
export function deadLetterSenderFromEnv(env: NodeJS.ProcessEnv = process.env): (message: DeadLetterMessage) => Promise<void> {
  const queueUrl = env.PHI_DLQ_URL;
  if (!queueUrl) throw new ConfigurationError('PHI_DLQ_URL');
  const sqs = new SQSClient({});
  return async (message) => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: {
          pipelineId: { DataType: 'String', StringValue: message.pipelineId },
          jobId: { DataType: 'String', StringValue: message.jobId },
          errorCode: { DataType: 'String', StringValue: message.errorCode },
        },
      }),
    );
  };
}

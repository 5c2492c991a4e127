/** Reading Phi's dead-letter queue (found through the platform stack's outputs). */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeadLetterMessageSchema, type DeadLetterMessage } from '../model/contract/index.ts';
import { ClientError, ClientErrorCode } from './errors.ts';
import { platformOutputs, requireOutput } from './platform.ts';

export async function deadLetterQueueUrl(): Promise<string> {
  return requireOutput(await platformOutputs(), 'DeadLetterQueueUrl');
}

/**
 * The dead letters visible now, parsed. They are peeked at (visibility timeout 0), not consumed: they
 * stay for whoever redrives them.
 */
export async function peekDeadLetters(queueUrl: string, rounds = 3): Promise<DeadLetterMessage[]> {
  // The queue URL's host can name the emulator differently (localhost); the client's endpoint is the one to use.
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const seen = new Map<string, DeadLetterMessage>();
  for (let i = 0; i < rounds; i++) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
    for (const m of Messages) {
      const parsed = DeadLetterMessageSchema.safeParse(JSON.parse(m.Body ?? '{}'));
      if (parsed.success && m.MessageId) seen.set(m.MessageId, parsed.data);
    }
  }
  return [...seen.values()];
}

/** Waits until the dead letter of a run's failed job is visible. */
export async function waitForDeadLetter(runId: string, timeoutMs = 30_000): Promise<DeadLetterMessage> {
  const queueUrl = await deadLetterQueueUrl();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = (await peekDeadLetters(queueUrl, 1)).find((m) => m.runId === runId);
    if (found) return found;
  }
  throw new ClientError(ClientErrorCode.NO_DEAD_LETTER, `no dead letter for run ${runId} within ${timeoutMs} ms`);
}

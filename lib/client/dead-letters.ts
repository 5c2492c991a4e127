/** Reading Phi's dead-letter queue (found through the platform stack's outputs). */
import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeadLetterMessageSchema, type DeadLetterMessage } from '../model/contract/index.ts';
import { ClientError, ClientErrorCode } from './errors.ts';
import { platformOutputs, requireOutput } from './platform.ts';

export async function deadLetterQueueUrl(): Promise<string> {
  return requireOutput(await platformOutputs(), 'DeadLetterQueueUrl');
}

/**
 * The dead letters waiting now, parsed. They are looked at, not consumed: each is hidden while the queue
 * is paged through (ten at a time), then made visible again at once for whoever redrives it.
 */
export async function peekDeadLetters(queueUrl: string, maxPages = 100): Promise<DeadLetterMessage[]> {
  // The queue URL's host can name the emulator differently (localhost); the client's endpoint is the one to use.
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const seen = new Map<string, DeadLetterMessage>();
  const handles: string[] = [];
  try {
    for (let i = 0; i < maxPages; i++) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: i === 0 ? 1 : 0, VisibilityTimeout: PEEK_SECONDS }));
      if (Messages.length === 0) break;
      for (const m of Messages) {
        if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
        const parsed = DeadLetterMessageSchema.safeParse(JSON.parse(m.Body ?? '{}'));
        if (parsed.success && m.MessageId) seen.set(m.MessageId, parsed.data);
      }
    }
  } finally {
    for (let i = 0; i < handles.length; i += 10) {
      const entries = handles.slice(i, i + 10).map((ReceiptHandle, k) => ({ Id: String(k), ReceiptHandle, VisibilityTimeout: 0 }));
      await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
  }
  return [...seen.values()];
}

/** How long a peeked message stays hidden while the next pages are read (it is made visible again right after). */
const PEEK_SECONDS = 30;

/** Waits until the dead letter of a run's failed job is visible. */
export async function waitForDeadLetter(runId: string, timeoutMs = 30_000): Promise<DeadLetterMessage> {
  const queueUrl = await deadLetterQueueUrl();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = (await peekDeadLetters(queueUrl)).find((m) => m.runId === runId);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new ClientError(ClientErrorCode.NO_DEAD_LETTER, `no dead letter for run ${runId} within ${timeoutMs} ms`);
}

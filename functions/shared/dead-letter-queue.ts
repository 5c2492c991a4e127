/**
 * The dead-letter queue as the control API works it (receive, hide, make visible again, delete), and
 * the records table's pointer from a retried letter's message id to its retry run. Thin adapters over
 * SQS and DynamoDB, so the logic (`functions/control/dead-letters.ts`) is tested without them.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { recordKeys } from '../../lib/model/contract/index.ts';
import { ConfigurationError } from '../../lib/model/errors.ts';

/** One message as received: its id, the handle to act on it by, its body, when SQS got it and how often it was received. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** When SQS got it (its `SentTimestamp`), ISO 8601. */
  readonly sentAt?: string;
  readonly receiveCount?: number;
}

export interface DeadLetterQueue {
  /** Receives up to 10 messages, hiding them for `visibilitySeconds`; waits up to `waitSeconds` for one (long polling asks every SQS server). */
  receive(visibilitySeconds: number, waitSeconds: number): Promise<QueuedMessage[]>;
  /** Makes received messages visible again at once. */
  release(receiptHandles: readonly string[]): Promise<void>;
  /** Deletes a received message. */
  remove(receiptHandle: string): Promise<void>;
}

/** Which run a letter was retried as, by its message id. */
export interface RetryPointers {
  get(messageId: string): Promise<string | undefined>;
  /** Keeps `runId` for `messageId` (the first write wins; a repeated one changes nothing). */
  put(messageId: string, runId: string, at: string): Promise<void>;
}

/** The platform's dead-letter queue (`PHI_DLQ_URL`). */
export function sqsDeadLetterQueue(queueUrl: string, sqs: SQSClient = new SQSClient({ useQueueUrlAsEndpoint: false })): DeadLetterQueue {
  return {
    async receive(visibilitySeconds, waitSeconds) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: visibilitySeconds, WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'] }),
      );
      return Messages.flatMap((m): QueuedMessage[] => {
        if (!m.MessageId || !m.ReceiptHandle) return [];
        const sent = Number(m.Attributes?.SentTimestamp);
        const count = Number(m.Attributes?.ApproximateReceiveCount);
        return [{ messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body ?? '', ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}), ...(Number.isInteger(count) ? { receiveCount: count } : {}) }];
      });
    },
    // One call a message, ten at a time, rather than the batch call: AWS authorizes both as
    // sqs:ChangeMessageVisibility (what the function is granted), MiniStack the batch as an action of its own.
    async release(receiptHandles) {
      for (let i = 0; i < receiptHandles.length; i += 10) {
        await Promise.all(receiptHandles.slice(i, i + 10).map((ReceiptHandle) => sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle, VisibilityTimeout: 0 }))));
      }
    },
    async remove(receiptHandle) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
    },
  };
}

const PointerSchema = z.object({ runId: z.string() });

/** The pointers in the records table (`recordKeys.deadLetterRetry`), expiring with the records. */
export function dynamoRetryPointers(tableName: string, retentionDays: number, client: DynamoDBClient = new DynamoDBClient({})): RetryPointers {
  const doc = DynamoDBDocumentClient.from(client);
  return {
    async get(messageId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: recordKeys.deadLetterRetry(messageId), ConsistentRead: true }));
      const parsed = PointerSchema.safeParse(out.Item);
      return parsed.success ? parsed.data.runId : undefined;
    },
    async put(messageId, runId, at) {
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: { ...recordKeys.deadLetterRetry(messageId), kind: 'dead-letter-retry', runId, at, expiresAt: Math.floor(Date.parse(at) / 1000) + retentionDays * 86_400 },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      }
    },
  };
}

export function deadLetterQueueFromEnv(env: NodeJS.ProcessEnv = process.env): DeadLetterQueue {
  const queueUrl = env.PHI_DLQ_URL;
  if (!queueUrl) throw new ConfigurationError('PHI_DLQ_URL');
  return sqsDeadLetterQueue(queueUrl);
}

export function retryPointersFromEnv(env: NodeJS.ProcessEnv = process.env): RetryPointers {
  const tableName = env.PHI_TABLE_NAME;
  if (!tableName) throw new ConfigurationError('PHI_TABLE_NAME');
  return dynamoRetryPointers(tableName, Number(env.PHI_RETENTION_DAYS ?? 90));
}

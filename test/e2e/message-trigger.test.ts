/**
 * Message triggers on the emulator (issue #9), through the e2e suite's `landing` pipeline: real SQS
 * sends (as root, the emulator's `test` key) to the queues Phi created for its triggers. Its `messages`
 * trigger (one run per message) starts exactly one run per message sent, named after the trigger and
 * the message id, with the body in its `event` parameter, and the queue is left empty (each message
 * deleted once its run started, none moved to the dead-letter queue). Its `bundles` trigger
 * (`batchSize: 10`) lists every message sent in exactly one run, however the emulator batches them.
 */
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runIdFor } from '../../functions/control/trigger.ts';
import type { PhiClient } from '../../lib/client/client.ts';
import { MAX_HISTORY_PAGE, RunHistoryResponseSchema, type RunRecord } from '../../lib/model/contract/index.ts';
import { messageDeadLetterQueueName, messageQueueName } from '../../lib/model/names.ts';
import { phiClient, useEmulator } from './support.ts';

const PIPELINE = 'landing';

/** A message trigger's run parameter (see `TriggerSchema`). */
interface MessageEvent { type: string; queue: string; messages: { messageId: string; sentAt?: string; body?: unknown; bodyOmitted?: boolean }[] }
const messageEvent = (run: RunRecord): MessageEvent | undefined => {
  const event = run.parameters.event as Partial<MessageEvent> | undefined;
  return event?.type === 'message' ? (event as MessageEvent) : undefined;
};

let client: PhiClient;
let sqs: SQSClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
});

const queueUrl = async (name: string): Promise<string> => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;

/** The pipeline's EVENT runs of `triggerId`, newest first (one page: the suite starts fewer). */
async function triggerRuns(triggerId: string): Promise<RunRecord[]> {
  const { status, body } = await client.request('GET', `/pipelines/${PIPELINE}/runs?trigger=EVENT&limit=${MAX_HISTORY_PAGE}`);
  expect(status).toBe(200);
  return RunHistoryResponseSchema.parse(body).runs.filter((r) => r.triggerId === triggerId);
}

/** Polls `read` until `done` holds for its answer (or the time is up). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** How many messages the queue holds, waiting or being worked on. */
async function depth(url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

describe('a message trigger', () => {
  it('starts exactly one run per message sent to its queue, named after the message id, with the body (parsed when JSON) in its event parameter, and empties the queue', async () => {
    const url = await queueUrl(messageQueueName(PIPELINE, 'messages'));
    const stamp = Date.now();
    const sent = [
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ order: `o-${stamp}`, items: 3 }) })),
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `plain text ${stamp}` })),
    ].map((r) => r.MessageId!);
    const runIds = sent.map((messageId) => runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'messages', messageIds: [messageId] }, new Date()));

    const runs = await until(() => triggerRuns('messages'), (rs) => runIds.every((id) => rs.some((r) => r.runId === id)), 'a run for each message sent');
    const [json, text] = runIds.map((id) => runs.find((r) => r.runId === id)!);
    expect(json).toMatchObject({ trigger: 'EVENT', triggerId: 'messages', eventId: sent[0] });
    expect(messageEvent(json!)).toMatchObject({ type: 'message', queue: expect.stringContaining(':phi-landing_messages'), messages: [{ messageId: sent[0], sentAt: expect.any(String), body: { order: `o-${stamp}`, items: 3 } }] });
    expect(messageEvent(text!)?.messages).toMatchObject([{ messageId: sent[1], body: `plain text ${stamp}` }]);
    for (const runId of runIds) expect((await client.waitForRun(runId, { timeoutMs: 60_000 })).run.status).toBe('SUCCEEDED');

    // Each message was deleted once its run started: none is delivered again, none waits in the dead-letter queue.
    await until(() => depth(url), (n) => n === 0, 'the queue to be empty');
    expect(await depth(await queueUrl(messageDeadLetterQueueName(PIPELINE, 'messages')))).toBe(0);
    const again = await triggerRuns('messages');
    for (const messageId of sent) expect(again.filter((r) => messageEvent(r)?.messages.some((m) => m.messageId === messageId))).toHaveLength(1);
  });

  it('with batchSize 10 lists every message sent in exactly one run, whatever batches the queue handed over', async () => {
    const url = await queueUrl(messageQueueName(PIPELINE, 'bundles'));
    const stamp = Date.now();
    const { Successful = [], Failed = [] } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [1, 2, 3].map((n) => ({ Id: `m${n}`, MessageBody: JSON.stringify({ part: n, stamp }) })) }));
    expect(Failed).toStrictEqual([]);
    const sent = Successful.map((s) => s.MessageId!);
    expect(sent).toHaveLength(3);

    const listing = (runs: RunRecord[]): string[] => runs.flatMap((r) => messageEvent(r)?.messages.map((m) => m.messageId) ?? []).filter((id) => sent.includes(id));
    const runs = await until(() => triggerRuns('bundles'), (rs) => sent.every((id) => listing(rs).includes(id)), 'every message in a run');
    expect(listing(runs).sort()).toStrictEqual([...sent].sort());
    const mine = runs.filter((r) => listing([r]).length > 0);
    for (const run of mine) {
      const ids = messageEvent(run)!.messages.map((m) => m.messageId);
      expect(run.runId).toBe(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bundles', messageIds: ids }, new Date()));
      expect(messageEvent(run)!.messages.every((m) => (m.body as { stamp?: number }).stamp === stamp)).toBe(true);
      expect((await client.waitForRun(run.runId, { timeoutMs: 60_000 })).run.status).toBe('SUCCEEDED');
    }
    await until(() => depth(url), (n) => n === 0, 'the queue to be empty');
  });
});

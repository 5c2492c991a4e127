/**
 * Message triggers (issue #9, `{ type: 'message' }`): the trigger function's SQS branch. A Lambda event
 * source mapping hands the function a batch of one queue's messages; each message (or, with
 * `batchSize` above 1, the whole batch) starts one run, trigger `EVENT`, with the messages as Phi's
 * `event` parameter. A message whose run could not be started is answered in `batchItemFailures`
 * (the mapping has `ReportBatchItemFailures`), so SQS delivers it again, and after the queue's
 * `maxReceiveCount` keeps it in the queue's dead-letter queue: never lost. A redelivered message is
 * the same run (its id comes from the trigger and the message ids), so a start that did happen before
 * its answer was lost is not repeated. Runs are started through `MessageStarts` (in the trigger
 * function, `startRun`: see `messageStartsOf` in trigger.ts), so this file needs nothing of it.
 */
import { z } from 'zod';
import { jsonBytes, nestsDeeperThan } from '../../lib/model/canonical.ts';
import { MAX_RUN_PARAMETERS_BYTES, TriggerType, type RunRecord } from '../../lib/model/contract/index.ts';
import { MESSAGE_TRIGGERS_ENV, MessageTriggersSchema, type MessageTriggerRoute } from '../../lib/model/contract/messages.ts';
import { describeError } from '../../lib/model/errors.ts';
import { EVENT_PARAMETER, type JsonValue, type Parameters } from '../../lib/model/pipeline.ts';
import type { Logger } from '../shared/log.ts';

/** One SQS message as an event source mapping hands it over (its other fields, receipt handle, md5…, are kept but not read). */
export const SqsRecordSchema = z
  .object({
    messageId: z.string().min(1),
    body: z.string(),
    attributes: z.object({ SentTimestamp: z.string().regex(/^\d+$/).optional() }).loose().optional(),
    eventSource: z.literal('aws:sqs'),
    eventSourceARN: z.string().min(1),
  })
  .loose();
export type SqsRecord = z.infer<typeof SqsRecordSchema>;

/** What an SQS event source mapping invokes the function with: one queue's messages, 1 to its batch size. */
export const SqsEventSchema = z.object({ Records: z.array(SqsRecordSchema).min(1) });
export type SqsEvent = z.infer<typeof SqsEventSchema>;

/** The partial batch response (`ReportBatchItemFailures`): the messages SQS must deliver again. */
export interface MessageBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/** Whether the function was invoked by an SQS event source mapping (what `handler` dispatches on). */
export function isMessageBatch(event: unknown): boolean {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown } | null)?.eventSource === 'aws:sqs';
}

/** The run a message, or a batch, asks for: a `RunRequest` of the trigger function (see `messageRunRequest`). */
export interface MessageRunRequest {
  readonly pipelineId: string;
  readonly trigger: typeof TriggerType.EVENT;
  readonly triggerId: string;
  /** The run's identity, with `triggerId` (`runIdFor`). */
  readonly messageIds: readonly string[];
  /** A run of one message: its id, kept on the record. */
  readonly eventId?: string;
  readonly eventParameter: JsonValue;
}

/** How message runs are started: in the trigger function, its `startRun` and `runParametersOf` (`messageStartsOf`). */
export interface MessageStarts {
  /** Starts a run once (a run that exists is answered as it is); throws when it could not be started. */
  readonly start: (req: MessageRunRequest) => Promise<{ readonly created: boolean; readonly run: RunRecord }>;
  /** The parameters of a run of `pipelineId` that sets none (its `runParameters` defaults), which the messages must fit beside; throws when it refuses such a run. */
  readonly defaultParameters: (pipelineId: string) => Parameters;
  readonly log: Logger;
}

/** The deployment's message triggers by the queue they read. */
export type MessageRoutes = ReadonlyMap<string, MessageTriggerRoute>;

/** The message triggers, from the environment the platform construct sets (`PHI_MESSAGE_TRIGGERS`; none when unset). */
export function messageRoutesFromEnv(env: NodeJS.ProcessEnv = process.env): Map<string, MessageTriggerRoute> {
  return new Map(MessageTriggersSchema.parse(JSON.parse(env[MESSAGE_TRIGGERS_ENV] ?? '[]')).map((route) => [route.q, route]));
}

/** One message as its run's `event` parameter lists it. */
type MessageEntry = { messageId: string; sentAt?: string; body?: JsonValue; bodyOmitted?: true };

/**
 * How deep a message body's JSON may nest to be kept as JSON: it is stored five levels down
 * (`parameters.event.messages[i].body`) in a record DynamoDB keeps to 32 levels.
 */
const MAX_BODY_DEPTH = 24;

/** A body as the run gets it: the JSON value it holds (nesting at most `MAX_BODY_DEPTH`), else the text itself. */
function bodyValue(body: string): JsonValue {
  try {
    const parsed = JSON.parse(body) as JsonValue;
    return nestsDeeperThan(parsed, MAX_BODY_DEPTH) ? body : parsed;
  } catch {
    return body;
  }
}

const entryOf = (record: SqsRecord): MessageEntry => {
  const sent = record.attributes?.SentTimestamp;
  return { messageId: record.messageId, ...(sent !== undefined ? { sentAt: new Date(Number(sent)).toISOString() } : {}), body: bodyValue(record.body) };
};

const withoutBody = ({ body: _body, ...entry }: MessageEntry): MessageEntry => ({ ...entry, bodyOmitted: true });

/**
 * The run a message, or a batch of them, asks for: trigger `EVENT` of the route's trigger, identity
 * from the trigger and the message ids (`messageIds`; a run of one message also keeps its id as the
 * record's `eventId`), no parameters of its own (the `runParameters` defaults fill them) and, as Phi's
 * `event` parameter, `{ type: 'message', queue, messages: [{ messageId, sentAt, body }] }`. Bodies are
 * kept in order while the parameters stay within `MAX_RUN_PARAMETERS_BYTES`; one that would not fit is
 * left out (`bodyOmitted: true`), so a message always makes its run. Throws what `defaultParameters` does.
 */
export function messageRunRequest(route: MessageTriggerRoute, queue: string, records: readonly SqsRecord[], starts: Pick<MessageStarts, 'defaultParameters'>): MessageRunRequest {
  const parameters = starts.defaultParameters(route.p);
  const entries = records.map(entryOf);
  const event = (messages: MessageEntry[]): JsonValue => ({ type: 'message', queue, messages });
  let spare = MAX_RUN_PARAMETERS_BYTES - jsonBytes({ ...parameters, [EVENT_PARAMETER]: event(entries.map(withoutBody)) });
  const messages = entries.map((entry) => {
    const cost = jsonBytes(entry) - jsonBytes(withoutBody(entry));
    if (cost > spare) return withoutBody(entry);
    spare -= cost;
    return entry;
  });
  const [first] = records;
  return {
    pipelineId: route.p,
    trigger: TriggerType.EVENT,
    triggerId: route.t,
    messageIds: records.map((r) => r.messageId),
    ...(records.length === 1 && first !== undefined ? { eventId: first.messageId } : {}),
    eventParameter: event(messages),
  };
}

/**
 * Starts the runs of one invocation's messages: per message, or per batch for a trigger with
 * `batchSize` above 1, one after the other. Every message of a run that could not be started (its
 * pipeline not deployed, a store or Step Functions error, no trigger reading its queue) is returned in
 * `batchItemFailures`. A run its start rules refuse is recorded SKIPPED (or waits) like any trigger's:
 * its messages are consumed. On a FIFO queue, the messages after a failed one are returned too, so
 * none overtakes it.
 */
export async function startMessageRuns(event: SqsEvent, routes: MessageRoutes, starts: MessageStarts): Promise<MessageBatchResponse> {
  const failed: string[] = [];
  // Normally one queue's (one mapping, one batch), each message once; SQS's at-least-once may repeat one within a batch.
  const byQueue = new Map<string, Map<string, SqsRecord>>();
  for (const record of event.Records) {
    const queue = byQueue.get(record.eventSourceARN) ?? byQueue.set(record.eventSourceARN, new Map()).get(record.eventSourceARN)!;
    if (!queue.has(record.messageId)) queue.set(record.messageId, record);
  }
  for (const [queue, received] of byQueue) {
    const records = [...received.values()];
    const route = routes.get(queue);
    if (route === undefined) {
      starts.log.error('messages from a queue no message trigger of this deployment reads: returned to the queue', { queue, messageIds: records.map((r) => r.messageId) });
      failed.push(...records.map((r) => r.messageId));
      continue;
    }
    const fifo = queue.endsWith('.fifo');
    let blocked = false;
    for (const messages of route.b === 1 ? [records] : records.map((r) => [r])) {
      const messageIds = messages.map((m) => m.messageId);
      if (blocked) {
        failed.push(...messageIds);
        continue;
      }
      try {
        const { created, run } = await starts.start(messageRunRequest(route, queue, messages, starts));
        starts.log.info(created ? 'message run recorded' : 'message run already recorded', { pipelineId: route.p, triggerId: route.t, runId: run.runId, status: run.status, messageIds });
      } catch (err) {
        starts.log.error('a message run could not be started: its messages go back to the queue, to be delivered again', { pipelineId: route.p, triggerId: route.t, messageIds, error: describeError(err) });
        failed.push(...messageIds);
        blocked = fifo;
      }
    }
  }
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
}

let routesFromEnv: MessageRoutes | undefined;
/** The trigger function's SQS branch: the event checked, the deployment's message triggers read once. */
export async function handleMessageBatch(event: unknown, starts: MessageStarts): Promise<MessageBatchResponse> {
  routesFromEnv ??= messageRoutesFromEnv();
  return startMessageRuns(SqsEventSchema.parse(event), routesFromEnv, starts);
}

/**
 * Message triggers (issue #9): `triggers: [{ type: 'message', queueArn?, batchSize?, batchWindowSeconds? }]`.
 * The plan checks their batching and queues (TRIG_004, TRIG_002) and counts their resources; the
 * trigger function's SQS branch starts one run per message (or per batch), the messages as the run's
 * `event` parameter, returns each message whose run could not be started in `batchItemFailures` (so
 * SQS delivers it again), and a redelivered message or batch is the same run, never a second one.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { handleMessageBatch, isMessageBatch, messageRoutesFromEnv, SqsEventSchema, startMessageRuns, type MessageRoutes } from '../../functions/control/message-trigger.ts';
import { messageStartsOf, runIdFor, type TriggerDeps } from '../../functions/control/trigger.ts';
import { MAX_RUN_PARAMETERS_BYTES, RUN_START_FAILED, RunIdSchema, RunRecordSchema, RunStatus } from '../../lib/model/contract/index.ts';
import type { AuditRecord } from '../../lib/model/contract/audit.ts';
import { MESSAGE_TRIGGERS_ENV } from '../../lib/model/contract/messages.ts';
import { PipelineSchema, type PipelineInput } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { compilePlan, RESOURCES } from '../../lib/plan/compile.ts';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import { longestQueueArn, messageTriggerRoutes } from '../../lib/plan/triggers.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const NOW = new Date('2026-11-23T12:00:00Z');
const USER_QUEUE = 'arn:aws:sqs:us-east-1:123456789012:partner-feed';

function plan(fields: Partial<PipelineInput>, id = 'ingest') {
  const pipeline = PipelineSchema.parse({ id, jobs: { a: { handler: './a.ts' } }, ...fields });
  return compilePlan([{ file: `/tmp/defs/${id}.ts`, pipeline }], NOW);
}

describe('the definition of a message trigger', () => {
  it('takes a queue the user owns (an SQS queue ARN, FIFO too) or none, and a batch size of 1 to 10', () => {
    const parse = (trigger: unknown) => PipelineSchema.safeParse({ id: 'p', jobs: { a: { handler: 'a.ts' } }, triggers: [trigger] }).success;
    expect(parse({ type: 'message' })).toBe(true);
    expect(parse({ type: 'message', id: 'orders', queueArn: USER_QUEUE, batchSize: 10, batchWindowSeconds: 30, enabled: false })).toBe(true);
    expect(parse({ type: 'message', queueArn: 'arn:aws-cn:sqs:cn-north-1:123456789012:orders.fifo' })).toBe(true);
    expect(parse({ type: 'message', queueArn: 'https://sqs.us-east-1.amazonaws.com/123456789012/partner-feed' })).toBe(false);
    expect(parse({ type: 'message', queueArn: 'arn:aws:sns:us-east-1:123456789012:topic' })).toBe(false);
    expect(parse({ type: 'message', batchSize: 0 })).toBe(false);
    expect(parse({ type: 'message', batchSize: 11 })).toBe(false);
    expect(parse({ type: 'message', queue: 'q' })).toBe(false);
  });
});

describe('a pipeline’s message triggers in the plan', () => {
  it('default their ids to message-<i>, keep their queue and batching, and count their resources (enabled or not): a mapping each, a queue Phi creates five more, one grant policy a pipeline', () => {
    const compiled = plan({ triggers: [{ type: 'message' }, { type: 'message', id: 'partner', queueArn: USER_QUEUE, batchSize: 5, batchWindowSeconds: 60 }, { type: 'message', id: 'later', enabled: false }] });
    expect(compiled.problems).toStrictEqual([]);
    const p = compiled.plan.pipelines[0]!;
    expect(p.triggers).toStrictEqual([
      { id: 'message-0', type: 'message', enabled: true, message: { batchSize: 1 } },
      { id: 'partner', type: 'message', enabled: true, message: { queueArn: USER_QUEUE, batchSize: 5, batchWindowSeconds: 60 } },
      { id: 'later', type: 'message', enabled: false, message: { batchSize: 1 } },
    ]);
    const without = plan({}).plan.pipelines[0]!.estimates.stackResources;
    expect(p.estimates.stackResources).toBe(without + RESOURCES.messageQueueGrants + 3 * RESOURCES.perMessageTrigger + 2 * RESOURCES.perMessageQueue);
  });

  it('takes the queue as queue (the spec\'s name) or queueArn, not both (TRIG_004)', () => {
    expect(plan({ triggers: [{ type: 'message', id: 'spec', queue: USER_QUEUE }] }).plan.pipelines[0]!.triggers[0]).toStrictEqual({ id: 'spec', type: 'message', enabled: true, message: { queueArn: USER_QUEUE, batchSize: 1 } });
    expect(plan({ triggers: [{ type: 'message', queue: USER_QUEUE, queueArn: USER_QUEUE }] }).problems.map((p) => [p.code, p.path])).toStrictEqual([[ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, 'triggers[0].queue']]);
  });

  it('refuses debounceSeconds, a batch window without batches or past 300 seconds (TRIG_004), and two triggers on one queue (TRIG_002)', () => {
    const { problems } = plan({
      triggers: [
        { type: 'message', id: 'a', debounceSeconds: 60 },
        { type: 'message', id: 'b', batchWindowSeconds: 10 },
        { type: 'message', id: 'c', batchSize: 10, batchWindowSeconds: 301 },
        { type: 'message', id: 'd', queueArn: USER_QUEUE },
        { type: 'message', id: 'e', queueArn: USER_QUEUE },
      ],
    });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, 'triggers[0].debounceSeconds'],
      [ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, 'triggers[1].batchWindowSeconds'],
      [ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, 'triggers[2].batchWindowSeconds'],
      [ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'triggers[4].queueArn'],
    ]);
    expect(problems.every((p) => p.hint.length > 20)).toBe(true);
  });

  it('refuses two pipelines reading one queue (TRIG_002): the trigger function knows a message’s pipeline by its queue', () => {
    const pipeline = (id: string) => ({ file: `/tmp/defs/${id}.ts`, pipeline: PipelineSchema.parse({ id, jobs: { a: { handler: './a.ts' } }, triggers: [{ type: 'message', queueArn: USER_QUEUE }] }) });
    const { problems } = compilePlan([pipeline('first'), pipeline('second')], NOW);
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([[ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'second', 'triggers[0].queueArn']]);
  });

  it('holds a message-triggered run to what any triggered run is: run parameters with defaults (DEF_009), no "event" of its own (TRIG_002)', () => {
    expect(plan({ runParameters: z.object({ date: z.string() }), triggers: [{ type: 'message' }] }).problems.map((p) => p.code)).toStrictEqual([ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT]);
    expect(plan({ runParameters: z.object({ event: z.string().optional() }), triggers: [{ type: 'message' }] }).problems.map((p) => p.code)).toStrictEqual([ProblemCode.TRIG_002_TRIGGER_CONFLICT]);
  });

  it('routes the enabled triggers by their queue, for the trigger function (a queue Phi creates by its name), within the environment’s budget', () => {
    const p = plan({ triggers: [{ type: 'message', id: 'orders' }, { type: 'message', id: 'partner', queueArn: USER_QUEUE, batchSize: 5 }, { type: 'message', id: 'later', enabled: false }] }).plan.pipelines[0]!;
    expect(messageTriggerRoutes(p.id, p.triggers, (name) => `arn:aws:sqs:eu-west-1:111111111111:${name}`)).toStrictEqual([
      { q: 'arn:aws:sqs:eu-west-1:111111111111:phi-ingest_orders', p: 'ingest', t: 'orders' },
      { q: USER_QUEUE, p: 'ingest', t: 'partner', b: 1 },
    ]);
    expect(longestQueueArn('phi-x_y').length).toBeGreaterThanOrEqual('arn:aws-us-gov:sqs:us-gov-west-1:123456789012:phi-x_y'.length);
  });
});

// ---- the trigger function's SQS branch ----

const PIPELINE = 'ingest';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-ingest';
const QUEUE = 'arn:aws:sqs:us-east-1:123456789012:phi-ingest_orders';
const BATCH_QUEUE = 'arn:aws:sqs:us-east-1:123456789012:phi-ingest_bulk';
const FIFO_QUEUE = 'arn:aws:sqs:us-east-1:123456789012:orders.fifo';
const declared = runParametersJsonSchema(z.object({ mode: z.enum(['full', 'delta']).default('delta') }));
if (!declared.ok) throw new Error(JSON.stringify(declared.problems));

const ROUTES: MessageRoutes = new Map([
  [QUEUE, { q: QUEUE, p: PIPELINE, t: 'orders' }],
  [BATCH_QUEUE, { q: BATCH_QUEUE, p: PIPELINE, t: 'bulk', b: 1 as const }],
  [FIFO_QUEUE, { q: FIFO_QUEUE, p: PIPELINE, t: 'ordered' }],
]);

function world(options: { failFor?: (input: string) => boolean } = {}) {
  const store = new MemoryRecordStore();
  const { log, lines } = captureLogs({ component: 'schedule-trigger' });
  const executions = new Map<string, string>();
  const trigger: TriggerDeps = {
    store,
    log,
    stateMachines: new Map([[PIPELINE, STATE_MACHINE]]),
    runParameters: new Map([[PIPELINE, declared.ok ? declared.schema : {}]]),
    startExecution: async (_arn, name, input) => {
      if (options.failFor?.(input)) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      if (!executions.has(name)) executions.set(name, input);
    },
    now: clock('2026-11-23T12:00:01.000Z'),
  };
  return { store, trigger, starts: messageStartsOf(trigger), executions, lines };
}

/** An SQS message as an event source mapping hands it over. */
const record = (messageId: string, body: string, queue = QUEUE, fields: Record<string, unknown> = {}) => ({
  messageId,
  receiptHandle: `rh-${messageId}-${Math.random()}`,
  body,
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1795435200000', SenderId: 'AIDA', ApproximateFirstReceiveTimestamp: '1795435200100' },
  messageAttributes: {},
  md5OfBody: 'x',
  eventSource: 'aws:sqs',
  eventSourceARN: queue,
  awsRegion: 'us-east-1',
  ...fields,
});
const batchOf = (...records: unknown[]) => SqsEventSchema.parse({ Records: records });

describe('a message-triggered run’s identity', () => {
  it('is the trigger and the message ids in any order (kind letter q): a valid run id of at most 80 characters, another for another trigger or message', () => {
    const at = new Date('2026-11-23T12:00:00Z');
    const id = runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bulk', messageIds: ['m-1', 'm-2'] }, at);
    expect(id).toMatch(/^ingest_q-[0-9a-f]{32}$/);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bulk', messageIds: ['m-2', 'm-1'] }, new Date('2027-01-01T00:00:00Z'))).toBe(id);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'other', messageIds: ['m-1', 'm-2'] }, at)).not.toBe(id);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bulk', messageIds: ['m-1'] }, at)).not.toBe(id);
    // A message id is not an EventBridge event id: the same string is another run.
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bulk', messageIds: ['m-1'], eventId: 'm-1' }, at)).not.toBe(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bulk', eventId: 'm-1' }, at));
    const longest = runIdFor({ pipelineId: `p-${'q'.repeat(38)}`, trigger: 'EVENT', triggerId: 't'.repeat(19), messageIds: Array.from({ length: 10 }, (_, i) => `${i}`.repeat(100)) }, at);
    expect(longest.length).toBeLessThanOrEqual(80);
    expect(RunIdSchema.safeParse(longest).success).toBe(true);
  });
});

describe('the trigger function, for a message trigger’s queue', () => {
  it('is what the handler dispatches an SQS event to, and only that', () => {
    expect(isMessageBatch({ Records: [record('m-1', '{}')] })).toBe(true);
    expect(isMessageBatch({ pipelineId: PIPELINE, scheduledTime: '2026-11-23T12:00:00Z' })).toBe(false);
    expect(isMessageBatch({ pipelineId: PIPELINE, triggerId: 'orders', triggerType: 'event', event: { id: 'e' } })).toBe(false);
    expect(isMessageBatch({ Records: [{ eventSource: 'aws:s3' }] })).toBe(false);
    expect(isMessageBatch(null)).toBe(false);
  });

  it('starts one EVENT run per message, the message (its body parsed when JSON, else the text) as its `event` parameter, run-parameter defaults filled', async () => {
    const w = world();
    const answer = await startMessageRuns(batchOf(record('m-1', '{"order":42,"items":["a"]}'), record('m-2', 'plain text, not JSON')), ROUTES, w.starts);
    expect(answer).toStrictEqual({ batchItemFailures: [] });
    const runs = await w.store.listRuns(PIPELINE, 10);
    expect(runs).toHaveLength(2);
    const first = RunRecordSchema.parse(runs.find((r) => r.eventId === 'm-1'));
    expect(first).toMatchObject({
      runId: runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'orders', messageIds: ['m-1'] }, NOW),
      trigger: 'EVENT',
      triggerId: 'orders',
      status: RunStatus.PENDING,
      parameters: { mode: 'delta', event: { type: 'message', queue: QUEUE, messages: [{ messageId: 'm-1', sentAt: new Date(1795435200000).toISOString(), body: { order: 42, items: ['a'] } }] } },
    });
    expect(runs.find((r) => r.eventId === 'm-2')!.parameters.event).toMatchObject({ messages: [{ messageId: 'm-2', body: 'plain text, not JSON' }] });
    expect(w.executions.size).toBe(2);
  });

  it('starts no second run for a message delivered again, alone or in another batch', async () => {
    const w = world();
    await startMessageRuns(batchOf(record('m-1', '1'), record('m-2', '2')), ROUTES, w.starts);
    expect(await startMessageRuns(batchOf(record('m-2', '2'), record('m-3', '3')), ROUTES, w.starts)).toStrictEqual({ batchItemFailures: [] });
    expect(await startMessageRuns(batchOf(record('m-1', '1')), ROUTES, w.starts)).toStrictEqual({ batchItemFailures: [] });
    expect((await w.store.listRuns(PIPELINE, 10)).map((r) => r.eventId).sort()).toStrictEqual(['m-1', 'm-2', 'm-3']);
    expect(w.executions.size).toBe(3);
  });

  it('returns a message whose run could not be started in batchItemFailures (the others are consumed), and starts that same run when SQS delivers it again', async () => {
    let failing = true;
    const w = world({ failFor: (input) => failing && input.includes('"m-2"') });
    const answer = await startMessageRuns(batchOf(record('m-1', '1'), record('m-2', '2'), record('m-3', '3')), ROUTES, w.starts);
    expect(answer).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }] });
    const failed = (await w.store.listRuns(PIPELINE, 10)).find((r) => r.eventId === 'm-2')!;
    expect(failed).toMatchObject({ status: RunStatus.FAILED, error: { code: RUN_START_FAILED } });
    expect(w.lines.some((l) => l.level === 'ERROR' && l.message.startsWith('a message run could not be started'))).toBe(true);
    failing = false;
    expect(await startMessageRuns(batchOf(record('m-2', '2')), ROUTES, w.starts)).toStrictEqual({ batchItemFailures: [] });
    const runs = await w.store.listRuns(PIPELINE, 10);
    expect(runs).toHaveLength(3);
    expect(runs.find((r) => r.eventId === 'm-2')).toMatchObject({ runId: failed.runId, status: RunStatus.PENDING });
    expect(w.executions.has(failed.runId)).toBe(true);
  });

  it('with batchSize above 1 starts one run per batch listing every message in order, the same run for the batch delivered again in any order; a failed start returns every message of it', async () => {
    const w = world();
    const answer = await startMessageRuns(batchOf(record('b-2', '{"n":2}', BATCH_QUEUE), record('b-1', '{"n":1}', BATCH_QUEUE), record('b-3', 'three', BATCH_QUEUE)), ROUTES, w.starts);
    expect(answer).toStrictEqual({ batchItemFailures: [] });
    const [run] = await w.store.listRuns(PIPELINE, 10);
    expect(run).toMatchObject({
      runId: runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'bulk', messageIds: ['b-1', 'b-2', 'b-3'] }, NOW),
      triggerId: 'bulk',
      parameters: { event: { type: 'message', queue: BATCH_QUEUE, messages: [{ messageId: 'b-2', body: { n: 2 } }, { messageId: 'b-1', body: { n: 1 } }, { messageId: 'b-3', body: 'three' }] } },
    });
    expect(run!.eventId).toBeUndefined();
    await startMessageRuns(batchOf(record('b-3', 'three', BATCH_QUEUE), record('b-1', '{"n":1}', BATCH_QUEUE), record('b-2', '{"n":2}', BATCH_QUEUE)), ROUTES, w.starts);
    // A message SQS repeats within the batch counts once.
    await startMessageRuns(batchOf(record('b-3', 'three', BATCH_QUEUE), record('b-1', '{"n":1}', BATCH_QUEUE), record('b-3', 'three', BATCH_QUEUE), record('b-2', '{"n":2}', BATCH_QUEUE)), ROUTES, w.starts);
    expect(await w.store.listRuns(PIPELINE, 10)).toHaveLength(1);

    const failing = world({ failFor: () => true });
    expect(await startMessageRuns(batchOf(record('c-1', '1', BATCH_QUEUE), record('c-2', '2', BATCH_QUEUE)), ROUTES, failing.starts)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'c-1' }, { itemIdentifier: 'c-2' }] });
  });

  it('on a FIFO queue returns the messages after a failed one too, so none overtakes it', async () => {
    const w = world({ failFor: (input) => input.includes('"f-2"') });
    const answer = await startMessageRuns(batchOf(record('f-1', '1', FIFO_QUEUE), record('f-2', '2', FIFO_QUEUE), record('f-3', '3', FIFO_QUEUE)), ROUTES, w.starts);
    expect(answer).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'f-2' }, { itemIdentifier: 'f-3' }] });
    expect((await w.store.listRuns(PIPELINE, 10)).map((r) => r.eventId).sort()).toStrictEqual(['f-1', 'f-2']);
  });

  it('returns every message of a queue no trigger reads, and of a pipeline not deployed, to be delivered again (and kept by its dead-letter queue)', async () => {
    const w = world();
    const stray = 'arn:aws:sqs:us-east-1:123456789012:phi-gone_orders';
    expect(await startMessageRuns(batchOf(record('s-1', '1', stray)), ROUTES, w.starts)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 's-1' }] });
    const undeployed: MessageRoutes = new Map([[QUEUE, { q: QUEUE, p: 'gone', t: 'orders' }]]);
    expect(await startMessageRuns(batchOf(record('s-2', '2')), undeployed, w.starts)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 's-2' }] });
    expect(await w.store.listRuns(PIPELINE, 10)).toStrictEqual([]);
  });

  it('leaves out a body that would take the parameters past their limit, and says so, keeping the bodies that fit', async () => {
    const w = world();
    const big = JSON.stringify({ blob: 'x'.repeat(MAX_RUN_PARAMETERS_BYTES) });
    await startMessageRuns(batchOf(record('big', big, BATCH_QUEUE), record('small', '{"ok":true}', BATCH_QUEUE)), ROUTES, w.starts);
    const [run] = await w.store.listRuns(PIPELINE, 10);
    expect(run!.parameters.event).toStrictEqual({
      type: 'message',
      queue: BATCH_QUEUE,
      messages: [
        { messageId: 'big', sentAt: new Date(1795435200000).toISOString(), bodyOmitted: true },
        { messageId: 'small', sentAt: new Date(1795435200000).toISOString(), body: { ok: true } },
      ],
    });
  });

  it('records the run of a paused pipeline SKIPPED (PAUSED), as any trigger’s, and consumes its message', async () => {
    const w = world();
    const audit: AuditRecord = { id: 'PAUSE-ingest', action: 'PAUSE', pipeline: PIPELINE, by: 'arn:aws:iam::123456789012:user/op', at: NOW.toISOString() };
    await w.store.setPause(PIPELINE, { by: audit.by, at: audit.at }, audit);
    expect(await startMessageRuns(batchOf(record('p-1', '1')), ROUTES, w.starts)).toStrictEqual({ batchItemFailures: [] });
    expect((await w.store.listRuns(PIPELINE, 10))[0]).toMatchObject({ status: RunStatus.SKIPPED, startDecision: { reason: 'PAUSED' } });
    expect(w.executions.size).toBe(0);
  });

  it('reads the deployment’s message triggers from its environment', async () => {
    const env = { [MESSAGE_TRIGGERS_ENV]: JSON.stringify([{ q: QUEUE, p: PIPELINE, t: 'orders' }, { q: BATCH_QUEUE, p: PIPELINE, t: 'bulk', b: 1 }]) };
    expect([...messageRoutesFromEnv(env).values()]).toStrictEqual([{ q: QUEUE, p: PIPELINE, t: 'orders' }, { q: BATCH_QUEUE, p: PIPELINE, t: 'bulk', b: 1 }]);
    expect(messageRoutesFromEnv({}).size).toBe(0);
    expect(() => messageRoutesFromEnv({ [MESSAGE_TRIGGERS_ENV]: JSON.stringify([{ q: QUEUE, p: 'Not A Pipeline', t: 'orders' }]) })).toThrow();
    // An event that is no SQS event is refused before anything is started.
    await expect(handleMessageBatch({ Records: [{ eventSource: 'aws:sqs' }] }, world().starts)).rejects.toThrow();
  });
});

/**
 * Event triggers (issue #9): `triggers: [{ type: 'event', pattern }, { type: 'dataArrival', bucket, … }]`.
 * The plan checks an event pattern's shape and writes a dataArrival trigger's (S3 Object Created through
 * EventBridge); the trigger function starts one run per trigger and event (a redelivery, EventBridge's
 * or the sweeper's, is the same run), the event as Phi's `event` parameter, at most one run per
 * `debounceSeconds` (later events inside the interval are dropped, never recorded).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sweep, type Delivery, type SweeperDeps } from '../../functions/control/sweeper.ts';
import { runIdFor, startEventRun, TriggeredEventSchema, type TriggerDeps, type TriggeredEvent } from '../../functions/control/trigger.ts';
import { MAX_RUN_PARAMETERS_BYTES, RunIdSchema, RunRecordSchema } from '../../lib/model/contract/index.ts';
import { PipelineSchema, type PipelineInput } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { compilePlan, RESOURCES } from '../../lib/plan/compile.ts';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import { dataArrivalPattern, eventPatternIssues } from '../../lib/plan/triggers.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const NOW = new Date('2026-11-23T12:00:00Z');

function plan(fields: Partial<PipelineInput>) {
  const pipeline = PipelineSchema.parse({ id: 'ingest', jobs: { a: { handler: './a.ts' } }, ...fields });
  return compilePlan([{ file: '/tmp/defs/ingest.ts', pipeline }], NOW);
}

describe('the definition of triggers', () => {
  it('takes event and dataArrival triggers, and refuses another type or a bucket that is not an S3 bucket name', () => {
    expect(PipelineSchema.safeParse({ id: 'p', jobs: { a: { handler: 'a.ts' } }, triggers: [{ type: 'event', pattern: { source: ['my.app'] } }, { type: 'dataArrival', bucket: 'raw-data', prefix: 'in/' }] }).success).toBe(true);
    expect(PipelineSchema.safeParse({ id: 'p', jobs: { a: { handler: 'a.ts' } }, triggers: [{ type: 'mail', queue: 'q' }] }).success).toBe(false);
    expect(PipelineSchema.safeParse({ id: 'p', jobs: { a: { handler: 'a.ts' } }, triggers: [{ type: 'dataArrival', bucket: 'Raw_Data' }] }).success).toBe(false);
    expect(PipelineSchema.safeParse({ id: 'p', jobs: { a: { handler: 'a.ts' } }, triggers: [{ type: 'event', id: 'x'.repeat(20), pattern: { source: ['a'] } }] }).success).toBe(false);
  });
});

describe('an event pattern, checked at plan time', () => {
  it.each([
    ['values of every JSON kind', { source: ['my.app'], detail: { n: [1, 2.5], ok: [true], gone: [null] } }],
    ['every documented matcher', {
      detail: {
        a: [{ prefix: 'in/' }, { prefix: { 'equals-ignore-case': 'IN/' } }],
        b: [{ suffix: '.csv' }],
        c: [{ 'anything-but': ['x', 'y'] }, { 'anything-but': { prefix: 'tmp/' } }, { 'anything-but': 3 }],
        d: [{ numeric: ['>', 0, '<=', 100] }],
        e: [{ exists: false }],
        f: [{ 'equals-ignore-case': 'Done' }],
        g: [{ wildcard: 'in/*.csv' }],
        h: [{ cidr: '10.0.0.0/24' }],
      },
    }],
    ['$or of two patterns', { source: ['my.app'], $or: [{ detail: { a: [1] } }, { detail: { b: [2] } }] }],
  ])('accepts %s', (_what, pattern) => {
    expect(eventPatternIssues(pattern)).toStrictEqual([]);
  });

  it.each([
    ['a leaf that is a value, not a list', { source: 'my.app' }, 'source'],
    ['an empty list', { source: [] }, 'source'],
    ['an empty object', { detail: {} }, 'detail'],
    ['an unknown matcher', { detail: { a: [{ regex: '.*' }] } }, 'detail.a[0].regex'],
    ['a matcher with two keys', { detail: { a: [{ prefix: 'a', suffix: 'b' }] } }, 'detail.a[0]'],
    ['numeric without a number', { detail: { a: [{ numeric: ['>', 'one'] }] } }, 'detail.a[0].numeric'],
    ['numeric with an unknown operator', { detail: { a: [{ numeric: ['!=', 1] }] } }, 'detail.a[0].numeric'],
    ['exists with a string', { detail: { a: [{ exists: 'yes' }] } }, 'detail.a[0].exists'],
    ['cidr that is no IP prefix', { detail: { a: [{ cidr: 'ten' }] } }, 'detail.a[0].cidr'],
    ['anything-but with numeric', { detail: { a: [{ 'anything-but': { numeric: ['>', 1] } }] } }, 'detail.a[0].anything-but'],
    ['a nested list', { detail: { a: [['x']] } }, 'detail.a[0]'],
    ['$or with one pattern', { $or: [{ source: ['a'] }] }, '$or'],
  ])('refuses %s (TRIG_001, with its path)', (_what, pattern, where) => {
    const { problems } = plan({ triggers: [{ type: 'event', pattern }] });
    expect(problems.map((p) => [p.code, p.path])).toContainEqual([ProblemCode.TRIG_001_INVALID_PATTERN, `triggers[0].pattern.${where}`]);
  });

  it('refuses a pattern longer than EventBridge keeps (4,096 characters)', () => {
    expect(eventPatternIssues({ source: Array.from({ length: 500 }, (_, i) => `source-${i}`) })[0]?.message).toMatch(/at most 4096/);
  });
});

describe('a dataArrival trigger', () => {
  it('compiles to S3’s Object Created events through EventBridge for its bucket, prefix and suffix', () => {
    const base = { source: ['aws.s3'], 'detail-type': ['Object Created'] };
    expect(dataArrivalPattern({ bucket: 'raw' })).toStrictEqual({ ...base, detail: { bucket: { name: ['raw'] } } });
    expect(dataArrivalPattern({ bucket: 'raw', prefix: 'in/' })).toStrictEqual({ ...base, detail: { bucket: { name: ['raw'] }, object: { key: [{ prefix: 'in/' }] } } });
    expect(dataArrivalPattern({ bucket: 'raw', suffix: '.csv' })).toStrictEqual({ ...base, detail: { bucket: { name: ['raw'] }, object: { key: [{ suffix: '.csv' }] } } });
    // Both: one wildcard (a list's matchers are alternatives), its own `*` and `\` escaped.
    expect(dataArrivalPattern({ bucket: 'raw', prefix: 'in/*/', suffix: '.csv' }).detail).toStrictEqual({ bucket: { name: ['raw'] }, object: { key: [{ wildcard: 'in/\\*/*.csv' }] } });
    expect(eventPatternIssues(dataArrivalPattern({ bucket: 'raw', prefix: 'in/', suffix: '.csv' }))).toStrictEqual([]);
  });
});

describe('a pipeline’s triggers in the plan', () => {
  it('default their ids by kind and index, and count two resources (the rule, its invoke permission) per enabled trigger only', () => {
    const withTriggers = plan({ triggers: [{ type: 'event', pattern: { source: ['my.app'] } }, { type: 'dataArrival', bucket: 'raw', enabled: false }, { type: 'dataArrival', id: 'landing', bucket: 'raw', debounceSeconds: 60 }] });
    const without = plan({});
    expect(withTriggers.problems).toStrictEqual([]);
    const p = withTriggers.plan.pipelines[0]!;
    expect(p.triggers.map((t) => [t.id, t.type, t.enabled, t.debounceSeconds])).toStrictEqual([['event-0', 'event', true, undefined], ['data-1', 'dataArrival', false, undefined], ['landing', 'dataArrival', true, 60]]);
    expect(p.estimates.stackResources).toBe(without.plan.pipelines[0]!.estimates.stackResources + 2 * RESOURCES.perTrigger);
  });

  it('refuses two triggers with one id (TRIG_002), a batch window with a debounce (TRIG_003), and runParameters declaring "event"', () => {
    const { problems } = plan({
      runParameters: z.object({ event: z.string().optional() }),
      triggers: [{ type: 'event', id: 'x', pattern: { source: ['a'] } }, { type: 'dataArrival', id: 'x', bucket: 'raw', batchWindowSeconds: 30, debounceSeconds: 60 }],
    });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'triggers[1].id'],
      [ProblemCode.TRIG_003_UNSUPPORTED, 'triggers[1].batchWindowSeconds'],
      [ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'runParameters.event'],
    ]);
  });

  it('refuses run parameters a triggered run (which sets none) cannot have: DEF_009', () => {
    const { problems } = plan({ runParameters: z.object({ date: z.string() }), triggers: [{ type: 'event', pattern: { source: ['a'] } }] });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([[ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'triggers[0]']]);
    // A disabled trigger starts nothing: no conflict.
    expect(plan({ runParameters: z.object({ date: z.string() }), triggers: [{ type: 'event', enabled: false, pattern: { source: ['a'] } }] }).problems).toStrictEqual([]);
  });
});

// ---- the trigger function ----

const PIPELINE = 'ingest';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-ingest';
const declared = runParametersJsonSchema(z.object({ mode: z.enum(['full', 'delta']).default('delta') }));
if (!declared.ok) throw new Error(JSON.stringify(declared.problems));

/** The records table's debounce windows, as `claimTriggerWindow`'s conditional write decides. */
class MemoryWindows {
  readonly windows = new Map<string, { eventId: string; until: string }>();
  constructor(private readonly store: MemoryRecordStore) {}
  getRun = (runId: string) => this.store.getRun(runId);
  claimTriggerWindow = async (pipelineId: string, triggerId: string, eventId: string, at: string, seconds: number): Promise<boolean> => {
    const key = `${pipelineId}|${triggerId}`;
    const open = this.windows.get(key);
    if (open !== undefined && open.until > at && open.eventId !== eventId) return false;
    this.windows.set(key, { eventId, until: new Date(Date.parse(at) + seconds * 1000).toISOString() });
    return true;
  };
}

function world(...instants: string[]) {
  const store = new MemoryRecordStore();
  const { log, lines } = captureLogs({ component: 'schedule-trigger' });
  const executions = new Map<string, string>();
  const windows = new MemoryWindows(store);
  const trigger: TriggerDeps = {
    store,
    log,
    stateMachines: new Map([[PIPELINE, STATE_MACHINE]]),
    runParameters: new Map([[PIPELINE, declared.ok ? declared.schema : {}]]),
    triggerWindows: windows,
    startExecution: async (_arn, name, input) => void (executions.has(name) || executions.set(name, input)),
    now: clock(...(instants.length > 0 ? instants : ['2026-11-23T12:00:01.000Z'])),
  };
  return { store, trigger, executions, lines, windows };
}

/** A trigger rule's input, as the pipeline construct's input transformer renders it. */
const delivered = (eventId: string, fields: Partial<TriggeredEvent> = {}, detail: unknown = { status: 'done' }, source = ['my.app', 'Order Placed']): unknown => ({
  pipelineId: PIPELINE,
  triggerId: 'orders',
  triggerType: 'event',
  ...fields,
  event: { version: '0', id: eventId, source: source[0], 'detail-type': source[1], account: '123456789012', time: '2026-11-23T12:00:00Z', region: 'us-east-1', resources: [], detail },
});
const objectCreated = (eventId: string, key: string): unknown =>
  delivered(eventId, { triggerId: 'landing', triggerType: 'dataArrival' }, { version: '0', bucket: { name: 'raw' }, object: { key, size: 1234, etag: 'e' }, reason: 'PutObject' }, ['aws.s3', 'Object Created']);

describe('an event-triggered run’s identity', () => {
  it('is the trigger and the event id (kind letter e): the same whenever asked, another for another trigger or event, a valid run id of at most 80 characters', () => {
    const at = new Date('2026-11-23T12:00:00Z');
    const id = runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'orders', eventId: 'e-1' }, at);
    expect(id).toMatch(/^ingest_e-[0-9a-f]{32}$/);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'orders', eventId: 'e-1' }, new Date('2027-01-01T00:00:00Z'))).toBe(id);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'other', eventId: 'e-1' }, at)).not.toBe(id);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'orders', eventId: 'e-2' }, at)).not.toBe(id);
    const longest = runIdFor({ pipelineId: `p-${'q'.repeat(38)}`, trigger: 'EVENT', triggerId: 't'.repeat(19), eventId: 'x'.repeat(200) }, at);
    expect(longest.length).toBeLessThanOrEqual(80);
    expect(RunIdSchema.safeParse(longest).success).toBe(true);
  });
});

describe('the trigger function, for a trigger rule’s delivery', () => {
  it('starts one EVENT run with the event as its `event` parameter (run-parameter defaults filled), keeping the trigger and event ids on its record', async () => {
    const w = world();
    const started = await startEventRun(TriggeredEventSchema.parse(delivered('evt-1')), w.trigger);
    if (started.debounced) throw new Error('debounced');
    expect(started.created).toBe(true);
    expect(RunRecordSchema.parse(started.run)).toMatchObject({
      trigger: 'EVENT',
      triggerId: 'orders',
      eventId: 'evt-1',
      parameters: { mode: 'delta', event: { id: 'evt-1', source: 'my.app', detailType: 'Order Placed', time: '2026-11-23T12:00:00Z', detail: { status: 'done' } } },
    });
    expect(JSON.parse(w.executions.get(started.run.runId)!)).toMatchObject({ trigger: 'EVENT', parameters: { event: { id: 'evt-1' } } });
  });

  it('starts no second run for a redelivery of the same event; another trigger matching the same event starts its own', async () => {
    const w = world();
    const first = await startEventRun(TriggeredEventSchema.parse(delivered('evt-1')), w.trigger);
    const again = await startEventRun(TriggeredEventSchema.parse(delivered('evt-1')), w.trigger);
    expect(again).toMatchObject({ debounced: false, created: false, run: { runId: first.debounced ? '' : first.run.runId } });
    await startEventRun(TriggeredEventSchema.parse(delivered('evt-1', { triggerId: 'audit' })), w.trigger);
    expect(w.executions.size).toBe(2);
  });

  it('gives a dataArrival run the object’s bucket, key and size', async () => {
    const w = world();
    const started = await startEventRun(TriggeredEventSchema.parse(objectCreated('s3-1', 'in/2026-11-23.csv')), w.trigger);
    expect(started).toMatchObject({ run: { triggerId: 'landing', parameters: { event: { bucket: 'raw', key: 'in/2026-11-23.csv', size: 1234, detailType: 'Object Created' } } } });
  });

  it('leaves out a detail that would take the parameters past their limit, and says so', async () => {
    const w = world();
    const started = await startEventRun(TriggeredEventSchema.parse(delivered('big', {}, { blob: 'x'.repeat(MAX_RUN_PARAMETERS_BYTES) })), w.trigger);
    if (started.debounced) throw new Error('debounced');
    expect(started.run.parameters.event).toStrictEqual({ id: 'big', source: 'my.app', detailType: 'Order Placed', time: '2026-11-23T12:00:00Z', detailOmitted: true });
  });

  it('with debounceSeconds starts at most one run per interval: a later event inside it is dropped (not recorded), a redelivery of the admitted one is its run, and after the interval the next event runs', async () => {
    const w = world('2026-11-23T12:00:00.000Z', '2026-11-23T12:00:10.000Z', '2026-11-23T12:00:20.000Z', '2026-11-23T12:01:01.000Z');
    const debounced = { debounceSeconds: 60 };
    const first = await startEventRun(TriggeredEventSchema.parse(delivered('a', debounced)), w.trigger);
    const dropped = await startEventRun(TriggeredEventSchema.parse(delivered('b', debounced)), w.trigger);
    const redelivered = await startEventRun(TriggeredEventSchema.parse(delivered('a', debounced)), w.trigger);
    const next = await startEventRun(TriggeredEventSchema.parse(delivered('c', debounced)), w.trigger);
    expect(first).toMatchObject({ debounced: false, created: true });
    expect(dropped).toStrictEqual({ debounced: true, eventId: 'b' });
    expect(redelivered).toMatchObject({ debounced: false, created: false });
    expect(next).toMatchObject({ debounced: false, created: true });
    expect((await w.store.listRuns(PIPELINE, 10)).map((r) => r.eventId).sort()).toStrictEqual(['a', 'c']);
    expect(w.lines.some((l) => l.message === 'event dropped: the trigger\'s debounce window is open')).toBe(true);
  });
});

describe('the sweeper’s re-delivery of a failed trigger delivery', () => {
  it('starts the run the first delivery would have, once, and deletes the message', async () => {
    const w = world();
    const first = await startEventRun(TriggeredEventSchema.parse(delivered('evt-1')), w.trigger);
    const queue = [delivered('evt-1'), objectCreated('s3-9', 'in/late.csv')].map((d) => JSON.stringify(d));
    const deleted: string[] = [];
    const { log } = captureLogs({ component: 'sweeper' });
    const deps: SweeperDeps = {
      store: w.store,
      trigger: w.trigger,
      recorder: { store: w.store, log, sendToken: async () => {}, sendDeadLetter: async () => {}, jobLists: new MemoryJobLists(), now: clock('2026-11-23T12:00:01.000Z') },
      describeExecution: async () => 'RUNNING',
      receiveDeliveries: async (): Promise<Delivery[]> => queue.splice(0, 10).map((body) => ({ body, done: async () => void deleted.push(body) })),
      log,
      now: clock('2026-11-23T12:00:01.000Z'),
    };
    expect(await sweep(deps)).toMatchObject({ redelivered: 2, unreadable: 0 });
    expect(deleted).toHaveLength(2);
    const runs = await w.store.listRuns(PIPELINE, 10);
    expect(runs.map((r) => r.eventId).sort()).toStrictEqual(['evt-1', 's3-9']);
    expect(runs.find((r) => r.eventId === 'evt-1')!.runId).toBe(first.debounced ? '' : first.run.runId);
    expect(w.executions.size).toBe(2);
  });
});

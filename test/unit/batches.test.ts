/**
 * Batch windows of event and dataArrival triggers (`batchWindowSeconds`): the events of a window, opened
 * by the first, become one run started at its close, listing them; an event after the close opens the
 * next batch; a redelivered event is in its batch once; the close delivered twice starts one run; a
 * batch too large for the parameters keeps what fits, saying what it left out.
 */
import { describe, expect, it } from 'vitest';
import { addEventToBatch, batchParameter, closeBatch } from '../../functions/control/batches.ts';
import type { TriggerDeps, TriggeredEvent } from '../../functions/control/trigger.ts';
import type { BatchRef } from '../../functions/control/wait-checks.ts';
import { MAX_RUN_PARAMETERS_BYTES, RunStatus } from '../../lib/model/contract/index.ts';
import { jsonBytes } from '../../lib/model/canonical.ts';
import type { JsonValue } from '../../lib/model/pipeline.ts';
import { captureLogs, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'landing';
const T0 = Date.parse('2026-11-23T20:00:00Z');

function world() {
  const store = new MemoryRecordStore();
  const started: string[] = [];
  const closes: [BatchRef, string][] = [];
  const clock = { now: T0 };
  const { log } = captureLogs({ component: 'schedule-trigger' });
  const deps: TriggerDeps = {
    store,
    // Step Functions keeps one execution per name: a second start of a run is the same execution.
    startExecution: async (_arn, name) => void (started.includes(name) || started.push(name)),
    stateMachines: new Map([[PIPELINE, 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-landing']]),
    waitChecks: { schedule: async () => {}, scheduleBatchClose: async (batch, at) => void closes.push([batch, at]) },
    log,
    now: () => new Date(clock.now),
  };
  return { store, started, closes, clock, deps };
}

const delivery = (id: string, detail: JsonValue = { n: id }): TriggeredEvent => ({
  pipelineId: PIPELINE,
  triggerId: 'batches',
  triggerType: 'event',
  batchWindowSeconds: 60,
  event: { id, source: 'my.app', 'detail-type': 'Batch Ready', time: '2026-11-23T20:00:00Z', detail },
});

describe('a trigger with a batch window', () => {
  it('gathers the events of a window into one run started at its close, listing them; the next event opens the next batch', async () => {
    const w = world();
    const first = await addEventToBatch(delivery('a'), w.deps);
    const batchId = first.batchId;
    expect(w.closes).toEqual([[{ pipelineId: PIPELINE, triggerId: 'batches', batchId }, '2026-11-23T20:01:00.000Z']]);
    w.clock.now = T0 + 20_000;
    expect((await addEventToBatch(delivery('b'), w.deps)).batchId).toBe(batchId);
    // Delivered again: one member; the close is scheduled once.
    expect((await addEventToBatch(delivery('b'), w.deps)).batchId).toBe(batchId);
    expect(w.closes).toHaveLength(1);
    expect(w.started).toEqual([]);
    w.clock.now = T0 + 60_000;
    // At the window's end a new event opens the next batch, never joins the closing one.
    const next = await addEventToBatch(delivery('c'), w.deps);
    expect(next.batchId).not.toBe(batchId);
    const ref = { pipelineId: PIPELINE, triggerId: 'batches', batchId };
    const closed = await closeBatch(ref, w.deps);
    expect(closed).toMatchObject({ created: true, events: 2 });
    const run = await w.store.requireRun(closed.runId!);
    expect(run).toMatchObject({ trigger: 'EVENT', triggerId: 'batches', status: RunStatus.PENDING, parameters: { event: { type: 'batch', batchId, count: 2, openedAt: '2026-11-23T20:00:00.000Z', events: [{ id: 'a', detail: { n: 'a' } }, { id: 'b', detail: { n: 'b' } }] } } });
    // The close delivered again: the same run.
    expect(await closeBatch(ref, w.deps)).toMatchObject({ runId: closed.runId, created: false });
    expect(w.started).toEqual([closed.runId]);
  });

  it('takes no event once closed, even one that read it open a moment before (it opens the next batch)', async () => {
    const w = world();
    const { batchId } = await addEventToBatch(delivery('a'), w.deps);
    w.clock.now = T0 + 59_900;
    // The close runs first (its schedule fired), then the late event's write lands.
    await closeBatch({ pipelineId: PIPELINE, triggerId: 'batches', batchId }, w.deps);
    expect(await w.store.addToBatch(PIPELINE, 'batches', batchId, 'late', { id: 'late' }, new Date(w.clock.now).toISOString())).toBe(false);
    const late = await addEventToBatch(delivery('late'), w.deps);
    expect(late.batchId).not.toBe(batchId);
    // The opener delivered again after its batch closed: a batch of its own, never the closed batch's id.
    w.clock.now = T0 + 120_000;
    expect((await addEventToBatch(delivery('a'), w.deps)).batchId).not.toBe(batchId);
  });

  it('has its close scheduled by the next event to join when the one that opened it stopped before scheduling it', async () => {
    const w = world();
    const failing = { ...w.deps, waitChecks: { schedule: async () => {}, scheduleBatchClose: async () => { throw new Error('Rate exceeded'); } } };
    await expect(addEventToBatch(delivery('a'), failing)).rejects.toThrow('Rate exceeded');
    w.clock.now = T0 + 5_000;
    const joined = await addEventToBatch(delivery('b'), w.deps);
    expect(w.closes).toEqual([[{ pipelineId: PIPELINE, triggerId: 'batches', batchId: joined.batchId }, '2026-11-23T20:01:00.000Z']]);
  });

  it('starts nothing for a batch without events', async () => {
    const w = world();
    expect(await closeBatch({ pipelineId: PIPELINE, triggerId: 'batches', batchId: 'none' }, w.deps)).toEqual({ events: 0 });
  });

  it('keeps the batch within the parameters: the events whole, else without their details, else their ids', () => {
    const ref = { pipelineId: PIPELINE, triggerId: 'batches', batchId: 'a' };
    const small = batchParameter(ref, 'o', 'c', [{ eventId: 'a', event: { id: 'a', detail: { x: 1 } } }]);
    expect(small).toMatchObject({ events: [{ id: 'a', detail: { x: 1 } }] });
    const big = Array.from({ length: 40 }, (_, i) => ({ eventId: `e${i}`, event: { id: `e${i}`, detail: { blob: 'x'.repeat(2000) } } }));
    const stripped = batchParameter(ref, 'o', 'c', big);
    expect(stripped).toMatchObject({ count: 40, events: expect.arrayContaining([{ id: 'e0', detailOmitted: true }]) });
    const many = Array.from({ length: 2000 }, (_, i) => ({ eventId: `event-${i}`, event: { id: `event-${i}`, source: 'my.app', detailType: 'Batch Ready', time: '2026-11-23T20:00:00Z' } }));
    const ids = batchParameter(ref, 'o', 'c', many);
    expect(ids).toMatchObject({ count: 2000, eventsOmitted: true });
    expect(jsonBytes(ids)).toBeLessThan(MAX_RUN_PARAMETERS_BYTES);
  });
});

/**
 * Batch windows of event and dataArrival triggers (`batchWindowSeconds`, issue #9): the events of a
 * window become one run. The first event of a trigger with no open batch opens one (one conditional
 * write; its id is made of that event's id and the instant, so a batch id is never reused) and has its
 * close scheduled at the window's end (a one-time EventBridge Scheduler schedule; an event joining a
 * batch whose close is not noted as scheduled schedules it too). Each event is added while the batch
 * is open (a transaction with the batch's check). The close first marks the batch closed, so no event
 * joins it after its events are read (a later one opens the next), then its events start one run,
 * trigger EVENT, named after the trigger and the batch (`batch:<id>`), so the close delivered twice
 * starts it once; its `event` parameter lists the events.
 */
import { createHash } from 'node:crypto';
import { jsonBytes } from '../../lib/model/canonical.ts';
import { MAX_RUN_PARAMETERS_BYTES, TriggerType, type RunRecord } from '../../lib/model/contract/index.ts';
import { ConfigurationError, PhiError } from '../../lib/model/errors.ts';
import type { JsonValue } from '../../lib/model/pipeline.ts';
import { eventRunRequest, startRun, type TriggerDeps, type TriggeredEvent } from './trigger.ts';
import type { BatchRef } from './wait-checks.ts';

/** How often an event tries again to join or open a batch while others open and close them. */
const BATCH_ROUNDS = 5;

/** Adds a trigger delivery's event to the trigger's open batch (opening one when none is): the batch it joined. */
export async function addEventToBatch(delivery: TriggeredEvent, deps: TriggerDeps): Promise<{ batched: true; batchId: string; eventId: string }> {
  const seconds = delivery.batchWindowSeconds;
  if (seconds === undefined) throw new ConfigurationError('batchWindowSeconds', 'only a trigger with a batch window batches its events');
  const { pipelineId, triggerId } = delivery;
  const eventId = delivery.event.id;
  const summary = eventRunRequest(delivery).eventParameter ?? {};
  for (let round = 0; round < BATCH_ROUNDS; round++) {
    const now = (deps.now ?? (() => new Date()))();
    const at = now.toISOString();
    let batch = await deps.store.getBatch(pipelineId, triggerId);
    if (batch === undefined || batch.until <= at || batch.closedAt !== undefined) {
      const batchId = createHash('sha256').update(`${eventId}\n${at}`).digest('hex').slice(0, 24);
      batch = await deps.store.openBatch(pipelineId, triggerId, batchId, at, new Date(now.getTime() + seconds * 1000).toISOString());
    }
    // Its close is scheduled by the event that opened it, or by the next to join should that one have stopped before.
    if (batch.scheduled !== true) {
      if (deps.waitChecks === undefined) throw new ConfigurationError('waitChecks', 'a trigger with batchWindowSeconds needs its batches closed at their window\'s end');
      await deps.waitChecks.scheduleBatchClose({ pipelineId, triggerId, batchId: batch.batchId }, batch.until);
      await deps.store.markBatchScheduled(pipelineId, triggerId, batch.batchId);
    }
    if (await deps.store.addToBatch(pipelineId, triggerId, batch.batchId, eventId, summary, at)) {
      deps.log.info('event added to its trigger\'s batch', { pipelineId, triggerId, batchId: batch.batchId, eventId, until: batch.until });
      return { batched: true, batchId: batch.batchId, eventId };
    }
  }
  throw new PhiError('TRIG_006_BATCH_CONTENDED', `event ${eventId} could not join a batch of ${pipelineId}/${triggerId} in ${BATCH_ROUNDS} rounds: batches opened and closed under it (it is delivered again)`);
}

/** The batch's run parameter, within the parameters' size: every event whole, else without their details, else their ids only. */
export function batchParameter(ref: BatchRef, openedAt: string, closedAt: string, events: readonly { eventId: string; event: unknown }[]): { [key: string]: JsonValue } {
  const base = { type: 'batch', batchId: ref.batchId, openedAt, closedAt, count: events.length };
  const whole = { ...base, events: events.map((e) => e.event as JsonValue) };
  // Room for the run's other parameters (`runParameters` defaults): a quarter of the limit.
  const room = Math.floor(MAX_RUN_PARAMETERS_BYTES * 0.75);
  if (jsonBytes(whole) <= room) return whole;
  const stripped = events.map((e): JsonValue => {
    const event = e.event;
    if (typeof event !== 'object' || event === null || Array.isArray(event)) return { id: e.eventId };
    const { detail: _detail, ...rest } = event as { [key: string]: JsonValue };
    return { ...rest, detailOmitted: true };
  });
  const withoutDetails = { ...base, events: stripped };
  if (jsonBytes(withoutDetails) <= room) return withoutDetails;
  return { ...base, eventsOmitted: true, eventIds: events.slice(0, 500).map((e) => e.eventId) };
}

/** Closes a batch at its window's end: its events start its one run (none when it holds none). */
export async function closeBatch(ref: BatchRef, deps: TriggerDeps): Promise<{ runId?: string; created?: boolean; events: number }> {
  // Closed first: an event that read the batch open a moment ago cannot join it once its events are read.
  await deps.store.closeBatch(ref.pipelineId, ref.triggerId, ref.batchId, (deps.now ?? (() => new Date()))().toISOString());
  const events = await deps.store.batchEvents(ref.pipelineId, ref.triggerId, ref.batchId);
  if (events.length === 0) return { events: 0 };
  const batch = await deps.store.getBatch(ref.pipelineId, ref.triggerId);
  const mine = batch?.batchId === ref.batchId ? batch : undefined;
  const openedAt = mine?.openedAt ?? events.map((e) => e.at).sort()[0]!;
  const closedAt = mine?.until ?? (deps.now ?? (() => new Date()))().toISOString();
  const { created, run }: { created: boolean; run: RunRecord } = await startRun(
    { pipelineId: ref.pipelineId, trigger: TriggerType.EVENT, triggerId: ref.triggerId, eventId: `batch:${ref.batchId}`, eventParameter: batchParameter(ref, openedAt, closedAt, events) },
    deps,
  );
  deps.log.info('batch closed', { ...ref, events: events.length, runId: run.runId, created });
  return { runId: run.runId, created, events: events.length };
}

/**
 * The trigger function's Lambda entry: every delivery that starts or decides runs, each to its own
 * module. EventBridge Scheduler's (one run per scheduled time), the pipelines' trigger rules' (one run
 * per trigger and event), their message triggers' queues (one run per message or batch, answering the
 * messages to deliver again), their dependencies' rules (an upstream run's end: `upstream.ts`) and the
 * waiting runs' timeouts (`wait-checks.ts`).
 */
import type { RunStatus } from '../../lib/model/contract/index.ts';
import { handleMessageBatch, isMessageBatch, type MessageBatchResponse } from './message-trigger.ts';
import { messageStartsOf, resumeWaitingRun, ScheduledEventSchema, scheduledRunRequest, startEventRun, startRun, TriggeredEventSchema, triggerDepsFromEnv, type TriggerDeps } from './trigger.ts';
import { deliverUpstreamEnded, UpstreamEndedDeliverySchema, type UpstreamEndedResult } from './upstream.ts';
import { BatchCloseSchema, WaitCheckSchema } from './wait-checks.ts';
import { addEventToBatch, closeBatch } from './batches.ts';

let scheduleDeps: TriggerDeps | undefined;
/** One delivery, handled by what it is (see above). */
export async function handler(event: unknown, context?: { readonly invokedFunctionArn?: string }): Promise<{ runId: string; created: boolean } | { debounced: true; eventId: string } | MessageBatchResponse | UpstreamEndedResult | { runId: string; status: RunStatus } | Awaited<ReturnType<typeof addEventToBatch>> | Awaited<ReturnType<typeof closeBatch>>> {
  scheduleDeps ??= triggerDepsFromEnv('schedule-trigger', context?.invokedFunctionArn);
  // A message trigger's queue, through its event source mapping (functions/control/message-trigger.ts).
  if (isMessageBatch(event)) return handleMessageBatch(event, messageStartsOf(scheduleDeps));
  const triggered = TriggeredEventSchema.safeParse(event);
  // A trigger with a batch window: its event joins the open batch (its run starts when the batch closes).
  if (triggered.success && triggered.data.batchWindowSeconds !== undefined) return addEventToBatch(triggered.data, scheduleDeps);
  if (triggered.success) {
    const started = await startEventRun(triggered.data, scheduleDeps);
    return started.debounced ? started : { runId: started.run.runId, created: started.created };
  }
  // An upstream pipeline's run ended (a dependency's rule), or a run waiting for its upstreams timed out (its one-time schedule).
  const upstream = UpstreamEndedDeliverySchema.safeParse(event);
  if (upstream.success) return deliverUpstreamEnded(upstream.data, scheduleDeps);
  const batchClose = BatchCloseSchema.safeParse(event);
  if (batchClose.success) return closeBatch(batchClose.data.batchClose, scheduleDeps);
  const waitCheck = WaitCheckSchema.safeParse(event);
  if (waitCheck.success) {
    const run = await resumeWaitingRun(waitCheck.data.waitCheck.runId, scheduleDeps);
    return { runId: run.runId, status: run.status };
  }
  const { created, run } = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(event)), scheduleDeps);
  return { runId: run.runId, created };
}

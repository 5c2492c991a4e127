/**
 * The sweeper (scheduled; bounded; idempotent): what could leave a record open for ever is closed here.
 * 1. Deliveries that failed at the edges wait in the deliveries queue: a schedule's delivery that never
 *    reached the trigger (its run is started now, once, as ever), a trigger rule's event the trigger
 *    function kept failing on (likewise: one run per trigger and event), a status-change event the recorder
 *    could not take (its run is closed now). Each is deleted once handled; one it cannot read stays.
 * 2. Runs still open after a grace period: one whose execution has ended is closed as its execution
 *    ended; one whose execution never started (its trigger died before `StartExecution`) is closed
 *    FAILED, `RUN_START_FAILED`, so starting it again reopens it.
 * What it closed is counted in a metric (namespace `Phi`): `SweptRuns`, `RedeliveredEvents`.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { RunStatus, TERMINAL_RUN_STATUSES, type RunInput, type RunRecord } from '../../lib/model/contract/index.ts';
import { ConfigurationError } from '../../lib/model/errors.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { emitMetrics } from '../shared/metrics.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import type { RecordStore } from '../shared/records/store.ts';
import { fromStatusChange, record, recorderDepsFromEnv, type RecorderDeps } from './recorder.ts';
import { isWaiting, resumeWaitingRun, stalledAfterWait, ScheduledEventSchema, scheduledRunRequest, startEventRun, startRun, TriggeredEventSchema, triggerDepsFromEnv, type TriggerDeps } from './trigger.ts';
import { deliverMissedEnds, deliverUpstreamEnded, UpstreamEndedDeliverySchema } from './upstream.ts';
import { BatchCloseSchema, WaitCheckSchema } from './wait-checks.ts';
import { addEventToBatch, closeBatch } from './batches.ts';
import { catchUp } from './catchup.ts';

/** A message of the deliveries queue, as the sweeper reads it. */
export interface Delivery {
  readonly body: string;
  /** Deletes it from the queue. */
  readonly done: () => Promise<void>;
}

export interface SweeperDeps {
  readonly store: Pick<RecordStore, 'listRuns' | 'markRunStartFailed'>;
  readonly recorder: RecorderDeps;
  readonly trigger: TriggerDeps;
  /** The execution's status, or `undefined` when it does not exist. */
  readonly describeExecution: (executionArn: string) => Promise<string | undefined>;
  /** The next messages of the deliveries queue (none when it is empty). */
  readonly receiveDeliveries: () => Promise<Delivery[]>;
  readonly log: Logger;
  readonly now?: () => Date;
}

export interface SweepOptions {
  /** Runs open for less than this are left alone (their execution may be starting). @default 900 */
  readonly graceSeconds?: number;
  /** The most runs looked at per pipeline, newest first. @default 100 */
  readonly runsPerPipeline?: number;
  /** The most pages of ten deliveries read. @default 10 */
  readonly deliveryPages?: number;
}

export interface SweepResult {
  /** Run ids closed because their execution had ended, or never started. */
  readonly closed: readonly string[];
  /** Deliveries handled from the deliveries queue. */
  readonly redelivered: number;
  /** Deliveries left in the queue because they could not be read. */
  readonly unreadable: number;
  /** Runs that waited for their upstream pipelines and were started or skipped by this sweep. */
  readonly resumedWaiting: readonly string[];
  /** Missed scheduled times started by catch-up (spec Rule 4). */
  readonly caughtUp: readonly string[];
  /** Runs of `trigger` dependencies whose upstream run's end had started nothing (a lost event). */
  readonly missedEnds: readonly string[];
}

const runInputOf = (run: RunRecord): RunInput => ({ runId: run.runId, pipelineId: run.pipelineId, trigger: run.trigger, parameters: run.parameters, ...(run.scheduledTime ? { scheduledTime: run.scheduledTime } : {}) });

/** Handles one failed delivery; `false` when it is neither a schedule's nor a trigger's delivery nor a status change. */
async function redeliver(body: unknown, deps: SweeperDeps): Promise<boolean> {
  const triggered = TriggeredEventSchema.safeParse(body);
  if (triggered.success) {
    // A trigger rule's input: the same run as its first delivery would have started (trigger and event
    // id), or, with a batch window, the event added to the open batch.
    if (triggered.data.batchWindowSeconds !== undefined) await addEventToBatch(triggered.data, deps.trigger);
    else await startEventRun(triggered.data, deps.trigger);
    return true;
  }
  const batchClose = BatchCloseSchema.safeParse(body);
  if (batchClose.success) {
    // A batch's close whose invocation kept failing: its run started now (once).
    await closeBatch(batchClose.data.batchClose, deps.trigger);
    return true;
  }
  const waitCheck = WaitCheckSchema.safeParse(body);
  if (waitCheck.success) {
    // A waiting run's timeout whose invocation kept failing: the run evaluated now.
    await resumeWaitingRun(waitCheck.data.waitCheck.runId, deps.trigger);
    return true;
  }
  const upstream = UpstreamEndedDeliverySchema.safeParse(body);
  if (upstream.success) {
    // A dependency rule's input: the upstream run's triggered run (the same one) and the waiting runs again.
    await deliverUpstreamEnded(upstream.data, deps.trigger);
    return true;
  }
  const scheduled = ScheduledEventSchema.safeParse(body);
  if (scheduled.success) {
    // The schedule's own input: its schedule id (`default` when it names none) and run parameters.
    await startRun(scheduledRunRequest(scheduled.data), deps.trigger);
    return true;
  }
  const change = fromStatusChange(body);
  if (change) {
    await record(change, deps.recorder);
    return true;
  }
  return false;
}

export async function sweep(deps: SweeperDeps, options: SweepOptions = {}): Promise<SweepResult> {
  const now = (deps.now ?? (() => new Date()))();
  let redelivered = 0;
  let unreadable = 0;
  for (let page = 0; page < (options.deliveryPages ?? 10); page++) {
    const deliveries = await deps.receiveDeliveries();
    if (deliveries.length === 0) break;
    for (const delivery of deliveries) {
      let body: unknown;
      try {
        body = JSON.parse(delivery.body);
      } catch {
        body = undefined;
      }
      if (body !== undefined && (await redeliver(body, deps))) {
        await delivery.done();
        redelivered++;
      } else {
        unreadable++;
        deps.log.warn('a failed delivery the sweeper cannot read stays in the queue', { body: delivery.body.slice(0, 500) });
      }
    }
  }

  const closed: string[] = [];
  const resumedWaiting: string[] = [];
  const grace = (options.graceSeconds ?? 900) * 1000;
  for (const [pipelineId, stateMachineArn] of deps.trigger.stateMachines) {
    const runs = await deps.store.listRuns(pipelineId, options.runsPerPipeline ?? 100);
    // A waiting run has no execution yet: evaluated again, oldest first (its timeout's check, or the end that would free it, may have been lost).
    const waiting = runs.filter((r) => isWaiting(r) || stalledAfterWait(r)).sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0));
    for (const run of waiting) {
      const after = await resumeWaitingRun(run.runId, deps.trigger);
      if (after.status !== run.status || after.startDecision?.decision !== run.startDecision?.decision) resumedWaiting.push(run.runId);
    }
    for (const run of runs) {
      if (TERMINAL_RUN_STATUSES.includes(run.status) || isWaiting(run) || stalledAfterWait(run)) continue;
      // Counted from when it was decided to start (a run that waited was queued long before).
      if (now.getTime() - Date.parse(run.startedAt ?? run.startDecision?.evaluatedAt ?? run.queuedAt) < grace) continue;
      const executionArn = run.executionArn ?? executionArnFor(stateMachineArn, run.runId);
      const status = await deps.describeExecution(executionArn);
      if (status === 'RUNNING') continue;
      if (status === undefined) {
        if (run.status !== RunStatus.PENDING) continue;
        await deps.store.markRunStartFailed(run.runId, now.toISOString(), 'its execution never started (the trigger stopped before starting it); found by the sweeper');
      } else {
        const caught = status === 'SUCCEEDED' ? {} : { caught: { Error: `EXECUTION_${status}`, Cause: `the execution ended ${status} without closing its run; found by the sweeper` } };
        await record({ action: 'runFinished', run: runInputOf(run), executionArn, ...caught }, deps.recorder);
      }
      closed.push(run.runId);
      deps.log.warn('run closed by the sweeper', { pipelineId, runId: run.runId, executionStatus: status ?? 'NEVER_STARTED' });
    }
  }
  emitMetrics({ SweptRuns: closed.length, RedeliveredEvents: redelivered, UnreadableDeliveries: unreadable }, {}, deps.log);
  // Catch-up (Rule 4): the scheduled times its schedules missed, after what the queue redelivered.
  const caughtUp = (await catchUp(deps.trigger)).started;
  const missedEnds = await deliverMissedEnds(deps.trigger);
  return { closed, redelivered, unreadable, resumedWaiting, caughtUp, missedEnds };
}

/** A manual invocation may shorten the grace period (`{ "graceSeconds": 0 }`), e.g. after an outage. */
const SweepEventSchema = z.object({ graceSeconds: z.number().int().min(0).optional() }).passthrough();

let lambdaDeps: SweeperDeps | undefined;
function depsFromEnv(): SweeperDeps {
  const queueUrl = process.env.PHI_DELIVERIES_URL;
  if (!queueUrl) throw new ConfigurationError('PHI_DELIVERIES_URL');
  const log = createLogger({ component: 'sweeper' });
  const store = recordStoreFromEnv();
  const sfn = new SFNClient({});
  // The queue URL's host can name the emulator differently; the client's endpoint is the one to use.
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const recorder = recorderDepsFromEnv(log, store, sfn);
  const trigger = triggerDepsFromEnv('sweeper');
  return {
    store,
    recorder,
    trigger,
    log,
    describeExecution: async (executionArn) => {
      try {
        return (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
      } catch (err) {
        if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return undefined;
        throw err;
      }
    },
    receiveDeliveries: async () => {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }));
      return Messages.map((m) => ({ body: m.Body ?? '', done: async () => void (await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle ?? '' }))) }));
    },
  };
}

export async function handler(event: unknown): Promise<SweepResult> {
  lambdaDeps ??= depsFromEnv();
  const options = SweepEventSchema.safeParse(event ?? {});
  return sweep(lambdaDeps, options.success && options.data.graceSeconds !== undefined ? { graceSeconds: options.data.graceSeconds } : {});
}

/**
 * The timeouts of runs waiting for their upstream pipelines (issue #9): each a one-time EventBridge
 * Scheduler schedule that invokes the trigger function with `{ waitCheck: { runId } }` at the run's
 * `waitUntil`, so a waiting run is evaluated again then without any Lambda polling.
 */
import { createHash } from 'node:crypto';
import { CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { z } from 'zod';
import { WAIT_CHECK_ENV, WAIT_CHECK_PREFIX } from '../../lib/model/contract/start.ts';

/** A trigger's batch of events (`batchWindowSeconds`): the events of its window become one run. */
export interface BatchRef {
  readonly pipelineId: string;
  readonly triggerId: string;
  readonly batchId: string;
}

/** One-time schedules that invoke the trigger function later; scheduling one twice for the same key and time is one. */
export interface WaitChecks {
  /** Evaluates a waiting run again at `at` (its `waitUntil`). */
  schedule(runId: string, at: string): Promise<void>;
  /** Closes a trigger's batch at `at` (its window's end): its events start their one run. */
  scheduleBatchClose(batch: BatchRef, at: string): Promise<void>;
}

/** A batch's close (the one-time schedule's input). */
export const BatchCloseSchema = z.object({ batchClose: z.object({ pipelineId: z.string().min(1), triggerId: z.string().min(1), batchId: z.string().min(1) }).strict() });

/** A waiting run's timeout (the one-time schedule's input). */
export const WaitCheckSchema = z.object({ waitCheck: z.object({ runId: z.string().min(1) }).strict() });

/** `at(…)` takes whole seconds: a check never comes before the time it is for, nor less than two seconds from now. */
export function waitCheckTime(waitUntil: string, now: Date): string {
  const at = Math.max(Math.ceil(Date.parse(waitUntil) / 1000), Math.ceil(now.getTime() / 1000) + 2);
  return new Date(at * 1000).toISOString().slice(0, 19);
}

/**
 * The wait checks of the deployment: each a one-time EventBridge Scheduler schedule (deleted once it
 * has fired, named after the run and the time, so scheduling one twice is one schedule) invoking the
 * trigger function with `{ waitCheck: { runId } }`. `undefined` when the environment does not say
 * where to deliver them (no pipeline of the deployment depends on another). The trigger function
 * gives its own ARN (`self`, without a qualifier).
 */
export function waitChecksFromEnv(env: NodeJS.ProcessEnv = process.env, self?: string, now: () => Date = () => new Date()): WaitChecks | undefined {
  const role = env[WAIT_CHECK_ENV.role];
  const target = env[WAIT_CHECK_ENV.target] ?? (self === undefined ? undefined : self.split(':').slice(0, 7).join(':'));
  if (!role || !target) return undefined;
  const client = new SchedulerClient({});
  /** One one-time schedule, named after its key and time (the same twice: one schedule), invoking the trigger with `input`. */
  const once = async (key: string, when: string, input: object, description: string): Promise<void> => {
    const at = waitCheckTime(when, now());
    const name = `${WAIT_CHECK_PREFIX}${createHash('sha256').update(`${key}\n${at}`).digest('hex').slice(0, 40)}`;
    try {
      await client.send(
        new CreateScheduleCommand({
          Name: name,
          ScheduleExpression: `at(${at})`,
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Description: description.slice(0, 512),
          Target: { Arn: target, RoleArn: role, Input: JSON.stringify(input), RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 } },
        }),
      );
    } catch (err) {
      // Scheduled already (the same key and time): that schedule is the check.
      if ((err as { name?: string }).name !== 'ConflictException') throw err;
    }
  };
  return {
    schedule: (runId, waitUntil) => once(runId, waitUntil, { waitCheck: { runId } }, `Phi: run ${runId} evaluated again (it waits)`),
    scheduleBatchClose: (batch, until) => once(`${batch.pipelineId}\n${batch.triggerId}\n${batch.batchId}`, until, { batchClose: batch }, `Phi: ${batch.pipelineId} trigger ${batch.triggerId}: batch ${batch.batchId} closes`),
  };
}

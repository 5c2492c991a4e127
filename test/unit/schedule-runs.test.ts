/**
 * Runs started by several schedules (issue #9): a scheduled run's identity is its pipeline, schedule
 * and scheduled time (two schedules firing at once are two runs, a repeated delivery is one), its
 * parameters are its schedule's (checked and defaulted like any start's), its record keeps the
 * schedule id, and the sweeper's re-delivery of a failed delivery reads the new input and the old.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sweep, type Delivery, type SweeperDeps } from '../../functions/control/sweeper.ts';
import { RunParametersError, runIdFor, ScheduledEventSchema, scheduledRunRequest, startRun, type TriggerDeps } from '../../functions/control/trigger.ts';
import { RunRecordSchema } from '../../lib/model/contract/index.ts';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'reports';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-reports';
const SCHEDULED = '2026-11-23T06:00:00Z';
/** A few seconds after the scheduled time: on time. */
const NOW = '2026-11-23T06:00:03.000Z';

const declared = runParametersJsonSchema(z.object({ mode: z.enum(['daily', 'weekly']).default('daily'), lookbackDays: z.number().int().default(1) }));
if (!declared.ok) throw new Error(JSON.stringify(declared.problems));
const SCHEMA = declared.schema;

function world() {
  const store = new MemoryRecordStore();
  const { log } = captureLogs({ component: 'schedule-trigger' });
  const executions = new Map<string, string>();
  const trigger: TriggerDeps = {
    store,
    log,
    stateMachines: new Map([[PIPELINE, STATE_MACHINE]]),
    runParameters: new Map([[PIPELINE, SCHEMA]]),
    // Like Step Functions: one execution per name.
    startExecution: async (_arn, name, input) => void (executions.has(name) || executions.set(name, input)),
    now: clock(NOW),
  };
  return { store, trigger, executions };
}

/** A schedule's delivery, as EventBridge Scheduler sends it (the pipeline construct's input). */
const delivery = (scheduleId: string | undefined, parameters?: Record<string, string | number>): unknown => ({
  pipelineId: PIPELINE,
  ...(scheduleId !== undefined ? { scheduleId } : {}),
  scheduledTime: SCHEDULED,
  ...(parameters !== undefined ? { parameters } : {}),
});

describe('a scheduled run’s identity', () => {
  const at = new Date(NOW);

  it('is the same for the default schedule as for a delivery naming none, and as runs had before pipelines had several schedules', () => {
    const before = `${PIPELINE}_s-20261123T060000Z-${createHash('sha256').update([PIPELINE, 'schedule', SCHEDULED].join('\n')).digest('hex').slice(0, 12)}`;
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED }, at)).toBe(before);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, scheduleId: 'default' }, at)).toBe(before);
  });

  it('includes the schedule id: two schedules at one instant are two runs; one schedule at one instant is one, whenever asked', () => {
    const daily = runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, scheduleId: 'daily' }, at);
    const weekly = runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, scheduleId: 'weekly' }, at);
    expect(daily).not.toBe(weekly);
    expect(daily).not.toBe(runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED }, at));
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, scheduleId: 'daily' }, new Date('2026-11-23T07:00:00Z'))).toBe(daily);
    // still an execution name: the pipeline's prefix, the time, a hash; 80 characters at most
    expect(daily).toMatch(/^reports_s-20261123T060000Z-[0-9a-f]{12}$/);
    const longest = runIdFor({ pipelineId: `p-${'q'.repeat(38)}`, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, scheduleId: `s-${'x'.repeat(38)}` }, at);
    expect(longest.length).toBeLessThanOrEqual(80);
  });
});

describe('the schedule trigger', () => {
  it('reads a delivery without a schedule id (deployed before several schedules) as the schedule "default"', () => {
    expect(ScheduledEventSchema.parse(delivery(undefined))).toStrictEqual({ pipelineId: PIPELINE, scheduledTime: SCHEDULED, scheduleId: 'default' });
    expect(scheduledRunRequest(ScheduledEventSchema.parse(delivery('weekly', { mode: 'weekly' })))).toStrictEqual({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, scheduleId: 'weekly', parameters: { mode: 'weekly' } });
    expect(ScheduledEventSchema.safeParse(delivery('Not_Kebab')).success).toBe(false);
  });

  it('starts one run per schedule at the same instant, each with its schedule’s parameters (defaults filled) and its schedule id on the record', async () => {
    const w = world();
    const daily = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(delivery('daily'))), w.trigger);
    const weekly = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(delivery('weekly', { mode: 'weekly', lookbackDays: 7 }))), w.trigger);
    expect(daily.created && weekly.created).toBe(true);
    expect(daily.run.runId).not.toBe(weekly.run.runId);
    expect(daily.run).toMatchObject({ scheduleId: 'daily', scheduledTime: SCHEDULED, trigger: 'SCHEDULE', parameters: { mode: 'daily', lookbackDays: 1 } });
    expect(weekly.run).toMatchObject({ scheduleId: 'weekly', parameters: { mode: 'weekly', lookbackDays: 7 } });
    expect(RunRecordSchema.parse(weekly.run).scheduleId).toBe('weekly');
    expect(w.executions.size).toBe(2);
    expect(JSON.parse(w.executions.get(weekly.run.runId)!)).toMatchObject({ parameters: { mode: 'weekly', lookbackDays: 7 }, scheduledTime: SCHEDULED });
  });

  it('starts one run for a repeated delivery of one schedule', async () => {
    const w = world();
    const first = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(delivery('weekly', { mode: 'weekly' }))), w.trigger);
    const again = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(delivery('weekly', { mode: 'weekly' }))), w.trigger);
    expect(again).toMatchObject({ created: false, run: { runId: first.run.runId } });
    expect(w.executions.size).toBe(1);
  });

  it('refuses a schedule’s parameters the pipeline’s runParameters does not allow, recording nothing', async () => {
    const w = world();
    const err = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(delivery('monthly', { mode: 'monthly' }))), w.trigger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunParametersError);
    expect(await w.store.listRuns(PIPELINE, 10)).toStrictEqual([]);
  });
});

describe('the sweeper’s re-delivery of a failed schedule delivery', () => {
  it('starts the run a failed delivery asked for, once, with its schedule id and parameters, and an old delivery as the schedule "default"', async () => {
    const w = world();
    const queue = [delivery('weekly', { mode: 'weekly' }), delivery('weekly', { mode: 'weekly' }), delivery(undefined)].map((d) => JSON.stringify(d));
    const deleted: string[] = [];
    const { log } = captureLogs({ component: 'sweeper' });
    const deps: SweeperDeps = {
      store: w.store,
      trigger: w.trigger,
      recorder: { store: w.store, log, sendToken: async () => {}, sendDeadLetter: async () => {}, jobLists: new MemoryJobLists(), now: clock(NOW) },
      describeExecution: async () => 'RUNNING',
      receiveDeliveries: async (): Promise<Delivery[]> => queue.splice(0, 10).map((body) => ({ body, done: async () => void deleted.push(body) })),
      log,
      now: clock(NOW),
    };
    expect(await sweep(deps)).toMatchObject({ redelivered: 3, unreadable: 0 });
    expect(deleted).toHaveLength(3);
    const runs = await w.store.listRuns(PIPELINE, 10);
    expect(runs.map((r) => [r.scheduleId, r.parameters]).sort()).toStrictEqual([
      ['default', { mode: 'daily', lookbackDays: 1 }],
      ['weekly', { mode: 'weekly', lookbackDays: 1 }],
    ]);
    expect(w.executions.size).toBe(2);
  });
});

/**
 * Catch-up (spec Rule 4): the plan's `catchup` rules, the last missed fire times of a schedule however
 * many it missed, and the sweeper's catch-up against the in-memory record store: the last `maxRuns`
 * missed times started oldest first, each with the identity its delivery would have had, never twice,
 * nothing while paused, nothing before a schedule's first record or start date.
 */
import { describe, expect, it } from 'vitest';
import { catchUp } from '../../functions/control/catchup.ts';
import { runIdFor, scheduledRunRequest, startRun, type TriggerDeps } from '../../functions/control/trigger.ts';
import { RunStatus, type StartRules } from '../../lib/model/contract/index.ts';
import { NamedScheduleSchema, PipelineSchema, type PipelineInput } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { latestFireTimes } from '../../lib/plan/schedule/backfill.ts';
import { compileStartRules } from '../../lib/plan/start-rules.ts';
import { captureLogs, MemoryRecordStore } from './support/memory-store.ts';

const hourly = NamedScheduleSchema.parse({ id: 'hourly', cron: '0 * * * *' });

describe('the last fire times a schedule missed', () => {
  it('are the last N after the last recorded time, oldest first, however many it missed (years of minutes)', () => {
    const r = latestFireTimes(hourly, new Date('2026-11-23T10:00:00Z'), new Date('2026-11-23T15:30:00Z'), 3);
    expect(r).toMatchObject({ ok: true, times: ['2026-11-23T13:00:00Z', '2026-11-23T14:00:00Z', '2026-11-23T15:00:00Z'] });
    const minutes = NamedScheduleSchema.parse({ id: 'm', cron: '* * * * *' });
    const many = latestFireTimes(minutes, new Date('2024-01-01T00:00:00Z'), new Date('2026-11-23T15:30:30Z'), 2);
    expect(many).toMatchObject({ ok: true, times: ['2026-11-23T15:29:00Z', '2026-11-23T15:30:00Z'] });
    expect(latestFireTimes(hourly, new Date('2026-11-23T15:00:00Z'), new Date('2026-11-23T15:30:00Z'), 3)).toMatchObject({ ok: true, times: [] });
    const weekly = NamedScheduleSchema.parse({ id: 'w', cron: '0 12 * * 1' });
    expect(latestFireTimes(weekly, new Date('1990-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'), 3)).toMatchObject({ ok: true, times: ['2025-12-15T12:00:00Z', '2025-12-22T12:00:00Z', '2025-12-29T12:00:00Z'] });
    expect(latestFireTimes(NamedScheduleSchema.parse({ id: 'r', rate: '1 hour' }), new Date(0), new Date(), 3)).toMatchObject({ ok: false, code: 'BACKFILL_003_RATE_WITHOUT_START' });
  });
});

const pipeline = (input: Omit<PipelineInput, 'jobs' | 'id'>) => PipelineSchema.parse({ id: 'hourly-sales', jobs: { a: { handler: './a.ts' } }, ...input });

describe('catchup in the plan', () => {
  it('deploys each enabled schedule (with its parameters) and maxRuns, 10 by default', () => {
    const { rules, problems } = compileStartRules(pipeline({ schedules: [{ id: 'hourly', cron: '0 * * * *', parameters: { mode: 'h' } }, { id: 'off', cron: '0 0 * * *', enabled: false }], catchup: {} }));
    expect(problems).toEqual([]);
    expect(rules?.catchup).toEqual({ maxRuns: 10, schedules: [{ id: 'hourly', cron: '0 * * * *', parameters: { mode: 'h' } }] });
    expect(compileStartRules(pipeline({ schedule: { cron: '0 * * * *' }, catchup: { enabled: false } })).rules?.catchup).toBeUndefined();
    expect(compileStartRules(pipeline({ schedule: { cron: '0 * * * *' }, catchup: { maxRuns: 0 } })).rules?.catchup).toBeUndefined();
  });

  it('refuses catch-up without an enabled schedule, or on a rate without a startDate (RULE_005)', () => {
    expect(compileStartRules(pipeline({ catchup: {} })).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.RULE_005_INVALID_CATCHUP, 'catchup']]);
    expect(compileStartRules(pipeline({ schedule: { rate: '1 hour' }, catchup: {} })).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.RULE_005_INVALID_CATCHUP, 'schedule.startDate']]);
  });
});

const PIPELINE = 'hourly-sales';
const RULES: StartRules = { catchup: { maxRuns: 3, schedules: [{ id: 'default', cron: '0 * * * *', parameters: {} }] } };

function world(rules: StartRules = RULES, now = '2026-11-23T15:30:00.000Z') {
  const store = new MemoryRecordStore();
  const started: string[] = [];
  const { log } = captureLogs({ component: 'sweeper' });
  const deps: TriggerDeps = {
    store,
    startExecution: async (_arn, name) => void started.push(name),
    stateMachines: new Map([[PIPELINE, 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-hourly-sales']]),
    startRules: new Map([[PIPELINE, rules]]),
    log,
    now: () => new Date(now),
  };
  return { store, started, deps };
}

describe('the sweeper’s catch-up', () => {
  it('starts the last maxRuns missed times since the last recorded one, oldest first, each the run its delivery would have been; once', async () => {
    const w = world();
    await startRun(scheduledRunRequest({ pipelineId: PIPELINE, scheduleId: 'default', scheduledTime: '2026-11-23T10:00:00.000Z' }), { ...w.deps, now: () => new Date('2026-11-23T10:00:01Z') });
    const first = await catchUp(w.deps);
    const times = ['2026-11-23T13:00:00.000Z', '2026-11-23T14:00:00.000Z', '2026-11-23T15:00:00.000Z'];
    expect(first.started).toEqual(times.map((t) => runIdFor(scheduledRunRequest({ pipelineId: PIPELINE, scheduleId: 'default', scheduledTime: t }), new Date())));
    expect(w.started.slice(1)).toEqual(first.started);
    for (const id of first.started) expect(await w.store.requireRun(id)).toMatchObject({ trigger: 'CATCHUP', scheduleId: 'default', status: RunStatus.PENDING });
    expect((await catchUp(w.deps)).started).toEqual([]);
    // The schedule's own delivery of one of them, late: the same run.
    const late = await startRun(scheduledRunRequest({ pipelineId: PIPELINE, scheduleId: 'default', scheduledTime: times[2]! }), w.deps);
    expect(late).toMatchObject({ created: false, run: { runId: first.started[2], trigger: 'CATCHUP' } });
  });

  it('leaves alone a time within its grace (its delivery may still come), one never recorded without a start date, and a paused pipeline', async () => {
    const fresh = world(RULES, '2026-11-23T15:01:00.000Z');
    await startRun(scheduledRunRequest({ pipelineId: PIPELINE, scheduleId: 'default', scheduledTime: '2026-11-23T14:00:00.000Z' }), fresh.deps);
    expect((await catchUp(fresh.deps)).started).toEqual([]);
    expect((await catchUp(world().deps)).started).toEqual([]);
    const withStart = world({ catchup: { maxRuns: 2, schedules: [{ id: 'default', cron: '0 * * * *', startDate: '2026-11-23T14:00:00.000Z' }] } });
    expect((await catchUp(withStart.deps)).started).toHaveLength(2);
    const paused = world();
    await paused.store.setPause(PIPELINE, { by: 'arn:aws:iam::1:user/op', at: '2026-11-23T15:00:00.000Z' }, { id: 'p', action: 'PAUSE', pipeline: PIPELINE, by: 'arn:aws:iam::1:user/op', at: '2026-11-23T15:00:00.000Z' });
    await startRun(scheduledRunRequest({ pipelineId: PIPELINE, scheduleId: 'default', scheduledTime: '2026-11-23T10:00:00.000Z' }), paused.deps);
    expect((await catchUp(paused.deps)).started).toEqual([]);
  });
});

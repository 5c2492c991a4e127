/**
 * Several schedules per pipeline (issue #9, "Schedules"): the model's and the plan's problems, start and
 * end dates, disabled schedules and their run parameters, fire times from any moment across daylight
 * saving changes in both hemispheres, and `phi plan --from/--count`.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, main } from '../../lib/cli/main.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { ProblemCode, type Problem } from '../../lib/model/problems.ts';
import { RESOURCES } from '../../lib/plan/compile.ts';
import { compileSchedule, offsetChanges, type CompiledSchedule, type ScheduleResult } from '../../lib/plan/schedule/index.ts';
import type { Plan } from '../../lib/plan/types.ts';
import { removeDefinitionDirs, writeDefinitionDir } from './support/temp-definitions.ts';

afterAll(removeDefinitionDirs);

/** Sunday 2026-11-22, 12:00 UTC. */
const NOW = new Date('2026-11-22T12:00:00Z');
const HANDLER = 'handlers/task.ts';
/** `phi`'s entry by path: a definition file in a temp directory lies outside the project. */
const PHI = fileURLToPath(new URL('../../lib/model/index.ts', import.meta.url));

function compiled(result: ScheduleResult): CompiledSchedule {
  if (!result.ok) throw new Error(`expected a schedule, got ${result.problems.map((p) => `${p.code}: ${p.message}`).join('; ')}`);
  return result.schedule;
}

/** A definition file that imports `z` from phi, with one job and the given top-level fields (TypeScript source). */
const source = (id: string, fields: string): string => `import { z } from ${JSON.stringify(PHI)};\n\nexport default { id: '${id}', jobs: { a: { handler: './${HANDLER}' } }, ${fields} };\n`;

async function planSources(sources: Record<string, string>, now = NOW): Promise<{ plan: Plan; problems: Problem[] }> {
  return planDefinitions(writeDefinitionDir({ sources, handlers: [HANDLER] }), now);
}

describe('fire times across daylight saving changes, as EventBridge Scheduler fires them', () => {
  // Each: a daily cron at a local time the change skips (spring) or repeats (autumn), four fire times
  // from two days before; the day of a skipped time has none, a repeated time fires once, at its
  // first occurrence (on the offset from before the change).
  it.each([
    {
      zone: 'Europe/Paris (north, spring forward)',
      cron: '30 2 * * *',
      timezone: 'Europe/Paris',
      from: '2026-03-27T12:00:00Z',
      next: ['2026-03-28T02:30:00+01:00', '2026-03-30T02:30:00+02:00', '2026-03-31T02:30:00+02:00', '2026-04-01T02:30:00+02:00'],
      change: { at: '2026-03-29T03:00:00+02:00', date: '2026-03-29', minutes: 60 },
    },
    {
      zone: 'Europe/Paris (north, fall back)',
      cron: '30 2 * * *',
      timezone: 'Europe/Paris',
      from: '2026-10-23T12:00:00Z',
      next: ['2026-10-24T02:30:00+02:00', '2026-10-25T02:30:00+02:00', '2026-10-26T02:30:00+01:00', '2026-10-27T02:30:00+01:00'],
      change: { at: '2026-10-25T02:00:00+01:00', date: '2026-10-25', minutes: -60 },
    },
    {
      zone: 'America/New_York (north, spring forward)',
      cron: '30 2 * * *',
      timezone: 'America/New_York',
      from: '2026-03-06T12:00:00Z',
      next: ['2026-03-07T02:30:00-05:00', '2026-03-09T02:30:00-04:00', '2026-03-10T02:30:00-04:00', '2026-03-11T02:30:00-04:00'],
      change: { at: '2026-03-08T03:00:00-04:00', date: '2026-03-08', minutes: 60 },
    },
    {
      zone: 'America/New_York (north, fall back)',
      cron: '30 1 * * *',
      timezone: 'America/New_York',
      from: '2026-10-30T12:00:00Z',
      next: ['2026-10-31T01:30:00-04:00', '2026-11-01T01:30:00-04:00', '2026-11-02T01:30:00-05:00', '2026-11-03T01:30:00-05:00'],
      change: { at: '2026-11-01T01:00:00-05:00', date: '2026-11-01', minutes: -60 },
    },
    {
      zone: 'Australia/Sydney (south, spring forward in October)',
      cron: '30 2 * * *',
      timezone: 'Australia/Sydney',
      from: '2026-10-02T12:00:00Z',
      next: ['2026-10-03T02:30:00+10:00', '2026-10-05T02:30:00+11:00', '2026-10-06T02:30:00+11:00', '2026-10-07T02:30:00+11:00'],
      change: { at: '2026-10-04T03:00:00+11:00', date: '2026-10-04', minutes: 60 },
    },
    {
      zone: 'Australia/Sydney (south, fall back in April)',
      cron: '30 2 * * *',
      timezone: 'Australia/Sydney',
      from: '2026-04-03T12:00:00Z',
      next: ['2026-04-04T02:30:00+11:00', '2026-04-05T02:30:00+11:00', '2026-04-06T02:30:00+10:00', '2026-04-07T02:30:00+10:00'],
      change: { at: '2026-04-05T02:00:00+10:00', date: '2026-04-05', minutes: -60 },
    },
    {
      zone: 'Australia/Lord_Howe (south, a half-hour change)',
      cron: '15 2 * * *',
      timezone: 'Australia/Lord_Howe',
      from: '2026-10-02T12:00:00Z',
      next: ['2026-10-03T02:15:00+10:30', '2026-10-05T02:15:00+11:00', '2026-10-06T02:15:00+11:00', '2026-10-07T02:15:00+11:00'],
      change: { at: '2026-10-04T02:30:00+11:00', date: '2026-10-04', minutes: 30 },
    },
  ])('$zone', ({ cron, timezone, from, next, change }) => {
    const schedule = compiled(compileSchedule({ cron, timezone }, NOW, { from: new Date(from), count: 4 }));
    expect(schedule.next).toStrictEqual(next);
    expect(schedule.dstChanges).toStrictEqual([change]);
  });

  it('a time outside the change fires every day, at the same local time on either offset', () => {
    const schedule = compiled(compileSchedule({ cron: '0 12 * * *', timezone: 'Australia/Sydney' }, NOW, { from: new Date('2026-04-03T12:00:00Z'), count: 3 }));
    expect(schedule.next).toStrictEqual(['2026-04-04T12:00:00+11:00', '2026-04-05T12:00:00+10:00', '2026-04-06T12:00:00+10:00']);
  });

  it('finds no change in UTC or a zone without daylight saving, and both of a year in Paris', () => {
    expect(offsetChanges('UTC', new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'))).toStrictEqual([]);
    expect(offsetChanges('Asia/Tokyo', new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'))).toStrictEqual([]);
    expect(offsetChanges('Europe/Paris', new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'))).toStrictEqual([
      { at: '2026-03-29T03:00:00+02:00', date: '2026-03-29', minutes: 60 },
      { at: '2026-10-25T02:00:00+01:00', date: '2026-10-25', minutes: -60 },
    ]);
  });

  it('lists as many fire times as asked, from any moment', () => {
    const schedule = compiled(compileSchedule({ cron: '0 19 * * 1-5', timezone: 'America/New_York' }, NOW, { from: new Date('2027-01-01T00:00:00Z'), count: 12 }));
    expect(schedule.next).toHaveLength(12);
    expect(schedule.next[0]).toBe('2027-01-01T19:00:00-05:00');
    expect(schedule.next.at(-1)).toBe('2027-01-18T19:00:00-05:00');
  });
});

describe('start and end dates, enabled', () => {
  it('lists only fire times from the start date to the end date, and deploys both when still to come', () => {
    const schedule = compiled(compileSchedule({ cron: '0 6 * * *', timezone: 'Europe/Paris', startDate: '2026-12-01T00:00:00+01:00', endDate: '2026-12-03T06:00:00+01:00' }, NOW));
    expect(schedule.next).toStrictEqual(['2026-12-01T06:00:00+01:00', '2026-12-02T06:00:00+01:00', '2026-12-03T06:00:00+01:00']);
    expect(schedule).toMatchObject({ state: 'ENABLED', startDate: '2026-11-30T23:00:00Z', endDate: '2026-12-03T05:00:00Z', deploy: { startDate: '2026-11-30T23:00:00Z', endDate: '2026-12-03T05:00:00Z' } });
  });

  it('counts a rate from its start date (its first fire time) while that is to come', () => {
    const coming = compiled(compileSchedule({ rate: '6 hours', startDate: '2026-12-01T01:00:00Z' }, NOW));
    expect(coming.next.slice(0, 2)).toStrictEqual(['2026-12-01T01:00:00Z', '2026-12-01T07:00:00Z']);
    expect(coming.deploy).toStrictEqual({ startDate: '2026-12-01T01:00:00Z' });
    // Scheduler refuses a start date in the past: it is not deployed, and the rate counts from the deploy (the plan's now).
    const past = compiled(compileSchedule({ rate: '6 hours', startDate: '2026-11-01T01:00:00Z' }, NOW));
    expect(past.deploy).toStrictEqual({});
    expect(past.next.slice(0, 2)).toStrictEqual(['2026-11-22T18:00:00Z', '2026-11-23T00:00:00Z']);
  });

  it('refuses a date that is no instant (SCHED_005_INVALID_DATES), returned rather than thrown', () => {
    expect(compileSchedule({ cron: '0 6 * * *', endDate: 'soon' }, NOW)).toMatchObject({ ok: false, problems: [{ code: ProblemCode.SCHED_005_INVALID_DATES, field: 'endDate' }] });
  });

  it('leaves a cron’s past start date out of the deployment', () => {
    const schedule = compiled(compileSchedule({ cron: '0 6 * * *', startDate: '2026-01-01T00:00:00Z' }, NOW));
    expect(schedule).toMatchObject({ startDate: '2026-01-01T00:00:00Z', deploy: {}, state: 'ENABLED' });
    expect(schedule.next[0]).toBe('2026-11-23T06:00:00Z');
  });

  it('deploys a schedule whose end date has passed disabled, with no dates and no fire times', () => {
    const schedule = compiled(compileSchedule({ cron: '0 6 * * *', endDate: '2026-11-01T00:00:00Z' }, NOW));
    expect(schedule).toMatchObject({ enabled: true, state: 'DISABLED', deploy: {}, next: [], dstChanges: [] });
  });

  it('deploys a disabled schedule DISABLED, listing no fire time', () => {
    const schedule = compiled(compileSchedule({ cron: '0 6 * * *', enabled: false, parameters: { mode: 'x' } }, NOW));
    expect(schedule).toMatchObject({ enabled: false, state: 'DISABLED', next: [], parameters: { mode: 'x' } });
  });

  it('refuses an end date not after the start date, and dates on a one-off at schedule (SCHED_005_INVALID_DATES)', () => {
    expect(compileSchedule({ cron: '0 6 * * *', startDate: '2027-01-01T00:00:00Z', endDate: '2027-01-01T00:00:00Z' }, NOW)).toMatchObject({ ok: false, problems: [{ code: ProblemCode.SCHED_005_INVALID_DATES, field: 'endDate' }] });
    expect(compileSchedule({ cron: '0 6 * * *', startDate: '2027-01-02T00:00:00Z', endDate: '2027-01-01T00:00:00Z' }, NOW)).toMatchObject({ ok: false, problems: [{ code: ProblemCode.SCHED_005_INVALID_DATES }] });
    expect(compileSchedule({ at: '2027-01-01T10:00', endDate: '2027-02-01T00:00:00Z' }, NOW)).toMatchObject({ ok: false, problems: [{ code: ProblemCode.SCHED_005_INVALID_DATES, field: 'endDate' }] });
  });
});

describe('a pipeline’s schedules in the plan', () => {
  it('plans each schedule with its id, state, dates and parameters, checked against runParameters; the stack estimate counts each', async () => {
    const { plan, problems } = await planSources({
      'p.ts': source(
        'reports',
        `runParameters: z.object({ mode: z.enum(['daily', 'weekly']).default('daily'), lookbackDays: z.number().int().optional() }),
        schedules: [
          { id: 'daily', cron: '0 6 * * *', timezone: 'Europe/Paris' },
          { id: 'weekly', cron: '0 7 * * 1', timezone: 'Europe/Paris', parameters: { mode: 'weekly', lookbackDays: 7 }, startDate: '2027-01-01T00:00:00Z' },
          { id: 'paused', rate: '1 hour', enabled: false },
        ]`,
      ),
    });
    expect(problems).toStrictEqual([]);
    const [reports] = plan.pipelines;
    expect(reports!.schedules.map((s) => [s.id, s.state, s.parameters ?? null, s.next[0] ?? null])).toStrictEqual([
      ['daily', 'ENABLED', null, '2026-11-23T06:00:00+01:00'],
      ['weekly', 'ENABLED', { mode: 'weekly', lookbackDays: 7 }, '2027-01-04T07:00:00+01:00'],
      ['paused', 'DISABLED', null, null],
    ]);
    // the state machine, its role, policy and log group, the job list readers' policy; one function (4);
    // the schedules' shared role and policy, and one Scheduler schedule each; the run-failed alarm
    expect(reports!.estimates.stackResources).toBe(RESOURCES.perStack + RESOURCES.perFunction + RESOURCES.scheduleRole + 3 * RESOURCES.perSchedule + 1);
    expect(plan.fireTimes).toStrictEqual({ from: NOW.toISOString(), count: 5 });
  });

  it('gives the one-schedule form the id "default"', async () => {
    const { plan } = await planSources({ 'p.ts': source('one', "schedule: { cron: '0 6 * * *' }") });
    expect(plan.pipelines[0]!.schedules.map((s) => s.id)).toStrictEqual(['default']);
  });

  it('SCHED_004: schedule and schedules together, and two schedules with one id', async () => {
    const { problems } = await planSources({
      'a.ts': source('both', "schedule: { cron: '0 6 * * *' }, schedules: [{ id: 'other', cron: '0 7 * * *' }]"),
      'b.ts': source('twice', "schedules: [{ id: 'daily', cron: '0 6 * * *' }, { id: 'daily', rate: '1 hour' }]"),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.SCHED_004_SCHEDULE_CONFLICT, 'both', 'schedules'],
      [ProblemCode.SCHED_004_SCHEDULE_CONFLICT, 'twice', 'schedules[1].id'],
    ]);
    for (const p of problems) expect(p.hint).not.toBe('');
  });

  it('DEF_001: a schedule id that is not kebab-case, a date that is no instant with an offset', async () => {
    const { problems } = await planSources({
      'a.ts': source('bad-id', "schedules: [{ id: 'Daily_Run', cron: '0 6 * * *' }]"),
      'b.ts': source('bad-date', "schedules: [{ id: 'daily', cron: '0 6 * * *', startDate: '2027-01-01T00:00' }]"),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.DEF_001_INVALID_FIELD, 'bad-id', 'schedules[0].id'],
      [ProblemCode.DEF_001_INVALID_FIELD, 'bad-date', 'schedules[0].startDate'],
    ]);
  });

  it('SCHED_005: an end date not after the start date, at the schedule’s path', async () => {
    const { problems } = await planSources({ 'p.ts': source('dates', "schedules: [{ id: 'ok', rate: '1 day' }, { id: 'late', cron: '0 6 * * *', startDate: '2027-02-01T00:00:00Z', endDate: '2027-01-01T00:00:00Z' }]") });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([[ProblemCode.SCHED_005_INVALID_DATES, 'schedules[1].endDate']]);
  });

  it('DEF_009: schedule parameters runParameters refuses, a schedule without parameters whose runs it refuses, parameters of a pipeline that takes none', async () => {
    const { problems } = await planSources({
      'a.ts': source(
        'modes',
        `runParameters: z.object({ mode: z.enum(['daily', 'weekly']), days: z.number().int().optional() }),
        schedules: [
          { id: 'ok', cron: '0 6 * * *', parameters: { mode: 'daily' } },
          { id: 'typo', cron: '0 7 * * *', parameters: { mode: 'monthly' } },
          { id: 'unknown', cron: '0 8 * * *', parameters: { mode: 'daily', dayz: 3 } },
          { id: 'none', cron: '0 9 * * *' },
        ]`,
      ),
      'b.ts': source('closed', "schedules: [{ id: 'with', cron: '0 6 * * *', parameters: { mode: 'daily' } }]"),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'closed', 'schedules[0].parameters.mode'],
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'modes', 'schedules[1].parameters.mode'],
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'modes', 'schedules[2].parameters.dayz'],
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'modes', 'runParameters.mode'],
    ]);
    expect(problems[0]!.message).toContain('schedule "with"');
    expect(problems[3]!.message).toContain('a run of schedule "none" starts with no parameters');
  });
});

describe('phi plan --from --count', () => {
  interface Captured {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
  }
  async function phi(...argv: string[]): Promise<Captured> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, (t) => out.push(t), (t) => err.push(t));
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }
  const dir = (): string =>
    writeDefinitionDir({
      sources: {
        'p.ts': source(
          'world',
          `schedules: [
            { id: 'paris', cron: '30 2 * * *', timezone: 'Europe/Paris' },
            { id: 'new-york', cron: '0 19 * * 1-5', timezone: 'America/New_York' },
            { id: 'sydney', cron: '30 2 * * *', timezone: 'Australia/Sydney' },
            { id: 'off', rate: '1 hour', enabled: false },
          ]`,
        ),
      },
      handlers: [HANDLER],
    });

  it('lists each schedule’s fire times in local time, marking the day a daylight-saving change falls on', async () => {
    const run = await phi('plan', '--definitions', dir(), '--from', '2026-03-27T12:00:00Z', '--count', '3');
    expect(run.code).toBe(ExitCode.OK);
    const lines = run.stdout.split('\n');
    const after = (header: string, n: number): string[] => lines.slice(lines.findIndex((l) => l.includes(header)) + 1, lines.findIndex((l) => l.includes(header)) + 1 + n).map((l) => l.trim());
    expect(after('schedule paris:', 5)).toStrictEqual([
      'next 3 after 2026-03-27T12:00:00Z:',
      '2026-03-28 02:30 Europe/Paris (Sat, UTC+01:00)',
      '2026-03-29       Europe/Paris  ← DST change (+1h): 02:00–03:00 does not exist; no fire time that day',
      '2026-03-30 02:30 Europe/Paris (Mon, UTC+02:00)',
      '2026-03-31 02:30 Europe/Paris (Tue, UTC+02:00)',
    ]);
    // New York changed three weeks before: nothing to mark
    expect(after('schedule new-york:', 4)).toStrictEqual([
      'next 3 after 2026-03-27T12:00:00Z:',
      '2026-03-27 19:00 America/New_York (Fri, UTC-04:00)',
      '2026-03-30 19:00 America/New_York (Mon, UTC-04:00)',
      '2026-03-31 19:00 America/New_York (Tue, UTC-04:00)',
    ]);
    expect(after('schedule off:', 1)).toStrictEqual(['disabled: never fires']);
  });

  it('marks a fire time on the day the clocks fall back, when a local time happens twice (and fires once)', async () => {
    const run = await phi('plan', '--definitions', dir(), '--from', '2026-04-04', '--count', '2');
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toContain('next 2 after 2026-04-04T00:00:00Z:');
    expect(run.stdout).toContain('2026-04-05 02:30 Australia/Sydney (Sun, UTC+11:00)  ← DST change (-1h): 02:00–03:00 happens twice');
    expect(run.stdout).toContain('2026-04-06 02:30 Australia/Sydney (Mon, UTC+10:00)');
  });

  it('--json gives the fire times per pipeline and schedule id, and each schedule’s daylight-saving changes', async () => {
    const run = await phi('plan', '--definitions', dir(), '--from', '2026-03-27T13:00:00+01:00', '--count', '2', '--json');
    expect(run.code).toBe(ExitCode.OK);
    const json = JSON.parse(run.stdout) as { fireTimes: { from: string; count: number; schedules: Record<string, Record<string, string[]>> }; pipelines: { schedules: CompiledSchedule[] }[] };
    expect(json.fireTimes).toStrictEqual({
      from: '2026-03-27T12:00:00.000Z',
      count: 2,
      schedules: {
        world: {
          paris: ['2026-03-28T02:30:00+01:00', '2026-03-30T02:30:00+02:00'],
          'new-york': ['2026-03-27T19:00:00-04:00', '2026-03-30T19:00:00-04:00'],
          sydney: ['2026-03-28T02:30:00+11:00', '2026-03-29T02:30:00+11:00'],
          off: [],
        },
      },
    });
    expect(json.pipelines[0]!.schedules.find((s) => s.id === 'paris')!.dstChanges).toStrictEqual([{ at: '2026-03-29T03:00:00+02:00', date: '2026-03-29', minutes: 60 }]);
  });

  it.each([
    ['--from', 'tomorrow'],
    ['--from', '2026-02-30'],
    ['--count', '0'],
    ['--count', '1001'],
    ['--count', '2.5'],
  ])('refuses %s %s as a usage error (exit 2)', async (flag, value) => {
    const run = await phi('plan', '--definitions', dir(), flag, value);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toContain(flag);
  });
});

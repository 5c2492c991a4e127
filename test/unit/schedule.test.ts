import { describe, expect, it } from 'vitest';
import { ProblemCode } from '../../lib/model/problems.ts';
import {
  compileSchedule,
  formatInZone,
  translateCron,
  zonedTimeToUtc,
  type CompiledSchedule,
  type ScheduleProblem,
  type ScheduleResult,
} from '../../lib/plan/schedule/index.ts';

/** Sunday 2026-11-22, 07:00 in New York. */
const NOW = new Date('2026-11-22T12:00:00Z');

/** The AWS expression of a cron the translator accepts; fails the test with the problem otherwise. */
function awsCron(cron: string): string {
  const result = translateCron(cron);
  if ('code' in result) throw new Error(`expected "${cron}" to translate, got ${result.code}: ${result.message}`);
  return result.expression;
}

/** The problem a cron the translator refuses is refused with; fails the test if it translates. */
function cronProblem(cron: string): ScheduleProblem {
  const result = translateCron(cron);
  if (!('code' in result)) throw new Error(`expected "${cron}" to be refused, got ${result.expression}`);
  return result;
}

function compiled(result: ScheduleResult): CompiledSchedule {
  if (!result.ok) throw new Error(`expected a schedule, got ${result.problems.map((p) => `${p.code}: ${p.message}`).join('; ')}`);
  return result.schedule;
}

function problemsOf(result: ScheduleResult): ScheduleProblem[] {
  if (result.ok) throw new Error(`expected problems, got ${result.schedule.expression}`);
  return result.problems;
}

describe('translateCron: Unix cron → EventBridge Scheduler cron()', () => {
  it('translates a 5-field cron, writing the year field as *', () => {
    expect(translateCron('0 19 * * 1-5')).toMatchObject({ source: 'cron: 0 19 * * 1-5', expression: 'cron(0 19 ? * MON-FRI *)' });
  });

  it('translates a 6-field cron whose leading seconds field is 0 like the same 5-field cron', () => {
    expect(awsCron('0 15 10 * * *')).toBe('cron(15 10 * * ? *)');
    expect(awsCron('0 0 19 * * 1-5')).toBe(awsCron('0 19 * * 1-5'));
  });

  it('ignores surrounding and repeated whitespace between fields', () => {
    expect(awsCron('  0   19 * *  1-5 ')).toBe('cron(0 19 ? * MON-FRI *)');
  });

  describe('day-of-week is written with AWS day names', () => {
    it.each([
      ['1-5', 'MON-FRI'],
      ['0', 'SUN'],
      ['7', 'SUN'],
      ['1', 'MON'],
      ['6', 'SAT'],
      ['1,3,5', 'MON,WED,FRI'],
      ['1-7', 'SUN-SAT'],
      ['0-6', 'SUN-SAT'],
      ['5-7', 'SUN,FRI,SAT'],
      ['6,7', 'SUN,SAT'],
    ])('Unix day-of-week %s → %s', (unix, aws) => {
      expect(awsCron(`0 9 * * ${unix}`)).toBe(`cron(0 9 ? * ${aws} *)`);
    });

    it('expands a stepped day-of-week into the listed days, since AWS has no "/" there', () => {
      expect(awsCron('0 0 * * */2')).toBe('cron(0 0 ? * SUN,TUE,THU,SAT *)');
      expect(awsCron('0 0 * * 1-5/2')).toBe('cron(0 0 ? * MON,WED,FRI *)');
      // Unix `*/7` selects 0 and 7: both Sunday, listed once.
      expect(awsCron('0 0 * * */7')).toBe('cron(0 0 ? * SUN *)');
    });

    it('accepts day names in any case, alone, in ranges and in lists', () => {
      expect(awsCron('0 19 * * MON-FRI')).toBe('cron(0 19 ? * MON-FRI *)');
      expect(awsCron('0 19 * * mon-fri')).toBe('cron(0 19 ? * MON-FRI *)');
      expect(awsCron('0 19 * * SAT,SUN')).toBe('cron(0 19 ? * SUN,SAT *)');
    });
  });

  describe('placement of "?" (AWS needs exactly one day field to be "?")', () => {
    it('keeps day-of-month and writes "?" for day-of-week when day-of-week is *', () => {
      expect(awsCron('30 6 * * *')).toBe('cron(30 6 * * ? *)');
      expect(awsCron('0 0 1,15 * *')).toBe('cron(0 0 1,15 * ? *)');
      expect(awsCron('0 0 10-20 * *')).toBe('cron(0 0 10-20 * ? *)');
    });

    it('writes "?" for day-of-month when day-of-month is * and day-of-week is restricted', () => {
      expect(awsCron('0 12 * * 3')).toBe('cron(0 12 ? * WED *)');
    });
  });

  it('keeps minute, hour and month steps and ranges in AWS form, listing a stepped range', () => {
    expect(awsCron('*/15 * * * *')).toBe('cron(0/15 * * * ? *)');
    expect(awsCron('5/15 0 * * *')).toBe('cron(5/15 0 * * ? *)');
    expect(awsCron('0 9-17 * * *')).toBe('cron(0 9-17 * * ? *)');
    expect(awsCron('0 8-18/4 * * *')).toBe('cron(0 8,12,16 * * ? *)');
    expect(awsCron('0 0 */2 * *')).toBe('cron(0 0 1/2 * ? *)');
    expect(awsCron('0 0 1 */3 *')).toBe('cron(0 0 1 1/3 ? *)');
    expect(awsCron('0 0 * JAN-MAR *')).toBe('cron(0 0 * 1-3 ? *)');
  });

  describe('refuses what EventBridge Scheduler cannot express exactly (SCHED_003_UNSUPPORTED)', () => {
    it.each(['0 0 1 * 1', '0 0 1-7 * MON', '0 0 */2 * 1-5'])('both day fields restricted: %s', (cron) => {
      const problem = cronProblem(cron);
      expect(problem.code).toBe(ProblemCode.SCHED_003_UNSUPPORTED);
      expect(problem.field).toBe('cron');
      expect(problem.message).toContain('day-of-month and day-of-week');
    });

    it.each(['30 0 12 * * *', '* 0 12 * * *', '0,30 0 12 * * *', '*/10 0 12 * * *'])('seconds other than 0: %s', (cron) => {
      const problem = cronProblem(cron);
      expect(problem.code).toBe(ProblemCode.SCHED_003_UNSUPPORTED);
      expect(problem.message).toContain('whole minutes');
    });
  });

  describe('refuses invalid Unix cron (SCHED_001_INVALID_CRON)', () => {
    it.each([
      ['too few fields', '0 19 * *'],
      ['too many fields', '0 0 19 * * 1-5 2026'],
      ['empty', ''],
      ['minute 60', '60 0 * * *'],
      ['hour 24', '0 24 * * *'],
      ['day-of-month 0', '0 0 0 * *'],
      ['day-of-month 32', '0 0 32 * *'],
      ['month 13', '0 0 * 13 *'],
      ['day-of-week 8', '0 0 * * 8'],
      ['second 60', '60 0 0 * * *'],
      ['a backwards range', '0 0 5-1 * *'],
      ['a step of 0', '*/0 * * * *'],
      ['garbage', 'every day at noon'],
      ['letters where numbers belong', 'a b c d e'],
      ['a half-open range', '0 0 * * 1-'],
      ['AWS-only syntax "?"', '0 0 ? * 1'],
      ['Quartz-only syntax "L"', '0 0 L * *'],
      ['Quartz-only syntax "#"', '0 0 * * 1#2'],
    ])('%s: "%s"', (_, cron) => {
      const problem = cronProblem(cron);
      expect(problem.code).toBe(ProblemCode.SCHED_001_INVALID_CRON);
      expect(problem.field).toBe('cron');
      expect(problem.hint).not.toBe('');
    });

    it('names the offending value and field in the message', () => {
      expect(cronProblem('60 0 * * *').message).toContain('60 is out of range 0-59 in the minutes field');
      expect(cronProblem('0 0 5-1 * *').message).toContain('the range 5-1 in the day-of-month field runs backwards');
      expect(cronProblem('0 19 * *').message).toContain('has 4 fields');
    });
  });
});

describe('compileSchedule', () => {
  describe('cron', () => {
    it('lists the next five weekday 19:00 New York fire times after a Sunday, with the EST offset', () => {
      // GIVEN the market-data schedule and a Sunday noon UTC
      const schedule = compiled(compileSchedule({ cron: '0 19 * * 1-5', timezone: 'America/New_York' }, NOW));
      // THEN the expression is AWS's and the next fire times are Monday to Friday at 19:00 local time
      expect(schedule).toStrictEqual({
        id: 'default',
        source: 'cron: 0 19 * * 1-5',
        expression: 'cron(0 19 ? * MON-FRI *)',
        timezone: 'America/New_York',
        enabled: true,
        state: 'ENABLED',
        deploy: {},
        next: [
          '2026-11-23T19:00:00-05:00',
          '2026-11-24T19:00:00-05:00',
          '2026-11-25T19:00:00-05:00',
          '2026-11-26T19:00:00-05:00',
          '2026-11-27T19:00:00-05:00',
        ],
        dstChanges: [],
      });
    });

    it('defaults the timezone to UTC and writes UTC times with Z', () => {
      const schedule = compiled(compileSchedule({ cron: '30 6 * * *' }, NOW));
      expect(schedule.timezone).toBe('UTC');
      expect(schedule.next).toStrictEqual([
        '2026-11-23T06:30:00Z',
        '2026-11-24T06:30:00Z',
        '2026-11-25T06:30:00Z',
        '2026-11-26T06:30:00Z',
        '2026-11-27T06:30:00Z',
      ]);
    });

    it('computes the next fire times of a 6-field cron like its 5-field form', () => {
      const six = compiled(compileSchedule({ cron: '0 0 19 * * 1-5', timezone: 'America/New_York' }, NOW));
      const five = compiled(compileSchedule({ cron: '0 19 * * 1-5', timezone: 'America/New_York' }, NOW));
      expect(six.expression).toBe(five.expression);
      expect(six.next).toStrictEqual(five.next);
      expect(six.source).toBe('cron: 0 0 19 * * 1-5');
    });

    it('lists fire times on the days a stepped day-of-week expands to', () => {
      // */2 = Sunday, Tuesday, Thursday, Saturday; 2026-11-22 is a Sunday and NOW is after midnight.
      const schedule = compiled(compileSchedule({ cron: '0 0 * * */2' }, NOW));
      expect(schedule.next).toStrictEqual([
        '2026-11-24T00:00:00Z',
        '2026-11-26T00:00:00Z',
        '2026-11-28T00:00:00Z',
        '2026-11-29T00:00:00Z',
        '2026-12-01T00:00:00Z',
      ]);
    });

    it('moves the UTC offset from -05:00 to -04:00 when New York springs forward (2026-03-08)', () => {
      // 01:30 still exists on 2026-03-08 (clocks jump at 02:00), so it is EST that day and EDT after.
      const schedule = compiled(compileSchedule({ cron: '30 1 * * *', timezone: 'America/New_York' }, new Date('2026-03-06T12:00:00Z')));
      expect(schedule.expression).toBe('cron(30 1 * * ? *)');
      expect(schedule.next).toStrictEqual([
        '2026-03-07T01:30:00-05:00',
        '2026-03-08T01:30:00-05:00',
        '2026-03-09T01:30:00-04:00',
        '2026-03-10T01:30:00-04:00',
        '2026-03-11T01:30:00-04:00',
      ]);
      // The same wall-clock time is an hour earlier in UTC once DST is in force.
      expect(schedule.next.map((t) => new Date(t).toISOString().slice(11, 16))).toStrictEqual(['06:30', '06:30', '05:30', '05:30', '05:30']);
    });

    it('fires once, at the first (EDT) occurrence, on the night 01:30 happens twice (2026-11-01)', () => {
      // EventBridge Scheduler documents that a repeated local time runs only once; the plan agrees.
      const schedule = compiled(compileSchedule({ cron: '30 1 * * *', timezone: 'America/New_York' }, new Date('2026-10-30T12:00:00Z')));
      expect(schedule.next).toStrictEqual([
        '2026-10-31T01:30:00-04:00',
        '2026-11-01T01:30:00-04:00',
        '2026-11-02T01:30:00-05:00',
        '2026-11-03T01:30:00-05:00',
        '2026-11-04T01:30:00-05:00',
      ]);
    });

    it('does not list a fire time on the day a cron time falls into the spring-forward gap (EventBridge skips it)', () => {
      const schedule = compiled(compileSchedule({ cron: '30 2 * * *', timezone: 'America/New_York' }, new Date('2026-03-06T12:00:00Z')));
      expect(schedule.next).toStrictEqual([
        '2026-03-07T02:30:00-05:00',
        '2026-03-09T02:30:00-04:00',
        '2026-03-10T02:30:00-04:00',
        '2026-03-11T02:30:00-04:00',
        '2026-03-12T02:30:00-04:00',
      ]);
    });

    it.each([
      ['a date that never occurs (30 February)', '0 0 30 2 *'],
      ['a date that never occurs (31 April)', '0 0 31 4 *'],
    ])('refuses %s as SCHED_001 at cron ("never fires"), returned rather than thrown: "%s"', (_, cron) => {
      expect(compileSchedule({ cron }, NOW)).toStrictEqual({
        ok: false,
        problems: [{ code: ProblemCode.SCHED_001_INVALID_CRON, field: 'cron', message: `"${cron}" never fires: no day in the next five years matches it`, hint: expect.stringContaining('30 February') }],
      });
    });

    it('compiles a day-of-week naming Sunday twice ("0,7") to SUN', () => {
      expect(awsCron('0 0 * * 0,7')).toBe('cron(0 0 ? * SUN *)');
      const schedule = compiled(compileSchedule({ cron: '0 0 * * 0,7' }, NOW));
      expect(schedule.next[0]).toBe('2026-11-29T00:00:00Z');
    });
  });

  describe('within EventBridge Scheduler’s sizes', () => {
    it('refuses a cron whose Scheduler expression would pass 256 characters (SCHED_003_UNSUPPORTED), naming the limit', () => {
      const problems = problemsOf(compileSchedule({ cron: '0-59/1 0-23/1 1-31/1 * *' }, NOW));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ code: ProblemCode.SCHED_003_UNSUPPORTED, field: 'cron' });
      expect(problems[0]!.message).toContain('256');
    });

    it('writes the cron it was given with single spaces, however it was padded', () => {
      const padded = `${' '.repeat(200)}0${' '.repeat(200)}19 * * 1-5${' '.repeat(200)}`;
      const schedule = compiled(compileSchedule({ cron: padded }, NOW));
      expect(schedule.source).toBe('cron: 0 19 * * 1-5');
      expect(schedule.expression).toBe(awsCron('0 19 * * 1-5'));
    });
  });

  describe('timezone', () => {
    it.each(['Mars/Olympus_Mons', 'America/Gotham', '+05:00', ''])('refuses "%s" with SCHED_002_INVALID_TIMEZONE on the timezone field', (timezone) => {
      const problems = problemsOf(compileSchedule({ cron: '0 0 * * *', timezone }, NOW));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ code: ProblemCode.SCHED_002_INVALID_TIMEZONE, field: 'timezone' });
      expect(problems[0]?.message).toContain(`"${timezone}"`);
    });

    it('reports an invalid timezone and an invalid cron together', () => {
      const problems = problemsOf(compileSchedule({ cron: 'nope', timezone: 'Nowhere/Town' }, NOW));
      expect(problems.map((p) => [p.code, p.field])).toStrictEqual([
        [ProblemCode.SCHED_002_INVALID_TIMEZONE, 'timezone'],
        [ProblemCode.SCHED_001_INVALID_CRON, 'cron'],
      ]);
    });

    it('refuses an unsupported cron even in a valid timezone', () => {
      const problems = problemsOf(compileSchedule({ cron: '0 0 1 * 1', timezone: 'Europe/London' }, NOW));
      expect(problems.map((p) => p.code)).toStrictEqual([ProblemCode.SCHED_003_UNSUPPORTED]);
    });
  });

  describe('rate', () => {
    it.each([
      ['1 minutes', 'rate(1 minute)'],
      ['1 minute', 'rate(1 minute)'],
      ['15 minutes', 'rate(15 minutes)'],
      ['15 minute', 'rate(15 minutes)'],
      ['1 hours', 'rate(1 hour)'],
      ['6 hours', 'rate(6 hours)'],
      ['1 day', 'rate(1 day)'],
      [' 3 days ', 'rate(3 days)'],
    ])('normalises "%s" to %s (singular unit for 1, plural otherwise)', (rate, expression) => {
      const schedule = compiled(compileSchedule({ rate }, NOW));
      expect(schedule.expression).toBe(expression);
      expect(schedule.source).toBe(`rate: ${rate}`);
      expect(schedule.timezone).toBe('UTC');
    });

    it.each(['0 minutes', '-5 minutes', '1.5 hours', '2 weeks', 'minutes', '5', 'every 5 minutes', '99999999999999999 days', '99999999 days', '36501 days', '52560001 minutes'])(
      'refuses "%s" with SCHED_001_INVALID_CRON on the rate field',
      (rate) => {
        const problems = problemsOf(compileSchedule({ rate }, NOW));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatchObject({ code: ProblemCode.SCHED_001_INVALID_CRON, field: 'rate' });
      },
    );

    it('takes a rate of up to a hundred years', () => {
      expect(compiled(compileSchedule({ rate: '36500 days' }, NOW)).expression).toBe('rate(36500 days)');
    });

    it('counts the next fire times from now, one rate apart', () => {
      expect(compiled(compileSchedule({ rate: '6 hours' }, NOW)).next).toStrictEqual([
        '2026-11-22T18:00:00Z',
        '2026-11-23T00:00:00Z',
        '2026-11-23T06:00:00Z',
        '2026-11-23T12:00:00Z',
        '2026-11-23T18:00:00Z',
      ]);
    });
  });

  describe('at', () => {
    it('writes a one-off local time as at(YYYY-MM-DDTHH:mm:ss), adding :00 seconds when omitted', () => {
      const schedule = compiled(compileSchedule({ at: '2026-12-24T18:30', timezone: 'Europe/Paris' }, NOW));
      expect(schedule).toStrictEqual({
        id: 'default',
        source: 'at: 2026-12-24T18:30',
        expression: 'at(2026-12-24T18:30:00)',
        timezone: 'Europe/Paris',
        enabled: true,
        state: 'ENABLED',
        deploy: {},
        next: ['2026-12-24T18:30:00+01:00'],
        dstChanges: [],
      });
    });

    it('keeps given seconds', () => {
      expect(compiled(compileSchedule({ at: '2026-12-01T10:00:59' }, NOW)).expression).toBe('at(2026-12-01T10:00:59)');
    });

    it('lists no next fire time for a moment already past', () => {
      const schedule = compiled(compileSchedule({ at: '2020-01-01T00:00' }, NOW));
      expect(schedule.expression).toBe('at(2020-01-01T00:00:00)');
      expect(schedule.next).toStrictEqual([]);
    });

    it.each([
      ['a day that does not exist', '2026-02-30T10:00'],
      ['month 13', '2026-13-01T10:00'],
      ['hour 24', '2026-12-01T24:00'],
      ['minute 60', '2026-12-01T10:60'],
      ['a space instead of T', '2026-12-01 10:00'],
      ['an offset', '2026-12-01T10:00Z'],
      ['a date without a time', '2026-12-01'],
      ['garbage', 'tomorrow'],
    ])('refuses %s ("%s") with SCHED_001_INVALID_CRON on the at field', (_, at) => {
      const problems = problemsOf(compileSchedule({ at }, NOW));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ code: ProblemCode.SCHED_001_INVALID_CRON, field: 'at' });
    });
  });
});

describe('formatInZone / zonedTimeToUtc', () => {
  it('formats an instant as local wall-clock time with the zone offset', () => {
    expect(formatInZone(new Date('2026-11-24T00:00:00Z'), 'America/New_York')).toBe('2026-11-23T19:00:00-05:00');
    expect(formatInZone(new Date('2026-07-01T00:00:00Z'), 'America/New_York')).toBe('2026-06-30T20:00:00-04:00');
    expect(formatInZone(new Date('2026-07-01T00:00:00Z'), 'Asia/Kolkata')).toBe('2026-07-01T05:30:00+05:30');
    expect(formatInZone(new Date('2026-07-01T00:00:00Z'), 'UTC')).toBe('2026-07-01T00:00:00Z');
  });

  it.each([
    ['America/New_York', [2026, 11, 23, 19, 0, 0], '2026-11-24T00:00:00.000Z', '2026-11-23T19:00:00-05:00'],
    ['America/New_York', [2026, 6, 30, 20, 0, 0], '2026-07-01T00:00:00.000Z', '2026-06-30T20:00:00-04:00'],
    ['Asia/Kolkata', [2026, 7, 1, 5, 30, 15], '2026-07-01T00:00:15.000Z', '2026-07-01T05:30:15+05:30'],
    ['Australia/Lord_Howe', [2026, 1, 15, 12, 0, 0], '2026-01-15T01:00:00.000Z', '2026-01-15T12:00:00+11:00'],
    ['UTC', [2026, 2, 28, 23, 59, 59], '2026-02-28T23:59:59.000Z', '2026-02-28T23:59:59Z'],
  ] as const)('round-trips %s wall-clock %j through the instant %s', (timezone, parts, instant, formatted) => {
    const utc = zonedTimeToUtc(parts, timezone);
    expect(utc.toISOString()).toBe(instant);
    expect(formatInZone(utc, timezone)).toBe(formatted);
  });

  it('resolves a wall-clock time that happens twice (fall back) to its first occurrence', () => {
    const utc = zonedTimeToUtc([2026, 11, 1, 1, 30, 0], 'America/New_York');
    expect(utc.toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(formatInZone(utc, 'America/New_York')).toBe('2026-11-01T01:30:00-04:00');
  });

  it('never resolves a wall-clock time inside the spring-forward gap to an instant before the gap', () => {
    const utc = zonedTimeToUtc([2026, 3, 8, 2, 30, 0], 'America/New_York');
    // The gap starts at 02:00 EST = 07:00Z.
    expect(utc.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-03-08T07:00:00Z'));
  });
});

/**
 * When a run may start: the pure `evaluateStart` (spec Rules 17, 1 and 3 in the spec's evaluation
 * order) over tables of windows (across midnight, days in the window's timezone, daylight-saving days
 * in both hemispheres), lateness boundaries, the order of the checks and `force`; and the plan-time
 * checks of the definition's start rules (RULE_00x, SCHED_002) through `planDefinitions`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { planDefinitions } from '../../lib/load/load.ts';
import { CheckOutcome, START_RULE_ORDER, StartRulesByPipelineSchema, type DeployedWindow, type StartRules, type Weekday } from '../../lib/model/contract/start.ts';
import { ProblemCode, type Problem } from '../../lib/model/problems.ts';
import { evaluateStart, insideWindow, nextWindowStart, wallMinute } from '../../lib/model/start-rules.ts';
import { compileStartRules, describeStartRules } from '../../lib/plan/start-rules.ts';
import { PipelineSchema } from '../../lib/model/pipeline.ts';
import { startRulesFromEnv } from '../../functions/control/trigger.ts';
import { removeDefinitionDirs, writeDefinitionDir } from './support/temp-definitions.ts';

afterAll(removeDefinitionDirs);

const W = (start: string, end: string, timezone = 'UTC', days?: DeployedWindow['days']): DeployedWindow => ({ start, end, timezone, ...(days ? { days } : {}) });

describe('wallMinute: the weekday and minute of an instant on a timezone’s wall clock', () => {
  it.each([
    ['2026-05-04T00:30:00Z', 'UTC', 'MON', '00:30'],
    ['2026-05-03T17:00:00Z', 'Asia/Tokyo', 'MON', '02:00'],
    ['2026-05-04T03:59:59Z', 'America/New_York', 'SUN', '23:59'],
    ['2026-05-04T04:00:00Z', 'America/New_York', 'MON', '00:00'],
    ['2026-05-04T12:00:00Z', 'Asia/Kolkata', 'MON', '17:30'],
  ])('%s in %s is %s %s', (instant, tz, day, time) => {
    expect(wallMinute(new Date(instant), tz)).toMatchObject({ day, time });
  });
});

describe('insideWindow (spec Rule 17): start included, end excluded, wall-clock time in its timezone', () => {
  // 2026-05-04 is a Monday; 2026-05-08 a Friday, 05-09 Saturday, 05-10 Sunday.
  it.each<[string, DeployedWindow, string, boolean]>([
    ['the start minute is inside', W('06:00', '22:00'), '2026-05-04T06:00:00Z', true],
    ['a second before the start is outside', W('06:00', '22:00'), '2026-05-04T05:59:59Z', false],
    ['a second before the end is inside', W('06:00', '22:00'), '2026-05-04T21:59:59Z', true],
    ['the end minute is outside', W('06:00', '22:00'), '2026-05-04T22:00:00Z', false],
    ['24:00 ends at midnight: 23:59 is inside', W('18:00', '24:00'), '2026-05-04T23:59:30Z', true],
    ['24:00 ends at midnight: 00:00 is outside', W('18:00', '24:00'), '2026-05-05T00:00:00Z', false],
    ['00:00–24:00 is the whole day', W('00:00', '24:00'), '2026-05-05T00:00:00Z', true],
    // Across midnight: 22:00–06:00 opens the evening of its day and closes the next morning.
    ['across midnight: 23:00 is inside', W('22:00', '06:00'), '2026-05-04T23:00:00Z', true],
    ['across midnight: 03:00 is inside', W('22:00', '06:00'), '2026-05-05T03:00:00Z', true],
    ['across midnight: 05:59 is inside', W('22:00', '06:00'), '2026-05-05T05:59:00Z', true],
    ['across midnight: 06:00 is outside', W('22:00', '06:00'), '2026-05-05T06:00:00Z', false],
    ['across midnight: noon is outside', W('22:00', '06:00'), '2026-05-05T12:00:00Z', false],
    // Days name the day a window opens: a Friday-night window runs into Saturday morning, not Sunday's.
    ['FRI 22:00–06:00: Friday 22:30 is inside', W('22:00', '06:00', 'UTC', ['FRI']), '2026-05-08T22:30:00Z', true],
    ['FRI 22:00–06:00: Saturday 05:00 is inside', W('22:00', '06:00', 'UTC', ['FRI']), '2026-05-09T05:00:00Z', true],
    ['FRI 22:00–06:00: Saturday 22:30 is outside', W('22:00', '06:00', 'UTC', ['FRI']), '2026-05-09T22:30:00Z', false],
    ['FRI 22:00–06:00: Friday 05:00 is outside (Thursday did not open it)', W('22:00', '06:00', 'UTC', ['FRI']), '2026-05-08T05:00:00Z', false],
    ['SUN 22:00–02:00: Monday 01:00 is inside (the week wraps)', W('22:00', '02:00', 'UTC', ['SUN']), '2026-05-04T01:00:00Z', true],
    // Days are the window's timezone's days: Sunday 17:00 UTC is Monday 02:00 in Tokyo.
    ['MON in Tokyo: Sunday 17:00 UTC (Monday 02:00 there) is inside', W('00:00', '06:00', 'Asia/Tokyo', ['MON']), '2026-05-03T17:00:00Z', true],
    ['MON in Tokyo: Monday 17:00 UTC (Tuesday 02:00 there) is outside', W('00:00', '06:00', 'Asia/Tokyo', ['MON']), '2026-05-04T17:00:00Z', false],
    ['MON–FRI in New York: Saturday 02:00 UTC (Friday 22:00 there) is inside', W('06:00', '23:00', 'America/New_York', ['MON', 'TUE', 'WED', 'THU', 'FRI']), '2026-05-09T02:00:00Z', true],
    ['MON–FRI in New York: Monday 03:00 UTC (Sunday 23:00 there) is outside', W('06:00', '23:30', 'America/New_York', ['MON', 'TUE', 'WED', 'THU', 'FRI']), '2026-05-04T03:00:00Z', false],
  ])('%s', (_name, window, instant, inside) => {
    expect(insideWindow(window, new Date(instant))).toBe(inside);
  });
});

describe('windows on daylight-saving days (wall clock: a skipped hour never opens, a repeated one opens twice)', () => {
  // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z). 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z).
  const ny = (start: string, end: string): DeployedWindow => W(start, end, 'America/New_York');

  it('a window inside the skipped hour (02:00–03:00) never opens that day', () => {
    const minutes = Array.from({ length: 24 * 60 }, (_, i) => new Date(Date.parse('2026-03-08T05:00:00Z') + i * 60_000));
    expect(minutes.filter((m) => insideWindow(ny('02:00', '03:00'), m))).toEqual([]);
    // …and opens on the day after, for its full hour.
    expect(insideWindow(ny('02:00', '03:00'), new Date('2026-03-09T06:30:00Z'))).toBe(true);
  });

  it('a window across the skipped hour (01:00–04:00) lasts two hours, not three', () => {
    const minutes = Array.from({ length: 24 * 60 }, (_, i) => new Date(Date.parse('2026-03-08T05:00:00Z') + i * 60_000));
    const open = minutes.filter((m) => insideWindow(ny('01:00', '04:00'), m));
    expect(open).toHaveLength(120);
    expect(open[0]!.toISOString()).toBe('2026-03-08T06:00:00.000Z');
    expect(open.at(-1)!.toISOString()).toBe('2026-03-08T07:59:00.000Z');
  });

  it('the repeated hour (01:00–02:00 on 1 November) is inside a window twice: two hours of 01:xx', () => {
    expect(insideWindow(ny('01:00', '02:00'), new Date('2026-11-01T05:30:00Z'))).toBe(true); // 01:30 EDT
    expect(insideWindow(ny('01:00', '02:00'), new Date('2026-11-01T06:30:00Z'))).toBe(true); // 01:30 EST
    expect(insideWindow(ny('01:00', '02:00'), new Date('2026-11-01T07:00:00Z'))).toBe(false); // 02:00 EST
  });

  it.each([
    // Sydney (southern hemisphere): 2026-04-05 03:00 AEDT becomes 02:00 AEST (16:00Z on the 4th); 2026-10-04 02:00 AEST becomes 03:00 AEDT (16:00Z on the 3rd).
    ['Australia/Sydney, fall back: 02:30 happens twice', 'Australia/Sydney', W('02:00', '03:00', 'Australia/Sydney'), ['2026-04-04T15:30:00Z', '2026-04-04T16:30:00Z'], []],
    ['Australia/Sydney, spring forward: 02:00–03:00 never opens', 'Australia/Sydney', W('02:00', '03:00', 'Australia/Sydney'), [], ['2026-10-03T15:59:00Z', '2026-10-03T16:00:00Z', '2026-10-03T16:30:00Z']],
    // London: 2026-03-29 01:00 GMT becomes 02:00 BST.
    ['Europe/London, spring forward: 01:00–02:00 never opens', 'Europe/London', W('01:00', '02:00', 'Europe/London'), [], ['2026-03-29T00:59:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z']],
  ])('%s', (_name, _tz, window, inside, outside) => {
    for (const t of inside) expect(insideWindow(window, new Date(t)), t).toBe(true);
    for (const t of outside) expect(insideWindow(window, new Date(t)), t).toBe(false);
  });
});

describe('evaluateStart: the schedule rule (spec Rule 1: tolerance and maximum lateness)', () => {
  const SCHEDULED = '2026-05-04T06:00:00Z';
  const at = (ms: number): Date => new Date(Date.parse(SCHEDULED) + ms);
  const rules: StartRules = { toleranceSeconds: 60, maxLatenessSeconds: 300 };

  it.each<[string, number, 'START' | 'SKIP', boolean, string | undefined]>([
    ['on the dot', 0, 'START', false, undefined],
    ['early (a clock running ahead) is on time', -5_000, 'START', false, undefined],
    ['exactly the tolerance is on time', 60_000, 'START', false, undefined],
    ['a millisecond past the tolerance is late', 60_001, 'START', true, undefined],
    ['exactly the maximum lateness is late, and starts', 300_000, 'START', true, undefined],
    ['a millisecond past the maximum lateness is too late', 300_001, 'SKIP', true, 'TOO_LATE'],
    ['an hour late is too late', 3_600_000, 'SKIP', true, 'TOO_LATE'],
  ])('%s', (_name, ms, decision, late, reason) => {
    const d = evaluateStart({ rules, trigger: 'SCHEDULE', scheduledTime: SCHEDULED, now: at(ms) });
    expect(d.decision).toBe(decision);
    expect(d.reason).toBe(reason);
    expect(d.late).toBe(late);
    expect(d.latenessSeconds).toBe(ms / 1000);
    expect(d.checks.find((c) => c.rule === 'SCHEDULE')?.outcome).toBe(reason ? CheckOutcome.FAILED : CheckOutcome.PASSED);
  });

  it('has a tolerance of 60 s and no maximum lateness by default: a day late is late, and starts', () => {
    expect(evaluateStart({ trigger: 'SCHEDULE', scheduledTime: SCHEDULED, now: at(60_000) })).toMatchObject({ decision: 'START', late: false });
    expect(evaluateStart({ trigger: 'SCHEDULE', scheduledTime: SCHEDULED, now: at(86_400_000) })).toMatchObject({ decision: 'START', late: true, latenessSeconds: 86_400 });
  });

  it('does not apply to a start that is not a scheduled delivery', () => {
    const d = evaluateStart({ rules: { maxLatenessSeconds: 0 }, trigger: 'API', now: at(10_000_000) });
    expect(d).toMatchObject({ decision: 'START' });
    expect(d.late).toBeUndefined();
    expect(d.checks[2]).toMatchObject({ rule: 'SCHEDULE', outcome: CheckOutcome.NOT_APPLICABLE });
  });
});

describe('evaluateStart: skip if running (spec Rule 3)', () => {
  const rules: StartRules = { maxActiveRuns: 2 };
  it.each<[number | undefined, 'START' | 'SKIP', CheckOutcome]>([
    [0, 'START', CheckOutcome.PASSED],
    [1, 'START', CheckOutcome.PASSED],
    [2, 'SKIP', CheckOutcome.FAILED],
    [7, 'SKIP', CheckOutcome.FAILED],
    // Not counted yet: the check waits for the count, refusing nothing.
    [undefined, 'START', CheckOutcome.NOT_EVALUATED],
  ])('with %s other active run(s) of at most 2: %s', (activeRuns, decision, outcome) => {
    const d = evaluateStart({ rules, trigger: 'API', now: new Date('2026-05-04T12:00:00Z'), ...(activeRuns !== undefined ? { activeRuns } : {}) });
    expect(d.decision).toBe(decision);
    expect(d.checks[4]).toMatchObject({ rule: 'CONCURRENCY', spec: 'Rule 3', outcome });
    if (decision === 'SKIP') expect(d.reason).toBe('ALREADY_RUNNING');
    if (activeRuns !== undefined) expect(d.activeRuns).toBe(activeRuns);
  });

  it('is not applicable without a limit, whatever is running', () => {
    expect(evaluateStart({ trigger: 'API', now: new Date(), activeRuns: 50 }).checks[4]).toMatchObject({ outcome: CheckOutcome.NOT_APPLICABLE });
  });
});

describe('evaluateStart: the spec’s evaluation order (pause → window → schedule → dependencies → skip if running), stopping at the first refusal', () => {
  const SCHEDULED = '2026-05-04T23:00:00Z';
  const rules: StartRules = { windows: [W('06:00', '22:00')], toleranceSeconds: 60, maxLatenessSeconds: 300, maxActiveRuns: 1 };

  it('always lists the checks in the spec’s order, with the rule each applies', () => {
    const d = evaluateStart({ trigger: 'API', now: new Date('2026-05-04T12:00:00Z'), rules, activeRuns: 0 });
    expect(d.checks.map((c) => c.rule)).toEqual([...START_RULE_ORDER]);
    expect(d.checks.map((c) => c.spec)).toEqual(['SCHEDULER_ENABLED', 'Rule 17', 'Rule 1', 'Rule 2', 'Rule 3']);
    expect(d).toMatchObject({ decision: 'START', evaluatedAt: '2026-05-04T12:00:00.000Z', activeRuns: 0 });
    expect(d.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.PASSED, CheckOutcome.NOT_APPLICABLE, CheckOutcome.NOT_APPLICABLE, CheckOutcome.PASSED]);
  });

  it('reports the window for a delivery that is outside its window, too late and beyond the limit', () => {
    const d = evaluateStart({ trigger: 'SCHEDULE', scheduledTime: SCHEDULED, now: new Date('2026-05-05T01:00:00Z'), rules, activeRuns: 5 });
    expect(d).toMatchObject({ decision: 'SKIP', reason: 'OUTSIDE_WINDOW' });
    expect(d.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.FAILED, CheckOutcome.NOT_EVALUATED, CheckOutcome.NOT_EVALUATED, CheckOutcome.NOT_EVALUATED]);
    expect(d.checks[1]!.detail).toBe('TUE 01:00 in UTC is outside every window: 06:00–22:00 [UTC]');
    // The later rules were not looked at: no lateness, no count is recorded.
    expect(d.late).toBeUndefined();
    expect(d.activeRuns).toBeUndefined();
  });

  it('reports lateness before the limit for a delivery inside its window, too late and beyond the limit', () => {
    const d = evaluateStart({ trigger: 'SCHEDULE', scheduledTime: '2026-05-05T09:00:00Z', now: new Date('2026-05-05T10:00:00Z'), rules, activeRuns: 5 });
    expect(d).toMatchObject({ decision: 'SKIP', reason: 'TOO_LATE', late: true, latenessSeconds: 3600 });
    expect(d.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.PASSED, CheckOutcome.FAILED, CheckOutcome.NOT_EVALUATED, CheckOutcome.NOT_EVALUATED]);
  });

  it('reports the limit last, for a late delivery inside its window', () => {
    const d = evaluateStart({ trigger: 'SCHEDULE', scheduledTime: '2026-05-05T09:00:00Z', now: new Date('2026-05-05T09:02:00Z'), rules, activeRuns: 1 });
    expect(d).toMatchObject({ decision: 'SKIP', reason: 'ALREADY_RUNNING', late: true, activeRuns: 1 });
    expect(d.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.PASSED, CheckOutcome.PASSED, CheckOutcome.NOT_APPLICABLE, CheckOutcome.FAILED]);
  });

  it('checks a window against the instant of the start, whatever the trigger', () => {
    for (const trigger of ['API', 'MANUAL', 'EVENT', 'UPSTREAM'] as const) {
      expect(evaluateStart({ trigger, now: new Date('2026-05-04T23:00:00Z'), rules: { windows: rules.windows! } })).toMatchObject({ decision: 'SKIP', reason: 'OUTSIDE_WINDOW' });
    }
  });

  it('passes when any one of several windows holds the instant (each in its own timezone)', () => {
    const windows = [W('06:00', '08:00', 'Europe/London'), W('09:00', '17:00', 'America/New_York', ['MON'])];
    const d = evaluateStart({ trigger: 'API', now: new Date('2026-05-04T14:00:00Z'), rules: { windows } });
    expect(d.decision).toBe('START');
    expect(d.checks[1]!.detail).toBe('MON 10:00 in America/New_York is inside 09:00–17:00 MON [America/New_York]');
  });
});

describe('evaluateStart: force', () => {
  const rules: StartRules = { windows: [W('06:00', '22:00')], maxActiveRuns: 1 };

  it('starts outside every window, recorded as forced, the window check BYPASSED', () => {
    const d = evaluateStart({ trigger: 'API', now: new Date('2026-05-04T23:00:00Z'), rules, force: true, activeRuns: 0 });
    expect(d).toMatchObject({ decision: 'START', forced: true });
    expect(d.checks[1]).toMatchObject({ rule: 'WINDOW', outcome: CheckOutcome.BYPASSED, detail: expect.stringContaining('forced') });
  });

  it('is recorded even inside a window', () => {
    expect(evaluateStart({ trigger: 'API', now: new Date('2026-05-04T12:00:00Z'), rules, force: true, activeRuns: 0 })).toMatchObject({ decision: 'START', forced: true, checks: [{}, { outcome: CheckOutcome.BYPASSED }, {}, {}, {}] });
  });

  it('does not override the limit on active runs', () => {
    expect(evaluateStart({ trigger: 'API', now: new Date('2026-05-04T23:00:00Z'), rules, force: true, activeRuns: 1 })).toMatchObject({ decision: 'SKIP', reason: 'ALREADY_RUNNING', forced: true });
  });
});

describe('the deployed start rules', () => {
  it('travel in PHI_START_RULES and are parsed strictly (an unknown field or a bad window is refused)', () => {
    const rules = { p: { windows: [W('06:00', '22:00', 'Europe/London', ['MON'])], toleranceSeconds: 30, maxActiveRuns: 2 } };
    expect(startRulesFromEnv({ PHI_START_RULES: JSON.stringify(rules) }).get('p')).toEqual(rules.p);
    expect(startRulesFromEnv({}).size).toBe(0);
    expect(() => startRulesFromEnv({ PHI_START_RULES: JSON.stringify({ p: { queue: true } }) })).toThrow();
    expect(StartRulesByPipelineSchema.safeParse({ p: { windows: [W('6:00', '22:00')] } }).success).toBe(false);
    expect(StartRulesByPipelineSchema.safeParse({ p: { windows: [{ ...W('06:00', '22:00'), days: ['Mon'] }] } }).success).toBe(false);
  });

  it('read in one line for phi plan', () => {
    expect(describeStartRules(undefined)).toBe('any time; tolerance 60 s; no limit on active runs');
    expect(describeStartRules({ windows: [W('06:00', '22:00', 'Europe/London', ['MON', 'TUE'])], maxLatenessSeconds: 600, maxActiveRuns: 1 })).toBe(
      'windows 06:00–22:00 MON,TUE [Europe/London] (outside: skip); tolerance 60 s, too late after 600 s; at most 1 active run(s), more skipped',
    );
  });
});

describe('plan-time checks of the start rules', () => {
  const HANDLER = 'handlers/task.ts';
  const NOW = new Date('2026-05-01T12:00:00Z');
  const pipeline = (extra: Record<string, unknown>): Record<string, unknown> => ({ id: 'orders', jobs: { a: { handler: `./${HANDLER}` } }, ...extra });
  const planOf = (extra: Record<string, unknown>) => planDefinitions(writeDefinitionDir({ definitions: { 'p.ts': pipeline(extra) }, handlers: [HANDLER] }), NOW);
  const problemsOf = async (extra: Record<string, unknown>): Promise<[string, string][]> => (await planOf(extra)).problems.map((p: Problem) => [p.code, p.path]);

  it.each<[string, Record<string, unknown>, [string, string][]]>([
    ['a start that is not HH:MM', { executionWindows: [{ start: '6:00', end: '22:00' }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].start']]],
    ['an end past 24:00', { executionWindows: [{ start: '06:00', end: '24:30' }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].end']]],
    ['a start at 24:00', { executionWindows: [{ start: '24:00', end: '06:00' }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].start']]],
    ['minutes past 59', { executionWindows: [{ start: '06:60', end: '22:00' }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].start']]],
    ['an end equal to its start', { executionWindows: [{ start: '06:00', end: '06:00' }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].end']]],
    ['an unknown day', { executionWindows: [{ start: '06:00', end: '22:00', days: ['MON', 'Tue'] }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].days[1]']]],
    ['a repeated day', { executionWindows: [{ start: '06:00', end: '22:00', days: ['MON', 'MON'] }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].days[1]']]],
    ['no days', { executionWindows: [{ start: '06:00', end: '22:00', days: [] }] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].days']]],
    ['no windows', { executionWindows: [] }, [[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows']]],
    ['an unknown timezone', { executionWindows: [{ start: '06:00', end: '22:00', timezone: 'Mars/Olympus' }] }, [[ProblemCode.SCHED_002_INVALID_TIMEZONE, 'executionWindows[0].timezone']]],
    ['a maximum lateness below the tolerance', { toleranceSeconds: 120, maxLatenessSeconds: 60 }, [[ProblemCode.RULE_003_INVALID_LATENESS, 'maxLatenessSeconds']]],
    ['a limit with whenRunning allow', { concurrency: { maxActiveRuns: 2, whenRunning: 'allow' } }, [[ProblemCode.RULE_004_INVALID_CONCURRENCY, 'concurrency']]],
    ['a limit of 0', { concurrency: { maxActiveRuns: 0 } }, [[ProblemCode.DEF_001_INVALID_FIELD, 'concurrency.maxActiveRuns']]],
    ['a negative tolerance', { toleranceSeconds: -1 }, [[ProblemCode.DEF_001_INVALID_FIELD, 'toleranceSeconds']]],
    ['an unknown window field', { executionWindows: [{ start: '06:00', end: '22:00', weekdays: ['MON'] }] }, [[ProblemCode.DEF_001_INVALID_FIELD, 'executionWindows[0].weekdays']]],
  ])('refuses %s', async (_name, extra, expected) => {
    expect(await problemsOf(extra)).toEqual(expected);
  });

  it('messages say what is wrong and hints how to fix it', async () => {
    const { problems } = await planOf({ executionWindows: [{ start: '06:00', end: '06:00' }] });
    expect(problems.map((p) => [p.message, p.hint])).toEqual([
      ['window 06:00–06:00 ends when it starts: it would be either empty or the whole day', expect.stringContaining('"00:00", end "24:00"')],
    ]);
  });

  it('compiles the rules with their defaults left out, and none at all for a pipeline without', async () => {
    expect((await planOf({})).plan.pipelines[0]!.startRules).toBeUndefined();
    expect((await planOf({ outsideWindow: 'skip', concurrency: { whenRunning: 'allow' } })).plan.pipelines[0]!.startRules).toBeUndefined();
    const { plan, problems } = await planOf({
      executionWindows: [{ start: '22:00', end: '06:00', days: ['FRI', 'SAT'], timezone: 'europe/london' }, { start: '00:00', end: '24:00', days: ['SUN'] }],
      toleranceSeconds: 30,
      maxLatenessSeconds: 900,
      concurrency: { whenRunning: 'skip' },
    });
    expect(problems).toEqual([]);
    expect(plan.pipelines[0]!.startRules).toEqual({
      windows: [
        { start: '22:00', end: '06:00', days: ['FRI', 'SAT'], timezone: 'Europe/London' },
        { start: '00:00', end: '24:00', days: ['SUN'], timezone: 'UTC' },
      ],
      toleranceSeconds: 30,
      maxLatenessSeconds: 900,
      maxActiveRuns: 1,
    });
    expect((await planOf({ concurrency: { maxActiveRuns: 3 } })).plan.pipelines[0]!.startRules).toEqual({ maxActiveRuns: 3 });
  });

  it('reads a window without a timezone in the schedule’s; with schedules in several, the window must name its own', async () => {
    const scheduled = await planOf({ schedule: { cron: '0 19 * * 1-5', timezone: 'America/New_York' }, executionWindows: [{ start: '18:00', end: '23:00' }] });
    expect(scheduled.plan.pipelines[0]!.startRules?.windows).toEqual([{ start: '18:00', end: '23:00', timezone: 'America/New_York' }]);
    const rate = await planOf({ schedule: { rate: '1 hour' }, executionWindows: [{ start: '18:00', end: '23:00' }] });
    expect(rate.plan.pipelines[0]!.startRules?.windows?.[0]?.timezone).toBe('UTC');
    const several = { schedules: [{ id: 'london', cron: '0 6 * * *', timezone: 'Europe/London' }, { id: 'tokyo', cron: '0 6 * * *', timezone: 'Asia/Tokyo' }] };
    expect(await problemsOf({ ...several, executionWindows: [{ start: '06:00', end: '22:00' }] })).toEqual([[ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows[0].timezone']]);
    expect(await problemsOf({ ...several, executionWindows: [{ start: '06:00', end: '22:00', timezone: 'UTC' }] })).toEqual([]);
  });

  it('changes the definition version when a start rule changes', async () => {
    const a = (await planOf({ toleranceSeconds: 30 })).plan.pipelines[0]!.definitionVersion;
    const b = (await planOf({ toleranceSeconds: 31 })).plan.pipelines[0]!.definitionVersion;
    expect(a).not.toBe(b);
  });
});

describe('outsideWindow: defer (spec Rule 17’s other choice)', () => {
  const london = (start: string, end: string, days?: Weekday[]): DeployedWindow => ({ start, end, timezone: 'Europe/London', ...(days ? { days } : {}) });

  it('finds the next window start to the minute: later today, tomorrow, next week, across midnight, across a clock change', () => {
    expect(nextWindowStart([london('06:00', '22:00')], new Date('2026-05-04T22:30:00Z'))?.toISOString()).toBe('2026-05-05T05:00:00.000Z');
    expect(nextWindowStart([london('06:00', '22:00')], new Date('2026-05-04T04:59:30Z'))?.toISOString()).toBe('2026-05-04T05:00:00.000Z');
    expect(nextWindowStart([london('22:00', '02:00', ['FRI'])], new Date('2026-05-04T12:00:00Z'))?.toISOString()).toBe('2026-05-08T21:00:00.000Z');
    // The clocks go forward at 01:00 on 29 March 2026: a window from 06:00 opens at 05:00 UTC, not 06:00.
    expect(nextWindowStart([london('06:00', '07:00')], new Date('2026-03-28T07:00:00Z'))?.toISOString()).toBe('2026-03-29T05:00:00.000Z');
    expect(nextWindowStart([london('06:00', '07:00')], new Date('2026-05-04T05:30:00Z'))?.toISOString()).toBe('2026-05-04T05:30:00.000Z');
  });

  it('makes a start outside every window wait until the next one opens (the later rules not evaluated); inside, the same start goes on', () => {
    const rules: StartRules = { windows: [london('06:00', '22:00')], deferOutsideWindow: true, maxLatenessSeconds: 60 };
    const d = evaluateStart({ rules, trigger: 'SCHEDULE', scheduledTime: '2026-05-04T22:30:00Z', now: new Date('2026-05-04T22:30:00Z') });
    expect(d).toMatchObject({ decision: 'WAIT', waitUntil: '2026-05-05T05:00:00.000Z' });
    expect(d.waitingSince).toBeUndefined();
    expect(d.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.WAITING, CheckOutcome.NOT_EVALUATED, CheckOutcome.NOT_EVALUATED, CheckOutcome.NOT_EVALUATED]);
    // Evaluated again when it opens: lateness measured to the delivery, not to the deferred start.
    const later = evaluateStart({ rules, trigger: 'SCHEDULE', scheduledTime: '2026-05-04T22:30:00Z', now: new Date('2026-05-05T05:00:00Z'), deliveredAt: new Date('2026-05-04T22:30:00Z'), waitingSince: new Date('2026-05-05T05:00:00Z') });
    expect(later).toMatchObject({ decision: 'START', late: false });
    expect(evaluateStart({ rules, trigger: 'API', now: new Date('2026-05-04T22:30:00Z'), force: true }).decision).toBe('START');
  });

  it('is compiled as deferOutsideWindow, with the windows (and is nothing without windows)', () => {
    const compiled = (extra: Record<string, unknown>) => compileStartRules(PipelineSchema.parse({ id: 'orders', jobs: { a: { handler: './a.ts' } }, ...extra }));
    expect(compiled({ executionWindows: [{ start: '06:00', end: '22:00' }], outsideWindow: 'defer' })).toMatchObject({ problems: [], rules: { deferOutsideWindow: true, windows: [{ start: '06:00', end: '22:00' }] } });
    expect(compiled({ outsideWindow: 'defer' }).rules).toBeUndefined();
    expect(describeStartRules(compiled({ executionWindows: [{ start: '06:00', end: '22:00' }], outsideWindow: 'defer' }).rules)).toContain('(outside: deferred to the next window)');
  });
});

describe('the spec’s names for the start rules (Rules 3 and 17)', () => {
  const compiled = (extra: Record<string, unknown>) => compileStartRules(PipelineSchema.parse({ id: 'orders', jobs: { a: { handler: './a.ts' } }, ...extra }));

  it('take maxActiveRuns, skipIfRunning and queueIfRunning for concurrency, and skipOutsideWindow for outsideWindow', () => {
    expect(compiled({ skipIfRunning: true }).rules).toEqual({ maxActiveRuns: 1 });
    expect(compiled({ queueIfRunning: true, maxActiveRuns: 3 }).rules).toEqual({ maxActiveRuns: 3, queueIfRunning: true });
    expect(compiled({ maxActiveRuns: 2 }).rules).toEqual({ maxActiveRuns: 2 });
    expect(compiled({ skipIfRunning: false }).rules).toBeUndefined();
    expect(compiled({ executionWindows: [{ start: '06:00', end: '22:00' }], skipOutsideWindow: false }).rules).toMatchObject({ deferOutsideWindow: true });
    expect(compiled({ executionWindows: [{ start: '06:00', end: '22:00' }], skipOutsideWindow: true }).rules?.deferOutsideWindow).toBeUndefined();
  });

  it('refuse both forms at once, and skipping and queueing together', () => {
    expect(compiled({ skipIfRunning: true, concurrency: { maxActiveRuns: 2 } }).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.RULE_004_INVALID_CONCURRENCY, 'concurrency']]);
    expect(compiled({ skipIfRunning: true, queueIfRunning: true }).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.RULE_004_INVALID_CONCURRENCY, 'queueIfRunning']]);
    expect(compiled({ executionWindows: [{ start: '06:00', end: '22:00' }], skipOutsideWindow: true, outsideWindow: 'defer' }).problems.map((p) => [p.code, p.path])).toEqual([[ProblemCode.RULE_001_INVALID_WINDOW, 'skipOutsideWindow']]);
  });
});

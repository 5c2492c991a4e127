/**
 * `phi backfill`: the fire times it enumerates (across daylight-saving changes in both hemispheres,
 * within start and end dates, `[from, to)`, at most 1,000), which schedule it takes, and how it starts
 * them: oldest first, never more than N active, resuming without starting anything twice. The client is
 * a fake deployment whose runs end after a few polls.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PhiClient } from '../../lib/client/client.ts';
import { ApiError } from '../../lib/client/errors.ts';
import { backfillSucceeded, BackfillUsageCode, formatBackfillSummary, planBackfill, progressReporter, runBackfill, type BackfillClient, type BackfillEvent, type BackfillPlan } from '../../lib/cli/backfill.ts';
import { ExitCode, main } from '../../lib/cli/main.ts';
import { RunStatus, TERMINAL_RUN_STATUSES, type RunRecord, type StartRunRequest } from '../../lib/model/contract/index.ts';
import { NamedScheduleSchema, type NamedScheduleInput } from '../../lib/model/pipeline.ts';
import { BackfillRefusal, backfillTimes, MAX_BACKFILL_RUNS } from '../../lib/plan/schedule/backfill.ts';

const schedule = (input: Omit<NamedScheduleInput, 'id'> & { id?: string }) => NamedScheduleSchema.parse({ id: 'default', ...input });
const times = (input: Omit<NamedScheduleInput, 'id'>, from: string, to: string): readonly string[] => {
  const listed = backfillTimes(schedule(input), new Date(from), new Date(to));
  if (!listed.ok) throw new Error(listed.message);
  return listed.times;
};

describe('backfill enumeration: a schedule’s fire times in [from, to)', () => {
  it('skips a local time the clocks skip and fires a repeated one once (America/New_York, March and November 2026)', () => {
    expect(times({ cron: '30 2 * * *', timezone: 'America/New_York' }, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual(['2026-03-07T02:30:00-05:00', '2026-03-09T02:30:00-04:00']);
    expect(times({ cron: '30 1 * * *', timezone: 'America/New_York' }, '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z')).toEqual(['2026-10-31T01:30:00-04:00', '2026-11-01T01:30:00-04:00', '2026-11-02T01:30:00-05:00']);
  });

  it('lists a range longer than the five years a cron’s fire times are looked for at a time, without a gap or a repeat', () => {
    const years = Array.from({ length: 17 }, (_, i) => `${2010 + i}-01-01T00:00:00Z`);
    expect(times({ cron: '0 0 1 1 *' }, '2010-01-01T00:00:00Z', '2026-06-01T00:00:00Z')).toEqual(years);
    expect(times({ cron: '0 12 29 2 *' }, '2001-01-01T00:00:00Z', '2026-01-01T00:00:00Z')).toEqual(['2004', '2008', '2012', '2016', '2020', '2024'].map((y) => `${y}-02-29T12:00:00Z`));
  });

  it('does the same in Europe/London and, in the southern hemisphere, Australia/Sydney', () => {
    expect(times({ cron: '30 1 * * *', timezone: 'Europe/London' }, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual(['2026-03-28T01:30:00Z', '2026-03-30T01:30:00+01:00']);
    expect(times({ cron: '30 1 * * *', timezone: 'Europe/London' }, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual(['2026-10-24T01:30:00+01:00', '2026-10-25T01:30:00+01:00', '2026-10-26T01:30:00Z']);
    // Sydney springs forward on 4 October 2026 (02:00 → 03:00) and falls back on 5 April 2026 (03:00 → 02:00).
    expect(times({ cron: '30 2 * * *', timezone: 'Australia/Sydney' }, '2026-10-02T00:00:00Z', '2026-10-05T00:00:00Z')).toEqual(['2026-10-03T02:30:00+10:00', '2026-10-05T02:30:00+11:00']);
    expect(times({ cron: '30 2 * * *', timezone: 'Australia/Sydney' }, '2026-04-03T00:00:00Z', '2026-04-06T00:00:00Z')).toEqual(['2026-04-04T02:30:00+11:00', '2026-04-05T02:30:00+11:00', '2026-04-06T02:30:00+10:00']);
  });

  it('includes from and excludes to, oldest first', () => {
    expect(times({ cron: '0 * * * *' }, '2026-01-01T10:00:00Z', '2026-01-01T13:00:00Z')).toEqual(['2026-01-01T10:00:00Z', '2026-01-01T11:00:00Z', '2026-01-01T12:00:00Z']);
  });

  it('keeps within the schedule’s start and end dates; a disabled schedule never fired', () => {
    expect(times({ cron: '0 0 * * *', endDate: '2026-01-03T00:00:00Z' }, '2026-01-01T00:00:00Z', '2026-01-10T00:00:00Z')).toHaveLength(3);
    expect(times({ cron: '0 0 * * *', startDate: '2026-01-05T00:00:00Z' }, '2026-01-01T00:00:00Z', '2026-01-10T00:00:00Z')).toEqual(['2026-01-05T00:00:00Z', '2026-01-06T00:00:00Z', '2026-01-07T00:00:00Z', '2026-01-08T00:00:00Z', '2026-01-09T00:00:00Z']);
    expect(times({ cron: '0 0 * * *', enabled: false }, '2026-01-01T00:00:00Z', '2026-01-10T00:00:00Z')).toEqual([]);
  });

  it('counts a rate from its start date, and refuses a rate without one (its past fire times are unknown)', () => {
    expect(times({ rate: '6 hours', startDate: '2026-01-01T00:00:00Z' }, '2026-01-02T03:00:00Z', '2026-01-03T00:00:00Z')).toEqual(['2026-01-02T06:00:00Z', '2026-01-02T12:00:00Z', '2026-01-02T18:00:00Z']);
    expect(backfillTimes(schedule({ rate: '6 hours' }), new Date('2026-01-01'), new Date('2026-01-02'))).toMatchObject({ ok: false, code: BackfillRefusal.RATE_WITHOUT_START });
  });

  it(`starts at most ${MAX_BACKFILL_RUNS} runs: a range with one more is refused, an empty range too`, () => {
    expect(times({ cron: '* * * * *' }, '2026-01-01T00:00:00Z', '2026-01-01T16:40:00Z')).toHaveLength(MAX_BACKFILL_RUNS);
    expect(backfillTimes(schedule({ cron: '* * * * *' }), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T16:41:00Z'))).toMatchObject({ ok: false, code: BackfillRefusal.TOO_MANY });
    expect(backfillTimes(schedule({ cron: '* * * * *' }), new Date('2026-01-02'), new Date('2026-01-01'))).toMatchObject({ ok: false, code: BackfillRefusal.EMPTY_RANGE });
  });
});

describe('which schedule a backfill takes', () => {
  const pipeline = {
    id: 'reports',
    schedules: [schedule({ id: 'daily', cron: '0 6 * * *', parameters: { mode: 'daily' } }), schedule({ id: 'weekly', cron: '0 7 * * 1', timezone: 'Europe/London' })],
  };
  const from = new Date('2026-01-01T00:00:00Z');
  const to = new Date('2026-01-08T00:00:00Z');

  it('takes the one named, with its parameters, its times in UTC as Scheduler writes them', () => {
    expect(planBackfill(pipeline, 'daily', from, to)).toMatchObject({ pipelineId: 'reports', scheduleId: 'daily', parameters: { mode: 'daily' }, timezone: 'UTC' });
    expect(planBackfill(pipeline, 'daily', from, to).times).toHaveLength(7);
    expect(planBackfill(pipeline, 'weekly', from, to)).toEqual({ pipelineId: 'reports', scheduleId: 'weekly', timezone: 'Europe/London', times: ['2026-01-05T07:00:00Z'] });
    expect(planBackfill({ id: 'one', schedule: { cron: '0 19 * * 1-5', timezone: 'America/New_York' } }, undefined, from, to).times).toEqual(['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z', '2026-01-06T00:00:00Z', '2026-01-07T00:00:00Z']);
  });

  it.each([
    [undefined, 'has 2 schedules: say which with --schedule (daily, weekly)'],
    ['hourly', 'has no schedule "hourly"; its schedules: daily, weekly'],
  ])('refuses --schedule %s with CLI_011_BACKFILL_NO_SCHEDULE', (id, message) => {
    expect(() => planBackfill(pipeline, id, from, to)).toThrow(message);
    expect(() => planBackfill({ id: 'none' }, undefined, from, to)).toThrow('has no schedule: there are no scheduled times to backfill');
  });
});

/**
 * A deployment in memory: a start of a scheduled time makes (or answers) the one run of that identity;
 * a run stays RUNNING for `pollsToEnd` polls of it, then ends with `endAs(time)`.
 */
class FakeDeployment implements BackfillClient {
  readonly runs = new Map<string, RunRecord & { polls: number }>();
  readonly starts: string[] = [];
  /** The most runs ever active at once. */
  maxActive = 0;
  /** Starts left before the "process" is killed (throws), for interruption tests. */
  killAfter = Number.POSITIVE_INFINITY;
  /** Coming starts answered 429 before they are taken. */
  throttle = 0;

  constructor(
    readonly pollsToEnd = 2,
    readonly endAs: (scheduledTime: string) => RunStatus = () => RunStatus.SUCCEEDED,
  ) {}

  private active(): number {
    return [...this.runs.values()].filter((r) => !TERMINAL_RUN_STATUSES.includes(r.status)).length;
  }

  async startRun(pipelineId: string, request: Omit<StartRunRequest, 'dryRun'>): Promise<{ created: boolean; run: RunRecord }> {
    if (this.throttle > 0) {
      this.throttle--;
      throw new ApiError(429, 'CLI_004_HTTP_ERROR', 'Too Many Requests', 'Too Many Requests');
    }
    if (this.killAfter-- <= 0) throw new Error('killed');
    const scheduledTime = request.scheduledTime!;
    const runId = `${pipelineId}_s-${scheduledTime.replace(/[-:]/g, '')}-${request.scheduleId}`;
    this.starts.push(scheduledTime);
    const existing = this.runs.get(runId);
    if (existing) return { created: false, run: existing };
    const run = { runId, pipelineId, status: RunStatus.RUNNING, trigger: 'BACKFILL' as const, scheduledTime, scheduleId: request.scheduleId ?? 'default', parameters: request.parameters ?? {}, queuedAt: scheduledTime, transitions: [], polls: 0 };
    this.runs.set(runId, run);
    this.maxActive = Math.max(this.maxActive, this.active());
    return { created: true, run };
  }

  async getRun(runId: string): Promise<{ run: RunRecord }> {
    const run = this.runs.get(runId)!;
    if (!TERMINAL_RUN_STATUSES.includes(run.status) && ++run.polls >= this.pollsToEnd) run.status = this.endAs(run.scheduledTime!);
    return { run };
  }
}

const PLAN: BackfillPlan = {
  pipelineId: 'market-data',
  scheduleId: 'default',
  timezone: 'UTC',
  times: Array.from({ length: 10 }, (_, i) => `2026-01-${String(i + 1).padStart(2, '0')}T19:00:00Z`),
  parameters: { lookbackDays: 1 },
};
const noWait = { initialMs: 1, maxMs: 8, factor: 2 };

describe('runBackfill: at most N active, oldest first, resumable', () => {
  it('never has more than --max-concurrent runs active, starts them oldest first, and waits for all', async () => {
    const deployment = new FakeDeployment(3);
    const slept: number[] = [];
    const events: BackfillEvent[] = [];
    const summary = await runBackfill(deployment, { plan: PLAN, maxConcurrent: 3, poll: noWait, sleep: async (ms) => void slept.push(ms), onEvent: (e) => events.push(e) });
    expect(deployment.maxActive).toBe(3);
    expect(deployment.starts).toEqual(PLAN.times);
    expect(summary).toMatchObject({ total: 10, created: 10, existing: 0, statuses: { SUCCEEDED: 10 } });
    expect(summary.runs.map((r) => r.scheduledTime)).toEqual(PLAN.times);
    expect(backfillSucceeded(summary)).toBe(true);
    expect(events.filter((e) => e.kind === 'started').every((e) => e.active <= 3)).toBe(true);
    // Backs off while none ends (1, 2, 4 …, at most 8), and starts over once one has.
    expect(Math.max(...slept)).toBeLessThanOrEqual(8);
    expect(slept.slice(0, 3)).toEqual([1, 2, 4]);
    // Each start carries the schedule's time, id and parameters.
    expect([...deployment.runs.values()][0]).toMatchObject({ scheduleId: 'default', parameters: { lookbackDays: 1 } });
  });

  it('with --max-concurrent 1 runs them one after another', async () => {
    const deployment = new FakeDeployment(1);
    await runBackfill(deployment, { plan: PLAN, maxConcurrent: 1, poll: noWait, sleep: async () => {} });
    expect(deployment.maxActive).toBe(1);
  });

  it('run again after it completed, starts nothing new: every time answers its ended run', async () => {
    const deployment = new FakeDeployment(2);
    await runBackfill(deployment, { plan: PLAN, maxConcurrent: 4, poll: noWait, sleep: async () => {} });
    const again = await runBackfill(deployment, { plan: PLAN, maxConcurrent: 4, poll: noWait, sleep: async () => {} });
    expect(again).toMatchObject({ total: 10, created: 0, existing: 10, statuses: { SUCCEEDED: 10 } });
    expect(deployment.runs.size).toBe(10);
  });

  it('interrupted after some starts and run again, waits for the runs still active (counting them), starts the rest once', async () => {
    const deployment = new FakeDeployment(4);
    deployment.killAfter = 5;
    await expect(runBackfill(deployment, { plan: PLAN, maxConcurrent: 3, poll: noWait, sleep: async () => {} })).rejects.toThrow('killed');
    const before = deployment.runs.size;
    expect(before).toBe(5);
    expect([...deployment.runs.values()].some((r) => r.status === RunStatus.RUNNING)).toBe(true);
    deployment.killAfter = Number.POSITIVE_INFINITY;
    const resumed = await runBackfill(deployment, { plan: PLAN, maxConcurrent: 3, poll: noWait, sleep: async () => {} });
    expect(resumed).toMatchObject({ total: 10, created: 5, existing: 5 });
    expect(deployment.runs.size).toBe(10);
    expect(deployment.maxActive).toBeLessThanOrEqual(3);
    expect(new Set(resumed.runs.map((r) => r.runId)).size).toBe(10);
  });

  it('reports runs that did not succeed, and tries a throttled start again', async () => {
    const deployment = new FakeDeployment(1, (t) => (t.startsWith('2026-01-02') ? RunStatus.FAILED : RunStatus.SUCCEEDED));
    deployment.throttle = 2;
    const summary = await runBackfill(deployment, { plan: PLAN, maxConcurrent: 2, poll: noWait, sleep: async () => {} });
    expect(summary.statuses).toEqual({ SUCCEEDED: 9, FAILED: 1 });
    expect(backfillSucceeded(summary)).toBe(false);
    expect(deployment.runs.size).toBe(10);
  });
});

describe('backfill progress and summary', () => {
  it('prints a line per start and per end when not on a terminal, and a summary naming the runs that did not succeed', async () => {
    const lines: string[] = [];
    const progress = await progressReporter(2, 'lines', (t) => lines.push(t), 'backfill market-data/default');
    const deployment = new FakeDeployment(1, (t) => (t === PLAN.times[1] ? RunStatus.FAILED : RunStatus.SUCCEEDED));
    const summary = await runBackfill(deployment, { plan: { ...PLAN, times: PLAN.times.slice(0, 2) }, maxConcurrent: 2, poll: noWait, sleep: async () => {}, onEvent: progress.onEvent });
    progress.stop();
    expect(lines).toEqual([
      'started   2026-01-01T19:00:00Z  market-data_s-20260101T190000Z-default  active 1',
      'started   2026-01-02T19:00:00Z  market-data_s-20260102T190000Z-default  active 2',
      'SUCCEEDED 2026-01-01T19:00:00Z  market-data_s-20260101T190000Z-default  1/2',
      'FAILED    2026-01-02T19:00:00Z  market-data_s-20260102T190000Z-default  2/2',
    ]);
    expect(formatBackfillSummary(summary).split('\n')).toEqual(['market-data/default: 2 run(s), 2 started, 0 existed; SUCCEEDED 1, FAILED 1', '  2026-01-02T19:00:00Z  FAILED     market-data_s-20260102T190000Z-default']);
  });

  it('drives a cli-progress bar on a terminal', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const progress = await progressReporter(1, 'bar', () => {}, 'backfill x/default');
    progress.onEvent({ kind: 'ended', run: { scheduledTime: PLAN.times[0]!, runId: 'x_s-1', status: RunStatus.SUCCEEDED, created: true }, active: 0, done: 1, total: 1 });
    progress.stop();
    write.mockRestore();
  });
});

async function phi(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (t) => out.push(t), (t) => err.push(t));
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('phi backfill', () => {
  afterEach(() => vi.restoreAllMocks());

  it('backfills the shipped market-data schedule (weekdays 19:00 New York) and prints a JSON summary', async () => {
    // Runs that have ended by the time they are answered: no polling needed.
    const deployment = new FakeDeployment(0);
    vi.spyOn(deployment, 'startRun').mockImplementation(async (pipelineId, request) => {
      const run: RunRecord = { runId: `${pipelineId}_s-${request.scheduledTime}`, pipelineId, status: RunStatus.SUCCEEDED, trigger: 'BACKFILL', scheduledTime: request.scheduledTime!, scheduleId: request.scheduleId!, parameters: {}, queuedAt: request.scheduledTime!, transitions: [] };
      return { created: true, run };
    });
    const connect = vi.spyOn(PhiClient, 'connect').mockResolvedValue(deployment as unknown as PhiClient);
    // 6–13 March 2026 spans New York's change to daylight saving time (8 March): 19:00 is 00:00Z, then 23:00Z.
    const res = await phi('backfill', 'market-data', '--from', '2026-03-06', '--to', '2026-03-13', '--max-concurrent', '3', '--definitions', 'definitions', '--json');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(ExitCode.OK);
    expect(connect).toHaveBeenCalledOnce();
    const summary = JSON.parse(res.stdout);
    expect(summary).toMatchObject({ pipelineId: 'market-data', scheduleId: 'default', total: 6, created: 6, statuses: { SUCCEEDED: 6 } });
    // Thursday 5 March 19:00 EST is 6 March 00:00Z: inside the range.
    expect(summary.runs.map((r: { scheduledTime: string }) => r.scheduledTime)).toEqual(['2026-03-06T00:00:00Z', '2026-03-07T00:00:00Z', '2026-03-09T23:00:00Z', '2026-03-10T23:00:00Z', '2026-03-11T23:00:00Z', '2026-03-12T23:00:00Z']);
  });

  it.each([
    [['backfill', 'market-data', '--to', '2026-03-13'], BackfillUsageCode.INVALID_OPTION],
    [['backfill', 'market-data', '--from', '2026-03-06', '--to', 'soon'], BackfillUsageCode.INVALID_OPTION],
    [['backfill', 'market-data', '--from', '2026-03-06', '--to', '2026-03-13', '--max-concurrent', '0'], BackfillUsageCode.INVALID_OPTION],
    [['backfill', 'market-data', '--from', '2020-01-01', '--to', '2026-01-01'], BackfillUsageCode.RANGE_REFUSED],
    [['backfill', 'market-data', '--from', '2026-03-06', '--to', '2026-03-13', '--schedule', 'weekly'], BackfillUsageCode.NO_SCHEDULE],
    [['backfill', 'failure-drill', '--from', '2026-03-06', '--to', '2026-03-13'], BackfillUsageCode.NO_SCHEDULE],
    [['backfill', 'nope', '--from', '2026-03-06', '--to', '2026-03-13'], BackfillUsageCode.NO_SCHEDULE],
  ])('exits 2 with a coded usage error for %j, reaching no deployment', async (argv, code) => {
    const connect = vi.spyOn(PhiClient, 'connect');
    const res = await phi(...argv, '--definitions', 'definitions', '--json');
    expect(res.code).toBe(ExitCode.USAGE);
    expect(JSON.parse(res.stderr).error.code).toBe(code);
    expect(connect).not.toHaveBeenCalled();
  });
});

describe('a long backfill range, window after window', () => {
  it('lists every fire time of a weekly cron over 24 years, refusing past the limit rather than cutting it short', async () => {
    const { backfillTimes: listed } = await import('../../lib/plan/schedule/backfill.ts');
    const weekly = schedule({ cron: '0 12 * * 1' });
    expect(listed(weekly, new Date('2002-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'))).toMatchObject({ ok: false, code: BackfillRefusal.TOO_MANY });
    const r = listed(weekly, new Date('2010-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'), 2000);
    if (!r.ok) throw new Error(r.message);
    expect(r.times).toHaveLength(835);
    expect(new Set(r.times).size).toBe(835);
    expect(r.times.at(-1)).toBe('2025-12-29T12:00:00Z');
    expect(r.times.every((t, i) => i === 0 || Date.parse(t) - Date.parse(r.times[i - 1]!) === 7 * 86_400_000)).toBe(true);
  });
});

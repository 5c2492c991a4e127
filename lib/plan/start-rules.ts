/**
 * A definition's start rules (execution windows, tolerance and lateness, concurrency) → the rules the
 * deployment applies (`StartRules`, defaults left out), or the problems that stop them: each with its
 * code, field path, message and hint. Pure.
 */
import { MAX_ACTIVE_RUNS_LIMIT, WEEKDAYS, WINDOW_END_PATTERN, WINDOW_START_PATTERN, type DeployedWindow, type StartRules, type Weekday } from '../model/contract/start.ts';
import type { Pipeline } from '../model/pipeline.ts';
import { ProblemCode } from '../model/problems.ts';
import { minutesOf } from '../model/start-rules.ts';
import { canonicalTimezone, isValidTimezone } from './schedule/timezone.ts';
import { declaredSchedules } from './schedule/index.ts';

/** How many missed scheduled times catch-up starts at most, per schedule, when `maxRuns` is not given (spec Rule 4's `max_catchup_runs`). */
export const DEFAULT_CATCHUP_RUNS = 10;

export interface StartRuleProblem {
  readonly code: ProblemCode;
  readonly path: string;
  readonly message: string;
  readonly hint: string;
}

/**
 * The timezone a window without its own is read in: the one the pipeline's schedules share (a rate
 * schedule has none), else UTC; `undefined` when its schedules have several (the window must say).
 */
export function defaultWindowTimezone(pipeline: Pick<Pipeline, 'schedule' | 'schedules'>): { timezone?: string; candidates: string[] } {
  const zones = new Set<string>();
  for (const s of [...(pipeline.schedule ? [pipeline.schedule] : []), ...(pipeline.schedules ?? [])]) {
    if (s.rate !== undefined) continue;
    const tz = s.timezone ?? 'UTC';
    if (isValidTimezone(tz)) zones.add(canonicalTimezone(tz));
  }
  const candidates = [...zones].sort();
  if (candidates.length > 1) return { candidates };
  return { timezone: candidates[0] ?? 'UTC', candidates };
}

type Problem = (code: ProblemCode, path: string, message: string, hint: string) => void;

/** `concurrency`, or the spec's forms of it (`maxActiveRuns`, `skipIfRunning`, `queueIfRunning`), never both. */
function concurrencyOf(pipeline: Pipeline, problem: Problem): Pipeline['concurrency'] {
  const spec = pipeline.maxActiveRuns !== undefined || pipeline.skipIfRunning !== undefined || pipeline.queueIfRunning !== undefined;
  if (!spec) return pipeline.concurrency;
  if (pipeline.concurrency !== undefined) {
    problem(ProblemCode.RULE_004_INVALID_CONCURRENCY, 'concurrency', 'the pipeline says how many runs may be active both as concurrency and as maxActiveRuns/skipIfRunning/queueIfRunning', 'keep one of the two forms');
    return pipeline.concurrency;
  }
  if (pipeline.skipIfRunning === true && pipeline.queueIfRunning === true) {
    problem(ProblemCode.RULE_004_INVALID_CONCURRENCY, 'queueIfRunning', 'skipIfRunning and queueIfRunning are both true: a run beyond the limit is either skipped or queued', 'keep one of them');
  }
  const whenRunning = pipeline.queueIfRunning === true ? 'queue' : pipeline.skipIfRunning === true ? 'skip' : pipeline.maxActiveRuns !== undefined ? 'skip' : 'allow';
  return { ...(pipeline.maxActiveRuns !== undefined ? { maxActiveRuns: pipeline.maxActiveRuns } : {}), whenRunning };
}

/** `outsideWindow`, or the spec's form of it (`skipOutsideWindow`), never both. */
function outsideWindowOf(pipeline: Pipeline, problem: Problem): 'skip' | 'defer' {
  if (pipeline.skipOutsideWindow === undefined) return pipeline.outsideWindow ?? 'skip';
  if (pipeline.outsideWindow !== undefined) problem(ProblemCode.RULE_001_INVALID_WINDOW, 'skipOutsideWindow', 'the pipeline says what a start outside its windows does both as outsideWindow and as skipOutsideWindow', 'keep one of the two');
  return pipeline.skipOutsideWindow ? 'skip' : 'defer';
}

export function compileStartRules(pipeline: Pipeline): { rules?: StartRules; problems: StartRuleProblem[] } {
  const problems: StartRuleProblem[] = [];
  const problem = (code: ProblemCode, path: string, message: string, hint: string): void => void problems.push({ code, path, message, hint });
  const windows: DeployedWindow[] = [];

  if (pipeline.executionWindows !== undefined) {
    if (pipeline.executionWindows.length === 0) {
      problem(ProblemCode.RULE_001_INVALID_WINDOW, 'executionWindows', 'executionWindows is empty: no run could ever start', 'give at least one window, e.g. { start: "06:00", end: "22:00" }, or leave executionWindows out (runs start at any time)');
    }
    const fallback = defaultWindowTimezone(pipeline);
    pipeline.executionWindows.forEach((w, i) => {
      const at = `executionWindows[${i}]`;
      let ok = true;
      const bad = (field: string, message: string, hint: string, code: ProblemCode = ProblemCode.RULE_001_INVALID_WINDOW): void => {
        ok = false;
        problem(code, `${at}.${field}`, message, hint);
      };
      if (!WINDOW_START_PATTERN.test(w.start)) bad('start', `window start "${w.start}" is not a time of day HH:MM (00:00 to 23:59)`, 'write two-digit hours and minutes, e.g. "06:00" or "21:30"');
      if (!WINDOW_END_PATTERN.test(w.end)) bad('end', `window end "${w.end}" is not a time of day HH:MM (00:00 to 24:00)`, 'write two-digit hours and minutes, e.g. "22:00"; "24:00" is the end of the day');
      if (ok && minutesOf(w.start) === minutesOf(w.end)) {
        bad('end', `window ${w.start}–${w.end} ends when it starts: it would be either empty or the whole day`, 'for the whole day write start "00:00", end "24:00" (or leave the window out)');
      }
      if (w.days !== undefined) {
        if (w.days.length === 0) bad('days', 'the window has an empty list of days: it would never open', `list days (${WEEKDAYS.join(', ')}), or leave days out for every day`);
        const seen = new Set<string>();
        w.days.forEach((d, j) => {
          if (!(WEEKDAYS as readonly string[]).includes(d)) bad(`days[${j}]`, `"${String(d)}" is not a day`, `days are ${WEEKDAYS.join(', ')} (upper case, three letters)`);
          else if (seen.has(d)) bad(`days[${j}]`, `${d} is listed twice`, 'list each day once');
          seen.add(d);
        });
      }
      let timezone = w.timezone;
      if (timezone !== undefined) {
        if (!isValidTimezone(timezone)) bad('timezone', `"${timezone}" is not an IANA timezone`, 'use a name such as "Europe/London", "America/New_York" or "UTC"', ProblemCode.SCHED_002_INVALID_TIMEZONE);
        else timezone = canonicalTimezone(timezone);
      } else if (fallback.timezone === undefined) {
        bad('timezone', `the window names no timezone, and the pipeline's schedules have several (${fallback.candidates.join(', ')})`, 'give the window its timezone');
      } else {
        timezone = fallback.timezone;
      }
      if (ok && timezone !== undefined) windows.push({ start: w.start, end: w.end, ...(w.days !== undefined ? { days: w.days as Weekday[] } : {}), timezone });
    });
  }
  if (pipeline.maxLatenessSeconds !== undefined && pipeline.toleranceSeconds !== undefined && pipeline.maxLatenessSeconds < pipeline.toleranceSeconds) {
    problem(ProblemCode.RULE_003_INVALID_LATENESS, 'maxLatenessSeconds', `maxLatenessSeconds (${pipeline.maxLatenessSeconds}) is below toleranceSeconds (${pipeline.toleranceSeconds}): a delivery would be skipped before it even counted as late`, 'raise maxLatenessSeconds to at least toleranceSeconds');
  }
  let maxActiveRuns: number | undefined;
  const concurrency = concurrencyOf(pipeline, problem);
  if (concurrency !== undefined) {
    if (concurrency.whenRunning === 'allow' && concurrency.maxActiveRuns !== undefined) {
      problem(ProblemCode.RULE_004_INVALID_CONCURRENCY, 'concurrency', `concurrency says maxActiveRuns ${concurrency.maxActiveRuns} and whenRunning "allow" (no limit)`, 'leave out whenRunning (a run beyond maxActiveRuns is skipped), or leave out maxActiveRuns');
    } else if (concurrency.whenRunning === 'skip' || concurrency.whenRunning === 'queue' || concurrency.maxActiveRuns !== undefined) {
      maxActiveRuns = Math.min(concurrency.maxActiveRuns ?? 1, MAX_ACTIVE_RUNS_LIMIT);
    }
  }
  // Catch-up (Rule 4): every enabled schedule's missed times, as Scheduler has the schedule.
  let catchup: StartRules['catchup'];
  if (pipeline.catchup !== undefined && pipeline.catchup.enabled !== false && (pipeline.catchup.maxRuns ?? DEFAULT_CATCHUP_RUNS) > 0) {
    const schedules = declaredSchedules(pipeline).filter(({ schedule }) => schedule.enabled !== false);
    if (schedules.length === 0) problem(ProblemCode.RULE_005_INVALID_CATCHUP, 'catchup', 'catchup is on, but the pipeline has no enabled schedule: it has no scheduled times to miss', 'give it a schedule, or leave catchup out');
    for (const { path, schedule } of schedules) {
      if (schedule.rate !== undefined && schedule.startDate === undefined) problem(ProblemCode.RULE_005_INVALID_CATCHUP, `${path}.startDate`, `catchup is on, but schedule "${schedule.id}" is a rate without a startDate: its past fire times are unknown`, 'give the rate schedule a startDate, or use a cron');
    }
    catchup = {
      maxRuns: pipeline.catchup.maxRuns ?? DEFAULT_CATCHUP_RUNS,
      schedules: schedules.map(({ schedule }) => {
        const { enabled: _enabled, ...deployed } = schedule;
        return deployed;
      }),
    };
  }
  if (problems.length > 0) return { problems };
  const rules: StartRules = {
    ...(catchup !== undefined ? { catchup } : {}),
    ...(windows.length > 0 ? { windows } : {}),
    ...(windows.length > 0 && outsideWindowOf(pipeline, problem) === 'defer' ? { deferOutsideWindow: true as const } : {}),
    ...(pipeline.toleranceSeconds !== undefined ? { toleranceSeconds: pipeline.toleranceSeconds } : {}),
    ...(pipeline.maxLatenessSeconds !== undefined ? { maxLatenessSeconds: pipeline.maxLatenessSeconds } : {}),
    ...(maxActiveRuns !== undefined ? { maxActiveRuns } : {}),
    ...(maxActiveRuns !== undefined && concurrency?.whenRunning === 'queue' ? { queueIfRunning: true as const } : {}),
  };
  return Object.keys(rules).length > 0 ? { rules, problems } : { problems };
}

/** `06:00–22:00 MON,TUE [Europe/London]; tolerance 60 s; …`: the rules in one line for `phi plan`. */
export function describeStartRules(rules: StartRules | undefined): string {
  if (rules === undefined) return 'any time; tolerance 60 s; no limit on active runs';
  const parts = [
    rules.windows ? `windows ${rules.windows.map((w) => `${w.start}–${w.end}${w.days ? ` ${w.days.join(',')}` : ''} [${w.timezone}]`).join('; ')} (outside: ${rules.deferOutsideWindow ? 'deferred to the next window' : 'skip'})` : 'any time',
    `tolerance ${rules.toleranceSeconds ?? 60} s${rules.maxLatenessSeconds !== undefined ? `, too late after ${rules.maxLatenessSeconds} s` : ''}`,
    rules.maxActiveRuns !== undefined ? `at most ${rules.maxActiveRuns} active run(s), more ${rules.queueIfRunning ? 'queued' : 'skipped'}` : 'no limit on active runs',
    ...(rules.catchup !== undefined ? [`catch-up: the last ${rules.catchup.maxRuns} missed time(s) per schedule`] : []),
  ];
  return parts.join('; ');
}

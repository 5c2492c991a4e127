/**
 * Schedules: Unix cron, rate and one-off times, translated exactly into EventBridge Scheduler
 * expressions, or refused with a problem. Never approximated: a schedule AWS cannot express is
 * `SCHED_003_UNSUPPORTED`. One file a concern: `cron.ts` (parsing and translation), `rate-at.ts`,
 * `fire-times.ts` (the next fire times, as Scheduler fires them across DST), `timezone.ts`.
 */
import { DEFAULT_SCHEDULE_ID, type NamedSchedule, type Pipeline, type Schedule } from '../../model/pipeline.ts';
import { ProblemCode } from '../../model/problems.ts';
import { translateCron } from './cron.ts';
import { translateAt, translateRate } from './rate-at.ts';
import { canonicalTimezone, isValidTimezone, offsetChanges } from './timezone.ts';
import { NEXT_COUNT, type CompiledSchedule, type ScheduleProblem, type ScheduleResult } from './types.ts';

export type { CompiledSchedule, CronSelection, DstChange, ScheduleProblem, ScheduleResult, ScheduleState } from './types.ts';
export { MAX_NEXT_COUNT, NEXT_COUNT } from './types.ts';
export { translateCron } from './cron.ts';
export { nextCronTimes } from './fire-times.ts';
export * from './timezone.ts';

const DEFAULT_TIMEZONE = 'UTC';

/** EventBridge Scheduler's longest schedule expression. */
export const MAX_EXPRESSION_LENGTH = 256;

/** A pipeline's schedules as declared: `schedules`, or the one-schedule form as id `default`, each with the path it was written at. */
export function declaredSchedules(pipeline: Pick<Pipeline, 'schedule' | 'schedules'>): { readonly path: string; readonly schedule: NamedSchedule }[] {
  return [
    ...(pipeline.schedule !== undefined ? [{ path: 'schedule', schedule: { id: DEFAULT_SCHEDULE_ID, ...pipeline.schedule } }] : []),
    ...(pipeline.schedules ?? []).map((schedule, i) => ({ path: `schedules[${i}]`, schedule })),
  ];
}

/** `2027-01-03T23:00:00Z`: an instant in UTC to the second, as Scheduler takes its dates (it fires on whole minutes). */
const utcInstant = (instant: Date): string => instant.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Which fire times the plan lists: after `from` (default: the plan's `now`), `count` of them (default 5). */
export interface FireTimeWindow {
  readonly from?: Date;
  readonly count?: number;
}

/**
 * One schedule → its Scheduler expression, state and dates, and its next fire times, or every problem
 * that refuses it. `now` decides what has already passed (a start date, an end date); `window.from`
 * where the listed fire times begin.
 */
export function compileSchedule(schedule: Schedule & { readonly id?: string }, now: Date, window: FireTimeWindow = {}): ScheduleResult {
  const timezone = schedule.timezone ?? DEFAULT_TIMEZONE;
  const problems: ScheduleProblem[] = [];
  if (!isValidTimezone(timezone)) {
    problems.push({
      code: ProblemCode.SCHED_002_INVALID_TIMEZONE,
      field: 'timezone',
      message: `"${timezone}" is not an IANA timezone name`,
      hint: 'use a name from the IANA tz database, e.g. "America/New_York", "Europe/London" or "UTC"',
    });
  }
  const translated = schedule.cron !== undefined ? translateCron(schedule.cron) : schedule.rate !== undefined ? translateRate(schedule.rate) : translateAt(schedule.at ?? '');
  if ('code' in translated) problems.push(translated);
  else if (translated.expression.length > MAX_EXPRESSION_LENGTH) {
    problems.push({
      code: ProblemCode.SCHED_003_UNSUPPORTED,
      field: schedule.cron !== undefined ? 'cron' : schedule.rate !== undefined ? 'rate' : 'at',
      message: `the schedule becomes ${translated.expression.length} characters of EventBridge Scheduler expression (${translated.expression.slice(0, 60)}…); Scheduler takes at most ${MAX_EXPRESSION_LENGTH}`,
      hint: 'write ranges and steps instead of lists (0-59/1 is *), or split the schedule into several',
    });
  }
  const start = schedule.startDate === undefined ? undefined : new Date(schedule.startDate);
  const end = schedule.endDate === undefined ? undefined : new Date(schedule.endDate);
  const notInstant = (['startDate', 'endDate'] as const).find((field) => Number.isNaN((field === 'startDate' ? start : end)?.getTime() ?? 0));
  if (notInstant !== undefined) {
    problems.push({
      code: ProblemCode.SCHED_005_INVALID_DATES,
      field: notInstant,
      message: `the ${notInstant} "${String(schedule[notInstant])}" is not an instant`,
      hint: 'write an ISO 8601 date and time with Z or an offset, e.g. 2026-12-01T00:00:00Z',
    });
    return { ok: false, problems };
  }
  if (schedule.at !== undefined && (start !== undefined || end !== undefined)) {
    problems.push({
      code: ProblemCode.SCHED_005_INVALID_DATES,
      field: start !== undefined ? 'startDate' : 'endDate',
      message: `a one-off at schedule fires once, at its time: EventBridge Scheduler ignores a ${start !== undefined ? 'startDate' : 'endDate'} there`,
      hint: 'remove startDate and endDate, or make it a cron or rate schedule',
    });
  } else if (start !== undefined && end !== undefined && end.getTime() <= start.getTime()) {
    problems.push({
      code: ProblemCode.SCHED_005_INVALID_DATES,
      field: 'endDate',
      message: `the endDate ${utcInstant(end)} is not after the startDate ${utcInstant(start)}: the schedule would never fire`,
      hint: 'give an endDate after the startDate, or remove one of them',
    });
  }
  if (problems.length > 0 || 'code' in translated) return { ok: false, problems };

  const zone = canonicalTimezone(timezone);
  const from = window.from ?? now;
  const count = window.count ?? NEXT_COUNT;
  const enabled = schedule.enabled !== false;
  const { deploy, ended } = deployedDates(start, end, now);
  // Fire times at or after the start date, after `from`, and not after the end date.
  const lower = start !== undefined && start.getTime() > from.getTime() ? new Date(start.getTime() - 1) : from;
  // A rate counts from its deployed start date, or else (like Scheduler, from its deploy) from `from`.
  const listed = translated.fireTimes(zone, lower, count, schedule.rate !== undefined && deploy.startDate !== undefined ? start : undefined);
  if (!Array.isArray(listed)) return { ok: false, problems: [listed] };
  const next = enabled && !ended ? listed.filter((t) => end === undefined || Date.parse(t) <= end.getTime()) : [];
  const last = next.at(-1);
  return {
    ok: true,
    schedule: {
      id: schedule.id ?? DEFAULT_SCHEDULE_ID,
      source: translated.source,
      expression: translated.expression,
      timezone: zone,
      enabled,
      state: enabled && !ended ? 'ENABLED' : 'DISABLED',
      ...(start !== undefined ? { startDate: utcInstant(start) } : {}),
      ...(end !== undefined ? { endDate: utcInstant(end) } : {}),
      deploy,
      ...(schedule.parameters !== undefined ? { parameters: schedule.parameters } : {}),
      next,
      dstChanges: last === undefined ? [] : offsetChanges(zone, from, new Date(Date.parse(last))),
    },
  };
}

/**
 * The `StartDate` and `EndDate` Scheduler is given. It refuses a start more than five minutes past, so a
 * start already past is left out (a rate then counts from when the schedule is created or updated); an
 * end still to come is given as written. `ended` once the end has passed: the schedule is deployed
 * disabled, without dates.
 */
function deployedDates(start: Date | undefined, end: Date | undefined, now: Date): { deploy: CompiledSchedule['deploy']; ended: boolean } {
  if (end !== undefined && end.getTime() <= now.getTime()) return { deploy: {}, ended: true };
  return {
    deploy: { ...(start !== undefined && start.getTime() > now.getTime() ? { startDate: utcInstant(start) } : {}), ...(end !== undefined ? { endDate: utcInstant(end) } : {}) },
    ended: false,
  };
}

/**
 * Schedules: Unix cron, rate and one-off times, translated exactly into EventBridge Scheduler
 * expressions, or refused with a problem. Never approximated: a schedule AWS cannot express is
 * `SCHED_003_UNSUPPORTED`. One file a concern: `cron.ts` (parsing and translation), `rate-at.ts`,
 * `fire-times.ts` (the next fire times, as Scheduler fires them across DST), `timezone.ts`.
 */
import type { Schedule } from '../../model/pipeline.ts';
import { ProblemCode } from '../../model/problems.ts';
import { translateCron } from './cron.ts';
import { translateAt, translateRate } from './rate-at.ts';
import { canonicalTimezone, isValidTimezone } from './timezone.ts';
import type { ScheduleProblem, ScheduleResult } from './types.ts';

export type { CompiledSchedule, CronSelection, ScheduleProblem, ScheduleResult } from './types.ts';
export { translateCron } from './cron.ts';
export { nextCronTimes } from './fire-times.ts';
export * from './timezone.ts';

const DEFAULT_TIMEZONE = 'UTC';

/** EventBridge Scheduler's longest schedule expression. */
export const MAX_EXPRESSION_LENGTH = 256;

export function compileSchedule(schedule: Schedule, now: Date): ScheduleResult {
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
  if (problems.length > 0 || 'code' in translated) return { ok: false, problems };

  const zone = canonicalTimezone(timezone);
  const next = translated.fireTimes(zone, now);
  if (!Array.isArray(next)) return { ok: false, problems: [next] };
  return { ok: true, schedule: { source: translated.source, expression: translated.expression, timezone: zone, next } };
}


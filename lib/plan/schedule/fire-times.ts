/** The fire times of a cron selection in a timezone, as EventBridge Scheduler fires them. */
import { formatInZone, resolveLocalTime, wallClock } from './timezone.ts';
import { NEXT_COUNT, type CronSelection } from './types.ts';

/** How far ahead fire times are looked for: a cron that selects no day in 5 years never fires. */
export const SEARCH_DAYS = 5 * 366;

/**
 * The next fire times of a cron in `timezone`, as EventBridge Scheduler fires them across daylight
 * saving changes: a local time that does not exist (spring forward) is skipped, one that happens twice
 * (fall back) fires once, at its first occurrence.
 */
export function nextCronTimes(selection: CronSelection, timezone: string, now: Date, count = NEXT_COUNT): string[] {
  const out: string[] = [];
  const [y, mo, d] = wallClock(now, timezone);
  for (let offset = 0; offset <= SEARCH_DAYS && out.length < count; offset++) {
    const day = new Date(Date.UTC(y, mo - 1, d + offset));
    const [dy, dm, dd] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (!selection.months.has(dm)) continue;
    if (selection.daysOfMonth && !selection.daysOfMonth.has(dd)) continue;
    if (selection.daysOfWeek && !selection.daysOfWeek.has(day.getUTCDay())) continue;
    for (const hour of selection.hours) {
      for (const minute of selection.minutes) {
        const local = resolveLocalTime([dy, dm, dd, hour, minute, 0], timezone);
        if (!local.exists || local.instant.getTime() <= now.getTime()) continue;
        out.push(formatInZone(local.instant, timezone));
        if (out.length === count) return out;
      }
    }
  }
  return out;
}

/**
 * Backfill enumeration: a schedule's fire times in `[from, to)`, oldest first, computed by the same code
 * the plan lists them with (`compileSchedule`), so daylight-saving changes are what Scheduler does (a
 * skipped local time never fires, a repeated one fires once). Pure.
 */
import type { NamedSchedule } from '../../model/pipeline.ts';
import { compileSchedule } from './index.ts';
import { SEARCH_DAYS } from './fire-times.ts';
import type { ScheduleProblem } from './types.ts';

/** The most scheduled times one backfill starts: a longer range is refused (split it). */
export const MAX_BACKFILL_RUNS = 1000;

export const BackfillRefusal = {
  /** `to` is not after `from`. */
  EMPTY_RANGE: 'BACKFILL_001_EMPTY_RANGE',
  /** More than `MAX_BACKFILL_RUNS` fire times in the range. */
  TOO_MANY: 'BACKFILL_002_TOO_MANY_RUNS',
  /** A rate schedule without a `startDate` counts from when it was deployed, which the definition does not say. */
  RATE_WITHOUT_START: 'BACKFILL_003_RATE_WITHOUT_START',
  /** The schedule itself does not compile (its problems say why). */
  INVALID_SCHEDULE: 'BACKFILL_004_INVALID_SCHEDULE',
} as const;
export type BackfillRefusal = (typeof BackfillRefusal)[keyof typeof BackfillRefusal];

export type BackfillTimes =
  | { readonly ok: true; readonly timezone: string; readonly times: readonly string[] }
  | { readonly ok: false; readonly code: BackfillRefusal; readonly message: string; readonly problems?: readonly ScheduleProblem[] };

/** Before any schedule's start date: its dates then bound the fire times, and a rate counts from its start date. */
const EPOCH = new Date(0);

/**
 * The fire times of `schedule` at or after `from` and before `to`, as ISO 8601 with the schedule's
 * offset, oldest first, within its start and end dates. A disabled schedule (`enabled: false`) has
 * none: it never fires. At most `limit` (default `MAX_BACKFILL_RUNS`): more is refused.
 */
export function backfillTimes(schedule: NamedSchedule, from: Date, to: Date, limit = MAX_BACKFILL_RUNS): BackfillTimes {
  if (to.getTime() <= from.getTime()) return { ok: false, code: BackfillRefusal.EMPTY_RANGE, message: `the range ${from.toISOString()} to ${to.toISOString()} is empty: --to must be after --from` };
  if (schedule.rate !== undefined && schedule.startDate === undefined) {
    return {
      ok: false,
      code: BackfillRefusal.RATE_WITHOUT_START,
      message: `schedule "${schedule.id}" is a rate without a startDate: it fires a rate apart from when it was deployed, which the definition does not say, so its past fire times are unknown`,
    };
  }
  // Fire times are listed strictly after `from`: one millisecond before it includes `from` itself. A
  // cron's are looked for five years ahead at a time: a longer range is listed window after window.
  const times: string[] = [];
  let cursor = from.getTime() - 1;
  let timezone = schedule.timezone ?? 'UTC';
  while (cursor < to.getTime()) {
    const wanted = limit + 1 - times.length;
    const compiled = compileSchedule(schedule, EPOCH, { from: new Date(cursor), count: wanted });
    if (!compiled.ok) return { ok: false, code: BackfillRefusal.INVALID_SCHEDULE, message: `schedule "${schedule.id}" does not compile: ${compiled.problems.map((p) => p.message).join('; ')}`, problems: compiled.problems };
    timezone = compiled.schedule.timezone;
    const after = times.length > 0 ? Date.parse(times.at(-1)!) : -Infinity;
    const listed = compiled.schedule.next.filter((t) => Date.parse(t) > after);
    const inRange = listed.filter((t) => Date.parse(t) < to.getTime());
    times.push(...inRange);
    if (times.length > limit) {
      return { ok: false, code: BackfillRefusal.TOO_MANY, message: `schedule "${schedule.id}" fires more than ${limit} times from ${from.toISOString()} to ${to.toISOString()}: backfill at most ${limit} at once (split the range)` };
    }
    // Past `to`: done. As many as asked (some may have been listed already): on from the last one. Fewer
    // than asked: the search ended; it goes on a day before where it stopped.
    if (inRange.length < listed.length) break;
    if (compiled.schedule.next.length >= wanted) cursor = Date.parse(times.at(-1) ?? compiled.schedule.next.at(-1)!);
    else cursor += (SEARCH_DAYS - 1) * 86_400_000;
  }
  return { ok: true, timezone, times };
}

/**
 * Catch-up (spec Rule 4): the last `count` fire times of `schedule` after `since` (excluded) and at or
 * before `until`, oldest first; fewer when it fired fewer times. However many times it fired in the
 * range, it looks only at a window holding the last ones (narrowed by halves). Refused as a backfill
 * would be (a rate without a start date, a schedule that does not compile).
 */
export function latestFireTimes(schedule: NamedSchedule, since: Date, until: Date, count: number): BackfillTimes {
  const window = (from: Date): BackfillTimes => backfillTimes(schedule, from, new Date(until.getTime() + 1));
  const first = new Date(since.getTime() + 1);
  if (until.getTime() < first.getTime() || count <= 0) return { ok: true, timezone: schedule.timezone ?? 'UTC', times: [] };
  let all = window(first);
  if (all.ok) return { ...all, times: all.times.slice(-count) };
  if (all.code !== BackfillRefusal.TOO_MANY) return all;
  // Too many to list: the latest window start that still holds `count` of them.
  let lo = first.getTime();
  let hi = until.getTime();
  for (let i = 0; i < 64 && hi - lo > 1; i++) {
    const mid = Math.floor((lo + hi) / 2);
    all = window(new Date(mid));
    if (!all.ok && all.code === BackfillRefusal.TOO_MANY) lo = mid;
    else if (!all.ok) return all;
    else if (all.times.length < count) hi = mid;
    else return { ...all, times: all.times.slice(-count) };
  }
  return window(new Date(hi));
}

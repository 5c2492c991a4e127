/** Time-zone arithmetic over the IANA database Node ships (Intl): wall clocks, offsets, DST gaps and overlaps. */

/** The IANA name as the tz database spells it (`utc` → `UTC`): what AWS expects. */
export function canonicalTimezone(tz: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

type WallClock = [number, number, number, number, number, number];

/** One formatter per timezone: building one costs far more than using it. */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timezone: string): Intl.DateTimeFormat {
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    if (formatters.size >= 256) formatters.clear();
    formatters.set(timezone, fmt);
  }
  return fmt;
}

/** The wall-clock fields (year, month, day, hour, minute, second) of `instant` in `timezone`. */
export function wallClock(instant: Date, timezone: string): WallClock {
  const parts = formatterFor(timezone).formatToParts(instant);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return [get('year'), get('month'), get('day'), get('hour'), get('minute'), get('second')];
}

/** The offset of `timezone` from UTC at `instant`, in minutes. */
export function zoneOffsetMinutes(instant: Date, timezone: string): number {
  const [y, mo, d, h, mi, s] = wallClock(instant, timezone);
  return Math.round((Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}

/**
 * Local wall-clock fields in `timezone` → the instant. A time that happens twice (fall back) is its
 * first occurrence; a time that does not exist (spring forward) has `exists: false` and the instant
 * it would be with the offset from before the change (so 02:30 in a skipped hour lands at 03:30).
 */
export function resolveLocalTime(parts: readonly [number, number, number, number, number, number], timezone: string): { instant: Date; exists: boolean } {
  const [y, mo, d, h, mi, s] = parts;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const day = 86_400_000;
  const before = wall - zoneOffsetMinutes(new Date(wall - day), timezone) * 60_000;
  const after = wall - zoneOffsetMinutes(new Date(wall + day), timezone) * 60_000;
  const matches = (t: number): boolean => wallClock(new Date(t), timezone).every((v, i) => v === parts[i]);
  const valid = [...new Set([before, after])].filter(matches).sort((a, b) => a - b);
  if (valid.length > 0) return { instant: new Date(valid[0]!), exists: true };
  return { instant: new Date(Math.max(before, after)), exists: false };
}

/** Local wall-clock fields in `timezone` → the instant (see `resolveLocalTime`). */
export function zonedTimeToUtc(parts: readonly [number, number, number, number, number, number], timezone: string): Date {
  return resolveLocalTime(parts, timezone).instant;
}

/** `2026-11-23T19:00:00-05:00`: the instant as wall-clock time in `timezone`, with its offset. */
export function formatInZone(instant: Date, timezone: string): string {
  const offset = zoneOffsetMinutes(instant, timezone);
  const local = new Date(instant.getTime() + offset * 60_000).toISOString().slice(0, 19);
  if (offset === 0) return `${local}Z`;
  const sign = offset > 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** How far a daylight-saving scan looks: five years of days (changes are months apart, so a day a sample misses none). */
const MAX_SCAN_DAYS = 5 * 366;

/**
 * The changes of `timezone`'s UTC offset after `from` and up to `until` (at most five years on): the
 * first instant on each new offset, to the minute, as wall-clock time after it, its local day, and
 * the minutes the clocks moved (+60 forward, -60 back).
 */
export function offsetChanges(timezone: string, from: Date, until: Date): { at: string; date: string; minutes: number }[] {
  const minute = 60_000;
  const day = 86_400_000;
  const start = Math.floor(from.getTime() / minute) * minute;
  const end = Math.min(until.getTime(), start + MAX_SCAN_DAYS * day);
  const offsetAt = (t: number): number => zoneOffsetMinutes(new Date(t), timezone);
  const out: { at: string; date: string; minutes: number }[] = [];
  let previous = start;
  let previousOffset = offsetAt(start);
  while (previous < end) {
    const next = Math.min(previous + day, Math.ceil(end / minute) * minute);
    const nextOffset = offsetAt(next);
    if (nextOffset !== previousOffset) {
      // The first minute on the new offset, between the two samples.
      let lo = previous / minute;
      let hi = next / minute;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(mid * minute) === previousOffset) lo = mid;
        else hi = mid;
      }
      const at = formatInZone(new Date(hi * minute), timezone);
      out.push({ at, date: at.slice(0, 10), minutes: nextOffset - previousOffset });
    }
    previous = next;
    previousOffset = nextOffset;
  }
  return out;
}

/** `rate` and one-off `at` schedules, in EventBridge Scheduler's words. */
import { ProblemCode } from '../../model/problems.ts';
import { formatInZone, resolveLocalTime } from './timezone.ts';
import type { ScheduleProblem, Translated } from './types.ts';

const RATE_UNITS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** The longest rate Phi schedules: a hundred years (beyond, no fire time can be computed, nor would any come). */
const MAX_RATE_MS = 36_500 * RATE_UNITS.day;

function parseRate(rate: string): { value: number; unit: keyof typeof RATE_UNITS } | undefined {
  const match = /^\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*$/.exec(rate);
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = (match[2] ?? 'minute').replace(/s$/, '') as keyof typeof RATE_UNITS;
  if (!Number.isSafeInteger(value) || value < 1 || value * RATE_UNITS[unit] > MAX_RATE_MS) return undefined;
  return { value, unit };
}

export function translateRate(rate: string): Translated | ScheduleProblem {
  const parsed = parseRate(rate);
  if (!parsed) {
    return {
      code: ProblemCode.SCHED_001_INVALID_CRON,
      field: 'rate',
      message: `"${rate}" is not a rate`,
      hint: 'write "<n> minute(s)", "<n> hour(s)" or "<n> day(s)" with n at least 1 and at most 100 years in all, e.g. "15 minutes"',
    };
  }
  // AWS wants the singular unit for 1 and the plural otherwise: the same rate, written AWS's way.
  const unit = parsed.value === 1 ? parsed.unit : `${parsed.unit}s`;
  const stepMs = parsed.value * RATE_UNITS[parsed.unit];
  return {
    source: `rate: ${rate}`,
    expression: `rate(${parsed.value} ${unit})`,
    // A rate schedule fires first at its start date, then a rate apart. Without one it counts from when
    // it is created; from `from` is the best the plan can say.
    fireTimes: (timezone, from, count, startDate) => {
      const anchor = startDate?.getTime() ?? from.getTime();
      const first = startDate === undefined ? 1 : anchor > from.getTime() ? 0 : Math.floor((from.getTime() - anchor) / stepMs) + 1;
      const times = Array.from({ length: count }, (_, i) => anchor + (first + i) * stepMs);
      return times.filter((t) => t <= LAST_LISTED_MS).map((t) => formatInZone(new Date(t), timezone));
    },
  };
}

/** Fire times are listed up to the end of year 9999 (what ISO 8601's four-digit years say). */
const LAST_LISTED_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

const AT_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

function parseLocal(at: string): [number, number, number, number, number, number] | undefined {
  const match = AT_PATTERN.exec(at);
  if (!match) return undefined;
  const [y, mo, d, h, mi, s] = match.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return [y, mo, d, h, mi, s];
}

export function translateAt(at: string): Translated | ScheduleProblem {
  const parts = parseLocal(at);
  if (!parts) {
    return {
      code: ProblemCode.SCHED_001_INVALID_CRON,
      field: 'at',
      message: `"${at}" is not a local date and time`,
      hint: 'write YYYY-MM-DDTHH:mm or YYYY-MM-DDTHH:mm:ss without an offset; the timezone field says where',
    };
  }
  const [y, mo, d, h, mi, sec] = parts;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return {
    source: `at: ${at}`,
    expression: `at(${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(sec)})`,
    fireTimes: (timezone, from) => {
      const local = resolveLocalTime(parts, timezone);
      if (!local.exists) {
        return { code: ProblemCode.SCHED_003_UNSUPPORTED, field: 'at', message: `${at} does not exist in ${timezone}: the clocks skip it (daylight saving)`, hint: 'pick a time outside the hour the clocks skip' };
      }
      return local.instant.getTime() > from.getTime() ? [formatInZone(local.instant, timezone)] : [];
    },
  };
}

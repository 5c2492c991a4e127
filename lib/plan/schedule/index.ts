/**
 * Schedules: Unix cron, rate and one-off times, translated exactly into EventBridge Scheduler
 * expressions, or refused with a problem. Never approximated: a schedule AWS cannot express is
 * `SCHED_003_UNSUPPORTED`.
 *
 * EventBridge Scheduler cron: `cron(minutes hours day-of-month month day-of-week year)`; one of the two
 * day fields must be `?`; day-of-week is 1-7 = SUN-SAT (we always write names); no `/` in day-of-week.
 * @see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
import type { Schedule } from '../model/pipeline.ts';
import { ProblemCode } from '../model/problems.ts';

export interface CompiledSchedule {
  /** What the user wrote, e.g. `cron: 0 19 * * 1-5`. */
  readonly source: string;
  /** The EventBridge Scheduler expression, e.g. `cron(0 19 ? * MON-FRI *)`. */
  readonly expression: string;
  readonly timezone: string;
  /** The next five fire times after the plan's `now`, ISO 8601 with the timezone's offset. */
  readonly next: readonly string[];
}

export interface ScheduleProblem {
  readonly code: typeof ProblemCode.SCHED_001_INVALID_CRON | typeof ProblemCode.SCHED_002_INVALID_TIMEZONE | typeof ProblemCode.SCHED_003_UNSUPPORTED;
  /** Field inside `schedule`: `cron`, `rate`, `at` or `timezone`. */
  readonly field: string;
  readonly message: string;
  readonly hint: string;
}

export type ScheduleResult = { ok: true; schedule: CompiledSchedule } | { ok: false; problems: ScheduleProblem[] };

const NEXT_COUNT = 5;
const DEFAULT_TIMEZONE = 'UTC';

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
  if (problems.length > 0 || 'code' in translated) return { ok: false, problems };

  const zone = canonicalTimezone(timezone);
  const next = translated.fireTimes(zone, now);
  if (!Array.isArray(next)) return { ok: false, problems: [next] };
  return { ok: true, schedule: { source: translated.source, expression: translated.expression, timezone: zone, next } };
}

/** A schedule in AWS's words, and how to tell its next fire times (or why it never fires) in a timezone. */
interface Translated {
  readonly source: string;
  readonly expression: string;
  readonly fireTimes: (timezone: string, now: Date) => string[] | ScheduleProblem;
}

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

// ---------------------------------------------------------------------------------------------------
// cron

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const SECOND: FieldSpec = { name: 'seconds', min: 0, max: 59 };
const MINUTE: FieldSpec = { name: 'minutes', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hours', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
};
/** Unix day-of-week: 0-7, both 0 and 7 are Sunday. */
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] };
const AWS_DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** One comma-separated item of a cron field: `*`, `a`, `a-b`, each optionally `/step`. */
interface CronItem {
  readonly start: number | '*';
  readonly end?: number;
  readonly step?: number;
}

class CronSyntaxError extends Error {}

function parseValue(text: string, spec: FieldSpec): number {
  const upper = text.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return spec === MONTH ? named + 1 : named;
  if (!/^\d+$/.test(text)) throw new CronSyntaxError(`"${text}" is not a number${spec.names ? ' or a name' : ''} in the ${spec.name} field`);
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    throw new CronSyntaxError(`${value} is out of range ${spec.min}-${spec.max} in the ${spec.name} field`);
  }
  return value;
}

function parseField(text: string, spec: FieldSpec): CronItem[] {
  if (text === '') throw new CronSyntaxError(`the ${spec.name} field is empty`);
  return text.split(',').map((part) => {
    const match = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!match) throw new CronSyntaxError(`"${part}" is not valid in the ${spec.name} field`);
    const [, range = '', stepText] = match;
    const step = stepText === undefined ? undefined : Number(stepText);
    if (step !== undefined && step < 1) throw new CronSyntaxError(`a step of ${stepText} in the ${spec.name} field must be at least 1`);
    if (range === '*') return step === undefined ? { start: '*' } : { start: '*', step };
    const bounds = range.split('-');
    if (bounds.length > 2) throw new CronSyntaxError(`"${range}" is not a range in the ${spec.name} field`);
    const start = parseValue(bounds[0] ?? '', spec);
    if (bounds.length === 1) return step === undefined ? { start } : { start, step };
    const end = parseValue(bounds[1] ?? '', spec);
    if (end < start) throw new CronSyntaxError(`the range ${range} in the ${spec.name} field runs backwards`);
    return step === undefined ? { start, end } : { start, end, step };
  });
}

/** Every value an item selects. */
function expandItem(item: CronItem, spec: FieldSpec): number[] {
  const start = item.start === '*' ? spec.min : item.start;
  const end = item.end ?? (item.start === '*' || item.step !== undefined ? spec.max : start);
  const out: number[] = [];
  for (let v = start; v <= end; v += item.step ?? 1) out.push(v);
  return out;
}

/** Minutes, hours, day-of-month and month: AWS takes `*`, `a`, `a-b`, `a/n`; a stepped range is listed. */
function awsNumericField(items: CronItem[], spec: FieldSpec): string {
  return items
    .map((item) => {
      if (item.start === '*') return item.step === undefined ? '*' : `${spec.min}/${item.step}`;
      if (item.step === undefined) return item.end === undefined ? `${item.start}` : `${item.start}-${item.end}`;
      if (item.end === undefined) return `${item.start}/${item.step}`;
      return expandItem(item, spec).join(',');
    })
    .join(',');
}

/** Day-of-week: AWS has no `/` there, so every selected day is listed, runs of three or more as ranges. */
function awsDayOfWeekField(items: CronItem[]): string {
  const days = new Set<number>();
  for (const item of items) for (const d of expandItem(item, DAY_OF_WEEK)) days.add(d % 7);
  const sorted = [...days].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    const first = AWS_DAY_NAMES[sorted[i] ?? 0];
    const last = AWS_DAY_NAMES[sorted[j] ?? 0];
    if (j - i >= 2) parts.push(`${first}-${last}`);
    else for (let k = i; k <= j; k++) parts.push(AWS_DAY_NAMES[sorted[k] ?? 0] ?? '');
    i = j + 1;
  }
  return parts.join(',');
}

const isWildcard = (items: CronItem[]): boolean => items.length === 1 && items[0]?.start === '*' && items[0].step === undefined;

/** Unix cron → `cron(...)` for EventBridge Scheduler, or the problem that prevents it. */
/** What a valid cron selects: the values of each field (day fields `undefined` when unrestricted). */
export interface CronSelection {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: ReadonlySet<number>;
  readonly daysOfMonth?: ReadonlySet<number>;
  /** 0-6, Sunday 0. */
  readonly daysOfWeek?: ReadonlySet<number>;
}

const selected = (items: CronItem[], spec: FieldSpec): number[] => [...new Set(items.flatMap((item) => expandItem(item, spec)))].sort((a, b) => a - b);

export function translateCron(cron: string): (Translated & { selection: CronSelection }) | ScheduleProblem {
  const source = `cron: ${cron}`;
  const fields = cron.trim().split(/\s+/);
  const invalid = (message: string, hint: string): ScheduleProblem => ({ code: ProblemCode.SCHED_001_INVALID_CRON, field: 'cron', message, hint });
  const unsupported = (message: string, hint: string): ScheduleProblem => ({ code: ProblemCode.SCHED_003_UNSUPPORTED, field: 'cron', message, hint });
  const syntaxHint = 'Unix cron is "minute hour day-of-month month day-of-week", e.g. "0 19 * * 1-5", with an optional leading seconds field';
  if (fields.length !== 5 && fields.length !== 6) {
    return invalid(`"${cron}" has ${fields.length} fields; Unix cron has 5, or 6 with a leading seconds field`, syntaxHint);
  }
  const withSeconds = fields.length === 6;
  const [secondsText, minuteText, hourText, domText, monthText, dowText] = withSeconds ? fields : ['0', ...fields];
  let parsed: { minute: CronItem[]; hour: CronItem[]; dom: CronItem[]; month: CronItem[]; dow: CronItem[]; seconds: CronItem[] };
  try {
    parsed = {
      seconds: parseField(secondsText ?? '', SECOND),
      minute: parseField(minuteText ?? '', MINUTE),
      hour: parseField(hourText ?? '', HOUR),
      dom: parseField(domText ?? '', DAY_OF_MONTH),
      month: parseField(monthText ?? '', MONTH),
      dow: parseField(dowText ?? '', DAY_OF_WEEK),
    };
  } catch (err) {
    if (err instanceof CronSyntaxError) return invalid(`"${cron}": ${err.message}`, syntaxHint);
    throw err;
  }
  const seconds = expandItem(parsed.seconds[0] ?? { start: 0 }, SECOND);
  if (parsed.seconds.length !== 1 || seconds.length !== 1 || seconds[0] !== 0) {
    return unsupported(
      `"${cron}" fires at second ${secondsText}; EventBridge Scheduler fires on whole minutes only`,
      'set the seconds field to 0, or drop it and write a 5-field expression',
    );
  }
  const domRestricted = !isWildcard(parsed.dom);
  const dowRestricted = !isWildcard(parsed.dow);
  if (domRestricted && dowRestricted) {
    return unsupported(
      `"${cron}" restricts both day-of-month and day-of-week, which Unix cron ORs together; EventBridge Scheduler cannot restrict both`,
      'restrict only one of the two day fields (use "*" in the other), or split it into two pipelines',
    );
  }
  const dom = dowRestricted ? '?' : awsNumericField(parsed.dom, DAY_OF_MONTH);
  const dow = dowRestricted ? awsDayOfWeekField(parsed.dow) : '?';
  const expression = `cron(${awsNumericField(parsed.minute, MINUTE)} ${awsNumericField(parsed.hour, HOUR)} ${dom} ${awsNumericField(parsed.month, MONTH)} ${dow} *)`;
  const selection: CronSelection = {
    minutes: selected(parsed.minute, MINUTE),
    hours: selected(parsed.hour, HOUR),
    months: new Set(selected(parsed.month, MONTH)),
    ...(domRestricted ? { daysOfMonth: new Set(selected(parsed.dom, DAY_OF_MONTH)) } : {}),
    ...(dowRestricted ? { daysOfWeek: new Set(selected(parsed.dow, DAY_OF_WEEK).map((d) => d % 7)) } : {}),
  };
  const fireTimes = (timezone: string, now: Date): string[] | ScheduleProblem => {
    const next = nextCronTimes(selection, timezone, now);
    if (next.length > 0) return next;
    return { code: ProblemCode.SCHED_001_INVALID_CRON, field: 'cron', message: `"${cron}" never fires: no day in the next five years matches it`, hint: 'check the day-of-month against the month (there is no 30 February or 31 April)' };
  };
  return { source, expression, selection, fireTimes };
}

/** How far ahead fire times are looked for: a cron that selects no day in 5 years never fires. */
const SEARCH_DAYS = 5 * 366;

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

// ---------------------------------------------------------------------------------------------------
// rate and at

const RATE_UNITS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

function parseRate(rate: string): { value: number; unit: keyof typeof RATE_UNITS } | undefined {
  const match = /^\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*$/.exec(rate);
  if (!match) return undefined;
  const value = Number(match[1]);
  if (!Number.isSafeInteger(value) || value < 1) return undefined;
  return { value, unit: (match[2] ?? 'minute').replace(/s$/, '') as keyof typeof RATE_UNITS };
}

function translateRate(rate: string): Translated | ScheduleProblem {
  const parsed = parseRate(rate);
  if (!parsed) {
    return {
      code: ProblemCode.SCHED_001_INVALID_CRON,
      field: 'rate',
      message: `"${rate}" is not a rate`,
      hint: 'write "<n> minute(s)", "<n> hour(s)" or "<n> day(s)" with n at least 1, e.g. "15 minutes"',
    };
  }
  // AWS wants the singular unit for 1 and the plural otherwise: the same rate, written AWS's way.
  const unit = parsed.value === 1 ? parsed.unit : `${parsed.unit}s`;
  const stepMs = parsed.value * RATE_UNITS[parsed.unit];
  return {
    source: `rate: ${rate}`,
    expression: `rate(${parsed.value} ${unit})`,
    // A rate schedule counts from when it is created; from `now` is the best the plan can say.
    fireTimes: (timezone, now) => Array.from({ length: NEXT_COUNT }, (_, i) => formatInZone(new Date(now.getTime() + (i + 1) * stepMs), timezone)),
  };
}

const AT_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

function parseLocal(at: string): [number, number, number, number, number, number] | undefined {
  const match = AT_PATTERN.exec(at);
  if (!match) return undefined;
  const [y, mo, d, h, mi, s] = match.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return [y, mo, d, h, mi, s];
}

function translateAt(at: string): Translated | ScheduleProblem {
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
    fireTimes: (timezone, now) => {
      const local = resolveLocalTime(parts, timezone);
      if (!local.exists) {
        return { code: ProblemCode.SCHED_003_UNSUPPORTED, field: 'at', message: `${at} does not exist in ${timezone}: the clocks skip it (daylight saving)`, hint: 'pick a time outside the hour the clocks skip' };
      }
      return local.instant.getTime() > now.getTime() ? [formatInZone(local.instant, timezone)] : [];
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// time zones

type WallClock = [number, number, number, number, number, number];

/** The wall-clock fields (year, month, day, hour, minute, second) of `instant` in `timezone`. */
export function wallClock(instant: Date, timezone: string): WallClock {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const parts = fmt.formatToParts(instant);
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

/**
 * Schedules: Unix cron, rate and one-off times, translated exactly into EventBridge Scheduler
 * expressions, or refused with a problem. Never approximated: a schedule AWS cannot express is
 * `SCHED_003_UNSUPPORTED`.
 *
 * EventBridge Scheduler cron: `cron(minutes hours day-of-month month day-of-week year)`; one of the two
 * day fields must be `?`; day-of-week is 1-7 = SUN-SAT (we always write names); no `/` in day-of-week.
 * @see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
import { CronExpressionParser } from 'cron-parser';
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
  let translated: { source: string; expression: string } | ScheduleProblem;
  if (schedule.cron !== undefined) translated = translateCron(schedule.cron);
  else if (schedule.rate !== undefined) translated = translateRate(schedule.rate);
  else translated = translateAt(schedule.at ?? '');
  if ('code' in translated) problems.push(translated);
  if (problems.length > 0 || 'code' in translated) return { ok: false, problems };

  let next: string[];
  if (schedule.cron !== undefined) next = nextCronTimes(schedule.cron, timezone, now);
  else if (schedule.rate !== undefined) next = nextRateTimes(schedule.rate, timezone, now);
  else next = nextAtTimes(schedule.at ?? '', timezone, now);
  return { ok: true, schedule: { ...translated, timezone, next } };
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
export function translateCron(cron: string): { source: string; expression: string } | ScheduleProblem {
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
  return { source, expression };
}

function nextCronTimes(cron: string, timezone: string, now: Date): string[] {
  const fields = cron.trim().split(/\s+/);
  const fiveFields = fields.length === 6 ? fields.slice(1) : fields;
  const interval = CronExpressionParser.parse(fiveFields.join(' '), { currentDate: now, tz: timezone });
  const out: string[] = [];
  for (let i = 0; i < NEXT_COUNT; i++) out.push(formatInZone(interval.next().toDate(), timezone));
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

function translateRate(rate: string): { source: string; expression: string } | ScheduleProblem {
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
  return { source: `rate: ${rate}`, expression: `rate(${parsed.value} ${unit})` };
}

function nextRateTimes(rate: string, timezone: string, now: Date): string[] {
  const parsed = parseRate(rate);
  if (!parsed) return [];
  const step = parsed.value * RATE_UNITS[parsed.unit];
  // A rate schedule counts from when it is created; from `now` is the best the plan can say.
  return Array.from({ length: NEXT_COUNT }, (_, i) => formatInZone(new Date(now.getTime() + (i + 1) * step), timezone));
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

function translateAt(at: string): { source: string; expression: string } | ScheduleProblem {
  const parts = parseLocal(at);
  if (!parts) {
    return {
      code: ProblemCode.SCHED_001_INVALID_CRON,
      field: 'at',
      message: `"${at}" is not a local date and time`,
      hint: 'write YYYY-MM-DDTHH:mm or YYYY-MM-DDTHH:mm:ss without an offset; the timezone field says where',
    };
  }
  const [y, mo, d, h, mi, s] = parts;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return { source: `at: ${at}`, expression: `at(${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)})` };
}

function nextAtTimes(at: string, timezone: string, now: Date): string[] {
  const parts = parseLocal(at);
  if (!parts) return [];
  const instant = zonedTimeToUtc(parts, timezone);
  return instant.getTime() > now.getTime() ? [formatInZone(instant, timezone)] : [];
}

// ---------------------------------------------------------------------------------------------------
// time zones

/** The offset of `timezone` from UTC at `instant`, in minutes. */
export function zoneOffsetMinutes(instant: Date, timezone: string): number {
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
  const get = (type: string): number => Number(fmt.formatToParts(instant).find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}

/** Local wall-clock fields in `timezone` → the instant. */
export function zonedTimeToUtc(parts: readonly [number, number, number, number, number, number], timezone: string): Date {
  const [y, mo, d, h, mi, s] = parts;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  let instant = wall - zoneOffsetMinutes(new Date(wall), timezone) * 60_000;
  instant = wall - zoneOffsetMinutes(new Date(instant), timezone) * 60_000;
  return new Date(instant);
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

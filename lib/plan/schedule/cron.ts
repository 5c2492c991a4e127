/**
 * Unix cron → EventBridge Scheduler's `cron(minutes hours day-of-month month day-of-week year)`: one of
 * the two day fields must be `?`; day-of-week is 1-7 = SUN-SAT (we always write names); no `/` in
 * day-of-week. What AWS cannot express exactly is refused, never approximated.
 * @see https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
import { PhiError } from '../../model/errors.ts';
import { ProblemCode } from '../../model/problems.ts';
import { nextCronTimes } from './fire-times.ts';
import type { CronSelection, ScheduleProblem, Translated } from './types.ts';

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

/** Thrown while parsing, caught by `translateCron` and returned as a problem. */
class CronSyntaxError extends PhiError {
  constructor(message: string) {
    super(ProblemCode.SCHED_001_INVALID_CRON, message);
  }
}

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


const selected = (items: CronItem[], spec: FieldSpec): number[] => [...new Set(items.flatMap((item) => expandItem(item, spec)))].sort((a, b) => a - b);

/** Unix cron → `cron(...)` for EventBridge Scheduler, or the problem that prevents it. */
export function translateCron(cron: string): (Translated & { selection: CronSelection }) | ScheduleProblem {
  const fields = cron.trim().split(/\s+/);
  const source = `cron: ${fields.join(' ')}`;
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
  const fireTimes = (timezone: string, from: Date, count: number): string[] | ScheduleProblem => {
    const next = nextCronTimes(selection, timezone, from, count);
    if (next.length > 0) return next;
    return { code: ProblemCode.SCHED_001_INVALID_CRON, field: 'cron', message: `"${cron}" never fires: no day in the next five years matches it`, hint: 'check the day-of-month against the month (there is no 30 February or 31 April)' };
  };
  return { source, expression, selection, fireTimes };
}

/** What a schedule compiles to, and the problems that refuse it. */
import type { ProblemCode } from '../../model/problems.ts';

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

/** Fire times the plan lists for each schedule. */
export const NEXT_COUNT = 5;

/** A schedule in AWS's words, and how to tell its next fire times (or why it never fires) in a timezone. */
export interface Translated {
  readonly source: string;
  readonly expression: string;
  readonly fireTimes: (timezone: string, now: Date) => string[] | ScheduleProblem;
}

/** What a valid cron selects: the values of each field (day fields `undefined` when unrestricted). */
export interface CronSelection {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: ReadonlySet<number>;
  readonly daysOfMonth?: ReadonlySet<number>;
  /** 0-6, Sunday 0. */
  readonly daysOfWeek?: ReadonlySet<number>;
}

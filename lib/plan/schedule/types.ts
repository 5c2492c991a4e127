/** What a schedule compiles to, and the problems that refuse it. */
import type { Parameters } from '../../model/pipeline.ts';
import type { ProblemCode } from '../../model/problems.ts';

/** EventBridge Scheduler's schedule state. */
export type ScheduleState = 'ENABLED' | 'DISABLED';

/** A daylight-saving change of a schedule's timezone between the plan's `from` and its last listed fire time. */
export interface DstChange {
  /** The first instant on the new offset, as wall-clock time after the change: `2026-03-29T03:00:00+02:00`. */
  readonly at: string;
  /** The local day it falls on: `2026-03-29`. */
  readonly date: string;
  /** How far the clocks move, in minutes: 60 when they spring forward, -60 when they fall back. */
  readonly minutes: number;
}

export interface CompiledSchedule {
  /** Unique within the pipeline; `default` for the one-schedule form (`schedule`). */
  readonly id: string;
  /** What the user wrote, e.g. `cron: 0 19 * * 1-5`. */
  readonly source: string;
  /** The EventBridge Scheduler expression, e.g. `cron(0 19 ? * MON-FRI *)`. */
  readonly expression: string;
  readonly timezone: string;
  /** Whether the definition enables it (`enabled`, default true). */
  readonly enabled: boolean;
  /** The state it is deployed in: `DISABLED` when the definition disables it or its end date has passed. */
  readonly state: ScheduleState;
  /** `startDate` and `endDate` as written, as UTC instants. */
  readonly startDate?: string;
  readonly endDate?: string;
  /**
   * What Scheduler is given as `StartDate` and `EndDate`. Scheduler refuses a start more than five
   * minutes past, so a start already past at the plan's `now` is left out (a rate then counts from when
   * the schedule is created or updated); an end already past is left out and the schedule deployed
   * `DISABLED`.
   */
  readonly deploy: { readonly startDate?: string; readonly endDate?: string };
  /** The parameters of the runs it starts (checked against the pipeline's `runParameters` at plan time). */
  readonly parameters?: Parameters;
  /**
   * Its next fire times after the plan's `from` (default: now; five of them by default), ISO 8601 with
   * the timezone's offset, within its start and end dates. None when it is disabled.
   */
  readonly next: readonly string[];
  /** The timezone's daylight-saving changes from `from` to the last of `next`. */
  readonly dstChanges: readonly DstChange[];
}

export interface ScheduleProblem {
  readonly code: typeof ProblemCode.SCHED_001_INVALID_CRON | typeof ProblemCode.SCHED_002_INVALID_TIMEZONE | typeof ProblemCode.SCHED_003_UNSUPPORTED | typeof ProblemCode.SCHED_005_INVALID_DATES;
  /** Field inside `schedule`: `cron`, `rate`, `at`, `timezone`, `startDate` or `endDate`. */
  readonly field: string;
  readonly message: string;
  readonly hint: string;
}

export type ScheduleResult = { ok: true; schedule: CompiledSchedule } | { ok: false; problems: ScheduleProblem[] };

/** Fire times the plan lists for each schedule, unless asked for another number (`phi plan --count`). */
export const NEXT_COUNT = 5;
/** The most fire times the plan lists for one schedule. */
export const MAX_NEXT_COUNT = 1000;

/**
 * A schedule in AWS's words, and how to tell its next `count` fire times after `from` (or why it never
 * fires) in a timezone; a rate counts from `startDate` when it has one.
 */
export interface Translated {
  readonly source: string;
  readonly expression: string;
  readonly fireTimes: (timezone: string, from: Date, count: number, startDate?: Date) => string[] | ScheduleProblem;
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

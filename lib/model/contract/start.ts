/**
 * When a run may start (spec Rules 1, 3 and 17 and their evaluation order): the rules a deployment
 * holds for each pipeline (compiled by the plan from the definition, carried in the environment of the
 * functions that start runs) and the decision `evaluateStart` (`lib/model/start-rules.ts`) takes for
 * each start, which the run's record keeps, checks and all.
 */
import { z } from 'zod';
import { IsoTimeSchema } from './task.ts';
import { ParametersSchema } from '../pipeline.ts';
import { DeployedScheduleFields } from './health.ts';
import { TriggerType } from './status.ts';

/** Days of the week as windows name them. */
export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `HH:MM`, 00:00 to 23:59. */
export const WINDOW_START_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$/;
/** `HH:MM`, 00:00 to 23:59, or 24:00 (the end of the day). */
export const WINDOW_END_PATTERN = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/** A tolerance a scheduled delivery has before it counts as late (spec Rule 1, `tolerance_seconds`). */
export const DEFAULT_TOLERANCE_SECONDS = 60;
/** The most runs of one pipeline a limit may allow at once. */
export const MAX_ACTIVE_RUNS_LIMIT = 100;

/** One execution window as deployed: its timezone resolved. */
export const DeployedWindowSchema = z
  .object({
    start: z.string().regex(WINDOW_START_PATTERN),
    end: z.string().regex(WINDOW_END_PATTERN),
    /** The days the window opens on (a window past midnight closes the next day). Absent: every day. */
    days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    timezone: z.string().min(1),
  })
  .strict();
export type DeployedWindow = z.infer<typeof DeployedWindowSchema>;

/**
 * One cross-pipeline dependency as deployed (from `after` and `requires`, defaults filled in): what
 * the upstream's latest ended run must be, how it acts, and how long a start waits for it.
 */
export const DeployedUpstreamSchema = z
  .object({
    pipeline: z.string().min(1),
    on: z.enum(['SUCCESS', 'COMPLETION']),
    mode: z.enum(['trigger', 'gate']),
    maxAgeHours: z.number().positive().optional(),
    timeoutSeconds: z.number().int().min(0),
    /** The datasets this dependency was inferred from (`requires`), sorted; absent for a plain `after`. */
    datasets: z.array(z.string()).min(1).optional(),
  })
  .strict();
export type DeployedUpstream = z.infer<typeof DeployedUpstreamSchema>;

/** How long a start waits for an upstream by default (spec Rule 2's `timeout_seconds: 3600`). */
export const DEFAULT_UPSTREAM_TIMEOUT_SECONDS = 3600;

/**
 * A pipeline's start rules as deployed, each absent when it has its default: no windows (any time),
 * a tolerance of `DEFAULT_TOLERANCE_SECONDS`, no lateness limit, no limit on active runs.
 */
export const StartRulesSchema = z
  .object({
    /** Runs start only inside one of these (spec Rule 17); outside, they are recorded SKIPPED (`OUTSIDE_WINDOW`). */
    windows: z.array(DeployedWindowSchema).min(1).optional(),
    /** A start outside every window waits (PENDING) for the next window's start instead (`outsideWindow: 'defer'`). */
    deferOutsideWindow: z.literal(true).optional(),
    toleranceSeconds: z.number().int().min(0).optional(),
    maxLatenessSeconds: z.number().int().min(0).optional(),
    /** At most this many runs of the pipeline PENDING or RUNNING at once; another is recorded SKIPPED (`ALREADY_RUNNING`, spec Rule 3). */
    maxActiveRuns: z.number().int().min(1).max(MAX_ACTIVE_RUNS_LIMIT).optional(),
    /** With `maxActiveRuns`: a run beyond the limit waits (PENDING) and starts, oldest first, when an active run ends (spec Rule 3, `queue_if_running`), instead of being skipped. */
    queueIfRunning: z.literal(true).optional(),
    /**
     * Catch-up (spec Rule 4): the schedules whose missed times the sweeper starts (as Scheduler has them,
     * with their runs' parameters), at most the last `maxRuns` missed per schedule.
     */
    catchup: z
      .object({
        maxRuns: z.number().int().min(1).max(100),
        schedules: z
          .array(z.object({ ...DeployedScheduleFields, parameters: ParametersSchema.optional() }).strict())
          .min(1),
      })
      .strict()
      .optional(),
    /** The pipelines it depends on (spec Rule 2): checked before the limit on active runs, in the spec's order. */
    upstreams: z.array(DeployedUpstreamSchema).min(1).optional(),
  })
  .strict();
export type StartRules = z.infer<typeof StartRulesSchema>;

/** The deployment's start rules: pipeline id → its rules (a pipeline not in it has the defaults). */
export const StartRulesByPipelineSchema = z.record(z.string(), StartRulesSchema);
export type StartRulesByPipeline = z.infer<typeof StartRulesByPipelineSchema>;
/** The environment variable that carries `StartRulesByPipeline` (JSON). */
export const START_RULES_ENV = 'PHI_START_RULES';

/** The rules a start is checked against, in the spec's evaluation order. */
export const StartRule = {
  /** The spec's `SCHEDULER_ENABLED` (`phi pause`): is the pipeline, or every pipeline, paused? Holds scheduled and event-triggered starts only. */
  PAUSE: 'PAUSE',
  /** Spec Rule 17: is now inside one of the pipeline's execution windows? */
  WINDOW: 'WINDOW',
  /** Spec Rule 1: is a scheduled delivery due, on time, late, or too late? */
  SCHEDULE: 'SCHEDULE',
  /** Spec Rule 2, across pipelines: has each upstream pipeline's latest ended run ended as required, recently enough? */
  DEPENDENCIES: 'DEPENDENCIES',
  /** Spec Rule 3: does the pipeline have room for one more active run? */
  CONCURRENCY: 'CONCURRENCY',
} as const;
export type StartRule = (typeof StartRule)[keyof typeof StartRule];
/** The spec's rule each check applies. */
export const START_RULE_SPEC: Readonly<Record<StartRule, string>> = { PAUSE: 'SCHEDULER_ENABLED', WINDOW: 'Rule 17', SCHEDULE: 'Rule 1', DEPENDENCIES: 'Rule 2', CONCURRENCY: 'Rule 3' };
/**
 * The order the checks are made in: a pause first (nothing of a paused pipeline's schedules and
 * triggers is evaluated further), then the spec's "Rule Evaluation Order": window, schedule,
 * dependencies, skip-if-running.
 */
export const START_RULE_ORDER: readonly StartRule[] = [StartRule.PAUSE, StartRule.WINDOW, StartRule.SCHEDULE, StartRule.DEPENDENCIES, StartRule.CONCURRENCY];

export const CheckOutcome = {
  PASSED: 'PASSED',
  /** The check refused the start: the run is SKIPPED with its reason. */
  FAILED: 'FAILED',
  /** Not applied: the start was forced (`force: true`). */
  BYPASSED: 'BYPASSED',
  /** The pipeline has no such rule, or it does not concern this kind of start. */
  NOT_APPLICABLE: 'NOT_APPLICABLE',
  /** Not met yet: the run waits (DEPENDENCIES within its timeout; CONCURRENCY queued while the pipeline is at its limit). */
  WAITING: 'WAITING',
  /** Not reached: an earlier check refused the start (or, for CONCURRENCY, the active runs were not counted yet). */
  NOT_EVALUATED: 'NOT_EVALUATED',
} as const;
export type CheckOutcome = (typeof CheckOutcome)[keyof typeof CheckOutcome];

/**
 * The starts a pause holds (recorded SKIPPED, `PAUSED`): those no operator asked for, a schedule's and
 * an event trigger's deliveries (and their redeliveries by the sweeper). Starts through the API (a run,
 * a backfill, a dead-letter retry) go on while paused: an operator asked for each, and is audited.
 */
export const PAUSABLE_TRIGGERS: readonly TriggerType[] = [TriggerType.SCHEDULE, TriggerType.EVENT, TriggerType.UPSTREAM, TriggerType.CATCHUP];

/** Why a run was recorded without starting. */
export const StartSkipReason = {
  /** The pipeline (or every pipeline) is paused: a scheduled or event-triggered start is recorded, not run. */
  PAUSED: 'PAUSED',
  OUTSIDE_WINDOW: 'OUTSIDE_WINDOW',
  TOO_LATE: 'TOO_LATE',
  ALREADY_RUNNING: 'ALREADY_RUNNING',
  /** An upstream pipeline was not ready (its latest ended run not as required, or none) within the dependency's timeout. */
  DEPENDENCY_TIMEOUT: 'DEPENDENCY_TIMEOUT',
  /** An upstream's latest ended run was as required but older than `maxAgeHours`, and no fresher one came within the timeout. */
  STALE_UPSTREAM: 'STALE_UPSTREAM',
} as const;
export type StartSkipReason = (typeof StartSkipReason)[keyof typeof StartSkipReason];

export const StartCheckSchema = z.object({
  rule: z.enum(StartRule),
  /** The spec's rule (`Rule 17`). */
  spec: z.string(),
  outcome: z.enum(CheckOutcome),
  /** What was found, for people: `14:05 Tue in Europe/London is inside 06:00–22:00 MON–FRI`. */
  detail: z.string(),
});
export type StartCheck = z.infer<typeof StartCheckSchema>;

/** START: the run starts; SKIP: it is recorded SKIPPED; WAIT: it is recorded PENDING, waiting for its upstream pipelines (until `waitUntil`). */
export const StartDecisionKind = { START: 'START', SKIP: 'SKIP', WAIT: 'WAIT' } as const;
export type StartDecisionKind = (typeof StartDecisionKind)[keyof typeof StartDecisionKind];

/** The decision taken for one start, kept in the run's record (`startDecision`). */
export const StartDecisionSchema = z.object({
  decision: z.enum(StartDecisionKind),
  /** Why the run was skipped (SKIP only). */
  reason: z.enum(StartSkipReason).optional(),
  /** When the rules were evaluated (the instant windows are checked at). */
  evaluatedAt: IsoTimeSchema,
  /** The start was forced: windows were not applied. */
  forced: z.literal(true).optional(),
  /** A scheduled delivery: whether it came later than its tolerance after its scheduled time. */
  late: z.boolean().optional(),
  /** A scheduled delivery: how long after its scheduled time it was evaluated (negative: early). */
  latenessSeconds: z.number().optional(),
  /** With a limit on active runs: the pipeline's other active runs when this one was admitted or refused. */
  activeRuns: z.number().int().min(0).optional(),
  /**
   * Since when the run has waited: with WAIT, on its upstream pipelines (their timeouts count from it) or
   * for its place in the queue (absent while it waits only for its window); with START or SKIP, that it
   * waited before this decision.
   */
  waitingSince: IsoTimeSchema.optional(),
  /** WAIT: when it is evaluated again by its one-time schedule: its upstreams' earliest timeout, or its next window's start. */
  waitUntil: IsoTimeSchema.optional(),
  /** Every rule, in the spec's order, with its outcome. */
  checks: z.array(StartCheckSchema),
});
export type StartDecision = z.infer<typeof StartDecisionSchema>;

/** The environment of the functions that start runs: the role a waiting run's one-time timeout schedule invokes the trigger function with, and that function's ARN (the trigger itself knows its own). */
export const WAIT_CHECK_ENV = { role: 'PHI_WAIT_CHECK_ROLE_ARN', target: 'PHI_WAIT_CHECK_TARGET_ARN' } as const;

/** A waiting run's timeout schedule is named `phi-wait-<hash of the run and time>`, in the default schedule group. */
export const WAIT_CHECK_PREFIX = 'phi-wait-';

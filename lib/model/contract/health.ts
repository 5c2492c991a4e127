/**
 * `GET /health` (`phi health`): the spec's OrchestrationHealthStatus in Phi's terms, and what the
 * control API is told at deploy time to compute it (each pipeline's enabled schedules and its
 * `alarms.maxDataAgeHours`, in `PHI_HEALTH`).
 *
 * Computed from the records with bounded queries: per pipeline, its newest `HEALTH_RUNS_PER_PIPELINE`
 * runs through the history index (and, only when a pipeline with `maxDataAgeHours` has no success
 * among them, one filtered history read for its last success), plus the dead-letter queue's depth.
 *
 * Thresholds (`HEALTH_THRESHOLDS`), each a reason with a stable code; the overall status is the worst:
 *   UNHEALTHY: a pipeline's records could not be read (HEALTH_001); the error rate over the last hour
 *              above 50% (HEALTH_002)
 *   DEGRADED:  the error rate over the last hour above 10% (HEALTH_003); dead letters waiting
 *              (HEALTH_004); the dead-letter queue's depth unreadable (HEALTH_005); a pipeline's data
 *              stale (HEALTH_006); a pipeline's latest ended run FAILED (HEALTH_007)
 * The error rate counts runs, not jobs: FAILED / (SUCCEEDED + FAILED) among the runs that ended in the
 * window (cancelled and skipped runs are an operator's or a start rule's decision, not errors). It
 * decides a status only from `minErrorRateRuns` ended runs up: one failure among two runs is the
 * latest-run and dead-letter reasons' business, not a rate.
 */
import { z } from 'zod';
import { IsoTimeSchema } from './task.ts';
import { RunStatus } from './status.ts';

/** The control API's environment variable holding `HealthConfig` (JSON). */
export const HEALTH_ENV = 'PHI_HEALTH';

/** An enabled schedule as Scheduler has it (no parameters): enough to tell its fire times. */
export const DeployedScheduleFields = {
  id: z.string().min(1),
  cron: z.string().optional(),
  rate: z.string().optional(),
  at: z.string().optional(),
  /** Canonical IANA name; left out for UTC. */
  timezone: z.string().optional(),
  startDate: IsoTimeSchema.optional(),
  endDate: IsoTimeSchema.optional(),
};

/** An enabled schedule as the health check needs it: enough to tell its next fire time. */
export const HealthScheduleSchema = z
  .object(DeployedScheduleFields)
  .strict()
  .refine((s) => [s.cron, s.rate, s.at].filter((v) => v !== undefined).length === 1, 'exactly one of cron, rate or at');
export type HealthSchedule = z.infer<typeof HealthScheduleSchema>;

/** What the health check knows of one pipeline from its plan; a pipeline with neither is left out. */
export const PipelineHealthConfigSchema = z
  .object({
    schedules: z.array(HealthScheduleSchema).optional(),
    maxDataAgeHours: z.number().int().min(1).optional(),
    /** The datasets it provides (`provides`, its jobs' too): each as fresh as its last successful run. */
    provides: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
export type PipelineHealthConfig = z.infer<typeof PipelineHealthConfigSchema>;

/** Pipeline id → what the health check knows of it (`PHI_HEALTH`). */
export const HealthConfigSchema = z.record(z.string(), PipelineHealthConfigSchema);
export type HealthConfig = z.infer<typeof HealthConfigSchema>;

export const HealthStatus = { HEALTHY: 'HEALTHY', DEGRADED: 'DEGRADED', UNHEALTHY: 'UNHEALTHY' } as const;
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

export const DataFreshness = { FRESH: 'fresh', STALE: 'stale', UNKNOWN: 'unknown' } as const;
export type DataFreshness = (typeof DataFreshness)[keyof typeof DataFreshness];

/** Why the status is not HEALTHY: one code per cause. */
export const HealthReasonCode = {
  RECORDS_UNREADABLE: 'HEALTH_001_RECORDS_UNREADABLE',
  ERROR_RATE_CRITICAL: 'HEALTH_002_ERROR_RATE_CRITICAL',
  ERROR_RATE_HIGH: 'HEALTH_003_ERROR_RATE_HIGH',
  DEAD_LETTERS_WAITING: 'HEALTH_004_DEAD_LETTERS_WAITING',
  DEAD_LETTER_QUEUE_UNREADABLE: 'HEALTH_005_DEAD_LETTER_QUEUE_UNREADABLE',
  DATA_STALE: 'HEALTH_006_DATA_STALE',
  LAST_RUN_FAILED: 'HEALTH_007_LAST_RUN_FAILED',
} as const;
export type HealthReasonCode = (typeof HealthReasonCode)[keyof typeof HealthReasonCode];

export const HEALTH_THRESHOLDS = {
  /** Error rate over the last hour above which the deployment is DEGRADED. */
  degradedErrorRate: 0.1,
  /** Error rate over the last hour above which it is UNHEALTHY. */
  unhealthyErrorRate: 0.5,
  /** Ended runs the last hour must hold before its error rate decides a status. */
  minErrorRateRuns: 5,
} as const;

/** Runs read per pipeline (newest first, one history query page). */
export const HEALTH_RUNS_PER_PIPELINE = 50;
/** How far back the success rate and the active executions look. */
export const HEALTH_WINDOW_HOURS = 24;
/** How many of the newest succeeded runs the average duration is taken over. */
export const HEALTH_DURATION_RUNS = 20;

export const HealthReasonSchema = z.object({
  code: z.enum(HealthReasonCode),
  /** The status this reason alone implies. */
  status: z.enum([HealthStatus.DEGRADED, HealthStatus.UNHEALTHY]),
  message: z.string(),
  pipelineId: z.string().optional(),
});
export type HealthReason = z.infer<typeof HealthReasonSchema>;

const RateSchema = z.number().min(0).max(1).nullable();

export const PipelineHealthSchema = z.object({
  pipelineId: z.string(),
  /** Whether its records could be read; when not, the rest says nothing. */
  readable: z.boolean(),
  /** Its newest run (any status), and when it last changed (ended, else started, else queued). */
  lastRun: z.object({ runId: z.string(), status: z.enum(RunStatus), at: IsoTimeSchema }).nullable(),
  /** The earliest next fire time of its enabled schedules (UTC); null without one, or for a rate with no scheduled run yet to count from. */
  nextScheduledTime: IsoTimeSchema.nullable(),
  dataFreshness: z.enum(DataFreshness),
  /** When its last SUCCEEDED run ended. */
  lastSucceededAt: IsoTimeSchema.nullable(),
  /** The datasets it provides, each as fresh as `lastSucceededAt` (absent when it provides none). */
  provides: z.array(z.string()).optional(),
  maxDataAgeHours: z.number().int().optional(),
  /** Mean duration of its newest `HEALTH_DURATION_RUNS` succeeded runs (of those read). */
  averageDurationMs: z.number().int().min(0).nullable(),
  activeExecutions: z.number().int().min(0),
  errorRate1h: RateSchema,
  successRate24h: RateSchema,
  /** Whether its scheduled and event starts are held (`phi pause`, its own or `--all`); null when the pauses could not be read. */
  paused: z.boolean().nullable(),
});
export type PipelineHealth = z.infer<typeof PipelineHealthSchema>;

/** `GET /health` answer (always 200: the status is in the body). */
export const OrchestrationHealthStatusSchema = z.object({
  overallStatus: z.enum(HealthStatus),
  reasons: z.array(HealthReasonSchema),
  checkedAt: IsoTimeSchema,
  /** The spec's component statuses, in Phi's parts: Step Functions and Scheduler are AWS's; these are Phi's own. */
  components: z.object({ records: z.enum(['OK', 'UNREADABLE']), deadLetterQueue: z.enum(['OK', 'UNREADABLE']) }),
  /** Runs PENDING or RUNNING (among each pipeline's newest runs read). */
  activeExecutions: z.number().int().min(0),
  /** Runs PENDING: recorded and admitted, their execution not running yet (Phi queues runs, not jobs). */
  queuedRuns: z.number().int().min(0),
  /** FAILED / (SUCCEEDED + FAILED) of the runs that ended in the last hour; null when none did. */
  errorRate1h: RateSchema,
  /** SUCCEEDED / (SUCCEEDED + FAILED) of the runs that ended in the last 24 hours; null when none did. */
  successRate24h: RateSchema,
  endedRuns1h: z.number().int().min(0),
  endedRuns24h: z.number().int().min(0),
  /** Messages in the dead-letter queue (visible and in flight); null when its depth could not be read. */
  deadLettersWaiting: z.number().int().min(0).nullable(),
  pipelines: z.array(PipelineHealthSchema),
  /** What `phi pause` holds: every pipeline (`all`), and the pipelines paused on their own; null when the pauses could not be read. */
  paused: z.object({ all: z.boolean(), pipelines: z.array(z.string()) }).nullable(),
  /** The bounds the answer was computed within. */
  window: z.object({ runsPerPipeline: z.number().int(), hours: z.number().int() }),
});
export type OrchestrationHealthStatus = z.infer<typeof OrchestrationHealthStatusSchema>;

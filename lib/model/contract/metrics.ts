/**
 * Phi's metrics: the names and units the functions emit (CloudWatch embedded metric format, namespace
 * `Phi`) and the alarms and dashboard read. The one place they are written.
 *
 * Dimensions: `pipeline` on every run and job metric; `pipeline` and `job` on `JobDuration`.
 * The spec's names map onto them (README, "Metrics"): `phi_execution_errors` → `JobsFailed`,
 * `phi_dead_letter` → `DeadLetters`, `phi_retries_total` → `JobRetries`, `phi_error_rate` → the
 * average of `JobFailure`, `phi_scheduling_errors` → `RunsSkipped` (with the
 * reason in the run record).
 */
import { JobStatus, RunStatus } from './status.ts';
import type { RunRecord } from './records.ts';

export const METRICS_NAMESPACE = 'Phi';
export const METRIC_DIMENSIONS = { pipeline: 'pipeline', job: 'job' } as const;

export const MetricUnit = { Count: 'Count', Milliseconds: 'Milliseconds', Seconds: 'Seconds' } as const;
export type MetricUnit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Every metric Phi emits, with its unit. */
export const METRICS = {
  /** A run's execution started (the recorder's first step). */
  RunsStarted: MetricUnit.Count,
  RunsSucceeded: MetricUnit.Count,
  RunsFailed: MetricUnit.Count,
  RunsCancelled: MetricUnit.Count,
  /** A start the start rules refused (outside its window, too late, already running): counted by the start. */
  RunsSkipped: MetricUnit.Count,
  /** From a run's start to its end. */
  RunDuration: MetricUnit.Milliseconds,
  /** From a run's record (its trigger) to its execution's start. */
  RunQueueTime: MetricUnit.Milliseconds,
  /** How each of a run's jobs ended, counted at the run's end. */
  JobsSucceeded: MetricUnit.Count,
  JobsFailed: MetricUnit.Count,
  JobsSkipped: MetricUnit.Count,
  JobsCancelled: MetricUnit.Count,
  /**
   * One sample per job that ended SUCCEEDED (0) or FAILED (1), emitted at the run's end: its average
   * over any window is failed jobs over ended jobs, the error rate (`phi_error_rate`).
   */
  JobFailure: MetricUnit.Count,
  /** Attempts beyond each job's first, over a run. */
  JobRetries: MetricUnit.Count,
  /** Jobs that failed for good: one dead letter each. */
  DeadLetters: MetricUnit.Count,
  /** One attempt of one job, from its start to its end (dimensions pipeline and job). */
  JobDuration: MetricUnit.Milliseconds,
  /** How long after its scheduled time a scheduled delivery was taken. */
  ScheduleLateness: MetricUnit.Seconds,
} as const;
export type MetricName = keyof typeof METRICS;

/** What a run's start counts: it started, after so long in the queue. */
export function runStartMetrics(run: Pick<RunRecord, 'queuedAt' | 'startedAt'>): Partial<Record<MetricName, number>> {
  const queued = run.startedAt ? Date.parse(run.startedAt) - Date.parse(run.queuedAt) : undefined;
  return { RunsStarted: 1, ...(queued !== undefined && queued >= 0 ? { RunQueueTime: queued } : {}) };
}

/** The run's `JobFailure` samples: 1 for each job that failed, 0 for each that succeeded (skipped and cancelled jobs ended neither way). */
export function jobFailureSamples(run: Pick<RunRecord, 'jobs'>): number[] {
  return Object.values(run.jobs ?? {}).flatMap((j) => (j.status === JobStatus.FAILED ? [1] : j.status === JobStatus.SUCCEEDED ? [0] : []));
}

/** What an ended run counts: its outcome, its duration, and how its jobs ended (from its summary). */
export function runEndMetrics(run: Pick<RunRecord, 'status' | 'startedAt' | 'completedAt' | 'jobs'>): Partial<Record<MetricName, number>> {
  const jobs = Object.values(run.jobs ?? {});
  const count = (status: JobStatus): number => jobs.filter((j) => j.status === status).length;
  const duration = run.startedAt && run.completedAt ? Date.parse(run.completedAt) - Date.parse(run.startedAt) : undefined;
  return {
    RunsSucceeded: run.status === RunStatus.SUCCEEDED ? 1 : 0,
    RunsFailed: run.status === RunStatus.FAILED ? 1 : 0,
    RunsCancelled: run.status === RunStatus.CANCELLED ? 1 : 0,
    ...(duration !== undefined && duration >= 0 ? { RunDuration: duration } : {}),
    JobsSucceeded: count(JobStatus.SUCCEEDED),
    JobsFailed: count(JobStatus.FAILED),
    JobsSkipped: count(JobStatus.SKIPPED),
    JobsCancelled: count(JobStatus.CANCELLED),
    JobRetries: jobs.reduce((sum, j) => sum + Math.max(0, (j.attempts ?? 0) - 1), 0),
    DeadLetters: count(JobStatus.FAILED),
  };
}

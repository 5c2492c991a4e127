/**
 * A pipeline's alarms as deployed: the definition's `alarms` with their defaults (a run failed: on;
 * the rest: off), each becoming one CloudWatch alarm on the pipeline's metrics
 * (`lib/model/contract/metrics.ts`) that notifies the platform's alarm topic.
 */
import type { Pipeline } from '../model/pipeline.ts';

/** @default errorRate.windowMinutes */
export const ERROR_RATE_WINDOW_MINUTES = 60;

export interface ResolvedAlarms {
  readonly runFailed: boolean;
  readonly maxDurationMinutes?: number;
  readonly maxDataAgeHours?: number;
  readonly errorRate?: { readonly threshold: number; readonly windowMinutes: number };
}

export function resolveAlarms(alarms: Pipeline['alarms']): ResolvedAlarms {
  return {
    runFailed: alarms?.runFailed ?? true,
    ...(alarms?.maxDurationMinutes !== undefined ? { maxDurationMinutes: alarms.maxDurationMinutes } : {}),
    ...(alarms?.maxDataAgeHours !== undefined ? { maxDataAgeHours: alarms.maxDataAgeHours } : {}),
    ...(alarms?.errorRate !== undefined ? { errorRate: { threshold: alarms.errorRate.threshold, windowMinutes: alarms.errorRate.windowMinutes ?? ERROR_RATE_WINDOW_MINUTES } } : {}),
  };
}

/** How many alarms (one CloudWatch resource each) the pipeline's stack holds. */
export const alarmCount = (alarms: ResolvedAlarms): number =>
  (alarms.runFailed ? 1 : 0) + (alarms.maxDurationMinutes !== undefined ? 1 : 0) + (alarms.maxDataAgeHours !== undefined ? 1 : 0) + (alarms.errorRate !== undefined ? 1 : 0);

/**
 * CloudWatch's look-back for "no run succeeded for `hours`": periods of at most a day (an alarm's
 * period), as many as cover the hours, each a whole number of minutes.
 */
export function stalenessWindow(hours: number): { periodMinutes: number; evaluationPeriods: number } {
  const evaluationPeriods = Math.ceil(hours / 24);
  return { periodMinutes: Math.ceil((hours * 60) / evaluationPeriods), evaluationPeriods };
}

/**
 * What the control API's health check needs of the plan (`PHI_HEALTH`: each pipeline's enabled
 * schedules and `alarms.maxDataAgeHours`); the API tells their next fire times with
 * `schedule/next.ts`. Pure.
 */
import type { HealthConfig, HealthSchedule, PipelineHealthConfig } from '../model/contract/health.ts';
import type { PipelinePlan } from './types.ts';

const KINDS = ['cron', 'rate', 'at'] as const;

/** One pipeline's health config: its enabled (deployed `ENABLED`) schedules and its data age; `undefined` when it has neither. */
export function pipelineHealthConfig(pipeline: Pick<PipelinePlan, 'schedules' | 'alarms'> & { readonly provides?: readonly string[] }): PipelineHealthConfig | undefined {
  const schedules = pipeline.schedules.flatMap((s): HealthSchedule[] => {
    if (s.state !== 'ENABLED') return [];
    // `source` is what the user wrote: `cron: 0 19 * * 1-5`, `rate: 15 minutes`, `at: 2026-12-01T09:00`.
    const kind = KINDS.find((k) => s.source.startsWith(`${k}: `));
    if (kind === undefined) return [];
    return [{ id: s.id, [kind]: s.source.slice(kind.length + 2), ...(s.timezone !== 'UTC' ? { timezone: s.timezone } : {}), ...(s.startDate !== undefined ? { startDate: s.startDate } : {}), ...(s.endDate !== undefined ? { endDate: s.endDate } : {}) }];
  });
  const config: PipelineHealthConfig = {
    ...(schedules.length > 0 ? { schedules } : {}),
    ...(pipeline.alarms.maxDataAgeHours !== undefined ? { maxDataAgeHours: pipeline.alarms.maxDataAgeHours } : {}),
    ...(pipeline.provides !== undefined && pipeline.provides.length > 0 ? { provides: [...pipeline.provides] } : {}),
  };
  return Object.keys(config).length > 0 ? config : undefined;
}

/** The deployment's health config: the pipelines that have something to say. */
export function healthConfig(pipelines: readonly (Pick<PipelinePlan, 'id' | 'schedules' | 'alarms'> & { readonly provides?: readonly string[] })[]): HealthConfig {
  return Object.fromEntries(pipelines.flatMap((p) => {
    const config = pipelineHealthConfig(p);
    return config === undefined ? [] : [[p.id, config]];
  }));
}

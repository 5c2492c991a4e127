/**
 * The critical path as runs really go: the plan's graph weighed with each job's observed durations
 * (median and p95 of its successful attempts, `GET /pipelines/{id}/durations`) instead of its timeout,
 * and what each job on that path would save if it took no time at all. Pure.
 */
import type { JobDurations } from '../model/contract/index.ts';
import { criticalPath, type GraphNode } from './graph.ts';
import type { PipelinePlan } from './types.ts';

export interface ObservedPath {
  readonly path: readonly string[];
  /** The makespan it stands for, in milliseconds. */
  readonly ms: number;
}

export interface ObservedPlan {
  readonly pipelineId: string;
  /** The runs the durations come from. */
  readonly runs: number;
  /** Expected makespan and its chain, with median durations and with p95 durations. */
  readonly median: ObservedPath;
  readonly p95: ObservedPath;
  /** Jobs that never succeeded in those runs: weighed with their timeout. */
  readonly unobserved: readonly string[];
  /** For each job on the median critical path: how many milliseconds the median makespan would drop if it took none. */
  readonly savings: readonly { readonly job: string; readonly ms: number }[];
}

export function observedCriticalPath(plan: PipelinePlan, durations: { readonly runs: number; readonly jobs: Readonly<Record<string, JobDurations>> }): ObservedPlan {
  const enabled = plan.jobs.filter((j) => j.enabled);
  const own = (id: string): JobDurations | undefined => (Object.prototype.hasOwnProperty.call(durations.jobs, id) ? durations.jobs[id] : undefined);
  const nodes = (weight: (id: string, timeoutMs: number) => number): GraphNode[] => enabled.map((j) => ({ id: j.id, dependsOn: j.dependsOn, weight: weight(j.id, j.timeoutSeconds * 1000) }));
  const median = criticalPath(nodes((id, timeout) => own(id)?.medianMs ?? timeout));
  const p95 = criticalPath(nodes((id, timeout) => own(id)?.p95Ms ?? timeout));
  const savings = median.path.map((job) => ({ job, ms: median.weight - criticalPath(nodes((id, timeout) => (id === job ? 0 : (own(id)?.medianMs ?? timeout)))).weight }));
  return {
    pipelineId: plan.id,
    runs: durations.runs,
    median: { path: median.path, ms: median.weight },
    p95: { path: p95.path, ms: p95.weight },
    unobserved: enabled.filter((j) => own(j.id) === undefined).map((j) => j.id),
    savings,
  };
}

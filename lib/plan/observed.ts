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

/** One dataset's freshness as the deployment's records tell it (`phi plan --observed`). */
export interface DatasetFreshness {
  readonly dataset: string;
  readonly provider: string;
  /** When its provider's last successful run ended; null when it has none. */
  readonly lastSucceededAt: string | null;
  /** For each pipeline that requires it with a maximum age: whether it is fresh enough for it now. */
  readonly consumers: readonly { readonly pipelineId: string; readonly maxAgeHours?: number; readonly fresh: boolean }[];
}

/** Each provided dataset with its provider's last success, and whether it is fresh enough for each pipeline that requires it. */
export function datasetFreshness(plan: { readonly pipelines: readonly Pick<PipelinePlan, 'id' | 'provides' | 'startRules'>[] }, lastSucceededAt: ReadonlyMap<string, string | null>, now: Date): DatasetFreshness[] {
  const out: DatasetFreshness[] = [];
  for (const provider of plan.pipelines) {
    for (const dataset of provider.provides ?? []) {
      const last = lastSucceededAt.get(provider.id) ?? null;
      const consumers = plan.pipelines.flatMap((p) =>
        (p.startRules?.upstreams ?? [])
          .filter((u) => u.pipeline === provider.id && (u.datasets ?? []).includes(dataset))
          .map((u) => ({
            pipelineId: p.id,
            ...(u.maxAgeHours !== undefined ? { maxAgeHours: u.maxAgeHours } : {}),
            fresh: last === null ? false : u.maxAgeHours === undefined ? true : now.getTime() - Date.parse(last) <= u.maxAgeHours * 3_600_000,
          })),
      );
      out.push({ dataset, provider: provider.id, lastSucceededAt: last, consumers });
    }
  }
  return out.sort((a, b) => (a.dataset < b.dataset ? -1 : a.dataset > b.dataset ? 1 : 0));
}

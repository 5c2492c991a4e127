/**
 * How long each job of a pipeline really takes: the durations of its successful attempts over the
 * pipeline's last succeeded runs, as median and p95. `phi plan --observed` weighs the graph with them.
 */
import { JobStatus, RunStatus, type DurationsResponse, type JobDurations } from '../../lib/model/contract/index.ts';
import type { RecordStore } from '../shared/records/store.ts';

/** The nearest-rank percentile `p` (0–100) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(samples: readonly number[]): JobDurations {
  const sorted = [...samples].sort((a, b) => a - b);
  return { samples: sorted.length, medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95) };
}

/** Runs looked at, at most: the history index is read newest first until this many have succeeded. */
export const MAX_OBSERVED_RUNS = 100;

export async function observedDurations(pipelineId: string, runs: number, store: Pick<RecordStore, 'listRuns' | 'listAttempts'>): Promise<DurationsResponse> {
  const wanted = Math.max(1, Math.min(runs, MAX_OBSERVED_RUNS));
  const succeeded = (await store.listRuns(pipelineId, MAX_OBSERVED_RUNS)).filter((r) => r.status === RunStatus.SUCCEEDED).slice(0, wanted);
  const samples = new Map<string, number[]>();
  for (const run of succeeded) {
    for (const attempt of await store.listAttempts(run.runId)) {
      // A reused attempt (a retry from the failed jobs) took no time: the job did not run.
      if (attempt.status !== JobStatus.SUCCEEDED || attempt.durationMs === undefined || attempt.reusedFrom !== undefined) continue;
      (samples.get(attempt.jobId) ?? samples.set(attempt.jobId, []).get(attempt.jobId)!).push(attempt.durationMs);
    }
  }
  return { pipelineId, runs: succeeded.length, jobs: Object.fromEntries([...samples].sort(([a], [b]) => a.localeCompare(b)).map(([job, ms]) => [job, summarize(ms)])) };
}

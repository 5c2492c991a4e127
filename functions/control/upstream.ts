/**
 * Cross-pipeline dependencies at run time (issue #9). Each dependency of a pipeline on another is one
 * EventBridge rule on the default bus, matching the upstream's `Phi Run Ended` events in the required
 * states (see the pipeline construct); the trigger function gets each match here:
 * - a `trigger` dependency starts one run of the pipeline per upstream run (trigger `UPSTREAM`, the
 *   upstream's run id its identity, the upstream run in its `event` parameter);
 * - either kind evaluates the pipeline's runs waiting for their upstreams again, with this end;
 * - a pipeline that queues the runs beyond its limit (`whenRunning: 'queue'`) has such a rule on its own
 *   runs' ends (`gate`, upstream itself): each end evaluates its queued runs again, oldest first.
 * A run waiting for its upstreams is also evaluated again when its timeout comes (a one-time
 * EventBridge Scheduler schedule, `{ waitCheck: { runId } }`) and by the sweeper: no polling loop.
 */
import { z } from 'zod';
import { JobStatus, RunStatus, TriggerType, type RunRecord } from '../../lib/model/contract/index.ts';
import { PhiError } from '../../lib/model/errors.ts';
import { latestByJob } from '../shared/records/store.ts';
import type { JsonValue } from '../../lib/model/pipeline.ts';
import { resumeWaitingRun, runIdFor, startRun, type RunRequest, type TriggerDeps } from './trigger.ts';

/** A dependency rule's input: the pipeline that depends, the upstream, how it depends, and the upstream's whole `Phi Run Ended` event. */
export const UpstreamEndedDeliverySchema = z.object({
  pipelineId: z.string(),
  upstream: z.string(),
  mode: z.enum(['trigger', 'gate']),
  /** What the dependency needs of the upstream run (its rule matches only those states). @default SUCCESS */
  on: z.enum(['SUCCESS', 'COMPLETION']).default('SUCCESS'),
  event: z
    .object({
      id: z.string().min(1),
      source: z.string(),
      'detail-type': z.string(),
      // Read loosely: a later version of the event may add fields.
      detail: z.object({ runId: z.string(), pipelineId: z.string(), status: z.enum(RunStatus), completedAt: z.string(), scheduledTime: z.string().optional() }).loose(),
    })
    .loose(),
});
export type UpstreamEndedDelivery = z.infer<typeof UpstreamEndedDeliverySchema>;

export interface UpstreamEndedResult {
  /** The run a `trigger` dependency started (or found: the same upstream run delivered again). */
  readonly started?: { readonly runId: string; readonly created: boolean; readonly status: RunStatus };
  /** The waiting runs evaluated again, with what they became. */
  readonly resumed: readonly { readonly runId: string; readonly status: RunStatus }[];
}

/**
 * The outputs of an upstream run's succeeded jobs (each job's last attempt), job id → outputs; a job
 * whose outputs were too large for its record is `{ outputsRef: { bucket, key, bytes } }` (in the
 * platform's outputs bucket, under the upstream pipeline's prefix).
 */
export async function upstreamOutputs(runId: string, deps: Pick<TriggerDeps, 'store'>): Promise<{ [jobId: string]: JsonValue }> {
  const outputs: { [jobId: string]: JsonValue } = {};
  for (const [jobId, attempt] of [...latestByJob(await deps.store.listAttempts(runId))].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (attempt.status !== JobStatus.SUCCEEDED) continue;
    if (attempt.outputs !== undefined) outputs[jobId] = attempt.outputs as JsonValue;
    else if (attempt.outputsRef !== undefined) outputs[jobId] = { outputsRef: attempt.outputsRef };
  }
  return outputs;
}

/**
 * The run an upstream's end starts (a `trigger` dependency): trigger UPSTREAM, one per upstream run,
 * the upstream run (and its jobs' outputs, when given) as its `event` parameter.
 */
export function upstreamRunRequest(delivery: UpstreamEndedDelivery, outputs?: { [jobId: string]: JsonValue }): RunRequest {
  const { detail } = delivery.event;
  const eventParameter: { [key: string]: JsonValue } = {
    type: 'upstream',
    pipelineId: delivery.upstream,
    runId: detail.runId,
    status: detail.status,
    completedAt: detail.completedAt,
    ...(detail.scheduledTime !== undefined ? { scheduledTime: detail.scheduledTime } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
  };
  return {
    pipelineId: delivery.pipelineId,
    trigger: TriggerType.UPSTREAM,
    upstreamRun: { pipelineId: delivery.upstream, runId: detail.runId, status: detail.status, completedAt: detail.completedAt },
    eventParameter,
  };
}

/** One upstream run's end, for one dependent pipeline: its triggered run (a `trigger` dependency), then its waiting runs evaluated again. */
export async function deliverUpstreamEnded(delivery: UpstreamEndedDelivery, deps: TriggerDeps): Promise<UpstreamEndedResult> {
  if (delivery.event.detail.pipelineId !== delivery.upstream) throw new PhiError('TRIG_005_WRONG_UPSTREAM', `the event is of pipeline ${delivery.event.detail.pipelineId}, not of ${delivery.upstream}: the dependency's rule delivered another pipeline's run`);
  // Anyone may put an event with source "phi" on the default bus: what counts is the run's record.
  const recorded = await deps.store.getRun(delivery.event.detail.runId);
  const ended = recorded !== undefined && recorded.pipelineId === delivery.upstream && recorded.completedAt !== undefined && [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED].includes(recorded.status as never);
  if (!ended) {
    deps.log.warn('an upstream run end its records do not show: ignored', { pipelineId: delivery.pipelineId, upstream: delivery.upstream, upstreamRunId: delivery.event.detail.runId, eventId: delivery.event.id });
    return { resumed: [] };
  }
  const verified: UpstreamEndedDelivery = { ...delivery, event: { ...delivery.event, detail: { ...delivery.event.detail, status: recorded.status, completedAt: recorded.completedAt! } } };
  let req = upstreamRunRequest(verified);
  let started: UpstreamEndedResult['started'];
  // A trigger dependency starts on the states it names only (its rule's pattern says so too).
  if (delivery.mode === 'trigger' && (recorded.status === RunStatus.SUCCEEDED || delivery.on === 'COMPLETION')) {
    req = upstreamRunRequest(verified, await upstreamOutputs(recorded.runId, deps));
    const { created, run } = await startRun(req, deps);
    started = { runId: run.runId, created, status: run.status };
  }
  const resumed: { runId: string; status: RunStatus }[] = [];
  // Oldest first: a queued run ahead of another is admitted first.
  const waiting = (await Promise.all((await deps.store.listWaiting(delivery.pipelineId)).filter((id) => id !== started?.runId).map((id) => deps.store.getRun(id))))
    .filter((run): run is RunRecord => run !== undefined)
    .sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0));
  for (const { runId } of waiting) {
    const run = await resumeWaitingRun(runId, deps, req.upstreamRun);
    resumed.push({ runId, status: run.status });
    // Still queued behind the limit: every younger waiting run would queue behind it, so none is evaluated (each would read the whole queue again).
    if (run.status === RunStatus.PENDING && run.startDecision?.checks.some((c) => c.rule === 'CONCURRENCY' && c.outcome === 'WAITING')) break;
  }
  deps.log.info('upstream run ended', { pipelineId: delivery.pipelineId, upstream: delivery.upstream, upstreamRunId: delivery.event.detail.runId, status: delivery.event.detail.status, ...(started ? { started: started.runId } : {}), resumed: resumed.length });
  return { ...(started ? { started } : {}), resumed };
}

/** How far back the sweeper looks for upstream runs whose end started nothing (a lost `Phi Run Ended`). */
export const MISSED_ENDS_WINDOW_SECONDS = 2 * 3600;
/** An upstream run's end counts as missed only this long after it: its event is delivered first. */
export const MISSED_ENDS_GRACE_SECONDS = 300;

/**
 * The sweeper's backstop for `trigger` dependencies: the recorder publishes each run's end at least
 * once, but a publish that failed would leave a dependent never started. Each upstream run that ended
 * as required between `MISSED_ENDS_WINDOW_SECONDS` and `MISSED_ENDS_GRACE_SECONDS` ago, and whose
 * triggered run does not exist, is delivered now as its event would have been (the same run identity,
 * so an event that comes after all is that run). Answers the runs it started.
 */
export async function deliverMissedEnds(deps: TriggerDeps): Promise<string[]> {
  const now = (deps.now ?? (() => new Date()))();
  const started: string[] = [];
  for (const [pipelineId, rules] of deps.startRules ?? []) {
    for (const upstream of (rules.upstreams ?? []).filter((u) => u.mode === 'trigger')) {
      const { runs } = await deps.store.listRunHistory(upstream.pipeline, { limit: 50 });
      for (const run of runs) {
        const age = now.getTime() - Date.parse(run.completedAt ?? '');
        const asRequired = run.status === RunStatus.SUCCEEDED || (upstream.on === 'COMPLETION' && (run.status === RunStatus.FAILED || run.status === RunStatus.CANCELLED));
        if (!asRequired || !(age >= MISSED_ENDS_GRACE_SECONDS * 1000 && age <= MISSED_ENDS_WINDOW_SECONDS * 1000)) continue;
        const delivery: UpstreamEndedDelivery = {
          pipelineId,
          upstream: upstream.pipeline,
          mode: 'trigger',
          on: upstream.on,
          event: { id: `sweeper-${run.runId}`, source: 'phi', 'detail-type': 'Phi Run Ended', detail: { runId: run.runId, pipelineId: upstream.pipeline, status: run.status, completedAt: run.completedAt! } },
        };
        if ((await deps.store.getRun(runIdFor(upstreamRunRequest(delivery), now))) !== undefined) continue;
        const result = await deliverUpstreamEnded(delivery, deps);
        if (result.started?.created) started.push(result.started.runId);
        deps.log.warn('an upstream run’s end had started nothing: delivered by the sweeper', { pipelineId, upstream: upstream.pipeline, upstreamRunId: run.runId, ...(result.started ? { runId: result.started.runId } : {}) });
      }
    }
  }
  return started;
}

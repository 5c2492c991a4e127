/**
 * Catch-up (spec Rule 4), run by the sweeper: for each pipeline with `catchup`, each schedule's fire
 * times since its last recorded scheduled run (or, with none, since its `startDate`) that have no run,
 * at most the last `maxRuns`, started oldest first with trigger CATCHUP (a paused pipeline's once it is resumed). Each run has the identity the
 * schedule's delivery of that time would have, so a delivery that comes after all (Scheduler retries
 * for an hour) is the same run, never a second one; and a time whose run exists is never started again.
 */
import { latestFireTimes } from '../../lib/plan/schedule/backfill.ts';
import { TriggerType, type RunRecord } from '../../lib/model/contract/index.ts';
import { describeError } from '../../lib/model/errors.ts';
import { pauseOf } from '../../lib/model/start-rules.ts';
import { runIdFor, startRun, type RunRequest, type TriggerDeps } from './trigger.ts';

/** A fire time counts as missed only this long after it: its own delivery is recorded first. */
export const CATCHUP_GRACE_SECONDS = 120;

/** The runs catch-up started (or found started by a delivery meanwhile), per pipeline and schedule. */
export interface CatchUpResult {
  readonly started: readonly string[];
  /** Schedules whose missed times could not be listed, with why (logged; the next sweep tries again). */
  readonly refused: readonly string[];
}

export async function catchUp(deps: TriggerDeps): Promise<CatchUpResult> {
  const now = (deps.now ?? (() => new Date()))();
  const until = new Date(now.getTime() - CATCHUP_GRACE_SECONDS * 1000);
  const started: string[] = [];
  const refused: string[] = [];
  const pauses = await deps.store.getPauses();
  for (const [pipelineId, rules] of deps.startRules ?? []) {
    if (rules.catchup === undefined || !deps.stateMachines.has(pipelineId)) continue;
    // Paused: nothing is caught up (nor recorded) until it is resumed; then what it missed is.
    if (pauseOf(pauses, pipelineId) !== undefined) continue;
    for (const schedule of rules.catchup.schedules) {
      const last = await deps.store.lastScheduledTime(pipelineId, schedule.id);
      const since = last ?? (schedule.startDate !== undefined ? new Date(Date.parse(schedule.startDate) - 1).toISOString() : undefined);
      // Never recorded and no start date: nothing says when it began missing times.
      if (since === undefined) continue;
      const missed = latestFireTimes(schedule, new Date(since), until, rules.catchup.maxRuns);
      if (!missed.ok) {
        refused.push(`${pipelineId}/${schedule.id}: ${missed.message}`);
        deps.log.warn('catch-up: the missed times of a schedule could not be listed', { pipelineId, scheduleId: schedule.id, code: missed.code, message: missed.message });
        continue;
      }
      for (const scheduledTime of missed.times) {
        const req: RunRequest = { pipelineId, trigger: TriggerType.CATCHUP, scheduledTime: new Date(scheduledTime).toISOString(), scheduleId: schedule.id, ...(schedule.parameters !== undefined ? { parameters: schedule.parameters } : {}) };
        // Its delivery, or an earlier sweep, recorded it: not missed.
        if ((await deps.store.getRun(runIdFor(req, now))) !== undefined) continue;
        try {
          const { run }: { run: RunRecord } = await startRun(req, deps);
          started.push(run.runId);
          deps.log.info('catch-up: a missed scheduled time started', { pipelineId, scheduleId: schedule.id, scheduledTime: req.scheduledTime, runId: run.runId, status: run.status });
        } catch (err) {
          refused.push(`${pipelineId}/${schedule.id}@${req.scheduledTime}: ${describeError(err)}`);
          deps.log.warn('catch-up: a missed scheduled time could not be started', { pipelineId, scheduleId: schedule.id, scheduledTime: req.scheduledTime, error: describeError(err) });
          break;
        }
      }
    }
  }
  return { started, refused };
}

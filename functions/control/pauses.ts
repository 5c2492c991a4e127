/**
 * Pause and resume without a deploy (the spec's `SCHEDULER_ENABLED`, its `PAUSE_SCHEDULING` emergency
 * action), and the audit log of operator actions, for the control API.
 *
 * One mechanism: a flag in the records table (`recordKeys.pauses`) that every start reads before its
 * start rules decide it (`evaluateStart`'s first check, `PAUSE`). A paused pipeline's scheduled and
 * event-triggered deliveries still reach the trigger function and are recorded SKIPPED, reason
 * `PAUSED` (so `phi history` shows each one and nothing is lost silently); starts through the API go
 * on. The deployed Scheduler schedules and EventBridge rules are never changed: that would need
 * `scheduler:UpdateSchedule` and `events:DisableRule` on the pipeline stacks' resources, drift from
 * their CloudFormation templates (a redeploy would silently resume them) and could not pause a
 * pipeline deployed later.
 */
import { randomBytes } from 'node:crypto';
import { ALL_PIPELINES, AuditAction, type AuditRecord, type AuditResponse, type PauseFlag, type Pauses, type PauseState } from '../../lib/model/contract/index.ts';
import type { Logger } from '../shared/log.ts';
import type { RecordStore } from '../shared/records/store.ts';
import { describeError } from '../../lib/model/errors.ts';

/** What pause, resume and the audit log need of the records table. */
export type AuditStore = Pick<RecordStore, 'getPauses' | 'setPause' | 'appendAudit' | 'listAudit'>;

export interface PauseDeps {
  readonly store: Pick<RecordStore, 'getPauses' | 'setPause'>;
  readonly now?: () => Date;
}

export interface AuditDeps {
  readonly store: Pick<RecordStore, 'appendAudit'>;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** A new audit record's id: random, so two records of one instant never collide. */
export const newAuditId = (): string => randomBytes(8).toString('hex');

/** The pause state of `pipelineId` (or of the deployment, `*`) as the pauses stand. */
export function pauseStateOf(pauses: Pauses, pipelineId: string): PauseState {
  const own = pipelineId === ALL_PIPELINES || !Object.hasOwn(pauses.pipelines, pipelineId) ? undefined : pauses.pipelines[pipelineId];
  return {
    pipelineId,
    paused: pauses.all !== undefined || own !== undefined,
    ...(own !== undefined ? { pipeline: own } : {}),
    ...(pauses.all !== undefined ? { all: pauses.all } : {}),
  };
}

/** The pause state of `pipelineId` (or `*`) now. */
export async function readPauseState(pipelineId: string, deps: Pick<PauseDeps, 'store'>): Promise<PauseState> {
  return pauseStateOf(await deps.store.getPauses(), pipelineId);
}

/**
 * Pauses or resumes `pipeline` (`*`: the global pause, independent of each pipeline's own), with its
 * audit record in the same transaction. Answers the state it left.
 */
export async function setPaused(pipeline: string, paused: boolean, by: string, reason: string | undefined, deps: PauseDeps): Promise<PauseState> {
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const flag: PauseFlag | undefined = paused ? { by, at, ...(reason !== undefined ? { reason } : {}) } : undefined;
  const audit: AuditRecord = { id: newAuditId(), action: paused ? AuditAction.PAUSE : AuditAction.RESUME, pipeline, by, at, ...(reason !== undefined ? { reason } : {}) };
  await deps.store.setPause(pipeline, flag, audit);
  return readPauseState(pipeline, deps);
}

/**
 * Writes the audit record of an action that has taken effect (a start, a cancel, a retry, a purge).
 * A failure to write it is logged (`audit record not written`) and does not fail the action, which has
 * happened: API Gateway's access log keeps the caller and route of every request besides.
 */
export async function recordAction(entry: Omit<AuditRecord, 'id' | 'at'>, deps: AuditDeps): Promise<void> {
  const record: AuditRecord = { ...entry, id: newAuditId(), at: (deps.now ?? (() => new Date()))().toISOString() };
  try {
    await deps.store.appendAudit(record);
  } catch (err) {
    deps.log.error('audit record not written', { audit: record, error: describeError(err) });
  }
}

/** The newest audit records (`GET /audit`). */
export async function listAudit(query: { readonly pipeline?: string; readonly limit: number }, deps: { readonly store: Pick<RecordStore, 'listAudit'>; readonly now?: () => Date }): Promise<AuditResponse> {
  return deps.store.listAudit(query, (deps.now ?? (() => new Date()))().toISOString());
}

/**
 * Starting runs: the one core behind every trigger (API, schedule). A run has a deterministic id when
 * it can (idempotency key, scheduled time), its record is created once, and its execution is named by
 * the run id, so starting the same run twice yields one execution (Step Functions keeps execution
 * names unique for 90 days). Every start is first decided by its pipeline's start rules (windows,
 * lateness, active runs: `evaluateStart`); one they refuse is recorded SKIPPED with the reason and
 * never executed; so is a scheduled or event-triggered start of a paused pipeline (`phi pause`, reason
 * `PAUSED`). A start whose upstream pipelines are not ready (spec Rule 2), or that is queued behind
 * the pipeline's active runs (`queue_if_running`, Rule 3), is recorded PENDING with decision WAIT and no
 * execution, and evaluated again by the runs' ends, its timeout's one-time schedule and the sweeper
 * (`resumeWaitingRun`); so is one outside its windows with `outsideWindow: 'defer'`, until the next opens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { canonicalJson, jsonBytes } from '../../lib/model/canonical.ts';
import { ApiErrorCode, MAX_RUN_PARAMETERS_BYTES, RUN_START_FAILED, runIdPrefix, RunStatus, TriggerType, type RetryOf, type RunInput, type RunRecord } from '../../lib/model/contract/index.ts';
import { ConfigurationError, PhiError, describeError } from '../../lib/model/errors.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import { DEFAULT_SCHEDULE_ID, EVENT_PARAMETER, JsonValueSchema, ParametersSchema, ScheduleIdSchema, TriggerIdSchema, type JsonValue, type Parameters } from '../../lib/model/pipeline.ts';
import { checkRunParameters, RUN_PARAMETERS_ENV, RunParameterSchemasSchema, type JsonSchema, type RunParameterIssue } from '../../lib/model/run-parameters.ts';
import { START_RULES_ENV, StartDecisionKind, StartRulesByPipelineSchema, type StartDecision, type StartRules } from '../../lib/model/contract/start.ts';
import { DEPENDENCY_TRIGGERS, evaluateStart, pauseOf, type StartInput, type UpstreamRun } from '../../lib/model/start-rules.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { emitMetrics } from '../shared/metrics.ts';
import { METRIC_DIMENSIONS } from '../../lib/model/contract/metrics.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { waitChecksFromEnv, type WaitChecks } from './wait-checks.ts';
import type { RecordStore } from '../shared/records/store.ts';
import type { MessageStarts } from './message-trigger.ts';

export interface RunRequest {
  readonly pipelineId: string;
  readonly trigger: TriggerType;
  readonly parameters?: Parameters;
  readonly idempotencyKey?: string;
  /** Start outside the pipeline's execution windows (recorded as forced). @default false */
  readonly force?: boolean;
  readonly scheduledTime?: string;
  /** The schedule that fired (with `scheduledTime`): part of the run's identity, kept on its record. @default "default" */
  readonly scheduleId?: string;
  /** The trigger whose rule delivered the event (trigger `EVENT`): with `eventId`, the run's identity. */
  readonly triggerId?: string;
  /** The EventBridge event's id (with `triggerId`): a redelivery of the same event is the same run. */
  readonly eventId?: string;
  /** The SQS messages a message trigger's run is made of (with `triggerId`): the same messages delivered again (the same message, or the same batch) are the same run. */
  readonly messageIds?: readonly string[];
  /** Phi's own `event` run parameter (trigger `EVENT`): set on top of the checked parameters, never checked against `runParameters`. */
  readonly eventParameter?: JsonValue;
  /** A retry (trigger `RETRY`) of a dead letter's run or of a run (`phi retry`): the retried run and the kind of retry are the run's identity; kept on its record. */
  readonly retryOf?: RetryOf;
  /**
   * What a start its rules refuse does: `'record'` records the run SKIPPED with the reason (its identity
   * then stays that skipped run); `'throw'` records nothing and throws `StartRefusedError`, decided on the
   * same admission as a start (so no race between a check and the start). @default 'record'
   */
  readonly whenRefused?: 'record' | 'throw';
  /**
   * The upstream pipeline's run whose end started this one (trigger `UPSTREAM`): its run id is the
   * run's identity, and it is what the dependency check reads for that pipeline (unless the records
   * already hold a later one).
   */
  readonly upstreamRun?: UpstreamRun & { readonly pipelineId: string };
}

/**
 * The request of a retry of an ended run (a dead letter's, or `phi retry`'s): trigger `RETRY`, with the
 * run's parameters (Phi's own `event` parameter, an event's or an upstream run's, kept as the original
 * had it) and scheduled time, forced
 * (an operator's explicit recovery may start outside the pipeline's windows), and refused without a
 * record (a SKIPPED run would spend the retry's one identity).
 */
export function retryRequest(original: RunRecord, retryOf: RetryOf): RunRequest {
  const { [EVENT_PARAMETER]: event, ...parameters } = original.parameters;
  return {
    pipelineId: original.pipelineId,
    trigger: TriggerType.RETRY,
    parameters,
    // Only Phi sets it (an event's, an upstream run's, carried on by an earlier retry): passed on as it was.
    ...(event !== undefined ? { eventParameter: event } : {}),
    ...(original.scheduledTime !== undefined ? { scheduledTime: original.scheduledTime, scheduleId: original.scheduleId ?? DEFAULT_SCHEDULE_ID } : {}),
    force: true,
    retryOf,
    whenRefused: 'throw',
  };
}

/** A start its rules refused, when the request asked for nothing to be recorded then (`whenRefused: 'throw'`). */
export class StartRefusedError extends PhiError {
  constructor(readonly decision: StartDecision) {
    super(ApiErrorCode.RETRY_REFUSED, `the start was refused by its rules (${decision.reason ?? 'refused'}); nothing was recorded`);
  }
}

export interface TriggerDeps {
  /** `getPauses`: every start reads the deployment's pauses (`phi pause`) before it is decided. */
  readonly store: Pick<RecordStore, 'createRun' | 'getRun' | 'attachExecution' | 'requireRun' | 'reopenRun' | 'markRunStartFailed' | 'admitRun' | 'countActiveRuns' | 'getPauses' | 'latestEndedRun' | 'addWaiting' | 'removeWaiting' | 'listWaiting' | 'resolveWait' | 'listAttempts' | 'lastScheduledTime' | 'listRunHistory' | 'getBatch' | 'openBatch' | 'addToBatch' | 'batchEvents' | 'markBatchScheduled' | 'closeBatch'>;
  /** Starts an execution; resolves whether or not an execution of that name already existed. */
  readonly startExecution: (stateMachineArn: string, name: string, input: string) => Promise<void>;
  /** Pipeline id → its state machine ARN, for the pipelines this deployment has. */
  readonly stateMachines: ReadonlyMap<string, string>;
  /**
   * Pipeline id → the JSON Schema of what its runs may set (its plan's `runParameters`). A pipeline
   * without one takes no run parameters. @default none has one
   */
  readonly runParameters?: ReadonlyMap<string, JsonSchema>;
  /** Pipeline id → when its runs may start (windows, lateness, active runs; its plan's `startRules`). @default every pipeline has the defaults */
  readonly startRules?: ReadonlyMap<string, StartRules>;
  /** The triggers' debounce windows (`debounceSeconds`). @default none: a debounced trigger's event is refused with `CFG_001` */
  readonly triggerWindows?: Pick<RecordStore, 'getRun' | 'claimTriggerWindow'>;
  /**
   * Evaluates a run waiting for its upstream pipelines again at `at` (its `waitUntil`): a one-time
   * EventBridge Scheduler schedule that invokes the trigger function with `{ waitCheck: { runId } }`.
   * Scheduling one twice for the same run and time is one check. @default none: such a run is evaluated again only by an upstream's end or the sweeper
   */
  readonly waitChecks?: WaitChecks;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** A run was asked of a pipeline this deployment does not have. Nothing was started. */
/** The run is recorded, but its execution would not start (the state machine is missing or refused it): a start with the same idempotency key tries again. */
export class RunStartError extends PhiError {
  constructor(readonly run: RunRecord, cause: string) {
    super(ApiErrorCode.RUN_START_FAILED, `run ${run.runId} is recorded, but its execution would not start (is the pipeline's stack still deploying?): ${cause.slice(0, 500)}`);
  }
}

export class UnknownPipelineError extends PhiError {
  constructor(readonly pipelineId: string) {
    super(ApiErrorCode.PIPELINE_NOT_FOUND, `pipeline "${pipelineId}" is not deployed`);
  }
}

/** The run's parameters are not what its pipeline's `runParameters` allows. Nothing was recorded or started. */
export class RunParametersError extends PhiError {
  constructor(
    readonly pipelineId: string,
    readonly issues: readonly RunParameterIssue[],
  ) {
    super(ApiErrorCode.INVALID_PARAMETERS, `the run parameters are not what pipeline "${pipelineId}" allows (its runParameters): ${issues.map((i) => `${i.path || '(parameters)'} ${i.message}`).join('; ')}`);
  }
}

/**
 * A run's parameters as its pipeline allows them, with the defaults of its run-parameter schema filled
 * in: for every trigger (a request's parameters, a schedule's none). Throws `RunParametersError`.
 */
export function runParametersOf(pipelineId: string, parameters: Parameters | undefined, deps: Pick<TriggerDeps, 'runParameters'>): Parameters {
  const checked = checkRunParameters(deps.runParameters?.get(pipelineId), parameters ?? {});
  if (!checked.ok) throw new RunParametersError(pipelineId, checked.issues);
  return checked.parameters;
}

/**
 * The checked parameters with Phi's `event` parameter on top (an event-triggered run's). A `detail` that
 * would take them past `MAX_RUN_PARAMETERS_BYTES` is left out (`detailOmitted: true`), so an event
 * always makes its run.
 */
function withEventParameter(parameters: Parameters, req: RunRequest): Parameters {
  if (req.eventParameter === undefined) return parameters;
  const withEvent = { ...parameters, [EVENT_PARAMETER]: req.eventParameter };
  if (jsonBytes(withEvent) <= MAX_RUN_PARAMETERS_BYTES) return withEvent;
  const event = req.eventParameter;
  // The large parts go: an event's detail, an upstream run's outputs; each said to be left out.
  const { detail, outputs, ...rest } = typeof event === 'object' && event !== null && !Array.isArray(event) ? event : {};
  return { ...parameters, [EVENT_PARAMETER]: { ...rest, ...(detail !== undefined ? { detailOmitted: true } : {}), ...(outputs !== undefined ? { outputsOmitted: true } : {}) } };
}

/** An idempotency key came back with other parameters than the run it started. Nothing was started. */
export class IdempotencyConflictError extends PhiError {
  constructor(readonly run: RunRecord) {
    super(ApiErrorCode.IDEMPOTENCY_CONFLICT, `idempotency key "${run.idempotencyKey}" already started run ${run.runId} with other parameters`);
  }
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');
/** `2026-11-23T19:00:00.000Z` → `20261123T190000Z`. */
const compactTime = (iso: string): string => iso.replace(/[-:]/g, '').replace(/\.\d+/, '');

/**
 * A run id: also the execution name, so 80 characters at most of `[A-Za-z0-9-_]` (a pipeline id of 40
 * and 35 more at most). It begins with the pipeline's id (`runIdPrefix`), which holds the job
 * functions to their own pipeline's records.
 */
export function runIdFor(req: RunRequest, now: Date): string {
  const prefix = runIdPrefix(req.pipelineId);
  // One retry per run and kind (`phi retry`, `--from-failed`): asked twice, it is the same run; a retry
  // that failed again is retried in its turn (the newest run, whose succeeded jobs include the earlier's).
  // A dead letter's retry is its run's retry from the failed jobs: the letters of one run (two jobs that
  // failed), retried twice, and `phi retry --from-failed` of that run are one run.
  if (req.retryOf !== undefined) return `${prefix}r-${hash(req.pipelineId, 'rerun', req.retryOf.runId, req.retryOf.fromFailed ? 'failed' : 'all').slice(0, 32)}`;
  // One run per upstream run: the upstream's end delivered twice starts this pipeline once.
  if (req.trigger === TriggerType.UPSTREAM && req.upstreamRun !== undefined) return `${prefix}u-${hash(req.pipelineId, 'upstream', req.upstreamRun.pipelineId, req.upstreamRun.runId).slice(0, 32)}`;
  if (req.idempotencyKey !== undefined) return `${prefix}k-${hash(req.pipelineId, 'key', req.idempotencyKey).slice(0, 32)}`;
  // One run per trigger and event: a redelivery of the event (EventBridge's retries, the sweeper's) is the same run.
  // One run per message trigger and message (or batch: its ids in any order): SQS's redelivery is the same run.
  if (req.messageIds !== undefined) return `${prefix}q-${hash(req.pipelineId, 'message', req.triggerId ?? '', ...[...req.messageIds].sort()).slice(0, 32)}`;
  if (req.eventId !== undefined) return `${prefix}e-${hash(req.pipelineId, 'event', req.triggerId ?? '', req.eventId).slice(0, 32)}`;
  if (req.scheduledTime !== undefined) {
    // One run per schedule and scheduled time: two schedules firing at once are two runs. The default
    // schedule's identity is the one runs had before pipelines had several schedules.
    const identity = req.scheduleId === undefined || req.scheduleId === DEFAULT_SCHEDULE_ID ? [req.scheduledTime] : [req.scheduledTime, req.scheduleId];
    return `${prefix}s-${compactTime(new Date(req.scheduledTime).toISOString())}-${hash(req.pipelineId, 'schedule', ...identity).slice(0, 12)}`;
  }
  return `${prefix}m-${compactTime(now.toISOString())}-${randomBytes(6).toString('hex')}`;
}

/**
 * The start rules' decision for a run about to be recorded (spec Rules 17, 1 and 3, in the spec's
 * order: `evaluateStart`). With a limit on active runs, a run the earlier rules let start is admitted
 * by one conditional write (`admitRun`), so concurrent starts never pass the limit; a dry run only
 * counts, writing nothing.
 */
async function decideStart(req: RunRequest, runId: string, now: Date, deps: TriggerDeps, dryRun: boolean, waited?: { since: Date; deliveredAt: Date }): Promise<StartDecision> {
  const rules = deps.startRules?.get(req.pipelineId);
  const upstreams = rules?.upstreams !== undefined && DEPENDENCY_TRIGGERS.includes(req.trigger) && !req.force ? await readUpstreams(rules.upstreams.map((u) => u.pipeline), deps, req.upstreamRun) : undefined;
  // Read on every start (one consistent read): a pause holds from the moment it is written.
  const pause = pauseOf(await deps.store.getPauses(), req.pipelineId);
  const input: StartInput = {
    ...(rules !== undefined ? { rules } : {}),
    ...(pause !== undefined ? { pause } : {}),
    trigger: req.trigger,
    now,
    ...(req.scheduledTime !== undefined ? { scheduledTime: req.scheduledTime } : {}),
    ...(req.force ? { force: true } : {}),
    ...(upstreams !== undefined ? { upstreams } : {}),
    ...(waited !== undefined ? { waitingSince: waited.since, deliveredAt: waited.deliveredAt } : {}),
  };
  const first = evaluateStart(input);
  if (first.decision !== StartDecisionKind.START || rules?.maxActiveRuns === undefined) return first;
  // Queued runs go first: a start behind them waits without taking a place (oldest first).
  const queuedAhead = rules.queueIfRunning ? await queuedBefore(req.pipelineId, runId, waited?.deliveredAt ?? now, deps) : 0;
  if (queuedAhead > 0) return evaluateStart({ ...input, activeRuns: await deps.store.countActiveRuns(req.pipelineId, now.toISOString()), queuedAhead });
  const activeRuns = dryRun
    ? await deps.store.countActiveRuns(req.pipelineId, now.toISOString())
    : (await deps.store.admitRun(req.pipelineId, runId, rules.maxActiveRuns, now.toISOString())).active;
  return evaluateStart({ ...input, activeRuns });
}

/** How many of the pipeline's runs queued behind its limit (waiting on CONCURRENCY) were queued before `queuedAt` (a run's own place excluded). */
async function queuedBefore(pipelineId: string, runId: string, queuedAt: Date, deps: TriggerDeps): Promise<number> {
  const ids = (await deps.store.listWaiting(pipelineId)).filter((id) => id !== runId);
  const runs = await Promise.all(ids.map((id) => deps.store.getRun(id)));
  return runs.filter((r) => r !== undefined && isWaiting(r) && r.startDecision?.checks.some((c) => c.rule === 'CONCURRENCY' && c.outcome === 'WAITING') && (r.queuedAt < queuedAt.toISOString() || (r.queuedAt === queuedAt.toISOString() && r.runId < runId))).length;
}

/** Each upstream pipeline's latest ended run: from the records, or the run whose end is being delivered when the records hold none later. */
async function readUpstreams(pipelines: readonly string[], deps: TriggerDeps, known: RunRequest['upstreamRun']): Promise<Record<string, UpstreamRun | undefined>> {
  const entries = await Promise.all(
    pipelines.map(async (pipeline): Promise<[string, UpstreamRun | undefined]> => {
      const stored = await deps.store.latestEndedRun(pipeline);
      if (known === undefined || known.pipelineId !== pipeline) return [pipeline, stored];
      const delivered = { runId: known.runId, status: known.status, completedAt: known.completedAt };
      return [pipeline, stored !== undefined && stored.completedAt > known.completedAt ? stored : delivered];
    }),
  );
  return Object.fromEntries(entries);
}

/** Whether a run waits (recorded PENDING with decision WAIT: for its upstream pipelines, or its place in the queue). */
export const isWaiting = (run: RunRecord): boolean => run.status === RunStatus.PENDING && run.startDecision?.decision === StartDecisionKind.WAIT;

/**
 * Whether a run was decided to start after waiting but its execution did not start: the start failed
 * (RUN_START_FAILED), or the function stopped between the decision and the start (PENDING, no execution).
 */
export const stalledAfterWait = (run: RunRecord): boolean =>
  run.startDecision?.decision === StartDecisionKind.START &&
  run.startDecision.waitingSince !== undefined &&
  ((run.status === RunStatus.PENDING && run.executionArn === undefined) || (run.status === RunStatus.FAILED && run.error?.code === RUN_START_FAILED));

/** Keeps a waiting run where an upstream's end finds it, and has it evaluated again at its `waitUntil` (both idempotent). */
async function keepWaiting(run: RunRecord, decision: StartDecision, deps: TriggerDeps): Promise<void> {
  await deps.store.addWaiting(run.pipelineId, run.runId);
  if (decision.waitUntil === undefined) return;
  if (deps.waitChecks === undefined) throw new ConfigurationError('waitChecks', 'a pipeline with upstream pipelines needs its waiting runs checked at their timeout');
  await deps.waitChecks.schedule(run.runId, decision.waitUntil);
}

/**
 * Evaluates a run waiting for its upstream pipelines again (an upstream's run ended, its timeout came,
 * or the sweeper found it): START starts its execution, SKIP records it SKIPPED (`DEPENDENCY_TIMEOUT`,
 * `STALE_UPSTREAM`), WAIT keeps it waiting. Its lateness is measured to its first delivery, its
 * timeouts from when it began waiting. A run that no longer waits is answered as it is.
 */
export async function resumeWaitingRun(runId: string, deps: TriggerDeps, upstreamRun?: RunRequest['upstreamRun']): Promise<RunRecord> {
  const run = await deps.store.requireRun(runId);
  const stateMachineArn = deps.stateMachines.get(run.pipelineId);
  if (!stateMachineArn) throw new UnknownPipelineError(run.pipelineId);
  const now = (deps.now ?? (() => new Date()))();
  if (!isWaiting(run)) {
    // Decided to start after its wait, but its execution did not start (the start failed, or the
    // function stopped between the two): started now. It stays among the waiting runs until it has.
    const relaunched = stalledAfterWait(run) ? await launchRun(run.status === RunStatus.FAILED ? await deps.store.reopenRun(runId, now.toISOString()) : run, stateMachineArn, now, run.startDecision!, false, deps) : run;
    // Decided meanwhile, or cancelled while it waited: no longer among the waiting runs.
    await deps.store.removeWaiting(run.pipelineId, runId);
    return relaunched;
  }
  const req: RunRequest = {
    pipelineId: run.pipelineId,
    trigger: run.trigger,
    ...(run.scheduledTime !== undefined ? { scheduledTime: run.scheduledTime } : {}),
    ...(upstreamRun !== undefined ? { upstreamRun } : {}),
    // Forced past the windows and upstreams, and queued behind the limit: still forced when its turn comes.
    ...(run.startDecision?.forced ? { force: true } : {}),
  };
  // Timeouts count from when it began waiting on a rule that has one (a deferred start's wait for its window does not count).
  const since = run.startDecision?.waitingSince !== undefined ? new Date(run.startDecision.waitingSince) : now;
  const decision = await decideStart(req, runId, now, deps, false, { since, deliveredAt: new Date(run.queuedAt) });
  if (decision.decision === StartDecisionKind.WAIT) {
    // Still waiting: its record says on what now (the upstreams, or its place in the queue).
    const { run: waiting } = await deps.store.resolveWait(runId, decision, now.toISOString());
    await keepWaiting(waiting, decision, deps);
    return waiting;
  }
  const resolved = await deps.store.resolveWait(runId, decision, now.toISOString());
  if (!resolved.changed) return resumeWaitingRun(runId, deps);
  if (resolved.run.status === RunStatus.SKIPPED) {
    await deps.store.removeWaiting(run.pipelineId, runId);
    emitMetrics({ RunsSkipped: 1 }, { [METRIC_DIMENSIONS.pipeline]: run.pipelineId }, deps.log);
    deps.log.info('run skipped after waiting', { pipelineId: run.pipelineId, runId, reason: decision.reason });
    return resolved.run;
  }
  // Off the waiting runs once its execution has started: should the start fail, the next evaluation starts it.
  const launched = await launchRun(resolved.run, stateMachineArn, now, decision, false, deps);
  await deps.store.removeWaiting(run.pipelineId, runId);
  return launched;
}

/** What a start would do (`dryRun`): the rules' decision and the run's parameters; nothing is recorded or started. */
export interface StartPlan {
  readonly pipelineId: string;
  readonly decision: StartDecision;
  /** The run's parameters, its pipeline's defaults filled in. */
  readonly parameters: Parameters;
}

/**
 * A dry run of `startRun`: the pipeline must be deployed and the parameters allowed (the same errors),
 * and the start rules are evaluated as of now (active runs counted, not admitted). Nothing is written.
 */
export async function planStart(req: RunRequest, deps: TriggerDeps): Promise<StartPlan> {
  if (!deps.stateMachines.has(req.pipelineId)) throw new UnknownPipelineError(req.pipelineId);
  const parameters = withEventParameter(runParametersOf(req.pipelineId, req.parameters, deps), req);
  const now = (deps.now ?? (() => new Date()))();
  return { pipelineId: req.pipelineId, decision: await decideStart(req, runIdFor(req, now), now, deps, true), parameters };
}

/**
 * Starts a run, once: checks its parameters, decides by its pipeline's start rules whether it may
 * start, records it (SKIPPED, with the reason, when it may not) and starts its execution. A run that
 * exists already keeps the decision it was first recorded with.
 */
export async function startRun(req: RunRequest, deps: TriggerDeps): Promise<{ created: boolean; run: RunRecord }> {
  const stateMachineArn = deps.stateMachines.get(req.pipelineId);
  if (!stateMachineArn) throw new UnknownPipelineError(req.pipelineId);
  const parameters = withEventParameter(runParametersOf(req.pipelineId, req.parameters, deps), req);
  const now = (deps.now ?? (() => new Date()))();
  const runId = runIdFor(req, now);
  const decision = await decideStart(req, runId, now, deps, false);
  if (decision.decision === StartDecisionKind.SKIP && req.whenRefused === 'throw' && (await deps.store.getRun(runId)) === undefined) throw new StartRefusedError(decision);
  const { created, run: stored } = await deps.store.createRun({
    runId,
    pipelineId: req.pipelineId,
    trigger: req.trigger,
    parameters,
    queuedAt: now.toISOString(),
    startDecision: decision,
    ...(req.idempotencyKey !== undefined ? { idempotencyKey: req.idempotencyKey } : {}),
    ...(req.scheduledTime !== undefined ? { scheduledTime: req.scheduledTime } : {}),
    ...(req.scheduledTime !== undefined ? { scheduleId: req.scheduleId ?? DEFAULT_SCHEDULE_ID } : {}),
    ...(req.triggerId !== undefined ? { triggerId: req.triggerId } : {}),
    ...(req.eventId !== undefined ? { eventId: req.eventId } : {}),
    ...(req.retryOf !== undefined ? { retryOf: req.retryOf } : {}),
  });
  if (created) {
    // Counted once, by the start that recorded the run: a refused start, and how late a schedule's delivery came.
    const counts = { ...(stored.status === RunStatus.SKIPPED ? { RunsSkipped: 1 } : {}), ...(req.scheduledTime !== undefined && decision.latenessSeconds !== undefined ? { ScheduleLateness: decision.latenessSeconds } : {}) };
    emitMetrics(counts, { [METRIC_DIMENSIONS.pipeline]: req.pipelineId }, deps.log);
  }
  // Compared with their defaults filled in, as they were stored.
  if (!created && req.idempotencyKey !== undefined && canonicalJson(stored.parameters) !== canonicalJson(parameters)) {
    throw new IdempotencyConflictError(stored);
  }
  if (isWaiting(stored)) {
    // A run that waits for its upstream pipelines: kept where their ends find it; delivered again, it is evaluated again.
    if (created) {
      await keepWaiting(stored, decision, deps);
      deps.log.info('run waits', { pipelineId: stored.pipelineId, runId, trigger: stored.trigger, waitUntil: decision.waitUntil });
    }
    // Evaluated again once it is where the runs' ends find it: an end between the first decision and
    // then would otherwise be missed (and the run left waiting until its timeout or the sweeper).
    return { created, run: await resumeWaitingRun(runId, deps, req.upstreamRun) };
  }
  const startFailed = stored.status === RunStatus.FAILED && stored.error?.code === RUN_START_FAILED;
  // A failed start that must now wait (its upstreams, or the limit with a queue) waits, reopened PENDING.
  if (startFailed && decision.decision === StartDecisionKind.WAIT) {
    const waiting = await deps.store.reopenRun(runId, now.toISOString(), decision);
    await keepWaiting(waiting, decision, deps);
    return { created, run: await resumeWaitingRun(runId, deps, req.upstreamRun) };
  }
  // A skipped run never starts; nor does a failed start that the rules now refuse (it stays as it was).
  if (stored.status === RunStatus.SKIPPED || (startFailed && decision.decision === StartDecisionKind.SKIP)) {
    deps.log.info(created ? 'run skipped' : 'run already exists', { pipelineId: stored.pipelineId, runId: stored.runId, trigger: stored.trigger, reason: stored.startDecision?.reason ?? decision.reason });
    return { created, run: stored };
  }
  // A run whose execution could not be started before is started now.
  const run = startFailed ? await deps.store.reopenRun(runId, now.toISOString()) : stored;
  return { created, run: await launchRun(run, stateMachineArn, now, decision, created, deps) };
}

/** Starts the execution of a PENDING run, named by its id, with the input its record holds; marks the run RUN_START_FAILED when it would not start. */
async function launchRun(run: RunRecord, stateMachineArn: string, now: Date, decision: StartDecision, created: boolean, deps: TriggerDeps): Promise<RunRecord> {
  // The input comes from the stored record, so a repeated start sends the same input under the same
  // name and Step Functions answers with the one execution (or starts it, if the first start failed).
  const input: RunInput = {
    runId: run.runId,
    pipelineId: run.pipelineId,
    trigger: run.trigger,
    parameters: run.parameters,
    ...(run.scheduledTime !== undefined ? { scheduledTime: run.scheduledTime } : {}),
    ...(run.retryOf?.fromFailed ? { reuseFrom: run.retryOf.runId } : {}),
  };
  try {
    await deps.startExecution(stateMachineArn, run.runId, JSON.stringify(input));
  } catch (err) {
    // No execution is known to exist to close this run: it is closed here (if still PENDING); a later
    // start of it reopens it, and its execution's own start, should it have happened, wins.
    const cause = describeError(err);
    throw new RunStartError(await deps.store.markRunStartFailed(run.runId, now.toISOString(), `the execution could not be started: ${cause}`), cause);
  }
  await deps.store.attachExecution(run.runId, executionArnFor(stateMachineArn, run.runId));
  deps.log.info(created ? 'run queued' : 'run already exists', { pipelineId: run.pipelineId, runId: run.runId, trigger: run.trigger, ...(decision.late ? { late: true, latenessSeconds: decision.latenessSeconds } : {}), ...(decision.forced ? { forced: true } : {}) });
  return deps.store.requireRun(run.runId);
}

/** The deployment's pipelines, from the environment the platform construct sets. */
export function stateMachinesFromEnv(env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const ids = z.array(z.string()).parse(JSON.parse(env.PHI_PIPELINES ?? '[]'));
  const prefix = env.PHI_STATE_MACHINE_ARN_PREFIX;
  if (!prefix) throw new ConfigurationError('PHI_STATE_MACHINE_ARN_PREFIX');
  return new Map(ids.map((id) => [id, `${prefix}${id}`]));
}

/** Each pipeline's run-parameter schema, from the environment the platform construct sets (`PHI_RUN_PARAMETERS`; none when unset). */
export function runParametersFromEnv(env: NodeJS.ProcessEnv = process.env): Map<string, JsonSchema> {
  return new Map(Object.entries(RunParameterSchemasSchema.parse(JSON.parse(env[RUN_PARAMETERS_ENV] ?? '{}'))));
}

/** Each pipeline's start rules, from the environment the platform construct sets (`PHI_START_RULES`; every pipeline has the defaults when unset). */
export function startRulesFromEnv(env: NodeJS.ProcessEnv = process.env): Map<string, StartRules> {
  return new Map(Object.entries(StartRulesByPipelineSchema.parse(JSON.parse(env[START_RULES_ENV] ?? '{}'))));
}

/** The deps of a function that starts runs, from its environment; the trigger function gives its own ARN (the target of its waiting runs' timeouts). */
export function triggerDepsFromEnv(component: string, self?: string): TriggerDeps {
  const sfn = new SFNClient({});
  const waitChecks = waitChecksFromEnv(process.env, self);
  const store = recordStoreFromEnv();
  return {
    store,
    triggerWindows: store,
    stateMachines: stateMachinesFromEnv(),
    runParameters: runParametersFromEnv(),
    startRules: startRulesFromEnv(),
    ...(waitChecks !== undefined ? { waitChecks } : {}),
    log: createLogger({ component }),
    startExecution: async (stateMachineArn, name, input) => {
      try {
        await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
      } catch (err) {
        // The run's execution exists already (a repeated start): that execution is the run.
        if (!(err instanceof ExecutionAlreadyExists) && (err as { name?: string }).name !== 'ExecutionAlreadyExists') throw err;
      }
    },
  };
}

/**
 * EventBridge Scheduler's input for a pipeline's schedule (see the pipeline construct): which schedule
 * fired (an input from before pipelines had several names none: `default`) and the parameters of the
 * runs it starts.
 */
export const ScheduledEventSchema = z.object({
  pipelineId: z.string(),
  scheduledTime: z.string(),
  scheduleId: ScheduleIdSchema.default(DEFAULT_SCHEDULE_ID),
  parameters: ParametersSchema.optional(),
});
export type ScheduledEvent = z.infer<typeof ScheduledEventSchema>;

/** A schedule's delivery as the run it asks for: its parameters are the run's (checked by `runParametersOf` like any start's). */
export const scheduledRunRequest = (event: ScheduledEvent): RunRequest => ({
  pipelineId: event.pipelineId,
  trigger: TriggerType.SCHEDULE,
  scheduledTime: event.scheduledTime,
  scheduleId: event.scheduleId,
  ...(event.parameters !== undefined ? { parameters: event.parameters } : {}),
});

/** How the message triggers' runs start: as every run does, through `startRun`, with these deps. */
export const messageStartsOf = (deps: TriggerDeps): MessageStarts => ({
  start: (req) => startRun(req, deps),
  defaultParameters: (pipelineId) => runParametersOf(pipelineId, undefined, deps),
  log: deps.log,
});

/** An EventBridge event, as a rule delivers it (its other fields, account, region, resources…, are kept but not read). */
export const EventBridgeEventSchema = z
  .object({
    id: z.string().min(1),
    source: z.string(),
    'detail-type': z.string(),
    time: z.string(),
    detail: JsonValueSchema.optional(),
  })
  .loose();
export type EventBridgeEvent = z.infer<typeof EventBridgeEventSchema>;

/**
 * A trigger rule's input (see the pipeline construct): the pipeline and trigger it belongs to, what
 * the trigger needs to start its run, and the whole event (`<aws.events.event.json>`).
 */
export const TriggeredEventSchema = z.object({
  pipelineId: z.string(),
  triggerId: TriggerIdSchema,
  triggerType: z.enum(['event', 'dataArrival']),
  debounceSeconds: z.number().int().min(1).optional(),
  batchWindowSeconds: z.number().int().min(1).optional(),
  event: EventBridgeEventSchema,
});
export type TriggeredEvent = z.infer<typeof TriggeredEventSchema>;

/** The part of S3's "Object Created" detail a dataArrival run is given. */
const ObjectCreatedSchema = z.object({ bucket: z.object({ name: z.string() }), object: z.object({ key: z.string(), size: z.number().optional() }) });

/**
 * A trigger's delivery as the run it asks for: trigger `EVENT`, identity from the trigger and the
 * event id, no parameters of its own (its pipeline's `runParameters` defaults fill them) and the event
 * as Phi's `event` parameter: `{ id, source, detailType, time, detail }`, for dataArrival also the
 * object's `bucket`, `key` (as S3 sends it) and `size`.
 */
export function eventRunRequest(delivery: TriggeredEvent): RunRequest {
  const { event } = delivery;
  const object = delivery.triggerType === 'dataArrival' ? ObjectCreatedSchema.safeParse(event.detail) : undefined;
  const eventParameter: { [key: string]: JsonValue } = {
    id: event.id,
    source: event.source,
    detailType: event['detail-type'],
    time: event.time,
    ...(object?.success ? { bucket: object.data.bucket.name, key: object.data.object.key, ...(object.data.object.size !== undefined ? { size: object.data.object.size } : {}) } : {}),
    detail: event.detail ?? {},
  };
  return { pipelineId: delivery.pipelineId, trigger: TriggerType.EVENT, triggerId: delivery.triggerId, eventId: event.id, eventParameter };
}

/** What a trigger's delivery did: the run it started (or found), or nothing, the trigger's debounce window being open. */
export type EventStart = { readonly debounced: false; readonly created: boolean; readonly run: RunRecord } | { readonly debounced: true; readonly eventId: string };

/**
 * Starts the run of one trigger delivery, once per trigger and event. With `debounceSeconds`, an event
 * whose run does not exist yet must first open the trigger's window (one conditional write): while
 * another event's window is open it is dropped (logged, metric `DebouncedEvents`), nothing recorded.
 * A redelivery of an event whose run exists goes straight to that run (`startRun` is idempotent).
 */
export async function startEventRun(delivery: TriggeredEvent, deps: TriggerDeps): Promise<EventStart> {
  const req = eventRunRequest(delivery);
  if (delivery.debounceSeconds !== undefined) {
    const windows = deps.triggerWindows;
    if (windows === undefined) throw new ConfigurationError('triggerWindows', 'a trigger with debounceSeconds needs the records table to keep its window');
    const now = (deps.now ?? (() => new Date()))();
    if ((await windows.getRun(runIdFor(req, now))) === undefined) {
      // Refused starts (no such pipeline, parameters refused) must not hold the window.
      if (!deps.stateMachines.has(req.pipelineId)) throw new UnknownPipelineError(req.pipelineId);
      runParametersOf(req.pipelineId, req.parameters, deps);
      if (!(await windows.claimTriggerWindow(delivery.pipelineId, delivery.triggerId, delivery.event.id, now.toISOString(), delivery.debounceSeconds))) {
        deps.log.info('event dropped: the trigger\'s debounce window is open', { pipelineId: delivery.pipelineId, triggerId: delivery.triggerId, eventId: delivery.event.id });
        emitMetrics({ DebouncedEvents: 1 }, { [METRIC_DIMENSIONS.pipeline]: delivery.pipelineId }, deps.log);
        return { debounced: true, eventId: delivery.event.id };
      }
    }
  }
  return { debounced: false, ...(await startRun(req, deps)) };
}

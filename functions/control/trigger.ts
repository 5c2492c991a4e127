/**
 * Starting runs: the one core behind every trigger (API, schedule). A run has a deterministic id when
 * it can (idempotency key, scheduled time), its record is created once, and its execution is named by
 * the run id, so starting the same run twice yields one execution (Step Functions keeps execution
 * names unique for 90 days). Every start is first decided by its pipeline's start rules (windows,
 * lateness, active runs: `evaluateStart`); one they refuse is recorded SKIPPED with the reason and
 * never executed; so is a scheduled or event-triggered start of a paused pipeline (`phi pause`, reason
 * `PAUSED`). Queueing a run beyond the limit (`queue_if_running`) and deferring one to the next
 * window are not supported.
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
import { evaluateStart, pauseOf, type StartInput } from '../../lib/model/start-rules.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { emitMetrics } from '../shared/metrics.ts';
import { METRIC_DIMENSIONS } from '../../lib/model/contract/metrics.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import type { RecordStore } from '../shared/records/store.ts';

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
  /** Phi's own `event` run parameter (trigger `EVENT`): set on top of the checked parameters, never checked against `runParameters`. */
  readonly eventParameter?: JsonValue;
  /** A dead letter's retry (trigger `RETRY`): the letter's message id is the run's identity; kept on its record. */
  readonly retryOf?: RetryOf;
  /**
   * What a start its rules refuse does: `'record'` records the run SKIPPED with the reason (its identity
   * then stays that skipped run); `'throw'` records nothing and throws `StartRefusedError`, decided on the
   * same admission as a start (so no race between a check and the start). @default 'record'
   */
  readonly whenRefused?: 'record' | 'throw';
}

/** A start its rules refused, when the request asked for nothing to be recorded then (`whenRefused: 'throw'`). */
export class StartRefusedError extends PhiError {
  constructor(readonly decision: StartDecision) {
    super(ApiErrorCode.RETRY_REFUSED, `the start was refused by its rules (${decision.reason ?? 'refused'}); nothing was recorded`);
  }
}

export interface TriggerDeps {
  /** `getPauses`: every start reads the deployment's pauses (`phi pause`) before it is decided. */
  readonly store: Pick<RecordStore, 'createRun' | 'getRun' | 'attachExecution' | 'requireRun' | 'reopenRun' | 'markRunStartFailed' | 'admitRun' | 'countActiveRuns' | 'getPauses'>;
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
  const { detail: _detail, ...rest } = typeof event === 'object' && event !== null && !Array.isArray(event) ? event : {};
  return { ...parameters, [EVENT_PARAMETER]: { ...rest, detailOmitted: true } };
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
  // One run per dead letter: a second retry of the same letter (its SQS message id) is the same run.
  if (req.retryOf !== undefined) return `${prefix}r-${hash(req.pipelineId, 'retry', req.retryOf.messageId).slice(0, 32)}`;
  if (req.idempotencyKey !== undefined) return `${prefix}k-${hash(req.pipelineId, 'key', req.idempotencyKey).slice(0, 32)}`;
  // One run per trigger and event: a redelivery of the event (EventBridge's retries, the sweeper's) is the same run.
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
async function decideStart(req: RunRequest, runId: string, now: Date, deps: TriggerDeps, dryRun: boolean): Promise<StartDecision> {
  const rules = deps.startRules?.get(req.pipelineId);
  // Read on every start (one consistent read): a pause holds from the moment it is written.
  const pause = pauseOf(await deps.store.getPauses(), req.pipelineId);
  const input: StartInput = {
    ...(rules !== undefined ? { rules } : {}),
    ...(pause !== undefined ? { pause } : {}),
    trigger: req.trigger,
    now,
    ...(req.scheduledTime !== undefined ? { scheduledTime: req.scheduledTime } : {}),
    ...(req.force ? { force: true } : {}),
  };
  const first = evaluateStart(input);
  if (first.decision === StartDecisionKind.SKIP || rules?.maxActiveRuns === undefined) return first;
  const activeRuns = dryRun
    ? await deps.store.countActiveRuns(req.pipelineId, now.toISOString())
    : (await deps.store.admitRun(req.pipelineId, runId, rules.maxActiveRuns, now.toISOString())).active;
  return evaluateStart({ ...input, activeRuns });
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
  const startFailed = stored.status === RunStatus.FAILED && stored.error?.code === RUN_START_FAILED;
  // A skipped run never starts; nor does a failed start that the rules now refuse (it stays as it was).
  if (stored.status === RunStatus.SKIPPED || (startFailed && decision.decision === StartDecisionKind.SKIP)) {
    deps.log.info(created ? 'run skipped' : 'run already exists', { pipelineId: stored.pipelineId, runId: stored.runId, trigger: stored.trigger, reason: stored.startDecision?.reason ?? decision.reason });
    return { created, run: stored };
  }
  // A run whose execution could not be started before is started now.
  const run = startFailed ? await deps.store.reopenRun(runId, now.toISOString()) : stored;
  // The input comes from the stored record, so a repeated start sends the same input under the same
  // name and Step Functions answers with the one execution (or starts it, if the first start failed).
  const input: RunInput = {
    runId: run.runId,
    pipelineId: run.pipelineId,
    trigger: run.trigger,
    parameters: run.parameters,
    ...(run.scheduledTime !== undefined ? { scheduledTime: run.scheduledTime } : {}),
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
  return { created, run: await deps.store.requireRun(run.runId) };
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

export function triggerDepsFromEnv(component: string): TriggerDeps {
  const sfn = new SFNClient({});
  const store = recordStoreFromEnv();
  return {
    store,
    triggerWindows: store,
    stateMachines: stateMachinesFromEnv(),
    runParameters: runParametersFromEnv(),
    startRules: startRulesFromEnv(),
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

let scheduleDeps: TriggerDeps | undefined;
/**
 * Lambda entry for EventBridge Scheduler (one run per scheduled time) and for the pipelines' trigger
 * rules (one run per trigger and event, `TriggeredEventSchema`).
 */
export async function handler(event: unknown): Promise<{ runId: string; created: boolean } | { debounced: true; eventId: string }> {
  scheduleDeps ??= triggerDepsFromEnv('schedule-trigger');
  const triggered = TriggeredEventSchema.safeParse(event);
  if (triggered.success) {
    const started = await startEventRun(triggered.data, scheduleDeps);
    return started.debounced ? started : { runId: started.run.runId, created: started.created };
  }
  const { created, run } = await startRun(scheduledRunRequest(ScheduledEventSchema.parse(event)), scheduleDeps);
  return { runId: run.runId, created };
}

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

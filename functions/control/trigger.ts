/**
 * Starting runs: the one core behind every trigger (API, schedule). A run has a deterministic id when
 * it can (idempotency key, scheduled time), its record is created once, and its execution is named by
 * the run id, so starting the same run twice yields one execution (Step Functions keeps execution
 * names unique for 90 days).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { canonicalJson } from '../../lib/model/canonical.ts';
import { ApiErrorCode, RUN_START_FAILED, runIdPrefix, RunStatus, TriggerType, type RunInput, type RunRecord } from '../../lib/model/contract/index.ts';
import { ConfigurationError, PhiError } from '../../lib/model/errors.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import type { Parameters } from '../../lib/model/pipeline.ts';
import { checkRunParameters, RUN_PARAMETERS_ENV, RunParameterSchemasSchema, type JsonSchema, type RunParameterIssue } from '../../lib/model/run-parameters.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import type { RecordStore } from '../shared/records/store.ts';

export interface RunRequest {
  readonly pipelineId: string;
  readonly trigger: TriggerType;
  readonly parameters?: Parameters;
  readonly idempotencyKey?: string;
  readonly scheduledTime?: string;
}

export interface TriggerDeps {
  readonly store: Pick<RecordStore, 'createRun' | 'attachExecution' | 'requireRun' | 'reopenRun' | 'markRunStartFailed'>;
  /** Starts an execution; resolves whether or not an execution of that name already existed. */
  readonly startExecution: (stateMachineArn: string, name: string, input: string) => Promise<void>;
  /** Pipeline id → its state machine ARN, for the pipelines this deployment has. */
  readonly stateMachines: ReadonlyMap<string, string>;
  /**
   * Pipeline id → the JSON Schema of what its runs may set (its plan's `runParameters`). A pipeline
   * without one takes no run parameters. @default none has one
   */
  readonly runParameters?: ReadonlyMap<string, JsonSchema>;
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
  if (req.idempotencyKey !== undefined) return `${prefix}k-${hash(req.pipelineId, 'key', req.idempotencyKey).slice(0, 32)}`;
  if (req.scheduledTime !== undefined) return `${prefix}s-${compactTime(new Date(req.scheduledTime).toISOString())}-${hash(req.pipelineId, 'schedule', req.scheduledTime).slice(0, 12)}`;
  return `${prefix}m-${compactTime(now.toISOString())}-${randomBytes(6).toString('hex')}`;
}

export async function startRun(req: RunRequest, deps: TriggerDeps): Promise<{ created: boolean; run: RunRecord }> {
  const stateMachineArn = deps.stateMachines.get(req.pipelineId);
  if (!stateMachineArn) throw new UnknownPipelineError(req.pipelineId);
  const parameters = runParametersOf(req.pipelineId, req.parameters, deps);
  const now = (deps.now ?? (() => new Date()))();
  const runId = runIdFor(req, now);
  const { created, run: stored } = await deps.store.createRun({
    runId,
    pipelineId: req.pipelineId,
    trigger: req.trigger,
    parameters,
    queuedAt: now.toISOString(),
    ...(req.idempotencyKey !== undefined ? { idempotencyKey: req.idempotencyKey } : {}),
    ...(req.scheduledTime !== undefined ? { scheduledTime: req.scheduledTime } : {}),
  });
  // Compared with their defaults filled in, as they were stored.
  if (!created && req.idempotencyKey !== undefined && canonicalJson(stored.parameters) !== canonicalJson(parameters)) {
    throw new IdempotencyConflictError(stored);
  }
  // A run whose execution could not be started before is started now.
  const run = stored.status === RunStatus.FAILED && stored.error?.code === RUN_START_FAILED ? await deps.store.reopenRun(runId, now.toISOString()) : stored;
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
    const cause = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new RunStartError(await deps.store.markRunStartFailed(run.runId, now.toISOString(), `the execution could not be started: ${cause}`), cause);
  }
  await deps.store.attachExecution(run.runId, executionArnFor(stateMachineArn, run.runId));
  deps.log.info(created ? 'run queued' : 'run already exists', { pipelineId: run.pipelineId, runId: run.runId, trigger: run.trigger });
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

export function triggerDepsFromEnv(component: string): TriggerDeps {
  const sfn = new SFNClient({});
  return {
    store: recordStoreFromEnv(),
    stateMachines: stateMachinesFromEnv(),
    runParameters: runParametersFromEnv(),
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

/** EventBridge Scheduler's input for a pipeline's schedule (see the pipeline construct). */
export const ScheduledEventSchema = z.object({
  pipelineId: z.string(),
  scheduledTime: z.string(),
});

let scheduleDeps: TriggerDeps | undefined;
/** Lambda entry for EventBridge Scheduler: one run per scheduled time. */
export async function handler(event: unknown): Promise<{ runId: string; created: boolean }> {
  scheduleDeps ??= triggerDepsFromEnv('schedule-trigger');
  const { pipelineId, scheduledTime } = ScheduledEventSchema.parse(event);
  const { created, run } = await startRun({ pipelineId, trigger: TriggerType.SCHEDULE, scheduledTime }, scheduleDeps);
  return { runId: run.runId, created };
}

/**
 * The plan compiler: validated definitions → a `Plan`. Pure: the same definitions and `now` give the
 * same plan. Every problem it finds is returned, none thrown.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { canonicalJson, jsonBytes } from '../model/canonical.ts';
import { parseCondition } from '../model/condition.ts';
import { compactSummaryEntry, MAX_ERROR_MESSAGE_LENGTH, MAX_RECORD_BYTES, MAX_RUN_PARAMETERS_BYTES, type JobItem, type JobManifest, type PipelineManifest, type ResolvedDependency } from '../model/contract/index.ts';
import { stateMachineName } from '../model/names.ts';
import { DependencyType, JOB_DEFAULTS, RETRY_DEFAULTS, type Job, type Pipeline } from '../model/pipeline.ts';
import { ProblemCode, type Problem } from '../model/problems.ts';
import type { JsonSchema } from '../model/run-parameters.ts';
import { MAX_JOBS_PER_RUN, renderStateMachine, TASK_TIMEOUT_MARGIN_SECONDS } from './asl.ts';
import { criticalPath, executionLayers, findCycles } from './graph.ts';
import { runParametersConflicts, runParametersJsonSchema } from './run-parameters.ts';
import { compileStartRules } from './start-rules.ts';
import { compileTriggers, triggeredRunProblems, longestQueueArn, messageTriggerRoutes, sharedQueueProblems, webhookRoutes, type CompiledTrigger } from './triggers.ts';
import { compileUpstreams, providedBy } from './upstreams.ts';
import type { DeployedUpstream } from '../model/contract/start.ts';
import { alarmCount, resolveAlarms } from './alarms.ts';
import { pipelineHealthConfig } from './health.ts';
import { compileSchedule, declaredSchedules, NEXT_COUNT, type CompiledSchedule, type FireTimeWindow } from './schedule/index.ts';
import type { FunctionPlan, Plan, PipelinePlan, PlanEstimates, ResolvedJob, ResolvedRetry, SubstitutionTarget } from './types.ts';

/** A definition file's validated default export. */
export interface LoadedPipeline {
  readonly file: string;
  readonly pipeline: Pipeline;
}

export const LIMITS = {
  definitionBytes: 1_048_576,
  /** A job's parameters are kept in every attempt record (DynamoDB items hold 400 KB, outputs and errors too). */
  jobParametersBytes: 64 * 1024,
  historyEvents: 25_000,
  stackResources: 500,
  /** Step Functions' state payload. */
  payloadBytes: 262_144,
  /** Every job of a run waits at once, each in a child execution of one Distributed Map. */
  jobsPerRun: MAX_JOBS_PER_RUN,
  /** A DynamoDB item: the run's record keeps its per-job summary. */
  runRecordBytes: MAX_RECORD_BYTES,
  /**
   * Every pipeline's run-parameter JSON Schema, together: they travel in the environment of the
   * functions that start runs, and Lambda keeps 4 KB of environment in all (the rest holds names and URLs).
   */
  runParameterSchemasBytes: 3072,
} as const;

/**
 * `now` decides what has passed (a schedule's start or end date); `fireTimes` which fire times the
 * plan lists for each schedule (default: five after `now`).
 */
export function compilePlan(loaded: readonly LoadedPipeline[], now: Date, fireTimes: FireTimeWindow = {}): { plan: Plan; problems: Problem[] } {
  const problems: Problem[] = [];
  const pipelines: PipelinePlan[] = [];
  // The pipelines' dependencies on each other: resolved across the deployment before each is compiled.
  const across = compileUpstreams(loaded);
  problems.push(...across.problems);
  for (const { file, pipeline } of [...loaded].sort((a, b) => a.pipeline.id.localeCompare(b.pipeline.id))) {
    const result = compilePipeline(file, pipeline, now, fireTimes, across.upstreams.get(pipeline.id));
    problems.push(...result.problems);
    if (result.plan) pipelines.push(result.plan);
  }
  // The trigger function finds a message's pipeline by its queue: one queue, one message trigger.
  problems.push(...sharedQueueProblems(pipelines));
  // The start rules travel beside the schemas, in the same environment, and the health check's schedules and data ages beside them in the control API's.
  const schemaBytes = pipelines.map((p) => {
    const health = pipelineHealthConfig(p);
    // The message triggers' queues travel in the trigger function's (a Phi-created queue's ARN counted at its longest).
    const routes = messageTriggerRoutes(p.id, p.triggers, longestQueueArn);
    // The webhook triggers' routes travel beside them in the webhook function's.
    const webhooks = webhookRoutes(p.triggers);
    return { plan: p, bytes: (p.runParameters === undefined ? 0 : jsonBytes(p.runParameters)) + (p.startRules === undefined ? 0 : jsonBytes(p.startRules)) + (health === undefined ? 0 : jsonBytes(health)) + (routes.length === 0 ? 0 : jsonBytes(routes)) + (webhooks === undefined ? 0 : jsonBytes({ [p.id]: webhooks })) };
  });
  const totalSchemaBytes = schemaBytes.reduce((sum, s) => sum + s.bytes, 0);
  if (totalSchemaBytes > LIMITS.runParameterSchemasBytes) {
    const largest = schemaBytes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    problems.push({
      code: ProblemCode.LIMIT_008_RUN_PARAMETERS_SIZE,
      pipeline: largest.plan.id,
      file: largest.plan.file,
      path: 'runParameters',
      message: `the run-parameter schemas of the ${pipelines.length} pipelines are ${totalSchemaBytes} bytes of JSON Schema together (their start rules, health schedules and message triggers' queues included) (${largest.plan.id}'s, the largest: ${largest.bytes}); they travel in the environment of the functions that start runs, which Lambda keeps to 4 KB, so at most ${LIMITS.runParameterSchemasBytes}`,
      hint: 'keep the schemas small (fewer keys, no descriptions, short patterns), or deploy some pipelines from another app',
    });
  }
  return { plan: { generatedAt: now.toISOString(), fireTimes: { from: (fireTimes.from ?? now).toISOString(), count: fireTimes.count ?? NEXT_COUNT }, pipelines }, problems };
}

/** A `dependsOn` entry with its defaults applied: a plain id waits for the job's success. */
export function resolveDependency(entry: string | NonNullable<Job['dependsOn']>[number]): ResolvedDependency {
  if (typeof entry === 'string') return { job: entry, on: DependencyType.SUCCESS, skipOnUpstreamSkip: true };
  return { job: entry.job, on: entry.on ?? DependencyType.SUCCESS, ...(entry.condition !== undefined ? { condition: entry.condition } : {}), skipOnUpstreamSkip: entry.skipOnUpstreamSkip ?? true };
}

/** Job < pipeline defaults < the spec's defaults, field by field (a field written `undefined` is unset). */
export function resolveRetry(pipeline: Pipeline, job: Job): ResolvedRetry {
  const own = job.retry ?? {};
  const shared = pipeline.defaults?.retry ?? {};
  return {
    maxAttempts: own.maxAttempts ?? shared.maxAttempts ?? RETRY_DEFAULTS.maxAttempts,
    initialDelaySeconds: own.initialDelaySeconds ?? shared.initialDelaySeconds ?? RETRY_DEFAULTS.initialDelaySeconds,
    backoffMultiplier: own.backoffMultiplier ?? shared.backoffMultiplier ?? RETRY_DEFAULTS.backoffMultiplier,
    maxDelaySeconds: own.maxDelaySeconds ?? shared.maxDelaySeconds ?? RETRY_DEFAULTS.maxDelaySeconds,
    jitter: own.jitter ?? shared.jitter ?? RETRY_DEFAULTS.jitter,
    retryableErrors: own.retryableErrors ?? shared.retryableErrors ?? [],
    nonRetryableErrors: own.nonRetryableErrors ?? shared.nonRetryableErrors ?? [],
  };
}

function compilePipeline(file: string, pipeline: Pipeline, now: Date, fireTimes: FireTimeWindow, upstreams: readonly DeployedUpstream[] | undefined): { plan?: PipelinePlan; problems: Problem[] } {
  const problems: Problem[] = [];
  const at = (job: string | undefined, fieldPath: string, code: Problem['code'], message: string, hint: string, extra: Partial<Problem> = {}): void => {
    problems.push({ code, pipeline: pipeline.id, ...(job ? { job } : {}), file, path: fieldPath, message, hint, ...extra });
  };
  const declared = (id: string): Job | undefined => (Object.prototype.hasOwnProperty.call(pipeline.jobs, id) ? pipeline.jobs[id] : undefined);

  const ids = Object.keys(pipeline.jobs).sort();
  const dependenciesOf = new Map<string, ResolvedDependency[]>();
  for (const id of ids) {
    const job = pipeline.jobs[id]!;
    const seen = new Set<string>();
    const dependencies: ResolvedDependency[] = [];
    (job.dependsOn ?? []).forEach((entry, i) => {
      const dep = resolveDependency(entry);
      const where = `jobs.${id}.dependsOn[${i}]`;
      const upstream = declared(dep.job);
      if (!upstream) {
        at(id, typeof entry === 'string' ? where : `${where}.job`, ProblemCode.DEP_001_MISSING_UPSTREAM, `job "${id}" depends on "${dep.job}", which pipeline "${pipeline.id}" does not declare`, `declare a job "${dep.job}" or remove it from dependsOn; declared jobs: ${ids.join(', ')}`);
        return;
      }
      if (upstream.enabled === false && job.enabled !== false) {
        at(id, where, ProblemCode.DEP_003_DISABLED_UPSTREAM, `job "${id}" depends on "${dep.job}", which is disabled and never runs`, `enable "${dep.job}", disable "${id}" too, or remove the dependency`);
      }
      if (seen.has(dep.job)) {
        at(id, where, ProblemCode.DEP_005_DUPLICATE_DEPENDENCY, `job "${id}" depends on "${dep.job}" more than once`, 'keep one entry per upstream job; combine conditions with && and ||');
        return;
      }
      seen.add(dep.job);
      if (dep.on === DependencyType.DATA_READY) {
        if (dep.condition === undefined) {
          at(id, `${where}.condition`, ProblemCode.DEP_004_INVALID_CONDITION, `job "${id}" waits for "${dep.job}" on DATA_READY without a condition`, 'give the condition its outputs must satisfy, e.g. "rows > 0", or use on: "SUCCESS"');
        } else {
          const parsed = parseCondition(dep.condition);
          if (!parsed.ok) at(id, `${where}.condition`, ProblemCode.DEP_004_INVALID_CONDITION, `the condition "${dep.condition}" of job "${id}" on "${dep.job}" is not valid: ${parsed.error.message}`, 'a condition compares the upstream\'s outputs: rows > 0, status == "ok" && !partial (see lib/model/condition.ts)');
        }
      } else if (dep.condition !== undefined) {
        at(id, `${where}.condition`, ProblemCode.DEP_004_INVALID_CONDITION, `job "${id}" gives a condition on "${dep.job}", but only a DATA_READY dependency has one (this one is ${dep.on})`, 'add on: "DATA_READY", or remove the condition');
      }
      dependencies.push(dep);
    });
    dependenciesOf.set(id, dependencies);
  }

  // Every default applied once, here; the layer and the function are known once the graph is.
  const resolved = ids.map((id) => {
    const job = pipeline.jobs[id]!;
    const dependencies = dependenciesOf.get(id) ?? [];
    return {
      id,
      ...(job.description !== undefined ? { description: job.description } : {}),
      dependsOn: dependencies.map((d) => d.job),
      dependencies,
      handlerPath: path.resolve(path.dirname(file), job.handler),
      parameters: { ...pipeline.parameters, ...job.parameters },
      timeoutSeconds: job.timeoutSeconds ?? pipeline.defaults?.timeoutSeconds ?? JOB_DEFAULTS.timeoutSeconds,
      memoryMb: job.memoryMb ?? pipeline.defaults?.memoryMb ?? JOB_DEFAULTS.memoryMb,
      retry: resolveRetry(pipeline, job),
      enabled: job.enabled !== false,
    };
  });
  for (const job of resolved) {
    if (job.retry.maxDelaySeconds < job.retry.initialDelaySeconds) {
      const own = pipeline.jobs[job.id]!.retry?.maxDelaySeconds !== undefined ? `jobs.${job.id}.retry` : 'defaults.retry';
      at(job.id, `${own}.maxDelaySeconds`, ProblemCode.DEF_001_INVALID_FIELD, `RetryPolicy.maxDelaySeconds (${job.retry.maxDelaySeconds}) cannot be less than its initialDelaySeconds (${job.retry.initialDelaySeconds}) for job "${job.id}"`, 'raise maxDelaySeconds or lower initialDelaySeconds');
    }
    const bytes = jsonBytes(job.parameters);
    if (bytes > LIMITS.jobParametersBytes) {
      at(job.id, `jobs.${job.id}.parameters`, ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, `job "${job.id}" carries ${bytes} bytes of parameters (merged with the pipeline's); every attempt record keeps them, so at most ${LIMITS.jobParametersBytes}`, 'keep parameters small: put large values in S3 or SSM and pass their key');
    }
  }

  const nodes = resolved.map((job) => ({ id: job.id, dependsOn: job.dependsOn, weight: job.timeoutSeconds }));
  for (const cycle of findCycles(nodes)) {
    at(cycle[0], `jobs.${cycle[0]}.dependsOn`, ProblemCode.DEP_002_CYCLE_DETECTED, `jobs depend on each other in a cycle: ${cycle.join(' → ')}`, 'a pipeline is a DAG: remove one dependency of the cycle', { cyclePath: cycle });
  }

  const schedules: CompiledSchedule[] = [];
  if (pipeline.schedule !== undefined && pipeline.schedules !== undefined) {
    at(undefined, 'schedules', ProblemCode.SCHED_004_SCHEDULE_CONFLICT, `pipeline "${pipeline.id}" has both schedule and schedules`, 'write one schedule as schedule, or several as schedules (each with its id), not both');
  }
  const scheduleIds = new Set<string>();
  for (const { path: where, schedule } of declaredSchedules(pipeline)) {
    if (scheduleIds.has(schedule.id)) {
      at(undefined, `${where}.id`, ProblemCode.SCHED_004_SCHEDULE_CONFLICT, `pipeline "${pipeline.id}" has two schedules with the id "${schedule.id}"`, 'give each schedule an id of its own: a run\'s identity includes it');
    }
    scheduleIds.add(schedule.id);
    const compiled = compileSchedule(schedule, now, fireTimes);
    if (compiled.ok) schedules.push(compiled.schedule);
    else for (const p of compiled.problems) at(undefined, `${where}.${p.field}`, p.code, p.message, p.hint);
  }
  // What a run may set: its JSON Schema is what the deployment checks runs with.
  let runParameters: JsonSchema | undefined;
  if (pipeline.runParameters !== undefined) {
    const converted = runParametersJsonSchema(pipeline.runParameters);
    if (converted.ok) runParameters = converted.schema;
    for (const p of converted.ok ? runParametersConflicts(pipeline, converted.schema) : converted.problems) at(p.job, p.path, p.code, p.message, p.hint);
  } else {
    // Without a schema a run takes no parameters: a schedule's own are refused.
    for (const p of runParametersConflicts(pipeline, undefined)) at(p.job, p.path, p.code, p.message, p.hint);
  }
  // When runs may start (windows, lateness, active runs): what the deployment checks every start against.
  const start = compileStartRules(pipeline);
  for (const p of start.problems) at(undefined, p.path, p.code, p.message, p.hint);
  // Its upstream pipelines are start rules too (spec Rule 2, checked before the limit on active runs).
  const startRules = upstreams !== undefined && upstreams.length > 0 ? { ...start.rules, upstreams: [...upstreams] } : start.rules;
  // The EventBridge events that start runs: each enabled trigger is one rule.
  const compiledTriggers = compileTriggers(pipeline, runParameters);
  for (const p of compiledTriggers.problems) at(undefined, p.path, p.code, p.message, p.hint);
  const triggers = compiledTriggers.triggers;
  // Upstream pipelines that start its runs (`trigger` dependencies) set no parameters either, but `event`.
  const starting = (upstreams ?? []).find((u) => u.mode === 'trigger');
  if (starting !== undefined && !triggers.some((t) => t.enabled)) {
    for (const p of triggeredRunProblems(runParameters, pipeline.after?.some((a) => a.pipeline === starting.pipeline) ? 'after' : 'requires', `each run of ${starting.pipeline} that ends starts a run with (the upstream run)`)) at(undefined, p.path, p.code, p.message, p.hint);
  }
  if (problems.length > 0) return { problems };

  const enabledNodes = nodes.filter((n) => pipeline.jobs[n.id]!.enabled !== false);
  const layers = executionLayers(enabledNodes);
  const layerOf = new Map(layers.flatMap((layer, i) => layer.map((id) => [id, i] as const)));
  // The run-parameter schema counts as the JSON Schema it deploys as (a zod object is no JSON).
  const definitionVersion = createHash('sha256').update(canonicalJson({ ...pipeline, runParameters })).digest('hex').slice(0, 16);
  const functions = groupFunctions(resolved.filter((j) => j.enabled));
  const functionOf = new Map(functions.flatMap((fn) => fn.jobs.map((id) => [id, fn.key] as const)));
  const jobs: ResolvedJob[] = resolved.map((job) => {
    const fn = functionOf.get(job.id);
    return { ...job, layer: layerOf.get(job.id) ?? -1, ...(fn !== undefined ? { function: fn } : {}) };
  });
  const enabledJobs = jobs.filter((j) => j.enabled);
  const manifest = buildManifest(pipeline.id, definitionVersion, enabledJobs);
  const critical = criticalPath(enabledNodes);
  const worstCaseRunSeconds = criticalPath(enabledJobs.map((j) => ({ id: j.id, dependsOn: j.dependsOn, weight: worstCaseJobSeconds(j) }))).weight;
  const { definition, substitutions, items: jobList } = renderStateMachine({ pipelineId: pipeline.id, definitionVersion, jobs: enabledJobs, functions, timeoutSeconds: executionTimeoutSeconds(worstCaseRunSeconds) });
  const alarms = resolveAlarms(pipeline.alarms);
  const estimates = { ...estimate(definition, substitutions, jobList, enabledJobs, functions.length, schedules.length, triggers.filter((t) => t.enabled && t.pattern !== undefined).length + (startRules?.upstreams?.length ?? 0) + (startRules?.queueIfRunning ? 1 : 0), messageTriggerResources(triggers), webhookTriggerResources(triggers), alarmCount(alarms), critical.weight), worstCaseRunSeconds };

  if (enabledJobs.length === 0) {
    at(undefined, 'jobs', ProblemCode.DEF_005_NO_ENABLED_JOBS, `every job of pipeline "${pipeline.id}" is disabled: a run would run nothing and succeed`, 'enable at least one job, or remove the pipeline');
  }
  if (enabledJobs.length > LIMITS.jobsPerRun) {
    at(undefined, 'jobs', ProblemCode.LIMIT_006_JOBS_PER_RUN, `the pipeline has ${enabledJobs.length} enabled jobs; a run waits on all of them at once, and a Distributed Map runs at most ${LIMITS.jobsPerRun} child executions at a time`, 'split the pipeline into smaller pipelines chained by their runs');
  }
  if (estimates.definitionBytes > LIMITS.definitionBytes) {
    at(undefined, 'jobs', ProblemCode.LIMIT_001_DEFINITION_SIZE, `the state machine definition would be ${estimates.definitionBytes} bytes; Step Functions takes at most ${LIMITS.definitionBytes}`, 'split the pipeline into smaller pipelines chained by their runs');
  }
  const history = Math.max(estimates.historyEvents.run, estimates.historyEvents.perJob.worstCase);
  if (history > LIMITS.historyEvents) {
    at(undefined, 'jobs', ProblemCode.LIMIT_002_HISTORY_EVENTS, `an execution of a run could write ${history} history events; a Standard execution holds at most ${LIMITS.historyEvents}`, 'lower retry.maxAttempts or split the pipeline into smaller pipelines');
  }
  if (estimates.stackResources > LIMITS.stackResources) {
    at(undefined, 'jobs', ProblemCode.LIMIT_003_STACK_RESOURCES, `the pipeline's stack would hold ${estimates.stackResources} resources; CloudFormation takes at most ${LIMITS.stackResources}`, 'share handler files between jobs (jobs with the same handler, memory and timeout share a function), or split the pipeline');
  }
  if (estimates.payloadBytes > LIMITS.payloadBytes) {
    at(undefined, 'jobs', ProblemCode.LIMIT_005_STATE_PAYLOAD, `a job's iteration would pass ${estimates.payloadBytes} bytes between states (its upstream list and the run's function ARNs, with run parameters at their ${MAX_RUN_PARAMETERS_BYTES}-byte limit); Step Functions passes at most ${LIMITS.payloadBytes}`, 'give the job fewer upstreams (join them through an intermediate job), or split the pipeline');
  }
  if (estimates.runRecordBytes > LIMITS.runRecordBytes) {
    at(undefined, 'jobs', ProblemCode.LIMIT_007_RUN_RECORD_SIZE, `a run's record could hold ${estimates.runRecordBytes} bytes (its summary keeps every job's status and attempts); a DynamoDB item holds at most ${LIMITS.runRecordBytes}`, 'use shorter job ids, or split the pipeline into smaller pipelines chained by their runs');
  }
  if (problems.length > 0) return { problems };

  const provides = providedBy(pipeline);
  return {
    problems,
    plan: {
      id: pipeline.id,
      ...(pipeline.description !== undefined ? { description: pipeline.description } : {}),
      ...(pipeline.version !== undefined ? { version: pipeline.version } : {}),
      definitionVersion,
      file,
      schedules,
      triggers,
      alarms,
      ...(runParameters !== undefined ? { runParameters } : {}),
      ...(startRules !== undefined ? { startRules } : {}),
      ...(provides.length > 0 ? { provides } : {}),
      jobs,
      functions,
      manifest,
      layers,
      criticalPath: critical.path,
      estimates,
      stateMachine: { name: stateMachineName(pipeline.id), definition, substitutions, jobList },
    },
  };
}

/** The longest one job can take: every attempt to its timeout (and the invocation margin), with the longest delays between. */
export function worstCaseJobSeconds(job: Pick<ResolvedJob, 'timeoutSeconds' | 'retry'>): number {
  let seconds = 0;
  for (let attempt = 1; attempt <= job.retry.maxAttempts; attempt++) {
    seconds += job.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS;
    if (attempt < job.retry.maxAttempts) seconds += Math.min(job.retry.maxDelaySeconds, job.retry.initialDelaySeconds * job.retry.backoffMultiplier ** (attempt - 1));
  }
  return Math.ceil(seconds);
}

/** The execution's own timeout: the worst case and an hour for the recorder's steps and the emulator's slack, within Step Functions' year. */
export const executionTimeoutSeconds = (worstCaseRunSeconds: number): number => Math.min(365 * 86_400, worstCaseRunSeconds + 3_600);

/** One function per distinct (handler file, memory, timeout), numbered in the order of their first job. */
function groupFunctions(jobs: readonly Omit<ResolvedJob, 'layer' | 'function'>[]): FunctionPlan[] {
  const groups = new Map<string, { handlerPath: string; memoryMb: number; timeoutSeconds: number; jobs: string[] }>();
  for (const job of jobs) {
    const key = JSON.stringify([job.handlerPath, job.memoryMb, job.timeoutSeconds]);
    const group = groups.get(key) ?? groups.set(key, { handlerPath: job.handlerPath, memoryMb: job.memoryMb, timeoutSeconds: job.timeoutSeconds, jobs: [] }).get(key)!;
    group.jobs.push(job.id);
  }
  return [...groups.values()].map((group, i) => ({ key: `f${i}`, ...group }));
}

function buildManifest(pipelineId: string, definitionVersion: string, jobs: readonly ResolvedJob[]): PipelineManifest {
  const dependents = new Map<string, { job: string; upstreamCount: number }[]>();
  for (const job of jobs) {
    for (const up of job.dependsOn) (dependents.get(up) ?? dependents.set(up, []).get(up)!).push({ job: job.id, upstreamCount: job.dependsOn.length });
  }
  const entries = jobs.map((job): [string, JobManifest] => [
    job.id,
    { parameters: job.parameters, retry: { ...job.retry, retryableErrors: [...job.retry.retryableErrors], nonRetryableErrors: [...job.retry.nonRetryableErrors] }, upstream: [...job.dependencies], dependents: dependents.get(job.id) ?? [] },
  ]);
  return { pipelineId, definitionVersion, jobs: Object.fromEntries(entries) };
}

/**
 * History events Step Functions writes, on the success path: an execution's start and end, a Task
 * (entered, scheduled, started, succeeded, exited), a callback Task (one more: submitted), a Choice or
 * a Succeed (entered, exited), a Distributed Map in its parent (entered, map run started and
 * succeeded, exited); per retry of a job: the failed run, the decision, the choice, the wait.
 */
const EVENTS = { execution: 2, task: 5, callback: 6, choice: 2, succeed: 2, map: 4, retry: 4 + 5 + 2 + 2 } as const;
/** Length of a Lambda function ARN with a 64-character name, what a placeholder is replaced by at most. */
const MAX_ARN_LENGTH = 140;
/**
 * A message trigger's resources, enabled or not (a disabled one keeps its queue, its mapping deployed
 * disabled): its event source mapping; without a `queueArn`, the queue Phi creates, its dead-letter
 * queue, their TLS-only queue policies and the alarm on the dead-letter queue; and, for a pipeline with
 * any, the policy that lets the trigger function read their queues.
 */
const MESSAGE_RESOURCES = { perMessageTrigger: 1, perMessageQueue: 5, messageQueueGrants: 1 } as const;

/** The CloudFormation resources of a pipeline's message triggers (`MESSAGE_RESOURCES`). */
export function messageTriggerResources(triggers: readonly CompiledTrigger[]): number {
  const messages = triggers.flatMap((t) => (t.message === undefined ? [] : [t.message]));
  if (messages.length === 0) return 0;
  return MESSAGE_RESOURCES.messageQueueGrants + messages.length * MESSAGE_RESOURCES.perMessageTrigger + messages.filter((m) => m.queueArn === undefined).length * MESSAGE_RESOURCES.perMessageQueue;
}

/**
 * A webhook trigger's resources, enabled or not (a disabled one keeps its secret, for when it is enabled
 * again): its signing secret. Its route and the grant to read the secret are the platform's.
 */
const WEBHOOK_RESOURCES = { perWebhookTrigger: 1 } as const;

/** The CloudFormation resources of a pipeline's webhook triggers (`WEBHOOK_RESOURCES`). */
export function webhookTriggerResources(triggers: readonly CompiledTrigger[]): number {
  return triggers.filter((t) => t.webhook !== undefined).length * WEBHOOK_RESOURCES.perWebhookTrigger;
}

/**
 * CloudFormation resources: per function (function, role, policy, log group); per stack (state machine,
 * role, policy, log group, the job list readers' policy, the definition's record); per schedule (the schedule), and for a
 * pipeline with any, the role its schedules share and that role's policy; per enabled trigger, per
 * upstream pipeline and for queued runs (its rule, and the permission that lets the rule invoke the trigger function).
 */
export const RESOURCES = { perFunction: 4, perStack: 6, perSchedule: 1, scheduleRole: 2, perTrigger: 2, ...MESSAGE_RESOURCES, ...WEBHOOK_RESOURCES } as const;
/** State transitions of a run outside its jobs: record started, the Map, record finished, the outcome, succeed. */
const RUN_TRANSITIONS = 5;

/** Bytes an item's id and upstream ids take (what varies between items). */
const upstreamBytes = (item: JobItem): number => item.id.length + item.d.reduce((n, id) => n + id.length + 3, 0);

function estimate(
  definition: object,
  substitutions: Record<string, SubstitutionTarget>,
  jobList: readonly JobItem[],
  jobs: readonly ResolvedJob[],
  functionCount: number,
  scheduleCount: number,
  triggerCount: number,
  messageResources: number,
  webhookResources: number,
  alarmCount: number,
  criticalPathSeconds: number,
): Omit<PlanEstimates, 'worstCaseRunSeconds'> {
  const text = JSON.stringify(definition);
  let definitionBytes = Buffer.byteLength(text);
  for (const [, key = ''] of text.matchAll(/\$\{(\w+)\}/g)) {
    if (key in substitutions) definitionBytes += MAX_ARN_LENGTH - key.length - 3;
  }
  const gated = jobs.filter((j) => j.dependsOn.length > 0).length;
  const jobTransitions = gated * 3 + (jobs.length - gated) * 2;
  const expectedPerJob = EVENTS.execution + EVENTS.choice + (gated > 0 ? EVENTS.callback : 0) + EVENTS.task;
  const maxAttempts = Math.max(1, ...jobs.map((j) => j.retry.maxAttempts));
  // The largest state: a job's iteration, its item (with its upstream list) and the functions' ARNs
  // beside the run (parameters at their limit). The job list itself is read from S3, never passed.
  // (the item with the most upstream bytes is the largest: measured for that one only)
  const widest = jobList.reduce<JobItem | undefined>((best, item) => (best === undefined || upstreamBytes(item) > upstreamBytes(best) ? item : best), undefined);
  const itemBytes = widest ? jsonBytes(widest) : 0;
  // The run's record at its end: its summary at its smallest (each job's status and attempts: the
  // recorder leaves codes and reasons to the jobs' own states when they would not fit), a cancel
  // naming every job, its parameters, the first failure's message, and the rest.
  // (an entry's size is the same but for its id and attempt count: measured once, not once a job)
  const entryBytes = jsonBytes(compactSummaryEntry('', 0)) - 1;
  const summaryBytes = jobs.reduce((sum, j) => sum + entryBytes + String(j.retry.maxAttempts).length + 2 * Buffer.byteLength(j.id) + 3, 0);
  return {
    definitionBytes,
    historyEvents: {
      run: EVENTS.execution + 2 * EVENTS.task + EVENTS.map + EVENTS.choice + EVENTS.succeed,
      perJob: { expected: expectedPerJob, worstCase: expectedPerJob + (maxAttempts - 1) * EVENTS.retry + EVENTS.task },
    },
    stateTransitions: { perRun: RUN_TRANSITIONS + jobTransitions, perJob: jobs.length === 0 ? 0 : Math.round((jobTransitions / jobs.length) * 100) / 100 },
    payloadBytes: itemBytes + functionCount * MAX_ARN_LENGTH + MAX_RUN_PARAMETERS_BYTES + 1024,
    runRecordBytes: summaryBytes + MAX_RUN_PARAMETERS_BYTES + MAX_ERROR_MESSAGE_LENGTH + 4096,
    stackResources: RESOURCES.perStack + functionCount * RESOURCES.perFunction + (scheduleCount > 0 ? RESOURCES.scheduleRole + scheduleCount * RESOURCES.perSchedule : 0) + triggerCount * RESOURCES.perTrigger + messageResources + webhookResources + alarmCount,
    criticalPathSeconds,
  };
}

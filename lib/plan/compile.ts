/**
 * The plan compiler: validated definitions → a `Plan`. Pure: the same definitions and `now` give the
 * same plan. Every problem it finds is returned, none thrown.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { canonicalJson, jsonBytes } from '../model/canonical.ts';
import type { JobRuntimeConfig } from '../model/contract/index.ts';
import { JOB_DEFAULTS, RETRY_DEFAULTS, type Job, type Pipeline } from '../model/pipeline.ts';
import { ProblemCode, type Problem } from '../model/problems.ts';
import { renderStateMachine } from './asl.ts';
import { criticalPath, executionLayers, findCycles } from './graph.ts';
import { stateMachineName } from '../model/names.ts';
import { compileSchedule, type CompiledSchedule } from './schedule/index.ts';
import type { Plan, PipelinePlan, PlanEstimates, ResolvedJob, ResolvedRetry, SubstitutionTarget } from './types.ts';

/** A definition file's validated default export. */
export interface LoadedPipeline {
  readonly file: string;
  readonly pipeline: Pipeline;
}

export const LIMITS = {
  definitionBytes: 1_048_576,
  /** Lambda holds 4 KB of environment; the rest of a job function's variables take well under 500 bytes. */
  jobConfigBytes: 3_500,
  historyEvents: 25_000,
  stackResources: 500,
} as const;


export function compilePlan(loaded: readonly LoadedPipeline[], now: Date): { plan: Plan; problems: Problem[] } {
  const problems: Problem[] = [];
  const pipelines: PipelinePlan[] = [];
  for (const { file, pipeline } of [...loaded].sort((a, b) => a.pipeline.id.localeCompare(b.pipeline.id))) {
    const result = compilePipeline(file, pipeline, now);
    problems.push(...result.problems);
    if (result.plan) pipelines.push(result.plan);
  }
  return { plan: { generatedAt: now.toISOString(), pipelines }, problems };
}

/** What a job's function knows of its job (its `PHI_JOB` environment variable). */
function jobRuntimeConfig(pipelineId: string, definitionVersion: string, job: Omit<ResolvedJob, 'layer' | 'runtime'>): JobRuntimeConfig {
  return {
    pipelineId,
    jobId: job.id,
    parameters: job.parameters,
    maxAttempts: job.retry.maxAttempts,
    retryableErrors: [...job.retry.retryableErrors],
    nonRetryableErrors: [...job.retry.nonRetryableErrors],
    definitionVersion,
  };
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

function compilePipeline(file: string, pipeline: Pipeline, now: Date): { plan?: PipelinePlan; problems: Problem[] } {
  const problems: Problem[] = [];
  const at = (job: string | undefined, fieldPath: string, code: Problem['code'], message: string, hint: string, extra: Partial<Problem> = {}): void => {
    problems.push({ code, pipeline: pipeline.id, ...(job ? { job } : {}), file, path: fieldPath, message, hint, ...extra });
  };

  const ids = Object.keys(pipeline.jobs).sort();
  for (const id of ids) {
    const job = pipeline.jobs[id]!;
    (job.dependsOn ?? []).forEach((dep, i) => {
      const upstream = pipeline.jobs[dep];
      if (!upstream) {
        at(id, `jobs.${id}.dependsOn[${i}]`, ProblemCode.DEP_001_MISSING_UPSTREAM, `job "${id}" depends on "${dep}", which pipeline "${pipeline.id}" does not declare`, `declare a job "${dep}" or remove it from dependsOn; declared jobs: ${ids.join(', ')}`);
      } else if (upstream.enabled === false && job.enabled !== false) {
        at(id, `jobs.${id}.dependsOn[${i}]`, ProblemCode.DEP_003_DISABLED_UPSTREAM, `job "${id}" depends on "${dep}", which is disabled and never runs`, `enable "${dep}", disable "${id}" too, or remove the dependency`);
      }
    });
  }

  // Every default applied once, here; the layer is known once the graph is.
  const resolved = ids.map((id) => {
    const job = pipeline.jobs[id]!;
    return {
      id,
      ...(job.description !== undefined ? { description: job.description } : {}),
      dependsOn: job.dependsOn ?? [],
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
  }

  const nodes = resolved.map((job) => ({ id: job.id, dependsOn: job.dependsOn, weight: job.timeoutSeconds }));
  for (const cycle of findCycles(nodes)) {
    at(cycle[0], `jobs.${cycle[0]}.dependsOn`, ProblemCode.DEP_002_CYCLE_DETECTED, `jobs depend on each other in a cycle: ${cycle.join(' → ')}`, 'a pipeline is a DAG: remove one dependency of the cycle', { cyclePath: cycle });
  }

  const schedules: CompiledSchedule[] = [];
  if (pipeline.schedule) {
    const compiled = compileSchedule(pipeline.schedule, now);
    if (compiled.ok) schedules.push(compiled.schedule);
    else for (const p of compiled.problems) at(undefined, `schedule.${p.field}`, p.code, p.message, p.hint);
  }
  if (problems.length > 0) return { problems };

  const enabledNodes = nodes.filter((n) => pipeline.jobs[n.id]!.enabled !== false);
  const layers = executionLayers(enabledNodes);
  const layerOf = new Map(layers.flatMap((layer, i) => layer.map((id) => [id, i] as const)));
  const definitionVersion = createHash('sha256').update(canonicalJson(pipeline)).digest('hex').slice(0, 16);
  const jobs: ResolvedJob[] = resolved.map((job) => ({ ...job, layer: layerOf.get(job.id) ?? -1, runtime: jobRuntimeConfig(pipeline.id, definitionVersion, job) }));
  const enabledJobs = jobs.filter((j) => j.enabled);
  const critical = criticalPath(enabledNodes);
  const { definition, substitutions } = renderStateMachine({ pipelineId: pipeline.id, definitionVersion, jobs: enabledJobs, layers });
  const estimates = estimate(definition, substitutions, enabledJobs, layers.length, schedules.length > 0, critical.weight);

  if (estimates.definitionBytes > LIMITS.definitionBytes) {
    at(undefined, 'jobs', ProblemCode.LIMIT_001_DEFINITION_SIZE, `the state machine definition would be ${estimates.definitionBytes} bytes; Step Functions takes at most ${LIMITS.definitionBytes}`, 'split the pipeline into smaller pipelines chained by their runs');
  }
  if (estimates.historyEvents.worstCase > LIMITS.historyEvents) {
    at(undefined, 'jobs', ProblemCode.LIMIT_002_HISTORY_EVENTS, `a run could write ${estimates.historyEvents.worstCase} history events; a Standard execution holds at most ${LIMITS.historyEvents}`, 'lower retry.maxAttempts or split the pipeline into smaller pipelines');
  }
  if (estimates.stackResources > LIMITS.stackResources) {
    at(undefined, 'jobs', ProblemCode.LIMIT_003_STACK_RESOURCES, `the pipeline's stack would hold ${estimates.stackResources} resources; CloudFormation takes at most ${LIMITS.stackResources}`, 'split the pipeline into smaller pipelines');
  }
  for (const job of enabledJobs) {
    const bytes = jsonBytes(job.runtime);
    if (bytes > LIMITS.jobConfigBytes) {
      at(job.id, `jobs.${job.id}.parameters`, ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, `job "${job.id}" carries ${bytes} bytes of configuration (its parameters merged with the pipeline's); a Lambda function's environment holds 4 KB`, 'keep parameters small: put large values in S3 or SSM and pass their key');
    }
  }
  if (problems.length > 0) return { problems };

  return {
    problems,
    plan: {
      id: pipeline.id,
      ...(pipeline.description !== undefined ? { description: pipeline.description } : {}),
      ...(pipeline.version !== undefined ? { version: pipeline.version } : {}),
      definitionVersion,
      file,
      schedules,
      jobs,
      layers,
      criticalPath: critical.path,
      estimates,
      stateMachine: { name: stateMachineName(pipeline.id), definition, substitutions },
    },
  };
}

/** History events Step Functions writes per state, on the success path. */
const EVENTS = { execution: 2, task: 5, retry: 3, choice: 2, succeed: 2, parallel: 4 } as const;
/** Length of a Lambda function ARN with a 64-character name, what a placeholder is replaced by at most. */
const MAX_FUNCTION_ARN_LENGTH = 140;
/** CloudFormation resources: per job (function, role, policy, log group); per stack (state machine, role, policy, log group); per schedule (schedule, role, policy). */
export const RESOURCES = { perJob: 4, perStack: 4, perSchedule: 3 } as const;

function estimate(
  definition: object,
  substitutions: Record<string, SubstitutionTarget>,
  jobs: readonly ResolvedJob[],
  layerCount: number,
  scheduled: boolean,
  criticalPathSeconds: number,
): PlanEstimates {
  const text = JSON.stringify(definition);
  let definitionBytes = Buffer.byteLength(text);
  for (const [, key = ''] of text.matchAll(/\$\{(\w+)\}/g)) {
    if (key in substitutions) definitionBytes += MAX_FUNCTION_ARN_LENGTH - key.length - 3;
  }
  const recorderCalls = 2;
  const expected = EVENTS.execution + recorderCalls * EVENTS.task + layerCount * EVENTS.parallel + jobs.length * (EVENTS.task + EVENTS.choice + EVENTS.succeed);
  const retries = jobs.reduce((sum, j) => sum + (j.retry.maxAttempts - 1) * EVENTS.retry, 0);
  return {
    definitionBytes,
    historyEvents: { expected, worstCase: expected + retries },
    stateTransitions: recorderCalls + layerCount + jobs.length * 3,
    stackResources: RESOURCES.perStack + jobs.length * RESOURCES.perJob + (scheduled ? RESOURCES.perSchedule : 0),
    criticalPathSeconds,
  };
}

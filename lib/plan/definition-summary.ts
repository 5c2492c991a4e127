/**
 * A pipeline plan's definition summary (`DefinitionSummary`, `lib/model/contract/definition.ts`): what
 * each deploy hands the definition recorder, which compares it with the last one recorded. Pure: the
 * same plan gives the same summary, on any machine (a handler's path is taken relative to its
 * definition file, never as the absolute path the plan resolved).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { canonicalJson } from '../model/canonical.ts';
import { MAX_JOB_HASHES_BYTES, MAX_SCHEDULE_TEXT, type DefinitionSummary } from '../model/contract/definition.ts';
import type { CompiledSchedule } from './schedule/index.ts';
import type { PipelinePlan, ResolvedJob } from './types.ts';

/** The first 8 hex digits of the SHA-256 of a value's canonical JSON. */
export const shortHash = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 8);

/**
 * What a job's hash covers: everything its definition resolves to (handler, upstreams and how it waits,
 * parameters merged with the pipeline's, timeout, memory, retry, enabled, description), but not what the
 * plan derives from the other jobs (its layer, its function's key).
 */
export function jobConfig(job: ResolvedJob, definitionFile: string): Record<string, unknown> {
  const { layer: _layer, function: _function, handlerPath, ...config } = job;
  return { ...config, handler: handlerKey(handlerPath, definitionFile) };
}

/** A handler file as a summary names it: its path relative to its definition file, with `/`. */
export const handlerKey = (handlerPath: string, definitionFile: string): string => path.relative(path.dirname(definitionFile), handlerPath).split(path.sep).join('/');

/** A schedule as people read it: `nightly: cron: 0 2 * * * (Europe/Paris), from …, until …, disabled, parameters #1a2b3c4d`. */
export function scheduleText(schedule: CompiledSchedule): string {
  const parts = [
    `${schedule.id}: ${schedule.source} (${schedule.timezone})`,
    ...(schedule.startDate !== undefined ? [`from ${schedule.startDate}`] : []),
    ...(schedule.endDate !== undefined ? [`until ${schedule.endDate}`] : []),
    ...(schedule.enabled ? [] : ['disabled']),
    ...(schedule.parameters !== undefined ? [`parameters #${shortHash(schedule.parameters)}`] : []),
  ];
  return parts.join(', ').slice(0, MAX_SCHEDULE_TEXT);
}

/**
 * The plan's summary: its hash and version, a short hash per job (while they fit) and per trigger, its
 * schedules, the rest's hash, and its handlers' code (`infra/handler-code.ts`) when given.
 */
export function definitionSummary(plan: PipelinePlan, code?: Readonly<Record<string, string>>): DefinitionSummary {
  const jobs = Object.fromEntries(plan.jobs.map((job) => [job.id, shortHash(jobConfig(job, plan.file))]));
  const listed = Buffer.byteLength(JSON.stringify(jobs)) <= MAX_JOB_HASHES_BYTES;
  return {
    pipelineId: plan.id,
    hash: plan.definitionVersion,
    ...(plan.version !== undefined ? { version: plan.version } : {}),
    ...(listed ? { jobs } : {}),
    jobCount: plan.jobs.length,
    jobsDigest: shortHash(jobs),
    schedules: plan.schedules.map(scheduleText),
    triggers: Object.fromEntries(plan.triggers.map((trigger) => [trigger.id, shortHash(trigger)])),
    settings: shortHash({ description: plan.description, startRules: plan.startRules, runParameters: plan.runParameters, alarms: plan.alarms, provides: plan.provides }),
    ...(code !== undefined ? { code: { ...code } } : {}),
  };
}

/**
 * A pipeline's `runParameters` (a zod object) → the JSON Schema the deployment checks runs with
 * (`lib/model/run-parameters.ts`), and the problems that keep it from being deployed: what JSON Schema
 * cannot say as written (`DEF_008`), and what contradicts the rest of the definition (`DEF_009`).
 */
import { z } from 'zod';
import { canonicalJson } from '../model/canonical.ts';
import { DEFAULT_SCHEDULE_ID, type JsonValue, type Parameters, type Pipeline } from '../model/pipeline.ts';
import { ProblemCode, type Problem } from '../model/problems.ts';
import { checkRunParameters, compileRunParameters, type JsonSchema } from '../model/run-parameters.ts';
import { declaredSchedules } from './schedule/index.ts';

/** A problem of the pipeline's run parameters, before the compiler adds the pipeline and the file. */
export type RunParametersProblem = Pick<Problem, 'code' | 'path' | 'message' | 'hint'> & { readonly job?: string };

const FIELD = 'runParameters';

const isObject = (value: JsonValue | undefined): value is { [key: string]: JsonValue } => typeof value === 'object' && value !== null && !Array.isArray(value);

/** zod's JSON Schema path (`['properties', 'symbols', 'items']`) as a person reads it: `symbols.items`. */
const readable = (path: readonly (string | number)[]): string =>
  path.filter((segment, i) => !(segment === 'properties' && i % 2 === 0)).map(String).join('.') || '(the object itself)';

/**
 * The JSON Schema of a declaration (draft 2020-12, without `$schema`), or why there is none. A plain
 * `z.object`, at any depth, refuses unknown keys (where zod would drop them, a run must not pass them
 * on); one with its own catch-all (`.catchall(…)`, `.loose()`) keeps it.
 */
export function runParametersJsonSchema(declared: z.ZodObject): { ok: true; schema: JsonSchema } | { ok: false; problems: RunParametersProblem[] } {
  const object = declared;
  const unenforced: string[] = [];
  let converted: Record<string, unknown>;
  try {
    converted = z.toJSONSchema(object, {
      io: 'input',
      unrepresentable: 'throw',
      override: (ctx) => {
        const def = ctx.zodSchema._zod.def as { type: string; catchall?: unknown; checks?: readonly { _zod: { def: { check: string } } }[]; coerce?: boolean };
        if (def.type === 'object' && def.catchall === undefined) ctx.jsonSchema.additionalProperties = false;
        if ((def.checks ?? []).some((check) => check._zod.def.check === 'custom')) unenforced.push(`${readable(ctx.path)} has a refinement (.refine, .superRefine or .check)`);
        if (def.coerce === true) unenforced.push(`${readable(ctx.path)} is coerced (z.coerce), which the deployment does not do: a run passes the value as its JSON type`);
        const format = ctx.jsonSchema.format;
        if (typeof format === 'string' && ctx.jsonSchema.pattern === undefined) unenforced.push(`${readable(ctx.path)} is a string of format "${format}", which JSON Schema names but does not check`);
      },
    }) as Record<string, unknown>;
    // A transform shows on the output side only: the deployment would pass its input on untransformed.
    z.toJSONSchema(object, { io: 'output', unrepresentable: 'throw' });
  } catch (err) {
    return {
      ok: false,
      problems: [{ code: ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE, path: FIELD, message: `runParameters cannot become the JSON Schema the deployment checks runs with: ${err instanceof Error ? err.message : String(err)}`, hint: 'use JSON types only (strings, numbers, booleans, arrays, objects, enums, literals), with no transforms (.transform, z.coerce, z.preprocess), dates or bigints' }],
    };
  }
  if (unenforced.length > 0) {
    return {
      ok: false,
      problems: unenforced.map((what) => ({ code: ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE, path: FIELD, message: `runParameters: ${what}; the deployment checks runs with the schema's JSON Schema, which cannot say it, so runs would not be held to it`, hint: 'say it with JSON Schema constraints: .min/.max, .regex(…), enums, literals; check the rest in the handler' })),
    };
  }
  const { $schema: _draft, ...schema } = converted;
  const json = schema as JsonSchema;
  try {
    compileRunParameters(json);
  } catch (err) {
    return { ok: false, problems: [{ code: ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE, path: FIELD, message: `runParameters' JSON Schema does not compile: ${err instanceof Error ? err.message : String(err)}`, hint: 'simplify the schema; a regular expression must not need unicode mode (\\p{…}, \\u{…})' }] };
  }
  return { ok: true, schema: json };
}

/** The key of an issue's path: `symbols` of `symbols[2]` or `symbols.x`. */
const topKey = (path: string): string => path.split(/[.[]/)[0] ?? '';

/**
 * What contradicts the schema in the rest of the pipeline: a pipeline or enabled job's parameter value
 * for a run parameter that the schema refuses, or that a default of the schema would always hide (a
 * run's parameters lie on top of every job's); a schedule whose runs, started with its `parameters`
 * (or none), the schema refuses. Without a schema (`undefined`) a run takes no parameters, so a
 * schedule's own are refused.
 */
export function runParametersConflicts(pipeline: Pipeline, schema: JsonSchema | undefined): RunParametersProblem[] {
  const problems: RunParametersProblem[] = [];
  const properties = schema !== undefined && isObject(schema.properties) ? schema.properties : {};
  const layers: { where: string; what: string; job?: string; values: Parameters | undefined }[] = [
    { where: 'parameters', what: 'pipeline parameter', values: pipeline.parameters },
    // Only jobs that set parameters (sorted by id with a plain comparison: a locale-aware one costs
    // milliseconds over a thousand jobs, and ids are ASCII).
    ...Object.entries(pipeline.jobs)
      .filter(([, job]) => job.enabled !== false && job.parameters !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, job]) => ({ where: `jobs.${id}.parameters`, what: `parameter of job "${id}"`, job: id, values: job.parameters })),
  ];
  for (const { where, what, job, values } of layers) {
    const keys = Object.keys(values ?? {}).filter((key) => Object.prototype.hasOwnProperty.call(properties, key));
    if (keys.length === 0 || values === undefined) continue;
    const at = (path: string, message: string, hint: string): void => void problems.push({ code: ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, path: `${where}.${path}`, message, hint, ...(job ? { job } : {}) });
    const checked = checkRunParameters(schema, Object.fromEntries(keys.map((key) => [key, values[key]!])));
    if (!checked.ok) {
      for (const issue of checked.issues) {
        if (!keys.includes(topKey(issue.path))) continue;
        at(issue.path, `the ${what} ${issue.path} is not a value runParameters allows: ${issue.message}`, 'give it a value the run-parameter schema accepts, or widen the schema');
      }
    }
    for (const key of keys) {
      const declared = properties[key];
      if (!isObject(declared) || !('default' in declared) || canonicalJson(declared.default) === canonicalJson(values[key])) continue;
      at(key, `runParameters gives "${key}" the default ${JSON.stringify(declared.default)}, which every run that does not set it carries on top of this ${what} (${JSON.stringify(values[key])}): the value is never seen`, `drop the default from runParameters (this value then applies when a run does not set "${key}"), or drop this value`);
    }
  }
  for (const { path: where, schedule } of declaredSchedules(pipeline)) {
    const scheduled = checkRunParameters(schema, schedule.parameters ?? {});
    if (scheduled.ok) continue;
    for (const issue of scheduled.issues) {
      const what = `${issue.path ? `${issue.path} ` : ''}${issue.message}`;
      if (schedule.parameters === undefined) {
        problems.push({ code: ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, path: issue.path ? `${FIELD}.${issue.path}` : FIELD, message: `${schedule.id === DEFAULT_SCHEDULE_ID ? 'a scheduled run' : `a run of schedule "${schedule.id}"`} starts with no parameters, which runParameters refuses: ${what}`, hint: 'give it a default (.default(…)) or make it optional (.optional()), or give the schedule its parameters' });
      } else {
        problems.push({
          code: ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT,
          path: `${where}.parameters${issue.path ? `.${issue.path}` : ''}`,
          message: `the parameters of schedule "${schedule.id}" are not what ${schema === undefined ? 'the pipeline allows' : 'runParameters allows'}: ${what}`,
          hint: schema === undefined ? 'declare the run parameters the schedule sets (runParameters: z.object({ … })), or remove them' : 'give the schedule parameters the run-parameter schema accepts, or widen the schema',
        });
      }
    }
  }
  return problems;
}

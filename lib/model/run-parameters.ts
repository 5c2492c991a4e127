/**
 * Run parameters: what one run may set on top of its pipeline's and jobs' parameters. A pipeline declares
 * them with a zod object (`runParameters`); the plan compiles it to JSON Schema (draft 2020-12), which
 * the deploy hands to the functions that start runs (the control API, the schedule trigger, the
 * sweeper). There `checkRunParameters` checks each run's parameters before anything is recorded, and
 * fills in the schema's defaults: the same function for a run started by hand and one started by a
 * schedule (with no parameters). A pipeline without a schema takes no run parameters at all.
 *
 * Pure, but not part of the `phi` entry (it loads ajv, which a definition file never needs).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { jsonBytes } from './canonical.ts';
import { MAX_RUN_PARAMETERS_BYTES } from './contract/task.ts';
import { JsonValueSchema, type JsonValue, type Parameters } from './pipeline.ts';

/** A JSON Schema document, as plain JSON. */
export type JsonSchema = { readonly [key: string]: JsonValue };
export const JsonSchemaSchema: z.ZodType<JsonSchema> = z.record(z.string(), JsonValueSchema);

/**
 * The deployed configuration: pipeline id → its run-parameter JSON Schema. A pipeline that is not in it
 * takes no run parameters. It travels in the environment of the functions that start runs.
 */
export const RunParameterSchemasSchema = z.record(z.string(), JsonSchemaSchema);
export type RunParameterSchemas = z.infer<typeof RunParameterSchemasSchema>;
/** The environment variable that carries `RunParameterSchemas` (JSON). */
export const RUN_PARAMETERS_ENV = 'PHI_RUN_PARAMETERS';

/** The run parameter Phi's own fault-injection tests pass (see `functions/runtime/faults.ts`). */
export const FAULTS_PARAMETER = '__phiFaults';

/** One reason a run's parameters were refused: where (`lookbackDays`, `symbols[2]`), why, and the JSON Schema keyword that refused it. */
export interface RunParameterIssue {
  readonly path: string;
  readonly message: string;
  readonly code: string;
}

export type RunParametersResult = { readonly ok: true; readonly parameters: Parameters } | { readonly ok: false; readonly issues: readonly RunParameterIssue[] };

/** At most this many issues are reported for one request (enough to fix it; bounded whatever the body). */
export const MAX_RUN_PARAMETER_ISSUES = 20;

/** The schema of a pipeline that declares no run parameters: an empty object only. */
const NO_PARAMETERS: JsonSchema = { type: 'object', additionalProperties: false };

/** The same options wherever a schema is compiled (the plan's check and the deployed functions). */
function newAjv(): Ajv2020 {
  return new Ajv2020({
    // `default` keywords fill what a run leaves out.
    useDefaults: true,
    allErrors: true,
    // Annotations zod writes (`description`, `examples`, custom `meta`) are not errors.
    strict: false,
    // zod writes a `pattern` beside each string format it can check; the plan refuses a format without one.
    validateFormats: false,
    // zod's own regular expressions are not unicode-mode ones.
    unicodeRegExp: false,
  });
}

const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/**
 * The validator of a schema, compiled once per schema object. Throws (ajv's message) when the schema is
 * not one ajv can compile; the plan calls it to refuse such a schema before it is deployed.
 */
export function compileRunParameters(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = newAjv().compile(schema as Record<string, unknown>);
    compiled.set(schema, validate);
  }
  return validate;
}

/** ajv's `/symbols/2/code` as Phi writes paths: `symbols[2].code`. */
function pathOf(pointer: string, extra?: string): string {
  const segments = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) segments.push(extra);
  let out = '';
  for (const segment of segments) out += /^\d+$/.test(segment) ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  return out;
}

function issueOf(error: ErrorObject, declared: readonly string[] | undefined): RunParameterIssue {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    const key = typeof params.additionalProperty === 'string' ? params.additionalProperty : undefined;
    if (error.instancePath === '') {
      return {
        path: key ?? '',
        message: declared === undefined || declared.length === 0 ? 'the pipeline declares no run parameters (runParameters)' : `is not a run parameter of this pipeline; it declares: ${declared.join(', ')}`,
        code: 'unknown_parameter',
      };
    }
    return { path: pathOf(error.instancePath, key), message: 'is not allowed here (an unknown key)', code: error.keyword };
  }
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') return { path: pathOf(error.instancePath, params.missingProperty), message: 'is required', code: error.keyword };
  // An error about a key of a record (`propertyNames`) names that key.
  const { propertyName } = error;
  if (propertyName !== undefined) return { path: pathOf(error.instancePath, propertyName), message: `is not an allowed key: ${error.message ?? 'refused'}`, code: error.keyword };
  return { path: pathOf(error.instancePath), message: error.message ?? 'is not valid', code: error.keyword };
}

/**
 * Checks a run's parameters against its pipeline's run-parameter schema and applies the schema's
 * defaults. Without a schema only `{}` passes. The input is never changed.
 */
export function checkRunParameters(schema: JsonSchema | undefined, parameters: Parameters): RunParametersResult {
  const validate = compileRunParameters(schema ?? NO_PARAMETERS);
  const copy = structuredClone(parameters);
  if (!validate(copy)) {
    const properties = schema?.properties;
    const declared = schema === undefined ? undefined : typeof properties === 'object' && properties !== null && !Array.isArray(properties) ? Object.keys(properties) : [];
    const issues: RunParameterIssue[] = [];
    const seen = new Set<string>();
    for (const error of validate.errors ?? []) {
      // `propertyNames` repeats, without the key, what the error inside it said.
      if (error.keyword === 'propertyNames') continue;
      const issue = issueOf(error, declared);
      const key = `${issue.path}\n${issue.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push(issue);
      if (issues.length === MAX_RUN_PARAMETER_ISSUES) break;
    }
    return { ok: false, issues };
  }
  const bytes = jsonBytes(copy);
  if (bytes > MAX_RUN_PARAMETERS_BYTES) {
    return { ok: false, issues: [{ path: '', message: `with their defaults, the run parameters are ${bytes} bytes of JSON; at most ${MAX_RUN_PARAMETERS_BYTES}`, code: 'too_big' }] };
  }
  return { ok: true, parameters: copy as Parameters };
}

/**
 * A schema that also lets `__phiFaults` through: only for deployments built with Phi's fault-injection
 * switch (its own e2e tests), whose job functions read it.
 */
export function withFaultsParameter(schema: JsonSchema | undefined): JsonSchema {
  const base = schema ?? { type: 'object', additionalProperties: false };
  const properties = typeof base.properties === 'object' && base.properties !== null && !Array.isArray(base.properties) ? base.properties : {};
  return { ...base, properties: { ...properties, [FAULTS_PARAMETER]: { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 100 } } } };
}

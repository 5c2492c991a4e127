/**
 * Run parameters: a definition's `runParameters` (zod) → the JSON Schema the plan deploys, and the one
 * check (`checkRunParameters`) the control API, the schedule trigger and the sweeper run every start
 * through: what passes, what is refused and why, and the defaults it fills in.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_RUN_PARAMETERS_BYTES } from '../../lib/model/contract/index.ts';
import type { Pipeline } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { checkRunParameters, FAULTS_PARAMETER, MAX_RUN_PARAMETER_ISSUES, withFaultsParameter, type JsonSchema } from '../../lib/model/run-parameters.ts';
import { describeRunParameters } from '../../lib/plan/render.ts';
import { runParametersConflicts, runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';

/** The JSON Schema a declaration deploys as; fails the test when it has problems. */
function schemaOf(declared: z.ZodObject): JsonSchema {
  const result = runParametersJsonSchema(declared);
  if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
  return result.schema;
}

const REPORT = schemaOf(
  z.object({
    date: z.iso.date(),
    region: z.enum(['eu', 'us']).default('eu'),
    lookbackDays: z.number().int().min(1).max(365).default(30),
    symbols: z.array(z.string().regex(/^[A-Z]{1,5}$/)).optional(),
    limits: z.record(z.enum(['rows', 'bytes']), z.number().int().min(0)).optional(),
  }),
);

describe('the JSON Schema a declaration deploys as', () => {
  it('is draft 2020-12 JSON Schema without $schema: strict, with defaults, required only what has none', () => {
    expect(REPORT).toEqual({
      type: 'object',
      properties: {
        date: { type: 'string', format: 'date', pattern: expect.any(String) },
        region: { type: 'string', enum: ['eu', 'us'], default: 'eu' },
        lookbackDays: { type: 'integer', minimum: 1, maximum: 365, default: 30 },
        symbols: { type: 'array', items: { type: 'string', pattern: '^[A-Z]{1,5}$' } },
        limits: { type: 'object', propertyNames: { type: 'string', enum: ['rows', 'bytes'] }, additionalProperties: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
      },
      required: ['date'],
      additionalProperties: false,
    });
  });

  it('refuses unknown keys of nested objects too (zod would drop them; a run must not pass them on)', () => {
    const schema = schemaOf(z.object({ window: z.object({ from: z.iso.date(), to: z.iso.date() }).optional(), tags: z.record(z.string(), z.string()).optional() }));
    expect(schema).toMatchObject({ properties: { window: { additionalProperties: false } }, additionalProperties: false });
    expect(checkRunParameters(schema, { window: { from: '2026-01-01', to: '2026-01-31', step: 1 }, tags: { any: 'key' } })).toEqual({
      ok: false,
      issues: [{ path: 'window.step', code: 'additionalProperties', message: 'is not allowed here (an unknown key)' }],
    });
  });

  it('keeps an object that says what other keys it takes (a catch-all) open to them', () => {
    expect(schemaOf(z.object({ a: z.string() }).catchall(z.number()))).toMatchObject({ additionalProperties: { type: 'number' } });
    expect(schemaOf(z.object({ a: z.string() }).loose())).toMatchObject({ additionalProperties: {} });
  });

  it.each([
    ['a transform', z.object({ n: z.string().transform(Number) }), /Transforms cannot be represented/],
    ['a coercion', z.object({ n: z.coerce.number() }), /n is coerced/],
    ['a date', z.object({ at: z.date() }), /Date cannot be represented/],
    ['a bigint', z.object({ n: z.bigint() }), /BigInt cannot be represented/],
    ['a refinement', z.object({ even: z.number().refine((n) => n % 2 === 0) }), /even has a refinement/],
    ['a refinement of the object', z.object({ a: z.number(), b: z.number() }).refine((o) => o.a < o.b), /\(the object itself\) has a refinement/],
    ['a format JSON Schema does not check', z.object({ site: z.url() }), /site is a string of format "uri"/],
  ])('refuses %s (DEF_008): the deployment could not hold runs to it', (_what, declared, message) => {
    const result = runParametersJsonSchema(declared);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.code)).toEqual([ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE]);
    expect(result.problems[0]).toMatchObject({ path: 'runParameters', message: expect.stringMatching(message), hint: expect.any(String) });
  });

  it('is described on one line for phi plan: types, ? when optional, = default when filled in', () => {
    expect(describeRunParameters(REPORT)).toBe('date: string, region: "eu"|"us" = "eu", lookbackDays: integer = 30, symbols?: string[], limits?: {[rows|bytes]: integer}');
    expect(describeRunParameters(undefined)).toBe('none (a run sets no parameters)');
    expect(describeRunParameters(schemaOf(z.object({ a: z.number() }).loose()))).toBe('a: number, …any other key');
  });
});

describe('checkRunParameters', () => {
  it('accepts parameters the schema allows, with its defaults filled in, and leaves the input as it was', () => {
    const input = { date: '2026-11-23', symbols: ['SPY'] };
    expect(checkRunParameters(REPORT, input)).toEqual({ ok: true, parameters: { date: '2026-11-23', symbols: ['SPY'], region: 'eu', lookbackDays: 30 } });
    expect(input).toEqual({ date: '2026-11-23', symbols: ['SPY'] });
  });

  it('keeps what a run sets over a default', () => {
    expect(checkRunParameters(REPORT, { date: '2026-11-23', region: 'us', lookbackDays: 7 })).toEqual({ ok: true, parameters: { date: '2026-11-23', region: 'us', lookbackDays: 7 } });
  });

  it('refuses a key the schema does not declare, naming the keys it does', () => {
    expect(checkRunParameters(REPORT, { date: '2026-11-23', colour: 'blue' })).toEqual({
      ok: false,
      issues: [{ path: 'colour', code: 'unknown_parameter', message: 'is not a run parameter of this pipeline; it declares: date, region, lookbackDays, symbols, limits' }],
    });
  });

  it('refuses a value of the wrong type or out of range, at its path', () => {
    const result = checkRunParameters(REPORT, { date: '2026-11-23', lookbackDays: '30', symbols: ['SPY', 'toolong'], region: 'asia' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'region', code: 'enum', message: 'must be equal to one of the allowed values' },
      { path: 'lookbackDays', code: 'type', message: 'must be integer' },
      { path: 'symbols[1]', code: 'pattern', message: expect.stringContaining('must match pattern') },
    ]);
    expect(checkRunParameters(REPORT, { date: '2026-11-23', lookbackDays: 0 })).toMatchObject({ ok: false, issues: [{ path: 'lookbackDays', code: 'minimum' }] });
    expect(checkRunParameters(REPORT, { date: '23/11/2026' })).toMatchObject({ ok: false, issues: [{ path: 'date', code: 'pattern' }] });
  });

  it('refuses a missing required parameter, and a record key the schema does not allow', () => {
    expect(checkRunParameters(REPORT, { limits: { rows: 5, files: 2 } })).toEqual({
      ok: false,
      issues: [
        { path: 'date', code: 'required', message: 'is required' },
        { path: 'limits.files', code: 'enum', message: 'is not an allowed key: must be equal to one of the allowed values' },
      ],
    });
  });

  it('takes no parameters for a pipeline without a schema: {} passes, any key is refused', () => {
    expect(checkRunParameters(undefined, {})).toEqual({ ok: true, parameters: {} });
    expect(checkRunParameters(undefined, { date: '2026-11-23', x: 1 })).toEqual({
      ok: false,
      issues: [
        { path: 'date', code: 'unknown_parameter', message: 'the pipeline declares no run parameters (runParameters)' },
        { path: 'x', code: 'unknown_parameter', message: 'the pipeline declares no run parameters (runParameters)' },
      ],
    });
  });

  it(`lists at most ${MAX_RUN_PARAMETER_ISSUES} issues, however many keys are wrong`, () => {
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    const result = checkRunParameters(undefined, many);
    expect(result.ok ? [] : result.issues).toHaveLength(MAX_RUN_PARAMETER_ISSUES);
  });

  it(`refuses parameters whose defaults take them past ${MAX_RUN_PARAMETERS_BYTES} bytes`, () => {
    const schema = schemaOf(z.object({ a: z.string().default('x'.repeat(MAX_RUN_PARAMETERS_BYTES)) }));
    expect(checkRunParameters(schema, {})).toMatchObject({ ok: false, issues: [{ path: '', code: 'too_big' }] });
  });

  it('lets __phiFaults through only where the deployment was built with the fault switch', () => {
    const faults = { [FAULTS_PARAMETER]: { getJobState: 1 } };
    expect(checkRunParameters(REPORT, { date: '2026-11-23', ...faults }).ok).toBe(false);
    expect(checkRunParameters(withFaultsParameter(REPORT), { date: '2026-11-23', ...faults })).toMatchObject({ ok: true, parameters: { ...faults, region: 'eu' } });
    expect(checkRunParameters(withFaultsParameter(undefined), faults)).toEqual({ ok: true, parameters: faults });
    expect(checkRunParameters(withFaultsParameter(undefined), { x: 1 }).ok).toBe(false);
    expect(checkRunParameters(withFaultsParameter(undefined), { [FAULTS_PARAMETER]: { getJobState: -1 } }).ok).toBe(false);
  });
});

describe('what contradicts the schema in the rest of the pipeline (DEF_009)', () => {
  const pipeline = (extra: Partial<Pipeline>): Pipeline => ({ id: 'report', jobs: { a: { handler: './a.ts' }, b: { handler: './b.ts' } }, ...extra });
  const declared = schemaOf(z.object({ region: z.enum(['eu', 'us']).optional(), lookbackDays: z.number().int().min(1).default(30), date: z.iso.date().optional() }));

  it('finds nothing when the pipeline and job parameters are values the schema allows, and equal to its defaults', () => {
    expect(runParametersConflicts(pipeline({ parameters: { region: 'eu', lookbackDays: 30, other: 'x' }, jobs: { a: { handler: './a.ts', parameters: { region: 'us' } } } }), declared)).toEqual([]);
  });

  it('refuses a pipeline or job parameter value the schema does not allow', () => {
    const problems = runParametersConflicts(pipeline({ parameters: { region: 'asia' }, jobs: { a: { handler: './a.ts', parameters: { date: 'yesterday' } }, b: { handler: './b.ts', enabled: false, parameters: { date: 'never deployed' } } } }), declared);
    expect(problems.map((p) => [p.code, p.job, p.path])).toEqual([
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, undefined, 'parameters.region'],
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'a', 'jobs.a.parameters.date'],
    ]);
    expect(problems[0]!.message).toContain('the pipeline parameter region is not a value runParameters allows: must be equal to one of the allowed values');
  });

  it('refuses a pipeline or job parameter a default of the schema would always hide', () => {
    const problems = runParametersConflicts(pipeline({ parameters: { lookbackDays: 7 }, jobs: { a: { handler: './a.ts', parameters: { lookbackDays: 30 } }, b: { handler: './b.ts', parameters: { lookbackDays: 1 } } } }), declared);
    expect(problems.map((p) => [p.job, p.path])).toEqual([
      [undefined, 'parameters.lookbackDays'],
      ['b', 'jobs.b.parameters.lookbackDays'],
    ]);
    expect(problems[0]!.message).toBe('runParameters gives "lookbackDays" the default 30, which every run that does not set it carries on top of this pipeline parameter (7): the value is never seen');
  });

  it('refuses a schedule whose runs, started with no parameters, the schema refuses; a pipeline started by hand may require parameters', () => {
    const requiring = schemaOf(z.object({ date: z.iso.date() }));
    expect(runParametersConflicts(pipeline({}), requiring)).toEqual([]);
    expect(runParametersConflicts(pipeline({ schedule: { cron: '0 6 * * *' } }), requiring)).toEqual([
      { code: ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, path: 'runParameters.date', message: 'a scheduled run starts with no parameters, which runParameters refuses: date is required', hint: expect.any(String) },
    ]);
    expect(runParametersConflicts(pipeline({ schedule: { cron: '0 6 * * *' } }), declared)).toEqual([]);
  });
});

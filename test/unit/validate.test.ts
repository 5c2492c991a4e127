/**
 * Validation through the public surface: definition files in a directory → `planDefinitions` → problems.
 * Every problem code has a test here; the LIMIT_* thresholds are derived from the estimate formulas in
 * lib/plan/compile.ts.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { planDefinitions } from '../../lib/load/load.ts';
import { ProblemCode, type Problem } from '../../lib/model/problems.ts';
import { LIMITS } from '../../lib/plan/compile.ts';
import type { Plan } from '../../lib/plan/types.ts';
import { removeDefinitionDirs, writeDefinitionDir, type DefinitionDirSpec } from './support/temp-definitions.ts';

const NOW = new Date('2026-11-22T12:00:00Z');
const HANDLER = 'handlers/task.ts';

afterAll(removeDefinitionDirs);

type JobSpec = Record<string, unknown>;

/** A job whose handler exists (see `HANDLER`). */
const task = (extra: JobSpec = {}): JobSpec => ({ handler: `./${HANDLER}`, ...extra });

/** A pipeline definition as a plain object: `extra` adds or replaces top-level fields. */
const pipeline = (id: string, jobs: Record<string, JobSpec>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id, jobs, ...extra });

async function plan(spec: DefinitionDirSpec): Promise<{ plan: Plan; problems: Problem[] }> {
  const dir = writeDefinitionDir({ ...spec, handlers: [HANDLER, ...(spec.handlers ?? [])] });
  return planDefinitions(dir, NOW);
}

async function problemsOf(definitions: Record<string, unknown>): Promise<Problem[]> {
  return (await plan({ definitions })).problems;
}

/** The single problem a directory yields; fails with the whole list otherwise. */
async function onlyProblem(definitions: Record<string, unknown>): Promise<Problem> {
  const problems = await problemsOf(definitions);
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0]!;
}

const codes = (problems: readonly Problem[]): string[] => problems.map((p) => p.code);

/** `count` independent jobs `j000`, `j001`, … with `maxAttempts` attempts each. */
function independentJobs(count: number, maxAttempts: number, pad = 3): Record<string, JobSpec> {
  const jobs: Record<string, JobSpec> = {};
  for (let i = 0; i < count; i++) jobs[`j${String(i).padStart(pad, '0')}`] = task({ retry: { maxAttempts } });
  return jobs;
}

describe('a valid directory', () => {
  it('yields no problems and one plan per pipeline, sorted by id', async () => {
    const result = await plan({
      definitions: {
        'b.ts': pipeline('zeta', { a: task() }),
        'a.ts': pipeline('alpha', { a: task(), b: task({ dependsOn: ['a'] }) }, { schedule: { cron: '0 6 * * *', timezone: 'Europe/Berlin' } }),
      },
    });
    expect(result.problems).toStrictEqual([]);
    expect(result.plan.pipelines.map((p) => p.id)).toStrictEqual(['alpha', 'zeta']);
    expect(result.plan.generatedAt).toBe(NOW.toISOString());
  });

  it('does not load handler files in subfolders as definitions', async () => {
    const result = await plan({ definitions: { 'p.ts': pipeline('p', { a: task() }) }, handlers: ['handlers/deep/other.ts'] });
    expect(result.problems).toStrictEqual([]);
    expect(result.plan.pipelines).toHaveLength(1);
  });
});

describe('DEF_001_INVALID_FIELD: a field does not match the schema', () => {
  it('reports retry.maxAttempts 0 at jobs.x.retry.maxAttempts, with pipeline and job', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ retry: { maxAttempts: 0 } }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, pipeline: 'orders', job: 'x', path: 'jobs.x.retry.maxAttempts' });
    expect(problem.message).toContain('1');
  });

  it('reports retry.maxAttempts above 10', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ retry: { maxAttempts: 11 } }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, path: 'jobs.x.retry.maxAttempts' });
  });

  it('reports a timeout above Lambda’s 900 seconds with its own message', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ timeoutSeconds: 901 }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, path: 'jobs.x.timeoutSeconds', message: 'Lambda runs at most 900 seconds' });
  });

  it('reports an unknown job field at its own path, naming it, with a spelling hint', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ retries: 3 }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, pipeline: 'orders', job: 'x', path: 'jobs.x.retries' });
    expect(problem.message).toContain('"retries"');
    expect(problem.hint).toContain('spelling');
  });

  it('reports an unknown top-level field, naming it', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task() }, { colour: 'red' }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, pipeline: 'orders' });
    expect(problem.message).toContain('"colour"');
  });

  it('reports a pipeline id that is not kebab-case at path id, keeping the written id as the pipeline', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('Orders_Daily', { x: task() }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, pipeline: 'Orders_Daily', path: 'id' });
    expect(problem.message).toContain('kebab-case');
  });

  it('reports an invalid job id at jobs.<id>', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { 'Load Data': task() }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, job: 'Load Data', path: 'jobs.Load Data' });
  });

  it('reports a field of the wrong type with a type hint', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ memoryMb: 'lots' }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, path: 'jobs.x.memoryMb', hint: 'give the field a value of the type shown' });
  });

  it('reports a pipeline without jobs at jobs', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', {}) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, path: 'jobs', message: 'a pipeline has at least one job' });
  });

  it('reports a schedule with two kinds at schedule, and a rate with a timezone at schedule.timezone', async () => {
    const problems = await problemsOf({
      'a.ts': pipeline('two-kinds', { x: task() }, { schedule: { cron: '0 0 * * *', rate: '1 hour' } }),
      'b.ts': pipeline('rate-tz', { x: task() }, { schedule: { rate: '1 hour', timezone: 'Europe/Paris' } }),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.DEF_001_INVALID_FIELD, 'two-kinds', 'schedule'],
      [ProblemCode.DEF_001_INVALID_FIELD, 'rate-tz', 'schedule.timezone'],
    ]);
    expect(problems[0]?.message).toContain('cron, rate');
  });

  it('reports every schema issue of one file at once', async () => {
    const problems = await problemsOf({
      'p.ts': pipeline('orders', { x: task({ retry: { maxAttempts: 0, jitter: 'SOME' } }), y: task({ timeoutSeconds: 0 }) }),
    });
    expect(problems.map((p) => p.path).sort()).toStrictEqual(['jobs.x.retry.jitter', 'jobs.x.retry.maxAttempts', 'jobs.y.timeoutSeconds']);
  });

  it('reports an invalid job id even when another job has an unknown field', async () => {
    const problems = await problemsOf({ 'p.ts': pipeline('orders', { 'Load Data': task(), y: task({ extra: true }) }) });
    expect(problems.map((p) => p.path).sort()).toStrictEqual(['jobs.Load Data', 'jobs.y.extra']);
  });
});

describe('DEF_001_INVALID_FIELD: a retry policy whose maxDelaySeconds is below its initialDelaySeconds', () => {
  it('reports the job’s own maxDelaySeconds at jobs.<id>.retry.maxDelaySeconds, naming both values', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ retry: { initialDelaySeconds: 30, maxDelaySeconds: 10 } }), y: task() }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, pipeline: 'orders', job: 'x', path: 'jobs.x.retry.maxDelaySeconds' });
    expect(problem.message).toContain('RetryPolicy.maxDelaySeconds (10) cannot be less than its initialDelaySeconds (30)');
    expect(problem.hint).not.toBe('');
  });

  it('compares against the resolved initialDelaySeconds: a job maxDelaySeconds under the spec default of 60', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ retry: { maxDelaySeconds: 59 } }) }) });
    expect(problem).toMatchObject({ path: 'jobs.x.retry.maxDelaySeconds' });
    expect(problem.message).toContain('RetryPolicy.maxDelaySeconds (59) cannot be less than its initialDelaySeconds (60)');
  });

  it('reports at defaults.retry.maxDelaySeconds, for each job it applies to, when the job does not set maxDelaySeconds itself', async () => {
    const problems = await problemsOf({
      'p.ts': pipeline(
        'orders',
        {
          a: task(),
          b: task({ retry: { initialDelaySeconds: 10 } }),
          // its own maxDelaySeconds replaces the default: no problem
          c: task({ retry: { maxDelaySeconds: 120 } }),
        },
        { defaults: { retry: { maxDelaySeconds: 20 } } },
      ),
    });
    expect(problems.map((p) => [p.code, p.job, p.path])).toStrictEqual([[ProblemCode.DEF_001_INVALID_FIELD, 'a', 'defaults.retry.maxDelaySeconds']]);
    expect(problems[0]?.message).toContain('RetryPolicy.maxDelaySeconds (20) cannot be less than its initialDelaySeconds (60)');
  });

  it('reports at defaults.retry.maxDelaySeconds when the job raises initialDelaySeconds above the default maxDelaySeconds', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ retry: { initialDelaySeconds: 200 } }) }, { defaults: { retry: { maxDelaySeconds: 100 } } }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, job: 'x', path: 'defaults.retry.maxDelaySeconds' });
    expect(problem.message).toContain('(100) cannot be less than its initialDelaySeconds (200)');
  });

  it('accepts maxDelaySeconds equal to initialDelaySeconds', async () => {
    expect(await problemsOf({ 'p.ts': pipeline('orders', { x: task({ retry: { initialDelaySeconds: 30, maxDelaySeconds: 30 } }) }) })).toStrictEqual([]);
  });
});

describe('DEF_002_HANDLER_NOT_FOUND: a handler file does not exist', () => {
  it('reports the missing handler at jobs.<id>.handler, relative to the definition file', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { load: { handler: './handlers/missing.ts' }, ok: task() }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_002_HANDLER_NOT_FOUND, pipeline: 'orders', job: 'load', path: 'jobs.load.handler' });
    expect(problem.message).toContain('missing.ts');
  });

  it('reports a handler path that is a directory', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { load: { handler: './handlers' } }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_002_HANDLER_NOT_FOUND, path: 'jobs.load.handler' });
  });
});

describe('DEF_003_LOAD_FAILED: a definition file cannot be loaded', () => {
  it('reports a file without a default export, with the file and no pipeline', async () => {
    const { problems } = await plan({ sources: { 'named.ts': 'export const pipeline = { id: "p" };\n' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: ProblemCode.DEF_003_LOAD_FAILED, path: '' });
    expect(problems[0]?.pipeline).toBeUndefined();
    expect(problems[0]?.file).toMatch(/named\.ts$/);
    expect(problems[0]?.message).toContain('has no default export');
    expect(problems[0]?.hint).toContain('export default');
  });

  it('reports a file that throws when imported, with the error message', async () => {
    const { problems } = await plan({ sources: { 'throws.ts': 'throw new Error("upstream config missing");\nexport default {};\n' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: ProblemCode.DEF_003_LOAD_FAILED, path: '' });
    expect(problems[0]?.file).toMatch(/throws\.ts$/);
    expect(problems[0]?.message).toContain('upstream config missing');
  });

  it.each([
    ['calls process.exit while loading', 'process.exit(0);\nexport default { id: "p", jobs: {} };\n', 'called process.exit(0) while loading'],
    ['never settles a top-level await', 'await new Promise(() => {});\nexport default { id: "p", jobs: {} };\n', 'did not finish loading within 300 ms'],
    ['has a getter that throws', 'export default { id: "p", get jobs() { throw new Error("no jobs today"); } };\n', 'reading it threw Error: no jobs today'],
    ['has parameters that refer to themselves', 'const p: Record<string, unknown> = {}; p.self = p;\nexport default { id: "p", parameters: p, jobs: {} };\n', 'nests deeper than 64 levels, or refers to itself'],
    ['has parameters nested 10,000 deep', 'let p: unknown = 1; for (let i = 0; i < 10_000; i++) p = { p };\nexport default { id: "p", parameters: p, jobs: {} };\n', 'nests deeper than 64 levels, or refers to itself'],
  ])('reports a file that %s, and goes on to the next file', async (_what, source, said) => {
    vi.stubEnv('PHI_LOAD_TIMEOUT_MS', '300');
    try {
      const { plan: result, problems } = await plan({ definitions: { 'good.ts': pipeline('good', { a: task() }) }, sources: { 'bad.ts': source } });
      expect(problems.map((p) => p.code)).toStrictEqual([ProblemCode.DEF_003_LOAD_FAILED]);
      expect(problems[0]?.message).toContain(said);
      expect(problems[0]?.file).toMatch(/bad\.ts$/);
      expect(result.pipelines.map((p) => p.id)).toStrictEqual(['good']);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('reports a definitions directory that does not exist', async () => {
    const missing = `${writeDefinitionDir({})}/nope`;
    const { plan: result, problems } = await planDefinitions(missing, NOW);
    expect(codes(problems)).toStrictEqual([ProblemCode.DEF_003_LOAD_FAILED]);
    expect(problems[0]?.message).toContain('does not exist');
    expect(result.pipelines).toStrictEqual([]);
  });

  it('still plans the other files of the directory', async () => {
    const { plan: result, problems } = await plan({
      definitions: { 'good.ts': pipeline('good', { a: task() }) },
      sources: { 'bad.ts': 'throw new Error("nope");\n' },
    });
    expect(codes(problems)).toStrictEqual([ProblemCode.DEF_003_LOAD_FAILED]);
    expect(result.pipelines.map((p) => p.id)).toStrictEqual(['good']);
  });
});

describe('DEF_006 / DEF_007: a handler file that could not serve its jobs', () => {
  it.each([
    ['a path out of the project', '../../../etc/hostname'],
    ['an absolute path elsewhere', '/etc/hostname'],
  ])('refuses %s with DEF_006_HANDLER_OUTSIDE_PROJECT, before anything bundles it', async (_what, handler) => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task({ handler }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEF_006_HANDLER_OUTSIDE_PROJECT, pipeline: 'orders', job: 'a', path: 'jobs.a.handler' });
  });

  it.each([
    ['exports no handler', 'export const other = async () => ({});\n', 'exports no `handler`'],
    ['exports a handler that is a number', 'export const handler = 42;\n', 'exports a `handler` that is number, not a function'],
    ['throws when loaded', 'throw new Error("no config");\n', 'could not be loaded: no config'],
  ])('refuses a handler file that %s with DEF_007_HANDLER_NOT_EXPORTED, once for all the jobs that share it', async (_what, source, said) => {
    const { problems } = await plan({ definitions: { 'p.ts': pipeline('orders', { a: task({ handler: './handlers/bad.ts' }), b: task({ handler: './handlers/bad.ts' }), c: task() }) }, sources: { 'handlers/bad.ts': source } });
    expect(problems.map((p) => [p.code, p.job])).toStrictEqual([
      [ProblemCode.DEF_007_HANDLER_NOT_EXPORTED, 'a'],
      [ProblemCode.DEF_007_HANDLER_NOT_EXPORTED, 'b'],
    ]);
    expect(problems[0]?.message).toContain(said);
  });
});

describe('DEF_004_DUPLICATE_PIPELINE: two files declare the same id', () => {
  it('reports the second file (in name order) at path id, naming both files, and plans the first', async () => {
    const { plan: result, problems } = await plan({
      definitions: {
        'a-first.ts': pipeline('orders', { a: task() }, { description: 'first' }),
        'b-second.ts': pipeline('orders', { b: task() }, { description: 'second' }),
      },
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: ProblemCode.DEF_004_DUPLICATE_PIPELINE, pipeline: 'orders', path: 'id' });
    expect(problems[0]?.file).toMatch(/b-second\.ts$/);
    expect(problems[0]?.message).toContain('a-first.ts');
    expect(problems[0]?.message).toContain('b-second.ts');
    expect(result.pipelines.map((p) => p.description)).toStrictEqual(['first']);
  });
});

describe('DEF_005_NO_ENABLED_JOBS: every job is disabled', () => {
  it('refuses the pipeline, which would run nothing and succeed, and plans the others', async () => {
    const { plan: result, problems } = await plan({
      definitions: {
        'off.ts': pipeline('off', { a: task({ enabled: false }), b: task({ enabled: false, dependsOn: ['a'] }) }),
        'on.ts': pipeline('on', { a: task(), b: task({ enabled: false }) }),
      },
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([[ProblemCode.DEF_005_NO_ENABLED_JOBS, 'off', 'jobs']]);
    expect(result.pipelines.map((p) => p.id)).toStrictEqual(['on']);
  });
});

describe('DEP_001_MISSING_UPSTREAM: a job depends on an undeclared job', () => {
  it('reports it at jobs.b.dependsOn[0], listing the declared jobs in the hint', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: ['extract'] }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEP_001_MISSING_UPSTREAM, pipeline: 'orders', job: 'b', path: 'jobs.b.dependsOn[0]' });
    expect(problem.message).toContain('"extract"');
    expect(problem.hint).toContain('a, b');
  });

  it('points at the index of the missing entry', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: ['a', 'ghost'] }) }) });
    expect(problem.path).toBe('jobs.b.dependsOn[1]');
  });
});

describe('DEP_002_CYCLE_DETECTED: jobs depend on each other in a cycle', () => {
  it('reports the cycle once with its cyclePath along dependsOn, at the first job', async () => {
    const problem = await onlyProblem({
      'p.ts': pipeline('orders', { a: task({ dependsOn: ['b'] }), b: task({ dependsOn: ['c'] }), c: task({ dependsOn: ['a'] }), d: task() }),
    });
    expect(problem).toMatchObject({ code: ProblemCode.DEP_002_CYCLE_DETECTED, pipeline: 'orders', job: 'a', path: 'jobs.a.dependsOn' });
    expect(problem.cyclePath).toStrictEqual(['a', 'b', 'c', 'a']);
    expect(problem.message).toContain('a → b → c → a');
  });

  it('reports a job that depends on itself', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task({ dependsOn: ['a'] }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEP_002_CYCLE_DETECTED, cyclePath: ['a', 'a'] });
  });

  it('reports each separate cycle', async () => {
    const problems = await problemsOf({
      'p.ts': pipeline('orders', { a: task({ dependsOn: ['b'] }), b: task({ dependsOn: ['a'] }), x: task({ dependsOn: ['x'] }) }),
    });
    expect(problems.map((p) => p.cyclePath)).toStrictEqual([
      ['a', 'b', 'a'],
      ['x', 'x'],
    ]);
  });
});

describe('DEP_003_DISABLED_UPSTREAM: an enabled job depends on a disabled one', () => {
  it('reports it at the dependsOn entry', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task({ enabled: false }), b: task({ dependsOn: ['a'] }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEP_003_DISABLED_UPSTREAM, pipeline: 'orders', job: 'b', path: 'jobs.b.dependsOn[0]' });
  });

  it('accepts a disabled job depending on a disabled job', async () => {
    const { problems, plan: result } = await plan({
      definitions: { 'p.ts': pipeline('orders', { a: task({ enabled: false }), b: task({ enabled: false, dependsOn: ['a'] }), c: task() }) },
    });
    expect(problems).toStrictEqual([]);
    expect(result.pipelines[0]?.layers).toStrictEqual([['c']]);
  });
});

describe('SCHED_*: schedules', () => {
  it('reports an invalid cron as SCHED_001_INVALID_CRON at schedule.cron', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task() }, { schedule: { cron: '60 * * * *' } }) });
    expect(problem).toMatchObject({ code: ProblemCode.SCHED_001_INVALID_CRON, pipeline: 'orders', path: 'schedule.cron' });
    expect(problem.job).toBeUndefined();
  });

  it('reports an invalid rate at schedule.rate and an invalid at at schedule.at', async () => {
    const problems = await problemsOf({
      'a.ts': pipeline('by-rate', { a: task() }, { schedule: { rate: '0 minutes' } }),
      'b.ts': pipeline('by-at', { a: task() }, { schedule: { at: '2026-02-30T10:00' } }),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.SCHED_001_INVALID_CRON, 'by-at', 'schedule.at'],
      [ProblemCode.SCHED_001_INVALID_CRON, 'by-rate', 'schedule.rate'],
    ]);
  });

  it('reports an invalid timezone as SCHED_002_INVALID_TIMEZONE at schedule.timezone', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task() }, { schedule: { cron: '0 19 * * 1-5', timezone: 'America/Gotham' } }) });
    expect(problem).toMatchObject({ code: ProblemCode.SCHED_002_INVALID_TIMEZONE, pipeline: 'orders', path: 'schedule.timezone' });
  });

  it('returns problems, instead of rejecting, for a cron naming a date that never occurs (30 February)', async () => {
    const result = plan({
      definitions: {
        'a.ts': pipeline('never', { a: task() }, { schedule: { cron: '0 0 30 2 *' } }),
        'b.ts': pipeline('other', { a: task({ dependsOn: ['ghost'] }) }),
      },
    });
    const { problems } = await result;
    expect(problems).toContainEqual(expect.objectContaining({ code: ProblemCode.SCHED_001_INVALID_CRON, pipeline: 'never', path: 'schedule.cron', message: expect.stringContaining('never fires') }));
    expect(problems).toContainEqual(expect.objectContaining({ code: ProblemCode.DEP_001_MISSING_UPSTREAM, pipeline: 'other', job: 'a' }));
  });

  it('reports a schedule AWS cannot express as SCHED_003_UNSUPPORTED at schedule.cron', async () => {
    const problems = await problemsOf({
      'a.ts': pipeline('both-days', { a: task() }, { schedule: { cron: '0 0 1 * MON' } }),
      'b.ts': pipeline('seconds', { a: task() }, { schedule: { cron: '30 0 0 * * *' } }),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.SCHED_003_UNSUPPORTED, 'both-days', 'schedule.cron'],
      [ProblemCode.SCHED_003_UNSUPPORTED, 'seconds', 'schedule.cron'],
    ]);
  });
});

describe('LIMIT_*: AWS limits', () => {
  /** `count` jobs, each with a timeout of its own (so each needs a function of its own). */
  const distinctFunctions = (count: number): Record<string, JobSpec> =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`j${String(i).padStart(3, '0')}`, task({ timeoutSeconds: i + 1 })]));
  /** `count` jobs, job i depending on the `fanIn` jobs before it (ids 40 characters long). */
  const denseGraph = (count: number, fanIn: number): Record<string, JobSpec> => {
    const id = (i: number): string => `job-${String(i).padStart(5, '0')}`.padEnd(40, 'x');
    return Object.fromEntries(Array.from({ length: count }, (_, i) => [id(i), task({ dependsOn: Array.from({ length: Math.min(i, fanIn) }, (_, k) => id(i - 1 - k)) })]));
  };

  it('keeps every execution far under 25,000 history events: a job using all 10 attempts writes 137 in its own', async () => {
    // per job: 15 events (9 without upstreams: no gate), 13 more a retry, and the abandon step: 15 + 9 × 13 + 5 = 137
    const independent = await plan({ definitions: { 'p.ts': pipeline('retrying', independentJobs(300, 10)) }, handlers: [HANDLER] });
    expect(independent.problems).toStrictEqual([]);
    expect(independent.plan.pipelines[0]!.estimates.historyEvents).toStrictEqual({ run: 20, perJob: { expected: 9, worstCase: 9 + 9 * 13 + 5 } });
    const chained = await plan({ definitions: { 'p.ts': pipeline('retrying', { a: task({ retry: { maxAttempts: 10 } }), b: task({ dependsOn: ['a'], retry: { maxAttempts: 10 } }) }) }, handlers: [HANDLER] });
    expect(chained.plan.pipelines[0]!.estimates.historyEvents).toStrictEqual({ run: 20, perJob: { expected: 15, worstCase: 137 } });
  });

  it('reports LIMIT_003_STACK_RESOURCES past 500 resources, counting the schedule’s', async () => {
    // 123 functions: 6 + 123 × 4 = 498 resources (the stack's 6: state machine, its role, policy and log
    // group, the job list readers' policy, the definition's record); the run-failed alarm (on by default)
    // and a long-run alarm add 2, at the limit; one function more is past it.
    const twoAlarms = { alarms: { maxDurationMinutes: 60 } };
    expect(await problemsOf({ 'p.ts': pipeline('wide', distinctFunctions(123), twoAlarms) })).toStrictEqual([]);
    const problem = await onlyProblem({ 'p.ts': pipeline('wide', distinctFunctions(124), twoAlarms) });
    expect(problem).toMatchObject({ code: ProblemCode.LIMIT_003_STACK_RESOURCES, pipeline: 'wide', path: 'jobs' });
    expect(problem.message).toContain('504');
    // A schedule is 3 (the schedule, the role schedules share and its policy): without any alarm, one past the limit.
    expect((await onlyProblem({ 'p.ts': pipeline('wide', distinctFunctions(123), { schedule: { rate: '1 day' }, alarms: { runFailed: false } }) })).message).toContain('501');
  });

  it('shares functions, so a thousand jobs of one handler fit one stack', async () => {
    const result = await plan({ definitions: { 'p.ts': pipeline('many', independentJobs(1000, 1, 4)) }, handlers: [HANDLER] });
    expect(result.problems).toStrictEqual([]);
    expect(result.plan.pipelines[0]!.estimates.stackResources).toBe(6 + 4 + 1); // and the run-failed alarm
  });

  describe('LIMIT_004_JOB_CONFIG_SIZE: a job’s merged parameters over 64 KiB (kept in every attempt record)', () => {
    /** A parameter object of exactly `bytes` bytes of JSON: `{"blob":"…"}`. */
    const parametersOf = (bytes: number, char = 'b') => ({ blob: char.repeat(bytes - '{"blob":""}'.length) });

    it('accepts exactly 65,536 bytes and reports one byte more at jobs.<id>.parameters', async () => {
      expect(LIMITS.jobParametersBytes).toBe(64 * 1024);
      expect(await problemsOf({ 'p.ts': pipeline('orders', { x: task({ parameters: parametersOf(65_536) }) }) })).toStrictEqual([]);
      const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ parameters: parametersOf(65_537) }) }) });
      expect(problem).toMatchObject({ code: ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, pipeline: 'orders', job: 'x', path: 'jobs.x.parameters' });
      expect(problem.message).toContain('65537');
      expect(problem.hint).toContain('S3');
    });

    it('counts the pipeline’s parameters merged in, for every job', async () => {
      const problems = await problemsOf({ 'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: ['a'] }) }, { parameters: parametersOf(70_000) }) });
      expect(problems.map((p) => [p.code, p.job, p.path])).toStrictEqual([
        [ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, 'a', 'jobs.a.parameters'],
        [ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, 'b', 'jobs.b.parameters'],
      ]);
    });

    it('counts bytes, not characters', async () => {
      // 33,000 two-byte characters: under the limit in characters, over it in bytes.
      const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ parameters: { blob: 'é'.repeat(33_000) } }) }) });
      expect(problem.code).toBe(ProblemCode.LIMIT_004_JOB_CONFIG_SIZE);
    });
  });

  /** `count` jobs with 40-character ids, and one more waiting for all of them. */
  const wideFanIn = (count: number): Record<string, JobSpec> => {
    const id = (i: number): string => `job-${String(i).padStart(5, '0')}`.padEnd(40, 'x');
    const jobs = independentJobs(0, 1);
    for (let i = 0; i < count; i++) jobs[id(i)] = task();
    jobs.sink = task({ dependsOn: Array.from({ length: count }, (_, i) => id(i)) });
    return jobs;
  };

  it('keeps the definition and the state payload the same size whatever the graph: the job list is read from S3, never passed', async () => {
    // 26,950 edges of 40-character ids: over a megabyte of graph, which the definition once carried
    const verbose = await plan({ definitions: { 'p.ts': pipeline('verbose', denseGraph(320, 100)) }, handlers: [HANDLER] });
    const small = await plan({ definitions: { 'p.ts': pipeline('small', denseGraph(3, 1)) }, handlers: [HANDLER] });
    expect(verbose.problems).toStrictEqual([]);
    const [large, tiny] = [verbose.plan.pipelines[0]!, small.plan.pipelines[0]!];
    // the same but for the pipeline's id and the Map's concurrency (one per job)
    expect(Math.abs(large.estimates.definitionBytes - tiny.estimates.definitionBytes)).toBeLessThan(16);
    // one job's iteration carries its own upstream list: 100 ids of 40 characters at most here
    expect(large.estimates.payloadBytes - tiny.estimates.payloadBytes).toBeLessThan(100 * 43);
    expect(Buffer.byteLength(JSON.stringify(large.stateMachine.jobList))).toBeGreaterThan(1_048_576);
  });

  it('reports LIMIT_005_STATE_PAYLOAD when one job waits for so many upstreams that its iteration would pass more than 256 KiB', async () => {
    // 5,500 upstream ids of 40 characters: about 236 KB in the job's own item, beside run parameters at 32 KiB
    const problems = await problemsOf({ 'p.ts': pipeline('dense', wideFanIn(5_500)) });
    const limit = problems.find((p) => p.code === ProblemCode.LIMIT_005_STATE_PAYLOAD);
    expect(limit).toMatchObject({ pipeline: 'dense', path: 'jobs' });
    expect(limit?.message).toContain('262144');
  });

  it('reports LIMIT_007_RUN_RECORD_SIZE when the run’s summary of its jobs could not fit one DynamoDB item', async () => {
    // 4,000 jobs with 40-character ids: about 126 bytes each in the summary and a cancel listing them
    const problems = await problemsOf({ 'p.ts': pipeline('wide', wideFanIn(4_000)) });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([[ProblemCode.LIMIT_007_RUN_RECORD_SIZE, 'jobs']]);
    expect(problems[0]!.message).toContain('409600');
    // the same jobs with short ids fit
    const short = await problemsOf({ 'p.ts': pipeline('wide', independentJobs(4_000, 1, 4)) });
    expect(short).toStrictEqual([]);
  });

  it('reports LIMIT_006_JOBS_PER_RUN past 10,000 enabled jobs, which could not all wait at once', async () => {
    const problems = await problemsOf({ 'p.ts': pipeline('enormous', independentJobs(10_001, 1, 5)) });
    expect(codes(problems)).toContain(ProblemCode.LIMIT_006_JOBS_PER_RUN);
    expect(problems.find((p) => p.code === ProblemCode.LIMIT_006_JOBS_PER_RUN)?.message).toContain('10001');
  });
});

describe('dependency forms', () => {
  it('accepts every form: a plain id, SUCCESS, COMPLETION and DATA_READY with a condition, skipOnUpstreamSkip', async () => {
    const result = await plan({
      definitions: {
        'p.ts': pipeline('forms', {
          a: task(),
          b: task({ dependsOn: ['a', { job: 'c', on: 'COMPLETION' }] }),
          c: task({ dependsOn: [{ job: 'a', on: 'DATA_READY', condition: 'rows > 0 && status == "ok"', skipOnUpstreamSkip: false }] }),
          d: task({ dependsOn: [{ job: 'a' }] }),
        }),
      },
      handlers: [HANDLER],
    });
    expect(result.problems).toStrictEqual([]);
    const jobs = result.plan.pipelines[0]!.jobs;
    expect(jobs.map((j) => [j.id, j.dependsOn, j.dependencies])).toStrictEqual([
      ['a', [], []],
      ['b', ['a', 'c'], [{ job: 'a', on: 'SUCCESS', skipOnUpstreamSkip: true }, { job: 'c', on: 'COMPLETION', skipOnUpstreamSkip: true }]],
      ['c', ['a'], [{ job: 'a', on: 'DATA_READY', condition: 'rows > 0 && status == "ok"', skipOnUpstreamSkip: false }]],
      ['d', ['a'], [{ job: 'a', on: 'SUCCESS', skipOnUpstreamSkip: true }]],
    ]);
  });

  it('reports DEP_004_INVALID_CONDITION for a condition that does not parse, naming where', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: [{ job: 'a', on: 'DATA_READY', condition: 'rows > && ok' }] }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEP_004_INVALID_CONDITION, pipeline: 'orders', job: 'b', path: 'jobs.b.dependsOn[0].condition' });
    expect(problem.message).toContain('character 7');
  });

  it('reports DEP_004_INVALID_CONDITION for DATA_READY without a condition, and a condition on another type', async () => {
    const problems = await problemsOf({
      'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: [{ job: 'a', on: 'DATA_READY' }] }), c: task({ dependsOn: [{ job: 'a', condition: 'rows > 0' }] }) }),
    });
    expect(problems.map((p) => [p.code, p.job, p.path])).toStrictEqual([
      [ProblemCode.DEP_004_INVALID_CONDITION, 'b', 'jobs.b.dependsOn[0].condition'],
      [ProblemCode.DEP_004_INVALID_CONDITION, 'c', 'jobs.c.dependsOn[0].condition'],
    ]);
  });

  it('reports DEP_005_DUPLICATE_DEPENDENCY for the same upstream listed twice, in any form', async () => {
    const problem = await onlyProblem({ 'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: ['a', { job: 'a', on: 'COMPLETION' }] }) }) });
    expect(problem).toMatchObject({ code: ProblemCode.DEP_005_DUPLICATE_DEPENDENCY, job: 'b', path: 'jobs.b.dependsOn[1]' });
  });

  it('reports DEP_001_MISSING_UPSTREAM at the object’s job field, and never takes an inherited property for a job', async () => {
    const problems = await problemsOf({ 'p.ts': pipeline('orders', { a: task({ dependsOn: [{ job: 'ghost' }, 'constructor', 'toString'] }) }) });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.DEP_001_MISSING_UPSTREAM, 'jobs.a.dependsOn[0].job'],
      [ProblemCode.DEP_001_MISSING_UPSTREAM, 'jobs.a.dependsOn[1]'],
      [ProblemCode.DEP_001_MISSING_UPSTREAM, 'jobs.a.dependsOn[2]'],
    ]);
  });

  it('refuses unknown fields of a dependency and a type that is not one of the three', async () => {
    const problems = await problemsOf({ 'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: [{ job: 'a', on: 'ALWAYS', when: 'x' }] }) }) });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.DEF_001_INVALID_FIELD, 'jobs.b.dependsOn[0].on'],
      [ProblemCode.DEF_001_INVALID_FIELD, 'jobs.b.dependsOn[0].when'],
    ]);
  });
});

describe('reporting', () => {
  it('reports all problems of a file at once, from loading, dependencies and schedule', async () => {
    // GIVEN one file with a missing handler, a missing upstream and an invalid timezone
    const problems = await problemsOf({
      'p.ts': pipeline(
        'orders',
        { extract: { handler: './handlers/nowhere.ts' }, load: task({ dependsOn: ['transform'] }) },
        { schedule: { cron: '0 6 * * *', timezone: 'Europe/Atlantis' } },
      ),
    });
    // THEN all three are reported, each with where and why
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.DEF_002_HANDLER_NOT_FOUND, 'jobs.extract.handler'],
      [ProblemCode.DEP_001_MISSING_UPSTREAM, 'jobs.load.dependsOn[0]'],
      [ProblemCode.SCHED_002_INVALID_TIMEZONE, 'schedule.timezone'],
    ]);
    for (const problem of problems) {
      expect(Object.values(ProblemCode)).toContain(problem.code);
      expect(problem.pipeline).toBe('orders');
      expect(problem.path).not.toBe('');
      expect(problem.message).not.toBe('');
      expect(problem.hint).not.toBe('');
      expect(problem.file).toMatch(/p\.ts$/);
    }
  });

  it('reports the problems of every file together, and every problem says where it is and how to fix it', async () => {
    const problems = await problemsOf({
      'a.ts': pipeline('a-pipe', { x: task({ retry: { maxAttempts: 0 } }) }),
      'b.ts': pipeline('b-pipe', { x: task({ dependsOn: ['x'] }) }),
      'c.ts': pipeline('c-pipe', { x: task() }, { schedule: { cron: '0 0 1 * 1' } }),
    });
    expect(problems.map((p) => [p.code, p.pipeline])).toStrictEqual([
      [ProblemCode.DEF_001_INVALID_FIELD, 'a-pipe'],
      [ProblemCode.DEP_002_CYCLE_DETECTED, 'b-pipe'],
      [ProblemCode.SCHED_003_UNSUPPORTED, 'c-pipe'],
    ]);
    for (const problem of problems) {
      expect(problem).toStrictEqual(
        expect.objectContaining({ code: expect.any(String), pipeline: expect.any(String), path: expect.any(String), message: expect.any(String), hint: expect.any(String) }),
      );
    }
  });
});

describe('run parameters (runParameters)', () => {
  /** A definition file importing `z` from `phi`, as a user's does (by path: the file lies outside the project). */
  const PHI = fileURLToPath(new URL('../../lib/model/index.ts', import.meta.url));
  const definition = (id: string, fields: string): string => `import { z } from ${JSON.stringify(PHI)};\n\nexport default { id: '${id}', jobs: { a: { handler: './${HANDLER}' } }, ${fields} };\n`;
  const problemsOfSources = async (sources: Record<string, string>): Promise<Problem[]> => (await plan({ sources })).problems;

  it('plans a pipeline whose declaration is JSON Schema-able and agrees with its parameters', async () => {
    const { plan: result, problems } = await plan({ sources: { 'p.ts': definition('orders', "parameters: { region: 'eu' }, schedule: { rate: '1 hour' }, runParameters: z.object({ region: z.enum(['eu', 'us']).optional(), limit: z.number().int().default(10) })") } });
    expect(problems).toStrictEqual([]);
    expect(result.pipelines[0]!.runParameters).toMatchObject({ properties: { limit: { default: 10 } }, additionalProperties: false });
  });

  it('DEF_001: runParameters that is not a zod object (a JSON Schema written by hand, say)', async () => {
    const [problem, ...rest] = await problemsOf({ 'p.ts': pipeline('orders', { a: task() }, { runParameters: { type: 'object', properties: {} } }) });
    expect(rest).toStrictEqual([]);
    expect(problem).toMatchObject({ code: ProblemCode.DEF_001_INVALID_FIELD, pipeline: 'orders', path: 'runParameters', message: expect.stringContaining('zod object schema') });
  });

  it('DEF_008: a declaration the deployment could not hold runs to (a transform, a refinement)', async () => {
    const problems = await problemsOfSources({
      'a.ts': definition('transforms', 'runParameters: z.object({ n: z.string().transform(Number) })'),
      'b.ts': definition('refines', 'runParameters: z.object({ n: z.number().refine((n) => n % 2 === 0) })'),
    });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([
      [ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE, 'refines', 'runParameters'],
      [ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE, 'transforms', 'runParameters'],
    ]);
    for (const p of problems) expect(p.hint).not.toBe('');
  });

  it('DEF_009: a pipeline parameter the declaration refuses, a default that hides one, a schedule whose runs it refuses', async () => {
    const problems = await problemsOfSources({
      'p.ts': definition('orders', "schedule: { cron: '0 6 * * *' }, parameters: { region: 'asia', limit: 5 }, runParameters: z.object({ region: z.enum(['eu', 'us']).optional(), limit: z.number().int().default(10), date: z.iso.date() })"),
    });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'parameters.region'],
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'parameters.limit'],
      [ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, 'runParameters.date'],
    ]);
  });

  it(`LIMIT_008: the deployment's schemas past ${LIMITS.runParameterSchemasBytes} bytes together (they travel in a 4 KB environment)`, async () => {
    const wide = `runParameters: z.object(Object.fromEntries(Array.from({ length: 50 }, (_, i) => ['parameter_number_' + i, z.boolean().optional()])))`;
    const problems = await problemsOfSources({ 'a.ts': definition('wide-a', wide), 'b.ts': definition('wide-b', wide) });
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([[ProblemCode.LIMIT_008_RUN_PARAMETERS_SIZE, 'wide-a', 'runParameters']]);
    expect(problems[0]!.message).toMatch(/the run-parameter schemas of the 2 pipelines are \d+ bytes/);
    // Either one alone fits.
    expect(await problemsOfSources({ 'a.ts': definition('wide-a', wide) })).toStrictEqual([]);
  });
});

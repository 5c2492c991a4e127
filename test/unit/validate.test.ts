/**
 * Validation through the public surface: definition files in a directory → `planDefinitions` → problems.
 * Every problem code has a test here; the LIMIT_* thresholds are derived from the estimate formulas in
 * lib/plan/compile.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
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
  /*
   * History events (compile.ts `estimate`), per run:
   *   expected  = 2 (execution) + 2 × 5 (recorder tasks) + layers × 4 (Parallel) + jobs × (5 task + 2 choice + 2 succeed)
   *   worstCase = expected + Σ (maxAttempts − 1) × 3 (retry)
   * n independent jobs (one layer) with maxAttempts 10: worstCase = 16 + 9n + 27n = 16 + 36n.
   *   n = 694 → 25,000 (at the limit, allowed); n = 695 → 25,036 (over the limit).
   * Stack resources: 4 per stack + 4 per job + 3 per schedule; the limit is 500.
   */
  const historyWorstCase = (jobs: number, layers: number, maxAttempts: number): number =>
    2 + 2 * 5 + layers * 4 + jobs * (5 + 2 + 2) + jobs * (maxAttempts - 1) * 3;

  it('reports LIMIT_002_HISTORY_EVENTS when every job using every attempt could exceed 25,000 events', async () => {
    expect(historyWorstCase(695, 1, 10)).toBe(25_036);
    const problems = await problemsOf({ 'p.ts': pipeline('huge', independentJobs(695, 10)) });
    const limit = problems.find((p) => p.code === ProblemCode.LIMIT_002_HISTORY_EVENTS);
    expect(limit).toMatchObject({ code: ProblemCode.LIMIT_002_HISTORY_EVENTS, pipeline: 'huge', path: 'jobs' });
    expect(limit?.message).toContain('25036');
    expect(limit?.hint).toContain('maxAttempts');
  });

  it('accepts exactly 25,000 worst-case history events', async () => {
    expect(historyWorstCase(694, 1, 10)).toBe(25_000);
    const problems = await problemsOf({ 'p.ts': pipeline('huge', independentJobs(694, 10)) });
    expect(codes(problems)).not.toContain(ProblemCode.LIMIT_002_HISTORY_EVENTS);
    // So many jobs are over CloudFormation's resource limit anyway.
    expect(codes(problems)).toContain(ProblemCode.LIMIT_003_STACK_RESOURCES);
  });

  it('reports LIMIT_003_STACK_RESOURCES past 500 resources, counting the schedule’s', async () => {
    // 124 jobs: 4 + 124 × 4 = 500 resources, at the limit; a schedule adds 3.
    expect((await problemsOf({ 'p.ts': pipeline('wide', independentJobs(124, 1)) }))).toStrictEqual([]);
    const problem = await onlyProblem({ 'p.ts': pipeline('wide', independentJobs(124, 1), { schedule: { rate: '1 day' } }) });
    expect(problem).toMatchObject({ code: ProblemCode.LIMIT_003_STACK_RESOURCES, pipeline: 'wide', path: 'jobs' });
    expect(problem.message).toContain('503');
  });

  describe('LIMIT_004_JOB_CONFIG_SIZE: a job’s configuration over 3,500 bytes (Lambda’s 4 KB environment)', () => {
    /** The bytes of the job's PHI_JOB, as the pipeline's plan gives it, when its parameter `blob` is `n` characters. */
    async function configBytes(n: number, jobId = 'x'): Promise<number> {
      const result = await plan({ definitions: { 'p.ts': pipeline('orders', { [jobId]: task({ parameters: { blob: 'b'.repeat(n) } }) }) } });
      expect(result.problems).toStrictEqual([]);
      const p = result.plan.pipelines[0]!;
      return Buffer.byteLength(JSON.stringify(p.jobs[0]!.runtime));
    }

    it('is 3,500 bytes', () => {
      expect(LIMITS.jobConfigBytes).toBe(3_500);
    });

    it('accepts a configuration of exactly 3,500 bytes and reports one byte more at jobs.<id>.parameters', async () => {
      const overhead = await configBytes(0);
      const fits = LIMITS.jobConfigBytes - overhead;
      expect(await configBytes(fits)).toBe(LIMITS.jobConfigBytes);

      expect(await problemsOf({ 'p.ts': pipeline('orders', { x: task({ parameters: { blob: 'b'.repeat(fits) } }) }) })).toStrictEqual([]);
      const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ parameters: { blob: 'b'.repeat(fits + 1) } }) }) });
      expect(problem).toMatchObject({ code: ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, pipeline: 'orders', job: 'x', path: 'jobs.x.parameters' });
      expect(problem.message).toContain('3501');
      expect(problem.hint).toContain('S3');
    });

    it('counts the pipeline’s parameters merged in, for every enabled job, and not a disabled one', async () => {
      const problems = await problemsOf({
        'p.ts': pipeline('orders', { a: task(), b: task({ dependsOn: ['a'] }), off: task({ enabled: false }) }, { parameters: { blob: 'b'.repeat(3_500) } }),
      });
      expect(problems.map((p) => [p.code, p.job, p.path])).toStrictEqual([
        [ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, 'a', 'jobs.a.parameters'],
        [ProblemCode.LIMIT_004_JOB_CONFIG_SIZE, 'b', 'jobs.b.parameters'],
      ]);
    });

    it('counts bytes, not characters', async () => {
      const overhead = await configBytes(0);
      // Half as many two-byte characters as would fit in bytes, plus one: over in bytes, far under in characters.
      const n = Math.floor((LIMITS.jobConfigBytes - overhead) / 2) + 1;
      const problem = await onlyProblem({ 'p.ts': pipeline('orders', { x: task({ parameters: { blob: 'é'.repeat(n) } }) }) });
      expect(problem.code).toBe(ProblemCode.LIMIT_004_JOB_CONFIG_SIZE);
    });
  });

  it('reports LIMIT_001_DEFINITION_SIZE when the state machine definition would exceed 1 MB', async () => {
    // Long job ids make each branch about 2 KB; 600 of them are well over 1,048,576 bytes.
    const jobs: Record<string, JobSpec> = {};
    for (let i = 0; i < 600; i++) jobs[`job-${String(i).padStart(4, '0')}`.padEnd(40, 'x')] = task({ retry: { maxAttempts: 1 } });
    const problems = await problemsOf({ 'p.ts': pipeline('verbose', jobs) });
    const limit = problems.find((p) => p.code === ProblemCode.LIMIT_001_DEFINITION_SIZE);
    expect(limit).toMatchObject({ pipeline: 'verbose', path: 'jobs' });
    expect(limit?.message).toContain('1048576');
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

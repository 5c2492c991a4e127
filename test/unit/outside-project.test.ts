/**
 * Definitions outside this project (issue #8): a folder of the user's own under the OS temp dir, with no
 * package.json or with one that is not `"type": "module"`, holding `pipelines/*.ts` that import `phi`
 * and `handlers/*.ts` that import `phi/runtime`. The real CLI (bin/phi.js, run from that folder) and the
 * CDK app (infra/app.ts) load it through Node's loader with tsx and lib/load/hooks.ts, which vitest's
 * own loader stands in for, so they run here as child processes.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { planDefinitions } from '../../lib/load/load.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { removeDefinitionDirs, writeDefinitionDir } from './support/temp-definitions.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'phi.js');
const TIMEOUT_MS = 60_000;

afterAll(removeDefinitionDirs);

const PIPELINE = `import { definePipeline } from 'phi';

export default definePipeline({
  id: 'outside',
  schedule: { cron: '30 2 * * *', timezone: 'Europe/London' },
  jobs: {
    extract: { handler: '../handlers/extract.ts' },
    render: { handler: '../handlers/render.ts', dependsOn: ['extract'] },
  },
});
`;

const EXTRACT = `import { PermanentError, type TaskHandler } from 'phi/runtime';
import { rows } from './shared';

export const handler: TaskHandler = async (ctx) => {
  if (ctx.parameters.region === 'none') throw new PermanentError('INVALID_CONFIG', 'no region');
  return { rows };
};
`;

const RENDER = `import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => ({ pages: Math.ceil(Number(ctx.upstream.extract?.rows) / 50) });
`;

/** Imports \`phi/runtime\` like the others, but exports no \`handler\`. */
const NO_HANDLER = `import { TransientError } from 'phi/runtime';

export const other = (): Error => new TransientError('RATE_LIMITED', 'later');
`;

const PACKAGE_JSONS = [
  ['no package.json', undefined],
  ['a package.json of "type": "commonjs"', '{ "name": "my-pipelines", "type": "commonjs" }\n'],
  ['a package.json without "type"', '{ "name": "my-pipelines", "private": true }\n'],
] as const;

/** A user's folder: `pipelines/outside.ts` and `handlers/*.ts` (the render handler replaced when given). */
function userFolder(packageJson: string | undefined, render: string = RENDER): string {
  return writeDefinitionDir({
    sources: {
      'pipelines/outside.ts': PIPELINE,
      'handlers/extract.ts': EXTRACT,
      'handlers/shared.ts': 'export const rows: number = 1200;\n',
      'handlers/render.ts': render,
      ...(packageJson === undefined ? {} : { 'package.json': packageJson }),
    },
  });
}

interface Problem {
  code: string;
  job?: string;
  message: string;
}

/** The CLI as a user runs it, from inside their own folder. */
function phi(cwd: string, ...argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...argv], { cwd, encoding: 'utf8', timeout: TIMEOUT_MS });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe.each(PACKAGE_JSONS)('a folder outside the project with %s', (_what, packageJson) => {
  it('passes `phi validate`: the pipeline imports phi, its handlers phi/runtime', { timeout: TIMEOUT_MS }, () => {
    const dir = userFolder(packageJson);
    const run = phi(dir, 'validate', '--definitions', 'pipelines', '--json');
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toStrictEqual({ valid: true, pipelines: ['outside'], problems: [] });
    expect(run.status).toBe(0);
  });

  it('plans with `phi plan`', { timeout: TIMEOUT_MS }, () => {
    const dir = userFolder(packageJson);
    const run = phi(dir, 'plan', '--definitions', path.join(dir, 'pipelines'), '--json');
    const plan = JSON.parse(run.stdout) as { problems: Problem[]; pipelines: { id: string; layers: string[][]; schedules: { expression: string }[] }[] };
    expect(plan.problems).toStrictEqual([]);
    expect(plan.pipelines).toMatchObject([{ id: 'outside', layers: [['extract'], ['render']], schedules: [{ expression: 'cron(30 2 * * ? *)' }] }]);
    expect(run.status).toBe(0);
  });

  it('still checks the handler export there: DEF_007 for a handler file without `handler`, and nothing else', { timeout: TIMEOUT_MS }, () => {
    const dir = userFolder(packageJson, NO_HANDLER);
    const run = phi(dir, 'validate', '--definitions', 'pipelines', '--json');
    const result = JSON.parse(run.stdout) as { valid: boolean; problems: Problem[] };
    expect(result.problems.map((p) => [p.code, p.job])).toStrictEqual([[ProblemCode.DEF_007_HANDLER_NOT_EXPORTED, 'render']]);
    expect(result.problems[0]?.message).toContain('exports no `handler`');
    expect(run.status).toBe(1);
  });
});

describe('the CDK app pointed at a folder outside the project', () => {
  it('loads it (context phi:definitions) and refuses it with the same problems `phi validate` finds', { timeout: TIMEOUT_MS }, () => {
    // A handler problem stops the app before it bundles anything: loading is what is under test here.
    const dir = userFolder(undefined, NO_HANDLER);
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ 'phi:definitions': path.join(dir, 'pipelines') }), CDK_OUTDIR: path.join(dir, 'out') },
      encoding: 'utf8',
      timeout: TIMEOUT_MS,
    });
    expect(run.stderr).toContain(ProblemCode.DEF_007_HANDLER_NOT_EXPORTED);
    expect(run.stderr).not.toContain(ProblemCode.DEF_003_LOAD_FAILED);
    expect(run.stderr.match(/DEF_\d{3}_[A-Z_]+/g)).toStrictEqual([ProblemCode.DEF_007_HANDLER_NOT_EXPORTED]);
    expect(run.status).toBe(1);
  });
});

describe('the project of a folder without package.json', () => {
  it('is the directory holding its definitions directory: handlers beside it are inside, files beyond it are not', async () => {
    const dir = userFolder(undefined);
    expect((await planDefinitions(path.join(dir, 'pipelines'))).problems).toStrictEqual([]);
    const escape = writeDefinitionDir({ sources: { 'pipelines/escape.ts': `export default { id: 'escape', jobs: { a: { handler: '../../elsewhere/a.ts' } } };\n` } });
    const { problems } = await planDefinitions(path.join(escape, 'pipelines'));
    expect(problems.map((p) => [p.code, p.job])).toStrictEqual([[ProblemCode.DEF_006_HANDLER_OUTSIDE_PROJECT, 'a']]);
  });
});

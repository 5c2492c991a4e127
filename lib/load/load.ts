/**
 * Loads the definitions directory: every `*.ts` file directly in it default-exports one pipeline
 * (`definePipeline({...})` or the plain object). Subfolders are not loaded, so handlers may live there.
 * Runs under a TypeScript-aware loader (tsx for the CLI and the CDK app, vitest in tests). Definitions
 * may live anywhere: under tsx, ./register.ts adds hooks so that definition and handler files import
 * `phi` and `phi/runtime` and load as ES modules with or without a package.json.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { nestsDeeperThan } from '../model/canonical.ts';
import { PhiError, describeError } from '../model/errors.ts';
import { PipelineSchema } from '../model/pipeline.ts';
import { ProblemCode, formatPath, type Problem } from '../model/problems.ts';
import { compilePlan, type LoadedPipeline } from '../plan/compile.ts';
import { registerDefinitionHooks } from './register.ts';
import type { Plan } from '../plan/types.ts';
import type { FireTimeWindow } from '../plan/schedule/index.ts';

export const DEFAULT_DEFINITIONS_DIR = 'definitions';

/** How long one definition file may take to load (its top-level awaits included): `PHI_LOAD_TIMEOUT_MS`, else 10 s. */
const loadTimeoutMs = (): number => Number(process.env.PHI_LOAD_TIMEOUT_MS ?? 10_000);
/** The deepest a definition may nest (parameters are plain JSON: no cycles, no towers). */
export const MAX_DEFINITION_DEPTH = 64;

/** A definition file called `process.exit` while it loaded. */
class DefinitionExit extends PhiError {
  constructor(message: string) {
    super(ProblemCode.DEF_003_LOAD_FAILED, message);
  }
}
/** A definition file did not finish loading in time. */
class DefinitionTimeout extends PhiError {
  constructor(message: string) {
    super(ProblemCode.DEF_003_LOAD_FAILED, message);
  }
}

/**
 * Imports a definition or handler file, within the load timeout, with `process.exit` turned into an
 * error while its top level runs (a file that exits would otherwise end validation with a false pass).
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const exit = process.exit;
  process.exit = ((code?: number) => {
    throw new DefinitionExit(`it called process.exit(${code ?? ''}) while loading`);
  }) as typeof process.exit;
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = loadTimeoutMs();
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DefinitionTimeout(`it did not finish loading within ${timeoutMs} ms (a top-level await that never settles?)`)), timeoutMs);
    });
    return (await Promise.race([import(pathToFileURL(file).href), timeout])) as Record<string, unknown>;
  } finally {
    clearTimeout(timer);
    process.exit = exit;
  }
}

/**
 * The project a definition belongs to: the nearest directory above it holding a package.json, else
 * (a folder of definitions with no package.json) the directory that holds its definitions directory,
 * so handlers may sit beside that directory (`pipelines/x.ts` using `../handlers/a.ts`).
 */
function projectOf(file: string): string {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.dirname(path.dirname(file));
  }
}

/** Why a handler file cannot serve its jobs (it does not load, or exports no `handler` function), or nothing. */
async function handlerProblem(file: string): Promise<string | undefined> {
  try {
    const handler = (await importModule(file)).handler;
    return typeof handler === 'function' ? undefined : handler === undefined ? 'exports no `handler`' : `exports a \`handler\` that is ${handler === null ? 'null' : typeof handler}, not a function`;
  } catch (err) {
    return `could not be loaded: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The definition as the schema reads it, or why it cannot be read (a getter that throws, a cycle, a tower). */
export function parseDefinition(exported: unknown): ReturnType<typeof PipelineSchema.safeParse> | { thrown: string } {
  try {
    if (nestsDeeperThan(exported, MAX_DEFINITION_DEPTH)) return { thrown: `it nests deeper than ${MAX_DEFINITION_DEPTH} levels, or refers to itself` };
    return PipelineSchema.safeParse(exported);
  } catch (err) {
    return { thrown: `reading it threw ${describeError(err)}` };
  }
}

export function definitionFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts'))
    .map((name) => path.resolve(dir, name))
    .filter((file) => statSync(file).isFile())
    .sort();
}

/** Directories named in one setting: several are separated by the platform's path delimiter (`:`, `;` on Windows). */
export function definitionDirs(setting: string): string[] {
  return setting.split(path.delimiter).filter((dir) => dir !== '');
}

/** Loads every definition file of one directory or several; a pipeline id must be unique across all of them. */
export async function loadDefinitions(dirs: string | readonly string[]): Promise<{ pipelines: LoadedPipeline[]; problems: Problem[] }> {
  registerDefinitionHooks();
  const problems: Problem[] = [];
  const pipelines: LoadedPipeline[] = [];
  const files: string[] = [];
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    if (!existsSync(dir)) {
      problems.push({ code: ProblemCode.DEF_003_LOAD_FAILED, file: dir, path: '', message: `the definitions directory ${dir} does not exist`, hint: 'pass --definitions DIR (or set PHI_DEFINITIONS_DIR) to a directory of pipeline files' });
      continue;
    }
    files.push(...definitionFiles(dir));
  }
  const seen = new Map<string, string>();
  // Each handler file is loaded once, however many jobs use it.
  const handlerChecks = new Map<string, Promise<string | undefined>>();
  for (const file of files) {
    const rel = path.relative(process.cwd(), file);
    let exported: unknown;
    try {
      exported = (await importModule(file)).default;
    } catch (err) {
      const ownFault = err instanceof DefinitionExit || err instanceof DefinitionTimeout;
      const hint = ownFault ? 'a definition file only declares its pipeline: no process.exit, nothing awaited that never comes' : 'fix the TypeScript error in the file; `npx tsc --noEmit` shows it with its line';
      problems.push({ code: ProblemCode.DEF_003_LOAD_FAILED, file: rel, path: '', message: `${rel} could not be loaded: ${err instanceof Error ? err.message : String(err)}`, hint });
      continue;
    }
    if (exported === undefined) {
      problems.push({ code: ProblemCode.DEF_003_LOAD_FAILED, file: rel, path: '', message: `${rel} has no default export`, hint: 'end the file with `export default definePipeline({ ... })`' });
      continue;
    }
    const parsed = parseDefinition(exported);
    if ('thrown' in parsed) {
      problems.push({ code: ProblemCode.DEF_003_LOAD_FAILED, file: rel, path: '', message: `${rel} could not be read: ${parsed.thrown}`, hint: 'a definition is plain data: no getters that throw, parameters as plain JSON' });
      continue;
    }
    const rawId = typeof exported === 'object' && exported !== null && typeof (exported as { id?: unknown }).id === 'string' ? (exported as { id: string }).id : undefined;
    if (!parsed.success) {
      const issues = parsed.error.issues.flatMap((issue) => flattenIssue(issue, []));
      for (const issue of issues) {
        const job = issue.path[0] === 'jobs' && typeof issue.path[1] === 'string' ? issue.path[1] : undefined;
        problems.push({
          code: ProblemCode.DEF_001_INVALID_FIELD,
          ...(rawId ? { pipeline: rawId } : {}),
          ...(job ? { job } : {}),
          file: rel,
          path: formatPath(issue.path),
          message: issue.message,
          hint: hintFor(issue.code),
        });
      }
      continue;
    }
    const pipeline = parsed.data;
    const previous = seen.get(pipeline.id);
    if (previous) {
      problems.push({ code: ProblemCode.DEF_004_DUPLICATE_PIPELINE, pipeline: pipeline.id, file: rel, path: 'id', message: `pipeline id "${pipeline.id}" is declared in ${previous} and ${rel}`, hint: 'give each pipeline its own id' });
      continue;
    }
    seen.set(pipeline.id, rel);
    const project = projectOf(file);
    for (const [jobId, job] of Object.entries(pipeline.jobs).sort(([a], [b]) => a.localeCompare(b))) {
      const resolved = path.resolve(path.dirname(file), job.handler);
      const at = { pipeline: pipeline.id, job: jobId, file: rel, path: `jobs.${jobId}.handler` };
      const inside = path.relative(project, resolved);
      if (inside.startsWith('..') || path.isAbsolute(inside)) {
        problems.push({ code: ProblemCode.DEF_006_HANDLER_OUTSIDE_PROJECT, ...at, message: `handler file ${resolved} lies outside the project ${project}`, hint: 'keep handlers inside the project that holds the definition (its package.json directory): that is what gets bundled' });
      } else if (!existsSync(resolved) || !statSync(resolved).isFile()) {
        problems.push({ code: ProblemCode.DEF_002_HANDLER_NOT_FOUND, ...at, message: `handler file ${path.relative(process.cwd(), resolved)} does not exist`, hint: `the path is relative to ${rel}; the file exports \`handler\`` });
      } else {
        const why = await (handlerChecks.get(resolved) ?? handlerChecks.set(resolved, handlerProblem(resolved)).get(resolved)!);
        if (why) problems.push({ code: ProblemCode.DEF_007_HANDLER_NOT_EXPORTED, ...at, message: `handler file ${path.relative(process.cwd(), resolved)} ${why}`, hint: 'export the function: `export const handler: TaskHandler = async (ctx) => { ... }`' });
      }
    }
    pipelines.push({ file, pipeline });
  }
  return { pipelines, problems };
}

type FlatIssue = { path: PropertyKey[]; message: string; code: string };

/**
 * One problem per field: an unknown-keys issue names several fields at once (one problem each, at the
 * field's own path); a union's issue (a `dependsOn` entry: an id or an object) is the issues of the
 * alternative the value was meant as, the one whose type it has.
 */
function flattenIssue(issue: z.core.$ZodIssue, prefix: PropertyKey[]): FlatIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ code: issue.code, path: [...path, key], message: `unknown field "${key}"` }));
  if (issue.code === 'invalid_union') {
    const meant = issue.errors.find((branch) => branch.length > 0 && !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
    if (meant) return meant.flatMap((i) => flattenIssue(i, path));
  }
  return [{ code: issue.code, path, message: issue.message }];
}

function hintFor(code: string): string {
  switch (code) {
    case 'unrecognized_keys':
      return 'remove the field, or check its spelling against the Pipeline and Job types';
    case 'invalid_type':
      return 'give the field a value of the type shown';
    default:
      return 'see the field documentation in lib/model/pipeline.ts';
  }
}

/** Loads and compiles: the plan of every pipeline without problems, and every problem found. */
export async function planDefinitions(dirs: string | readonly string[], now: Date = new Date(), fireTimes: FireTimeWindow = {}): Promise<{ plan: Plan; problems: Problem[] }> {
  const loaded = await loadDefinitions(dirs);
  const compiled = compilePlan(loaded.pipelines, now, fireTimes);
  return { plan: compiled.plan, problems: [...loaded.problems, ...compiled.problems] };
}

/**
 * Generated pipelines for the scale test and the emulator benchmarks: a definitions directory with one
 * pipeline of `jobs` jobs over `handlers` handler files, written to disk like a user's.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Generated directories live under the project's `.phi/`, where the definition's `import … from 'zod'` resolves. */
const GENERATED_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.phi');

export interface GeneratedJob {
  readonly id: string;
  readonly dependsOn: readonly string[];
  /** Index of the handler file it uses. */
  readonly handler: number;
}

/** A seeded random DAG: each job after the first few depends on `edgesPerJob` distinct earlier jobs. */
export function randomDag(jobs: number, edgesPerJob: number, handlers: number, seed = 42): GeneratedJob[] {
  let state = seed;
  const rand = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const ids = Array.from({ length: jobs }, (_, i) => `j${String(i).padStart(4, '0')}`);
  return ids.map((id, i) => {
    const deps = new Set<string>();
    while (deps.size < Math.min(edgesPerJob, i)) deps.add(ids[Math.floor(rand() * i)]!);
    return { id, dependsOn: [...deps].sort(), handler: i % handlers };
  });
}

/** The handler every generated job runs: sleeps `sleepMs[jobId]` (or `sleepMs['*']`) milliseconds and outputs how many upstreams it saw. */
const HANDLER_SOURCE = `import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  const sleep = (ctx.parameters.sleepMs ?? {}) as Record<string, number>;
  const ms = sleep[ctx.jobId] ?? sleep['*'] ?? 0;
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  return { upstream: Object.keys(ctx.upstream).length };
};
`;

/** Writes a definitions directory holding the pipeline; answers its path. */
export function writeGeneratedPipeline(id: string, jobs: readonly GeneratedJob[], options: { handlers?: number; timeoutSeconds?: number; dir?: string } = {}): string {
  if (options.dir === undefined) mkdirSync(GENERATED_ROOT, { recursive: true });
  const dir = options.dir ?? mkdtempSync(path.join(GENERATED_ROOT, `generated-${id}-`));
  mkdirSync(path.join(dir, 'handlers'), { recursive: true });
  const handlers = options.handlers ?? Math.max(1, ...jobs.map((j) => j.handler + 1));
  for (let i = 0; i < handlers; i++) writeFileSync(path.join(dir, 'handlers', `step-${i}.ts`), HANDLER_SOURCE);
  const definition = {
    id,
    defaults: { timeoutSeconds: options.timeoutSeconds ?? 60, retry: { maxAttempts: 1 } },
    jobs: Object.fromEntries(jobs.map((j) => [j.id, { handler: `./handlers/step-${j.handler}.ts`, ...(j.dependsOn.length > 0 ? { dependsOn: j.dependsOn } : {}) }])),
  };
  // A run may set each job's sleep (`zod` resolves from the project's node_modules: every caller writes under it).
  const runParameters = `z.object({ sleepMs: z.record(z.string(), z.number().int().min(0).max(${(options.timeoutSeconds ?? 60) * 1000})).optional() })`;
  writeFileSync(path.join(dir, `${id}.ts`), `import { z } from 'zod';\n\nexport default { ...${JSON.stringify(definition)}, runParameters: ${runParameters} };\n`);
  // Definitions are ES modules, wherever they live.
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  return dir;
}

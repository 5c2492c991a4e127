/**
 * What a pipeline's handler files are, as code: read at synth, for its definition record (the summary's
 * `code`, `lib/plan/definition-summary.ts`), so a deploy that changes handler code alone is recorded.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { handlerKey, shortHash } from '../lib/plan/definition-summary.ts';
import type { PipelinePlan } from '../lib/plan/types.ts';

/**
 * The code of each handler file of the plan: the short hash of its bundle (the file and everything it
 * imports, its packages included; Phi's own `phi` modules left out, so a Phi upgrade is not a change of
 * the pipeline's code), built the way the job functions are, without minifying, paths relative to the
 * handler's directory, so the same code hashes the same on any machine. A file esbuild cannot bundle is
 * hashed as it is (its bundling fails the deploy anyway).
 */
export function handlerCode(plan: Pick<PipelinePlan, 'file' | 'functions'>): Record<string, string> {
  const code: Record<string, string> = {};
  for (const handlerPath of new Set(plan.functions.map((fn) => fn.handlerPath))) code[handlerKey(handlerPath, plan.file)] = shortHash(bundleOf(handlerPath));
  return code;
}

function bundleOf(entry: string): string {
  try {
    const built = buildSync({ entryPoints: [entry], bundle: true, write: false, platform: 'node', format: 'esm', target: 'node22', external: ['phi', 'phi/*'], absWorkingDir: path.dirname(entry), logLevel: 'silent', legalComments: 'none' });
    return built.outputFiles.map((f) => f.text).join('\n');
  } catch {
    return readFileSync(entry, 'utf8');
  }
}

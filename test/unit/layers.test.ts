/**
 * The direction of imports between Phi's folders (README, "Layout"): data flows from the model down,
 * nothing points back up. Every relative import of every source file is read and checked against the
 * layer rules; a new file is checked as soon as it exists.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Layer → the layers its files may import (itself included). Order matters: the first prefix that matches names a file's layer. */
const LAYERS: readonly { readonly layer: string; readonly may: readonly string[] }[] = [
  { layer: 'lib/model', may: ['lib/model'] },
  // The plan's schedules (fire times): pure, on the model alone; the control API's GET /health tells next fire times with them.
  { layer: 'lib/plan/schedule', may: ['lib/plan/schedule', 'lib/model'] },
  { layer: 'lib/plan', may: ['lib/plan', 'lib/plan/schedule', 'lib/model'] },
  { layer: 'lib/load', may: ['lib/load', 'lib/plan', 'lib/plan/schedule', 'lib/model'] },
  { layer: 'lib/client', may: ['lib/client', 'lib/model'] },
  { layer: 'lib/cli', may: ['lib/cli', 'lib/client', 'lib/load', 'lib/plan', 'lib/plan/schedule', 'lib/model'] },
  { layer: 'lib/local', may: ['lib/local', 'lib/cli', 'lib/client', 'lib/model'] },
  { layer: 'infra', may: ['infra', 'lib/load', 'lib/plan', 'lib/plan/schedule', 'lib/model'] },
  { layer: 'functions', may: ['functions', 'lib/plan/schedule', 'lib/model'] },
  { layer: 'bin', may: ['lib/cli'] },
];
/** Packages a layer must never load: CDK outside infra, AWS SDK clients in the pure model and plan. */
const FORBIDDEN_PACKAGES: Readonly<Record<string, RegExp>> = {
  'lib/model': /^(aws-cdk-lib|constructs|@aws-sdk\/|node:fs|node:child_process)/,
  'lib/plan': /^(aws-cdk-lib|constructs|@aws-sdk\/|node:fs|node:child_process)/,
  'lib/plan/schedule': /^(aws-cdk-lib|constructs|@aws-sdk\/|node:fs|node:child_process|node:)/,
  functions: /^(aws-cdk-lib|constructs)/,
  'lib/client': /^(aws-cdk-lib|constructs)/,
  'lib/cli': /^(aws-cdk-lib|constructs)/,
  'lib/local': /^(aws-cdk-lib|constructs)/,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|js)$/.test(name) && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

const layerOf = (file: string): string | undefined => LAYERS.find((l) => file === l.layer || file.startsWith(`${l.layer}/`))?.layer;

/** Every module specifier a file imports or re-exports (static and dynamic). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

const files = ['lib', 'infra', 'functions', 'bin'].flatMap(sourceFiles);

describe('import direction', () => {
  it('finds the source files of every layer', () => {
    for (const { layer } of LAYERS) expect(files.some((f) => layerOf(f) === layer), layer).toBe(true);
  });

  it('reads static, re-exported and dynamic imports', () => {
    expect(importsOf("import { a } from './a.ts';\nexport * from '../b.ts';\nconst c = await import('../../c.ts');\nimport './d.ts';")).toEqual(['./a.ts', '../b.ts', './d.ts', '../../c.ts']);
  });

  it('has no import cycles between files (two modules that need each other are one concept, or a third is missing)', () => {
    const edges = new Map(files.map((file) => [file, importsOf(readFileSync(path.join(ROOT, file), 'utf8')).filter((s) => s.startsWith('.')).map((s) => path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), s)))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it.each(files)('%s imports only from the layers below it', (file) => {
    const layer = layerOf(file);
    expect(layer, `${file} belongs to no layer: add its folder to LAYERS`).toBeDefined();
    const rule = LAYERS.find((l) => l.layer === layer)!;
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const wrong: string[] = [];
    for (const spec of importsOf(text)) {
      if (spec.startsWith('.')) {
        const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec));
        const targetLayer = layerOf(target);
        if (!targetLayer || !rule.may.includes(targetLayer)) wrong.push(`${spec} (${targetLayer ?? target})`);
      } else if (FORBIDDEN_PACKAGES[layer!]?.test(spec)) {
        wrong.push(spec);
      }
    }
    expect(wrong, `${file} (${layer}) may import only ${rule.may.join(', ')}`).toEqual([]);
  });
});

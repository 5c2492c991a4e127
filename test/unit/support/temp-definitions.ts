/**
 * Writes definition directories for tests: each definition is a `.ts` file that default-exports a plain
 * object (it imports nothing, so it loads from anywhere), beside the handler files it references.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const HANDLER_SOURCE = 'export const handler = async () => ({});\n';

export interface DefinitionDirSpec {
  /** File name (e.g. `orders.ts`) → the object it default-exports. */
  readonly definitions?: Readonly<Record<string, unknown>>;
  /** File name → literal TypeScript source, for files that must not be a plain default export. */
  readonly sources?: Readonly<Record<string, string>>;
  /** Handler files to create, relative to the directory (e.g. `handlers/a.ts`). */
  readonly handlers?: readonly string[];
}

const created: string[] = [];

/** A fresh directory under the OS temp dir holding the given definition and handler files. */
export function writeDefinitionDir(spec: DefinitionDirSpec): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'phi-unit-'));
  created.push(dir);
  for (const [name, value] of Object.entries(spec.definitions ?? {})) {
    writeFileSync(path.join(dir, name), `export default ${JSON.stringify(value, null, 2)};\n`);
  }
  for (const [name, source] of Object.entries(spec.sources ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), source);
  }
  for (const handler of spec.handlers ?? []) {
    const file = path.join(dir, handler);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, HANDLER_SOURCE);
  }
  return dir;
}

/** Removes every directory `writeDefinitionDir` created (call it from `afterAll`). */
export function removeDefinitionDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

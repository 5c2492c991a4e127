/**
 * One emulator and one deployment for the whole e2e suite. Never skips: if the emulator cannot start
 * or the deploy fails, setup throws and the run fails with the reason.
 */
import type { TestProject } from 'vitest/node';
import { deployLocal, startEmulator, stopEmulator } from '../../lib/local/emulator.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const log = (line: string): void => console.log(`[e2e] ${line}`);
  const emulator = await startEmulator(log);
  try {
    const started = Date.now();
    deployLocal(emulator.endpoint, { quiet: true });
    log(`deployed the example pipelines in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    if (emulator.started) stopEmulator(log);
    throw err;
  }
  project.provide('endpoint', emulator.endpoint);
  return () => {
    if (emulator.started) stopEmulator(log);
  };
}

/**
 * One emulator and one deployment for the whole e2e suite: the shipped definitions and the generated
 * 1,000-job pipeline of the scale test. Never skips: if the emulator cannot start or the deploy fails,
 * setup throws and the run fails with the reason.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { deployLocal, startEmulator, stopEmulator } from '../../lib/local/emulator.ts';
import { writeGeneratedPipeline } from '../support/generated-pipeline.ts';
import { SCALE } from './scale.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoint: string;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export default async function setup(project: TestProject): Promise<() => void> {
  const log = (line: string): void => console.log(`[e2e] ${line}`);
  const emulator = await startEmulator(log);
  try {
    const started = Date.now();
    const scaleDir = writeGeneratedPipeline(SCALE.pipelineId, SCALE.jobs(), { dir: path.join(ROOT, '.phi', 'scale') });
    // With Phi's own fault-injection switch compiled into the job functions (never in a real deployment).
    deployLocal(emulator.endpoint, { quiet: true, faultInjection: true, definitionsDirs: [path.join(ROOT, 'definitions'), scaleDir] });
    log(`deployed the example pipelines and ${SCALE.pipelineId} in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    if (emulator.started) stopEmulator(log);
    throw err;
  }
  project.provide('endpoint', emulator.endpoint);
  return () => {
    if (emulator.started) stopEmulator(log);
  };
}

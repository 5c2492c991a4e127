/**
 * One emulator and one deployment for the whole e2e suite (`deployment.ts`): the shipped definitions, the
 * generated 1,000-job pipeline of the scale test, the e2e suite's own (`test/e2e/definitions`: the
 * triggered `landing`), and the audit drill (`.phi/audit-drill/`, whose definition `audit.test.ts`
 * changes and redeploys). The emulator enforces signatures and IAM policies (AUTH=true), so every Phi function runs with its own role's permissions; the harness itself deploys and inspects with
 * the emulator's root key (`test`), which is allowed everything. Never skips: if the emulator cannot start or the deploy fails,
 * setup throws and the run fails with the reason.
 */
import type { TestProject } from 'vitest/node';
import { deployLocal, enforcesAuth, startEmulator, stopEmulator } from '../../lib/local/emulator.ts';
import { E2E_DEPLOY_OPTIONS, writeGeneratedDefinitions } from './deployment.ts';
import { SCALE } from './scale.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoint: string;
    /** The emulator verifies signatures and IAM policies (MiniStack with AUTH=true). */
    authEnforced: boolean;
    /** The endpoint is the user's own (AWS_ENDPOINT_URL), not the project's MiniStack. */
    externalEndpoint: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const log = (line: string): void => console.log(`[e2e] ${line}`);
  const emulator = await startEmulator(log);
  try {
    const started = Date.now();
    writeGeneratedDefinitions();
    deployLocal(emulator.endpoint, E2E_DEPLOY_OPTIONS);
    log(`deployed the example pipelines, ${SCALE.pipelineId} and the audit drill in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    if (emulator.started) stopEmulator(log);
    throw err;
  }
  const authEnforced = await enforcesAuth(emulator.endpoint);
  const externalEndpoint = Boolean(process.env.AWS_ENDPOINT_URL);
  if (!authEnforced) {
    log(externalEndpoint
      ? `${emulator.endpoint} does not say it enforces signatures and IAM policies: test/e2e/auth.test.ts is skipped`
      : `the emulator at ${emulator.endpoint} does not enforce signatures and IAM policies (not started with AUTH=true): restart it with npm run local:down && npm run local:up`);
  }
  project.provide('endpoint', emulator.endpoint);
  project.provide('authEnforced', authEnforced);
  project.provide('externalEndpoint', externalEndpoint);
  return () => {
    if (emulator.started) stopEmulator(log);
  };
}

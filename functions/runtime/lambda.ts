/**
 * The Lambda entry every job function is built from. The bundler binds `phi-user-handler` to the
 * handler file its jobs share and `phi-pipeline-manifest` to the pipeline's manifest (see the pipeline
 * construct), so one entry serves every job of every pipeline.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import manifestJson from 'phi-pipeline-manifest';
import { PipelineManifestSchema, TaskPayloadSchema, type RetryDecision, type TaskResult } from '../../lib/model/contract/index.ts';
import { deadLetterSenderFromEnv } from '../shared/dead-letters.ts';
import { createLogger } from '../shared/log.ts';
import { outputStoreFromEnv } from '../shared/outputs.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { sendTaskToken } from '../shared/release.ts';
import { attemptFailed, runAttempt, type LoadedHandler, type RuntimeDeps } from './core.ts';
import { withStoreFaults } from './faults.ts';

/** Defined `true` by the bundler only in deployments synthesized for Phi's own fault-injection tests. */
declare const PHI_FAULT_INJECTION: boolean | undefined;
const faultInjection = typeof PHI_FAULT_INJECTION !== 'undefined' && PHI_FAULT_INJECTION === true;

const manifest = PipelineManifestSchema.parse(manifestJson);
const log = createLogger({ component: 'task-runtime' });
const deps: RuntimeDeps = { store: recordStoreFromEnv(), log, sendToken: sendTaskToken(new SFNClient({}), log), sendDeadLetter: deadLetterSenderFromEnv(), outputs: outputStoreFromEnv() };

/** The handler module, loaded once; a module that throws as it loads fails each attempt permanently instead of crashing the function. */
let loaded: Promise<LoadedHandler> | undefined;
function loadHandler(): Promise<LoadedHandler> {
  loaded ??= import('phi-user-handler').then(
    (mod: { handler?: unknown }) => (typeof mod.handler === 'function' ? { handler: mod.handler as Extract<LoadedHandler, { handler: unknown }>['handler'] } : { error: 'the handler file exports no function named `handler`' }),
    (err: unknown) => ({ error: `the handler file could not be loaded: ${(err as Error).message ?? String(err)}` }),
  );
  return loaded;
}

export async function handler(event: unknown): Promise<TaskResult | RetryDecision> {
  const payload = TaskPayloadSchema.parse(event);
  const faults = faultInjection ? payload.run.parameters.__phiFaults : undefined;
  const callDeps = faults === undefined ? deps : { ...deps, store: withStoreFaults(deps.store, payload.run.runId, faults) };
  return payload.action === 'run' ? runAttempt(manifest, payload, await loadHandler(), callDeps) : attemptFailed(manifest, payload, callDeps);
}

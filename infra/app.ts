/**
 * The CDK app: the platform stack and one stack per pipeline, built from the definitions directory
 * (context `phi:definitions`, else `PHI_DEFINITIONS_DIR`, else `definitions/`; several directories
 * separated by `:`), which may lie anywhere: `cdk synth -c phi:definitions=/path/to/pipelines`.
 * Refuses to synthesize when any definition has a problem, with the same list `phi validate` prints.
 * Each pipeline's definition record carries where its definition came from: the git commit of the
 * repository holding its file (or `PHI_DEPLOY_COMMIT` / `PHI_DEPLOY_AUTHOR`), see `./source.ts`.
 */
import * as path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { addPhiChecks } from './constructs/checks.ts';
import { PhiPipeline } from './constructs/pipeline.ts';
import { PhiPlatform } from './constructs/platform.ts';
import { DEFAULT_DEFINITIONS_DIR, definitionDirs, planDefinitions } from '../lib/load/load.ts';
import { formatProblems } from '../lib/model/problems.ts';
import { PLATFORM_STACK, pipelineStackName } from '../lib/model/names.ts';
import { withFaultsParameter } from '../lib/model/run-parameters.ts';
import type { Plan, PipelinePlan } from '../lib/plan/types.ts';
import type { DeploySource } from '../lib/model/contract/index.ts';
import { sourceReader } from './source.ts';
import { healthConfig } from '../lib/plan/health.ts';
import { webhookRoutes } from '../lib/plan/triggers.ts';

export interface PhiAppOptions {
  /** @default RemovalPolicy.RETAIN; the local emulator deploys with DESTROY. */
  readonly removalPolicy?: RemovalPolicy;
  readonly recordRetentionDays?: number;
  /** Phi's own fault-injection switch in the job functions (context `phi:faultInjection=true`), for its e2e tests. @default false */
  readonly faultInjection?: boolean;
  /**
   * Where each pipeline's definition came from, for its `DEPLOY` audit records (the app reads git at synth).
   * @default - nothing known
   */
  readonly source?: (pipeline: PipelinePlan) => DeploySource | undefined;
}

/** Builds the stacks of a plan into `app`. */
export function buildApp(app: App, plan: Plan, options: PhiAppOptions = {}): { platform: Stack; pipelines: Stack[] } {
  const platformStack = new Stack(app, PLATFORM_STACK, { description: 'Phi platform: records, dead letters, control API' });
  const { faultInjection, source, ...platformOptions } = options;
  const platform = new PhiPlatform(platformStack, 'Platform', {
    pipelineIds: plan.pipelines.map((p) => p.id),
    // With the fault switch, every pipeline's runs may also carry `__phiFaults` (Phi's own e2e tests).
    runParameters: Object.fromEntries(plan.pipelines.flatMap((p) => (faultInjection ? [[p.id, withFaultsParameter(p.runParameters)]] : p.runParameters ? [[p.id, p.runParameters]] : []))),
    startRules: Object.fromEntries(plan.pipelines.flatMap((p) => (p.startRules ? [[p.id, p.startRules]] : []))),
    health: healthConfig(plan.pipelines),
    // Runs that wait (upstreams, a deferred window) and trigger batches are evaluated later by one-time schedules.
    oneTimeSchedules: plan.pipelines.some((p) => p.startRules?.upstreams !== undefined || p.startRules?.deferOutsideWindow === true || p.triggers.some((t) => t.enabled && t.batchWindowSeconds !== undefined)),
    // The trigger function finds a message trigger's pipeline by its queue.
    triggers: Object.fromEntries(plan.pipelines.flatMap((p) => (p.triggers.some((t) => t.message !== undefined) ? [[p.id, p.triggers]] : []))),
    // The webhook function's routes: each pipeline's enabled webhook triggers.
    webhooks: Object.fromEntries(plan.pipelines.flatMap((p) => { const routes = webhookRoutes(p.triggers); return routes ? [[p.id, routes]] : []; })),
    ...platformOptions,
  });
  const pipelines = plan.pipelines.map((pipelinePlan) => {
    const stack = new Stack(app, pipelineStackName(pipelinePlan.id), { description: `Phi pipeline ${pipelinePlan.id}` });
    stack.addStackDependency(platformStack, 'the pipeline uses the platform table, recorder and schedule trigger');
    const from = source?.(pipelinePlan);
    new PhiPipeline(stack, 'Pipeline', { plan: pipelinePlan, platform, ...(faultInjection ? { faultInjection } : {}), ...(from !== undefined ? { source: from } : {}) });
    return stack;
  });
  return { platform: platformStack, pipelines };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const app = new App();
  const dirsContext: unknown = app.node.tryGetContext('phi:definitions');
  const dirs = typeof dirsContext === 'string' && dirsContext !== '' ? dirsContext : (process.env.PHI_DEFINITIONS_DIR ?? DEFAULT_DEFINITIONS_DIR);
  const { plan, problems } = await planDefinitions(definitionDirs(dirs));
  if (problems.length > 0) {
    // The same list `phi validate` prints, not a stack trace; synthesis stops.
    process.stderr.write(`${formatProblems(problems)}\n`);
    process.exit(1);
  }
  const removal = app.node.tryGetContext('phi:removalPolicy');
  const readSource = sourceReader();
  buildApp(app, plan, {
    ...(removal === 'destroy' ? { removalPolicy: RemovalPolicy.DESTROY } : {}),
    ...(app.node.tryGetContext('phi:faultInjection') === 'true' ? { faultInjection: true } : {}),
    source: (pipeline) => readSource(path.dirname(pipeline.file)),
  });
  app.synth();
}

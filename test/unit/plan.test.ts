/**
 * The plan: what `planDefinitions` compiles the shipped definitions and small temp pipelines into, down to
 * the whole Amazon States Language document (the contract with Step Functions).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDefinitions } from '../../lib/load/load.ts';
import type { Problem } from '../../lib/model/problems.ts';
import { RecorderEventSchema } from '../../lib/model/contract/index.ts';
import type { AslState, AslStateMachine } from '../../lib/plan/types.ts';
import type { PipelinePlan, Plan, ResolvedJob } from '../../lib/plan/types.ts';
import { removeDefinitionDirs, writeDefinitionDir, type DefinitionDirSpec } from './support/temp-definitions.ts';

const DEFINITIONS_DIR = fileURLToPath(new URL('../../definitions/', import.meta.url));
/** Sunday 2026-11-22, 07:00 in New York. */
const NOW = new Date('2026-11-22T12:00:00Z');

afterAll(removeDefinitionDirs);

function pipelineOf(plan: Plan, id: string): PipelinePlan {
  const found = plan.pipelines.find((p) => p.id === id);
  if (!found) throw new Error(`no pipeline ${id} in the plan; have ${plan.pipelines.map((p) => p.id).join(', ')}`);
  return found;
}

function jobOf(pipeline: PipelinePlan, id: string): ResolvedJob {
  const found = pipeline.jobs.find((j) => j.id === id);
  if (!found) throw new Error(`no job ${id} in ${pipeline.id}`);
  return found;
}

/** Plans a temp directory and expects it to be free of problems. */
async function planTemp(spec: DefinitionDirSpec): Promise<Plan> {
  const dir = writeDefinitionDir(spec);
  const { plan, problems } = await planDefinitions(dir, NOW);
  expect(problems, JSON.stringify(problems, null, 2)).toStrictEqual([] satisfies Problem[]);
  return plan;
}

/** The single pipeline of a one-file temp directory whose jobs use `handlers/task.ts`. */
async function planOne(definition: Record<string, unknown>): Promise<PipelinePlan> {
  const plan = await planTemp({ definitions: { 'pipeline.ts': definition }, handlers: ['handlers/task.ts'] });
  expect(plan.pipelines).toHaveLength(1);
  return plan.pipelines[0]!;
}

const task = { handler: './handlers/task.ts' } as const;

type States = Readonly<Record<string, AslState>>;

/** Every state of a definition with the scope it is in: the top level, or a Parallel branch. */
function statesOf(definition: AslStateMachine): { name: string; state: AslState; scope: States }[] {
  const all: { name: string; state: AslState; scope: States }[] = [];
  const visit = (scope: States): void => {
    for (const [name, state] of Object.entries(scope)) {
      all.push({ name, state, scope });
      for (const branch of (state.Branches ?? []) as { States: States }[]) visit(branch.States);
    }
  };
  visit(definition.States);
  return all;
}

/** The names a state goes on to: Next, a Choice's choices and Default, a Catch's targets. */
function targetsOf(state: AslState): string[] {
  const choices = (state.Choices ?? []) as { Next: string }[];
  const catches = (state.Catch ?? []) as { Next: string }[];
  return [state.Next, state.Default, ...choices.map((c) => c.Next), ...catches.map((c) => c.Next)].filter((t): t is string => typeof t === 'string');
}

describe('the shipped definitions', () => {
  let plan: Plan;
  beforeAll(async () => {
    const result = await planDefinitions(DEFINITIONS_DIR, NOW);
    expect(result.problems).toStrictEqual([]);
    plan = result.plan;
  });

  it('plans every shipped pipeline, sorted by id, stamped with now', () => {
    expect(plan.pipelines.map((p) => p.id)).toStrictEqual(['etl-fanout', 'failure-drill', 'market-data']);
    expect(plan.generatedAt).toBe('2026-11-22T12:00:00.000Z');
  });

  it('schedules market-data weekdays at 19:00 New York time as cron(0 19 ? * MON-FRI *)', () => {
    expect(pipelineOf(plan, 'market-data').schedules).toStrictEqual([
      {
        source: 'cron: 0 19 * * 1-5',
        expression: 'cron(0 19 ? * MON-FRI *)',
        timezone: 'America/New_York',
        next: [
          '2026-11-23T19:00:00-05:00',
          '2026-11-24T19:00:00-05:00',
          '2026-11-25T19:00:00-05:00',
          '2026-11-26T19:00:00-05:00',
          '2026-11-27T19:00:00-05:00',
        ],
      },
    ]);
  });

  it('schedules etl-fanout every 6 hours in UTC, and failure-drill not at all', () => {
    const [schedule] = pipelineOf(plan, 'etl-fanout').schedules;
    expect(schedule).toMatchObject({ source: 'rate: 6 hours', expression: 'rate(6 hours)', timezone: 'UTC' });
    expect(schedule?.next[0]).toBe('2026-11-22T18:00:00Z');
    expect(pipelineOf(plan, 'failure-drill').schedules).toStrictEqual([]);
  });

  it('lays etl-fanout out as ingest → three parallel transforms → publish', () => {
    const etl = pipelineOf(plan, 'etl-fanout');
    expect(etl.layers).toStrictEqual([['ingest'], ['transform-aggregate', 'transform-clean', 'transform-enrich'], ['publish']]);
    expect(etl.jobs.map((j) => [j.id, j.layer])).toStrictEqual([
      ['ingest', 0],
      ['publish', 2],
      ['transform-aggregate', 1],
      ['transform-clean', 1],
      ['transform-enrich', 1],
    ]);
    expect(jobOf(etl, 'publish').dependsOn).toStrictEqual(['transform-clean', 'transform-enrich', 'transform-aggregate']);
  });

  it('gives etl-fanout’s equally long transforms’ tie to the first by id on the critical path', () => {
    const etl = pipelineOf(plan, 'etl-fanout');
    expect(etl.criticalPath).toStrictEqual(['ingest', 'transform-aggregate', 'publish']);
    expect(etl.estimates.criticalPathSeconds).toBe(3 * 60);
  });

  it('lays market-data out as a four-stage chain, which is its critical path', () => {
    const market = pipelineOf(plan, 'market-data');
    const chain = ['ingest-market-data', 'build-scenarios', 'compute-metrics', 'assess-strategies'];
    expect(market.layers).toStrictEqual(chain.map((id) => [id]));
    expect(market.criticalPath).toStrictEqual(chain);
    expect(market.estimates.criticalPathSeconds).toBe(4 * 120);
  });

  it('resolves retry from the pipeline defaults, completed by the job and then the spec defaults', () => {
    const market = pipelineOf(plan, 'market-data');
    // The job adds retryableErrors to the pipeline's defaults; jitter comes from the spec (FULL).
    expect(jobOf(market, 'ingest-market-data').retry).toStrictEqual({
      maxAttempts: 3,
      initialDelaySeconds: 30,
      backoffMultiplier: 2,
      maxDelaySeconds: 600,
      jitter: 'FULL',
      retryableErrors: ['CONNECTION_FAILED', 'RATE_LIMITED', 'TIMEOUT'],
      nonRetryableErrors: ['INVALID_CONFIG'],
    });
    expect(jobOf(market, 'compute-metrics').retry.retryableErrors).toStrictEqual([]);
    // etl-fanout sets maxAttempts and initialDelaySeconds; the rest are the spec's defaults.
    expect(jobOf(pipelineOf(plan, 'etl-fanout'), 'ingest').retry).toStrictEqual({
      maxAttempts: 2,
      initialDelaySeconds: 10,
      backoffMultiplier: 2,
      maxDelaySeconds: 3600,
      jitter: 'FULL',
      retryableErrors: [],
      nonRetryableErrors: [],
    });
    expect(jobOf(pipelineOf(plan, 'failure-drill'), 'load').retry).toMatchObject({ maxAttempts: 3, initialDelaySeconds: 1, maxDelaySeconds: 5, jitter: 'NONE' });
  });

  it('resolves timeout and memory from the job, else the pipeline defaults, else 300 s / 512 MB', () => {
    const market = pipelineOf(plan, 'market-data');
    expect(jobOf(market, 'compute-metrics')).toMatchObject({ timeoutSeconds: 120, memoryMb: 1024 });
    expect(jobOf(market, 'build-scenarios')).toMatchObject({ timeoutSeconds: 120, memoryMb: 512 });
  });

  it('merges parameters: the job’s on top of the pipeline’s', () => {
    const market = pipelineOf(plan, 'market-data');
    expect(jobOf(market, 'build-scenarios').parameters).toStrictEqual({ symbols: ['SPY', 'QQQ', 'IWM'], lookbackDays: 30, scenarios: ['base', 'stress', 'rally'] });
    expect(jobOf(market, 'compute-metrics').parameters).toStrictEqual({ symbols: ['SPY', 'QQQ', 'IWM'], lookbackDays: 30 });
    expect(jobOf(pipelineOf(plan, 'etl-fanout'), 'transform-clean').parameters).toStrictEqual({ source: 'orders', step: 'clean' });
  });

  it('resolves handler paths against the definition file', () => {
    const etl = pipelineOf(plan, 'etl-fanout');
    expect(etl.file).toBe(path.join(DEFINITIONS_DIR, 'etl-fanout.ts'));
    expect(jobOf(etl, 'transform-enrich').handlerPath).toBe(path.join(DEFINITIONS_DIR, 'handlers/etl/transform.ts'));
  });

  it('carries the description and version, and names the state machine phi-<id>', () => {
    const market = pipelineOf(plan, 'market-data');
    expect(market).toMatchObject({ description: 'Market data → scenarios → metrics → strategy assessment', version: '1.0.0' });
    expect(market.definitionVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(market.stateMachine.name).toBe('phi-market-data');
    expect(pipelineOf(plan, 'etl-fanout').version).toBeUndefined();
  });

  it('estimates history events, transitions, resources and size for etl-fanout', () => {
    // 5 jobs, 3 layers, maxAttempts 2, one schedule (see compile.ts `estimate`):
    //   expected events  = 2 + 2×5 + 3×4 + 5×9 = 69; worst case adds 5 × (2−1) × 3 = 15 → 84
    //   transitions      = 2 recorder calls + 3 layers + 5 × 3 = 20
    //   stack resources  = 4 + 5×4 + 3 (schedule) = 27
    const { estimates } = pipelineOf(plan, 'etl-fanout');
    expect(estimates).toMatchObject({ historyEvents: { expected: 69, worstCase: 84 }, stateTransitions: 20, stackResources: 27, criticalPathSeconds: 180 });
    expect(estimates.definitionBytes).toBeGreaterThan(JSON.stringify(pipelineOf(plan, 'etl-fanout').stateMachine.definition).length);
  });

  it('numbers one function placeholder per enabled job, in job id order, plus the recorder', () => {
    expect(pipelineOf(plan, 'etl-fanout').stateMachine.substitutions).toStrictEqual({
      RecorderFunctionArn: { recorder: true },
      JobFunctionArn0: { jobId: 'ingest' },
      JobFunctionArn1: { jobId: 'publish' },
      JobFunctionArn2: { jobId: 'transform-aggregate' },
      JobFunctionArn3: { jobId: 'transform-clean' },
      JobFunctionArn4: { jobId: 'transform-enrich' },
    });
  });

  it('is deterministic: compiling twice gives equal JSON', async () => {
    const again = await planDefinitions(DEFINITIONS_DIR, NOW);
    expect(JSON.stringify(again.plan)).toBe(JSON.stringify(plan));
  });
});

describe('resolved defaults', () => {
  it('applies the spec defaults when nothing is set: 3 attempts, 60 s, ×2, 3600 s, FULL jitter; 300 s; 512 MB; no parameters', async () => {
    const pipeline = await planOne({ id: 'bare', jobs: { only: task } });
    expect(pipeline.jobs).toStrictEqual([
      {
        id: 'only',
        dependsOn: [],
        handlerPath: expect.stringMatching(/handlers[/\\]task\.ts$/),
        parameters: {},
        timeoutSeconds: 300,
        memoryMb: 512,
        retry: { maxAttempts: 3, initialDelaySeconds: 60, backoffMultiplier: 2, maxDelaySeconds: 3600, jitter: 'FULL', retryableErrors: [], nonRetryableErrors: [] },
        enabled: true,
        layer: 0,
        runtime: { pipelineId: 'bare', jobId: 'only', parameters: {}, maxAttempts: 3, retryableErrors: [], nonRetryableErrors: [], definitionVersion: pipeline.definitionVersion },
      },
    ]);
  });

  it('lets a job’s retry fields override the pipeline defaults field by field', async () => {
    const pipeline = await planOne({
      id: 'layered',
      defaults: { timeoutSeconds: 90, memoryMb: 256, retry: { maxAttempts: 5, initialDelaySeconds: 10, jitter: 'NONE', nonRetryableErrors: ['BAD_INPUT'] } },
      jobs: {
        inherits: task,
        overrides: { ...task, timeoutSeconds: 20, memoryMb: 2048, retry: { maxAttempts: 2, backoffMultiplier: 1.5, nonRetryableErrors: [] } },
      },
    });
    expect(jobOf(pipeline, 'inherits')).toMatchObject({
      timeoutSeconds: 90,
      memoryMb: 256,
      retry: { maxAttempts: 5, initialDelaySeconds: 10, backoffMultiplier: 2, maxDelaySeconds: 3600, jitter: 'NONE', retryableErrors: [], nonRetryableErrors: ['BAD_INPUT'] },
    });
    expect(jobOf(pipeline, 'overrides')).toMatchObject({
      timeoutSeconds: 20,
      memoryMb: 2048,
      retry: { maxAttempts: 2, initialDelaySeconds: 10, backoffMultiplier: 1.5, maxDelaySeconds: 3600, jitter: 'NONE', retryableErrors: [], nonRetryableErrors: [] },
    });
  });

  it('merges parameters with the job’s value winning for the same key', async () => {
    const pipeline = await planOne({
      id: 'params',
      parameters: { region: 'eu', limit: 10, nested: { a: 1 } },
      jobs: { a: { ...task, parameters: { limit: 20, nested: { b: 2 } } }, b: task },
    });
    // A shallow merge: a job's object value replaces the pipeline's.
    expect(jobOf(pipeline, 'a').parameters).toStrictEqual({ region: 'eu', limit: 20, nested: { b: 2 } });
    expect(jobOf(pipeline, 'b').parameters).toStrictEqual({ region: 'eu', limit: 10, nested: { a: 1 } });
  });

  it('treats a job retry field written as undefined like an omitted one (the pipeline default applies)', async () => {
    const plan = await planTemp({
      sources: {
        'pipeline.ts':
          "export default { id: 'undef', defaults: { retry: { maxAttempts: 5 } }, jobs: { a: { handler: './handlers/task.ts', retry: { maxAttempts: undefined } } } };\n",
      },
      handlers: ['handlers/task.ts'],
    });
    expect(jobOf(plan.pipelines[0]!, 'a').retry.maxAttempts).toBe(5);
  });

  it('leaves disabled jobs out of layers, the critical path and the state machine', async () => {
    const pipeline = await planOne({ id: 'partly-off', jobs: { a: task, b: { ...task, enabled: false }, c: { ...task, dependsOn: ['a'] } } });
    expect(pipeline.layers).toStrictEqual([['a'], ['c']]);
    expect(jobOf(pipeline, 'b')).toMatchObject({ enabled: false, layer: -1 });
    expect(pipeline.criticalPath).toStrictEqual(['a', 'c']);
    expect(pipeline.stateMachine.substitutions).toStrictEqual({ RecorderFunctionArn: { recorder: true }, JobFunctionArn0: { jobId: 'a' }, JobFunctionArn1: { jobId: 'c' } });
    expect(Object.keys(pipeline.stateMachine.definition.States)).not.toContain('Layer 3');
    expect(statesOf(pipeline.stateMachine.definition).map((s) => s.name).filter((name) => name.startsWith('b:'))).toStrictEqual([]);
    // The graph the run records holds the enabled jobs only.
    const started = pipeline.stateMachine.definition.States['Record run started'] as unknown as { Parameters: { Payload: { graph: unknown } } };
    expect(started.Parameters.Payload.graph).toStrictEqual({ a: [], c: ['a'] });
  });
});

describe('the state machine definition (contract with Step Functions)', () => {
  const RECORDER_RETRY = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 }];
  let pipeline: PipelinePlan;
  beforeAll(async () => {
    // GIVEN two jobs: extract (4 attempts, explicit backoff, no jitter), then publish (1 attempt, defaults)
    pipeline = await planOne({
      id: 'nightly-report',
      jobs: {
        extract: {
          ...task,
          timeoutSeconds: 45,
          retry: { maxAttempts: 4, initialDelaySeconds: 5, backoffMultiplier: 3, maxDelaySeconds: 100, jitter: 'NONE' },
        },
        publish: { ...task, dependsOn: ['extract'], retry: { maxAttempts: 1 } },
      },
    });
  });

  it('is exactly the expected Amazon States Language document', () => {
    const version = pipeline.definitionVersion;
    const expected: AslStateMachine = {
      Comment: `Phi pipeline nightly-report (definition ${version})`,
      StartAt: 'Record run started',
      States: {
        'Record run started': {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: {
            FunctionName: '${RecorderFunctionArn}',
            // the job graph (enabled job → its upstream jobs), kept on the run record for its end
            Payload: { action: 'runStarted', 'run.$': '$', definitionVersion: version, graph: { extract: [], publish: ['extract'] }, 'executionArn.$': '$$.Execution.Id' },
          },
          Retry: RECORDER_RETRY,
          ResultSelector: { 'run.$': '$.Payload' },
          ResultPath: '$',
          Next: 'Layer 1',
        },
        'Layer 1': {
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'extract: run',
              States: {
                'extract: run': {
                  Type: 'Task',
                  Resource: 'arn:aws:states:::lambda:invoke',
                  Parameters: {
                    FunctionName: '${JobFunctionArn0}',
                    Payload: { 'run.$': '$.run', jobId: 'extract', 'retryCount.$': '$$.State.RetryCount', 'executionArn.$': '$$.Execution.Id' },
                  },
                  // the handler's 45 s plus a 30 s margin
                  TimeoutSeconds: 75,
                  ResultSelector: { 'result.$': '$.Payload' },
                  ResultPath: '$.job',
                  // 4 attempts = the first + 3 retries
                  Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, BackoffRate: 3, MaxDelaySeconds: 100, JitterStrategy: 'NONE', MaxAttempts: 3 }],
                  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: 'extract: record failure' }],
                  Next: 'extract: check',
                },
                'extract: check': {
                  Type: 'Choice',
                  Choices: [{ Variable: '$.job.result.status', StringEquals: 'FAILED', Next: 'extract: record failure' }],
                  Default: 'extract: succeeded',
                },
                'extract: succeeded': { Type: 'Succeed' },
                'extract: record failure': {
                  Type: 'Task',
                  Resource: 'arn:aws:states:::lambda:invoke',
                  Parameters: {
                    FunctionName: '${RecorderFunctionArn}',
                    Payload: { action: 'jobFailed', 'run.$': '$.run', jobId: 'extract', maxAttempts: 4, 'outcome.$': '$.job', 'executionArn.$': '$$.Execution.Id' },
                  },
                  Retry: RECORDER_RETRY,
                  ResultPath: null,
                  Next: 'extract: failed',
                },
                'extract: failed': { Type: 'Fail', Error: 'PhiJobFailed', Cause: 'job extract failed' },
              },
            },
          ],
          ResultPath: null,
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Record run failed' }],
          Next: 'Layer 2',
        },
        'Layer 2': {
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'publish: run',
              States: {
                // maxAttempts 1: no Retry at all
                'publish: run': {
                  Type: 'Task',
                  Resource: 'arn:aws:states:::lambda:invoke',
                  Parameters: {
                    FunctionName: '${JobFunctionArn1}',
                    Payload: { 'run.$': '$.run', jobId: 'publish', 'retryCount.$': '$$.State.RetryCount', 'executionArn.$': '$$.Execution.Id' },
                  },
                  // the default 300 s plus the 30 s margin
                  TimeoutSeconds: 330,
                  ResultSelector: { 'result.$': '$.Payload' },
                  ResultPath: '$.job',
                  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: 'publish: record failure' }],
                  Next: 'publish: check',
                },
                'publish: check': {
                  Type: 'Choice',
                  Choices: [{ Variable: '$.job.result.status', StringEquals: 'FAILED', Next: 'publish: record failure' }],
                  Default: 'publish: succeeded',
                },
                'publish: succeeded': { Type: 'Succeed' },
                'publish: record failure': {
                  Type: 'Task',
                  Resource: 'arn:aws:states:::lambda:invoke',
                  Parameters: {
                    FunctionName: '${RecorderFunctionArn}',
                    Payload: { action: 'jobFailed', 'run.$': '$.run', jobId: 'publish', maxAttempts: 1, 'outcome.$': '$.job', 'executionArn.$': '$$.Execution.Id' },
                  },
                  Retry: RECORDER_RETRY,
                  ResultPath: null,
                  Next: 'publish: failed',
                },
                'publish: failed': { Type: 'Fail', Error: 'PhiJobFailed', Cause: 'job publish failed' },
              },
            },
          ],
          ResultPath: null,
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Record run failed' }],
          Next: 'Record run succeeded',
        },
        'Record run succeeded': {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: {
            FunctionName: '${RecorderFunctionArn}',
            // no job list: the recorder reads the graph from the run record
            Payload: { action: 'runFinished', status: 'SUCCEEDED', 'run.$': '$.run', 'executionArn.$': '$$.Execution.Id' },
          },
          Retry: RECORDER_RETRY,
          ResultPath: null,
          End: true,
        },
        'Record run failed': {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: {
            FunctionName: '${RecorderFunctionArn}',
            Payload: {
              action: 'runFinished',
              status: 'FAILED',
              'run.$': '$.run',
              'caught.$': '$.failure',
              'executionArn.$': '$$.Execution.Id',
            },
          },
          Retry: RECORDER_RETRY,
          ResultPath: null,
          Next: 'Run failed',
        },
        'Run failed': { Type: 'Fail', Error: 'PhiRunFailed', Cause: 'a job of pipeline nightly-report failed' },
      },
    };
    expect(pipeline.stateMachine.definition).toStrictEqual(expected);
    expect(pipeline.stateMachine.substitutions).toStrictEqual({ RecorderFunctionArn: { recorder: true }, JobFunctionArn0: { jobId: 'extract' }, JobFunctionArn1: { jobId: 'publish' } });
    expect(pipeline.stateMachine.name).toBe('phi-nightly-report');
  });

  it('estimates the definition size with every placeholder replaced by a 140-character ARN', () => {
    // ${RecorderFunctionArn} appears 5 times (run started/succeeded/failed, 2 job failures), each job's once.
    const text = JSON.stringify(pipeline.stateMachine.definition);
    const recorderGrowth = 5 * (140 - 'RecorderFunctionArn'.length - 3);
    const jobGrowth = 2 * (140 - 'JobFunctionArn0'.length - 3);
    expect(pipeline.estimates.definitionBytes).toBe(Buffer.byteLength(text) + recorderGrowth + jobGrowth);
  });

  it('estimates history events, transitions, resources and the critical path for two sequential jobs', () => {
    // expected = 2 + 2×5 + 2 layers×4 + 2 jobs×9 = 38; worst adds (4−1)×3 + (1−1)×3 = 9 → 47
    expect(pipeline.estimates).toMatchObject({
      historyEvents: { expected: 38, worstCase: 47 },
      stateTransitions: 2 + 2 + 2 * 3,
      stackResources: 4 + 2 * 4,
      criticalPathSeconds: 45 + 300,
    });
  });

  it('runs a fan-out layer as one Parallel branch per job, in job id order', async () => {
    const fan = await planOne({
      id: 'fan',
      jobs: { root: task, zeta: { ...task, dependsOn: ['root'] }, alpha: { ...task, dependsOn: ['root'] }, mid: { ...task, dependsOn: ['root'] } },
    });
    const layer2 = fan.stateMachine.definition.States['Layer 2'];
    expect(layer2?.Type).toBe('Parallel');
    const branches = layer2?.Branches as readonly { StartAt: string }[];
    expect(branches.map((b) => b.StartAt)).toStrictEqual(['alpha: run', 'mid: run', 'zeta: run']);
    expect(layer2?.Next).toBe('Record run succeeded');
  });
});

describe('state names', () => {
  it('are unique across the whole definition, Parallel branches included, even for jobs named like the run’s own states', async () => {
    // Under the old `Run <job>` names a job "failed" had a state "Run failed", the run's own Fail state.
    const pipeline = await planOne({
      id: 'clashing-names',
      jobs: {
        run: task,
        failed: { ...task, dependsOn: ['run'] },
        check: { ...task, dependsOn: ['run'] },
        succeeded: { ...task, dependsOn: ['failed', 'check'] },
        record: task,
        layer: { ...task, dependsOn: ['succeeded'] },
        'run-failed': { ...task, dependsOn: ['record'] },
      },
    });
    const states = statesOf(pipeline.stateMachine.definition);
    const names = states.map((s) => s.name);

    const counts = new Map<string, number>();
    for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1)).toStrictEqual([]);
    // 4 run states + 4 layers + 5 states for each of the 7 jobs.
    expect(names).toHaveLength(4 + 4 + 7 * 5);

    // The run's own states are still what they were, and the job "failed" has its own.
    const byName = new Map(states.map((s) => [s.name, s.state]));
    expect(byName.get('Run failed')).toStrictEqual({ Type: 'Fail', Error: 'PhiRunFailed', Cause: 'a job of pipeline clashing-names failed' });
    expect(byName.get('failed: run')).toMatchObject({ Type: 'Task', Next: 'failed: check' });
    expect(byName.get('run: failed')).toStrictEqual({ Type: 'Fail', Error: 'PhiJobFailed', Cause: 'job run failed' });
    expect(byName.get('run-failed: run')).toMatchObject({ Type: 'Task' });
    for (const job of ['run', 'failed', 'check', 'succeeded', 'record', 'layer', 'run-failed']) {
      for (const step of ['run', 'check', 'succeeded', 'record failure', 'failed']) expect(names).toContain(`${job}: ${step}`);
    }
  });

  it('leads every transition to a state of its own scope (a branch never names a state outside it)', async () => {
    const pipeline = await planOne({ id: 'scoped', jobs: { run: task, failed: { ...task, dependsOn: ['run'] }, other: { ...task, dependsOn: ['run'] } } });
    const definition = pipeline.stateMachine.definition;
    expect(Object.keys(definition.States)).toContain(definition.StartAt);
    for (const { name, state, scope } of statesOf(definition)) {
      for (const target of targetsOf(state)) expect({ from: name, to: target, found: target in scope }).toStrictEqual({ from: name, to: target, found: true });
      for (const branch of (state.Branches ?? []) as { StartAt: string; States: States }[]) expect(Object.keys(branch.States)).toContain(branch.StartAt);
    }
  });
});

describe('the recorder payloads (contract with the recorder)', () => {
  /** A payload as Step Functions would hand it to the recorder: every `key.$` replaced by a value. */
  function resolve(payload: Record<string, unknown>): Record<string, unknown> {
    const values: Record<string, unknown> = {
      'run.$': { runId: 'k-1', pipelineId: 'orders', trigger: 'API', parameters: {} },
      'executionArn.$': 'arn:aws:states:us-east-1:123456789012:execution:phi-orders:k-1',
      'caught.$': { Error: 'PhiJobFailed', Cause: 'job load failed' },
      'outcome.$': { Error: 'States.Timeout' },
    };
    return Object.fromEntries(
      Object.entries(payload).map(([key, value]) => {
        if (!key.endsWith('.$')) return [key, value];
        if (!(key in values)) throw new Error(`no value for ${key}`);
        return [key.slice(0, -2), values[key]];
      }),
    );
  }

  it('parse as recorder events: runStarted with the enabled jobs’ graph, runFinished without a job list', async () => {
    const pipeline = await planOne({
      id: 'orders',
      jobs: { extract: task, load: { ...task, dependsOn: ['extract'] }, audit: { ...task, dependsOn: ['extract', 'load'] }, off: { ...task, enabled: false } },
    });
    const payloads = statesOf(pipeline.stateMachine.definition)
      .filter(({ state }) => (state.Parameters as { FunctionName?: string } | undefined)?.FunctionName === '${RecorderFunctionArn}')
      .map(({ name, state }) => ({ name, event: RecorderEventSchema.parse(resolve((state.Parameters as { Payload: Record<string, unknown> }).Payload)) }));

    expect(payloads.map((p) => [p.name, p.event.action])).toStrictEqual([
      ['Record run started', 'runStarted'],
      // one per job, layer by layer
      ['extract: record failure', 'jobFailed'],
      ['load: record failure', 'jobFailed'],
      ['audit: record failure', 'jobFailed'],
      ['Record run succeeded', 'runFinished'],
      ['Record run failed', 'runFinished'],
    ]);
    const started = payloads[0]!.event;
    expect(started).toMatchObject({ action: 'runStarted', definitionVersion: pipeline.definitionVersion, graph: { extract: [], load: ['extract'], audit: ['extract', 'load'] } });
    expect(Object.keys((started as { graph: object }).graph).sort()).toStrictEqual(['audit', 'extract', 'load']);
    for (const { event } of payloads.filter((p) => p.event.action === 'runFinished')) expect(JSON.stringify(event)).not.toContain('jobIds');
  });
});

describe('definitionVersion', () => {
  const base = {
    id: 'versioned',
    description: 'the base',
    version: '1',
    schedule: { cron: '0 6 * * *', timezone: 'Europe/Berlin' },
    parameters: { region: 'eu' },
    defaults: { timeoutSeconds: 60 },
    jobs: {
      a: { handler: './handlers/a.ts', retry: { maxAttempts: 2 } },
      b: { handler: './handlers/b.ts', dependsOn: ['a'], memoryMb: 1024 },
    },
  };
  const handlers = ['handlers/a.ts', 'handlers/b.ts'];

  async function versionOf(definition: Record<string, unknown>): Promise<string> {
    const plan = await planTemp({ definitions: { 'versioned.ts': definition }, handlers });
    return plan.pipelines[0]!.definitionVersion;
  }

  const withJob = (id: 'a' | 'b', patch: Record<string, unknown>): Record<string, unknown> => ({
    ...base,
    jobs: { ...base.jobs, [id]: { ...base.jobs[id], ...patch } },
  });

  it('is the same for the same definition, wherever the file is', async () => {
    expect(await versionOf(base)).toBe(await versionOf(structuredClone(base)));
  });

  it.each<[string, Record<string, unknown>]>([
    ['the description', { ...base, description: 'changed' }],
    ['the version label', { ...base, version: '2' }],
    ['the schedule timezone', { ...base, schedule: { cron: '0 6 * * *', timezone: 'Europe/Paris' } }],
    ['the schedule expression', { ...base, schedule: { cron: '0 7 * * *', timezone: 'Europe/Berlin' } }],
    ['a pipeline parameter', { ...base, parameters: { region: 'us' } }],
    ['a default', { ...base, defaults: { timeoutSeconds: 61 } }],
    ['a job handler', withJob('a', { handler: './handlers/b.ts' })],
    ['a job retry field', withJob('a', { retry: { maxAttempts: 3 } })],
    ['a job memory', withJob('b', { memoryMb: 2048 })],
    ['a job being disabled', withJob('b', { enabled: false })],
    ['a job parameter', withJob('b', { parameters: { x: 1 } })],
    ['a dependency removed', withJob('b', { dependsOn: [] })],
    ['a job added', { ...base, jobs: { ...base.jobs, c: { handler: './handlers/a.ts' } } }],
  ])('changes when %s changes', async (_, changed) => {
    expect(await versionOf(changed)).not.toBe(await versionOf(base));
  });
});

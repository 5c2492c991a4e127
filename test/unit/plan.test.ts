/**
 * The plan: what `planDefinitions` compiles the shipped definitions and small temp pipelines into, down to
 * the whole Amazon States Language document (the contract with Step Functions).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { planDefinitions } from '../../lib/load/load.ts';
import { canonicalJson } from '../../lib/model/canonical.ts';
import { compilePlan, type LoadedPipeline } from '../../lib/plan/compile.ts';
import { ProblemCode, type Problem } from '../../lib/model/problems.ts';
import { graphOfJobList, RecorderEventSchema } from '../../lib/model/contract/index.ts';
import type { AslState, AslStateMachine } from '../../lib/plan/types.ts';
import type { PipelinePlan, Plan, ResolvedJob } from '../../lib/plan/types.ts';
import { observedCriticalPath } from '../../lib/plan/observed.ts';
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

/** Every state of a definition with the scope it is in: the top level, a Parallel branch or a Map's iteration. */
function statesOf(definition: AslStateMachine): { name: string; state: AslState; scope: States }[] {
  const all: { name: string; state: AslState; scope: States }[] = [];
  const visit = (scope: States): void => {
    for (const [name, state] of Object.entries(scope)) {
      all.push({ name, state, scope });
      for (const branch of (state.Branches ?? []) as { States: States }[]) visit(branch.States);
      const processor = state.ItemProcessor as { States: States } | undefined;
      if (processor) visit(processor.States);
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
    expect(plan.pipelines.map((p) => p.id)).toStrictEqual(['dag-drill', 'etl-fanout', 'failure-drill', 'market-data']);
    expect(plan.generatedAt).toBe('2026-11-22T12:00:00.000Z');
  });

  it('schedules market-data weekdays at 19:00 New York time as cron(0 19 ? * MON-FRI *)', () => {
    expect(pipelineOf(plan, 'market-data').schedules).toStrictEqual([
      {
        id: 'default',
        source: 'cron: 0 19 * * 1-5',
        expression: 'cron(0 19 ? * MON-FRI *)',
        timezone: 'America/New_York',
        enabled: true,
        state: 'ENABLED',
        deploy: {},
        dstChanges: [],
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

  it('estimates history events, transitions, payload, resources and size for etl-fanout', () => {
    // 5 jobs: ingest waits for nothing, 4 wait; 3 functions (ingest, transform ×3, publish); one schedule:
    //   run's own events   = 2 (execution) + 2 recorder tasks × 5 + 4 (the Map) + 2 (choice) + 2 (succeed) = 20
    //   per job            = 2 (child execution) + 2 (choice) + 6 (the gate, a callback task) + 5 (the run) = 15;
    //                        worst, maxAttempts 2: one retry (4 + 5 + 2 + 2 = 13) and the abandon step (5) → 33
    //   transitions        = 5 for the run + 4 gated jobs × 3 + 1 root × 2 = 19, 2.8 a job
    //   stack resources    = 6 (state machine, the job list readers' policy, the definition's record) + 3 functions × 4 + 3 (schedule) + 1 (the run-failed alarm) = 22
    const { estimates } = pipelineOf(plan, 'etl-fanout');
    expect(estimates).toMatchObject({
      historyEvents: { run: 20, perJob: { expected: 15, worstCase: 33 } },
      stateTransitions: { perRun: 19, perJob: 2.8 },
      stackResources: 22,
      criticalPathSeconds: 180,
    });
    expect(estimates.definitionBytes).toBeGreaterThan(JSON.stringify(pipelineOf(plan, 'etl-fanout').stateMachine.definition).length);
    // a job's iteration (its item, the functions' ARNs) beside run parameters at their 32 KiB limit
    expect(estimates.payloadBytes).toBeGreaterThan(32 * 1024);
    expect(estimates.payloadBytes).toBeLessThan(40 * 1024);
  });

  it('shares one function between the jobs with the same handler, memory and timeout, numbered by their first job', () => {
    const etl = pipelineOf(plan, 'etl-fanout');
    expect(etl.functions.map((f) => [f.key, path.relative(DEFINITIONS_DIR, f.handlerPath), f.memoryMb, f.timeoutSeconds, f.jobs])).toStrictEqual([
      ['f0', 'handlers/etl/ingest.ts', 512, 60, ['ingest']],
      ['f1', 'handlers/etl/publish.ts', 512, 60, ['publish']],
      ['f2', 'handlers/etl/transform.ts', 512, 60, ['transform-aggregate', 'transform-clean', 'transform-enrich']],
    ]);
    expect(etl.jobs.map((j) => [j.id, j.function])).toStrictEqual([
      ['ingest', 'f0'],
      ['publish', 'f1'],
      ['transform-aggregate', 'f2'],
      ['transform-clean', 'f2'],
      ['transform-enrich', 'f2'],
    ]);
    expect(etl.stateMachine.substitutions).toStrictEqual({
      RecorderFunctionArn: { recorder: true },
      RecordsTableName: { table: true },
      JobListBucket: { jobList: 'bucket' },
      JobListKey: { jobList: 'key' },
      JobFunctionArn_f0: { function: 'f0' },
      JobFunctionArn_f1: { function: 'f1' },
      JobFunctionArn_f2: { function: 'f2' },
    });
  });

  it('gives the job functions a manifest of every enabled job: parameters, retry, upstreams and dependents', () => {
    const etl = pipelineOf(plan, 'etl-fanout');
    const retry = { maxAttempts: 2, initialDelaySeconds: 10, backoffMultiplier: 2, maxDelaySeconds: 3600, jitter: 'FULL', retryableErrors: [], nonRetryableErrors: [] };
    const on = (job: string) => ({ job, on: 'SUCCESS', skipOnUpstreamSkip: true });
    expect(etl.manifest).toStrictEqual({
      pipelineId: 'etl-fanout',
      definitionVersion: etl.definitionVersion,
      jobs: {
        ingest: { parameters: { source: 'orders' }, retry, upstream: [], dependents: ['transform-aggregate', 'transform-clean', 'transform-enrich'].map((job) => ({ job, upstreamCount: 1 })) },
        publish: { parameters: { source: 'orders' }, retry, upstream: [on('transform-clean'), on('transform-enrich'), on('transform-aggregate')], dependents: [] },
        'transform-aggregate': { parameters: { source: 'orders', step: 'aggregate' }, retry, upstream: [on('ingest')], dependents: [{ job: 'publish', upstreamCount: 3 }] },
        'transform-clean': { parameters: { source: 'orders', step: 'clean' }, retry, upstream: [on('ingest')], dependents: [{ job: 'publish', upstreamCount: 3 }] },
        'transform-enrich': { parameters: { source: 'orders', step: 'enrich' }, retry, upstream: [on('ingest')], dependents: [{ job: 'publish', upstreamCount: 3 }] },
      },
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
        dependencies: [],
        function: 'f0',
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
    expect(pipeline.functions.map((f) => f.jobs)).toStrictEqual([['a', 'c']]);
    expect(jobOf(pipeline, 'b').function).toBeUndefined();
    expect(Object.keys(pipeline.manifest.jobs)).toStrictEqual(['a', 'c']);
    // The job list (the jobs its Map runs, the graph the recorder reads) holds the enabled jobs only.
    expect(pipeline.stateMachine.jobList).toStrictEqual([
      { id: 'a', f: 0, up: 0, d: [] },
      { id: 'c', f: 0, up: 1, d: ['a'] },
    ]);
  });
});

describe('the state machine definition (contract with Step Functions)', () => {
  const SERVICE_RETRY = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 5 }];
  let pipeline: PipelinePlan;
  beforeAll(async () => {
    // GIVEN two jobs: extract (45 s), then publish (the default 300 s), both with the one handler
    pipeline = await planOne({
      id: 'nightly-report',
      jobs: {
        extract: { ...task, timeoutSeconds: 45, retry: { maxAttempts: 4, initialDelaySeconds: 5, backoffMultiplier: 3, maxDelaySeconds: 100, jitter: 'NONE' } },
        publish: { ...task, dependsOn: ['extract'], retry: { maxAttempts: 1 } },
      },
    });
  });

  it('is exactly the expected Amazon States Language document', () => {
    const version = pipeline.definitionVersion;
    const recorder = (payload: Record<string, unknown>, extra: Record<string, unknown>) => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: '${RecorderFunctionArn}', Payload: payload },
      Retry: SERVICE_RETRY,
      ...extra,
    });
    const jobFunction = { 'FunctionName.$': 'States.ArrayGetItem($.functions, $.job.f)' };
    const jobPayload = { 'run.$': '$.run', 'jobId.$': '$.job.id', 'attempt.$': '$.next.attempt', 'executionArn.$': '$.executionArn', 'taskExecutionArn.$': '$$.Execution.Id' };
    const expected: AslStateMachine = {
      Comment: `Phi pipeline nightly-report (definition ${version})`,
      StartAt: 'Record run started',
      // the worst case (extract: 4 × (45 + 30) s and delays of 5, 15 and 45 s; publish: 300 + 30 s) and an hour
      TimeoutSeconds: 4 * 75 + 5 + 15 + 45 + 330 + 3600,
      States: {
        'Record run started': recorder(
          { action: 'runStarted', 'run.$': '$', definitionVersion: version, jobList: { bucket: '${JobListBucket}', key: '${JobListKey}' }, 'executionArn.$': '$$.Execution.Id' },
          {
            ResultSelector: {
              'run.$': '$.Payload',
              functions: ['${JobFunctionArn_f0}', '${JobFunctionArn_f1}'],
            },
            ResultPath: '$',
            Next: 'Jobs',
          },
        ),
        Jobs: {
          Type: 'Map',
          Label: 'Jobs',
          ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: '${JobListBucket}', Key: '${JobListKey}' } },
          ItemSelector: { 'run.$': '$.run', 'job.$': '$$.Map.Item.Value', 'functions.$': '$.functions', 'executionArn.$': '$$.Execution.Id', next: { retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 } },
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
            StartAt: 'Has upstream?',
            States: {
              'Has upstream?': { Type: 'Choice', Choices: [{ Variable: '$.job.up', NumericGreaterThan: 0, Next: 'Wait for upstream' }], Default: 'Run attempt' },
              'Wait for upstream': {
                Type: 'Task',
                Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken',
                Parameters: {
                  TableName: '${RecordsTableName}',
                  Key: { pk: { 'S.$': "States.Format('RUN#{}', $.run.runId)" }, sk: { 'S.$': "States.Format('STATE#{}', $.job.id)" } },
                  UpdateExpression: 'SET #token = :token',
                  ConditionExpression: 'attribute_not_exists(#ready)',
                  ExpressionAttributeNames: { '#token': 'token', '#ready': 'ready' },
                  ExpressionAttributeValues: { ':token': { 'S.$': '$$.Task.Token' } },
                },
                ResultPath: null,
                Retry: [{ ErrorEquals: ['DynamoDb.ProvisionedThroughputExceededException', 'DynamoDb.ThrottlingException', 'DynamoDb.InternalServerErrorException', 'DynamoDb.RequestLimitExceeded'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 6 }],
                Catch: [
                  { ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'], ResultPath: null, Next: 'Run attempt' },
                  { ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'Abandon job' },
                ],
                Next: 'Run attempt',
              },
              'Run attempt': {
                Type: 'Task',
                Resource: 'arn:aws:states:::lambda:invoke',
                Parameters: { ...jobFunction, Payload: { action: 'run', ...jobPayload } },
                // the longest job timeout (300 s) and the margin
                TimeoutSeconds: 330,
                ResultSelector: { 'status.$': '$.Payload.status' },
                ResultPath: '$.result',
                OutputPath: '$.result',
                Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 }],
                Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'Attempt failed' }],
                End: true,
              },
              'Attempt failed': {
                Type: 'Task',
                Resource: 'arn:aws:states:::lambda:invoke',
                Parameters: { ...jobFunction, Payload: { action: 'failed', ...jobPayload, 'caught.$': '$.caught', 'infraTries.$': '$.next.infraTries' } },
                ResultSelector: { 'retry.$': '$.Payload.retry', 'again.$': '$.Payload.again', 'delaySeconds.$': '$.Payload.delaySeconds', 'attempt.$': '$.Payload.attempt', 'infraTries.$': '$.Payload.infraTries' },
                ResultPath: '$.next',
                Retry: SERVICE_RETRY,
                Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.abandoned', Next: 'Abandon job' }],
                Next: 'Retry?',
              },
              'Retry?': {
                Type: 'Choice',
                Choices: [
                  { Variable: '$.next.retry', BooleanEquals: true, Next: 'Back off' },
                  { Variable: '$.next.again', BooleanEquals: true, Next: 'Back off, then decide again' },
                ],
                Default: 'Job done',
              },
              'Back off': { Type: 'Wait', SecondsPath: '$.next.delaySeconds', Next: 'Run attempt' },
              'Back off, then decide again': { Type: 'Wait', SecondsPath: '$.next.delaySeconds', Next: 'Attempt failed' },
              'Abandon job': recorder(
                { action: 'jobAbandoned', 'run.$': '$.run', 'jobId.$': '$.job.id', 'attempt.$': '$.next.attempt', 'caught.$': '$.caught', 'executionArn.$': '$.executionArn' },
                { ResultPath: null, Next: 'Job done' },
              ),
              'Job done': { Type: 'Succeed', OutputPath: '$.next' },
            },
          },
          MaxConcurrency: 2,
          ToleratedFailurePercentage: 100,
          ResultPath: null,
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'Record run failed' }],
          Next: 'Record run finished',
        },
        'Record run finished': recorder(
          { action: 'runFinished', 'run.$': '$.run', 'executionArn.$': '$$.Execution.Id' },
          { ResultSelector: { 'status.$': '$.Payload.status' }, ResultPath: '$.outcome', Next: 'Run outcome' },
        ),
        'Record run failed': recorder(
          { action: 'runFinished', 'run.$': '$.run', 'caught.$': '$.caught', 'executionArn.$': '$$.Execution.Id' },
          { ResultSelector: { 'status.$': '$.Payload.status' }, ResultPath: '$.outcome', Next: 'Run outcome' },
        ),
        'Run outcome': {
          Type: 'Choice',
          Choices: [
            { Variable: '$.outcome.status', StringEquals: 'SUCCEEDED', Next: 'Run succeeded' },
            { Variable: '$.outcome.status', StringEquals: 'CANCELLED', Next: 'Run cancelled' },
          ],
          Default: 'Run failed',
        },
        'Run succeeded': { Type: 'Succeed' },
        'Run cancelled': { Type: 'Fail', Error: 'PhiRunCancelled', Cause: 'a run of pipeline nightly-report was cancelled' },
        'Run failed': { Type: 'Fail', Error: 'PhiRunFailed', Cause: 'a job of pipeline nightly-report failed' },
      },
    };
    expect(pipeline.stateMachine.definition).toStrictEqual(expected);
    expect(pipeline.stateMachine.substitutions).toStrictEqual({ RecorderFunctionArn: { recorder: true }, RecordsTableName: { table: true }, JobListBucket: { jobList: 'bucket' }, JobListKey: { jobList: 'key' }, JobFunctionArn_f0: { function: 'f0' }, JobFunctionArn_f1: { function: 'f1' } });
    expect(pipeline.stateMachine.jobList).toStrictEqual([
      { id: 'extract', f: 0, up: 0, d: [] },
      { id: 'publish', f: 1, up: 1, d: ['extract'] },
    ]);
    expect(pipeline.stateMachine.name).toBe('phi-nightly-report');
  });

  it('estimates the definition size with every placeholder replaced by a 140-character value', () => {
    // ${RecorderFunctionArn} appears 4 times (run started, finished, failed; abandon), the table once, the job list's bucket and key twice (the recorder's, the Map's), each function once.
    const text = JSON.stringify(pipeline.stateMachine.definition);
    const growth = (key: string, times: number): number => times * (140 - key.length - 3);
    expect(pipeline.estimates.definitionBytes).toBe(
      Buffer.byteLength(text) + growth('RecorderFunctionArn', 4) + growth('RecordsTableName', 1) + growth('JobListBucket', 2) + growth('JobListKey', 2) + growth('JobFunctionArn_f0', 1) + growth('JobFunctionArn_f1', 1),
    );
  });

  it('estimates history events, transitions, resources and the critical path for two sequential jobs', () => {
    // per job: 15 events; worst, 4 attempts: 3 retries × 13 + the abandon step 5 → 59
    expect(pipeline.estimates).toMatchObject({
      historyEvents: { run: 20, perJob: { expected: 15, worstCase: 15 + 3 * 13 + 5 } },
      stateTransitions: { perRun: 5 + 2 + 3, perJob: 2.5 },
      // two functions: the same handler, but other timeouts
      stackResources: 6 + 2 * 4 + 1, // and the run-failed alarm
      criticalPathSeconds: 45 + 300,
    });
  });

  it('runs every job at once in one Distributed Map, whatever the graph’s shape, each waiting for its own upstreams only', async () => {
    // a → c, b → c, b → d: no series-parallel nesting can run d as soon as b ends and c only after a and b
    const dag = await planOne({ id: 'not-series-parallel', jobs: { a: task, b: task, c: { ...task, dependsOn: ['a', 'b'] }, d: { ...task, dependsOn: ['b'] } } });
    expect(dag.stateMachine.jobList).toStrictEqual([
      { id: 'a', f: 0, up: 0, d: [] },
      { id: 'b', f: 0, up: 0, d: [] },
      { id: 'c', f: 0, up: 2, d: ['a', 'b'] },
      { id: 'd', f: 0, up: 1, d: ['b'] },
    ]);
    expect(dag.stateMachine.definition.States.Jobs).toMatchObject({ Type: 'Map', MaxConcurrency: 4, ToleratedFailurePercentage: 100 });
    expect(Object.keys(dag.stateMachine.definition.States)).toStrictEqual(['Record run started', 'Jobs', 'Record run finished', 'Record run failed', 'Run outcome', 'Run succeeded', 'Run cancelled', 'Run failed']);
    expect(dag.manifest.jobs.b!.dependents).toStrictEqual([
      { job: 'c', upstreamCount: 2 },
      { job: 'd', upstreamCount: 1 },
    ]);
  });

  it('has a definition and a state payload that do not grow with the number of jobs: the job list is read from S3', async () => {
    const jobs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`j${String(i).padStart(5, '0')}`, { ...task, ...(i > 0 ? { dependsOn: [`j${String(i - 1).padStart(5, '0')}`] } : {}) }]));
    const small = await planOne({ id: 'small', jobs: jobs(10) });
    const large = await planOne({ id: 'large', jobs: jobs(6000) });
    // the same but for the digits of the Map's concurrency (one per job) and of the execution's timeout
    expect(large.estimates.definitionBytes - small.estimates.definitionBytes).toBeLessThan(8);
    expect(large.estimates.payloadBytes).toBe(small.estimates.payloadBytes);
    expect(large.stateMachine.jobList).toHaveLength(6000);
    // far past a state's 256 KiB: it is never passed between states
    expect(Buffer.byteLength(JSON.stringify(large.stateMachine.jobList))).toBeGreaterThan(256 * 1024);
  });
});

describe('state names', () => {
  it('leads every transition to a state of its own scope (a Map’s iteration never names a state outside it)', async () => {
    const pipeline = await planOne({ id: 'scoped', jobs: { run: task, failed: { ...task, dependsOn: ['run'] }, other: { ...task, dependsOn: ['run'] } } });
    const definition = pipeline.stateMachine.definition;
    expect(Object.keys(definition.States)).toContain(definition.StartAt);
    for (const { name, state, scope } of statesOf(definition)) {
      for (const target of targetsOf(state)) expect({ from: name, to: target, found: target in scope }).toStrictEqual({ from: name, to: target, found: true });
      const processor = state.ItemProcessor as { StartAt: string; States: States } | undefined;
      if (processor) expect(Object.keys(processor.States)).toContain(processor.StartAt);
    }
  });

  it('never depend on job ids: a job named like a state changes nothing but the data', async () => {
    const named = await planOne({ id: 'named', jobs: { 'run-failed': task, jobs: { ...task, dependsOn: ['run-failed'] } } });
    const plain = await planOne({ id: 'named', jobs: { a: task, b: { ...task, dependsOn: ['a'] } } });
    const names = (p: PipelinePlan) => statesOf(p.stateMachine.definition).map((s) => s.name);
    expect(names(named)).toStrictEqual(names(plain));
  });
});

describe('the recorder payloads (contract with the recorder)', () => {
  /** A payload as Step Functions would hand it to the recorder: every `key.$` replaced by a value. */
  function resolve(payload: Record<string, unknown>): Record<string, unknown> {
    const values: Record<string, unknown> = {
      'run.$': { runId: 'k-1', pipelineId: 'orders', trigger: 'API', parameters: {} },
      'executionArn.$': 'arn:aws:states:us-east-1:123456789012:execution:phi-orders:k-1',
      'caught.$': { Error: 'States.Timeout' },
      'jobId.$': 'load',
      'attempt.$': 2,
    };
    return Object.fromEntries(
      Object.entries(payload).map(([key, value]) => {
        if (!key.endsWith('.$')) return [key, value];
        if (!(key in values)) throw new Error(`no value for ${key}`);
        return [key.slice(0, -2), values[key]];
      }),
    );
  }

  it('parse as recorder events: runStarted with where the enabled jobs’ list is, jobAbandoned, runFinished with and without what was caught', async () => {
    const pipeline = await planOne({
      id: 'orders',
      jobs: { extract: task, load: { ...task, dependsOn: ['extract'] }, audit: { ...task, dependsOn: ['extract', 'load'] }, off: { ...task, enabled: false } },
    });
    const payloads = statesOf(pipeline.stateMachine.definition)
      .filter(({ state }) => (state.Parameters as { FunctionName?: string } | undefined)?.FunctionName === '${RecorderFunctionArn}')
      .map(({ name, state }) => ({ name, event: RecorderEventSchema.parse(resolve((state.Parameters as { Payload: Record<string, unknown> }).Payload)) }));

    expect(payloads.map((p) => [p.name, p.event.action])).toStrictEqual([
      ['Record run started', 'runStarted'],
      ['Abandon job', 'jobAbandoned'],
      ['Record run finished', 'runFinished'],
      ['Record run failed', 'runFinished'],
    ]);
    const started = payloads[0]!.event;
    expect(started).toMatchObject({ action: 'runStarted', definitionVersion: pipeline.definitionVersion, jobList: { bucket: '${JobListBucket}', key: '${JobListKey}' } });
    expect(graphOfJobList(pipeline.stateMachine.jobList)).toStrictEqual({ extract: [], load: ['extract'], audit: ['extract', 'load'] });
    expect(payloads[2]!.event).not.toHaveProperty('caught');
    expect(payloads[3]!.event).toMatchObject({ caught: { Error: 'States.Timeout' } });
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

describe('the observed critical path (phi plan --observed)', () => {
  it('weighs the graph with median and p95 durations, names the jobs never observed, and what each critical job would save', async () => {
    // a → c, b → c, b → d; the timeouts (300 s) would make every chain look alike
    const dag = await planOne({ id: 'observed', jobs: { a: task, b: task, c: { ...task, dependsOn: ['a', 'b'] }, d: { ...task, dependsOn: ['b'] } } });
    const observed = observedCriticalPath(dag, {
      runs: 12,
      jobs: {
        a: { samples: 12, medianMs: 4_000, p95Ms: 4_500 },
        b: { samples: 12, medianMs: 1_000, p95Ms: 6_000 },
        c: { samples: 12, medianMs: 1_000, p95Ms: 1_200 },
      },
    });
    expect(observed).toStrictEqual({
      pipelineId: 'observed',
      runs: 12,
      median: { path: ['b', 'd'], ms: 1_000 + 300_000 },
      p95: { path: ['b', 'd'], ms: 6_000 + 300_000 },
      unobserved: ['d'],
      // b out: d alone (300 s) still the longest; d out: a → c (5 s) is
      savings: [
        { job: 'b', ms: 1_000 },
        { job: 'd', ms: 301_000 - 5_000 },
      ],
    });
  });

  it('follows the observed durations where they move the critical path', async () => {
    const dag = await planOne({ id: 'observed', jobs: { a: task, b: task, c: { ...task, dependsOn: ['a', 'b'] }, d: { ...task, dependsOn: ['b'] } } });
    const all = { a: { samples: 3, medianMs: 4_000, p95Ms: 4_000 }, b: { samples: 3, medianMs: 1_000, p95Ms: 9_000 }, c: { samples: 3, medianMs: 1_000, p95Ms: 1_000 }, d: { samples: 3, medianMs: 500, p95Ms: 500 } };
    const observed = observedCriticalPath(dag, { runs: 3, jobs: all });
    expect(observed.median).toStrictEqual({ path: ['a', 'c'], ms: 5_000 });
    expect(observed.p95).toStrictEqual({ path: ['b', 'c'], ms: 10_000 });
    expect(observed.unobserved).toStrictEqual([]);
    expect(observed.savings).toStrictEqual([
      { job: 'a', ms: 5_000 - 2_000 },
      { job: 'c', ms: 5_000 - 4_000 },
    ]);
  });
});

describe('run parameters: runParameters compiled to the JSON Schema the deployment checks runs with', () => {
  const declared = (runParameters: z.ZodObject): LoadedPipeline => ({
    file: '/project/definitions/report.ts',
    pipeline: { id: 'report', parameters: { region: 'eu' }, runParameters, jobs: { a: { handler: './handlers/a.ts' } } },
  });
  const compiledOne = (loaded: LoadedPipeline): PipelinePlan => {
    const { plan, problems } = compilePlan([loaded], NOW);
    expect(problems).toStrictEqual([]);
    return plan.pipelines[0]!;
  };

  it('compiles the shipped definitions’ declarations (none for etl-fanout, whose runs set nothing)', async () => {
    const { plan } = await planDefinitions(DEFINITIONS_DIR, NOW);
    expect(pipelineOf(plan, 'failure-drill').runParameters).toStrictEqual({
      type: 'object',
      properties: { transientFailures: { type: 'integer', minimum: 0, maximum: 10 }, corruptInput: { type: 'boolean' } },
      additionalProperties: false,
    });
    expect(pipelineOf(plan, 'dag-drill').runParameters).toMatchObject({ properties: { sleepMs: { propertyNames: { enum: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] } }, fail: { items: { enum: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] } } }, additionalProperties: false });
    expect(pipelineOf(plan, 'etl-fanout').runParameters).toBeUndefined();
    expect('runParameters' in pipelineOf(plan, 'etl-fanout')).toBe(false);
  });

  it('is strict JSON Schema (draft 2020-12, no $schema) with the declaration’s defaults, requiring only what has none', () => {
    const plan = compiledOne(declared(z.object({ date: z.iso.date(), region: z.enum(['eu', 'us']).optional(), lookbackDays: z.number().int().min(1).max(365).default(30) })));
    expect(plan.runParameters).toStrictEqual({
      type: 'object',
      properties: {
        date: { type: 'string', format: 'date', pattern: expect.any(String) },
        region: { type: 'string', enum: ['eu', 'us'] },
        lookbackDays: { type: 'integer', minimum: 1, maximum: 365, default: 30 },
      },
      required: ['date'],
      additionalProperties: false,
    });
    // It is plain JSON: what `phi plan --json` prints and the deploy carries.
    expect(JSON.parse(JSON.stringify(plan.runParameters))).toStrictEqual(plan.runParameters);
  });

  it('changes the definition version when the schema changes, and only then', () => {
    const version = (runParameters: z.ZodObject): string => compiledOne(declared(runParameters)).definitionVersion;
    const base = version(z.object({ n: z.number().int().default(1) }));
    expect(version(z.object({ n: z.number().int().default(1) }))).toBe(base);
    expect(version(z.object({ n: z.number().int().default(2) }))).not.toBe(base);
    expect(version(z.object({ n: z.number() }))).not.toBe(base);
  });

  it('keeps the definition version of a pipeline without runParameters as it was', () => {
    const { file, pipeline } = declared(z.object({}));
    const { runParameters: _none, ...without } = pipeline;
    const { plan } = compilePlan([{ file, pipeline: without }], NOW);
    expect(plan.pipelines[0]!.definitionVersion).toBe(createHash('sha256').update(canonicalJson(without)).digest('hex').slice(0, 16));
  });

  it('returns no plan for the pipeline, only its problems, when the declaration cannot be deployed', () => {
    const { plan, problems } = compilePlan([declared(z.object({ n: z.string().transform(Number) }))], NOW);
    expect(plan.pipelines).toStrictEqual([]);
    expect(problems.map((p) => [p.code, p.pipeline, p.path])).toStrictEqual([[ProblemCode.DEF_008_RUN_PARAMETERS_UNREPRESENTABLE, 'report', 'runParameters']]);
  });
});

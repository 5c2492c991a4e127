/**
 * The control surface on the local emulator: the API refuses what it should without starting
 * anything, and the schedule trigger starts exactly one run per scheduled time.
 *
 * MiniStack's EventBridge Scheduler ignores ScheduleExpressionTimezone and fires in UTC, so these tests
 * do not wait on the scheduler itself: they invoke the trigger function with the input the Schedule
 * resource sends (asserted in test/cdk), as the scheduler would at 19:00 New York time.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import { phiClient, platformOutputs, stateMachineArn, useEmulator } from './support.ts';

let client: PhiClient;
const executionCount = async (pipelineId: string): Promise<number> =>
  ((await new SFNClient({}).send(new ListExecutionsCommand({ stateMachineArn: stateMachineArn(pipelineId) }))).executions ?? []).length;

beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

describe('control API refusals', () => {
  it('refuses an unsigned request with 403 and starts nothing', async () => {
    const before = await executionCount('failure-drill');
    const answer = await client.request('POST', '/pipelines/failure-drill/runs', {}, { signed: false });
    expect(answer.status).toBe(403);
    expect(await executionCount('failure-drill')).toBe(before);
  });

  it('answers a malformed body with 400 listing the zod issues, and starts nothing', async () => {
    const before = await executionCount('failure-drill');
    const answer = await client.request('POST', '/pipelines/failure-drill/runs', { parameters: 'not an object', colour: 'blue' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'API_002_INVALID_REQUEST', issues: expect.arrayContaining([expect.objectContaining({ path: 'parameters' })]) } });
    const notJson = await client.request('POST', '/pipelines/failure-drill/runs', '{not json');
    expect(notJson).toMatchObject({ status: 400, body: { error: { code: 'API_001_INVALID_JSON' } } });
    expect(await executionCount('failure-drill')).toBe(before);
  });

  it('answers 404 for an unknown pipeline or run', async () => {
    const pipeline = await client.request('POST', '/pipelines/no-such-pipeline/runs', {});
    expect(pipeline).toMatchObject({ status: 404, body: { error: { code: 'API_003_PIPELINE_NOT_FOUND' } } });
    const run = await client.request('GET', '/runs/m-no-such-run');
    expect(run).toMatchObject({ status: 404, body: { error: { code: 'API_004_RUN_NOT_FOUND' } } });
  });

  it('answers 409 when an idempotency key comes back with other parameters, and starts nothing new', async () => {
    const idempotencyKey = `conflict-${Date.now()}`;
    const first = await client.startRun('failure-drill', { idempotencyKey, parameters: { transientFailures: 0 } });
    await client.waitForRun(first.run.runId);
    const before = await executionCount('failure-drill');
    const again = await client.request('POST', '/pipelines/failure-drill/runs', { idempotencyKey, parameters: { transientFailures: 2 } });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'API_005_IDEMPOTENCY_CONFLICT' } } });
    expect(await executionCount('failure-drill')).toBe(before);
  });
});

describe('executions that end outside their own recorder steps', () => {
  it('closes the run record FAILED when an execution is aborted (via the aws.states status-change event)', async () => {
    const { run } = await client.startRun('failure-drill', { parameters: { transientFailures: 10 } });
    const executionArn = executionArnFor(stateMachineArn('failure-drill'), run.runId);
    const until = async (done: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    };
    // stopped once its first job has begun failing and retrying
    await until(async () => ((await client.getRun(run.runId)).jobs['check-source']?.attempts.length ?? 0) > 0);
    await new SFNClient({}).send(new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'stopped by the e2e test' }));

    // EventBridge delivers the status change to the recorder; nothing in the state machine runs again.
    await until(async () => (await client.getRun(run.runId)).run.status !== 'RUNNING');
    const view = await client.getRun(run.runId);
    expect(view.run.status).toBe('FAILED');
    expect(view.run.error).toMatchObject({ code: 'EXECUTION_ABORTED' });
    expect(view.run.transitions.map((t) => t.status)).toEqual(['PENDING', 'RUNNING', 'FAILED']);
    // every job closed: check-source between retries (CANCELLED), load never started (SKIPPED)
    expect(view.run.jobs).toEqual({
      'check-source': { status: 'CANCELLED', attempts: expect.any(Number), reason: 'RUN_ENDED' },
      load: { status: 'SKIPPED', attempts: 0, reason: 'RUN_ENDED' },
    });
    // and stays so: the emulator's worker may still try another attempt, which finds the run ended
    await new Promise((r) => setTimeout(r, 2500));
    const later = await client.getRun(run.runId);
    expect(Object.fromEntries(Object.entries(later.jobs).map(([id, j]) => [id, j.status]))).toEqual({ 'check-source': 'CANCELLED', load: 'SKIPPED' });
    expect(later.jobs['check-source']!.attempts.every((a) => a.status !== 'RUNNING')).toBe(true);
  });
});

describe('schedule trigger', () => {
  it('starts one SCHEDULE run per scheduled time, however often the scheduler delivers it', async () => {
    const outputs = await platformOutputs();
    const triggerArn = outputs.ScheduleTriggerArn;
    expect(triggerArn).toBeDefined();
    const lambda = new LambdaClient({});
    // Unique per test run, so a reused emulator holds no run for it yet.
    const scheduledTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const deliver = async (): Promise<{ runId: string; created: boolean }> => {
      const out = await lambda.send(new InvokeCommand({ FunctionName: triggerArn, Payload: JSON.stringify({ pipelineId: 'market-data', scheduledTime }) }));
      expect(out.FunctionError).toBeUndefined();
      return JSON.parse(new TextDecoder().decode(out.Payload)) as { runId: string; created: boolean };
    };
    const first = await deliver();
    const second = await deliver();

    expect(first.created).toBe(true);
    expect(second).toEqual({ runId: first.runId, created: false });
    const view = await client.waitForRun(first.runId);
    expect(view.run).toMatchObject({ status: 'SUCCEEDED', trigger: 'SCHEDULE', scheduledTime });
    const executions = await new SFNClient({}).send(new ListExecutionsCommand({ stateMachineArn: stateMachineArn('market-data') }));
    expect((executions.executions ?? []).filter((e) => e.name === first.runId)).toHaveLength(1);
  });
});

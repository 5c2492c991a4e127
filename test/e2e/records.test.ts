/**
 * Records that never lie, on the local emulator: Phi's own storage failing (through the fault-injection
 * switch compiled into this deployment's job functions only), a task delivered again, and the sweeper.
 */
import { InvokeCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { RecordStore } from '../../functions/shared/records/store.ts';
import type { PhiClient } from '../../lib/client/client.ts';
import { deadLetterQueueUrl, peekDeadLetters } from '../../lib/client/dead-letters.ts';
import type { Parameters } from '../../lib/model/pipeline.ts';
import { phiClient, platformOutputs, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

async function runOf(pipelineId: string, parameters: Parameters) {
  const { run } = await client.startRun(pipelineId, { parameters });
  return client.waitForRun(run.runId, { timeoutMs: 120_000 });
}

describe('Phi’s storage failing', () => {
  it('a job whose attempt could not be recorded at first still succeeds, in one attempt, its handler run once (even with maxAttempts 1)', async () => {
    // every job of dag-drill (maxAttempts 1) fails to record its attempt's end the first time
    const view = await runOf('dag-drill', { __phiFaults: { finishAttempt: 1 } });
    expect(view.run.status).toBe('SUCCEEDED');
    for (const [id, job] of Object.entries(view.jobs)) {
      expect({ id, attempts: job.attempts.map((a) => [a.attempt, a.status]) }).toEqual({ id, attempts: [[1, 'SUCCEEDED']] });
    }
    expect((await peekDeadLetters(await deadLetterQueueUrl())).filter((m) => m.runId === view.run.runId)).toEqual([]);
  });

  it('a store failing before the handler runs costs no attempt: the same attempt runs again', async () => {
    const view = await runOf('failure-drill', { __phiFaults: { getJobState: 1 } });
    expect(view.run.status).toBe('SUCCEEDED');
    expect(view.jobs['check-source']!.attempts.map((a) => [a.attempt, a.status])).toEqual([[1, 'SUCCEEDED']]);
  });
});

describe('a task delivered again', () => {
  it('answers as the attempt ended and leaves its record as it was', async () => {
    const view = await runOf('failure-drill', {});
    const before = view.jobs['check-source']!.attempts[0]!;
    const lambda = new LambdaClient({});
    const functions = (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [];
    const fn = functions.find((f) => f.Description?.startsWith('Phi failure-drill:') && f.Description.includes('check-source'));
    expect(fn?.FunctionName).toBeDefined();
    const payload = { action: 'run', run: { runId: view.run.runId, pipelineId: 'failure-drill', trigger: 'API', parameters: {} }, jobId: 'check-source', attempt: 1, executionArn: view.run.executionArn };
    const out = await lambda.send(new InvokeCommand({ FunctionName: fn!.FunctionName, Payload: JSON.stringify(payload) }));
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(out.Payload))).toEqual({ status: 'SUCCEEDED', attempt: 1 });
    const after = (await client.getRun(view.run.runId)).jobs['check-source']!.attempts;
    expect(after).toEqual([before]);
  });
});

describe('the sweeper', () => {
  it('closes a run whose trigger died before starting its execution', async () => {
    const outputs = await platformOutputs();
    const store = new RecordStore({ tableName: outputs.TableName!, retentionDays: 1 });
    const runId = `m-died-${Date.now()}`;
    // the trigger created the run and died before StartExecution
    await store.createRun({ runId, pipelineId: 'failure-drill', trigger: 'API', parameters: {}, queuedAt: new Date(Date.now() - 3600_000).toISOString() });

    const out = await new LambdaClient({}).send(new InvokeCommand({ FunctionName: outputs.SweeperArn, Payload: JSON.stringify({ graceSeconds: 600 }) }));
    expect(out.FunctionError).toBeUndefined();
    const swept = JSON.parse(new TextDecoder().decode(out.Payload)) as { closed: string[] };
    expect(swept.closed).toContain(runId);
    expect((await client.getRun(runId)).run).toMatchObject({ status: 'FAILED', error: { code: 'RUN_START_FAILED', message: expect.stringContaining('never started') } });
  });
});

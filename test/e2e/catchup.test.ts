/**
 * Catch-up (spec Rule 4) on the emulator (`test/e2e/definitions/yearly-catchup.ts`): the sweeper, run
 * as its schedule does (which may come first), starts the schedule's last three missed times oldest first (trigger CATCHUP,
 * each with its own scheduled time), and a second sweep starts nothing more.
 */
import { InvokeCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { RunStatus } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

async function sweep(): Promise<{ caughtUp: string[] }> {
  const lambda = new LambdaClient({});
  const functions = (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [];
  const sweeper = functions.find((f) => f.Description?.startsWith('Phi: closes runs'));
  expect(sweeper?.FunctionName).toBeDefined();
  const out = await lambda.send(new InvokeCommand({ FunctionName: sweeper!.FunctionName, Payload: JSON.stringify({}) }));
  expect(out.FunctionError).toBeUndefined();
  return JSON.parse(new TextDecoder().decode(out.Payload)) as { caughtUp: string[] };
}

describe('catch-up', () => {
  it('starts the last maxRuns missed scheduled times, oldest first, once', async () => {
    // The sweeper's own 15-minute schedule may have swept since the deploy: either sweep catches up.
    await sweep();
    const runs = (await client.history('yearly-catchup', { limit: 20 })).runs.filter((r) => r.trigger === 'CATCHUP');
    const year = new Date().getUTCFullYear();
    const expected = [year - 2, year - 1, year].map((y) => `${y}-01-01T00:00:00.000Z`);
    expect(runs.map((r) => r.scheduledTime).sort()).toEqual(expected);
    // Oldest first.
    const byQueue = [...runs].sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0)).map((r) => r.scheduledTime);
    expect(byQueue).toEqual(expected);
    for (const r of runs) expect((await client.waitForRun(r.runId, { timeoutMs: 60_000 })).run.status).toBe(RunStatus.SUCCEEDED);
    expect((await sweep()).caughtUp).toEqual([]);
    expect((await client.history('yearly-catchup', { limit: 20 })).runs.filter((r) => r.trigger === 'CATCHUP')).toHaveLength(3);
  }, 120_000);
});

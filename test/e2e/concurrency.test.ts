/**
 * Skip-if-running and queue-if-running (spec Rule 3) on the emulator under 20 concurrent starts
 * (`test/e2e/definitions/one-at-a-time.ts`, `queued.ts`): one run starts, the others are recorded
 * SKIPPED (ALREADY_RUNNING), or queued and started one at a time, oldest first, as each run ends. The
 * records prove no two runs were ever active at once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { RunStatus, type RunRecord } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

const CONCURRENT = 20;

/** Starts the pipeline `CONCURRENT` times at once through the API: the runs as first recorded. */
async function startAtOnce(pipelineId: string): Promise<RunRecord[]> {
  const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => client.startRun(pipelineId)));
  expect(answers.every((a) => a.created)).toBe(true);
  return answers.map((a) => a.run);
}

/** No two of the runs were active at once: each started after the one before had ended. */
function neverOverlapping(runs: readonly RunRecord[]): void {
  const ran = runs.filter((r) => r.startedAt !== undefined).sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
  for (let i = 1; i < ran.length; i++) expect(Date.parse(ran[i]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(ran[i - 1]!.completedAt!));
}

describe(`${CONCURRENT} concurrent starts of a pipeline that runs one at a time`, () => {
  it('skip if running: one run, the others SKIPPED with ALREADY_RUNNING and never executed', async () => {
    const runs = await startAtOnce('one-at-a-time');
    const skipped = runs.filter((r) => r.status === RunStatus.SKIPPED);
    const started = runs.filter((r) => r.status !== RunStatus.SKIPPED);
    expect(started).toHaveLength(1);
    expect(skipped).toHaveLength(CONCURRENT - 1);
    for (const r of skipped) expect(r).toMatchObject({ startDecision: { decision: 'SKIP', reason: 'ALREADY_RUNNING' } });
    expect(skipped.every((r) => r.executionArn === undefined)).toBe(true);
    expect((await client.waitForRun(started[0]!.runId, { timeoutMs: 60_000 })).run.status).toBe(RunStatus.SUCCEEDED);
  }, 90_000);

  it('queue if running: one run, the others queued, then each run in turn, oldest first, never two at once', async () => {
    const runs = await startAtOnce('queued');
    expect(runs.filter((r) => r.startDecision?.decision === 'START')).toHaveLength(1);
    const queued = runs.filter((r) => r.startDecision?.decision === 'WAIT');
    expect(queued).toHaveLength(CONCURRENT - 1);
    for (const r of queued) expect(r).toMatchObject({ status: RunStatus.PENDING, startDecision: { checks: expect.arrayContaining([expect.objectContaining({ rule: 'CONCURRENCY', outcome: 'WAITING' })]) } });
    const ended: RunRecord[] = [];
    for (const r of runs) ended.push((await client.waitForRun(r.runId, { timeoutMs: 240_000 })).run);
    expect(ended.map((r) => r.status)).toEqual(Array.from({ length: CONCURRENT }, () => RunStatus.SUCCEEDED));
    neverOverlapping(ended);
    // Oldest first: the queued runs started in the order they were queued in (ties by run id).
    const waited = ended.filter((r) => queued.some((q) => q.runId === r.runId));
    const byStart = [...waited].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!)).map((r) => r.runId);
    const byQueue = [...waited].sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : a.runId < b.runId ? -1 : 1)).map((r) => r.runId);
    expect(byStart).toEqual(byQueue);
  }, 300_000);
});

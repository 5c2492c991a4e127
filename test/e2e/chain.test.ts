/**
 * The seed's four-pipeline chain on the emulator (issue #9, `test/e2e/definitions/chain-*.ts`): edges
 * inferred from `provides`/`requires`; a gated run that waits for its upstream and times out (SKIPPED,
 * by its one-time timeout schedule); a triggered pipeline started once by its upstream's end; a gated
 * run that waits PENDING, without an execution, until both its upstreams have succeeded, then runs.
 * Every step is read back from the records through the control API.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { CheckOutcome, RunStatus, type RunRecord } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

/** The run's record, read until `done` says so (or the time is up). */
async function readUntil(runId: string, done: (run: RunRecord) => boolean, timeoutMs: number): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { run } = await client.getRun(runId);
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} is still ${run.status} (${run.startDecision?.decision}) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The pipeline's runs, newest first, until one matches (or the time is up). */
async function findRun(pipelineId: string, match: (run: RunRecord) => boolean, timeoutMs = 90_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await client.history(pipelineId, { limit: 50 })).runs.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no run of ${pipelineId} matched within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const dependencies = (run: RunRecord) => run.startDecision?.checks.find((c) => c.rule === 'DEPENDENCIES');

describe('the seed’s four-pipeline chain', () => {
  it('skips a gated run whose upstream is not ready within its timeout, by its one-time schedule, never executing it', async () => {
    const { run } = await client.startRun('chain-assessment');
    expect(run).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'WAIT' } });
    expect(run.executionArn).toBeUndefined();
    const skipped = await readUntil(run.runId, (r) => r.status !== RunStatus.PENDING, 120_000);
    expect(skipped.status).toBe(RunStatus.SKIPPED);
    // No metrics run at all, or only one older than the 3 minutes its freshness allows.
    expect(['DEPENDENCY_TIMEOUT', 'STALE_UPSTREAM']).toContain(skipped.startDecision?.reason);
    expect(dependencies(skipped)).toMatchObject({ outcome: CheckOutcome.FAILED, detail: expect.stringContaining('chain-metrics') });
    expect(Date.parse(skipped.completedAt!) - Date.parse(skipped.queuedAt)).toBeGreaterThanOrEqual(15_000);
    expect(skipped.executionArn).toBeUndefined();
  }, 150_000);

  it('runs the chain: the daily upstream’s end triggers the scenarios once; the gated metrics wait for both, then run', async () => {
    const { run: metrics } = await client.startRun('chain-metrics');
    expect(metrics).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'WAIT' } });

    const { run: data } = await client.startRun('chain-data');
    expect((await client.waitForRun(data.runId, { timeoutMs: 90_000 })).run.status).toBe(RunStatus.SUCCEEDED);

    // Triggered by data's end (it has no schedule of its own), with data's run in its event parameter.
    const scenarios = await findRun('chain-scenarios', (r) => (r.parameters.event as { runId?: string } | undefined)?.runId === data.runId);
    expect(scenarios).toMatchObject({ trigger: 'UPSTREAM', parameters: { event: { type: 'upstream', pipelineId: 'chain-data', status: 'SUCCEEDED' } } });
    expect((await client.waitForRun(scenarios.runId, { timeoutMs: 90_000 })).run.status).toBe(RunStatus.SUCCEEDED);

    // The gated run started once both had succeeded, and succeeded.
    const ran = (await client.waitForRun(metrics.runId, { timeoutMs: 120_000 })).run;
    expect(ran).toMatchObject({ status: RunStatus.SUCCEEDED, startDecision: { decision: 'START' } });
    expect(dependencies(ran)).toMatchObject({ outcome: CheckOutcome.PASSED, detail: expect.stringContaining(scenarios.runId) });
    expect(dependencies(ran)!.detail).toContain(data.runId);
    expect(Date.parse(ran.startedAt!)).toBeGreaterThanOrEqual(Date.parse(scenarios.completedAt ?? (await client.getRun(scenarios.runId)).run.completedAt!));

    // One scenarios run for the one data run, whatever EventBridge delivered twice.
    const triggered = (await client.history('chain-scenarios', { limit: 50 })).runs.filter((r) => (r.parameters.event as { runId?: string } | undefined)?.runId === data.runId);
    expect(triggered).toHaveLength(1);
  }, 360_000);
});

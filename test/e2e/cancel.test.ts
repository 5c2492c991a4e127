/**
 * Cancelling on the local emulator (spec Rule 16), through the control API and the shipped `dag-drill`
 * pipeline (a → c, b → c, b → d, d →(COMPLETION) e, b →(DATA_READY) f, c → g, f → g).
 *
 * MiniStack runs a Distributed Map's iterations inside the run's own execution, so a single job cannot
 * be stopped there: its attempt is closed CANCELLED and its job ended, and whatever it does afterwards
 * changes no record (on AWS its child execution is stopped too; the unit tests cover that call).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import type { CancelScope, RunView } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

/** Starts a drill and waits until `job` is running. */
async function startedWith(job: string, parameters: Record<string, Record<string, number>>): Promise<string> {
  const { run } = await client.startRun('dag-drill', { parameters });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const view = await client.getRun(run.runId);
    if (view.jobs[job]?.status === 'RUNNING') return run.runId;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${job} of run ${run.runId} never started`);
}

const summary = (view: RunView) => Object.fromEntries(Object.entries(view.run.jobs ?? {}).map(([id, j]) => [id, [j.status, j.reason]]));

describe('cancelling a run', () => {
  it('stops it: running jobs end CANCELLED, the others SKIPPED, and the record says who cancelled and when', async () => {
    const runId = await startedWith('a', { sleepMs: { a: 4000, b: 4000 } });
    const cancelled = await client.cancelRun(runId, { reason: 'e2e: wrong day' });

    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.cancellations).toEqual([{ by: expect.any(String), at: expect.any(String), reason: 'e2e: wrong day', jobs: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }]);
    expect(cancelled.error).toMatchObject({ code: 'RUN_CANCELLED' });
    const view = await client.getRun(runId);
    expect(summary(view)).toEqual({
      a: ['CANCELLED', 'RUN_CANCELLED'],
      b: ['CANCELLED', 'RUN_CANCELLED'],
      c: ['SKIPPED', 'RUN_CANCELLED'],
      d: ['SKIPPED', 'RUN_CANCELLED'],
      e: ['SKIPPED', 'RUN_CANCELLED'],
      f: ['SKIPPED', 'RUN_CANCELLED'],
      g: ['SKIPPED', 'RUN_CANCELLED'],
    });
    expect(view.jobs.a?.attempts[0]).toMatchObject({ status: 'CANCELLED', errorCode: 'RUN_CANCELLED' });

    // Whatever the jobs' workers do after the cancel, the records stay as the cancel left them.
    await new Promise((r) => setTimeout(r, 5000));
    const later = await client.getRun(runId);
    expect(later.run.status).toBe('CANCELLED');
    expect(Object.fromEntries(Object.entries(later.jobs).map(([id, j]) => [id, j.status]))).toEqual(Object.fromEntries(Object.entries(view.run.jobs ?? {}).map(([id, j]) => [id, j.status])));
  });

  it('answers 409 to a second cancel', async () => {
    const runId = await startedWith('a', { sleepMs: { a: 2000 } });
    await client.cancelRun(runId);
    const again = await client.request('POST', `/runs/${runId}/cancel`, {});
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'API_007_RUN_ENDED' } } });
  });
});

describe('cancelling one job', () => {
  it.each([
    [
      'JOB',
      // b alone: what needs b is skipped for it; e still runs after d (COMPLETION)
      { a: ['SUCCEEDED', undefined], b: ['CANCELLED', 'JOB_CANCELLED'], c: ['SKIPPED', 'UPSTREAM_CANCELLED'], d: ['SKIPPED', 'UPSTREAM_CANCELLED'], e: ['SUCCEEDED', undefined], f: ['SKIPPED', 'UPSTREAM_CANCELLED'], g: ['SKIPPED', 'UPSTREAM_CANCELLED'] },
    ],
    [
      'IMMEDIATE_DEPENDENTS',
      { a: ['SUCCEEDED', undefined], b: ['CANCELLED', 'JOB_CANCELLED'], c: ['SKIPPED', 'JOB_CANCELLED'], d: ['SKIPPED', 'JOB_CANCELLED'], e: ['SUCCEEDED', undefined], f: ['SKIPPED', 'JOB_CANCELLED'], g: ['SKIPPED', 'UPSTREAM_CANCELLED'] },
    ],
    [
      'ALL_DOWNSTREAM',
      { a: ['SUCCEEDED', undefined], b: ['CANCELLED', 'JOB_CANCELLED'], c: ['SKIPPED', 'JOB_CANCELLED'], d: ['SKIPPED', 'JOB_CANCELLED'], e: ['SKIPPED', 'JOB_CANCELLED'], f: ['SKIPPED', 'JOB_CANCELLED'], g: ['SKIPPED', 'JOB_CANCELLED'] },
    ],
  ] as const)('with scope %s cancels b and what its scope takes, while the rest of the run goes on', async (scope, expected) => {
    const runId = await startedWith('b', { sleepMs: { b: 3000, a: 1000 } });
    await client.cancelRun(runId, { job: 'b', scope: scope as CancelScope });
    const view = await client.waitForRun(runId, { timeoutMs: 60_000 });

    expect(view.run.status).toBe('CANCELLED');
    expect(summary(view)).toEqual(Object.fromEntries(Object.entries(expected).map(([id, [status, reason]]) => [id, [status, reason]])));
    expect(view.run.cancellations?.[0]).toMatchObject({ job: 'b', scope });
    expect(view.run.error).toMatchObject({ code: 'JOB_CANCELLED', jobId: 'b' });
  });
});

/**
 * Issue #10's "done when", on the emulator (`test/e2e/definitions/recovery-drill.ts`): a job fails for
 * good; `GET /health` shows the pipeline's failed run; `phi logs` shows why (the handler's line and
 * the runtime's, with the error code); once the cause is gone, retrying the dead letter with the same
 * parameters succeeds, the letter is gone, the records link both runs, and health no longer names the
 * pipeline's failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { ApiError } from '../../lib/client/errors.ts';
import { waitForDeadLetter } from '../../lib/client/dead-letters.ts';
import type { DeadLetterEntry, RunLogEvent } from '../../lib/model/contract/index.ts';
import { phiClient, until, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

const PIPELINE = 'recovery-drill';

const failureReason = async () => (await client.health()).reasons.find((r) => r.code === 'HEALTH_007_LAST_RUN_FAILED' && r.pipelineId === PIPELINE);

describe('an operator recovers a failed job', () => {
  it('sees it in health, reads why in the logs, fixes the cause and retries it from the dead-letter queue, every step in the records', async () => {
    const availableAt = new Date(Date.now() + 30_000).toISOString();
    const { run } = await client.startRun(PIPELINE, { parameters: { availableAt } });
    const failed = (await client.waitForRun(run.runId, { timeoutMs: 60_000 })).run;
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'SOURCE_UNAVAILABLE', jobId: 'read' } });

    // Health: the pipeline's latest run failed, and says so.
    const health = await client.health();
    expect(health.overallStatus).not.toBe('HEALTHY');
    expect(health.pipelines.find((p) => p.pipelineId === PIPELINE)?.lastRun).toMatchObject({ runId: run.runId, status: 'FAILED' });
    expect((await failureReason())?.message).toContain('SOURCE_UNAVAILABLE');

    // Logs: the handler's own line and the runtime's, with the error code.
    const lines = await until('the failure in the logs', async () => {
      const events: RunLogEvent[] = (await client.runLogs(run.runId, { job: 'read' })).events;
      return events.some((e) => e.message === 'attempt failed') ? events : undefined;
    });
    expect(lines.find((e) => e.message === 'source not there yet')).toMatchObject({ jobId: 'read', attempt: 1, level: 'WARN' });
    expect(lines.find((e) => e.message === 'attempt failed')?.fields).toMatchObject({ errorCode: 'SOURCE_UNAVAILABLE', errorCategory: 'PERMANENT' });

    // The cause goes (the source is there after availableAt); the letter's retry, same parameters, succeeds.
    await waitForDeadLetter(run.runId);
    const entry: DeadLetterEntry = await until('the letter listed', async () => (await client.deadLetters({ pipeline: PIPELINE, limit: 200 })).letters.find((l) => l.letter.runId === run.runId));
    expect(entry.letter).toMatchObject({ jobId: 'read', errorCode: 'SOURCE_UNAVAILABLE' });
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(availableAt) - Date.now() + 1000)));
    const retry = await until('the retry', async () => {
      try {
        return await client.retryDeadLetter(entry.messageId);
      } catch (err) {
        // Another caller's scan may hide the letter for a moment.
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      }
    }, 90_000);
    expect(retry).toMatchObject({ created: true, deleted: true, run: { trigger: 'RETRY', parameters: { availableAt }, retryOf: { runId: run.runId, jobId: 'read', messageId: entry.messageId } } });
    const retried = (await client.waitForRun(retry.run.runId, { timeoutMs: 60_000 })).run;
    expect(retried.status).toBe('SUCCEEDED');
    // From the run's failed jobs: `stage`, which succeeded, was not run again.
    expect((await client.getRun(retried.runId)).jobs.stage!.attempts[0]!.reusedFrom).toEqual({ runId: run.runId, attempt: 1 });
    expect((await client.deadLetters({ pipeline: PIPELINE, limit: 200 })).letters.some((l) => l.messageId === entry.messageId)).toBe(false);

    // Health no longer names the pipeline's failure: its latest run succeeded.
    expect((await client.health()).pipelines.find((p) => p.pipelineId === PIPELINE)?.lastRun).toMatchObject({ runId: retried.runId, status: 'SUCCEEDED' });
    expect(await failureReason()).toBeUndefined();
  }, 240_000);

  it('retries a failed run from its failed jobs: the job that succeeded is not run again, its outputs reused; the failed one and its dependent run', async () => {
    const availableAt = new Date(Date.now() + 20_000).toISOString();
    const { run } = await client.startRun(PIPELINE, { parameters: { availableAt } });
    const failed = await client.waitForRun(run.runId, { timeoutMs: 60_000 });
    expect(failed.run.status).toBe('FAILED');
    expect(Object.fromEntries(Object.entries(failed.jobs).map(([id, j]) => [id, j.status]))).toEqual({ stage: 'SUCCEEDED', read: 'FAILED', report: 'SKIPPED' });
    const staged = failed.jobs.stage!.attempts[0]!;

    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(availableAt) - Date.now() + 1000)));
    const retry = await client.retryRun(run.runId, { fromFailed: true, reason: 'the source is there now' });
    expect(retry).toMatchObject({ created: true, run: { trigger: 'RETRY', parameters: { availableAt }, retryOf: { runId: run.runId, fromFailed: true } } });
    // Asked again: the same run.
    expect(await client.retryRun(run.runId, { fromFailed: true })).toMatchObject({ created: false, run: { runId: retry.run.runId } });

    const retried = await client.waitForRun(retry.run.runId, { timeoutMs: 60_000 });
    expect(retried.run.status).toBe('SUCCEEDED');
    const [taken] = retried.jobs.stage!.attempts;
    expect(taken).toMatchObject({ status: 'SUCCEEDED', reusedFrom: { runId: run.runId, attempt: 1 }, outputs: { run: run.runId }, outputChecksum: staged.outputChecksum });
    expect(retried.jobs.read!.attempts).toEqual([expect.objectContaining({ status: 'SUCCEEDED', outputs: { read: true } })]);
    expect(retried.jobs.read!.attempts[0]!.reusedFrom).toBeUndefined();
    expect(retried.jobs.report!.attempts[0]).toMatchObject({ status: 'SUCCEEDED', outputs: { run: retry.run.runId } });
    // The audit log keeps both asks, newest first, with the reason given.
    const asked = (await client.audit({ pipeline: PIPELINE })).records.filter((r) => r.action === 'RETRY' && r.runId === retry.run.runId);
    expect(asked.map((r) => r.reason)).toEqual([undefined, 'the source is there now']);
    expect(asked.map((r) => r.detail)).toEqual([expect.stringMatching(`^run ${run.runId} from its failed jobs: retried before `), expect.stringMatching(`^run ${run.runId} from its failed jobs: retry run recorded `)]);
  }, 180_000);
});

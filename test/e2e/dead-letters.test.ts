/**
 * Dead letters through the control API on the emulator (AUTH=true, so the control function's new
 * queue grants are exercised): a permanently failed failure-drill job leaves its letter; retrying it
 * starts one new run (trigger RETRY) that links the failed one, the letter is gone once that run has
 * started, and a second retry of the same letter answers the same run.
 *
 * failure-drill's `corruptInput` fails on every attempt ever, and a retry reuses the failed run's
 * parameters: the retry run fails again (and leaves a letter of its own, purged at the end). What is
 * checked is the recovery mechanism and the records' link, not a fixed cause.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { ApiError } from '../../lib/client/errors.ts';
import { waitForDeadLetter } from '../../lib/client/dead-letters.ts';
import type { DeadLetterEntry, DeadLetterRetryResponse } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

/** The waiting letter of `runId`, as the API lists it (other tests' scans may hide it for a moment). */
async function letterOf(runId: string, timeoutMs = 30_000): Promise<DeadLetterEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await client.deadLetters({ pipeline: 'failure-drill', limit: 200 })).letters.find((l) => l.letter.runId === runId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no dead letter of run ${runId} listed within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `call`, tried again while another caller's scan hides the letter (404). */
async function whileHidden<T>(call: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      // Up to a scan's own visibility timeout (60 s): the longest a letter stays hidden.
      if (!(err instanceof ApiError) || err.status !== 404 || i >= 70) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}
const retryOnce = (messageId: string): Promise<DeadLetterRetryResponse> => whileHidden(() => client.retryDeadLetter(messageId));

describe('dead letters through the control API', () => {
  it('retries a permanently failed job’s letter once: a new run linked to the failed one, the letter gone once it started', async () => {
    const { run } = await client.startRun('failure-drill', { parameters: { corruptInput: true } });
    expect((await client.waitForRun(run.runId, { timeoutMs: 60_000 })).run.status).toBe('FAILED');
    await waitForDeadLetter(run.runId);
    const entry = await letterOf(run.runId);
    expect(entry.letter).toMatchObject({ pipelineId: 'failure-drill', jobId: 'check-source', errorCode: 'CORRUPT_INPUT' });
    expect((await whileHidden(() => client.deadLetter(entry.messageId))).letter.runId).toBe(run.runId);

    const first = await retryOnce(entry.messageId);
    expect(first).toMatchObject({ messageId: entry.messageId, created: true, deleted: true });
    expect(first.run).toMatchObject({ pipelineId: 'failure-drill', trigger: 'RETRY', parameters: { corruptInput: true }, retryOf: { runId: run.runId, jobId: 'check-source', messageId: entry.messageId } });
    // The caller's IAM identity (the emulator's root key).
    expect(first.run.retryOf?.by).toEqual(expect.any(String));

    const second = await client.retryDeadLetter(entry.messageId);
    expect(second).toMatchObject({ created: false, run: { runId: first.run.runId } });
    expect((await client.deadLetters({ pipeline: 'failure-drill', limit: 200 })).letters.some((l) => l.messageId === entry.messageId)).toBe(false);

    // The records link both runs: the retry names the failed run, and it is in the pipeline's history as a retry.
    const retried = await client.waitForRun(first.run.runId, { timeoutMs: 60_000 });
    expect(retried.run.retryOf?.runId).toBe(run.runId);
    expect((await client.history('failure-drill', { trigger: 'RETRY', limit: 100 })).runs.map((r) => r.runId)).toContain(first.run.runId);
  });

  it('refuses what the routes do not take, with stable codes', async () => {
    await expect(client.retryDeadLetter('no-such-message')).rejects.toMatchObject({ status: 404, code: 'API_013_DEAD_LETTER_NOT_FOUND' });
    await expect(client.purgeDeadLetters(-1)).rejects.toMatchObject({ status: 400, code: 'API_002_INVALID_REQUEST' });
  });
});

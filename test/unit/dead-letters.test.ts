/** One dead letter per failed job, however its senders overlap, fail or die (functions/shared/dead-letters.ts). */
import { describe, expect, it } from 'vitest';
import { DeadLetterBusyError, sendDeadLetterOnce, type DeadLetterDeps } from '../../functions/shared/dead-letters.ts';
import type { DeadLetterMessage } from '../../lib/model/contract/index.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { clock, MemoryRecordStore } from './support/memory-store.ts';

const message: DeadLetterMessage = {
  kind: 'phi.job.failed',
  pipelineId: 'daily-sales',
  runId: 'r-1',
  jobId: 'extract',
  attempts: 3,
  errorCode: 'RATE_LIMITED',
  errorMessage: 'slow down',
  errorCategory: 'TRANSIENT',
  parameters: {},
  executionArn: 'arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:r-1',
  trigger: 'API',
  failedAt: '2024-05-01T10:00:00.000Z',
};

describe.each([
  ['RecordStore over a DynamoDB in memory', () => recordStoreOver(new FakeDynamo())],
  ['MemoryRecordStore', () => new MemoryRecordStore()],
])('sendDeadLetterOnce over %s', (_name, make) => {
  function deps(at: string, sent: DeadLetterMessage[], fail = { sends: 0 }): DeadLetterDeps {
    return {
      store,
      now: clock(at),
      sendDeadLetter: async (m) => {
        if (fail.sends > 0) {
          fail.sends--;
          throw new Error('SQS is unavailable');
        }
        sent.push(m);
      },
    };
  }
  let store = make();

  it('sends once: a later call finds it sent', async () => {
    store = make();
    const sent: DeadLetterMessage[] = [];
    expect(await sendDeadLetterOnce(deps('2024-05-01T10:00:00.000Z', sent), message)).toBe(true);
    expect(await sendDeadLetterOnce(deps('2024-05-01T10:00:01.000Z', sent), message)).toBe(false);
    expect(sent).toEqual([message]);
  });

  it('lets one of two overlapping senders send; the other is told to try again, and then finds it sent', async () => {
    store = make();
    const sent: DeadLetterMessage[] = [];
    let release: () => void = () => {};
    const slow: DeadLetterDeps = { ...deps('2024-05-01T10:00:00.000Z', sent), sendDeadLetter: (m) => new Promise<void>((r) => (release = () => (sent.push(m), r()))) };
    const first = sendDeadLetterOnce(slow, message, 'first');
    await new Promise((r) => setTimeout(r, 5));
    await expect(sendDeadLetterOnce(deps('2024-05-01T10:00:01.000Z', sent), message, 'second')).rejects.toBeInstanceOf(DeadLetterBusyError);
    release();
    expect(await first).toBe(true);
    expect(await sendDeadLetterOnce(deps('2024-05-01T10:00:02.000Z', sent), message, 'second')).toBe(false);
    expect(sent).toEqual([message]);
  });

  it('gives its claim up when the send fails, so the retry sends it at once', async () => {
    store = make();
    const sent: DeadLetterMessage[] = [];
    await expect(sendDeadLetterOnce(deps('2024-05-01T10:00:00.000Z', sent, { sends: 1 }), message, 'first')).rejects.toThrow('SQS is unavailable');
    expect(await sendDeadLetterOnce(deps('2024-05-01T10:00:01.000Z', sent), message, 'retry')).toBe(true);
    expect(sent).toEqual([message]);
  });

  it('takes over the claim of a sender that died before sending, once its lease has run out', async () => {
    store = make();
    const sent: DeadLetterMessage[] = [];
    // the first sender claimed it and died
    expect(await store.claimDeadLetter(message.runId, message.jobId, '2024-05-01T10:00:00.000Z', 'died')).toBe('claimed');
    await expect(sendDeadLetterOnce(deps('2024-05-01T10:00:10.000Z', sent), message)).rejects.toBeInstanceOf(DeadLetterBusyError);
    expect(await sendDeadLetterOnce(deps('2024-05-01T10:00:21.000Z', sent), message)).toBe(true);
    expect(sent).toEqual([message]);
  });
});

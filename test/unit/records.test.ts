/**
 * The record store's status rules, run against the real `RecordStore` (over an in-memory DynamoDB that
 * evaluates its conditional writes) and against the `MemoryRecordStore` the other unit tests use: the
 * same suite passing for both keeps the test double faithful to the product.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCategory, JobStatus, RunStatus, type JobAttemptRecord, type RunRecord } from '../../lib/model/contract/index.ts';
import { RECORD_ACTIONS, RUN_START_FAILED } from '../../lib/model/contract/index.ts';
import { latestByJob, RecordError, type RecordStore } from '../../functions/shared/records/store.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { MemoryRecordStore, type StoreMethods } from './support/memory-store.ts';

type Store = Pick<RecordStore, StoreMethods>;

const RUN = 'k-0123456789abcdef0123456789abcdef';
const OTHER_RUN = 'k-ffffffffffffffffffffffffffffffff';
const QUEUED = '2024-05-01T09:59:59.000Z';
const STARTED = '2024-05-01T10:00:00.000Z';
const LATER = '2024-05-01T10:05:00.000Z';
const ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${RUN}`;
const GRAPH = { extract: [], load: ['extract'] };

const newRun = (runId = RUN): Omit<RunRecord, 'status' | 'transitions'> => ({
  runId,
  pipelineId: 'daily-sales',
  trigger: 'API',
  idempotencyKey: 'order-42',
  parameters: { date: '2024-04-30' },
  queuedAt: QUEUED,
});

const running = (runId = RUN) => ({ runId, pipelineId: 'daily-sales', trigger: 'API', parameters: { date: '2024-04-30' }, executionArn: ARN, definitionVersion: 'def-1', graph: GRAPH }) as const;

const attempt = (jobId: string, n: number, status: JobAttemptRecord['status'] = JobStatus.RUNNING, runId = RUN): JobAttemptRecord => ({
  runId,
  pipelineId: 'daily-sales',
  jobId,
  attempt: n,
  status,
  definitionVersion: 'def-1',
  parameters: {},
  startedAt: STARTED,
  transitions: [{ status: JobStatus.RUNNING, at: STARTED }],
});

const startFailed = { status: RunStatus.FAILED, at: STARTED, jobs: {}, error: { code: RUN_START_FAILED, message: 'the execution could not be started: Rate exceeded' } } as const;

const stores: [string, () => Store][] = [
  ['RecordStore over a DynamoDB in memory', () => recordStoreOver(new FakeDynamo())],
  ['MemoryRecordStore', () => new MemoryRecordStore()],
];

describe.each(stores)('record store rules: %s', (_name, make) => {
  describe('runs', () => {
    it('creates a run PENDING once; a second create answers the stored record, not its own', async () => {
      const store = make();
      const first = await store.createRun(newRun());
      const second = await store.createRun({ ...newRun(), parameters: { date: 'other' }, queuedAt: LATER });
      expect(first).toEqual({ created: true, run: { ...newRun(), status: RunStatus.PENDING, transitions: [{ status: RunStatus.PENDING, at: QUEUED }] } });
      expect(second).toEqual({ created: false, run: first.run });
      expect(await store.requireRun(RUN)).toEqual(first.run);
    });

    it('attaches the execution ARN once, and only to an existing run', async () => {
      const store = make();
      await store.attachExecution(RUN, ARN);
      expect(await store.getRun(RUN)).toBeUndefined();
      await store.createRun(newRun());
      await store.attachExecution(RUN, ARN);
      await store.attachExecution(RUN, `${ARN}-other`);
      expect((await store.requireRun(RUN)).executionArn).toBe(ARN);
    });

    it('marks a PENDING run RUNNING once, keeping its job graph, execution and definition version', async () => {
      const store = make();
      await store.createRun(newRun());
      const run = await store.markRunRunning(running(), STARTED);
      const again = await store.markRunRunning({ ...running(), graph: { other: [] }, definitionVersion: 'def-2' }, LATER);
      expect(run).toEqual({
        ...newRun(),
        status: RunStatus.RUNNING,
        startedAt: STARTED,
        executionArn: ARN,
        definitionVersion: 'def-1',
        graph: GRAPH,
        transitions: [
          { status: RunStatus.PENDING, at: QUEUED },
          { status: RunStatus.RUNNING, at: STARTED },
        ],
      });
      expect(again).toEqual(run);
    });

    it('creates a run RUNNING when it has no record (an execution started without the trigger)', async () => {
      const store = make();
      const run = await store.markRunRunning({ ...running(), trigger: 'MANUAL', scheduledTime: '2024-05-01T10:00:00Z' }, STARTED);
      expect(run).toEqual({
        runId: RUN,
        pipelineId: 'daily-sales',
        status: RunStatus.RUNNING,
        trigger: 'MANUAL',
        parameters: { date: '2024-04-30' },
        scheduledTime: '2024-05-01T10:00:00Z',
        queuedAt: STARTED,
        startedAt: STARTED,
        executionArn: ARN,
        definitionVersion: 'def-1',
        graph: GRAPH,
        transitions: [{ status: RunStatus.RUNNING, at: STARTED }],
      });
    });

    it('finishes a run once: a second finish keeps the first result', async () => {
      const store = make();
      await store.createRun(newRun());
      await store.markRunRunning(running(), STARTED);
      const first = await store.finishRun(RUN, { status: RunStatus.FAILED, at: LATER, jobs: { extract: { status: JobStatus.FAILED, attempts: 1, errorCode: 'X' } }, error: { code: 'X', message: 'x', jobId: 'extract' } });
      const second = await store.finishRun(RUN, { status: RunStatus.SUCCEEDED, at: '2024-05-01T10:09:00.000Z', jobs: {} });
      expect(first).toMatchObject({ status: RunStatus.FAILED, completedAt: LATER, durationMs: 300_000, error: { code: 'X' } });
      expect(first.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED]);
      expect(second).toEqual(first);
      // A finished run is not started again either.
      expect(await store.markRunRunning(running(), '2024-05-01T10:10:00.000Z')).toEqual(first);
    });

    it('reopens a run FAILED with RUN_START_FAILED: PENDING again, without its outcome, with a PENDING transition', async () => {
      const store = make();
      await store.createRun(newRun());
      const failed = await store.markRunStartFailed(RUN, STARTED, startFailed.error.message);
      expect(failed).toMatchObject({ status: RunStatus.FAILED, completedAt: STARTED, jobs: {}, error: { code: RUN_START_FAILED } });

      const reopened = await store.reopenRun(RUN, LATER);

      expect(reopened).toEqual({
        ...newRun(),
        status: RunStatus.PENDING,
        transitions: [
          { status: RunStatus.PENDING, at: QUEUED },
          { status: RunStatus.FAILED, at: STARTED },
          { status: RunStatus.PENDING, at: LATER },
        ],
      });
      // Reopening twice changes nothing more; the reopened run can then start and finish as any other.
      expect(await store.reopenRun(RUN, '2024-05-01T10:06:00.000Z')).toEqual(reopened);
      expect(await store.markRunRunning(running(), LATER)).toMatchObject({ status: RunStatus.RUNNING, startedAt: LATER });
    });

    it('marks only a PENDING run RUN_START_FAILED: a RUNNING one has its execution, whatever a start call said', async () => {
      const store = make();
      await store.createRun(newRun());
      const started = await store.markRunRunning(running(), STARTED);
      expect(await store.markRunStartFailed(RUN, LATER, 'Rate exceeded')).toEqual(started);
    });

    it('starts a run marked RUN_START_FAILED whose execution did start after all, dropping the start failure', async () => {
      const store = make();
      await store.createRun(newRun());
      await store.markRunStartFailed(RUN, STARTED, 'the call timed out');
      const run = await store.markRunRunning(running(), LATER);
      expect(run).toMatchObject({ status: RunStatus.RUNNING, startedAt: LATER });
      expect(run).not.toHaveProperty('error');
      expect(run).not.toHaveProperty('completedAt');
      expect(run.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.FAILED, RunStatus.RUNNING]);
    });

    it('leaves every other run as it is when asked to reopen it', async () => {
      const store = make();
      await store.createRun(newRun());
      const pending = await store.requireRun(RUN);
      expect(await store.reopenRun(RUN, LATER)).toEqual(pending);
      const started = await store.markRunRunning(running(), STARTED);
      expect(await store.reopenRun(RUN, LATER)).toEqual(started);
      const failed = await store.finishRun(RUN, { status: RunStatus.FAILED, at: LATER, jobs: {}, error: { code: 'EXECUTION_ABORTED', message: 'stopped' } });
      expect(await store.reopenRun(RUN, LATER)).toEqual(failed);
      await expect(store.reopenRun(OTHER_RUN, LATER)).rejects.toMatchObject({ name: 'RecordError', code: 'REC_001_NOT_FOUND' });
    });

    it('answers undefined for an unknown run, and requireRun a REC_001_NOT_FOUND RecordError', async () => {
      const store = make();
      expect(await store.getRun(RUN)).toBeUndefined();
      const err = await store.requireRun(RUN).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecordError);
      expect(err).toMatchObject({ code: 'REC_001_NOT_FOUND' });
    });
  });

  describe('attempts', () => {
    it('finishes an attempt only while it is RUNNING (or has no record)', async () => {
      const store = make();
      await store.startAttempt(attempt('extract', 1));
      const failed = { ...attempt('extract', 1, JobStatus.FAILED), completedAt: LATER, errorCode: 'X' };
      await store.finishAttempt(failed);
      await store.finishAttempt({ ...attempt('extract', 1, JobStatus.SUCCEEDED), completedAt: LATER });
      await store.finishAttempt(attempt('extract', 2, JobStatus.SUCCEEDED));
      expect(await store.listAttempts(RUN)).toEqual([failed, attempt('extract', 2, JobStatus.SUCCEEDED)]);
    });

    it('closes a RUNNING attempt with the closure: status, time, error, and a transition (no duration)', async () => {
      const store = make();
      await store.startAttempt(attempt('extract', 1));
      await store.closeAttempt(RUN, 'extract', 1, { status: JobStatus.FAILED, at: LATER, errorCode: 'EXEC_002_TIMEOUT', errorMessage: 'timed out', errorCategory: ErrorCategory.TRANSIENT, willRetry: false });
      expect(await store.listAttempts(RUN)).toEqual([
        {
          ...attempt('extract', 1),
          status: JobStatus.FAILED,
          completedAt: LATER,
          errorCode: 'EXEC_002_TIMEOUT',
          errorMessage: 'timed out',
          errorCategory: ErrorCategory.TRANSIENT,
          willRetry: false,
          transitions: [
            { status: JobStatus.RUNNING, at: STARTED },
            { status: JobStatus.FAILED, at: LATER },
          ],
        },
      ]);
    });

    it('closes CANCELLED without a category or willRetry when the closure has none', async () => {
      const store = make();
      await store.startAttempt(attempt('extract', 1));
      await store.closeAttempt(RUN, 'extract', 1, { status: JobStatus.CANCELLED, at: LATER, errorCode: 'RUN_ENDED', errorMessage: 'the run ended' });
      const [closed] = await store.listAttempts(RUN);
      expect(closed).toMatchObject({ status: JobStatus.CANCELLED, completedAt: LATER, errorCode: 'RUN_ENDED' });
      expect(closed).not.toHaveProperty('errorCategory');
      expect(closed).not.toHaveProperty('willRetry');
    });

    it('leaves a finished attempt as it is, and writes nothing for an attempt without a record', async () => {
      const store = make();
      const succeeded = { ...attempt('extract', 1, JobStatus.SUCCEEDED), completedAt: STARTED, outputs: { rows: 1 } };
      await store.startAttempt(succeeded);
      const closure = { status: JobStatus.FAILED, at: LATER, errorCode: 'X', errorMessage: 'x' } as const;
      await store.closeAttempt(RUN, 'extract', 1, closure);
      await store.closeAttempt(RUN, 'extract', 2, closure);
      await store.closeAttempt(RUN, 'load', 1, closure);
      expect(await store.listAttempts(RUN)).toEqual([succeeded]);
    });

    it('lists a run’s attempts in job then attempt order, across pages, without other runs’ or dead-letter claims', async () => {
      const store = make();
      for (const n of [10, 2, 9, 1]) await store.startAttempt(attempt('load', n));
      await store.startAttempt(attempt('extract-eu', 1));
      await store.startAttempt(attempt('extract', 1));
      await store.startAttempt(attempt('extract', 1, JobStatus.RUNNING, OTHER_RUN));
      await store.createRun(newRun());
      await store.claimDeadLetter(RUN, 'extract', LATER);
      expect((await store.listAttempts(RUN)).map((a) => `${a.jobId}#${a.attempt}`)).toEqual(['extract#1', 'extract-eu#1', 'load#1', 'load#2', 'load#9', 'load#10']);
    });

    it('lists one job’s attempts only, not those of a job whose id begins with the same letters', async () => {
      const store = make();
      await store.startAttempt(attempt('extract', 1));
      await store.startAttempt(attempt('extract', 2));
      await store.startAttempt(attempt('extract-eu', 3));
      await store.startAttempt(attempt('extract', 3, JobStatus.RUNNING, OTHER_RUN));
      expect((await store.listAttempts(RUN, 'extract')).map((a) => `${a.jobId}#${a.attempt}`)).toEqual(['extract#1', 'extract#2']);
      expect((await store.listAttempts(RUN, 'extract-eu')).map((a) => a.attempt)).toEqual([3]);
      expect(await store.listAttempts(RUN, 'load')).toEqual([]);
    });
  });

  describe('dead-letter claims', () => {
    it('refuses a claim once the job’s dead letter is marked sent, per job and per run', async () => {
      const store = make();
      expect(await store.claimDeadLetter(RUN, 'extract', STARTED)).toBe(true);
      await store.markDeadLetterSent(RUN, 'extract', STARTED);
      expect(await store.claimDeadLetter(RUN, 'extract', LATER)).toBe(false);
      expect(await store.claimDeadLetter(RUN, 'load', LATER)).toBe(true);
      expect(await store.claimDeadLetter(OTHER_RUN, 'extract', LATER)).toBe(true);
    });

    it('grants a claim again while its send never completed, so a dead letter is not lost', async () => {
      const store = make();
      expect(await store.claimDeadLetter(RUN, 'extract', STARTED)).toBe(true);
      // the call that claimed it died before sending
      expect(await store.claimDeadLetter(RUN, 'extract', LATER)).toBe(true);
      await store.markDeadLetterSent(RUN, 'extract', LATER);
      expect(await store.claimDeadLetter(RUN, 'extract', LATER)).toBe(false);
    });
  });
});

describe('RecordStore against DynamoDB', () => {
  it('keys runs, attempts and claims under the run, with TTL and the history index, and reads them back without storage fields', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo, 2);
    await store.createRun(newRun());
    await store.startAttempt(attempt('extract', 7));
    await store.claimDeadLetter(RUN, 'extract', LATER);
    const ttl = (at: string) => Date.parse(at) / 1000 + 2 * 86_400;
    expect(dynamo.table.map((item) => [item.pk, item.sk, item.kind, item.expiresAt])).toEqual([
      [`RUN#${RUN}`, 'DLQ#extract', 'dead-letter', ttl(LATER)],
      [`RUN#${RUN}`, 'JOB#extract#007', 'attempt', ttl(STARTED)],
      [`RUN#${RUN}`, 'RUN', 'run', ttl(QUEUED)],
    ]);
    expect(dynamo.table[2]).toMatchObject({ gsi1pk: 'PIPELINE#daily-sales', gsi1sk: `${QUEUED}#${RUN}` });
    expect(await store.requireRun(RUN)).toEqual({ ...newRun(), status: RunStatus.PENDING, transitions: [{ status: RunStatus.PENDING, at: QUEUED }] });
    expect(await store.listAttempts(RUN)).toEqual([attempt('extract', 7)]);
  });

  it('passes on a failure that is not a failed condition (throttling), and the claim stays free', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    dynamo.failures.push(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(store.claimDeadLetter(RUN, 'extract', LATER)).rejects.toThrow('Rate exceeded');
    expect(await store.claimDeadLetter(RUN, 'extract', LATER)).toBe(true);
  });

  it('refuses a stored record that does not match the schema with REC_002_CORRUPT', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    await store.startAttempt({ ...attempt('extract', 1), status: 'LOST' as JobAttemptRecord['status'] });
    await expect(store.listAttempts(RUN)).rejects.toMatchObject({ name: 'RecordError', code: 'REC_002_CORRUPT' });
  });

  /** The IAM action each document-client command needs. */
  const ACTION: Record<string, string> = { PutCommand: 'dynamodb:PutItem', UpdateCommand: 'dynamodb:UpdateItem', GetCommand: 'dynamodb:GetItem', QueryCommand: 'dynamodb:Query', DeleteCommand: 'dynamodb:DeleteItem' };
  const actionsOf = (dynamo: FakeDynamo): string[] => [...new Set(dynamo.sent.map((s) => ACTION[s.command] ?? s.command))].sort();

  it('needs no more than RECORD_ACTIONS grants each of its users', async () => {
    // The task runtime (runtime/core.ts AttemptStore).
    const runtime = new FakeDynamo();
    const r = recordStoreOver(runtime);
    await r.startAttempt(attempt('extract', 1));
    await r.finishAttempt(attempt('extract', 1, JobStatus.SUCCEEDED));
    await r.closeAttempt(RUN, 'extract', 1, { status: JobStatus.FAILED, at: LATER, errorCode: 'X', errorMessage: 'x' });
    expect(actionsOf(runtime)).toEqual([...RECORD_ACTIONS.runtime].sort());

    // The trigger and the control API.
    const control = new FakeDynamo();
    const c = recordStoreOver(control);
    await c.createRun(newRun());
    await c.createRun(newRun());
    await c.finishRun(RUN, startFailed);
    await c.reopenRun(RUN, LATER);
    await c.attachExecution(RUN, ARN);
    await c.getRun(RUN);
    await c.listAttempts(RUN);
    expect(actionsOf(control)).toEqual([...RECORD_ACTIONS.control].sort());

    // The recorder.
    const recorder = new FakeDynamo();
    const rec = recordStoreOver(recorder);
    await rec.markRunRunning(running(), STARTED);
    await rec.listAttempts(RUN, 'extract');
    await rec.closeAttempt(RUN, 'extract', 1, { status: JobStatus.CANCELLED, at: LATER, errorCode: 'RUN_ENDED', errorMessage: 'x' });
    await rec.claimDeadLetter(RUN, 'extract', LATER);
    await rec.markDeadLetterSent(RUN, 'extract', LATER);
    await rec.finishRun(RUN, { status: RunStatus.SUCCEEDED, at: LATER, jobs: {} });
    expect(actionsOf(recorder)).toEqual([...RECORD_ACTIONS.recorder].sort());
  });
});

describe('latestByJob', () => {
  it('answers each job’s highest attempt, whatever the order it is given in', () => {
    const attempts = [attempt('load', 2), attempt('extract', 3, JobStatus.SUCCEEDED), attempt('load', 10, JobStatus.FAILED), attempt('extract', 1, JobStatus.FAILED), attempt('load', 9)];
    const latest = latestByJob(attempts);
    expect([...latest.keys()].sort()).toEqual(['extract', 'load']);
    expect(latest.get('extract')).toBe(attempts[1]);
    expect(latest.get('load')).toBe(attempts[2]);
  });

  it('answers an empty map for no attempts', () => {
    expect(latestByJob([]).size).toBe(0);
  });
});

/**
 * The record store's status rules, run against the real `RecordStore` (over an in-memory DynamoDB that
 * evaluates its conditional writes) and against the `MemoryRecordStore` the other unit tests use: the
 * same suite passing for both keeps the test double faithful to the product.
 */
import { BatchGetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ErrorCategory, JobStatus, RunStatus, SkipReason, StartDecisionKind, type JobAttemptRecord, type RunRecord, type UpstreamOutcome } from '../../lib/model/contract/index.ts';
import { RECORD_ACTIONS, RUN_START_FAILED } from '../../lib/model/contract/index.ts';
import { latestByJob, RecordError, type RecordStore } from '../../functions/shared/records/store.ts';
import type { ApiDeps } from '../../functions/control/api.ts';
import type { RecorderDeps } from '../../functions/control/recorder.ts';
import type { TriggerDeps } from '../../functions/control/trigger.ts';
import type { RuntimeStore } from '../../functions/runtime/core.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { MemoryRecordStore, type StoreMethods } from './support/memory-store.ts';

type Store = Pick<RecordStore, StoreMethods>;

const RUN = 'k-0123456789abcdef0123456789abcdef';
const OTHER_RUN = 'k-ffffffffffffffffffffffffffffffff';
const QUEUED = '2024-05-01T09:59:59.000Z';
const STARTED = '2024-05-01T10:00:00.000Z';
const LATER = '2024-05-01T10:05:00.000Z';
const ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${RUN}`;
const JOB_LIST = { bucket: 'cdk-assets', key: '0123abcd.json' };

const newRun = (runId = RUN): Omit<RunRecord, 'status' | 'transitions'> => ({
  runId,
  pipelineId: 'daily-sales',
  trigger: 'API',
  idempotencyKey: 'order-42',
  parameters: { date: '2024-04-30' },
  queuedAt: QUEUED,
});

const running = (runId = RUN) => ({ runId, pipelineId: 'daily-sales', trigger: 'API', parameters: { date: '2024-04-30' }, executionArn: ARN, definitionVersion: 'def-1', jobList: JOB_LIST }) as const;

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
    it('lists a pipeline’s runs newest first, at most the limit, across pages, and no other pipeline’s', async () => {
      const store = make();
      for (let i = 0; i < 5; i++) await store.createRun({ ...newRun(`m-${i}`), queuedAt: `2024-05-0${i + 1}T10:00:00.000Z` });
      await store.createRun({ ...newRun('other'), pipelineId: 'other-pipeline' });
      expect((await store.listRuns('daily-sales', 3)).map((r) => r.runId)).toEqual(['m-4', 'm-3', 'm-2']);
      expect((await store.listRuns('daily-sales', 100)).map((r) => r.runId)).toEqual(['m-4', 'm-3', 'm-2', 'm-1', 'm-0']);
      expect(await store.listRuns('nobody', 10)).toEqual([]);
    });

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

    it('marks a PENDING run RUNNING once, keeping its job list, execution and definition version', async () => {
      const store = make();
      await store.createRun(newRun());
      const run = await store.markRunRunning(running(), STARTED);
      const again = await store.markRunRunning({ ...running(), jobList: { bucket: 'cdk-assets', key: 'other.json' }, definitionVersion: 'def-2' }, LATER);
      expect(run).toEqual({
        ...newRun(),
        status: RunStatus.RUNNING,
        startedAt: STARTED,
        executionArn: ARN,
        definitionVersion: 'def-1',
        jobList: JOB_LIST,
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
        jobList: JOB_LIST,
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

    it('finishes a run from the status its summary was built from only: a start recorded meanwhile makes it build the summary again', async () => {
      const store = make();
      await store.createRun(newRun());
      // Read PENDING (no job list yet); the start lands; the summary built from the PENDING read is refused.
      await store.markRunRunning(running(), STARTED);
      const refused = await store.finishRun(RUN, { status: RunStatus.FAILED, at: LATER, jobs: {} }, RunStatus.PENDING);
      expect(refused).toMatchObject({ status: RunStatus.RUNNING, jobList: JOB_LIST });
      const finished = await store.finishRun(RUN, { status: RunStatus.FAILED, at: LATER, jobs: {} }, RunStatus.RUNNING);
      expect(finished.status).toBe(RunStatus.FAILED);
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

    it('starts no attempt of a job that has ended: an attempt never begins after the run’s end ended its job', async () => {
      const store = make();
      expect(await store.startAttempt(attempt('extract', 1))).toBe(true);
      await store.endJob(RUN, 'load', { status: JobStatus.SKIPPED, at: LATER, attempt: 0, reason: SkipReason.RUN_ENDED });
      expect(await store.startAttempt(attempt('load', 1))).toBe(false);
      expect((await store.listAttempts(RUN)).map((a) => a.jobId)).toEqual(['extract']);
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
      await store.claimDeadLetter(RUN, 'extract', LATER, 'owner');
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
    it('answers sent once the job’s dead letter is marked sent, per job and per run', async () => {
      const store = make();
      expect(await store.claimDeadLetter(RUN, 'extract', STARTED, 'a')).toBe('claimed');
      await store.markDeadLetterSent(RUN, 'extract', STARTED);
      expect(await store.claimDeadLetter(RUN, 'extract', LATER, 'b')).toBe('sent');
      expect(await store.claimDeadLetter(RUN, 'load', LATER, 'b')).toBe('claimed');
      expect(await store.claimDeadLetter(OTHER_RUN, 'extract', LATER, 'b')).toBe('claimed');
    });

    it('lets one owner at a time hold a claim: another is busy until the lease expires, then takes over a claim whose send never completed', async () => {
      const store = make();
      expect(await store.claimDeadLetter(RUN, 'extract', STARTED, 'first', 20)).toBe('claimed');
      // the same owner again (its call retried) keeps it; another owner, within the lease, may not send
      expect(await store.claimDeadLetter(RUN, 'extract', '2024-05-01T10:00:05.000Z', 'first', 20)).toBe('claimed');
      expect(await store.claimDeadLetter(RUN, 'extract', '2024-05-01T10:00:10.000Z', 'second', 20)).toBe('busy');
      // the first claimant died before sending: once its lease has run out, the second takes over
      expect(await store.claimDeadLetter(RUN, 'extract', '2024-05-01T10:00:26.000Z', 'second', 20)).toBe('claimed');
      expect(await store.claimDeadLetter(RUN, 'extract', '2024-05-01T10:00:27.000Z', 'first', 20)).toBe('busy');
      await store.markDeadLetterSent(RUN, 'extract', LATER);
      expect(await store.claimDeadLetter(RUN, 'extract', LATER, 'third')).toBe('sent');
    });
  });
});

const ENDED: UpstreamOutcome = { status: JobStatus.SUCCEEDED, attempt: 2 };
const FAILED_UP: UpstreamOutcome = { status: JobStatus.FAILED, attempt: 3 };
const SKIPPED_UP: UpstreamOutcome = { status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED, attempt: 0 };

/**
 * What the state machine's "Wait for upstream" state sends (`lib/plan/asl.ts`), resolved for a job of
 * RUN: its task token kept unless the job is ready. `release.test.ts` derives it from the ASL itself.
 */
const gateCommand = (jobId: string, token: string): UpdateCommand =>
  new UpdateCommand({
    TableName: 'phi-records',
    Key: { pk: `RUN#${RUN}`, sk: `STATE#${jobId}` },
    UpdateExpression: 'SET #token = :token',
    ConditionExpression: 'attribute_not_exists(#ready)',
    ExpressionAttributeNames: { '#token': 'token', '#ready': 'ready' },
    ExpressionAttributeValues: { ':token': token },
  });

/** A store and its gate: registers a job's task token, answering whether its iteration waits or runs at once. */
type Gated = { store: Store; register: (jobId: string, token: string) => Promise<'waits' | 'runs'> };

const gatedStores: [string, () => Gated][] = [
  [
    'RecordStore over a DynamoDB in memory',
    () => {
      const dynamo = new FakeDynamo();
      return {
        store: recordStoreOver(dynamo),
        register: (jobId, token) =>
          dynamo.send(gateCommand(jobId, token)).then(
            () => 'waits' as const,
            (err: unknown) => {
              if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return 'runs' as const;
              throw err;
            },
          ),
      };
    },
  ],
  [
    'MemoryRecordStore',
    () => {
      const store = new MemoryRecordStore();
      return { store, register: async (jobId, token) => (store.registerToken(RUN, jobId, token) ? 'waits' : 'runs') };
    },
  ],
];

describe.each(gatedStores)('job states: %s', (_name, make) => {
  it('answers undefined for a job nothing touched, then its upstreams’ outcomes, its token and whether it is ready', async () => {
    const { store, register } = make();
    expect(await store.getJobState(RUN, 'load')).toBeUndefined();
    expect(await register('load', 'token-1')).toBe('waits');
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    await store.recordUpstreamEnded(RUN, 'load', 'extract-eu', SKIPPED_UP, LATER);
    expect(await store.getJobState(RUN, 'load')).toEqual({
      runId: RUN,
      jobId: 'load',
      upstream: { extract: ENDED, 'extract-eu': SKIPPED_UP },
      ready: false,
      token: 'token-1',
    });
    await store.claimReady(RUN, 'load', 'extract-eu');
    expect(await store.getJobState(RUN, 'load')).toMatchObject({ ready: true, token: 'token-1' });
    // Another job's or another run's state is its own.
    expect(await store.getJobState(RUN, 'extract')).toBeUndefined();
    expect(await store.getJobState(OTHER_RUN, 'load')).toBeUndefined();
  });

  it('counts the distinct upstreams that ended: a repeated end of one is harmless, counted once with its outcome', async () => {
    const { store } = make();
    const first = await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    expect(first).toEqual({ ended: 1, state: { runId: RUN, jobId: 'load', upstream: { extract: ENDED }, ready: false } });
    const second = await store.recordUpstreamEnded(RUN, 'load', 'extract-eu', FAILED_UP, STARTED);
    expect(second).toEqual({ ended: 2, state: { runId: RUN, jobId: 'load', upstream: { extract: ENDED, 'extract-eu': FAILED_UP }, ready: false } });
    const repeat = await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, LATER);
    expect(repeat).toEqual(second);
    // The count is per dependent.
    expect((await store.recordUpstreamEnded(RUN, 'report', 'extract', ENDED, STARTED)).ended).toBe(1);
  });

  it('answers the state it wrote as ready once the job was claimed, so a late caller claims nothing', async () => {
    const { store } = make();
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    expect(await store.claimReady(RUN, 'load', 'extract')).toEqual({ claimed: true });
    const late = await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, LATER);
    expect(late).toEqual({ ended: 1, state: { runId: RUN, jobId: 'load', upstream: { extract: ENDED }, ready: true } });
  });

  it('claims a waiting job ready for the upstream that completed it, with its token: again for that one until it starts, never for another', async () => {
    const { store, register } = make();
    expect(await register('load', 'token-1')).toBe('waits');
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    await store.recordUpstreamEnded(RUN, 'load', 'extract-eu', ENDED, STARTED);
    expect(await store.claimReady(RUN, 'load', 'extract-eu')).toEqual({ claimed: true, token: 'token-1' });
    expect(await store.claimReady(RUN, 'load', 'extract')).toEqual({ claimed: false });
    // A redelivery of the claimer's release, the job not started yet: it may send again.
    expect(await store.claimReady(RUN, 'load', 'extract-eu')).toEqual({ claimed: true, token: 'token-1' });
    // The job starts, released: its token was delivered.
    await store.startAttempt(attempt('load', 1), true);
    expect(await store.claimReady(RUN, 'load', 'extract-eu')).toEqual({ claimed: false });
    expect(await store.claimReady(RUN, 'load', 'extract')).toEqual({ claimed: false });
    // Once it is ready, the gate lets an iteration through at once and keeps no new token.
    expect(await register('load', 'token-2')).toBe('runs');
    expect(await store.getJobState(RUN, 'load')).toMatchObject({ ready: true, token: 'token-1' });
  });

  it('records the end of a job’s only upstream and claims the job ready in one write, with its token; again on a redelivery until it starts', async () => {
    const { store, register } = make();
    expect(await register('report', 'token-1')).toBe('waits');
    expect(await store.claimReady(RUN, 'report', 'load', { outcome: ENDED, at: STARTED })).toEqual({ claimed: true, token: 'token-1' });
    expect(await store.getJobState(RUN, 'report')).toEqual({ runId: RUN, jobId: 'report', upstream: { load: ENDED }, ready: true, token: 'token-1' });
    expect(await store.claimReady(RUN, 'report', 'load', { outcome: ENDED, at: LATER })).toEqual({ claimed: true, token: 'token-1' });
    await store.startAttempt(attempt('report', 1), true);
    expect(await store.claimReady(RUN, 'report', 'load', { outcome: ENDED, at: LATER })).toEqual({ claimed: false });
    expect(await store.getJobState(RUN, 'report')).toMatchObject({ upstream: { load: ENDED }, ready: true });
  });

  it('still records an end it cannot claim for (the job was made ready on behalf of another upstream)', async () => {
    const { store } = make();
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    expect(await store.claimReady(RUN, 'load', 'extract')).toEqual({ claimed: true });
    expect(await store.claimReady(RUN, 'load', 'extract-eu', { outcome: FAILED_UP, at: LATER })).toEqual({ claimed: false });
    expect(await store.getJobState(RUN, 'load')).toEqual({ runId: RUN, jobId: 'load', upstream: { extract: ENDED, 'extract-eu': FAILED_UP }, ready: true });
  });

  it('claims a job that does not wait yet ready, without a token, for its claimer only; its gate then does not wait', async () => {
    const { store, register } = make();
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    expect(await store.claimReady(RUN, 'load', 'extract')).toEqual({ claimed: true });
    expect(await store.claimReady(RUN, 'load', 'other')).toEqual({ claimed: false });
    expect(await register('load', 'token-1')).toBe('runs');
    const state = await store.getJobState(RUN, 'load');
    expect(state).toEqual({ runId: RUN, jobId: 'load', upstream: { extract: ENDED }, ready: true });
  });

  it('ends a job once: the first end wins, kept beside its upstreams’ outcomes', async () => {
    const { store } = make();
    await store.recordUpstreamEnded(RUN, 'load', 'extract', FAILED_UP, STARTED);
    expect(await store.endJob(RUN, 'load', { status: JobStatus.SKIPPED, at: STARTED, attempt: 0, reason: SkipReason.UPSTREAM_FAILED })).toBe(true);
    expect(await store.endJob(RUN, 'load', { status: JobStatus.FAILED, at: LATER, attempt: 2, errorCode: 'X' })).toBe(false);
    expect(await store.getJobState(RUN, 'load')).toEqual({
      runId: RUN,
      jobId: 'load',
      upstream: { extract: FAILED_UP },
      ready: false,
      status: JobStatus.SKIPPED,
      reason: SkipReason.UPSTREAM_FAILED,
      attempt: 0,
      completedAt: STARTED,
    });
    // A job with no state yet (no upstream) gets one; its error code is kept.
    expect(await store.endJob(RUN, 'extract', { status: JobStatus.FAILED, at: LATER, attempt: 3, errorCode: 'X' })).toBe(true);
    expect(await store.getJobState(RUN, 'extract')).toEqual({ runId: RUN, jobId: 'extract', upstream: {}, ready: false, status: JobStatus.FAILED, attempt: 3, errorCode: 'X', completedAt: LATER });
  });

  it('gets the attempts that exist among more than a batch of keys, nothing for the missing ones', async () => {
    const { store } = make();
    const present = Array.from({ length: 130 }, (_, i) => attempt(`job-${String(i).padStart(3, '0')}`, 1 + (i % 3), JobStatus.SUCCEEDED));
    for (const a of present) await store.startAttempt(a);
    await store.startAttempt(attempt('job-000', 1, JobStatus.SUCCEEDED, OTHER_RUN));
    // 130 present, 120 missing (other attempts of the same jobs, jobs without attempts, another run's): 250 keys.
    const keys = [
      ...present.map((a) => ({ runId: RUN, jobId: a.jobId, attempt: a.attempt })),
      ...present.slice(0, 60).map((a) => ({ runId: RUN, jobId: a.jobId, attempt: a.attempt + 10 })),
      ...Array.from({ length: 59 }, (_, i) => ({ runId: RUN, jobId: `missing-${i}`, attempt: 1 })),
      { runId: OTHER_RUN, jobId: 'job-001', attempt: 1 },
    ];
    expect(keys).toHaveLength(250);
    const found = await store.getAttempts(keys);
    // DynamoDB answers a batch in no particular order.
    const order = (a: JobAttemptRecord): string => `${a.runId} ${a.jobId} ${a.attempt}`;
    expect(found.map(order).sort()).toEqual(present.map(order).sort());
    expect(found.find((a) => a.jobId === 'job-007')).toEqual(present[7]);
    expect(await store.getAttempts([])).toEqual([]);
    expect(await store.getAttempts([{ runId: RUN, jobId: 'missing', attempt: 1 }])).toEqual([]);
  });

  it('reads an attempt’s context in one go: the run, the job’s state and the attempt, each absent until it exists', async () => {
    const { store } = make();
    expect(await store.readAttemptContext(RUN, 'load', 1)).toEqual({ upstreamAttempts: [] });
    await store.createRun(newRun());
    await store.startAttempt(attempt('load', 1));
    await store.startAttempt(attempt('load', 2, JobStatus.RUNNING, OTHER_RUN));
    const before = await store.readAttemptContext(RUN, 'load', 1);
    expect(before).toEqual({ run: await store.getRun(RUN), attempt: attempt('load', 1), upstreamAttempts: [] });
    await store.endJob(RUN, 'load', { status: JobStatus.SUCCEEDED, at: LATER, attempt: 1 });
    const after = await store.readAttemptContext(RUN, 'load', 1);
    expect(after.state).toEqual(await store.getJobState(RUN, 'load'));
    expect(after.state?.status).toBe(JobStatus.SUCCEEDED);
    expect((await store.readAttemptContext(RUN, 'load', 2)).attempt).toBeUndefined();
  });

  it('finishes an attempt and ends its job together; when either has ended meanwhile, writes the other as it can', async () => {
    const { store } = make();
    const end = { status: JobStatus.SUCCEEDED, at: LATER, attempt: 1 } as const;
    // Both hold: both written.
    await store.startAttempt(attempt('load', 1));
    expect(await store.finishAttemptAndEndJob(attempt('load', 1, JobStatus.SUCCEEDED), end, true)).toBe(true);
    expect((await store.getAttempts([{ runId: RUN, jobId: 'load', attempt: 1 }]))[0]?.status).toBe(JobStatus.SUCCEEDED);
    expect(await store.getJobState(RUN, 'load')).toMatchObject({ status: JobStatus.SUCCEEDED, attempt: 1 });
    // The job ended meanwhile (the run's end): the attempt is still finished, the first end stands.
    await store.startAttempt(attempt('report', 1));
    await store.endJob(RUN, 'report', { status: JobStatus.CANCELLED, at: LATER, attempt: 1, reason: 'RUN_ENDED' });
    expect(await store.finishAttemptAndEndJob(attempt('report', 1, JobStatus.SUCCEEDED), end)).toBe(false);
    expect((await store.getAttempts([{ runId: RUN, jobId: 'report', attempt: 1 }]))[0]?.status).toBe(JobStatus.SUCCEEDED);
    expect(await store.getJobState(RUN, 'report')).toMatchObject({ status: JobStatus.CANCELLED });
    // The attempt was closed meanwhile: it stays closed, and the job's end is still written.
    await store.startAttempt(attempt('extract', 1));
    await store.closeAttempt(RUN, 'extract', 1, { status: JobStatus.FAILED, at: LATER, errorCode: 'X', errorMessage: 'x' });
    expect(await store.finishAttemptAndEndJob(attempt('extract', 1, JobStatus.SUCCEEDED), end)).toBe(true);
    expect((await store.getAttempts([{ runId: RUN, jobId: 'extract', attempt: 1 }]))[0]?.status).toBe(JobStatus.FAILED);
    expect(await store.getJobState(RUN, 'extract')).toMatchObject({ status: JobStatus.SUCCEEDED });
  });

  it('reads, in the same go, the first attempt of each upstream asked for that exists (of this run only)', async () => {
    const { store } = make();
    await store.startAttempt(attempt('extract', 1, JobStatus.SUCCEEDED));
    await store.startAttempt(attempt('extract-eu', 2));
    await store.startAttempt(attempt('extract-us', 1, JobStatus.RUNNING, OTHER_RUN));
    const context = await store.readAttemptContext(RUN, 'load', 1, ['extract', 'extract-eu', 'extract-us']);
    expect(context.upstreamAttempts).toEqual([attempt('extract', 1, JobStatus.SUCCEEDED)]);
  });

  it('lists a run’s job states in job order, across pages, without its run, attempts, dead letters or other runs', async () => {
    const { store, register } = make();
    await store.createRun(newRun());
    await store.startAttempt(attempt('extract', 1));
    await store.claimDeadLetter(RUN, 'extract', LATER, 'owner');
    for (const job of ['report', 'load', 'load-eu']) await store.recordUpstreamEnded(RUN, job, 'extract', ENDED, STARTED);
    await register('notify', 'token-1');
    await store.endJob(RUN, 'extract', { status: JobStatus.SUCCEEDED, at: LATER, attempt: 1 });
    await store.recordUpstreamEnded(OTHER_RUN, 'load', 'extract', ENDED, STARTED);
    const states = await store.listJobStates(RUN);
    expect(states.map((s) => s.jobId)).toEqual(['extract', 'load', 'load-eu', 'notify', 'report']);
    expect(states[0]).toEqual({ runId: RUN, jobId: 'extract', upstream: {}, ready: false, status: JobStatus.SUCCEEDED, attempt: 1, completedAt: LATER });
    expect(states[3]).toEqual({ runId: RUN, jobId: 'notify', upstream: {}, ready: false, token: 'token-1' });
    expect(await store.listJobStates(`${RUN}0`)).toEqual([]);
  });
});

describe('RecordStore against DynamoDB', () => {
  it('keys runs, attempts and claims under the run, with TTL and the history index, and reads them back without storage fields', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo, 2);
    await store.createRun(newRun());
    await store.startAttempt(attempt('extract', 7));
    await store.claimDeadLetter(RUN, 'extract', LATER, 'owner');
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

  it('keeps a pipeline’s waiting runs as a set, finds its latest ended run, and resolves a waiting run’s decision once', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    const wait = { decision: StartDecisionKind.WAIT, evaluatedAt: QUEUED, waitUntil: LATER, checks: [] };
    await store.createRun({ ...newRun(), startDecision: wait });
    await store.addWaiting('daily-sales', RUN);
    await store.addWaiting('daily-sales', RUN);
    await store.addWaiting('daily-sales', 'daily-sales_other');
    expect(await store.listWaiting('daily-sales')).toEqual(['daily-sales_other', RUN]);
    await store.removeWaiting('daily-sales', 'daily-sales_other');
    expect(await store.listWaiting('daily-sales')).toEqual([RUN]);
    expect(await store.latestEndedRun('daily-sales')).toBeUndefined();
    const skip = { decision: StartDecisionKind.SKIP, reason: 'DEPENDENCY_TIMEOUT' as const, evaluatedAt: LATER, checks: [] };
    const first = await store.resolveWait(RUN, skip, LATER);
    expect(first.changed).toBe(true);
    expect(first.run).toMatchObject({ status: RunStatus.SKIPPED, completedAt: LATER, startDecision: { decision: 'SKIP', reason: 'DEPENDENCY_TIMEOUT' } });
    // Decided already: a second decision changes nothing.
    expect((await store.resolveWait(RUN, { ...skip, decision: StartDecisionKind.START }, LATER)).changed).toBe(false);
    await store.createRun({ ...newRun(), runId: 'daily-sales_ended', queuedAt: LATER });
    await store.finishRun('daily-sales_ended', { status: RunStatus.FAILED, at: LATER, jobs: {} });
    expect(await store.latestEndedRun('daily-sales')).toEqual({ runId: 'daily-sales_ended', status: RunStatus.FAILED, completedAt: LATER });
  });

  it('opens a trigger batch once while it is open, takes events only while it is, and lists them', async () => {
    const store = recordStoreOver(new FakeDynamo());
    const until = '2026-11-23T20:01:00.000Z';
    expect(await store.openBatch('landing', 'orders', 'a', '2026-11-23T20:00:00.000Z', until)).toEqual({ batchId: 'a', openedAt: '2026-11-23T20:00:00.000Z', until });
    // Another event meanwhile: the open batch is answered, not replaced.
    expect((await store.openBatch('landing', 'orders', 'b', '2026-11-23T20:00:10.000Z', '2026-11-23T20:01:10.000Z')).batchId).toBe('a');
    expect(await store.addToBatch('landing', 'orders', 'a', 'a', { id: 'a' }, '2026-11-23T20:00:00.000Z')).toBe(true);
    expect(await store.addToBatch('landing', 'orders', 'a', 'b', { id: 'b' }, '2026-11-23T20:00:10.000Z')).toBe(true);
    expect(await store.addToBatch('landing', 'orders', 'a', 'c', { id: 'c' }, until)).toBe(false);
    expect(await store.addToBatch('landing', 'orders', 'other', 'd', { id: 'd' }, '2026-11-23T20:00:20.000Z')).toBe(false);
    expect((await store.batchEvents('landing', 'orders', 'a')).map((e) => [e.eventId, e.event])).toEqual([['a', { id: 'a' }], ['b', { id: 'b' }]]);
    expect((await store.openBatch('landing', 'orders', 'c', until, '2026-11-23T20:02:00.000Z')).batchId).toBe('c');
    expect(await store.getBatch('landing', 'orders')).toMatchObject({ batchId: 'c' });
    // Closed before its window's end: it takes nothing more, and the next event opens the next batch.
    await store.markBatchScheduled('landing', 'orders', 'c');
    await store.closeBatch('landing', 'orders', 'c', '2026-11-23T20:01:30.000Z');
    expect(await store.getBatch('landing', 'orders')).toMatchObject({ batchId: 'c', scheduled: true, closedAt: '2026-11-23T20:01:30.000Z' });
    expect(await store.addToBatch('landing', 'orders', 'c', 'x', { id: 'x' }, '2026-11-23T20:01:31.000Z')).toBe(false);
    expect((await store.openBatch('landing', 'orders', 'd', '2026-11-23T20:01:32.000Z', '2026-11-23T20:02:32.000Z')).batchId).toBe('d');
  });

  it('passes on a failure that is not a failed condition (throttling), and the claim stays free', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    dynamo.failures.push(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(store.claimDeadLetter(RUN, 'extract', LATER, 'a')).rejects.toThrow('Rate exceeded');
    expect(await store.claimDeadLetter(RUN, 'extract', LATER, 'b')).toBe('claimed');
  });

  it('refuses a stored record that does not match the schema with REC_002_CORRUPT', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    await store.startAttempt({ ...attempt('extract', 1), status: 'LOST' as JobAttemptRecord['status'] });
    await expect(store.listAttempts(RUN)).rejects.toMatchObject({ name: 'RecordError', code: 'REC_002_CORRUPT' });
  });

  it('keeps a job state as one item: a string set of the ended upstreams, an up:<id> attribute each, its kind and TTL', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo, 2);
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    await store.recordUpstreamEnded(RUN, 'load', 'extract-eu', SKIPPED_UP, LATER);
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, LATER);
    expect(dynamo.table).toEqual([
      {
        pk: `RUN#${RUN}`,
        sk: 'STATE#load',
        kind: 'job-state',
        // The first write's retention: a later one does not extend it.
        expiresAt: Date.parse(STARTED) / 1000 + 2 * 86_400,
        done: new Set(['extract', 'extract-eu']),
        'up:extract': ENDED,
        'up:extract-eu': SKIPPED_UP,
      },
    ]);
  });

  it('reads back a job state the gate alone wrote (only a token), and refuses a malformed up:<id> with REC_002_CORRUPT', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    await dynamo.send(gateCommand('load', 'token-1'));
    expect(await store.getJobState(RUN, 'load')).toEqual({ runId: RUN, jobId: 'load', upstream: {}, ready: false, token: 'token-1' });
    await dynamo.send(new PutCommand({ TableName: 'phi-records', Item: { pk: `RUN#${RUN}`, sk: 'STATE#report', 'up:extract': { status: 'LOST', attempt: 1 } } }));
    await expect(store.getJobState(RUN, 'report')).rejects.toMatchObject({ name: 'RecordError', code: 'REC_002_CORRUPT' });
    await expect(store.listJobStates(RUN)).rejects.toMatchObject({ name: 'RecordError', code: 'REC_002_CORRUPT' });
  });

  it('passes on a claim that fails for another reason than the condition (throttling), and the job stays unclaimed', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    await store.recordUpstreamEnded(RUN, 'load', 'extract', ENDED, STARTED);
    dynamo.failures.push(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(store.claimReady(RUN, 'load', 'extract')).rejects.toThrow('Rate exceeded');
    expect(await store.claimReady(RUN, 'load', 'other')).toEqual({ claimed: true });
  });

  it('gets attempts in consistent batches of at most 100 keys, asking again for the keys DynamoDB left unprocessed', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    for (let i = 0; i < 205; i++) await store.startAttempt(attempt(`job-${String(i).padStart(3, '0')}`, 1));
    const keys = Array.from({ length: 210 }, (_, i) => ({ runId: RUN, jobId: `job-${String(i).padStart(3, '0')}`, attempt: 1 }));
    // DynamoDB may answer part of a batch, handing back the rest as UnprocessedKeys: here every other request.
    const send = dynamo.send;
    const asked: { keys: number; consistent: unknown }[] = [];
    Object.assign(dynamo, {
      send: async (command: unknown): Promise<Record<string, unknown>> => {
        if (!(command instanceof BatchGetCommand)) return send(command);
        const request = command.input.RequestItems?.['phi-records'];
        const batch = request?.Keys ?? [];
        asked.push({ keys: batch.length, consistent: request?.ConsistentRead });
        if (asked.length % 2 === 0) return send(command);
        const half = Math.floor(batch.length / 2);
        const out = await send(new BatchGetCommand({ RequestItems: { 'phi-records': { ...request, Keys: batch.slice(0, half) } } }));
        return { ...out, UnprocessedKeys: { 'phi-records': { ...request, Keys: batch.slice(half) } } };
      },
    });
    const found = await store.getAttempts(keys);
    expect(found.map((a) => a.jobId).sort()).toEqual(keys.slice(0, 205).map((k) => k.jobId));
    // 100 keys (50 left unprocessed, asked again), 100 (likewise), 10 (5).
    expect(asked).toEqual([100, 50, 100, 50, 10, 5].map((n) => ({ keys: n, consistent: true })));
  });

  /** The IAM action each document-client command needs. */
  const ACTION: Record<string, string> = {
    PutCommand: 'dynamodb:PutItem',
    UpdateCommand: 'dynamodb:UpdateItem',
    GetCommand: 'dynamodb:GetItem',
    QueryCommand: 'dynamodb:Query',
    DeleteCommand: 'dynamodb:DeleteItem',
    BatchGetCommand: 'dynamodb:BatchGetItem',
  };
  /** The IAM action each item of a transaction needs (a transaction has no action of its own). */
  const TRANSACT_ACTION: Record<string, string> = { Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem', ConditionCheck: 'dynamodb:ConditionCheckItem' };
  const actionsOf = (dynamo: FakeDynamo): string[] =>
    [
      ...new Set(
        dynamo.sent.flatMap((s) =>
          s.command === 'TransactWriteCommand' ? ((s.input.TransactItems ?? []) as Record<string, unknown>[]).flatMap((item) => Object.keys(item).map((kind) => TRANSACT_ACTION[kind] ?? kind)) : [ACTION[s.command] ?? s.command],
        ),
      ),
    ].sort();

  /**
   * Every store method a user calls, each called as that user would (in an order that makes each
   * conditional write apply): typed over the user's own store type, so a method it starts to call
   * fails to compile here until it is exercised.
   */
  type Calls<M extends keyof RecordStore> = Record<M, (store: RecordStore) => Promise<unknown>>;
  const closure = { status: JobStatus.FAILED, at: LATER, errorCode: 'X', errorMessage: 'x' } as const;
  const jobEnd = { status: JobStatus.SUCCEEDED, at: LATER, attempt: 1 } as const;

  const runtimeCalls: Calls<keyof RuntimeStore> = {
    readAttemptContext: (s) => s.readAttemptContext(RUN, 'load', 1),
    getJobState: (s) => s.getJobState(RUN, 'load'),
    getAttempts: (s) => s.getAttempts([{ runId: RUN, jobId: 'extract', attempt: 1 }]),
    startAttempt: async (s) => (await s.startAttempt(attempt('extract', 1))) && s.startAttempt(attempt('load', 1), true),
    finishAttempt: (s) => s.finishAttempt(attempt('load', 1, JobStatus.SUCCEEDED)),
    finishAttemptAndEndJob: (s) => s.finishAttemptAndEndJob(attempt('load', 1, JobStatus.SUCCEEDED), jobEnd, true),
    closeAttempt: (s) => s.closeAttempt(RUN, 'load', 1, closure),
    endJob: (s) => s.endJob(RUN, 'load', jobEnd),
    recordUpstreamEnded: (s) => s.recordUpstreamEnded(RUN, 'report', 'load', ENDED, LATER),
    claimReady: (s) => s.claimReady(RUN, 'report', 'load', { outcome: ENDED, at: LATER }),
    claimDeadLetter: (s) => s.claimDeadLetter(RUN, 'load', LATER, 'owner'),
    releaseDeadLetterClaim: (s) => s.releaseDeadLetterClaim(RUN, 'load', 'owner'),
    markDeadLetterSent: (s) => s.markDeadLetterSent(RUN, 'load', LATER),
  };

  const recorderCalls: Calls<keyof RecorderDeps['store']> = {
    markRunRunning: (s) => s.markRunRunning(running(), STARTED),
    requireRun: (s) => s.requireRun(RUN),
    listAttempts: (s) => s.listAttempts(RUN, 'extract'),
    listJobStates: (s) => s.listJobStates(RUN),
    getJobState: (s) => s.getJobState(RUN, 'extract'),
    closeAttempt: (s) => s.closeAttempt(RUN, 'extract', 1, { ...closure, status: JobStatus.CANCELLED, errorCode: 'RUN_ENDED' }),
    endJob: (s) => s.endJob(RUN, 'extract', { ...jobEnd, status: JobStatus.FAILED }),
    recordUpstreamEnded: (s) => s.recordUpstreamEnded(RUN, 'load', 'extract', FAILED_UP, LATER),
    claimReady: (s) => s.claimReady(RUN, 'load', 'extract'),
    claimDeadLetter: (s) => s.claimDeadLetter(RUN, 'extract', LATER, 'owner'),
    releaseDeadLetterClaim: (s) => s.releaseDeadLetterClaim(RUN, 'extract', 'owner'),
    markDeadLetterSent: (s) => s.markDeadLetterSent(RUN, 'extract', LATER),
    finishRun: (s) => s.finishRun(RUN, { status: RunStatus.SUCCEEDED, at: LATER, jobs: {} }),
  };

  /** What every function that starts runs calls for upstreams, waiting runs, catch-up and trigger batches. */
  const waitsAndBatches: Calls<'latestEndedRun' | 'lastScheduledTime' | 'getBatch' | 'openBatch' | 'addToBatch' | 'batchEvents' | 'markBatchScheduled' | 'closeBatch' | 'addWaiting' | 'removeWaiting' | 'listWaiting' | 'resolveWait'> = {
    latestEndedRun: (s) => s.latestEndedRun('daily-sales'),
    lastScheduledTime: (s) => s.lastScheduledTime('daily-sales', 'default'),
    getBatch: (s) => s.getBatch('daily-sales', 'orders'),
    openBatch: (s) => s.openBatch('daily-sales', 'orders', 'e1', STARTED, LATER),
    addToBatch: (s) => s.addToBatch('daily-sales', 'orders', 'e1', 'e2', { id: 'e2' }, STARTED),
    batchEvents: (s) => s.batchEvents('daily-sales', 'orders', 'e1'),
    markBatchScheduled: (s) => s.markBatchScheduled('daily-sales', 'orders', 'e1'),
    closeBatch: (s) => s.closeBatch('daily-sales', 'orders', 'e1', LATER),
    addWaiting: (s) => s.addWaiting('daily-sales', RUN),
    removeWaiting: (s) => s.removeWaiting('daily-sales', RUN),
    listWaiting: (s) => s.listWaiting('daily-sales'),
    resolveWait: (s) => s.resolveWait(RUN, { decision: StartDecisionKind.START, evaluatedAt: LATER, checks: [] }, LATER),
  };

  /** The schedule trigger. */
  const triggerCalls: Calls<keyof TriggerDeps['store']> = {
    createRun: (s) => s.createRun(newRun()),
    getRun: (s) => s.getRun(RUN),
    attachExecution: (s) => s.attachExecution(RUN, ARN),
    requireRun: (s) => s.requireRun(RUN),
    markRunStartFailed: (s) => s.markRunStartFailed(RUN, STARTED, 'Rate exceeded'),
    reopenRun: (s) => s.reopenRun(RUN, LATER),
    // At the limit already (the run is admitted first): the refusal reads the admitted runs and lets go of the ended ones.
    admitRun: async (s) => [await s.admitRun('daily-sales', RUN, 1, STARTED), await s.admitRun('daily-sales', `${RUN}x`, 1, LATER)],
    countActiveRuns: (s) => s.countActiveRuns('daily-sales', LATER),
    getPauses: (s) => s.getPauses(),
    ...waitsAndBatches,
    listAttempts: (s) => s.listAttempts(RUN),
    listRunHistory: (s) => s.listRunHistory('daily-sales', { limit: 5 }),
  };

  const pauseAudit = { id: 'a1', action: 'PAUSE', pipeline: 'daily-sales', by: 'arn:aws:iam::1:user/op', at: STARTED } as const;
  /** The control API (which starts runs as the trigger does) and the sweeper. */
  const controlCalls: Calls<keyof TriggerDeps['store'] | keyof ApiDeps['store'] | keyof NonNullable<ApiDeps['audit']>> = {
    createRun: (s) => s.createRun(newRun()),
    attachExecution: (s) => s.attachExecution(RUN, ARN),
    requireRun: (s) => s.requireRun(RUN),
    markRunStartFailed: (s) => s.markRunStartFailed(RUN, STARTED, 'Rate exceeded'),
    reopenRun: (s) => s.reopenRun(RUN, LATER),
    getRun: (s) => s.getRun(RUN),
    listAttempts: (s) => s.listAttempts(RUN),
    listJobStates: (s) => s.listJobStates(RUN),
    listRuns: (s) => s.listRuns('daily-sales', 20),
    listRunHistory: (s) => s.listRunHistory('daily-sales', { limit: 5, status: RunStatus.SKIPPED }),
    admitRun: (s) => s.admitRun('daily-sales', RUN, 1, STARTED),
    countActiveRuns: (s) => s.countActiveRuns('daily-sales', LATER),
    getPauses: (s) => s.getPauses(),
    ...waitsAndBatches,
    setPause: (s) => s.setPause('daily-sales', { by: pauseAudit.by, at: STARTED }, pauseAudit),
    appendAudit: (s) => s.appendAudit({ ...pauseAudit, id: 'a2', action: 'START', runId: RUN }),
    listAudit: (s) => s.listAudit({ limit: 10 }, LATER),
  };

  it.each([
    ['the task runtime', runtimeCalls, RECORD_ACTIONS.runtime],
    ['the recorder', recorderCalls, RECORD_ACTIONS.recorder],
    ['the schedule trigger', triggerCalls, RECORD_ACTIONS.trigger],
    ['the control API', controlCalls, RECORD_ACTIONS.control],
  ] as [string, Readonly<Record<string, (store: RecordStore) => Promise<unknown>>>, readonly string[]][])('needs exactly the DynamoDB actions RECORD_ACTIONS grants %s', async (_user, calls, granted) => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    await store.startAttempt(attempt('extract', 1));
    dynamo.sent.splice(0);
    for (const call of Object.values(calls)) await call(store);
    expect(actionsOf(dynamo)).toEqual([...granted].sort());
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

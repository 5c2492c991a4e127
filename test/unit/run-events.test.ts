/**
 * The run events (`Phi Run Started` / `Phi Run Ended`, source `phi`): their shapes, built from run
 * records, and the recorder publishing them once the record says so, through a fake publisher; a
 * publish that fails is logged and never fails the recording.
 */
import { describe, expect, it } from 'vitest';
import { record, runEventPublisher, type RecorderDeps } from '../../functions/control/recorder.ts';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  JobStatus,
  RecorderEventSchema,
  RUN_EVENT_SOURCE,
  RunEndedDetailSchema,
  RunEventDetailType,
  runEndedEvent,
  RunEventSchema,
  RunStartedDetailSchema,
  runStartedEvent,
  RunStatus,
  type RunEvent,
  type RunRecord,
} from '../../lib/model/contract/index.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'market-data';
const RUN_ID = 'market-data_s-20260309T230000Z-0123456789ab';
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-market-data:${RUN_ID}`;
const QUEUED = '2026-03-20T11:59:59.000Z';
const STARTED = '2026-03-20T12:00:00.000Z';
const FINISHED = '2026-03-20T12:05:00.000Z';

const record0 = (extra: Partial<RunRecord> = {}): RunRecord => ({
  runId: RUN_ID,
  pipelineId: PIPELINE,
  status: RunStatus.RUNNING,
  trigger: 'BACKFILL',
  scheduledTime: '2026-03-09T23:00:00Z',
  scheduleId: 'default',
  parameters: {},
  queuedAt: QUEUED,
  startedAt: STARTED,
  transitions: [],
  ...extra,
});

describe('run event shapes', () => {
  it('Phi Run Started: the run, its trigger, logical date and start', () => {
    const event = runStartedEvent(record0());
    expect(event).toEqual({
      source: 'phi',
      detailType: 'Phi Run Started',
      detail: { version: 1, runId: RUN_ID, pipelineId: PIPELINE, trigger: 'BACKFILL', scheduledTime: '2026-03-09T23:00:00Z', scheduleId: 'default', status: 'RUNNING', startedAt: STARTED },
    });
    expect(RunStartedDetailSchema.parse(event?.detail)).toEqual(event?.detail);
    // Only a running run has started.
    expect(runStartedEvent(record0({ status: RunStatus.PENDING }))).toBeUndefined();
  });

  it('Phi Run Ended: its end, duration, failed jobs (sorted) and error; none for a run not closed by its execution', () => {
    const failed = record0({
      status: RunStatus.FAILED,
      trigger: 'API',
      scheduledTime: undefined,
      scheduleId: undefined,
      completedAt: FINISHED,
      durationMs: 300_000,
      jobs: { load: { status: JobStatus.FAILED, attempts: 3, errorCode: 'E' }, extract: { status: JobStatus.SUCCEEDED, attempts: 1 }, a: { status: JobStatus.FAILED, attempts: 1 } },
      error: { code: 'E', message: 'long message not carried', jobId: 'a' },
    });
    const event = runEndedEvent(failed);
    expect(event).toEqual({
      source: 'phi',
      detailType: 'Phi Run Ended',
      detail: { version: 1, runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', status: 'FAILED', startedAt: STARTED, completedAt: FINISHED, durationMs: 300_000, failedJobs: ['a', 'load'], error: { code: 'E', jobId: 'a' } },
    });
    expect(RunEndedDetailSchema.parse(event?.detail)).toEqual(event?.detail);
    expect(runEndedEvent(record0({ status: RunStatus.SUCCEEDED, completedAt: FINISHED }))?.detail).toMatchObject({ status: 'SUCCEEDED', durationMs: 300_000, failedJobs: [] });
    for (const status of [RunStatus.RUNNING, RunStatus.PENDING, RunStatus.SKIPPED]) expect(runEndedEvent(record0({ status, completedAt: FINISHED }))).toBeUndefined();
  });

  it('refuses shapes it does not define (strict details, known detail types)', () => {
    expect(RunEventSchema.safeParse({ source: 'phi', detailType: 'Phi Run Paused', detail: {} }).success).toBe(false);
    expect(RunStartedDetailSchema.safeParse({ ...runStartedEvent(record0())!.detail, extra: 1 }).success).toBe(false);
    expect(RunEndedDetailSchema.safeParse({ version: 1, runId: RUN_ID, pipelineId: PIPELINE, trigger: 'API', status: 'SKIPPED', completedAt: FINISHED, durationMs: 0, failedJobs: [] }).success).toBe(false);
  });
});

describe('the recorder publishes each run’s start and end', () => {
  const JOB_LISTS = new MemoryJobLists();
  const jobList = JOB_LISTS.put({ extract: [], load: ['extract'] });
  const runInput = { runId: RUN_ID, pipelineId: PIPELINE, trigger: 'BACKFILL', scheduledTime: '2026-03-09T23:00:00Z', parameters: {} };

  function harness(publish: (event: RunEvent) => Promise<void>) {
    const store = new MemoryRecordStore();
    const { log, lines } = captureLogs({ component: 'recorder' });
    const deps = (now: string): RecorderDeps => ({ store, log, jobLists: JOB_LISTS, now: clock(now), sendDeadLetter: async () => {}, sendToken: async () => {}, publishRunEvent: publish });
    return { store, lines, deps };
  }

  async function lifecycle(h: ReturnType<typeof harness>): Promise<RunRecord> {
    await h.store.createRun({ runId: RUN_ID, pipelineId: PIPELINE, trigger: 'BACKFILL', scheduledTime: '2026-03-09T23:00:00Z', scheduleId: 'default', parameters: {}, queuedAt: QUEUED });
    await record(RecorderEventSchema.parse({ action: 'runStarted', run: runInput, executionArn: EXECUTION_ARN, definitionVersion: 'def-1', jobList }), h.deps(STARTED));
    for (const jobId of ['extract', 'load']) await h.store.endJob(RUN_ID, jobId, { status: JobStatus.SUCCEEDED, at: FINISHED, attempt: 1 });
    const finished = await record(RecorderEventSchema.parse({ action: 'runFinished', run: runInput, executionArn: EXECUTION_ARN }), h.deps(FINISHED));
    return finished as RunRecord;
  }

  it('publishes Phi Run Started when the record becomes RUNNING and Phi Run Ended when it is closed, once each', async () => {
    const published: RunEvent[] = [];
    const h = harness(async (e) => void published.push(e));
    const run = await lifecycle(h);
    expect(run.status).toBe(RunStatus.SUCCEEDED);
    expect(published.map((e) => e.detailType)).toEqual([RunEventDetailType.STARTED, RunEventDetailType.ENDED]);
    expect(published.every((e) => e.source === RUN_EVENT_SOURCE)).toBe(true);
    expect(published[1]?.detail).toMatchObject({ runId: RUN_ID, status: 'SUCCEEDED', trigger: 'BACKFILL', scheduledTime: '2026-03-09T23:00:00Z', startedAt: STARTED, completedAt: FINISHED, durationMs: 300_000, failedJobs: [] });
    // A repeated runFinished finds the run closed: nothing more is published.
    await record(RecorderEventSchema.parse({ action: 'runFinished', run: runInput, executionArn: EXECUTION_ARN }), h.deps(FINISHED));
    expect(published).toHaveLength(2);
  });

  it('records the run as ever when publishing fails, and logs it', async () => {
    let calls = 0;
    const h = harness(async () => {
      calls++;
      throw Object.assign(new Error('EventBridge is unavailable'), { name: 'ServiceUnavailable' });
    });
    const run = await lifecycle(h);
    expect(calls).toBe(2);
    expect(run.status).toBe(RunStatus.SUCCEEDED);
    expect((await h.store.requireRun(RUN_ID)).status).toBe(RunStatus.SUCCEEDED);
    const warnings = h.lines.filter((l) => l.message === 'run event not published');
    expect(warnings.map((l) => l.detailType)).toEqual(['Phi Run Started', 'Phi Run Ended']);
    expect(warnings[0]?.error).toBe('ServiceUnavailable: EventBridge is unavailable');
  });

  it('puts each event on the default bus (no bus named) and fails when EventBridge refuses the entry', async () => {
    const sent: PutEventsCommand[] = [];
    let failed = 0;
    const client = { send: async (command: PutEventsCommand) => (sent.push(command), { FailedEntryCount: failed, Entries: [failed ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' } : { EventId: 'e-1' }] }) } as unknown as EventBridgeClient;
    const publish = runEventPublisher(client);
    const event = runStartedEvent(record0())!;
    await publish(event);
    expect(sent[0]?.input.Entries).toEqual([{ Source: 'phi', DetailType: 'Phi Run Started', Detail: JSON.stringify(event.detail) }]);
    failed = 1;
    await expect(publish(event)).rejects.toThrow('InternalFailure: try again');
  });
});

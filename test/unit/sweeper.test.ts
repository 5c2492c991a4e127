/** The sweeper closes what could stay open for ever (functions/control/sweeper.ts). */
import { describe, expect, it } from 'vitest';
import { sweep, type Delivery, type SweeperDeps } from '../../functions/control/sweeper.ts';
import type { TriggerDeps } from '../../functions/control/trigger.ts';
import { JobStatus, RunStatus, type RunRecord } from '../../lib/model/contract/index.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

/** The job lists the deploys wrote. */
const JOB_LISTS = new MemoryJobLists();

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-daily-sales';
const NOW = '2024-05-01T12:00:00.000Z';
const LONG_AGO = '2024-05-01T10:00:00.000Z';
const JUST_NOW = '2024-05-01T11:59:00.000Z';

function world(executions: Record<string, string> = {}, queue: string[] = []) {
  const store = new MemoryRecordStore();
  const { log, lines } = captureLogs({ component: 'sweeper' });
  const started: string[] = [];
  const deleted: string[] = [];
  const trigger: TriggerDeps = {
    store,
    log,
    stateMachines: new Map([['daily-sales', STATE_MACHINE]]),
    startExecution: async (_arn, name) => void started.push(name),
    now: clock(NOW),
  };
  const deps: SweeperDeps = {
    store,
    trigger,
    recorder: { store, log, sendToken: async () => {}, sendDeadLetter: async () => {}, jobLists: JOB_LISTS, now: clock(NOW) },
    describeExecution: async (arn) => executions[arn],
    receiveDeliveries: async (): Promise<Delivery[]> => queue.splice(0, 10).map((body) => ({ body, done: async () => void deleted.push(body) })),
    log,
    now: clock(NOW),
  };
  return { store, deps, started, deleted, lines };
}

async function pendingRun(store: MemoryRecordStore, runId: string, queuedAt: string): Promise<RunRecord> {
  return (await store.createRun({ runId, pipelineId: 'daily-sales', trigger: 'API', parameters: {}, queuedAt })).run;
}

describe('sweep', () => {
  it('evaluates a run waiting for its upstream pipelines again (its timeout’s check may be lost): past its timeout it is SKIPPED, never marked a failed start', async () => {
    const w = world();
    const rules = { upstreams: [{ pipeline: 'upstream', on: 'SUCCESS' as const, mode: 'gate' as const, timeoutSeconds: 600 }] };
    const deps = { ...w.deps, trigger: { ...w.deps.trigger, startRules: new Map([['daily-sales', rules]]), waitChecks: { schedule: async () => {}, scheduleBatchClose: async () => {} } } };
    const wait = { decision: 'WAIT' as const, evaluatedAt: LONG_AGO, waitingSince: LONG_AGO, waitUntil: '2024-05-01T10:10:00.000Z', checks: [] };
    await w.store.createRun({ runId: 'daily-sales_m-waiting', pipelineId: 'daily-sales', trigger: 'API', parameters: {}, queuedAt: LONG_AGO, startDecision: wait });
    const result = await sweep(deps);
    expect(result).toMatchObject({ closed: [], resumedWaiting: ['daily-sales_m-waiting'] });
    expect(await w.store.requireRun('daily-sales_m-waiting')).toMatchObject({ status: RunStatus.SKIPPED, startDecision: { reason: 'DEPENDENCY_TIMEOUT' } });
    expect(w.started).toEqual([]);
  });

  it('closes a run whose trigger died before starting its execution: FAILED, RUN_START_FAILED, so a new start reopens it', async () => {
    const w = world();
    await pendingRun(w.store, 'm-died', LONG_AGO);
    const result = await sweep(w.deps);
    expect(result).toEqual({ closed: ['m-died'], redelivered: 0, unreadable: 0, resumedWaiting: [], caughtUp: [], missedEnds: [] });
    expect(await w.store.requireRun('m-died')).toMatchObject({ status: RunStatus.FAILED, error: { code: 'RUN_START_FAILED', message: expect.stringContaining('never started') } });
  });

  it('closes a RUNNING run whose execution ended without closing it, as the execution ended, every job closed', async () => {
    const w = world({ [executionArnFor(STATE_MACHINE, 'm-stuck')]: 'ABORTED' });
    const run = await pendingRun(w.store, 'm-stuck', LONG_AGO);
    await w.store.markRunRunning({ ...run, executionArn: executionArnFor(STATE_MACHINE, 'm-stuck'), jobList: JOB_LISTS.put({ extract: [], load: ['extract'] }) }, LONG_AGO);
    await w.store.startAttempt({ runId: 'm-stuck', pipelineId: 'daily-sales', jobId: 'extract', attempt: 1, status: JobStatus.RUNNING, definitionVersion: 'd', parameters: {}, startedAt: LONG_AGO, transitions: [] });
    await sweep(w.deps);
    expect(await w.store.requireRun('m-stuck')).toMatchObject({
      status: RunStatus.FAILED,
      error: { code: 'EXECUTION_ABORTED' },
      jobs: { extract: { status: JobStatus.CANCELLED, reason: 'RUN_ENDED' }, load: { status: JobStatus.SKIPPED, reason: 'RUN_ENDED' } },
    });
    expect((await w.store.listAttempts('m-stuck'))[0]?.status).toBe(JobStatus.CANCELLED);
  });

  it('leaves alone a run whose execution still runs, one within its grace period, and one that has ended', async () => {
    const w = world({ [executionArnFor(STATE_MACHINE, 'm-running')]: 'RUNNING' });
    const running = await pendingRun(w.store, 'm-running', LONG_AGO);
    await w.store.markRunRunning({ ...running, executionArn: executionArnFor(STATE_MACHINE, 'm-running'), jobList: JOB_LISTS.put({}) }, LONG_AGO);
    await pendingRun(w.store, 'm-fresh', JUST_NOW);
    await pendingRun(w.store, 'm-done', LONG_AGO);
    await w.store.finishRun('m-done', { status: RunStatus.SUCCEEDED, at: LONG_AGO, jobs: {} });
    expect((await sweep(w.deps)).closed).toEqual([]);
    expect((await w.store.requireRun('m-fresh')).status).toBe(RunStatus.PENDING);
  });

  it('starts the run of a schedule delivery that kept failing, once, and closes the run of a status change the recorder could not take', async () => {
    const stuckArn = executionArnFor(STATE_MACHINE, 'm-late');
    const change = { source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change', detail: { executionArn: stuckArn, status: 'TIMED_OUT', input: JSON.stringify({ runId: 'm-late', pipelineId: 'daily-sales', trigger: 'API' }) } };
    const scheduled = { pipelineId: 'daily-sales', scheduledTime: '2024-05-01T11:00:00Z' };
    const w = world({}, [JSON.stringify(scheduled), JSON.stringify(scheduled), JSON.stringify(change), 'not json']);
    const late = await pendingRun(w.store, 'm-late', JUST_NOW);
    await w.store.markRunRunning({ ...late, executionArn: stuckArn, jobList: JOB_LISTS.put({}) }, JUST_NOW);

    const result = await sweep(w.deps);

    expect(result).toMatchObject({ redelivered: 3, unreadable: 1 });
    // both copies of the schedule's delivery are one run and one execution name
    expect(new Set(w.started).size).toBe(1);
    expect(w.deleted).toHaveLength(3);
    expect(await w.store.requireRun('m-late')).toMatchObject({ status: RunStatus.FAILED, error: { code: 'EXECUTION_TIMED_OUT' } });
  });

  it('counts what it closed in a metric (embedded metric format, namespace Phi)', async () => {
    const w = world();
    await pendingRun(w.store, 'm-died', LONG_AGO);
    await sweep(w.deps);
    const metric = w.lines.find((l) => l.message === 'metrics') as unknown as { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] }; SweptRuns: number };
    expect(metric._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Phi', Metrics: [{ Name: 'SweptRuns' }, { Name: 'RedeliveredEvents' }, { Name: 'UnreadableDeliveries' }] });
    expect(metric.SweptRuns).toBe(1);
  });
});

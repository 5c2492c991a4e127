/** What runs count as metrics, and how a pipeline's alarms are resolved from its definition. */
import { describe, expect, it } from 'vitest';
import { jobFailureSamples, JobStatus, RunStatus, runEndMetrics, runStartMetrics } from '../../lib/model/contract/index.ts';
import { emitMetrics } from '../../functions/shared/metrics.ts';
import { createLogger } from '../../functions/shared/log.ts';
import { alarmCount, resolveAlarms, stalenessWindow } from '../../lib/plan/alarms.ts';

describe('run metrics', () => {
  it('count a run’s start once, with its time in the queue', () => {
    expect(runStartMetrics({ queuedAt: '2026-11-23T10:00:00.000Z', startedAt: '2026-11-23T10:00:01.500Z' })).toEqual({ RunsStarted: 1, RunQueueTime: 1500 });
    expect(runStartMetrics({ queuedAt: '2026-11-23T10:00:00.000Z' })).toEqual({ RunsStarted: 1 });
  });

  it('count an ended run’s outcome, duration, its jobs by how they ended, retries beyond first attempts, and one dead letter per failed job', () => {
    const metrics = runEndMetrics({
      status: RunStatus.FAILED,
      startedAt: '2026-11-23T10:00:00.000Z',
      completedAt: '2026-11-23T10:02:00.000Z',
      jobs: {
        a: { status: JobStatus.SUCCEEDED, attempts: 1 },
        b: { status: JobStatus.SUCCEEDED, attempts: 3 },
        c: { status: JobStatus.FAILED, attempts: 3 },
        d: { status: JobStatus.SKIPPED, attempts: 0 },
        e: { status: JobStatus.CANCELLED, attempts: 1 },
      },
    });
    expect(metrics).toEqual({ RunsSucceeded: 0, RunsFailed: 1, RunsCancelled: 0, RunDuration: 120_000, JobsSucceeded: 2, JobsFailed: 1, JobsSkipped: 1, JobsCancelled: 1, JobRetries: 4, DeadLetters: 1 });
  });

  it('sample each ended job once for the error rate: 1 failed, 0 succeeded, skipped and cancelled jobs not at all', () => {
    const samples = jobFailureSamples({ jobs: { a: { status: JobStatus.SUCCEEDED, attempts: 1 }, b: { status: JobStatus.FAILED, attempts: 3 }, c: { status: JobStatus.SKIPPED, attempts: 0 }, d: { status: JobStatus.SUCCEEDED, attempts: 2 } } });
    expect(samples.sort()).toEqual([0, 0, 1]);
  });

  it('spread more than 100 samples of a metric over several embedded-metric lines, the counts on the first only', () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ component: 'test' }, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    emitMetrics({ RunsFailed: 1, JobFailure: Array.from({ length: 250 }, (_, i) => i % 2) }, { pipeline: 'p' }, log);
    expect(lines.map((l) => (l.JobFailure as number[]).length)).toEqual([100, 100, 50]);
    expect(lines.map((l) => l.RunsFailed)).toEqual([1, undefined, undefined]);
    expect(lines[1]).toMatchObject({ pipeline: 'p', _aws: { CloudWatchMetrics: [{ Namespace: 'Phi', Dimensions: [['pipeline']], Metrics: [{ Name: 'JobFailure', Unit: 'Count' }] }] } });
  });

  it('count a run closed without its jobs (never started) with no duration', () => {
    expect(runEndMetrics({ status: RunStatus.CANCELLED })).toMatchObject({ RunsCancelled: 1, JobsSucceeded: 0, JobRetries: 0 });
    expect(runEndMetrics({ status: RunStatus.CANCELLED })).not.toHaveProperty('RunDuration');
  });
});

describe('pipeline alarms', () => {
  it('alarm on a failed run by default, and on nothing else', () => {
    expect(resolveAlarms(undefined)).toEqual({ runFailed: true });
    expect(alarmCount(resolveAlarms(undefined))).toBe(1);
    expect(alarmCount(resolveAlarms({ runFailed: false }))).toBe(0);
  });

  it('fill the error rate’s window (an hour) and count every alarm asked for', () => {
    const alarms = resolveAlarms({ maxDurationMinutes: 120, maxDataAgeHours: 48, errorRate: { threshold: 0.1 } });
    expect(alarms).toEqual({ runFailed: true, maxDurationMinutes: 120, maxDataAgeHours: 48, errorRate: { threshold: 0.1, windowMinutes: 60 } });
    expect(alarmCount(alarms)).toBe(4);
  });

  it.each([
    [1, 60, 1],
    [24, 1_440, 1],
    [25, 750, 2],
    [48, 1_440, 2],
    [72, 1_440, 3],
    [168, 1_440, 7],
  ])('look back %i hours for a success in periods of at most a day (%i minutes × %i)', (hours, periodMinutes, evaluationPeriods) => {
    const window = stalenessWindow(hours);
    expect(window).toEqual({ periodMinutes, evaluationPeriods });
    expect(window.periodMinutes * window.evaluationPeriods).toBeGreaterThanOrEqual(hours * 60);
  });
});

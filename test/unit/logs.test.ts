/**
 * `GET /runs/{runId}/logs` and `phi logs`: a run's jobs' structured log lines from its pipeline's job
 * functions' log groups, oldest first, one job's with `job`, those after `since`, the lines of other
 * runs left out; a text line is kept as its text.
 */
import { describe, expect, it } from 'vitest';
import { logEventOf, runLogs, type LogsDeps } from '../../functions/control/logs.ts';
import { RunStatus, type RunRecord } from '../../lib/model/contract/index.ts';
import { formatLogEvent } from '../../lib/cli/format.ts';

const RUN: RunRecord = { runId: 'etl_m-1', pipelineId: 'etl', trigger: 'API', parameters: {}, queuedAt: '2026-11-23T20:00:00.000Z', status: RunStatus.SUCCEEDED, completedAt: '2026-11-23T20:05:00.000Z', transitions: [] };
const t = (s: number): number => Date.parse('2026-11-23T20:00:00.000Z') + s * 1000;
const line = (fields: object): string => JSON.stringify({ timestamp: 'x', level: 'INFO', pipelineId: 'etl', ...fields });

function deps(groups: Record<string, { timestamp: number; message: string }[]>): LogsDeps & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    filter: async (group, term, start, end) => {
      asked.push(group);
      return groups[group]?.filter((l) => l.message.includes(term) && l.timestamp >= start && l.timestamp <= end);
    },
    now: () => new Date(t(3600)),
  };
}

describe('a run’s log lines', () => {
  const groups = {
    '/aws/lambda/phi-etl_f0': [
      { timestamp: t(10), message: line({ message: 'attempt started', runId: 'etl_m-1', jobId: 'extract', attempt: 1 }) },
      { timestamp: t(30), message: line({ message: 'rows read', runId: 'etl_m-1', jobId: 'extract', attempt: 1, rows: 42 }) },
      { timestamp: t(20), message: line({ message: 'other run', runId: 'etl_m-2', jobId: 'extract', attempt: 1 }) },
    ],
    '/aws/lambda/phi-etl_f1': [{ timestamp: t(40), message: line({ message: 'loaded', runId: 'etl_m-1', jobId: 'load', attempt: 2 }) }, { timestamp: t(50), message: 'plain text naming etl_m-1\n' }],
    '/aws/lambda/phi-other_f0': [{ timestamp: t(15), message: line({ message: 'not this pipeline', runId: 'etl_m-1' }) }],
  };

  it('are read from its pipeline’s job functions’ log groups, oldest first, with job, attempt, level and fields; a text line as its text', async () => {
    const d = deps(groups);
    const page = await runLogs(RUN, {}, d);
    // Its functions in turn, until one does not exist.
    expect(d.asked).toEqual(['/aws/lambda/phi-etl_f0', '/aws/lambda/phi-etl_f1', '/aws/lambda/phi-etl_f2']);
    expect(page.events.map((e) => [e.jobId, e.attempt, e.message])).toEqual([['extract', 1, 'attempt started'], ['extract', 1, 'rows read'], ['load', 2, 'loaded'], [undefined, undefined, 'plain text naming etl_m-1']]);
    expect(page.events[1]).toMatchObject({ level: 'INFO', fields: { rows: 42 } });
    expect(page).toMatchObject({ runId: 'etl_m-1', ended: true, next: t(50) + 1 });
  });

  it('are one job’s with job, and those after since', async () => {
    expect((await runLogs(RUN, { job: 'extract' }, deps(groups))).events.map((e) => e.message)).toEqual(['attempt started', 'rows read']);
    expect((await runLogs(RUN, { since: t(30) + 1 }, deps(groups))).events.map((e) => e.message)).toEqual(['loaded', 'plain text naming etl_m-1']);
    expect(await runLogs(RUN, { since: t(51) }, deps(groups))).toMatchObject({ events: [], next: t(51) });
  });

  it('go on after the last line read, whichever job wrote it (one job’s page never stalls), cut between milliseconds, and a running run’s newest seconds read again', async () => {
    const many = { '/aws/lambda/phi-etl_f0': Array.from({ length: 1200 }, (_, i) => ({ timestamp: t(10) + Math.floor(i / 2), message: line({ message: `a${i}`, runId: 'etl_m-1', jobId: 'a' }) })) };
    const first = await runLogs(RUN, { job: 'b' }, deps(many));
    expect(first.events).toEqual([]);
    // 1,000 lines read, cut before the millisecond whose two lines straddle the limit.
    expect(first.next).toBe(t(10) + 500);
    const second = await runLogs(RUN, { since: first.next }, deps(many));
    expect(second.events.map((e) => e.message)[0]).toBe('a1000');
    const running = { ...RUN, status: RunStatus.RUNNING, completedAt: undefined } as RunRecord;
    const d = { ...deps({ '/aws/lambda/phi-etl_f0': [{ timestamp: t(3595), message: line({ message: 'new', runId: 'etl_m-1', jobId: 'a' }) }] }) };
    expect(await runLogs(running, {}, d)).toMatchObject({ ended: false, next: t(3590) });
  });

  it('print one line each: time, job#attempt, level, message, fields', () => {
    expect(formatLogEvent(logEventOf(t(30), line({ message: 'rows read', runId: 'etl_m-1', jobId: 'extract', attempt: 1, rows: 42 })))).toBe('2026-11-23T20:00:30.000Z  extract#1        INFO  rows read  rows=42');
  });

  it('print a metrics line with its values, without its embedded-metric directive', () => {
    const metrics = line({ message: 'metrics', runId: 'etl_m-1', jobId: 'load', attempt: 1, _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'Phi', Dimensions: [['pipeline', 'job']], Metrics: [{ Name: 'JobDuration', Unit: 'Milliseconds' }] }] }, job: 'load', JobDuration: 6 });
    expect(formatLogEvent(logEventOf(t(30), metrics))).toBe('2026-11-23T20:00:30.000Z  load#1           INFO  metrics  job=load JobDuration=6');
  });
});

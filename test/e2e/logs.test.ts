/**
 * `phi logs` on the emulator: a run of the shipped etl-fanout pipeline, then its jobs' log lines read
 * back from CloudWatch Logs through `GET /runs/{runId}/logs`: the runtime's and the handlers' own
 * (`ctx.log`), each with its job and attempt, oldest first, one job's with `job`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import type { RunLogEvent } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

describe('phi logs', () => {
  it('reads a run’s job lines, the handlers’ own among them, each with its job and attempt, oldest first', async () => {
    const { run } = await client.startRun('etl-fanout');
    expect((await client.waitForRun(run.runId, { timeoutMs: 90_000 })).run.status).toBe('SUCCEEDED');
    // CloudWatch Logs takes the lines a moment after they are written.
    let events: RunLogEvent[] = [];
    for (let i = 0; i < 30 && !events.some((e) => e.jobId === 'publish' && e.message === 'published'); i++) {
      events = (await client.runLogs(run.runId)).events;
      if (!events.some((e) => e.jobId === 'publish' && e.message === 'published')) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(events.find((e) => e.jobId === 'ingest' && e.message === 'ingested')).toMatchObject({ attempt: 1, level: 'INFO', fields: expect.objectContaining({ source: 'orders' }) });
    expect(new Set(events.filter((e) => e.message === 'attempt started').map((e) => e.jobId))).toEqual(new Set(['ingest', 'transform-clean', 'transform-enrich', 'transform-aggregate', 'publish']));
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort());
    const publish = (await client.runLogs(run.runId, { job: 'publish' })).events;
    expect(publish.length).toBeGreaterThan(0);
    expect(publish.every((e) => e.jobId === 'publish')).toBe(true);
  }, 150_000);
});

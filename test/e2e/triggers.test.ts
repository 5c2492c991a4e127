/**
 * Event triggers on the emulator (issue #9), through the shipped `landing` pipeline: a real S3 put into
 * its bucket (EventBridge notifications on) starts one run of its dataArrival trigger, and a custom
 * event put on the default bus starts one run of its event trigger, named after the event id.
 * The harness creates the bucket as root (the emulator's `test` key).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runIdFor } from '../../functions/control/trigger.ts';
import type { PhiClient } from '../../lib/client/client.ts';
import { RunHistoryResponseSchema, type RunRecord } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

const PIPELINE = 'landing';
const BUCKET = 'phi-landing';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

/** The pipeline's runs, newest first, until one matches (or the time is up). */
async function waitForRunWhere(match: (run: RunRecord) => boolean, timeoutMs = 60_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await client.request('GET', `/pipelines/${PIPELINE}/runs?trigger=EVENT&limit=50`);
    if (status === 200) {
      const found = RunHistoryResponseSchema.parse(body).runs.find(match);
      if (found) return found;
    }
    if (Date.now() > deadline) throw new Error(`no run of ${PIPELINE} matched within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('a dataArrival trigger', () => {
  it('starts one run for an object put under its prefix, with the bucket, key and size in its event parameter', async () => {
    const s3 = new S3Client({ forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((err: unknown) => {
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as { name?: string }).name ?? '')) throw err;
    });
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
    const key = `incoming/${Date.now()}.csv`;
    // Not under the prefix, and not a CSV: neither starts a run.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `elsewhere/${Date.now()}.csv`, Body: 'a,b\n' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `incoming/${Date.now()}.txt`, Body: 'a,b\n' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'a,b\n1,2\n' }));

    const run = await waitForRunWhere((r) => (r.parameters.event as { key?: string } | undefined)?.key === key);
    expect(run).toMatchObject({ trigger: 'EVENT', triggerId: 'files', parameters: { event: { source: 'aws.s3', detailType: 'Object Created', bucket: BUCKET, key, size: 8 } } });
    const view = await client.waitForRun(run.runId, { timeoutMs: 60_000 });
    expect(view.run.status).toBe('SUCCEEDED');
    const runs = RunHistoryResponseSchema.parse((await client.request('GET', `/pipelines/${PIPELINE}/runs?trigger=EVENT&limit=50`)).body).runs;
    expect(runs.filter((r) => r.triggerId === 'files' && !String((r.parameters.event as { key?: string }).key).startsWith('incoming/'))).toStrictEqual([]);
    expect(runs.filter((r) => (r.parameters.event as { key?: string }).key === key)).toHaveLength(1);
  });
});

describe('an event trigger', () => {
  it('starts one run, named after the event id, for a matching custom event, and none for one that does not match', async () => {
    const events = new EventBridgeClient({});
    const put = await events.send(new PutEventsCommand({
      Entries: [
        { Source: 'phi.example', DetailType: 'Batch Ready', Detail: JSON.stringify({ batch: 'b-42' }) },
        { Source: 'phi.example', DetailType: 'Batch Failed', Detail: JSON.stringify({ batch: 'b-43' }) },
      ],
    }));
    const [matching, other] = put.Entries ?? [];
    expect(matching?.EventId).toBeDefined();
    const runId = runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'batches', eventId: matching!.EventId! }, new Date());
    const run = await waitForRunWhere((r) => r.runId === runId);
    expect(run).toMatchObject({ triggerId: 'batches', eventId: matching!.EventId, parameters: { event: { source: 'phi.example', detailType: 'Batch Ready', detail: { batch: 'b-42' } } } });
    expect((await client.waitForRun(runId, { timeoutMs: 60_000 })).run.status).toBe('SUCCEEDED');
    const otherRunId = runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: 'batches', eventId: other!.EventId! }, new Date());
    expect((await client.request('GET', `/runs/${otherRunId}`)).status).toBe(404);
  });
});

describe('an event trigger with a batch window', () => {
  it('makes the events of its window one run, started when the window closes, listing them all, once', async () => {
    const events = new EventBridgeClient({});
    const tag = `t-${Date.now()}`;
    const put = await events.send(new PutEventsCommand({
      Entries: [1, 2, 3].map((n) => ({ Source: 'phi.example', DetailType: 'Item Ready', Detail: JSON.stringify({ tag, n }) })),
    }));
    const ids = (put.Entries ?? []).map((e) => e.EventId!);
    expect(ids).toHaveLength(3);
    const itemsOf = (r: RunRecord): { id?: string; detail?: { tag?: string } }[] => ((r.parameters.event as { events?: { id?: string; detail?: { tag?: string } }[] } | undefined)?.events ?? []);
    // Nothing before the window closes (10 s after the first event); then one run for the three.
    const run = await waitForRunWhere((r) => r.triggerId === 'items' && itemsOf(r).some((e) => e.detail?.tag === tag), 90_000);
    expect(run.parameters.event).toMatchObject({ type: 'batch', count: 3 });
    expect(itemsOf(run).map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(Date.parse(run.queuedAt) - Date.parse((run.parameters.event as { openedAt: string }).openedAt)).toBeGreaterThanOrEqual(10_000);
    expect((await client.waitForRun(run.runId, { timeoutMs: 60_000 })).run.status).toBe('SUCCEEDED');
    const runs = RunHistoryResponseSchema.parse((await client.request('GET', `/pipelines/${PIPELINE}/runs?trigger=EVENT&limit=50`)).body).runs;
    expect(runs.filter((r) => r.triggerId === 'items' && itemsOf(r).some((e) => e.detail?.tag === tag))).toHaveLength(1);
  }, 120_000);
});

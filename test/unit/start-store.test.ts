/**
 * What the start rules need of the records, run against the real `RecordStore` (over an in-memory
 * DynamoDB that evaluates its conditional writes) and the `MemoryRecordStore` the other tests use:
 * a run created SKIPPED, the atomic admission of active runs (`admitRun`, `countActiveRuns`) and the
 * history page (`listRunHistory`: newest first, filtered, after a cursor).
 */
import { describe, expect, it } from 'vitest';
import { RunStatus, type RunRecord, type StartDecision } from '../../lib/model/contract/index.ts';
import { ADMISSION_GRACE_SECONDS, HISTORY_SCAN_LIMIT, type RecordStore } from '../../functions/shared/records/store.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { MemoryRecordStore, type StoreMethods } from './support/memory-store.ts';

type Store = Pick<RecordStore, StoreMethods>;

const PIPELINE = 'daily-sales';
const AT = '2026-05-04T12:00:00.000Z';
const later = (seconds: number): string => new Date(Date.parse(AT) + seconds * 1000).toISOString();
const runId = (i: number, pipeline = PIPELINE): string => `${pipeline}_m-${String(i).padStart(4, '0')}`;

const SKIP: StartDecision = { decision: 'SKIP', reason: 'OUTSIDE_WINDOW', evaluatedAt: AT, checks: [{ rule: 'WINDOW', spec: 'Rule 17', outcome: 'FAILED', detail: 'outside' }] };

const newRun = (id: string, queuedAt = AT, extra: Partial<RunRecord> = {}): Omit<RunRecord, 'status' | 'transitions'> => ({ runId: id, pipelineId: id.slice(0, id.indexOf('_')), trigger: 'API', parameters: {}, queuedAt, ...extra });

const stores: [string, () => Store][] = [
  ['RecordStore over a DynamoDB in memory', () => recordStoreOver(new FakeDynamo())],
  ['MemoryRecordStore', () => new MemoryRecordStore()],
];

describe.each(stores)('start rules in the records: %s', (_name, make) => {
  describe('createRun with a SKIP decision', () => {
    it('records the run SKIPPED, ended as it is recorded, once', async () => {
      const store = make();
      const { created, run } = await store.createRun(newRun(runId(1), AT, { startDecision: SKIP }));
      expect(created).toBe(true);
      expect(run).toEqual({ ...newRun(runId(1), AT, { startDecision: SKIP }), status: RunStatus.SKIPPED, completedAt: AT, durationMs: 0, transitions: [{ status: RunStatus.SKIPPED, at: AT }] });
      expect(await store.getRun(runId(1))).toEqual(run);
      expect((await store.createRun(newRun(runId(1)))).created).toBe(false);
      // A skipped run never becomes RUNNING nor ends again.
      await store.markRunRunning({ runId: runId(1), pipelineId: PIPELINE, trigger: 'API', parameters: {} }, later(1));
      await store.finishRun(runId(1), { status: RunStatus.SUCCEEDED, at: later(2), jobs: {} });
      expect((await store.requireRun(runId(1))).status).toBe(RunStatus.SKIPPED);
    });
  });

  describe('admitRun / countActiveRuns (the limit on active runs)', () => {
    it('admits while fewer than the limit are admitted, again a run admitted before, and refuses beyond it with the count', async () => {
      const store = make();
      expect(await store.admitRun(PIPELINE, runId(1), 2, AT)).toEqual({ admitted: true, active: 0 });
      expect(await store.admitRun(PIPELINE, runId(1), 2, AT)).toEqual({ admitted: true, active: 0 });
      expect(await store.admitRun(PIPELINE, runId(2), 2, AT)).toEqual({ admitted: true, active: 1 });
      // Their records exist: neither has ended.
      await store.createRun(newRun(runId(1)));
      await store.createRun(newRun(runId(2)));
      expect(await store.admitRun(PIPELINE, runId(3), 2, AT)).toEqual({ admitted: false, active: 2 });
      expect(await store.admitRun(PIPELINE, runId(1), 2, AT)).toEqual({ admitted: true, active: 1 });
      expect(await store.countActiveRuns(PIPELINE, AT)).toBe(2);
      // Another pipeline has its own.
      expect(await store.admitRun('hourly-clicks', runId(1, 'hourly-clicks'), 1, AT)).toEqual({ admitted: true, active: 0 });
    });

    it('lets go of admitted runs that have ended (terminal, or skipped) when at the limit', async () => {
      const store = make();
      await store.admitRun(PIPELINE, runId(1), 1, AT);
      await store.createRun(newRun(runId(1)));
      await store.finishRun(runId(1), { status: RunStatus.FAILED, at: later(5), jobs: {} });
      expect(await store.countActiveRuns(PIPELINE, later(6))).toBe(0);
      expect(await store.admitRun(PIPELINE, runId(2), 1, later(6))).toEqual({ admitted: true, active: 0 });
      await store.createRun(newRun(runId(2)));
      expect(await store.admitRun(PIPELINE, runId(3), 1, later(7))).toEqual({ admitted: false, active: 1 });
    });

    it('keeps an admitted run without a record for the grace period (its record is on its way), then lets it go', async () => {
      const store = make();
      await store.admitRun(PIPELINE, runId(1), 1, AT);
      expect(await store.admitRun(PIPELINE, runId(2), 1, later(ADMISSION_GRACE_SECONDS - 1))).toEqual({ admitted: false, active: 1 });
      expect(await store.countActiveRuns(PIPELINE, later(ADMISSION_GRACE_SECONDS))).toBe(0);
      expect(await store.admitRun(PIPELINE, runId(2), 1, later(ADMISSION_GRACE_SECONDS))).toEqual({ admitted: true, active: 0 });
    });

    it('never admits more than the limit of concurrent callers, and admits again once room is made', async () => {
      const store = make();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.admitRun(PIPELINE, runId(i), 3, AT)));
      const admitted = results.flatMap((r, i) => (r.admitted ? [runId(i)] : []));
      expect(admitted).toHaveLength(3);
      expect(results.filter((r) => !r.admitted).every((r) => r.active >= 3)).toBe(true);
      for (const id of admitted) await store.createRun(newRun(id));
      await store.finishRun(admitted[0]!, { status: RunStatus.SUCCEEDED, at: later(1), jobs: {} });
      const again = await Promise.all(Array.from({ length: 10 }, (_, i) => store.admitRun(PIPELINE, runId(100 + i), 3, later(2))));
      expect(again.filter((r) => r.admitted)).toHaveLength(1);
    });
  });

  describe('listRunHistory', () => {
    /** Nine runs a minute apart: every third SKIPPED, every other by SCHEDULE. */
    async function seeded(): Promise<{ store: Store; ids: string[] }> {
      const store = make();
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) {
        const id = runId(i);
        ids.push(id);
        await store.createRun(newRun(id, later(i * 60), { trigger: i % 2 === 0 ? 'API' : 'SCHEDULE', ...(i % 3 === 0 ? { startDecision: SKIP } : {}) }));
      }
      await store.createRun(newRun(runId(1, 'hourly-clicks'), later(30)));
      return { store, ids };
    }

    it('answers the pipeline’s runs newest first, at most the limit, with where to go on', async () => {
      const { store, ids } = await seeded();
      const first = await store.listRunHistory(PIPELINE, { limit: 4 });
      expect(first.runs.map((r) => r.runId)).toEqual([ids[8], ids[7], ids[6], ids[5]]);
      expect(first.next).toBeDefined();
      const second = await store.listRunHistory(PIPELINE, { limit: 4, after: first.next! });
      expect(second.runs.map((r) => r.runId)).toEqual([ids[4], ids[3], ids[2], ids[1]]);
      const third = await store.listRunHistory(PIPELINE, { limit: 4, after: second.next! });
      expect(third).toEqual({ runs: [expect.objectContaining({ runId: ids[0] })] });
      expect((await store.listRunHistory(PIPELINE, { limit: 100 })).runs).toHaveLength(9);
    });

    it('filters by status and trigger, page by page', async () => {
      const { store, ids } = await seeded();
      expect((await store.listRunHistory(PIPELINE, { limit: 10, status: RunStatus.SKIPPED })).runs.map((r) => r.runId)).toEqual([ids[6], ids[3], ids[0]]);
      expect((await store.listRunHistory(PIPELINE, { limit: 10, trigger: 'SCHEDULE', status: RunStatus.PENDING })).runs.map((r) => r.runId)).toEqual([ids[7], ids[5], ids[1]]);
      const first = await store.listRunHistory(PIPELINE, { limit: 2, status: RunStatus.SKIPPED });
      expect(first.runs.map((r) => r.runId)).toEqual([ids[6], ids[3]]);
      const rest = await store.listRunHistory(PIPELINE, { limit: 2, status: RunStatus.SKIPPED, after: first.next! });
      expect(rest.runs.map((r) => r.runId)).toEqual([ids[0]]);
      expect(rest.next).toBeUndefined();
    });
  });
});

describe('listRunHistory reads at most HISTORY_SCAN_LIMIT runs a call, answering where to go on', () => {
  it.each(stores)('%s', async (_name, make) => {
    const store = make();
    const total = HISTORY_SCAN_LIMIT + 20;
    for (let i = 0; i < total; i++) await store.createRun(newRun(runId(i), later(i), i === 3 ? { trigger: 'SCHEDULE' } : {}));
    // The one scheduled run is the 4th oldest: past the first call's reach, newest first.
    const first = await store.listRunHistory(PIPELINE, { limit: 5, trigger: 'SCHEDULE' });
    expect(first.runs).toEqual([]);
    expect(first.next).toBeDefined();
    const second = await store.listRunHistory(PIPELINE, { limit: 5, trigger: 'SCHEDULE', after: first.next! });
    expect(second.runs.map((r) => r.runId)).toEqual([runId(3)]);
    expect(second.next).toBeUndefined();
  }, 60_000);
});

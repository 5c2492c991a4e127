/**
 * Start rules applied where runs start (`startRun`, `planStart` and the control API's
 * `POST|GET /pipelines/{id}/runs`), against the in-memory record store and an in-memory Step Functions:
 * a refused start is recorded SKIPPED with its reason and checks and never executed, a late scheduled
 * delivery is recorded late, `force` and `dryRun`, the limit on active runs under concurrent starts,
 * and the pipeline's history, newest first, filtered and paginated.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { route, type ApiDeps } from '../../functions/control/api.ts';
import { planStart, startRun, type RunRequest, type TriggerDeps } from '../../functions/control/trigger.ts';
import { ApiErrorCode, CheckOutcome, DryRunResponseSchema, RunHistoryResponseSchema, RunStatus, StartRunResponseSchema, type RunRecord, type StartRules } from '../../lib/model/contract/index.ts';
import { captureLogs, MemoryRecordStore } from './support/memory-store.ts';
import { quietCancelDeps } from './support/cancel-deps.ts';

const PIPELINE = 'daily-sales';
const OTHER = 'hourly-clicks';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-daily-sales';
/** A Monday, inside the 06:00–22:00 London window (BST: 13:00 local). */
const INSIDE = '2026-05-04T12:00:00.000Z';
/** The same Monday, 23:30 in London: outside it. */
const OUTSIDE = '2026-05-04T22:30:00.000Z';

const WINDOWED: StartRules = { windows: [{ start: '06:00', end: '22:00', timezone: 'Europe/London' }], toleranceSeconds: 60, maxLatenessSeconds: 600 };

/** The trigger and the API over one store; `at` is what the clock answers (changeable mid-test). */
function world(rules: StartRules = WINDOWED, at = INSIDE) {
  const store = new MemoryRecordStore();
  const started: string[] = [];
  const clockAt = { now: at };
  const { log, lines } = captureLogs({ component: 'control-api' });
  const trigger: TriggerDeps = {
    store,
    startExecution: async (_arn, name) => {
      // Every await lets other starts run in between, as concurrent Lambda invocations would.
      await new Promise((r) => setTimeout(r, 0));
      if (!started.includes(name)) started.push(name);
    },
    stateMachines: new Map([
      [PIPELINE, STATE_MACHINE],
      [OTHER, 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-hourly-clicks'],
    ]),
    startRules: new Map([[PIPELINE, rules]]),
    log,
    now: () => new Date(clockAt.now),
  };
  const cancel = quietCancelDeps(store, log, trigger.now);
  const api: ApiDeps = { trigger, store, cancel };
  return { store, started, trigger, api, lines, clockAt };
}

type Event = Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource' | 'pathParameters' | 'body' | 'queryStringParameters'>;
const post = (body: unknown, id = PIPELINE): Event => ({ httpMethod: 'POST', resource: '/pipelines/{id}/runs', pathParameters: { id }, body: JSON.stringify(body), queryStringParameters: null });
const history = (query: Record<string, string> = {}, id = PIPELINE): Event => ({ httpMethod: 'GET', resource: '/pipelines/{id}/runs', pathParameters: { id }, body: null, queryStringParameters: query });
const json = (res: APIGatewayProxyResult): unknown => JSON.parse(res.body);
const scheduled = (scheduledTime: string): RunRequest => ({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime });

describe('startRun: a start its rules refuse is recorded SKIPPED, with the reason, and never executed', () => {
  it('records a scheduled delivery outside every window SKIPPED (OUTSIDE_WINDOW), ended at once, with every check', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const { created, run } = await startRun(scheduled('2026-05-04T22:30:00Z'), w.trigger);
    expect(created).toBe(true);
    expect(run).toMatchObject({ status: RunStatus.SKIPPED, queuedAt: OUTSIDE, completedAt: OUTSIDE, durationMs: 0, transitions: [{ status: RunStatus.SKIPPED, at: OUTSIDE }] });
    expect(run.startDecision).toMatchObject({ decision: 'SKIP', reason: 'OUTSIDE_WINDOW', evaluatedAt: OUTSIDE });
    expect(run.startDecision?.checks.map((c) => [c.rule, c.outcome])).toEqual([
      ['PAUSE', CheckOutcome.PASSED],
      ['WINDOW', CheckOutcome.FAILED],
      ['SCHEDULE', CheckOutcome.NOT_EVALUATED],
      ['DEPENDENCIES', CheckOutcome.NOT_EVALUATED],
      ['CONCURRENCY', CheckOutcome.NOT_EVALUATED],
    ]);
    expect(run.executionArn).toBeUndefined();
    expect(w.started).toEqual([]);
    expect(await w.store.getRun(run.runId)).toEqual(run);
    expect(w.lines.filter((l) => l.message !== 'metrics').map((l) => [l.message, l.reason])).toEqual([['run skipped', 'OUTSIDE_WINDOW']]);
    // Counted once, as a refused start of its pipeline.
    expect(w.lines.filter((l) => l.message === 'metrics')).toEqual([expect.objectContaining({ pipeline: run.pipelineId, RunsSkipped: 1 })]);
  });

  it('keeps a skipped run skipped when its delivery comes again (inside the window now): one record, no execution', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const first = await startRun(scheduled('2026-05-04T22:30:00Z'), w.trigger);
    w.clockAt.now = '2026-05-05T06:30:00.000Z';
    const again = await startRun(scheduled('2026-05-04T22:30:00Z'), w.trigger);
    expect(again).toEqual({ created: false, run: first.run });
    expect(w.store.runCount).toBe(1);
    expect(w.started).toEqual([]);
  });

  it('records a delivery past its maximum lateness SKIPPED (TOO_LATE), with its lateness', async () => {
    const w = world(WINDOWED, INSIDE);
    const { run } = await startRun(scheduled('2026-05-04T11:49:59Z'), w.trigger);
    expect(run.status).toBe(RunStatus.SKIPPED);
    expect(run.startDecision).toMatchObject({ decision: 'SKIP', reason: 'TOO_LATE', late: true, latenessSeconds: 601 });
    expect(w.started).toEqual([]);
  });

  it('starts a late but tolerated delivery, recorded late with its lateness', async () => {
    const w = world(WINDOWED, INSIDE);
    const { run } = await startRun(scheduled('2026-05-04T11:55:00Z'), w.trigger);
    expect(run.status).toBe(RunStatus.PENDING);
    expect(run.startDecision).toMatchObject({ decision: 'START', late: true, latenessSeconds: 300 });
    expect(w.started).toEqual([run.runId]);
    expect(w.lines.at(-1)).toMatchObject({ message: 'run queued', late: true, latenessSeconds: 300 });
  });

  it('starts an on-time delivery, recorded not late', async () => {
    const w = world(WINDOWED, INSIDE);
    const { run } = await startRun(scheduled('2026-05-04T11:59:30Z'), w.trigger);
    expect(run.startDecision).toMatchObject({ decision: 'START', late: false, latenessSeconds: 30 });
  });

  it('keeps the first decision of a run already started: a delivery repeated too late starts (the same) execution again', async () => {
    const w = world(WINDOWED, INSIDE);
    const first = await startRun(scheduled('2026-05-04T11:59:30Z'), w.trigger);
    w.clockAt.now = '2026-05-04T13:00:00.000Z';
    const again = await startRun(scheduled('2026-05-04T11:59:30Z'), w.trigger);
    expect(again.created).toBe(false);
    expect(again.run.status).toBe(RunStatus.PENDING);
    expect(again.run.startDecision).toEqual(first.run.startDecision);
    expect(w.started).toEqual([first.run.runId]);
  });

  it('applies windows to API starts too; force starts outside them, recorded as forced', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const refused = await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger);
    expect(refused.run).toMatchObject({ status: RunStatus.SKIPPED, startDecision: { reason: 'OUTSIDE_WINDOW' } });
    const forced = await startRun({ pipelineId: PIPELINE, trigger: 'API', force: true }, w.trigger);
    expect(forced.run).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'START', forced: true, checks: [{ rule: 'PAUSE' }, { rule: 'WINDOW', outcome: CheckOutcome.BYPASSED }, {}, {}, {}] } });
    expect(w.started).toEqual([forced.run.runId]);
  });

  it('gives a pipeline without rules every default: any time, not late within 60 s, no limit', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const { run } = await startRun({ pipelineId: OTHER, trigger: 'SCHEDULE', scheduledTime: '2026-05-04T22:29:00Z' }, w.trigger);
    expect(run.status).toBe(RunStatus.PENDING);
    expect(run.startDecision).toMatchObject({ decision: 'START', late: false, latenessSeconds: 60 });
    expect(run.startDecision?.checks.map((c) => c.outcome)).toEqual([CheckOutcome.PASSED, CheckOutcome.NOT_APPLICABLE, CheckOutcome.PASSED, CheckOutcome.NOT_APPLICABLE, CheckOutcome.NOT_APPLICABLE]);
  });

  it('does not reopen a run whose execution failed to start when its rules now refuse it', async () => {
    const w = world(WINDOWED, INSIDE);
    const failing: TriggerDeps = { ...w.trigger, startExecution: async () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })) };
    await expect(startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, failing)).rejects.toMatchObject({ code: ApiErrorCode.RUN_START_FAILED });
    w.clockAt.now = OUTSIDE;
    const { created, run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    expect(created).toBe(false);
    expect(run).toMatchObject({ status: RunStatus.FAILED, error: { code: 'RUN_START_FAILED' } });
    expect(w.started).toEqual([]);
    // Inside the window again, the same key reopens and starts it.
    w.clockAt.now = INSIDE;
    expect((await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger)).run.status).toBe(RunStatus.PENDING);
    expect(w.started).toEqual([run.runId]);
  });
});

describe('startRun: skip if running (spec Rule 3), admitted atomically', () => {
  const ONE: StartRules = { maxActiveRuns: 1 };

  it('skips a start while a run is active (ALREADY_RUNNING, with the count), and starts one once it has ended', async () => {
    const w = world(ONE);
    const first = await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger);
    expect(first.run.startDecision).toMatchObject({ decision: 'START', activeRuns: 0 });
    const second = await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger);
    expect(second.run).toMatchObject({ status: RunStatus.SKIPPED, startDecision: { decision: 'SKIP', reason: 'ALREADY_RUNNING', activeRuns: 1 } });
    await w.store.markRunRunning({ runId: first.run.runId, pipelineId: PIPELINE, trigger: 'API', parameters: {} }, INSIDE);
    expect((await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger)).run.status).toBe(RunStatus.SKIPPED);
    await w.store.finishRun(first.run.runId, { status: RunStatus.SUCCEEDED, at: INSIDE, jobs: {} });
    const third = await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger);
    expect(third.run).toMatchObject({ status: RunStatus.PENDING, startDecision: { decision: 'START', activeRuns: 0 } });
    expect(w.started).toEqual([first.run.runId, third.run.runId]);
    expect(w.store.admittedRuns(PIPELINE)).toEqual([third.run.runId]);
  });

  it('counts the other pipelines’ runs apart', async () => {
    const w = world(ONE);
    await startRun({ pipelineId: OTHER, trigger: 'API' }, w.trigger);
    expect((await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger)).run.status).toBe(RunStatus.PENDING);
  });

  it.each([1, 3])('never passes a limit of %i under 20 concurrent deliveries: the rest are recorded SKIPPED', async (limit) => {
    const w = world({ maxActiveRuns: limit });
    const times = Array.from({ length: 20 }, (_, i) => `2026-05-04T11:${String(40 + i).padStart(2, '0')}:00Z`);
    const results = await Promise.all(times.map((t) => startRun(scheduled(t), w.trigger)));
    const byStatus = (status: string): RunRecord[] => results.map((r) => r.run).filter((r) => r.status === status);
    expect(byStatus(RunStatus.PENDING)).toHaveLength(limit);
    expect(byStatus(RunStatus.SKIPPED)).toHaveLength(20 - limit);
    expect(byStatus(RunStatus.SKIPPED).every((r) => r.startDecision?.reason === 'ALREADY_RUNNING' && (r.startDecision.activeRuns ?? 0) >= limit)).toBe(true);
    expect(w.started).toHaveLength(limit);
    expect(w.store.runCount).toBe(20);
  });

  it('counts a duplicate delivery of an admitted run once', async () => {
    const w = world({ maxActiveRuns: 1 });
    const results = await Promise.all(Array.from({ length: 5 }, () => startRun(scheduled('2026-05-04T11:59:00Z'), w.trigger)));
    expect(new Set(results.map((r) => r.run.runId)).size).toBe(1);
    expect(results.every((r) => r.run.status === RunStatus.PENDING)).toBe(true);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(w.started).toHaveLength(1);
  });

  it('lets go of a run whose execution could not be started (it is FAILED, no longer active)', async () => {
    const w = world(ONE);
    const failing: TriggerDeps = { ...w.trigger, startExecution: async () => Promise.reject(new Error('boom')) };
    await expect(startRun({ pipelineId: PIPELINE, trigger: 'API' }, failing)).rejects.toMatchObject({ code: ApiErrorCode.RUN_START_FAILED });
    expect((await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger)).run.status).toBe(RunStatus.PENDING);
  });
});

describe('planStart and POST /pipelines/{id}/runs { dryRun: true }: the decision, nothing recorded or started', () => {
  it('answers 200 with the decision, the checks and the parameters, writing nothing', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const res = await route(post({ dryRun: true }), w.api);
    expect(res.statusCode).toBe(200);
    const body = DryRunResponseSchema.parse(json(res));
    expect(body).toMatchObject({ dryRun: true, pipelineId: PIPELINE, parameters: {}, decision: { decision: 'SKIP', reason: 'OUTSIDE_WINDOW', evaluatedAt: OUTSIDE } });
    expect(body.decision.checks).toHaveLength(5);
    expect(w.store.writes).toEqual([]);
    expect(w.started).toEqual([]);
  });

  it('with force, says it would start (forced)', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const body = DryRunResponseSchema.parse(json(await route(post({ dryRun: true, force: true }), w.api)));
    expect(body.decision).toMatchObject({ decision: 'START', forced: true });
    expect(w.store.writes).toEqual([]);
  });

  it('counts the active runs without admitting one', async () => {
    const w = world({ maxActiveRuns: 1 });
    expect((await planStart({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger)).decision).toMatchObject({ decision: 'START', activeRuns: 0 });
    await startRun({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger);
    const writes = w.store.writes.length;
    expect((await planStart({ pipelineId: PIPELINE, trigger: 'API' }, w.trigger)).decision).toMatchObject({ decision: 'SKIP', reason: 'ALREADY_RUNNING', activeRuns: 1 });
    expect(w.store.writes).toHaveLength(writes);
  });

  it('refuses parameters the pipeline does not allow (400) and an undeployed pipeline (404), as a start would', async () => {
    const w = world();
    const bad = await route(post({ dryRun: true, parameters: { nope: 1 } }), w.api);
    expect(bad.statusCode).toBe(400);
    expect(json(bad)).toMatchObject({ error: { code: ApiErrorCode.INVALID_PARAMETERS } });
    expect((await route(post({ dryRun: true }, 'ghost'), w.api)).statusCode).toBe(404);
    expect((await route(post({ dryRun: 'yes' }), w.api)).statusCode).toBe(400);
    expect(w.store.writes).toEqual([]);
  });

  it('records a refused API start SKIPPED (201, created) and answers the skip', async () => {
    const w = world(WINDOWED, OUTSIDE);
    const res = await route(post({}), w.api);
    expect(res.statusCode).toBe(201);
    expect(StartRunResponseSchema.parse(json(res)).run).toMatchObject({ status: RunStatus.SKIPPED, trigger: 'API', startDecision: { reason: 'OUTSIDE_WINDOW' } });
    const forced = await route(post({ force: true }), w.api);
    expect(StartRunResponseSchema.parse(json(forced)).run).toMatchObject({ status: RunStatus.PENDING, startDecision: { forced: true } });
  });
});

describe('GET /pipelines/{id}/runs: the pipeline’s history, newest first, filtered, paginated', () => {
  /** Seven runs, one a minute from 12:00: even minutes API (started), odd minutes outside the window (skipped) by schedule. */
  async function seeded() {
    const w = world({ maxLatenessSeconds: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      w.clockAt.now = `2026-05-04T12:0${i}:00.000Z`;
      const req: RunRequest = i % 2 === 0 ? { pipelineId: PIPELINE, trigger: 'API' } : scheduled(`2026-05-04T11:0${i}:00Z`);
      ids.push((await startRun(req, w.trigger)).run.runId);
    }
    await startRun({ pipelineId: OTHER, trigger: 'API' }, w.trigger);
    return { w, ids };
  }
  const page = async (w: ReturnType<typeof world>, query: Record<string, string> = {}) => {
    const res = await route(history(query), w.api);
    expect(res.statusCode, res.body).toBe(200);
    return RunHistoryResponseSchema.parse(json(res));
  };

  it('lists every run of the pipeline, newest first, skipped ones included, and no other pipeline’s', async () => {
    const { w, ids } = await seeded();
    const all = await page(w);
    expect(all.pipelineId).toBe(PIPELINE);
    expect(all.runs.map((r) => r.runId)).toEqual([...ids].reverse());
    expect(all.next).toBeUndefined();
    expect(all.runs.filter((r) => r.status === RunStatus.SKIPPED).map((r) => r.startDecision?.reason)).toEqual(['TOO_LATE', 'TOO_LATE', 'TOO_LATE']);
  });

  it('filters by status and by trigger', async () => {
    const { w, ids } = await seeded();
    expect((await page(w, { status: 'SKIPPED' })).runs.map((r) => r.runId)).toEqual([ids[5], ids[3], ids[1]]);
    expect((await page(w, { trigger: 'API' })).runs.map((r) => r.runId)).toEqual([ids[6], ids[4], ids[2], ids[0]]);
    expect((await page(w, { trigger: 'API', status: 'SKIPPED' })).runs).toEqual([]);
  });

  it('pages by an opaque cursor, each run once, until there is no next', async () => {
    const { w, ids } = await seeded();
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const p = await page(w, { limit: '2', ...(next ? { next } : {}) });
      seen.push(...p.runs.map((r) => r.runId));
      next = p.next;
      pages++;
    } while (next);
    expect(pages).toBe(4);
    expect(seen).toEqual([...ids].reverse());
    // Filtered pages too.
    const first = await page(w, { status: 'PENDING', limit: '3' });
    expect(first.runs.map((r) => r.runId)).toEqual([ids[6], ids[4], ids[2]]);
    const second = await page(w, { status: 'PENDING', limit: '3', next: first.next! });
    expect(second.runs.map((r) => r.runId)).toEqual([ids[0]]);
    expect(second.next).toBeUndefined();
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ status: 'DONE' }, 'status'],
    [{ trigger: 'CRON' }, 'trigger'],
    [{ color: 'red' }, ''],
    [{ next: 'not-a-cursor' }, 'next'],
  ])('answers 400 API_002_INVALID_REQUEST for %j', async (query, path) => {
    const { w } = await seeded();
    const res = await route(history(query), w.api);
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ error: { code: ApiErrorCode.INVALID_REQUEST, issues: [expect.objectContaining({ path })] } });
  });

  it('refuses another pipeline’s cursor, and answers 404 for a pipeline it does not have', async () => {
    const { w } = await seeded();
    for (let i = 0; i < 3; i++) await startRun({ pipelineId: OTHER, trigger: 'API' }, w.trigger);
    const other = RunHistoryResponseSchema.parse(json(await route(history({ limit: '1' }, OTHER), w.api)));
    expect(other.next).toBeDefined();
    expect((await route(history({ next: other.next! }), w.api)).statusCode).toBe(400);
    const missing = await route(history({}, 'ghost'), w.api);
    expect(missing.statusCode).toBe(404);
    expect(json(missing)).toMatchObject({ error: { code: ApiErrorCode.PIPELINE_NOT_FOUND } });
  });
});

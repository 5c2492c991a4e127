/**
 * Pause and resume without a deploy (`phi pause`, the spec's SCHEDULER_ENABLED / PAUSE_SCHEDULING) and
 * the audit log: the PAUSE check of `evaluateStart`, `startRun` for scheduled, event and manual starts
 * of a paused pipeline, the control API's pause, resume, paused and audit routes (and the audit records
 * of starts, cancels and dead-letter retries, each with the caller), the records table's layout of both
 * (against the fake DynamoDB), and `phi pause|resume|paused|audit`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answer, route, type ApiDeps } from '../../functions/control/api.ts';
import { startEventRun, startRun, type TriggerDeps } from '../../functions/control/trigger.ts';
import { auditMonths, AUDIT_SCAN_LIMIT } from '../../functions/shared/records/store.ts';
import { ALL_PIPELINES, ApiErrorCode, AuditAction, CheckOutcome, RunStatus, StartRule, type AuditRecord, type AuditResponse, type PauseState, type RunRecord } from '../../lib/model/contract/index.ts';
import { evaluateStart, pauseOf } from '../../lib/model/start-rules.ts';
import { parseOperate, runOperate } from '../../lib/cli/pause.ts';
import { ExitCode, main } from '../../lib/cli/main.ts';
import { PhiClient } from '../../lib/client/client.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';
import { quietCancelDeps } from './support/cancel-deps.ts';

const PIPELINE = 'daily-sales';
const OTHER = 'hourly-clicks';
const NOW = '2026-11-23T10:00:00.000Z';
const OPERATOR = 'arn:aws:iam::123456789012:user/alice';
const VIEWER = 'arn:aws:iam::123456789012:user/bob';
const FLAG = { by: OPERATOR, at: NOW, reason: 'upstream outage' };

function world(...instants: string[]) {
  const store = new MemoryRecordStore();
  const { log, lines } = captureLogs({ component: 'control-api' });
  const started: string[] = [];
  const trigger: TriggerDeps = {
    store,
    startExecution: async (_arn, name) => void started.push(name),
    stateMachines: new Map([
      [PIPELINE, `arn:aws:states:us-east-1:123456789012:stateMachine:phi-${PIPELINE}`],
      [OTHER, `arn:aws:states:us-east-1:123456789012:stateMachine:phi-${OTHER}`],
    ]),
    log,
    now: clock(...(instants.length > 0 ? instants : [NOW])),
  };
  const cancel = quietCancelDeps(store, log, trigger.now);
  const api: ApiDeps = { trigger, store, cancel, audit: store };
  return { store, trigger, api, started, lines };
}

type RouteEvent = Parameters<typeof route>[0];
const as = (caller: string, event: Omit<RouteEvent, 'requestContext'>): RouteEvent => ({ ...event, requestContext: { identity: { userArn: caller } } as unknown as APIGatewayProxyEvent['requestContext'] });
const post = (resource: string, pathParameters: Record<string, string> | null, body: unknown = {}, caller = OPERATOR): RouteEvent =>
  as(caller, { httpMethod: 'POST', resource, pathParameters, body: body === null ? null : JSON.stringify(body) });
const get = (resource: string, pathParameters: Record<string, string> | null, query: Record<string, string> | null = null, caller = VIEWER): RouteEvent =>
  ({ ...as(caller, { httpMethod: 'GET', resource, pathParameters, body: null }), queryStringParameters: query });
const bodyOf = <T>(res: APIGatewayProxyResult): T => JSON.parse(res.body) as T;

const scheduled = (time: string) => ({ pipelineId: PIPELINE, trigger: 'SCHEDULE' as const, scheduledTime: time, scheduleId: 'default' });
const delivery = (eventId: string) => ({
  pipelineId: PIPELINE,
  triggerId: 'orders',
  triggerType: 'event' as const,
  event: { id: eventId, source: 'my.app', 'detail-type': 'Order Placed', time: NOW, detail: {} },
});

describe('evaluateStart: the PAUSE check (SCHEDULER_ENABLED), first of all', () => {
  const now = new Date(NOW);

  it('passes when nothing is paused, listed first with the spec name it applies', () => {
    const d = evaluateStart({ trigger: 'SCHEDULE', scheduledTime: NOW, now });
    expect(d.checks[0]).toEqual({ rule: StartRule.PAUSE, spec: 'SCHEDULER_ENABLED', outcome: CheckOutcome.PASSED, detail: 'the pipeline is not paused' });
  });

  it.each(['SCHEDULE', 'EVENT', 'UPSTREAM'] as const)('refuses a %s start of a paused pipeline (PAUSED), the later rules not evaluated, whatever force says', (trigger) => {
    const d = evaluateStart({ trigger, now, scheduledTime: NOW, pause: { flag: FLAG, global: false }, rules: { windows: [{ start: '00:00', end: '24:00', timezone: 'UTC' }], maxActiveRuns: 1 }, activeRuns: 0, force: true });
    expect(d).toMatchObject({ decision: 'SKIP', reason: 'PAUSED' });
    expect(d.checks.map((c) => [c.rule, c.outcome])).toEqual([
      ['PAUSE', CheckOutcome.FAILED],
      ['WINDOW', CheckOutcome.NOT_EVALUATED],
      ['SCHEDULE', CheckOutcome.NOT_EVALUATED],
      ['DEPENDENCIES', CheckOutcome.NOT_EVALUATED],
      ['CONCURRENCY', CheckOutcome.NOT_EVALUATED],
    ]);
    expect(d.checks[0]!.detail).toBe(`the pipeline is paused (by ${OPERATOR} at ${NOW}: upstream outage): its ${trigger} deliveries are recorded, not run, until it is resumed`);
    expect(d.activeRuns).toBeUndefined();
  });

  it.each(['API', 'MANUAL', 'BACKFILL', 'RETRY'] as const)('lets a %s start go on (the pause does not apply to it), the other rules deciding', (trigger) => {
    const d = evaluateStart({ trigger, now, pause: { flag: FLAG, global: true } });
    expect(d.decision).toBe('START');
    expect(d.checks[0]).toMatchObject({ rule: 'PAUSE', outcome: CheckOutcome.NOT_APPLICABLE, detail: expect.stringContaining(`every pipeline is paused (by ${OPERATOR}`) });
  });

  it('pauseOf: the global pause holds before a pipeline’s own; neither, nothing', () => {
    const own = { ...FLAG, reason: 'own' };
    expect(pauseOf({ pipelines: {} }, PIPELINE)).toBeUndefined();
    expect(pauseOf({ pipelines: { [OTHER]: own } }, PIPELINE)).toBeUndefined();
    // A pipeline named like an Object property is paused only when it is.
    for (const id of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(pauseOf({ pipelines: {} }, id)).toBeUndefined();
    expect(pauseOf({ pipelines: { [PIPELINE]: own } }, PIPELINE)).toEqual({ flag: own, global: false });
    expect(pauseOf({ all: FLAG, pipelines: { [PIPELINE]: own } }, PIPELINE)).toEqual({ flag: FLAG, global: true });
  });
});

describe('startRun while paused: deliveries recorded SKIPPED (PAUSED), never executed; resumed, they start again', () => {
  const audit = (action: 'PAUSE' | 'RESUME', pipeline: string): AuditRecord => ({ id: `${action}-${pipeline}`, action, pipeline, by: OPERATOR, at: NOW });

  it('records a paused pipeline’s scheduled and event deliveries SKIPPED with reason PAUSED, and starts the other pipelines’', async () => {
    const w = world();
    await w.store.setPause(PIPELINE, FLAG, audit('PAUSE', PIPELINE));
    const { created, run } = await startRun(scheduled('2026-11-23T10:00:00Z'), w.trigger);
    expect(created).toBe(true);
    expect(run).toMatchObject({ status: RunStatus.SKIPPED, startDecision: { decision: 'SKIP', reason: 'PAUSED' } });
    expect(run.executionArn).toBeUndefined();
    const event = await startEventRun(delivery('ev-1'), w.trigger);
    expect(event.debounced ? undefined : event.run).toMatchObject({ status: RunStatus.SKIPPED, trigger: 'EVENT', startDecision: { reason: 'PAUSED' } });
    expect(w.started).toEqual([]);
    // Another pipeline is not held.
    const other = await startRun({ ...scheduled('2026-11-23T10:00:00Z'), pipelineId: OTHER }, w.trigger);
    expect(other.run.status).toBe(RunStatus.PENDING);
    expect(w.started).toEqual([other.run.runId]);
    // Each skipped delivery is in the pipeline's history.
    const history = await w.store.listRunHistory(PIPELINE, { limit: 10, status: RunStatus.SKIPPED });
    expect(history.runs.map((r) => r.startDecision?.reason)).toEqual(['PAUSED', 'PAUSED']);
  });

  it('starts the next delivery once resumed; a delivery recorded while paused keeps its decision when redelivered', async () => {
    const w = world();
    await w.store.setPause(PIPELINE, FLAG, audit('PAUSE', PIPELINE));
    const paused = await startRun(scheduled('2026-11-23T09:00:00Z'), w.trigger);
    await w.store.setPause(PIPELINE, undefined, audit('RESUME', PIPELINE));
    const next = await startRun(scheduled('2026-11-23T10:00:00Z'), w.trigger);
    expect(next.run.status).toBe(RunStatus.PENDING);
    expect(next.run.startDecision?.checks[0]).toMatchObject({ rule: 'PAUSE', outcome: CheckOutcome.PASSED });
    const again = await startRun(scheduled('2026-11-23T09:00:00Z'), w.trigger);
    expect(again).toEqual({ created: false, run: paused.run });
    expect(w.started).toEqual([next.run.runId]);
  });

  it('holds every pipeline under the global pause; resuming one pipeline does not lift it, resuming --all does', async () => {
    const w = world();
    await w.store.setPause(ALL_PIPELINES, FLAG, audit('PAUSE', ALL_PIPELINES));
    await w.store.setPause(PIPELINE, undefined, audit('RESUME', PIPELINE));
    for (const pipelineId of [PIPELINE, OTHER]) {
      const { run } = await startRun({ ...scheduled('2026-11-23T09:00:00Z'), pipelineId }, w.trigger);
      expect(run).toMatchObject({ status: RunStatus.SKIPPED, startDecision: { reason: 'PAUSED', checks: [{ detail: expect.stringContaining('every pipeline is paused') }, {}, {}, {}, {}] } });
    }
    await w.store.setPause(ALL_PIPELINES, undefined, audit('RESUME', ALL_PIPELINES));
    expect((await startRun(scheduled('2026-11-23T10:00:00Z'), w.trigger)).run.status).toBe(RunStatus.PENDING);
  });

  it('lets a manual start through the API go on while paused, the pause noted in its checks', async () => {
    const w = world();
    await w.store.setPause(PIPELINE, FLAG, audit('PAUSE', PIPELINE));
    const res = await route(post('/pipelines/{id}/runs', { id: PIPELINE }, {}), w.api);
    expect(res.statusCode).toBe(201);
    const { run } = bodyOf<{ run: RunRecord }>(res);
    expect(run.status).toBe(RunStatus.PENDING);
    expect(run.startDecision?.checks[0]).toMatchObject({ rule: 'PAUSE', outcome: CheckOutcome.NOT_APPLICABLE });
    expect(w.started).toEqual([run.runId]);
  });
});

describe('the control API: pause, resume, paused, audit', () => {
  it('pauses and resumes a pipeline, answering its state, each written to the audit log with the caller', async () => {
    const w = world('2026-11-23T10:00:00.000Z', '2026-11-23T11:00:00.000Z');
    const paused = await route(post('/pipelines/{id}/pause', { id: PIPELINE }, { reason: 'upstream outage' }), w.api);
    expect(paused.statusCode).toBe(200);
    expect(bodyOf<PauseState>(paused)).toEqual({ pipelineId: PIPELINE, paused: true, pipeline: { by: OPERATOR, at: '2026-11-23T10:00:00.000Z', reason: 'upstream outage' } });
    expect(bodyOf<PauseState>(await route(get('/pipelines/{id}/paused', { id: PIPELINE }), w.api))).toMatchObject({ paused: true });
    expect(bodyOf<PauseState>(await route(get('/pipelines/{id}/paused', { id: OTHER }), w.api))).toEqual({ pipelineId: OTHER, paused: false });
    const resumed = await route(post('/pipelines/{id}/resume', { id: PIPELINE }, {}, VIEWER), w.api);
    expect(bodyOf<PauseState>(resumed)).toEqual({ pipelineId: PIPELINE, paused: false });
    expect(w.store.audit).toEqual([
      { id: expect.any(String), action: 'PAUSE', pipeline: PIPELINE, by: OPERATOR, at: '2026-11-23T10:00:00.000Z', reason: 'upstream outage' },
      { id: expect.any(String), action: 'RESUME', pipeline: PIPELINE, by: VIEWER, at: '2026-11-23T11:00:00.000Z' },
    ]);
  });

  it('pauses every pipeline (POST /pause) and resumes them (POST /resume): a pipeline’s state shows the global pause', async () => {
    const w = world();
    const all = await route(post('/pause', null, { reason: 'incident 42' }), w.api);
    expect(bodyOf<PauseState>(all)).toEqual({ pipelineId: '*', paused: true, all: { by: OPERATOR, at: NOW, reason: 'incident 42' } });
    expect(bodyOf<PauseState>(await route(get('/pipelines/{id}/paused', { id: OTHER }), w.api))).toEqual({ pipelineId: OTHER, paused: true, all: { by: OPERATOR, at: NOW, reason: 'incident 42' } });
    expect(bodyOf<PauseState>(await route(post('/resume', null, null), w.api))).toEqual({ pipelineId: '*', paused: false });
    expect(w.store.audit.map((r) => [r.action, r.pipeline])).toEqual([['PAUSE', '*'], ['RESUME', '*']]);
  });

  it('refuses an unknown pipeline (404), a body that is not { reason? } (400), and records nothing', async () => {
    const w = world();
    expect(bodyOf<{ error: { code: string } }>(await route(post('/pipelines/{id}/pause', { id: 'nope' }), w.api)).error.code).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
    expect(bodyOf<{ error: { code: string } }>(await route(post('/pipelines/{id}/pause', { id: 'Not An Id' }), w.api)).error.code).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
    expect(bodyOf<{ error: { code: string } }>(await route(get('/pipelines/{id}/paused', { id: 'nope' }), w.api)).error.code).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
    const bad = await route(post('/pause', null, { reason: 'x', force: true }), w.api);
    expect(bad.statusCode).toBe(400);
    expect(bodyOf<{ error: { code: string } }>(bad).error.code).toBe(ApiErrorCode.INVALID_REQUEST);
    expect((await route(post('/pause', null, { reason: 'x'.repeat(1001) }), w.api)).statusCode).toBe(400);
    expect((await route({ ...post('/pause', null), body: '{' }, w.api)).statusCode).toBe(400);
    expect(w.store.audit).toEqual([]);
    expect(await w.store.getPauses()).toEqual({ pipelines: {} });
  });

  it('records starts, cancels and their callers; GET /audit lists newest first, a pipeline’s with the global ones', async () => {
    // A second later at every reading of the clock: the records' order is the order of the calls.
    const w = world(...Array.from({ length: 60 }, (_, i) => new Date(Date.parse(NOW) + i * 1000).toISOString()));
    const started = bodyOf<{ run: RunRecord }>(await route(post('/pipelines/{id}/runs', { id: PIPELINE }, {}), w.api)).run;
    // A dry run is not an action: not audited.
    await route(post('/pipelines/{id}/runs', { id: PIPELINE }, { dryRun: true }), w.api);
    const cancelled = await route(post('/runs/{runId}/cancel', { runId: started.runId }, { reason: 'wrong date' }, VIEWER), w.api);
    expect(cancelled.statusCode).toBe(200);
    await route(post('/pause', null, {}), w.api);
    await route(post('/pipelines/{id}/pause', { id: OTHER }, {}), w.api);
    const listed = bodyOf<AuditResponse>(await route(get('/audit', null, { pipeline: PIPELINE }), w.api));
    expect(listed.complete).toBe(true);
    expect(listed.records.map((r) => [r.action, r.pipeline, r.by, r.runId])).toEqual([
      ['PAUSE', '*', OPERATOR, undefined],
      ['CANCEL', PIPELINE, VIEWER, started.runId],
      ['START', PIPELINE, OPERATOR, started.runId],
    ]);
    expect(listed.records[1]).toMatchObject({ reason: 'wrong date' });
    expect(listed.records[2]!.detail).toBe('recorded PENDING, trigger API');
    const limited = bodyOf<AuditResponse>(await route(get('/audit', null, { limit: '2' }), w.api));
    expect(limited.records.map((r) => [r.action, r.pipeline])).toEqual([['PAUSE', OTHER], ['PAUSE', '*']]);
    expect((await route(get('/audit', null, { limit: '0' }), w.api)).statusCode).toBe(400);
    expect((await route(get('/audit', null, { who: 'me' }), w.api)).statusCode).toBe(400);
  });

  it('answers a start whose audit record cannot be written (the run started), logging it; without an audit log, pause answers 500', async () => {
    const w = world();
    vi.spyOn(w.store, 'appendAudit').mockRejectedValueOnce(new Error('throttled'));
    const res = await route(post('/pipelines/{id}/runs', { id: PIPELINE }, {}), w.api);
    expect(res.statusCode).toBe(201);
    expect(w.lines.find((l) => l.message === 'audit record not written')).toMatchObject({ level: 'ERROR', audit: { action: AuditAction.START, by: OPERATOR } });
    const { audit: _none, ...unaudited } = w.api;
    const refused = await answer(post('/pause', null), unaudited, w.trigger.log);
    expect(refused.statusCode).toBe(500);
  });
});

describe('the records table: pauses in one item, the audit log one partition a month', () => {
  it('sets, reads and clears pauses, each with its audit record in one transaction', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo);
    await store.setPause(PIPELINE, FLAG, { id: 'a', action: 'PAUSE', pipeline: PIPELINE, by: OPERATOR, at: NOW });
    await store.setPause(ALL_PIPELINES, { by: OPERATOR, at: NOW }, { id: 'b', action: 'PAUSE', pipeline: '*', by: OPERATOR, at: NOW });
    expect(await store.getPauses()).toEqual({ all: { by: OPERATOR, at: NOW }, pipelines: { [PIPELINE]: FLAG } });
    const pauses = dynamo.table.find((i) => i.pk === 'GLOBAL');
    expect(pauses).toMatchObject({ pk: 'GLOBAL', sk: 'PAUSED', 'p:daily-sales': FLAG, all: { by: OPERATOR, at: NOW } });
    // A pause never expires.
    expect(pauses?.expiresAt).toBeUndefined();
    expect(dynamo.table.filter((i) => String(i.pk).startsWith('AUDIT#2026-11')).map((i) => i.sk)).toEqual([`${NOW}#a`, `${NOW}#b`]);
    await store.setPause(PIPELINE, undefined, { id: 'c', action: 'RESUME', pipeline: PIPELINE, by: OPERATOR, at: NOW });
    expect(await store.getPauses()).toEqual({ all: { by: OPERATOR, at: NOW }, pipelines: {} });
  });

  it('lists the audit log newest first across months, filtered by pipeline, bounded by the retention', async () => {
    const dynamo = new FakeDynamo();
    const store = recordStoreOver(dynamo, 90);
    const record = (id: string, at: string, pipeline: string): AuditRecord => ({ id, action: 'START', pipeline, by: OPERATOR, at });
    for (const r of [record('1', '2026-07-01T00:00:00.000Z', PIPELINE), record('2', '2026-09-30T00:00:00.000Z', PIPELINE), record('3', '2026-10-15T00:00:00.000Z', OTHER), record('4', '2026-10-16T00:00:00.000Z', '*'), record('5', '2026-11-01T00:00:00.000Z', PIPELINE), record('6', '2026-11-20T00:00:00.000Z', OTHER)]) {
      await store.appendAudit(r);
    }
    const all = await store.listAudit({ limit: 50 }, NOW);
    // July is older than the 90 days the table keeps: not read.
    expect(all.records.map((r) => r.id)).toEqual(['6', '5', '4', '3', '2']);
    expect((await store.listAudit({ limit: 50, pipeline: PIPELINE }, NOW)).records.map((r) => r.id)).toEqual(['5', '4', '2']);
    expect((await store.listAudit({ limit: 2 }, NOW)).records.map((r) => r.id)).toEqual(['6', '5']);
    expect(AUDIT_SCAN_LIMIT).toBeGreaterThanOrEqual(200);
  });

  it('auditMonths: from now’s month back to the retention’s, newest first, across a year', () => {
    expect(auditMonths('2026-02-10T00:00:00.000Z', 90 * 86_400)).toEqual(['2026-02', '2026-01', '2025-12', '2025-11']);
    expect(auditMonths('2026-11-23T10:00:00.000Z', 86_400)).toEqual(['2026-11']);
  });
});

describe('phi pause|resume|paused|audit', () => {
  afterEach(() => vi.restoreAllMocks());

  it('parses each command', () => {
    expect(parseOperate('pause', [PIPELINE], {})).toEqual({ command: { verb: 'pause', pipeline: PIPELINE } });
    expect(parseOperate('pause', [], { all: true, reason: 'incident' })).toEqual({ command: { verb: 'pause', reason: 'incident' } });
    expect(parseOperate('resume', [PIPELINE], { reason: 'fixed' })).toEqual({ command: { verb: 'resume', pipeline: PIPELINE, reason: 'fixed' } });
    expect(parseOperate('resume', [], { all: true })).toEqual({ command: { verb: 'resume' } });
    expect(parseOperate('paused', [PIPELINE], {})).toEqual({ command: { verb: 'paused', pipeline: PIPELINE } });
    expect(parseOperate('audit', [], {})).toEqual({ command: { verb: 'audit' } });
    expect(parseOperate('audit', [], { pipeline: PIPELINE, limit: '20' })).toEqual({ command: { verb: 'audit', pipeline: PIPELINE, limit: 20 } });
  });

  it('says what is wrong with anything else', () => {
    const usage = (verb: string, positionals: string[], flags: Parameters<typeof parseOperate>[2] = {}): string => {
      const parsed = parseOperate(verb, positionals, flags);
      if (!('usage' in parsed)) throw new Error(`parsed ${JSON.stringify(parsed)}`);
      return parsed.usage;
    };
    expect(usage('pause', [])).toMatch(/needs a pipeline id, or --all/);
    expect(usage('pause', [PIPELINE], { all: true })).toMatch(/not both/);
    expect(usage('resume', [PIPELINE, OTHER])).toMatch(/one pipeline id at most/);
    expect(usage('pause', [PIPELINE], { reason: 'x'.repeat(1001) })).toMatch(/at most 1000/);
    expect(usage('paused', [])).toMatch(/needs a pipeline id/);
    expect(usage('audit', [PIPELINE])).toMatch(/takes no id/);
    expect(usage('audit', [], { limit: '0' })).toMatch(/--limit is a whole number from 1 to 200/);
  });

  it('calls the API and prints the state; usage errors exit 2 before connecting', async () => {
    const calls: unknown[][] = [];
    const client = {
      setPaused: async (...args: unknown[]) => (calls.push(['setPaused', ...args]), { pipelineId: PIPELINE, paused: true, pipeline: FLAG }),
      pauseState: async (...args: unknown[]) => (calls.push(['pauseState', ...args]), { pipelineId: PIPELINE, paused: false }),
      audit: async (...args: unknown[]) => (calls.push(['audit', ...args]), { records: [{ id: '1', action: 'PAUSE', pipeline: PIPELINE, by: OPERATOR, at: NOW, reason: 'upstream outage' }], complete: true }),
    };
    const connect = vi.spyOn(PhiClient, 'connect').mockResolvedValue(client as unknown as PhiClient);
    const out: string[] = [];
    const phi = async (...argv: string[]): Promise<number> => main(argv, (t) => out.push(t), (t) => out.push(t));
    expect(await phi('pause', PIPELINE, '--reason', 'upstream outage')).toBe(ExitCode.OK);
    expect(out.join('\n')).toContain(`paused ${PIPELINE}\n${PIPELINE}: PAUSED`);
    expect(await phi('resume', '--all')).toBe(ExitCode.OK);
    expect(await phi('paused', PIPELINE)).toBe(ExitCode.OK);
    expect(out.at(-1)).toBe(`${PIPELINE}: not paused (its schedules and triggers start runs)`);
    expect(await phi('audit', '--pipeline', PIPELINE, '--limit', '5')).toBe(ExitCode.OK);
    expect(out.at(-1)).toBe(`${NOW}  PAUSE   ${PIPELINE.padEnd(20)}  ${OPERATOR}  reason: upstream outage`);
    expect(calls).toEqual([
      ['setPaused', PIPELINE, true, 'upstream outage'],
      ['setPaused', undefined, false, undefined],
      ['pauseState', PIPELINE],
      ['audit', { pipeline: PIPELINE, limit: 5 }],
    ]);
    connect.mockClear();
    expect(await phi('pause')).toBe(ExitCode.USAGE);
    expect(connect).not.toHaveBeenCalled();
  });

  it('runOperate prints JSON with --json', async () => {
    const out: string[] = [];
    const state: PauseState = { pipelineId: '*', paused: true, all: FLAG };
    await runOperate({ verb: 'pause' }, { setPaused: async () => state, pauseState: async () => state, audit: async () => ({ records: [], complete: true }) }, (t) => out.push(t), true);
    expect(JSON.parse(out[0]!)).toEqual(state);
  });
});

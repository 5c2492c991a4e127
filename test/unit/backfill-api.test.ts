/**
 * A backfill start through the control API (`POST /pipelines/{id}/runs` with `scheduledTime`): the run
 * has the identity its schedule's delivery of that time has (one run whichever comes first), trigger
 * BACKFILL, its lateness not measured; a time to come, a scheduleId alone or a backfill with an
 * idempotency key is refused with a stable code.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { route, type ApiDeps } from '../../functions/control/api.ts';
import { runIdFor, ScheduledEventSchema, scheduledRunRequest, startRun, type TriggerDeps } from '../../functions/control/trigger.ts';
import { ApiErrorCode, CheckOutcome, RunRecordSchema, StartRule, StartRunRequestSchema, TriggerType } from '../../lib/model/contract/index.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';
import { quietCancelDeps } from './support/cancel-deps.ts';

const PIPELINE = 'market-data';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-market-data';
const NOW = '2026-03-20T12:00:00.000Z';
/** 19:00 in New York on 9 March 2026 (EDT), as Scheduler writes it. */
const SCHEDULED = '2026-03-09T23:00:00Z';

function world() {
  const store = new MemoryRecordStore();
  const { log } = captureLogs({ component: 'control-api' });
  const executions = new Map<string, string>();
  const trigger: TriggerDeps = {
    store,
    log,
    stateMachines: new Map([[PIPELINE, STATE_MACHINE]]),
    // A maximum lateness a backfill would be far past: it must not apply to one.
    startRules: new Map([[PIPELINE, { maxLatenessSeconds: 300 }]]),
    startExecution: async (_arn, name, input) => void (executions.has(name) || executions.set(name, input)),
    now: clock(NOW),
  };
  const cancel = quietCancelDeps(store, log, trigger.now);
  const api: ApiDeps = { trigger, store, cancel };
  return { store, trigger, api, executions };
}

const post = (body: unknown): Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource' | 'pathParameters' | 'body'> => ({
  httpMethod: 'POST',
  resource: '/pipelines/{id}/runs',
  pathParameters: { id: PIPELINE },
  body: JSON.stringify(body),
});
const bodyOf = (res: APIGatewayProxyResult): { created?: boolean; run?: unknown; error?: { code: string; message: string; issues?: { path: string }[] } } => JSON.parse(res.body);

describe('POST /pipelines/{id}/runs with scheduledTime (backfill)', () => {
  it('gives the run the identity of its schedule’s delivery of that time: a delivery afterwards is the same run', async () => {
    const w = world();
    const res = await route(post({ scheduledTime: SCHEDULED }), w.api);
    expect(res.statusCode).toBe(201);
    const run = RunRecordSchema.parse(bodyOf(res).run);
    const delivery = scheduledRunRequest(ScheduledEventSchema.parse({ pipelineId: PIPELINE, scheduleId: 'default', scheduledTime: SCHEDULED }));
    expect(run.runId).toBe(runIdFor(delivery, new Date(NOW)));
    expect(run).toMatchObject({ trigger: TriggerType.BACKFILL, scheduledTime: SCHEDULED, scheduleId: 'default', status: 'PENDING' });
    // The schedule's own delivery of the time, late: the one run, not a second.
    const again = await startRun(delivery, w.trigger);
    expect(again).toMatchObject({ created: false, run: { runId: run.runId, trigger: TriggerType.BACKFILL } });
    expect(w.executions.size).toBe(1);
  });

  it('is one run whichever came first: a backfill of a time already delivered answers 200 with that run', async () => {
    const w = world();
    const delivered = await startRun(scheduledRunRequest(ScheduledEventSchema.parse({ pipelineId: PIPELINE, scheduledTime: SCHEDULED })), w.trigger);
    const res = await route(post({ scheduledTime: SCHEDULED, scheduleId: 'default' }), w.api);
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({ created: false, run: { runId: delivered.run.runId, trigger: TriggerType.SCHEDULE } });
  });

  it('writes the time as Scheduler does (UTC, whole seconds), whatever offset it was given in: the same run', async () => {
    const w = world();
    const first = bodyOf(await route(post({ scheduledTime: '2026-03-09T19:00:00-04:00' }), w.api));
    const second = await route(post({ scheduledTime: '2026-03-09T23:00:00.000Z' }), w.api);
    expect(second.statusCode).toBe(200);
    expect(RunRecordSchema.parse(first.run).scheduledTime).toBe(SCHEDULED);
    expect(RunRecordSchema.parse(bodyOf(second).run).runId).toBe(RunRecordSchema.parse(first.run).runId);
  });

  it('keeps schedules apart: another schedule id at the same instant is another run, recorded with its id', async () => {
    const w = world();
    const a = RunRecordSchema.parse(bodyOf(await route(post({ scheduledTime: SCHEDULED }), w.api)).run);
    const b = RunRecordSchema.parse(bodyOf(await route(post({ scheduledTime: SCHEDULED, scheduleId: 'weekly' }), w.api)).run);
    expect(b.runId).not.toBe(a.runId);
    expect(b.scheduleId).toBe('weekly');
    expect(b.runId).toBe(runIdFor({ pipelineId: PIPELINE, trigger: TriggerType.SCHEDULE, scheduledTime: SCHEDULED, scheduleId: 'weekly' }, new Date(NOW)));
  });

  it('does not measure a backfill’s lateness (it is meant to be late): the schedule check is not applicable', async () => {
    const w = world();
    const run = RunRecordSchema.parse(bodyOf(await route(post({ scheduledTime: SCHEDULED }), w.api)).run);
    expect(run.startDecision?.decision).toBe('START');
    expect(run.startDecision?.checks.find((c) => c.rule === StartRule.SCHEDULE)?.outcome).toBe(CheckOutcome.NOT_APPLICABLE);
  });

  it('refuses a time still to come with API_012_SCHEDULED_TIME_IN_FUTURE, recording nothing', async () => {
    const w = world();
    const res = await route(post({ scheduledTime: '2026-03-20T12:00:01Z' }), w.api);
    expect(res.statusCode).toBe(400);
    expect(bodyOf(res).error?.code).toBe(ApiErrorCode.SCHEDULED_TIME_IN_FUTURE);
    expect(w.executions.size).toBe(0);
    // Now itself is past enough.
    expect((await route(post({ scheduledTime: '2026-03-20T12:00:00Z' }), w.api)).statusCode).toBe(201);
  });

  it.each([
    [{ scheduleId: 'default' }, 'scheduleId'],
    [{ scheduledTime: SCHEDULED, idempotencyKey: 'k' }, 'idempotencyKey'],
    [{ scheduledTime: '2026-03-09' }, 'scheduledTime'],
    [{ scheduledTime: '2026-03-09T23:00:00' }, 'scheduledTime'],
    [{ scheduledTime: '2026-03-09T23:00:00.500Z' }, 'scheduledTime'],
    [{ scheduledTime: SCHEDULED, scheduleId: 'Not An Id' }, 'scheduleId'],
  ])('refuses %j with API_002_INVALID_REQUEST at %s', async (body, path) => {
    const w = world();
    expect(StartRunRequestSchema.safeParse(body).success).toBe(false);
    const res = await route(post(body), w.api);
    expect(res.statusCode).toBe(400);
    expect(bodyOf(res).error?.code).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(bodyOf(res).error?.issues?.map((i) => i.path)).toContain(path);
  });
});

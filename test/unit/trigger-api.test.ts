/**
 * Starting runs (`runIdFor`, `startRun`) and the control API (`route`) against the in-memory record
 * store and an in-memory Step Functions that, like the real one, keeps execution names unique.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  ErrorCategory,
  JobStatus,
  RunInputSchema,
  RunRecordSchema,
  RunStatus,
  RunViewSchema,
  type JobAttemptRecord,
  type RunRecord,
  type RunView,
} from '../../lib/model/contract/index.ts';
import { answer, route, type ApiDeps } from '../../functions/control/api.ts';
import type { CancelDeps } from '../../functions/control/cancel.ts';
import { RunParametersError, runParametersFromEnv, RunStartError, runIdFor, startRun, UnknownPipelineError, type TriggerDeps } from '../../functions/control/trigger.ts';
import { ApiErrorCode, RunIdSchema, runIdPrefix } from '../../lib/model/contract/index.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import { RUN_START_FAILED } from '../../lib/model/contract/index.ts';
import { z } from 'zod';
import type { JsonSchema } from '../../lib/model/run-parameters.ts';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';
import { evaluateStart } from '../../lib/model/start-rules.ts';

/** The job lists the deploys wrote. */
const JOB_LISTS = new MemoryJobLists();

const PIPELINE = 'daily-sales';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-daily-sales';
const OTHER_STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-hourly-clicks';
const NOW = '2024-05-01T10:00:00.000Z';
const LATER = '2024-05-01T10:00:05.000Z';
const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
/** The decision every start of a pipeline without start rules gets (at NOW): each rule not applicable. */
const API_START = evaluateStart({ trigger: 'API', now: new Date(NOW) });

/** What a run of PIPELINE may set, compiled as the plan compiles a definition's `runParameters` (hourly-clicks declares none). */
function compiled(declared: z.ZodObject): JsonSchema {
  const result = runParametersJsonSchema(declared);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.schema;
}
const DAILY_SALES_PARAMETERS = compiled(z.object({ date: z.string().min(1).optional(), v: z.json().optional() }));

interface StartExecutionCall {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
}

/** Step Functions as far as starting runs goes: an execution name is used once per state machine. */
class FakeStepFunctions {
  readonly calls: StartExecutionCall[] = [];
  private readonly byName = new Map<string, StartExecutionCall>();
  /** How many coming calls fail as the service would (throttling, outage) without starting anything. */
  failures = 0;

  readonly startExecution: TriggerDeps['startExecution'] = async (stateMachineArn, name, input) => {
    const call = { stateMachineArn, name, input };
    this.calls.push(call);
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
    // A repeated name answers with the one execution (or ExecutionAlreadyExists, which the adapter swallows).
    if (!this.byName.has(`${stateMachineArn}|${name}`)) this.byName.set(`${stateMachineArn}|${name}`, call);
  };

  /** The executions that exist, one per name. */
  get executions(): StartExecutionCall[] {
    return [...this.byName.values()];
  }
}

/** The trigger and the API over one store and one Step Functions; the clock answers `instants` in turn. */
function world(...instants: string[]) {
  const store = new MemoryRecordStore();
  const sfn = new FakeStepFunctions();
  const { log, lines } = captureLogs({ component: 'control-api' });
  const trigger: TriggerDeps = {
    store,
    startExecution: sfn.startExecution,
    stateMachines: new Map([
      [PIPELINE, STATE_MACHINE],
      ['hourly-clicks', OTHER_STATE_MACHINE],
    ]),
    runParameters: new Map([[PIPELINE, DAILY_SALES_PARAMETERS]]),
    log,
    now: clock(...(instants.length > 0 ? instants : [NOW])),
  };
  const stopped: { executionArn: string; cause: string }[] = [];
  const tokens: string[] = [];
  const sendToken = async (token: string): Promise<void> => void tokens.push(token);
  const cancel: CancelDeps = {
    store,
    recorder: { store, log, sendToken, sendDeadLetter: async () => {}, jobLists: JOB_LISTS, now: trigger.now! },
    stopExecution: async (executionArn, cause) => void stopped.push({ executionArn, cause }),
    sendToken,
    log,
    now: trigger.now!,
  };
  const api: ApiDeps = { trigger, store, cancel, audit: store };
  return { store, sfn, trigger, api, lines, log, stopped, tokens };
}

type RouteEvent = Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource' | 'pathParameters' | 'body'>;

const postRun = (pipelineId: string, body: string | null): RouteEvent => ({
  httpMethod: 'POST',
  resource: '/pipelines/{id}/runs',
  pathParameters: { id: pipelineId },
  body,
});
const getRun = (runId: string): RouteEvent => ({ httpMethod: 'GET', resource: '/runs/{runId}', pathParameters: { runId }, body: null });

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string; code: string }[]; pipelines?: string[]; run?: RunRecord };
}
interface StartedBody {
  created: boolean;
  run: RunRecord;
}
const bodyOf = <T>(res: APIGatewayProxyResult): T => JSON.parse(res.body) as T;

describe('runIdFor', () => {
  const now = new Date(NOW);

  it('gives the same id for the same idempotency key', () => {
    const a = runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42' }, now);
    const b = runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42', parameters: { x: 1 } }, new Date('2030-01-01T00:00:00Z'));
    expect(a).toBe(b);
    expect(a).toMatch(/^daily-sales_k-[0-9a-f]{32}$/);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-43' }, now)).not.toBe(a);
  });

  it('gives different ids for the same key in different pipelines', () => {
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, now)).not.toBe(runIdFor({ pipelineId: 'hourly-clicks', trigger: 'API', idempotencyKey: 'k' }, now));
  });

  it('gives a scheduled run a deterministic <pipeline>_s-<time>-<hash> id, whatever the clock says', () => {
    const req = { pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z' } as const;
    const id = runIdFor(req, now);
    expect(id).toBe(runIdFor(req, new Date('2024-05-01T06:00:07.123Z')));
    expect(id).toMatch(/^daily-sales_s-20240501T060000Z-[0-9a-f]{12}$/);
    expect(runIdFor({ ...req, scheduledTime: '2024-05-01T07:00:00Z' }, now)).not.toBe(id);
    expect(runIdFor({ ...req, pipelineId: 'hourly-clicks' }, now)).not.toBe(id);
  });

  it('lets the idempotency key win over the scheduled time', () => {
    expect(runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z', idempotencyKey: 'k' }, now)).toMatch(/^daily-sales_k-/);
  });

  it('gives manual runs unique <pipeline>_m-<time>-<random> ids, even at the same instant', () => {
    const ids = Array.from({ length: 200 }, () => runIdFor({ pipelineId: PIPELINE, trigger: 'MANUAL' }, now));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^daily-sales_m-20240501T100000Z-[0-9a-f]{12}$/);
  });

  it('keeps every id a valid execution name (at most 80 characters of [A-Za-z0-9-_]) that the API reads as a run id, beginning with its pipeline', () => {
    const ids = [
      runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'x'.repeat(256) }, now),
      runIdFor({ pipelineId: `p-${'q'.repeat(38)}`, trigger: 'API', idempotencyKey: 'ünïcødé / spaces & symbols: #?' }, now),
      runIdFor({ pipelineId: `p-${'q'.repeat(38)}`, trigger: 'SCHEDULE', scheduledTime: '2024-12-31T23:59:59.999+05:30' }, now),
      runIdFor({ pipelineId: `p-${'q'.repeat(38)}`, trigger: 'MANUAL' }, now),
      runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-12-31T23:59:59.999+05:30' }, now),
      runIdFor({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00.123456Z' }, now),
      runIdFor({ pipelineId: PIPELINE, trigger: 'MANUAL' }, new Date('2024-05-01T10:00:00.999Z')),
    ];
    for (const id of ids) {
      expect(id).toMatch(RUN_ID_PATTERN);
      expect(RunIdSchema.safeParse(id).success).toBe(true);
      expect(id.startsWith(runIdPrefix(id.startsWith('p-') ? `p-${'q'.repeat(38)}` : PIPELINE))).toBe(true);
    }
  });
});

describe('startRun', () => {
  it('starting the same key twice makes one record, created then not, and starts the same execution name with identical input', async () => {
    const w = world();
    const req = { pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42', parameters: { date: '2024-04-30' } } as const;

    const first = await startRun(req, w.trigger);
    const second = await startRun(req, w.trigger);

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.run).toEqual(first.run);
    expect(w.store.runCount).toBe(1);

    expect(w.sfn.calls).toHaveLength(2);
    expect(w.sfn.calls[1]).toEqual(w.sfn.calls[0]);
    expect(w.sfn.executions).toHaveLength(1);
    const call = w.sfn.calls[0];
    expect(call).toMatchObject({ stateMachineArn: STATE_MACHINE, name: first.run.runId });
    expect(RunInputSchema.parse(JSON.parse(call?.input ?? ''))).toEqual({ runId: first.run.runId, pipelineId: PIPELINE, trigger: 'API', parameters: { date: '2024-04-30' } });
  });

  it('stores the run PENDING with its trigger, key, parameters and execution ARN (the definition version comes with the execution’s start)', async () => {
    const w = world();
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42', parameters: { date: '2024-04-30' } }, w.trigger);
    const expected: RunRecord = {
      runId: runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42' }, new Date(NOW)),
      pipelineId: PIPELINE,
      status: RunStatus.PENDING,
      trigger: 'API',
      idempotencyKey: 'order-42',
      parameters: { date: '2024-04-30' },
      queuedAt: NOW,
      executionArn: executionArnFor(STATE_MACHINE, run.runId),
      transitions: [{ status: RunStatus.PENDING, at: NOW }],
      startDecision: API_START,
    };
    expect(run).toEqual(expected);
    expect(run.executionArn).toBe(`arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:${run.runId}`);
    expect(await w.store.getRun(run.runId)).toEqual(expected);
  });

  it('a repeated start sends the stored input under the same name', async () => {
    const w = world();
    const first = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k', parameters: { date: 'a' } }, w.trigger);
    const second = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k', parameters: { date: 'a' } }, w.trigger);
    expect(second).toEqual({ created: false, run: first.run });
    expect(w.sfn.calls[1]).toEqual(w.sfn.calls[0]);
    expect(JSON.parse(w.sfn.calls[1]?.input ?? '')).toMatchObject({ parameters: { date: 'a' } });
  });

  it('refuses a repeated key with other parameters before starting anything', async () => {
    const w = world();
    const first = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k', parameters: { date: 'a' } }, w.trigger);
    const again = startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k', parameters: { date: 'b' } }, w.trigger);
    await expect(again).rejects.toMatchObject({ name: 'IdempotencyConflictError', code: 'API_005_IDEMPOTENCY_CONFLICT', run: first.run });
    expect(w.sfn.calls).toHaveLength(1);
  });

  it('starts a scheduled time once, with the scheduled time in the execution input', async () => {
    const w = world();
    const req = { pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z' } as const;
    const first = await startRun(req, w.trigger);
    const second = await startRun(req, w.trigger);
    expect([first.created, second.created]).toEqual([true, false]);
    expect(w.store.runCount).toBe(1);
    expect(w.sfn.executions).toHaveLength(1);
    expect(JSON.parse(w.sfn.calls[0]?.input ?? '')).toEqual({ runId: first.run.runId, pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z', parameters: {} });
  });

  it('refuses an undeployed pipeline with UnknownPipelineError, writing and starting nothing', async () => {
    const w = world();
    const err = await startRun({ pipelineId: 'nope', trigger: 'MANUAL' }, w.trigger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownPipelineError);
    expect((err as UnknownPipelineError).code).toBe('API_003_PIPELINE_NOT_FOUND');
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
  });

  it('logs "run queued" then "run already exists" with the pipelineId and runId', async () => {
    const w = world();
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    expect(w.lines.map((l) => [l.message, l.pipelineId, l.runId, l.trigger])).toEqual([
      ['run queued', PIPELINE, run.runId, 'API'],
      ['run already exists', PIPELINE, run.runId, 'API'],
    ]);
  });
});

describe('startRun: an execution that cannot be started', () => {
  const keyed = { pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42', parameters: { date: '2024-04-30' } } as const;

  it('closes the run FAILED with RUN_START_FAILED (no jobs) and throws API_010_RUN_START_FAILED saying why, with the run', async () => {
    const w = world();
    w.sfn.failures = 1;

    const err = await startRun(keyed, w.trigger).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(RunStartError);
    expect(err).toMatchObject({ code: 'API_010_RUN_START_FAILED', message: expect.stringContaining('ThrottlingException: Rate exceeded'), run: { status: RunStatus.FAILED } });
    const runId = runIdFor(keyed, new Date(NOW));
    expect(await w.store.getRun(runId)).toEqual({
      runId,
      pipelineId: PIPELINE,
      status: RunStatus.FAILED,
      trigger: 'API',
      idempotencyKey: 'order-42',
      parameters: { date: '2024-04-30' },
      queuedAt: NOW,
      completedAt: NOW,
      jobs: {},
      error: { code: RUN_START_FAILED, message: expect.stringContaining('Rate exceeded') },
      transitions: [
        { status: RunStatus.PENDING, at: NOW },
        { status: RunStatus.FAILED, at: NOW },
      ],
      startDecision: API_START,
    } satisfies RunRecord);
    expect(w.sfn.executions).toEqual([]);
  });

  it('reopens and starts the run when the same key is started again: PENDING, its outcome removed, one execution with the first input', async () => {
    const w = world(NOW, LATER);
    w.sfn.failures = 1;
    await expect(startRun(keyed, w.trigger)).rejects.toThrow('Rate exceeded');

    const { created, run } = await startRun(keyed, w.trigger);

    expect(created).toBe(false);
    expect(run).toEqual({
      runId: runIdFor(keyed, new Date(NOW)),
      pipelineId: PIPELINE,
      status: RunStatus.PENDING,
      trigger: 'API',
      idempotencyKey: 'order-42',
      parameters: { date: '2024-04-30' },
      queuedAt: NOW,
      executionArn: executionArnFor(STATE_MACHINE, run.runId),
      transitions: [
        { status: RunStatus.PENDING, at: NOW },
        { status: RunStatus.FAILED, at: NOW },
        { status: RunStatus.PENDING, at: LATER },
      ],
      startDecision: API_START,
    } satisfies RunRecord);
    expect(await w.store.getRun(run.runId)).toEqual(run);
    expect(w.sfn.calls).toHaveLength(2);
    expect(w.sfn.calls[1]).toEqual(w.sfn.calls[0]);
    expect(w.sfn.executions).toHaveLength(1);
    expect(RunInputSchema.parse(JSON.parse(w.sfn.executions[0]?.input ?? ''))).toEqual({ runId: run.runId, pipelineId: PIPELINE, trigger: 'API', parameters: { date: '2024-04-30' } });
  });

  it('reopens a scheduled run whose start failed when the schedule trigger is retried for the same time', async () => {
    const w = world(NOW, LATER);
    const req = { pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z' } as const;
    w.sfn.failures = 1;
    await expect(startRun(req, w.trigger)).rejects.toThrow('Rate exceeded');

    const { created, run } = await startRun(req, w.trigger);

    expect(created).toBe(false);
    expect(run).toMatchObject({ status: RunStatus.PENDING, scheduledTime: '2024-05-01T06:00:00Z' });
    expect(run.transitions.map((t) => t.status)).toEqual([RunStatus.PENDING, RunStatus.FAILED, RunStatus.PENDING]);
    expect(w.store.runCount).toBe(1);
    expect(w.sfn.executions).toHaveLength(1);
    expect(JSON.parse(w.sfn.executions[0]?.input ?? '')).toMatchObject({ runId: run.runId, scheduledTime: '2024-05-01T06:00:00Z' });
  });

  it('fails, reopens and fails again as often as the start fails, then starts', async () => {
    const w = world(NOW, LATER, '2024-05-01T10:00:09.000Z');
    w.sfn.failures = 2;
    await expect(startRun(keyed, w.trigger)).rejects.toThrow('Rate exceeded');
    await expect(startRun(keyed, w.trigger)).rejects.toThrow('Rate exceeded');
    const runId = runIdFor(keyed, new Date(NOW));
    expect(await w.store.requireRun(runId)).toMatchObject({ status: RunStatus.FAILED, completedAt: LATER, error: { code: RUN_START_FAILED } });

    const { run } = await startRun(keyed, w.trigger);

    expect(run.status).toBe(RunStatus.PENDING);
    expect(run.transitions.map((t) => [t.status, t.at])).toEqual([
      [RunStatus.PENDING, NOW],
      [RunStatus.FAILED, NOW],
      [RunStatus.PENDING, LATER],
      [RunStatus.FAILED, LATER],
      [RunStatus.PENDING, '2024-05-01T10:00:09.000Z'],
    ]);
    expect(w.sfn.executions).toHaveLength(1);
  });

  it('does not reopen a run that failed for another reason: it keeps its outcome', async () => {
    const w = world();
    const { run } = await startRun(keyed, w.trigger);
    await w.store.markRunRunning({ ...run, definitionVersion: 'def-1' }, NOW);
    const failed = await w.store.finishRun(run.runId, { status: RunStatus.FAILED, at: LATER, jobs: {}, error: { code: 'BAD_INPUT', message: 'x', jobId: 'extract' } });

    const again = await startRun(keyed, w.trigger);

    expect(again).toEqual({ created: false, run: failed });
    expect(w.sfn.executions).toHaveLength(1);
  });
});

describe('route: POST /pipelines/{id}/runs', () => {
  it('answers 201 { created: true, run } and starts one execution', async () => {
    const w = world();
    const res = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30' }, idempotencyKey: 'order-42' })), w.api);

    expect(res.statusCode).toBe(201);
    expect(res.headers).toEqual({ 'content-type': 'application/json' });
    const body = bodyOf<StartedBody>(res);
    expect(body.created).toBe(true);
    expect(RunRecordSchema.parse(body.run)).toMatchObject({ status: RunStatus.PENDING, trigger: 'API', pipelineId: PIPELINE, parameters: { date: '2024-04-30' }, idempotencyKey: 'order-42' });
    expect(body.run).toEqual(await w.store.getRun(body.run.runId));
    expect(w.sfn.executions).toEqual([{ stateMachineArn: STATE_MACHINE, name: body.run.runId, input: expect.any(String) }]);
  });

  it('answers 200 { created: false } with the same run when the same key is posted again', async () => {
    const w = world();
    const body = JSON.stringify({ parameters: { date: '2024-04-30' }, idempotencyKey: 'order-42' });
    const first = bodyOf<StartedBody>(await route(postRun(PIPELINE, body), w.api));
    const again = await route(postRun(PIPELINE, JSON.stringify({ idempotencyKey: 'order-42', parameters: { date: '2024-04-30' } })), w.api);

    expect(again.statusCode).toBe(200);
    expect(bodyOf<StartedBody>(again)).toEqual({ created: false, run: first.run });
    expect(w.store.runCount).toBe(1);
    expect(w.sfn.executions).toHaveLength(1);
  });

  it('answers 409 API_005_IDEMPOTENCY_CONFLICT for the same key with other parameters, starting nothing new and changing no record', async () => {
    const w = world();
    const first = bodyOf<StartedBody>(await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30' }, idempotencyKey: 'order-42' })), w.api));
    const writes = w.store.writes.length;

    const res = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-05-01' }, idempotencyKey: 'order-42' })), w.api);

    expect(res.statusCode).toBe(409);
    const body = bodyOf<ErrorBody>(res);
    expect(body.error.code).toBe(ApiErrorCode.IDEMPOTENCY_CONFLICT);
    expect(body.error.message).toContain('order-42');
    expect(body.error.run).toEqual(first.run);
    expect(w.store.writes.length).toBe(writes);
    expect(await w.store.getRun(first.run.runId)).toEqual(first.run);
    expect(w.store.runCount).toBe(1);
    // Still the one execution, with the first request's input.
    expect(w.sfn.executions).toHaveLength(1);
    expect(JSON.parse(w.sfn.executions[0]?.input ?? '')).toMatchObject({ parameters: { date: '2024-04-30' } });
  });

  // The conflict is found before anything starts: a run whose first StartExecution failed is not
  // started by a request that conflicts with it.
  it('a 409 conflict never starts an execution, even for a run whose first start failed', async () => {
    const w = world();
    w.sfn.failures = 1;
    expect((await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30' }, idempotencyKey: 'order-42' })), w.api)).statusCode).toBe(503);
    expect(w.sfn.executions).toHaveLength(0);

    const failed = await w.store.requireRun(runIdFor({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'order-42' }, new Date(NOW)));

    const res = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-05-01' }, idempotencyKey: 'order-42' })), w.api);

    expect(res.statusCode).toBe(409);
    expect(w.sfn.executions).toHaveLength(0);
    // Nor is the failed run reopened by it.
    expect(await w.store.requireRun(failed.runId)).toEqual(failed);
    expect(failed).toMatchObject({ status: RunStatus.FAILED, error: { code: RUN_START_FAILED } });
  });

  it('answers 200 with the reopened run, and starts it, when a key whose first start failed is posted again', async () => {
    const w = world(NOW, LATER);
    w.sfn.failures = 1;
    const body = JSON.stringify({ parameters: { date: '2024-04-30' }, idempotencyKey: 'order-42' });
    expect((await route(postRun(PIPELINE, body), w.api)).statusCode).toBe(503);

    const res = await route(postRun(PIPELINE, body), w.api);

    expect(res.statusCode).toBe(200);
    const { created, run } = bodyOf<StartedBody>(res);
    expect(created).toBe(false);
    expect(run).toMatchObject({ status: RunStatus.PENDING, executionArn: executionArnFor(STATE_MACHINE, run.runId) });
    expect(run.error).toBeUndefined();
    expect(w.sfn.executions).toEqual([{ stateMachineArn: STATE_MACHINE, name: run.runId, input: expect.any(String) }]);
  });

  it('treats a repeated key without parameters as the same request as one with {}', async () => {
    const w = world();
    await route(postRun(PIPELINE, JSON.stringify({ idempotencyKey: 'k' })), w.api);
    const again = await route(postRun(PIPELINE, JSON.stringify({ idempotencyKey: 'k', parameters: {} })), w.api);
    expect(again.statusCode).toBe(200);
  });

  it('starts a new run for each POST without an idempotency key, an empty body included', async () => {
    const w = world();
    const a = await route(postRun(PIPELINE, null), w.api);
    const b = await route(postRun(PIPELINE, '{}'), w.api);
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(bodyOf<StartedBody>(a).run.runId).not.toBe(bodyOf<StartedBody>(b).run.runId);
    expect(bodyOf<StartedBody>(a).run.parameters).toEqual({});
    expect(w.sfn.executions).toHaveLength(2);
  });

  it('answers 400 API_001_INVALID_JSON for a malformed body, writing and starting nothing', async () => {
    const w = world();
    const res = await route(postRun(PIPELINE, '{"parameters": {'), w.api);
    expect(res.statusCode).toBe(400);
    expect(bodyOf<ErrorBody>(res).error.code).toBe(ApiErrorCode.INVALID_JSON);
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
  });

  it.each([
    ['parameters that are not an object', { parameters: 5 }, [{ path: 'parameters', code: 'invalid_type' }]],
    ['an unknown field', { parameters: {}, priority: 'high' }, [{ path: '', code: 'unrecognized_keys', message: expect.stringContaining('priority') }]],
    ['an empty idempotency key', { idempotencyKey: '' }, [{ path: 'idempotencyKey', code: 'too_small' }]],
    ['an idempotency key that is not a string', { idempotencyKey: 42 }, [{ path: 'idempotencyKey', code: 'invalid_type' }]],
    ['an idempotency key over 256 characters', { parameters: { nested: { ok: [1, 2] } }, idempotencyKey: 'x'.repeat(257) }, [{ path: 'idempotencyKey', code: 'too_big' }]],
    ['a body that is an array', [], [{ path: '', code: 'invalid_type' }]],
    ['a body that is null', null, [{ path: '', code: 'invalid_type' }]],
  ])('answers 400 API_002_INVALID_REQUEST with issues for %s, writing and starting nothing', async (_what, body, issues) => {
    const w = world();
    const res = await route(postRun(PIPELINE, JSON.stringify(body)), w.api);
    expect(res.statusCode).toBe(400);
    const error = bodyOf<ErrorBody>(res).error;
    expect(error.code).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(error.issues).toEqual(issues.map((i) => ({ message: expect.any(String), ...i })));
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
  });

  it('answers 404 API_003_PIPELINE_NOT_FOUND for an undeployed pipeline, without listing the deployed ones, writing and starting nothing', async () => {
    const w = world();
    const res = await route(postRun('nope', JSON.stringify({ idempotencyKey: 'k' })), w.api);
    expect(res.statusCode).toBe(404);
    const error = bodyOf<ErrorBody>(res).error;
    expect(error.code).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
    expect(error.pipelines).toBeUndefined();
    expect(res.body).not.toContain('hourly-clicks');
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
  });

  it('answers 404 API_003_PIPELINE_NOT_FOUND when the path has no pipeline id', async () => {
    const w = world();
    const res = await route({ httpMethod: 'POST', resource: '/pipelines/{id}/runs', pathParameters: null, body: null }, w.api);
    expect(res.statusCode).toBe(404);
    expect(bodyOf<ErrorBody>(res).error.code).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
    expect(w.sfn.calls).toEqual([]);
  });
});

describe('run parameters: what a pipeline’s runParameters allows, for every trigger', () => {
  /** PIPELINE with a schema that fills in defaults. */
  const REPORT = compiled(z.object({ date: z.iso.date(), region: z.enum(['eu', 'us']).default('eu'), lookbackDays: z.number().int().min(1).default(30) }));
  const SCHEDULED = compiled(z.object({ region: z.enum(['eu', 'us']).default('eu'), full: z.boolean().optional() }));
  function reportWorld(schema: JsonSchema = REPORT) {
    const w = world();
    const trigger: TriggerDeps = { ...w.trigger, runParameters: new Map([[PIPELINE, schema]]) };
    return { ...w, trigger, api: { ...w.api, trigger } };
  }

  it('answers 400 API_011_INVALID_PARAMETERS listing each issue (unknown key, wrong type, missing), recording and starting nothing', async () => {
    const w = reportWorld();
    const res = await route(postRun(PIPELINE, JSON.stringify({ parameters: { lookbackDays: 'thirty', colour: 'blue' }, idempotencyKey: 'k' })), w.api);

    expect(res.statusCode).toBe(400);
    expect(bodyOf<ErrorBody>(res).error).toEqual({
      code: ApiErrorCode.INVALID_PARAMETERS,
      message: `the parameters are not what pipeline "${PIPELINE}" allows a run to set (its runParameters)`,
      issues: [
        { path: 'date', code: 'required', message: 'is required' },
        { path: 'colour', code: 'unknown_parameter', message: 'is not a run parameter of this pipeline; it declares: date, region, lookbackDays' },
        { path: 'lookbackDays', code: 'type', message: 'must be integer' },
      ],
    });
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
  });

  it('answers 201 with the schema’s defaults filled in, in the run record and in the execution’s input', async () => {
    const w = reportWorld();
    const res = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30', region: 'us' } })), w.api);

    expect(res.statusCode).toBe(201);
    const { run } = bodyOf<StartedBody>(res);
    expect(run.parameters).toEqual({ date: '2024-04-30', region: 'us', lookbackDays: 30 });
    expect(RunInputSchema.parse(JSON.parse(w.sfn.calls[0]?.input ?? '')).parameters).toEqual({ date: '2024-04-30', region: 'us', lookbackDays: 30 });
  });

  it('treats a repeated key with a default left out and with it written as the same request', async () => {
    const w = reportWorld();
    const first = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30' }, idempotencyKey: 'k' })), w.api);
    const again = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30', lookbackDays: 30 }, idempotencyKey: 'k' })), w.api);
    const other = await route(postRun(PIPELINE, JSON.stringify({ parameters: { date: '2024-04-30', lookbackDays: 31 }, idempotencyKey: 'k' })), w.api);

    expect([first.statusCode, again.statusCode, other.statusCode]).toEqual([201, 200, 409]);
    expect(w.sfn.executions).toHaveLength(1);
  });

  it('takes no parameters for a pipeline that declares none: {} starts a run, any key is refused', async () => {
    const w = world();
    expect((await route(postRun('hourly-clicks', JSON.stringify({ parameters: {} })), w.api)).statusCode).toBe(201);
    const res = await route(postRun('hourly-clicks', JSON.stringify({ parameters: { date: '2024-04-30' } })), w.api);
    expect(res.statusCode).toBe(400);
    expect(bodyOf<ErrorBody>(res).error).toMatchObject({ code: ApiErrorCode.INVALID_PARAMETERS, issues: [{ path: 'date', message: 'the pipeline declares no run parameters (runParameters)' }] });
    expect(w.sfn.calls).toHaveLength(1);
  });

  it('answers 404 for an undeployed pipeline, whatever its parameters', async () => {
    const w = reportWorld();
    const res = await route(postRun('nope', JSON.stringify({ parameters: { colour: 'blue' } })), w.api);
    expect(res.statusCode).toBe(404);
  });

  it('gives a scheduled run (no parameters) the schema’s defaults, through the same startRun', async () => {
    const w = reportWorld(SCHEDULED);
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z' }, w.trigger);

    expect(run.parameters).toEqual({ region: 'eu' });
    expect(JSON.parse(w.sfn.calls[0]?.input ?? '')).toMatchObject({ trigger: 'SCHEDULE', parameters: { region: 'eu' } });
  });

  it('refuses a scheduled run the schema does not allow with RunParametersError, starting nothing', async () => {
    const w = reportWorld();
    const err = await startRun({ pipelineId: PIPELINE, trigger: 'SCHEDULE', scheduledTime: '2024-05-01T06:00:00Z' }, w.trigger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunParametersError);
    expect(err).toMatchObject({ code: ApiErrorCode.INVALID_PARAMETERS, issues: [{ path: 'date', message: 'is required' }] });
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
  });

  it('reads each pipeline’s schema from PHI_RUN_PARAMETERS, none when it is unset', () => {
    expect(runParametersFromEnv({ PHI_RUN_PARAMETERS: JSON.stringify({ [PIPELINE]: REPORT }) })).toEqual(new Map([[PIPELINE, REPORT]]));
    expect(runParametersFromEnv({})).toEqual(new Map());
  });
});

describe('route: every answer a documented status with a stable code', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = { v: value };
    return value;
  };

  it('answers 400 API_001_INVALID_JSON to parameters nested past 32 levels (3,000 here), writing and starting nothing', async () => {
    const w = world();
    const res = await answer(postRun(PIPELINE, JSON.stringify({ parameters: nested(3_000) })), w.api);
    expect(res.statusCode).toBe(400);
    expect(bodyOf<ErrorBody>(res).error).toMatchObject({ code: ApiErrorCode.INVALID_JSON, message: 'the body nests deeper than 32 levels' });
    expect(w.store.writes).toEqual([]);
    expect(w.sfn.calls).toEqual([]);
    // 31 levels of parameters (32 with the body) are taken
    expect((await answer(postRun(PIPELINE, JSON.stringify({ parameters: nested(31), idempotencyKey: 'deep' })), w.api)).statusCode).toBe(201);
  });

  it.each([
    ['a 3,000-character run id', 'k-'.padEnd(3_000, 'a')],
    ['a run id with other characters', 'k-../../x'],
    ['a run id of another shape', 'RUN#k-1'],
  ])('answers 404 API_004_RUN_NOT_FOUND to %s, reading nothing, and never echoes more than 80 of its characters', async (_what, runId) => {
    const w = world();
    for (const event of [getRun(runId), { httpMethod: 'POST', resource: '/runs/{runId}/cancel', pathParameters: { runId }, body: '{}' }]) {
      const res = await answer(event, w.api);
      expect(res.statusCode).toBe(404);
      expect(bodyOf<ErrorBody>(res).error.code).toBe(ApiErrorCode.RUN_NOT_FOUND);
      expect(res.body.length).toBeLessThan(300);
    }
  });

  it('answers 404 API_003_PIPELINE_NOT_FOUND to a pipeline id that is not one, starting nothing', async () => {
    const w = world();
    const res = await answer(postRun('Daily_Sales'.repeat(300), '{}'), w.api);
    expect(res.statusCode).toBe(404);
    expect(bodyOf<ErrorBody>(res).error.code).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
    expect(w.sfn.calls).toEqual([]);
  });

  it('answers 503 API_010_RUN_START_FAILED when the state machine will not start the run, with the run recorded, and starts it on a retry with the same key', async () => {
    const w = world();
    w.sfn.failures = 1;
    const res = await answer(postRun(PIPELINE, JSON.stringify({ idempotencyKey: 'deploying' })), w.api);
    expect(res.statusCode).toBe(503);
    expect(res.headers).toMatchObject({ 'retry-after': '30' });
    const error = bodyOf<ErrorBody>(res).error;
    expect(error.code).toBe(ApiErrorCode.RUN_START_FAILED);
    expect(error.message).toContain('ThrottlingException: Rate exceeded');
    expect(error.run).toMatchObject({ status: 'FAILED', error: { code: 'RUN_START_FAILED' } });
    const again = await answer(postRun(PIPELINE, JSON.stringify({ idempotencyKey: 'deploying' })), w.api);
    expect(again.statusCode).toBe(200);
    expect(bodyOf<StartedBody>(again).run.status).toBe('PENDING');
  });

  it('answers 500 API_009_INTERNAL with the request id to anything unexpected, logging the error', async () => {
    const w = world();
    const broken: ApiDeps = { ...w.api, store: { ...w.api.store, getRun: async () => { throw new RangeError('Maximum call stack size exceeded'); } } };
    const res = await answer({ ...getRun('k-1'), requestContext: { requestId: 'req-42' } as APIGatewayProxyEvent['requestContext'] }, broken, w.log);
    expect(res.statusCode).toBe(500);
    expect(bodyOf<ErrorBody & { error: { requestId: string } }>(res).error).toEqual({ code: ApiErrorCode.INTERNAL, message: 'the request failed unexpectedly; quote request id req-42', requestId: 'req-42' });
    expect(res.body).not.toContain('Maximum call stack');
    expect(w.lines.some((l) => l.message === 'request failed' && l.requestId === 'req-42' && String(l.error).includes('RangeError'))).toBe(true);
  });
});

describe('route: GET /runs/{runId}', () => {
  const attemptRecord = (jobId: string, attempt: number, status: JobAttemptRecord['status'], extra: Partial<JobAttemptRecord> = {}): JobAttemptRecord => ({
    runId: '',
    pipelineId: PIPELINE,
    jobId,
    attempt,
    status,
    definitionVersion: 'def-1',
    parameters: { date: '2024-04-30' },
    startedAt: `2024-05-01T10:0${attempt}:00.000Z`,
    transitions: [{ status: JobStatus.RUNNING, at: `2024-05-01T10:0${attempt}:00.000Z` }],
    ...extra,
  });

  it('answers 200 with the run and its jobs, each with its attempts in order and the status of its last one', async () => {
    const w = world();
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    const a = (jobId: string, attempt: number, status: JobAttemptRecord['status'], extra: Partial<JobAttemptRecord> = {}) =>
      attemptRecord(jobId, attempt, status, { runId: run.runId, ...extra });
    // Written out of order; read back in job, then attempt order.
    await w.store.startAttempt(a('load', 1, JobStatus.RUNNING));
    await w.store.startAttempt(a('extract', 2, JobStatus.SUCCEEDED, { outputs: { rows: 3 } }));
    await w.store.startAttempt(a('extract', 1, JobStatus.FAILED, { errorCode: 'RATE_LIMITED', errorCategory: ErrorCategory.TRANSIENT, willRetry: true }));
    await w.store.markRunRunning({ ...run }, '2024-05-01T10:00:30.000Z');
    await w.store.finishRun(run.runId, {
      status: RunStatus.FAILED,
      at: '2024-05-01T10:09:00.000Z',
      jobs: {
        extract: { status: JobStatus.SUCCEEDED, attempts: 2 },
        load: { status: JobStatus.FAILED, attempts: 1 },
        report: { status: JobStatus.SKIPPED, attempts: 0, reason: 'UPSTREAM_FAILED' },
      },
    });

    const res = await route(getRun(run.runId), w.api);

    expect(res.statusCode).toBe(200);
    const view = RunViewSchema.parse(bodyOf<RunView>(res));
    expect(view.run).toEqual(await w.store.getRun(run.runId));
    expect(Object.keys(view.jobs)).toEqual(['extract', 'load', 'report']);
    expect(view.jobs.extract?.status).toBe(JobStatus.SUCCEEDED);
    expect(view.jobs.extract?.attempts.map((x) => [x.attempt, x.status])).toEqual([
      [1, JobStatus.FAILED],
      [2, JobStatus.SUCCEEDED],
    ]);
    expect(view.jobs.load).toEqual({ status: JobStatus.RUNNING, attempts: [a('load', 1, JobStatus.RUNNING)] });
    expect(view.jobs.report).toEqual({ status: JobStatus.SKIPPED, attempts: [] });
  });

  it('shows a job cancelled as its run ended by its last attempt (CANCELLED), and a job that never ran by its summary', async () => {
    const w = world();
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    await w.store.markRunRunning({ ...run, jobList: JOB_LISTS.put({ extract: [], load: ['extract'] }) }, '2024-05-01T10:00:30.000Z');
    await w.store.startAttempt(attemptRecord('extract', 1, JobStatus.FAILED, { runId: run.runId, errorCode: 'RATE_LIMITED', errorCategory: ErrorCategory.TRANSIENT, willRetry: true }));
    await w.store.startAttempt(attemptRecord('extract', 2, JobStatus.RUNNING, { runId: run.runId }));
    await w.store.closeAttempt(run.runId, 'extract', 2, { status: JobStatus.CANCELLED, at: '2024-05-01T10:09:00.000Z', errorCode: 'RUN_ENDED', errorMessage: 'the run ended' });
    await w.store.finishRun(run.runId, {
      status: RunStatus.FAILED,
      at: '2024-05-01T10:09:00.000Z',
      jobs: { extract: { status: JobStatus.CANCELLED, attempts: 2, reason: 'RUN_ENDED' }, load: { status: JobStatus.SKIPPED, attempts: 0, reason: 'RUN_ENDED' } },
      error: { code: 'EXECUTION_ABORTED', message: 'stopped' },
    });

    const view = RunViewSchema.parse(bodyOf<RunView>(await route(getRun(run.runId), w.api)));

    expect(view.jobs.extract?.status).toBe(JobStatus.CANCELLED);
    expect(view.jobs.extract?.attempts.map((x) => [x.attempt, x.status])).toEqual([
      [1, JobStatus.FAILED],
      [2, JobStatus.CANCELLED],
    ]);
    expect(view.jobs.load).toEqual({ status: JobStatus.SKIPPED, attempts: [] });
    expect(view.run.jobList).toEqual(JOB_LISTS.put({ extract: [], load: ['extract'] }));
  });

  it('shows a job skipped while its run goes on by its end (with no attempts), before the run’s summary exists', async () => {
    const w = world();
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    await w.store.markRunRunning({ ...run, jobList: JOB_LISTS.put({ extract: [], load: ['extract'], report: [] }) }, '2024-05-01T10:00:30.000Z');
    await w.store.startAttempt(attemptRecord('extract', 1, JobStatus.FAILED, { runId: run.runId, errorCode: 'BAD', errorCategory: ErrorCategory.PERMANENT, willRetry: false }));
    await w.store.endJob(run.runId, 'extract', { status: JobStatus.FAILED, at: '2024-05-01T10:01:00.000Z', attempt: 1, errorCode: 'BAD' });
    await w.store.endJob(run.runId, 'load', { status: JobStatus.SKIPPED, at: '2024-05-01T10:01:01.000Z', attempt: 0, reason: 'UPSTREAM_FAILED' });
    await w.store.startAttempt(attemptRecord('report', 1, JobStatus.RUNNING, { runId: run.runId }));

    const view = RunViewSchema.parse(bodyOf<RunView>(await route(getRun(run.runId), w.api)));

    expect(view.run.status).toBe(RunStatus.RUNNING);
    expect(Object.fromEntries(Object.entries(view.jobs).map(([id, j]) => [id, [j.status, j.attempts.length]]))).toEqual({
      extract: [JobStatus.FAILED, 1],
      load: [JobStatus.SKIPPED, 0],
      report: [JobStatus.RUNNING, 1],
    });
  });

  it('answers 404 API_004_RUN_NOT_FOUND for an unknown run', async () => {
    const w = world();
    const res = await route(getRun('m-nope'), w.api);
    expect(res.statusCode).toBe(404);
    expect(bodyOf<ErrorBody>(res).error).toEqual({ code: ApiErrorCode.RUN_NOT_FOUND, message: 'run "m-nope" does not exist' });
  });
});

describe('route: anything else', () => {
  it.each([
    ['DELETE', '/runs/{runId}'],
    ['DELETE', '/pipelines/{id}/runs'],
    ['PUT', '/pipelines/{id}/runs'],
    ['GET', '/'],
  ])('answers 404 API_006_ROUTE_NOT_FOUND for %s %s, starting nothing', async (httpMethod, resource) => {
    const w = world();
    const res = await route({ httpMethod, resource, pathParameters: { id: PIPELINE, runId: 'x' }, body: JSON.stringify({ idempotencyKey: 'k' }) }, w.api);
    expect(res.statusCode).toBe(404);
    expect(bodyOf<ErrorBody>(res).error).toEqual({ code: ApiErrorCode.ROUTE_NOT_FOUND, message: `no route ${httpMethod} ${resource}` });
    expect(w.sfn.calls).toEqual([]);
    expect(w.store.writes).toEqual([]);
  });
});

describe('route: POST /runs/{runId}/cancel (spec Rule 16)', () => {
  const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales:run';
  const cancelRun = (runId: string, body: unknown, userArn = 'arn:aws:iam::123456789012:user/ops'): RouteEvent & Pick<APIGatewayProxyEvent, 'requestContext'> => ({
    httpMethod: 'POST',
    resource: '/runs/{runId}/cancel',
    pathParameters: { runId },
    body: body === undefined ? null : JSON.stringify(body),
    requestContext: { identity: { userArn } } as unknown as APIGatewayProxyEvent['requestContext'],
  });
  /** A RUNNING run of `graph`, with job `running` in its first attempt. */
  async function runningRun(w: ReturnType<typeof world>, graph: Record<string, string[]>, running?: string, taskExecutionArn?: string) {
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: 'k' }, w.trigger);
    await w.store.markRunRunning({ ...run, executionArn: EXECUTION, jobList: JOB_LISTS.put(graph) }, '2024-05-01T10:00:30.000Z');
    if (running) {
      await w.store.startAttempt({ runId: run.runId, pipelineId: PIPELINE, jobId: running, attempt: 1, status: JobStatus.RUNNING, definitionVersion: 'd', parameters: {}, startedAt: '2024-05-01T10:00:40.000Z', transitions: [{ status: JobStatus.RUNNING, at: '2024-05-01T10:00:40.000Z' }], ...(taskExecutionArn ? { taskExecutionArn } : {}) });
    }
    return run.runId;
  }

  it('cancels a whole run: records who and when, stops its execution, closes it CANCELLED with running jobs CANCELLED and the rest SKIPPED', async () => {
    const w = world();
    const runId = await runningRun(w, { extract: [], load: ['extract'] }, 'extract');

    const res = await route(cancelRun(runId, { reason: 'bad input' }), w.api);

    expect(res.statusCode).toBe(200);
    const { run } = bodyOf<{ run: RunRecord }>(res);
    expect(run).toMatchObject({
      status: RunStatus.CANCELLED,
      cancellations: [{ by: 'arn:aws:iam::123456789012:user/ops', at: NOW, reason: 'bad input', jobs: ['extract', 'load'] }],
      jobs: { extract: { status: JobStatus.CANCELLED, attempts: 1, reason: 'RUN_CANCELLED' }, load: { status: JobStatus.SKIPPED, attempts: 0, reason: 'RUN_CANCELLED' } },
      error: { code: 'RUN_CANCELLED', message: `cancelled by arn:aws:iam::123456789012:user/ops at ${NOW}: bad input` },
    });
    expect(w.stopped).toEqual([{ executionArn: EXECUTION, cause: 'cancelled by arn:aws:iam::123456789012:user/ops: bad input' }]);
    expect((await w.store.listAttempts(runId))[0]).toMatchObject({ status: JobStatus.CANCELLED, errorCode: 'RUN_CANCELLED' });
    // each job's own end agrees, so a job still running elsewhere cannot end otherwise later
    expect((await w.store.listJobStates(runId)).map((s) => [s.jobId, s.status, s.reason])).toEqual([
      ['extract', JobStatus.CANCELLED, 'RUN_CANCELLED'],
      ['load', JobStatus.SKIPPED, 'RUN_CANCELLED'],
    ]);
  });

  it('answers 409 API_007_RUN_ENDED for a run that has ended, stopping nothing', async () => {
    const w = world();
    const runId = await runningRun(w, { extract: [] });
    await route(cancelRun(runId, {}), w.api);
    const again = await route(cancelRun(runId, {}), w.api);
    expect(again.statusCode).toBe(409);
    expect(bodyOf<ErrorBody>(again).error.code).toBe(ApiErrorCode.RUN_ENDED);
    expect(w.stopped).toHaveLength(1);
  });

  it('answers 404 for an unknown run or job, and 400 for a scope without a job or an unknown scope', async () => {
    const w = world();
    const runId = await runningRun(w, { extract: [] });
    expect(bodyOf<ErrorBody>(await route(cancelRun('m-nope', {}), w.api)).error.code).toBe(ApiErrorCode.RUN_NOT_FOUND);
    expect(bodyOf<ErrorBody>(await route(cancelRun(runId, { job: 'constructor' }), w.api)).error.code).toBe(ApiErrorCode.JOB_NOT_FOUND);
    for (const body of [{ scope: 'ALL_DOWNSTREAM' }, { job: 'extract', scope: 'EVERYTHING' }, { job: 'extract', colour: 'red' }]) {
      const res = await route(cancelRun(runId, body), w.api);
      expect({ body, status: res.statusCode, code: bodyOf<ErrorBody>(res).error.code }).toEqual({ body, status: 400, code: ApiErrorCode.INVALID_REQUEST });
    }
    expect(w.stopped).toEqual([]);
  });

  // a → b → c, a → d
  const graph = { a: [], b: ['a'], c: ['b'], d: ['a'] };
  it.each([
    ['JOB', ['b']],
    ['IMMEDIATE_DEPENDENTS', ['b', 'c']],
    ['ALL_DOWNSTREAM', ['b', 'c']],
  ] as const)('cancels job b with scope %s: ends %j, keeps the run going, and releases the cancelled jobs’ dependents', async (scope, ended) => {
    const w = world();
    const runId = await runningRun(w, graph, 'b', 'arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales/Jobs:b-child');
    w.store.registerToken(runId, 'c', 'tok-c');

    const res = await route(cancelRun(runId, { job: 'b', scope }), w.api);

    expect(res.statusCode).toBe(200);
    const { run } = bodyOf<{ run: RunRecord }>(res);
    expect(run.status).toBe(RunStatus.RUNNING);
    expect(run.cancellations).toEqual([{ by: 'arn:aws:iam::123456789012:user/ops', at: NOW, job: 'b', scope, jobs: ended }]);
    const states = Object.fromEntries((await w.store.listJobStates(runId)).filter((s) => s.status).map((s) => [s.jobId, [s.status, s.reason]]));
    expect(states).toEqual(Object.fromEntries(ended.map((id) => [id, [id === 'b' ? JobStatus.CANCELLED : JobStatus.SKIPPED, 'JOB_CANCELLED']])));
    // b was running in its own child execution: stopped; its attempt closed
    expect(w.stopped.map((s) => s.executionArn)).toEqual(['arn:aws:states:us-east-1:123456789012:execution:phi-daily-sales/Jobs:b-child']);
    expect((await w.store.listAttempts(runId, 'b'))[0]).toMatchObject({ status: JobStatus.CANCELLED, errorCode: 'JOB_CANCELLED' });
    // c, waiting on b, is woken (it then finds itself ended, or decides UPSTREAM_CANCELLED)
    expect(w.tokens).toEqual(['tok-c']);
    expect((await w.store.getJobState(runId, 'c'))?.upstream).toEqual({ b: { status: JobStatus.CANCELLED, attempt: 1, reason: 'JOB_CANCELLED' } });
  });

  it('cancels from a job the whole of its downstream with ALL_DOWNSTREAM, and never stops the run’s own execution for one job', async () => {
    const w = world();
    // On an emulator a job's iteration may report the run's execution as its own.
    const runId = await runningRun(w, graph, 'a', EXECUTION);
    const { run } = bodyOf<{ run: RunRecord }>(await route(cancelRun(runId, { job: 'a', scope: 'ALL_DOWNSTREAM' }), w.api));
    expect(run.cancellations?.[0]?.jobs).toEqual(['a', 'b', 'd', 'c']);
    expect(w.stopped).toEqual([]);
  });
});

describe('route: GET /pipelines/{id}/durations', () => {
  const durations = (id: string, runs?: string): RouteEvent & Pick<APIGatewayProxyEvent, 'queryStringParameters'> => ({
    httpMethod: 'GET',
    resource: '/pipelines/{id}/durations',
    pathParameters: { id },
    body: null,
    queryStringParameters: runs === undefined ? null : { runs },
  });
  /** A finished run of PIPELINE whose jobs' successful attempts took the given milliseconds. */
  async function finishedRun(w: ReturnType<typeof world>, key: string, status: 'SUCCEEDED' | 'FAILED', ms: Record<string, number>): Promise<void> {
    const { run } = await startRun({ pipelineId: PIPELINE, trigger: 'API', idempotencyKey: key }, w.trigger);
    for (const [jobId, d] of Object.entries(ms)) {
      await w.store.startAttempt({ runId: run.runId, pipelineId: PIPELINE, jobId, attempt: 1, status: JobStatus.SUCCEEDED, definitionVersion: 'd', parameters: {}, startedAt: NOW, completedAt: NOW, durationMs: d, transitions: [] });
    }
    await w.store.finishRun(run.runId, { status, at: NOW, jobs: {} });
  }

  it('answers each job’s median and p95 over the last N succeeded runs, failed runs left out', async () => {
    const w = world();
    for (let i = 1; i <= 10; i++) await finishedRun(w, `k${i}`, 'SUCCEEDED', { extract: i * 100, load: 50 });
    await finishedRun(w, 'bad', 'FAILED', { extract: 99_999 });

    const res = await route(durations(PIPELINE, '20'), w.api);

    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({
      pipelineId: PIPELINE,
      runs: 10,
      jobs: { extract: { samples: 10, medianMs: 500, p95Ms: 1000 }, load: { samples: 10, medianMs: 50, p95Ms: 50 } },
    });
  });

  it('answers 404 for a pipeline not deployed and 400 for runs outside 1..100', async () => {
    const w = world();
    expect((await route(durations('no-such'), w.api)).statusCode).toBe(404);
    for (const runs of ['0', '101', 'many']) expect({ runs, status: (await route(durations(PIPELINE, runs), w.api)).statusCode }).toEqual({ runs, status: 400 });
    expect(bodyOf((await route(durations(PIPELINE), w.api)))).toEqual({ pipelineId: PIPELINE, runs: 0, jobs: {} });
  });
});

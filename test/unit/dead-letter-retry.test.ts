/**
 * The dead-letter routes of the control API (`functions/control/dead-letters.ts` through `route`) over
 * an in-memory queue that hides received messages as SQS does, the in-memory record store and a Step
 * Functions that keeps execution names unique: retry identity and idempotency, delete-after-start,
 * purge by age, listing that leaves every message visible, and request validation.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { route, type ApiDeps } from '../../functions/control/api.ts';
import type { CancelDeps } from '../../functions/control/cancel.ts';
import type { DeadLetterDeps } from '../../functions/control/dead-letters.ts';
import { runIdFor, type TriggerDeps } from '../../functions/control/trigger.ts';
import type { DeadLetterQueue, QueuedMessage, RetryPointers } from '../../functions/shared/dead-letter-queue.ts';
import { ApiErrorCode, RunStatus, StartDecisionKind, TriggerType, type DeadLetterEntry, type DeadLetterListResponse, type DeadLetterMessage, type DeadLetterPurgeResponse, type DeadLetterRetryAllResponse, type DeadLetterRetryResponse, type RunRecord } from '../../lib/model/contract/index.ts';
import { z } from 'zod';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import type { JsonSchema } from '../../lib/model/run-parameters.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';

const PIPELINE = 'daily-sales';
const OTHER = 'hourly-clicks';
const NOW = '2024-05-10T10:00:00.000Z';
const CALLER = 'arn:aws:iam::123456789012:user/ops';
const MACHINES = new Map([
  [PIPELINE, 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-daily-sales'],
  [OTHER, 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-hourly-clicks'],
]);

/** What a run of PIPELINE may set (hourly-clicks declares nothing), compiled as a deploy compiles it. */
const DAILY_SALES_PARAMETERS = ((): JsonSchema => {
  const result = runParametersJsonSchema(z.object({ date: z.string().min(1).optional() }));
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.schema;
})();

/** SQS as the dead-letter routes use it: a received message is hidden (with a fresh receipt handle) until released or deleted. */
class FakeQueue implements DeadLetterQueue {
  private readonly messages: { messageId: string; body: string; sentAt: string; hidden: boolean; handle?: string; receives: number }[] = [];
  private handles = 0;
  /** How many coming deletes fail. */
  failDeletes = 0;
  receives = 0;

  add(messageId: string, letter: DeadLetterMessage | string, sentAt = NOW): void {
    this.messages.push({ messageId, body: typeof letter === 'string' ? letter : JSON.stringify(letter), sentAt, hidden: false, receives: 0 });
  }
  /** The ids of the messages in the queue, and whether each is visible. */
  get state(): { id: string; visible: boolean }[] {
    return this.messages.map((m) => ({ id: m.messageId, visible: !m.hidden }));
  }
  /** Hides a message as another caller's receive would. */
  hide(messageId: string): void {
    this.messages.find((m) => m.messageId === messageId)!.hidden = true;
  }

  async receive(): Promise<QueuedMessage[]> {
    this.receives++;
    return this.messages
      .filter((m) => !m.hidden)
      .slice(0, 10)
      .map((m) => {
        m.hidden = true;
        m.receives++;
        m.handle = `h-${++this.handles}`;
        return { messageId: m.messageId, receiptHandle: m.handle, body: m.body, sentAt: m.sentAt, receiveCount: m.receives };
      });
  }
  async release(handles: readonly string[]): Promise<void> {
    for (const m of this.messages) if (m.handle !== undefined && handles.includes(m.handle)) m.hidden = false;
  }
  async remove(handle: string): Promise<void> {
    if (this.failDeletes > 0) {
      this.failDeletes--;
      throw Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' });
    }
    const i = this.messages.findIndex((m) => m.handle === handle);
    if (i >= 0) this.messages.splice(i, 1);
  }
}

class MemoryPointers implements RetryPointers {
  readonly byId = new Map<string, string>();
  async get(messageId: string): Promise<string | undefined> {
    return this.byId.get(messageId);
  }
  async put(messageId: string, runId: string): Promise<void> {
    if (!this.byId.has(messageId)) this.byId.set(messageId, runId);
  }
}

function world(options: { maxActiveRuns?: number } = {}) {
  const store = new MemoryRecordStore();
  const names = new Set<string>();
  const starts: string[] = [];
  let startFailures = 0;
  const { log, lines } = captureLogs({ component: 'control-api' });
  const trigger: TriggerDeps = {
    store,
    stateMachines: MACHINES,
    runParameters: new Map([[PIPELINE, DAILY_SALES_PARAMETERS]]),
    startRules: new Map(options.maxActiveRuns !== undefined ? [[PIPELINE, { maxActiveRuns: options.maxActiveRuns }]] : []),
    startExecution: async (arn, name) => {
      starts.push(name);
      if (startFailures > 0) {
        startFailures--;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      names.add(`${arn}|${name}`);
    },
    log,
    now: clock(NOW),
  };
  const queue = new FakeQueue();
  const pointers = new MemoryPointers();
  const deadLetters: DeadLetterDeps = { queue, retries: pointers, store, trigger, log, now: clock(NOW) };
  const sendToken = async (): Promise<void> => {};
  const cancel: CancelDeps = { store, recorder: { store, log, sendToken, sendDeadLetter: async () => {}, jobLists: new MemoryJobLists(), now: clock(NOW) }, stopExecution: async () => {}, sendToken, log, now: clock(NOW) };
  const api: ApiDeps = { trigger, store, cancel, deadLetters, audit: store };
  return { store, queue, pointers, api, lines, executions: names, starts, failNextStart: () => void (startFailures = 1) };
}

/** A failed run of `pipelineId` (its record) and the dead letter of its job `load`. */
async function failedRun(w: ReturnType<typeof world>, runId: string, pipelineId = PIPELINE, parameters: Record<string, string> = { date: '2024-05-09' }): Promise<DeadLetterMessage> {
  await w.store.createRun({ runId, pipelineId, trigger: TriggerType.API, parameters, queuedAt: '2024-05-09T10:00:00.000Z' });
  return {
    kind: 'phi.job.failed',
    pipelineId,
    runId,
    jobId: 'load',
    attempts: 3,
    errorCode: 'WAREHOUSE_DOWN',
    errorMessage: 'no warehouse',
    errorCategory: 'PERMANENT',
    parameters: { ...parameters, table: 'sales' },
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:phi-${pipelineId}:${runId}`,
    trigger: TriggerType.API,
    failedAt: '2024-05-09T10:05:00.000Z',
  };
}

type Event = Parameters<typeof route>[0];
const withCaller = (e: Omit<Event, 'requestContext'>): Event => ({ ...e, requestContext: { identity: { userArn: CALLER } } as unknown as APIGatewayProxyEvent['requestContext'] });
const retry = (messageId: string, body: string | null = null): Event => withCaller({ httpMethod: 'POST', resource: '/dead-letters/{messageId}/retry', pathParameters: { messageId }, body });
const show = (messageId: string): Event => withCaller({ httpMethod: 'GET', resource: '/dead-letters/{messageId}', pathParameters: { messageId }, body: null });
const list = (query: Record<string, string> = {}): Event => withCaller({ httpMethod: 'GET', resource: '/dead-letters', pathParameters: null, queryStringParameters: query, body: null });
const retryAll = (body: unknown): Event => withCaller({ httpMethod: 'POST', resource: '/dead-letters/retry', pathParameters: null, body: JSON.stringify(body) });
const purge = (body: unknown): Event => withCaller({ httpMethod: 'POST', resource: '/dead-letters/purge', pathParameters: null, body: JSON.stringify(body) });
const bodyOf = <T>(res: APIGatewayProxyResult): T => JSON.parse(res.body) as T;
const codeOf = (res: APIGatewayProxyResult): string => bodyOf<{ error: { code: string } }>(res).error.code;

describe('a dead letter’s retry run', () => {
  it('has an identity derived from the failed run: one retry run per run, whatever letter of it, whoever asks, and phi retry --from-failed of that run is the same', () => {
    const retryOf = (messageId: string, runId = `${PIPELINE}_m-1`, by = CALLER) => ({ runId, jobId: 'load', messageId, fromFailed: true, by, at: NOW });
    const a = runIdFor({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, retryOf: retryOf('m-1') }, new Date(NOW));
    expect(a).toMatch(/^daily-sales_r-[0-9a-f]{32}$/);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, retryOf: retryOf('m-1', `${PIPELINE}_m-1`, 'someone else'), parameters: { x: 1 } }, new Date('2030-01-01T00:00:00Z'))).toBe(a);
    // Another letter of the same run (another job failed): the same retry.
    expect(runIdFor({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, retryOf: retryOf('m-2') }, new Date(NOW))).toBe(a);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, retryOf: { runId: `${PIPELINE}_m-1`, fromFailed: true, by: CALLER, at: NOW } }, new Date(NOW))).toBe(a);
    expect(runIdFor({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, retryOf: retryOf('m-3', `${PIPELINE}_m-2`) }, new Date(NOW))).not.toBe(a);
  });

  it('starts one run for two letters of one run (two jobs failed), deleting both', async () => {
    const w = world();
    const letter = await failedRun(w, `${PIPELINE}_m-two`);
    w.queue.add('msg-a', letter);
    w.queue.add('msg-b', { ...letter, jobId: 'publish' });
    const first = bodyOf<DeadLetterRetryResponse>(await route(retry('msg-a'), w.api));
    const second = bodyOf<DeadLetterRetryResponse>(await route(retry('msg-b'), w.api));
    expect(first).toMatchObject({ created: true, deleted: true });
    expect(second).toMatchObject({ created: false, deleted: true, run: { runId: first.run.runId } });
    expect(w.executions.size).toBe(1);
    expect(w.queue.state).toEqual([]);
  });

  it('is a new run of the pipeline with the failed run’s parameters, recorded as the letter’s retry by the caller, and the letter goes once it started', async () => {
    const w = world();
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-20240509-aaaa`));
    const res = await route(retry('msg-1'), w.api);
    expect(res.statusCode).toBe(201);
    const answer = bodyOf<DeadLetterRetryResponse>(res);
    expect(answer).toMatchObject({ messageId: 'msg-1', created: true, deleted: true });
    expect(answer.run).toMatchObject({ pipelineId: PIPELINE, trigger: TriggerType.RETRY, status: RunStatus.PENDING, parameters: { date: '2024-05-09' }, retryOf: { runId: `${PIPELINE}_m-20240509-aaaa`, jobId: 'load', messageId: 'msg-1', by: CALLER, at: NOW } });
    // Forced past any execution window: an operator's explicit recovery.
    expect(answer.run.startDecision).toMatchObject({ decision: StartDecisionKind.START });
    expect(w.executions.size).toBe(1);
    expect(w.queue.state).toEqual([]);
    expect(w.pointers.byId.get('msg-1')).toBe(answer.run.runId);
    expect(w.lines.find((l) => l.message === 'dead letter retried')).toMatchObject({ messageId: 'msg-1', by: CALLER, failedRunId: `${PIPELINE}_m-20240509-aaaa`, runId: answer.run.runId });
    // And in the audit log, with the caller.
    expect(w.store.audit).toEqual([{ id: expect.any(String), action: 'RETRY', pipeline: PIPELINE, by: CALLER, at: NOW, messageId: 'msg-1', runId: answer.run.runId, detail: 'retry run recorded PENDING, letter deleted' }]);
  });

  it('is started once for two retries of one letter: the second answers the same run (200), the letter gone', async () => {
    const w = world();
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-1`));
    const first = bodyOf<DeadLetterRetryResponse>(await route(retry('msg-1'), w.api));
    const again = await route(retry('msg-1'), w.api);
    expect(again.statusCode).toBe(200);
    expect(bodyOf<DeadLetterRetryResponse>(again)).toMatchObject({ created: false, deleted: false, run: { runId: first.run.runId } });
    expect(w.executions.size).toBe(1);
    expect(w.starts).toHaveLength(1);
  });

  it('is one run when the letter is still there after its retry started (its delete failed): the next retry deletes it', async () => {
    const w = world();
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-1`));
    w.queue.failDeletes = 1;
    const first = bodyOf<DeadLetterRetryResponse>(await route(retry('msg-1'), w.api));
    expect(first).toMatchObject({ created: true, deleted: false });
    expect(w.queue.state).toEqual([{ id: 'msg-1', visible: true }]);
    const second = bodyOf<DeadLetterRetryResponse>(await route(retry('msg-1'), w.api));
    expect(second).toMatchObject({ created: false, deleted: true, run: { runId: first.run.runId } });
    expect(w.queue.state).toEqual([]);
    expect(w.executions.size).toBe(1);
  });

  it('leaves the letter in the queue, visible, when its run would not start (503), and starts it on the next retry', async () => {
    const w = world();
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-1`));
    w.failNextStart();
    const res = await route(retry('msg-1'), w.api);
    expect(res.statusCode).toBe(503);
    expect(codeOf(res)).toBe(ApiErrorCode.RUN_START_FAILED);
    expect(w.queue.state).toEqual([{ id: 'msg-1', visible: true }]);
    expect(w.pointers.byId.size).toBe(0);
    const next = await route(retry('msg-1'), w.api);
    expect(next.statusCode).toBe(200);
    expect(bodyOf<DeadLetterRetryResponse>(next)).toMatchObject({ created: false, deleted: true, run: { status: RunStatus.PENDING } });
    expect(w.executions.size).toBe(1);
    expect(w.queue.state).toEqual([]);
  });

  it('is refused (409) without recording anything while the pipeline is at its active-runs limit, the letter kept', async () => {
    const w = world({ maxActiveRuns: 1 });
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-1`));
    await w.store.admitRun(PIPELINE, `${PIPELINE}_m-busy`, 1, NOW);
    await w.store.createRun({ runId: `${PIPELINE}_m-busy`, pipelineId: PIPELINE, trigger: TriggerType.API, parameters: {}, queuedAt: NOW });
    const res = await route(retry('msg-1'), w.api);
    expect(res.statusCode).toBe(409);
    expect(codeOf(res)).toBe(ApiErrorCode.RETRY_REFUSED);
    expect(w.queue.state).toEqual([{ id: 'msg-1', visible: true }]);
    expect(w.starts).toHaveLength(0);
  });

  it('records nothing when the limit fills between an earlier check and the retry’s own admission (the letter’s identity is never spent on a SKIPPED run)', async () => {
    const w = world({ maxActiveRuns: 1 });
    const letter = await failedRun(w, `${PIPELINE}_m-1`);
    w.queue.add('msg-1', letter);
    // Another start takes the one place as the retry is decided: the retry's admission itself refuses it.
    const admit = w.store.admitRun.bind(w.store);
    w.store.admitRun = async (pipelineId, runId, max, at) => {
      await admit(pipelineId, `${PIPELINE}_m-racer`, max, at);
      await w.store.createRun({ runId: `${PIPELINE}_m-racer`, pipelineId: PIPELINE, trigger: TriggerType.API, parameters: {}, queuedAt: at });
      return admit(pipelineId, runId, max, at);
    };
    const res = await route(retry('msg-1'), w.api);
    expect(res.statusCode).toBe(409);
    expect(codeOf(res)).toBe(ApiErrorCode.RETRY_REFUSED);
    expect((await w.store.listRunHistory(PIPELINE, { limit: 10, trigger: TriggerType.RETRY })).runs).toEqual([]);
    expect(w.queue.state).toEqual([{ id: 'msg-1', visible: true }]);
  });

  it('keeps the other letters it scanned past visible', async () => {
    const w = world();
    for (let i = 0; i < 15; i++) w.queue.add(`other-${i}`, await failedRun(w, `${OTHER}_m-${i}`, OTHER, {}));
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-1`));
    expect((await route(retry('msg-1'), w.api)).statusCode).toBe(201);
    expect(w.queue.state).toHaveLength(15);
    expect(w.queue.state.every((m) => m.visible)).toBe(true);
  });

  it('answers 404 for a letter that is not waiting, and for an id that cannot be a message id', async () => {
    const w = world();
    expect(codeOf(await route(retry('nope'), w.api))).toBe(ApiErrorCode.DEAD_LETTER_NOT_FOUND);
    expect(codeOf(await route(retry('not a/message'), w.api))).toBe(ApiErrorCode.DEAD_LETTER_NOT_FOUND);
    expect(codeOf(await route(show('nope'), w.api))).toBe(ApiErrorCode.DEAD_LETTER_NOT_FOUND);
  });

  it('takes no body fields', async () => {
    const w = world();
    const res = await route(retry('msg-1', JSON.stringify({ parameters: { date: 'x' } })), w.api);
    expect(res.statusCode).toBe(400);
    expect(codeOf(res)).toBe(ApiErrorCode.INVALID_REQUEST);
  });
});

describe('POST /dead-letters/retry { pipeline?, all: true }', () => {
  it('retries every waiting letter of the pipeline, one run each, and leaves the others', async () => {
    const w = world();
    w.queue.add('a', await failedRun(w, `${PIPELINE}_m-a`));
    w.queue.add('b', await failedRun(w, `${PIPELINE}_m-b`));
    w.queue.add('c', await failedRun(w, `${OTHER}_m-c`, OTHER, {}));
    const res = await route(retryAll({ pipeline: PIPELINE, all: true }), w.api);
    expect(res.statusCode).toBe(200);
    const answer = bodyOf<DeadLetterRetryAllResponse>(res);
    expect(answer.retried.map((r) => r.messageId).sort()).toEqual(['a', 'b']);
    expect(answer).toMatchObject({ failed: [], complete: true });
    expect(w.queue.state).toEqual([{ id: 'c', visible: true }]);
    expect(w.lines.find((l) => l.message === 'dead letters retried')).toMatchObject({ by: CALLER, retried: 2 });
    expect(w.store.audit).toMatchObject([{ action: 'RETRY', pipeline: PIPELINE, by: CALLER, detail: expect.stringMatching(/^all: 2 retried \(.+\), 0 failed$/) }]);
  });

  it('needs all: true, and a deployed pipeline', async () => {
    const w = world();
    expect(codeOf(await route(retryAll({ pipeline: PIPELINE }), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(codeOf(await route(retryAll({ all: false }), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(codeOf(await route(retryAll({ all: true, extra: 1 }), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(codeOf(await route(retryAll({ all: true, pipeline: 'nope' }), w.api))).toBe(ApiErrorCode.PIPELINE_NOT_FOUND);
  });
});

describe('POST /dead-letters/purge { olderThanSeconds }', () => {
  it('deletes the letters SQS got at least that long ago, keeps the younger ones visible, and logs how many and who', async () => {
    const w = world();
    const letter = await failedRun(w, `${PIPELINE}_m-1`);
    w.queue.add('old', letter, '2024-05-02T09:00:00.000Z');
    w.queue.add('edge', letter, '2024-05-03T10:00:00.000Z');
    w.queue.add('young', letter, '2024-05-09T10:00:00.000Z');
    const res = await route(purge({ olderThanSeconds: 7 * 86_400 }), w.api);
    expect(res.statusCode).toBe(200);
    expect(bodyOf<DeadLetterPurgeResponse>(res)).toMatchObject({ purged: 2, messageIds: ['old', 'edge'], complete: true });
    expect(w.store.audit).toMatchObject([{ action: 'PURGE', pipeline: '*', by: CALLER, detail: `2 dead letter(s) older than ${7 * 86_400} s purged` }]);
    expect(w.queue.state).toEqual([{ id: 'young', visible: true }]);
    expect(w.lines.find((l) => l.message === 'dead letters purged')).toMatchObject({ by: CALLER, purged: 2, olderThanSeconds: 604_800 });
  });

  it('refuses anything but a whole number of seconds up to 14 days', async () => {
    const w = world();
    for (const body of [{}, { olderThanSeconds: -1 }, { olderThanSeconds: 1.5 }, { olderThanSeconds: '7d' }, { olderThanSeconds: 15 * 86_400 }, { olderThanSeconds: 60, pipeline: PIPELINE }]) {
      expect(codeOf(await route(purge(body), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
    }
    expect(codeOf(await route(withCaller({ httpMethod: 'POST', resource: '/dead-letters/purge', pathParameters: null, body: '{' }), w.api))).toBe(ApiErrorCode.INVALID_JSON);
  });
});

describe('GET /dead-letters and /dead-letters/{messageId}', () => {
  it('lists the letters (of a pipeline), bounded, and leaves every message visible', async () => {
    const w = world();
    w.queue.add('a', await failedRun(w, `${PIPELINE}_m-a`));
    w.queue.add('c', await failedRun(w, `${OTHER}_m-c`, OTHER, {}));
    w.queue.add('junk', 'not json');
    const all = bodyOf<DeadLetterListResponse>(await route(list(), w.api));
    expect(all.letters.map((l) => l.messageId)).toEqual(['a', 'c']);
    expect(all).toMatchObject({ scanned: 3, complete: true });
    const mine = bodyOf<DeadLetterListResponse>(await route(list({ pipeline: PIPELINE }), w.api));
    expect(mine.letters.map((l) => l.letter.runId)).toEqual([`${PIPELINE}_m-a`]);
    const one = bodyOf<DeadLetterListResponse>(await route(list({ limit: '1' }), w.api));
    expect(one).toMatchObject({ complete: false });
    expect(one.letters).toHaveLength(1);
    expect(w.queue.state.every((m) => m.visible)).toBe(true);
    expect(codeOf(await route(list({ limit: '0' }), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(codeOf(await route(list({ pipeline: 'Not_A_Pipeline' }), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
    expect(codeOf(await route(list({ other: 'x' }), w.api))).toBe(ApiErrorCode.INVALID_REQUEST);
  });

  it('stops at its bound (20 pages of 10) and says the list may be incomplete', async () => {
    const w = world();
    const letter = await failedRun(w, `${PIPELINE}_m-a`);
    for (let i = 0; i < 205; i++) w.queue.add(`m-${i}`, letter);
    const page = bodyOf<DeadLetterListResponse>(await route(list({ limit: '200' }), w.api));
    expect(page).toMatchObject({ scanned: 200, complete: false });
    expect(w.queue.receives).toBe(20);
    expect(w.queue.state.every((m) => m.visible)).toBe(true);
  });

  it('shows one letter by its message id', async () => {
    const w = world();
    w.queue.add('a', await failedRun(w, `${PIPELINE}_m-a`));
    w.queue.add('b', await failedRun(w, `${PIPELINE}_m-b`));
    const res = await route(show('b'), w.api);
    expect(res.statusCode).toBe(200);
    expect(bodyOf<DeadLetterEntry>(res)).toMatchObject({ messageId: 'b', receiveCount: 1, letter: { runId: `${PIPELINE}_m-b`, jobId: 'load' } });
    expect(w.queue.state.every((m) => m.visible)).toBe(true);
  });
});

describe('the retry run’s record', () => {
  it('links the failed run (retryOf) and is listed in the pipeline’s history as trigger RETRY', async () => {
    const w = world();
    w.queue.add('msg-1', await failedRun(w, `${PIPELINE}_m-1`));
    const { run } = bodyOf<{ run: RunRecord }>(await route(retry('msg-1'), w.api));
    const page = await w.store.listRunHistory(PIPELINE, { limit: 10, trigger: TriggerType.RETRY });
    expect(page.runs.map((r) => r.runId)).toEqual([run.runId]);
    expect(page.runs[0]!.retryOf?.runId).toBe(`${PIPELINE}_m-1`);
  });
});

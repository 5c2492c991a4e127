/**
 * Webhook triggers (issue #9): `triggers: [{ type: 'webhook', toleranceSeconds? }]`. The plan defaults
 * them and counts their secrets; the signature is HMAC-SHA256 of `<timestamp>.<body>` with the trigger's
 * secret; the webhook function (against the real record store over an in-memory DynamoDB) starts one
 * run for a request signed, stamped within the tolerance and not seen before, and answers every other
 * request 401 with one body, recording and starting nothing.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { answerWebhook, cachedSecrets, receiveWebhook, type WebhookDeps, type WebhookRequest } from '../../functions/control/webhook.ts';
import { runIdFor, type TriggerDeps } from '../../functions/control/trigger.ts';
import { MAX_WEBHOOK_BODY_BYTES, RunIdSchema, signWebhook, verifyWebhook, WEBHOOK_UNAUTHORIZED_MESSAGE, WebhookAcceptedSchema, type WebhookRoutes } from '../../lib/model/contract/index.ts';
import { PipelineSchema, type PipelineInput } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { compilePlan, RESOURCES } from '../../lib/plan/compile.ts';
import { runParametersJsonSchema } from '../../lib/plan/run-parameters.ts';
import { webhookRoutes } from '../../lib/plan/triggers.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { captureLogs } from './support/memory-store.ts';

const NOW = new Date('2026-11-23T12:00:00Z');
const SECRET = 'k3yK3yk3yK3yk3yK3yk3yK3yk3yK3yk3yK3yk3yK3yk3yK3yk3yK3yk3yK3yk3yK';

function plan(fields: Partial<PipelineInput>) {
  const pipeline = PipelineSchema.parse({ id: 'hooks', jobs: { a: { handler: './a.ts' } }, ...fields });
  return compilePlan([{ file: '/tmp/defs/hooks.ts', pipeline }], NOW);
}

describe('the definition of a webhook trigger', () => {
  it('takes { type: "webhook", id?, enabled?, toleranceSeconds? (1-3600), debounceSeconds? }, and nothing else', () => {
    const parse = (trigger: object) => PipelineSchema.safeParse({ id: 'p', jobs: { a: { handler: 'a.ts' } }, triggers: [trigger] }).success;
    expect(parse({ type: 'webhook' })).toBe(true);
    expect(parse({ type: 'webhook', id: 'git-push', enabled: false, toleranceSeconds: 3600, debounceSeconds: 60 })).toBe(true);
    expect(parse({ type: 'webhook', toleranceSeconds: 0 })).toBe(false);
    expect(parse({ type: 'webhook', toleranceSeconds: 3601 })).toBe(false);
    expect(parse({ type: 'webhook', toleranceSeconds: 1.5 })).toBe(false);
    expect(parse({ type: 'webhook', secret: 'inline' })).toBe(false);
    expect(parse({ type: 'webhook', pattern: { source: ['a'] } })).toBe(false);
  });
});

describe('webhook triggers in the plan', () => {
  it('default their id (webhook-<i>) and tolerance (300 s), have no EventBridge pattern, and count one resource (the secret) each, enabled or not', () => {
    const withHooks = plan({ triggers: [{ type: 'webhook' }, { type: 'webhook', id: 'git', toleranceSeconds: 60, debounceSeconds: 30 }, { type: 'webhook', id: 'off', enabled: false }] });
    expect(withHooks.problems).toStrictEqual([]);
    const p = withHooks.plan.pipelines[0]!;
    expect(p.triggers.map((t) => [t.id, t.type, t.enabled, t.webhook?.toleranceSeconds, t.debounceSeconds, t.pattern])).toStrictEqual([
      ['webhook-0', 'webhook', true, 300, undefined, undefined],
      ['git', 'webhook', true, 60, 30, undefined],
      ['off', 'webhook', false, 300, undefined, undefined],
    ]);
    expect(p.estimates.stackResources).toBe(plan({}).plan.pipelines[0]!.estimates.stackResources + 3 * RESOURCES.perWebhookTrigger);
    // The webhook function's routes: the enabled ones only.
    expect(webhookRoutes(p.triggers)).toStrictEqual({ 'webhook-0': { toleranceSeconds: 300 }, git: { toleranceSeconds: 60, debounceSeconds: 30 } });
    expect(webhookRoutes(plan({}).plan.pipelines[0]!.triggers)).toBeUndefined();
  });

  it('refuses batchWindowSeconds (TRIG_003), a second trigger with its id and runParameters declaring "event" (TRIG_002), run parameters a bare run cannot have (DEF_009)', () => {
    const { problems } = plan({
      runParameters: z.object({ event: z.string().optional() }),
      triggers: [{ type: 'webhook', id: 'x', batchWindowSeconds: 30 }, { type: 'event', id: 'x', pattern: { source: ['a'] } }],
    });
    expect(problems.map((p) => [p.code, p.path])).toStrictEqual([
      [ProblemCode.TRIG_003_UNSUPPORTED, 'triggers[0].batchWindowSeconds'],
      [ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'triggers[1].id'],
      [ProblemCode.TRIG_002_TRIGGER_CONFLICT, 'runParameters.event'],
    ]);
    expect(plan({ runParameters: z.object({ date: z.string() }), triggers: [{ type: 'webhook' }] }).problems.map((p) => p.code)).toStrictEqual([ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT]);
  });
});

describe('the signature', () => {
  const at = '1795435200'; // 2026-11-23T12:00:00Z
  const body = '{"ref":"refs/heads/main"}';
  const now = new Date(Number(at) * 1000);
  const check = (fields: Partial<Parameters<typeof verifyWebhook>[0]> = {}) => verifyWebhook({ secret: SECRET, timestamp: at, signature: signWebhook(SECRET, at, body), body, now, toleranceSeconds: 300, ...fields });

  it('is sha256= and the hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret (what openssl dgst -sha256 -hmac prints)', () => {
    // printf '1700000000.hello' | openssl dgst -sha256 -hmac secret
    expect(signWebhook('secret', '1700000000', 'hello')).toBe('sha256=47b1df0ab12338b2685470b0d2b37033add7c3b2bc8172f313e77413f1bb78c8');
    expect(signWebhook('secret', '1700000000', Buffer.from('hello'))).toBe(signWebhook('secret', '1700000000', 'hello'));
  });

  it('verifies a request signed with the secret, within the tolerance either way, whatever the letter case of the hex', () => {
    const good = check();
    expect(good).toMatchObject({ ok: true, timestamp: Number(at) });
    expect(check({ now: new Date(now.getTime() + 300_000) }).ok).toBe(true);
    expect(check({ now: new Date(now.getTime() - 300_000) }).ok).toBe(true);
    const upper = check({ signature: `sha256=${signWebhook(SECRET, at, body).slice(7).toUpperCase()}` });
    expect(upper).toStrictEqual(good);
  });

  it.each([
    ['another secret', { signature: signWebhook('not-the-secret', at, body) }, 'mismatch'],
    ['a body changed after signing', { body: '{"ref":"refs/heads/evil"}' }, 'mismatch'],
    ['a timestamp changed after signing', { timestamp: String(Number(at) + 1) }, 'mismatch'],
    ['a timestamp older than the tolerance', { now: new Date(now.getTime() + 301_000) }, 'stale'],
    ['a timestamp further ahead than the tolerance', { now: new Date(now.getTime() - 301_000) }, 'stale'],
    ['no signature', { signature: undefined }, 'missing'],
    ['no timestamp', { timestamp: undefined }, 'missing'],
    ['a timestamp in milliseconds or as a date', { timestamp: '2026-11-23T12:00:00Z' }, 'malformed'],
    ['another scheme', { signature: `sha1=${'0'.repeat(40)}` }, 'malformed'],
    ['a truncated signature', { signature: signWebhook(SECRET, at, body).slice(0, 40) }, 'malformed'],
  ] as const)('refuses %s', (_what, fields, reason) => {
    expect(check(fields)).toStrictEqual({ ok: false, reason });
  });
});

// ---- the webhook function ----

const PIPELINE = 'hooks';
const TRIGGER = 'git-push';
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-hooks';
const declared = runParametersJsonSchema(z.object({ mode: z.enum(['full', 'delta']).default('delta') }));
if (!declared.ok) throw new Error(JSON.stringify(declared.problems));

function world(options: { routes?: WebhookRoutes; failStart?: number; now?: string } = {}) {
  const dynamo = new FakeDynamo();
  const store = recordStoreOver(dynamo);
  const { log, lines } = captureLogs({ component: 'webhook' });
  const executions = new Map<string, string>();
  const secretReads: string[] = [];
  let failures = options.failStart ?? 0;
  let now = new Date(options.now ?? '2026-11-23T12:00:01.000Z');
  const trigger: TriggerDeps = {
    store,
    log,
    triggerWindows: store,
    stateMachines: new Map([[PIPELINE, STATE_MACHINE]]),
    runParameters: new Map([[PIPELINE, declared.ok ? declared.schema : {}]]),
    startExecution: async (_arn, name, input) => {
      if (failures > 0) {
        failures--;
        throw new Error('StateMachineDoesNotExist: the stack is deploying');
      }
      if (!executions.has(name)) executions.set(name, input);
    },
    now: () => now,
  };
  const deps: WebhookDeps = {
    trigger,
    routes: options.routes ?? { [PIPELINE]: { [TRIGGER]: { toleranceSeconds: 300 } } },
    guard: store,
    secretOf: async (pipelineId, triggerId) => {
      secretReads.push(`${pipelineId}/${triggerId}`);
      return SECRET;
    },
  };
  /** The commands that changed the table (a failed conditional put included), from the `from`th on. */
  const writes = (from = 0) => dynamo.sent.slice(from).filter((c) => !['GetCommand', 'QueryCommand', 'BatchGetCommand'].includes(c.command));
  return { deps, store, dynamo, executions, lines, secretReads, writes, setNow: (iso: string) => void (now = new Date(iso)) };
}

/** A request as API Gateway's proxy integration hands it over, signed at `timestamp` with `secret`. */
function request(body: string, fields: { timestamp?: string; secret?: string; signature?: string; pipelineId?: string; triggerId?: string; headers?: Record<string, string> } = {}): WebhookRequest {
  const timestamp = fields.timestamp ?? String(Date.parse('2026-11-23T12:00:00Z') / 1000);
  return {
    pathParameters: { pipelineId: fields.pipelineId ?? PIPELINE, triggerId: fields.triggerId ?? TRIGGER },
    headers: fields.headers ?? { 'Content-Type': 'application/json', 'X-Phi-Timestamp': timestamp, 'X-Phi-Signature': fields.signature ?? signWebhook(fields.secret ?? SECRET, timestamp, body) },
    body,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1' } as WebhookRequest['requestContext'],
  };
}

const BODY = JSON.stringify({ ref: 'refs/heads/main', commits: 3 });
const digestOf = (signature: string): string => createHash('sha256').update(Buffer.from(signature.slice(7), 'hex')).digest('hex');

describe('the webhook function', () => {
  it('starts one EVENT run for a good request (202 with its id), the body in its event parameter, named after the trigger and the signature’s digest', async () => {
    const w = world();
    const req = request(BODY);
    const answer = await receiveWebhook(req, w.deps);
    expect(answer.statusCode).toBe(202);
    const accepted = WebhookAcceptedSchema.parse(JSON.parse(answer.body));
    const digest = digestOf(req.headers['X-Phi-Signature']!);
    const runId = runIdFor({ pipelineId: PIPELINE, trigger: 'EVENT', triggerId: TRIGGER, eventId: digest }, new Date());
    expect(accepted).toStrictEqual({ accepted: true, debounced: false, created: true, runId, status: 'PENDING' });
    expect(RunIdSchema.safeParse(runId).success).toBe(true);
    expect(await w.store.getRun(runId)).toMatchObject({
      trigger: 'EVENT',
      triggerId: TRIGGER,
      eventId: digest,
      parameters: { mode: 'delta', event: { id: digest, source: 'phi.webhook', detailType: 'Webhook', time: '2026-11-23T12:00:00Z', detail: { ref: 'refs/heads/main', commits: 3 } } },
    });
    expect([...w.executions.keys()]).toStrictEqual([runId]);
    expect(JSON.parse(w.executions.get(runId)!)).toMatchObject({ trigger: 'EVENT', parameters: { event: { id: digest } } });
  });

  it('gives a body that is not JSON to the run as its text', async () => {
    const w = world();
    const answer = WebhookAcceptedSchema.parse(JSON.parse((await receiveWebhook(request('payload=a%20b&x=1'), w.deps)).body));
    if (answer.debounced) throw new Error('debounced');
    expect((await w.store.getRun(answer.runId))?.parameters.event).toMatchObject({ detail: 'payload=a%20b&x=1' });
  });

  it.each([
    ['a signature with another secret', () => request(BODY, { secret: 'not-the-secret' })],
    ['a body changed after signing', () => ({ ...request(BODY), body: BODY.replace('main', 'evil') })],
    ['no signature', () => request(BODY, { headers: { 'X-Phi-Timestamp': '1795435200' } })],
    ['a stale timestamp (301 s before its arrival)', () => request(BODY, { timestamp: String(Date.parse('2026-11-23T11:55:00Z') / 1000) })],
  ])('answers %s 401, the same body as every refusal, and records and starts nothing', async (_what, make) => {
    const w = world();
    const answer = await receiveWebhook(make(), w.deps);
    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body)).toStrictEqual({ error: { code: 'WEBHOOK_001_UNAUTHORIZED', message: WEBHOOK_UNAUTHORIZED_MESSAGE } });
    expect(w.writes()).toStrictEqual([]);
    expect(w.executions.size).toBe(0);
    expect(w.lines.some((l) => l.message === 'webhook request refused')).toBe(true);
  });

  it('answers an unknown pipeline, an unknown or disabled trigger, or an id naming an Object property exactly as a bad signature, without reading any secret', async () => {
    const w = world();
    const bad = await receiveWebhook(request(BODY, { secret: 'wrong' }), w.deps);
    for (const [pipelineId, triggerId] of [['other', TRIGGER], [PIPELINE, 'other'], ['constructor', 'toString'], [PIPELINE, '__proto__']] as const) {
      const answer = await receiveWebhook(request(BODY, { pipelineId, triggerId }), w.deps);
      expect({ statusCode: answer.statusCode, body: answer.body }).toStrictEqual({ statusCode: bad.statusCode, body: bad.body });
    }
    expect(w.secretReads).toStrictEqual([`${PIPELINE}/${TRIGGER}`]);
    expect(w.writes()).toStrictEqual([]);
    expect(w.executions.size).toBe(0);
  });

  it('answers a replay of a good request 401 and starts no second run: the guard’s conditional put is all it writes', async () => {
    const w = world();
    const req = request(BODY);
    expect((await receiveWebhook(req, w.deps)).statusCode).toBe(202);
    const before = w.dynamo.sent.length;
    w.setNow('2026-11-23T12:03:00.000Z');
    const replay = await receiveWebhook(req, w.deps);
    expect(replay.statusCode).toBe(401);
    expect(JSON.parse(replay.body)).toStrictEqual({ error: { code: 'WEBHOOK_001_UNAUTHORIZED', message: WEBHOOK_UNAUTHORIZED_MESSAGE } });
    expect(w.writes(before).map((c) => [c.command, (c.input.Item as { pk?: string } | undefined)?.pk?.split('#')[0]])).toStrictEqual([['PutCommand', 'WEBHOOK']]);
    expect(w.executions.size).toBe(1);
    expect(w.lines.filter((l) => l.message === 'webhook request refused').map((l) => l.reason)).toStrictEqual(['replay']);
    // The same request with the hex in capitals is the same request.
    const shouted = { ...req, headers: { ...req.headers, 'X-Phi-Signature': `sha256=${req.headers['X-Phi-Signature']!.slice(7).toUpperCase()}` } };
    expect((await receiveWebhook(shouted, w.deps)).statusCode).toBe(401);
    expect(w.executions.size).toBe(1);
  });

  it('keeps the guard past the tolerance: its item expires a minute after the timestamp’s tolerance ends', async () => {
    const w = world();
    await receiveWebhook(request(BODY), w.deps);
    const guard = w.dynamo.sent.find((c) => c.command === 'PutCommand' && String((c.input.Item as { pk: string }).pk).startsWith('WEBHOOK#'))!;
    expect((guard.input.Item as { expiresAt: number }).expiresAt).toBe(Date.parse('2026-11-23T12:00:00Z') / 1000 + 300 + 60);
    expect(guard.input.ConditionExpression).toBe('attribute_not_exists(pk) OR #released = :released');
  });

  it('answers 503 when the run could not be started and gives the guard up: the same request sent again starts that run, once', async () => {
    const w = world({ failStart: 1 });
    const req = request(BODY);
    const failed = await receiveWebhook(req, w.deps);
    expect(failed.statusCode).toBe(503);
    expect(JSON.parse(failed.body)).toMatchObject({ error: { code: 'API_010_RUN_START_FAILED' } });
    expect(w.executions.size).toBe(0);
    const again = await receiveWebhook(req, w.deps);
    expect(again.statusCode).toBe(202);
    expect(JSON.parse(again.body)).toMatchObject({ created: false, runId: JSON.parse(failed.body).runId });
    expect(w.executions.size).toBe(1);
    // Taken now: a third time is a replay.
    expect((await receiveWebhook(req, w.deps)).statusCode).toBe(401);
  });

  it('refuses a body larger than a run’s parameters hold (413) before reading the secret, recording nothing', async () => {
    const w = world();
    const answer = await receiveWebhook(request('x'.repeat(MAX_WEBHOOK_BODY_BYTES + 1)), w.deps);
    expect(answer.statusCode).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'WEBHOOK_002_BODY_TOO_LARGE' } });
    expect(w.secretReads).toStrictEqual([]);
    expect(w.writes()).toStrictEqual([]);
  });

  it('with debounceSeconds starts at most one run per interval: another good request inside it is taken (202, debounced) but starts nothing', async () => {
    const w = world({ routes: { [PIPELINE]: { [TRIGGER]: { toleranceSeconds: 300, debounceSeconds: 60 } } } });
    const first = JSON.parse((await receiveWebhook(request(BODY), w.deps)).body);
    expect(first).toMatchObject({ debounced: false, created: true });
    w.setNow('2026-11-23T12:00:30.000Z');
    const second = await receiveWebhook(request('{"n":2}', { timestamp: String(Date.parse('2026-11-23T12:00:29Z') / 1000) }), w.deps);
    expect(second.statusCode).toBe(202);
    expect(JSON.parse(second.body)).toStrictEqual({ accepted: true, debounced: true });
    expect(w.executions.size).toBe(1);
  });

  it('answers 500 with the request id, not 401, when the trigger’s secret cannot be read, and records nothing', async () => {
    const w = world();
    const answer = await answerWebhook(request(BODY), { ...w.deps, secretOf: async () => { throw new Error('AccessDeniedException'); } });
    expect(answer.statusCode).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'API_009_INTERNAL', requestId: 'req-1' } });
    expect(w.writes()).toStrictEqual([]);
  });

  it('reads a base64-encoded body as its bytes', async () => {
    const w = world();
    const req = request(BODY);
    const answer = await receiveWebhook({ ...req, body: Buffer.from(BODY).toString('base64'), isBase64Encoded: true }, w.deps);
    expect(answer.statusCode).toBe(202);
  });
});

describe('the secret cache', () => {
  it('reads a trigger’s secret by its name once a minute', async () => {
    const reads: string[] = [];
    let clock = 0;
    const secretOf = cachedSecrets(async (name) => (reads.push(name), `v${reads.length}`), 60, () => clock);
    expect(await secretOf(PIPELINE, TRIGGER)).toBe('v1');
    clock = 59_000;
    expect(await secretOf(PIPELINE, TRIGGER)).toBe('v1');
    clock = 60_001;
    expect(await secretOf(PIPELINE, TRIGGER)).toBe('v2');
    expect(reads).toStrictEqual(['phi/hooks/git-push', 'phi/hooks/git-push']);
  });
});

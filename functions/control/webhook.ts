/**
 * The webhook function (issue #9): `POST /webhooks/{pipelineId}/{triggerId}` on the control API, the one
 * route API Gateway does not authorize with IAM, so this function is its authentication. A request is
 * taken when its trigger is deployed, its `X-Phi-Signature` is the HMAC-SHA256 of `<X-Phi-Timestamp>.<body>`
 * keyed by the trigger's secret (`lib/model/contract/webhook.ts`), its timestamp is within the trigger's
 * tolerance of now, and it was not received before (one conditional write of the signature's digest in
 * the records table). Then it starts one run (trigger `EVENT`, as an event trigger's delivery: the same
 * `event` parameter, the same debounce), named after the trigger and the digest, and answers 202.
 * Anything else is answered 401 with one body whatever the cause, and records and starts nothing.
 *
 * It holds only what that needs: the trigger secrets (`secretsmanager:GetSecretValue`, by name), the
 * records table (the replay guards; the runs), `states:StartExecution` on the webhook pipelines.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { nestsDeeperThan } from '../../lib/model/canonical.ts';
import { ApiErrorCode, MAX_BODY_DEPTH, MAX_WEBHOOK_BODY_BYTES, verifyWebhook, WEBHOOK_EVENT, WEBHOOK_HEADERS, WEBHOOK_UNAUTHORIZED_MESSAGE, WEBHOOKS_ENV, WebhookErrorCode, WebhookRoutesSchema, type WebhookAccepted, type WebhookRefusal, type WebhookRoute, type WebhookRoutes } from '../../lib/model/contract/index.ts';
import { describeError, PhiError } from '../../lib/model/errors.ts';
import { webhookSecretName } from '../../lib/model/names.ts';
import { JsonValueSchema, type JsonValue } from '../../lib/model/pipeline.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import type { RecordStore } from '../shared/records/store.ts';
import { RunStartError, startEventRun, triggerDepsFromEnv, type TriggerDeps, type TriggeredEvent } from './trigger.ts';

/** A guard outlives its request's tolerance by this much, so a clock a little behind DynamoDB's TTL never lets a replay through. */
const GUARD_MARGIN_SECONDS = 60;

/** How long the function keeps a secret it read (a secret changed in Secrets Manager is taken within this). */
export const SECRET_CACHE_SECONDS = 60;

export interface WebhookDeps {
  /** What starting a run needs (`startEventRun`): the records, the state machines, run parameters and start rules. */
  readonly trigger: TriggerDeps;
  /** The deployment's enabled webhook triggers: any other is answered as a bad signature. */
  readonly routes: WebhookRoutes;
  /** The replay guards, in the records table. */
  readonly guard: Pick<RecordStore, 'claimWebhookRequest' | 'releaseWebhookRequest'>;
  /** The trigger's signing secret (read from Secrets Manager, `webhookSecretName`). */
  readonly secretOf: (pipelineId: string, triggerId: string) => Promise<string>;
}

/** What of API Gateway's proxy event the function reads. */
export type WebhookRequest = Pick<APIGatewayProxyEvent, 'pathParameters' | 'headers' | 'body'> & Partial<Pick<APIGatewayProxyEvent, 'isBase64Encoded' | 'requestContext'>>;

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const UNAUTHORIZED: APIGatewayProxyResult = json(401, { error: { code: WebhookErrorCode.UNAUTHORIZED, message: WEBHOOK_UNAUTHORIZED_MESSAGE } });

/** A header's value, whatever the letter case it was sent in. */
function headerOf(headers: WebhookRequest['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {})) if (key.toLowerCase() === name && value !== undefined) return value;
  return undefined;
}

/** The deployed route of a pipeline's trigger (own properties only: an id such as `constructor` names none). */
function routeOf(routes: WebhookRoutes, pipelineId: string, triggerId: string): WebhookRoute | undefined {
  const triggers = Object.hasOwn(routes, pipelineId) ? routes[pipelineId] : undefined;
  return triggers !== undefined && Object.hasOwn(triggers, triggerId) ? triggers[triggerId] : undefined;
}

/** How deep the body's JSON may nest to be kept as JSON: it is stored three levels down (`parameters.event.detail`) in a record DynamoDB keeps to 32 levels. */
const MAX_DETAIL_DEPTH = MAX_BODY_DEPTH - 4;

/** The body as the run's `event.detail`: its JSON when it is JSON (nesting at most `MAX_DETAIL_DEPTH`), else the text itself. */
function detailOf(text: string): JsonValue {
  try {
    const parsed: unknown = JSON.parse(text);
    if (nestsDeeperThan(parsed, MAX_DETAIL_DEPTH)) return text;
    const value = JsonValueSchema.safeParse(parsed);
    return value.success ? value.data : text;
  } catch {
    return text;
  }
}

/** `1795000000` → `2026-11-18T…Z`: the request's timestamp as an event's `time` (to the second). */
const isoSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Answers one webhook request (see the file's comment). Nothing is read from Secrets Manager for a
 * body too large or an unknown trigger, and nothing is recorded or started for a request refused.
 */
export async function receiveWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<APIGatewayProxyResult> {
  const log = deps.trigger.log;
  const pipelineId = request.pathParameters?.pipelineId ?? '';
  const triggerId = request.pathParameters?.triggerId ?? '';
  const body = Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8');
  // Where the request went, for the log (the path is the caller's: bounded).
  const at = { pipelineId: pipelineId.slice(0, 80), triggerId: triggerId.slice(0, 80) };
  const refuse = (reason: WebhookRefusal | 'unknown trigger' | 'replay'): APIGatewayProxyResult => {
    log.info('webhook request refused', { ...at, reason });
    return UNAUTHORIZED;
  };
  if (body.length > MAX_WEBHOOK_BODY_BYTES) {
    log.info('webhook request refused', { ...at, reason: 'body too large', bytes: body.length });
    return json(413, { error: { code: WebhookErrorCode.BODY_TOO_LARGE, message: `the body is ${body.length} bytes; a webhook takes at most ${MAX_WEBHOOK_BODY_BYTES} (it becomes the run's event parameter): send a reference (an S3 key) to larger data` } });
  }
  const route = routeOf(deps.routes, pipelineId, triggerId);
  if (route === undefined || !deps.trigger.stateMachines.has(pipelineId)) return refuse('unknown trigger');

  const now = (deps.trigger.now ?? (() => new Date()))();
  const verdict = verifyWebhook({
    secret: await deps.secretOf(pipelineId, triggerId),
    timestamp: headerOf(request.headers, WEBHOOK_HEADERS.timestamp),
    signature: headerOf(request.headers, WEBHOOK_HEADERS.signature),
    body,
    now,
    toleranceSeconds: route.toleranceSeconds,
  });
  if (!verdict.ok) return refuse(verdict.reason);
  const { digest } = verdict;
  if (!(await deps.guard.claimWebhookRequest(pipelineId, triggerId, digest, now.toISOString(), verdict.timestamp + route.toleranceSeconds + GUARD_MARGIN_SECONDS))) return refuse('replay');

  // Shaped as an event trigger's delivery (`triggerType: 'event'`): its run gets the same `event`
  // parameter, the same identity (the trigger and the digest) and the same debounce.
  const delivery: TriggeredEvent = {
    pipelineId,
    triggerId,
    triggerType: 'event',
    ...(route.debounceSeconds !== undefined ? { debounceSeconds: route.debounceSeconds } : {}),
    event: { id: digest, source: WEBHOOK_EVENT.source, 'detail-type': WEBHOOK_EVENT.detailType, time: isoSeconds(verdict.timestamp), detail: detailOf(body.toString('utf8')) },
  };
  try {
    const started = await startEventRun(delivery, deps.trigger);
    const answer: WebhookAccepted = started.debounced ? { accepted: true, debounced: true } : { accepted: true, debounced: false, created: started.created, runId: started.run.runId, status: started.run.status };
    log.info('webhook request accepted', { ...at, digest, ...(started.debounced ? { debounced: true } : { runId: started.run.runId, created: started.created }) });
    return json(202, answer);
  } catch (err) {
    // Not started: the guard is given up, so the sender may send the same request again (the run, if
    // recorded, is the same one, and starts then).
    await deps.guard.releaseWebhookRequest(pipelineId, triggerId, digest).catch((releaseErr: unknown) => log.error('webhook request guard not released: the sender must sign the request again', { ...at, digest, error: describeError(releaseErr) }));
    if (err instanceof RunStartError) return json(503, { error: { code: ApiErrorCode.RUN_START_FAILED, message: `${err.message}; send the same request again` }, runId: err.run.runId }, { 'retry-after': '30' });
    throw err;
  }
}

/** `receiveWebhook`, and for anything it did not expect a 500 with a stable code and the request id to find the logged error by. */
export async function answerWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<APIGatewayProxyResult> {
  try {
    return await receiveWebhook(request, deps);
  } catch (err) {
    const requestId = request.requestContext?.requestId ?? 'unknown';
    deps.trigger.log.error('webhook request failed', { requestId, pipelineId: (request.pathParameters?.pipelineId ?? '').slice(0, 80), triggerId: (request.pathParameters?.triggerId ?? '').slice(0, 80), error: describeError(err) });
    return json(500, { error: { code: ApiErrorCode.INTERNAL, message: `the request failed unexpectedly; quote request id ${requestId}`, requestId } });
  }
}

/** A trigger's secret could not be read (missing, not a string, or Secrets Manager refused): the request is answered 500, never 401. */
export class WebhookSecretError extends PhiError {
  constructor(name: string, cause: string) {
    super('WEBHOOK_SECRET_UNREADABLE', `the webhook secret ${name} could not be read: ${cause}`);
  }
}

/** `read`, each name's value kept for `seconds` (one read per secret a minute, not one per request). */
export function cachedSecrets(read: (name: string) => Promise<string>, seconds = SECRET_CACHE_SECONDS, now: () => number = Date.now): (pipelineId: string, triggerId: string) => Promise<string> {
  const cache = new Map<string, { value: string; until: number }>();
  return async (pipelineId, triggerId) => {
    const name = webhookSecretName(pipelineId, triggerId);
    const hit = cache.get(name);
    if (hit !== undefined && hit.until > now()) return hit.value;
    const value = await read(name);
    cache.set(name, { value, until: now() + seconds * 1000 });
    return value;
  };
}

/** The function's dependencies, from the environment the platform construct sets (`PHI_WEBHOOKS` beside the trigger function's). */
export function webhookDepsFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookDeps {
  const secrets = new SecretsManagerClient({});
  return {
    trigger: triggerDepsFromEnv('webhook'),
    routes: WebhookRoutesSchema.parse(JSON.parse(env[WEBHOOKS_ENV] ?? '{}')),
    guard: recordStoreFromEnv(),
    secretOf: cachedSecrets(async (name) => {
      let value: string | undefined;
      try {
        value = (await secrets.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
      } catch (err) {
        throw new WebhookSecretError(name, describeError(err));
      }
      if (value === undefined || value === '') throw new WebhookSecretError(name, 'it holds no string');
      return value;
    }),
  };
}

let deps: WebhookDeps | undefined;
/** Lambda entry for API Gateway's proxy integration of `POST /webhooks/{pipelineId}/{triggerId}`. */
export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  deps ??= webhookDepsFromEnv();
  return answerWebhook(event, deps);
}

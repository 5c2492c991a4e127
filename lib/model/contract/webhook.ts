/**
 * Webhook triggers (issue #9): how an external system signs a request to the control API's
 * `POST /webhooks/{pipelineId}/{triggerId}` (the one route without IAM auth), what the platform's
 * webhook function answers, and what the platform tells that function of the deployment's webhook
 * triggers. The signature: `X-Phi-Timestamp: <unix seconds>` and
 * `X-Phi-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, the secret being the
 * trigger's Secrets Manager secret (`webhookSecretName`). Pure (HMAC and SHA-256 from `node:crypto`).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PipelineIdSchema, TriggerIdSchema } from '../pipeline.ts';
import { MAX_RUN_PARAMETERS_BYTES } from './task.ts';

/** The request headers a webhook call carries (HTTP header names are case-insensitive; these are lowercase). */
export const WEBHOOK_HEADERS = { timestamp: 'x-phi-timestamp', signature: 'x-phi-signature' } as const;

/** What a signature header's value begins with: the scheme, so another can follow without ambiguity. */
export const WEBHOOK_SIGNATURE_SCHEME = 'sha256=';

/** A webhook trigger's defaults when its definition leaves them out. */
export const WEBHOOK_DEFAULTS = {
  /** How far a request's timestamp may be from its arrival, either way (a request older is refused as a replay). */
  toleranceSeconds: 300,
} as const;

/** The largest body a webhook takes: it becomes the run's `event` parameter, which the run parameters' limit holds. */
export const MAX_WEBHOOK_BODY_BYTES = MAX_RUN_PARAMETERS_BYTES;

/** The `source` and `detailType` of a webhook run's `event` parameter (as an event trigger's run has them from EventBridge). */
export const WEBHOOK_EVENT = { source: 'phi.webhook', detailType: 'Webhook' } as const;

/** The webhook function's error codes (the body `{ error: { code, message } }`, as the control API's). */
export const WebhookErrorCode = {
  /**
   * 401, the one answer to every request not taken: an unknown pipeline or trigger (or a disabled one),
   * a missing or malformed header, a signature that is not the secret's, a timestamp outside the
   * tolerance, a request received before (a replay). Which of these it was is logged, never answered.
   */
  UNAUTHORIZED: 'WEBHOOK_001_UNAUTHORIZED',
  /** 413: the body is larger than `MAX_WEBHOOK_BODY_BYTES`. Nothing was read, recorded or started. */
  BODY_TOO_LARGE: 'WEBHOOK_002_BODY_TOO_LARGE',
} as const;
export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];

/** The message of every 401: the same whatever the cause, so a caller learns nothing of the triggers or the secret. */
export const WEBHOOK_UNAUTHORIZED_MESSAGE = 'the request is not one this webhook takes: it must be signed with the trigger\'s secret (X-Phi-Signature), stamped within its tolerance (X-Phi-Timestamp) and not sent before';

/** The answer to a request taken (202): the run it started (or found, for a request sent again after a 5xx), or nothing, the trigger's debounce window being open. */
export const WebhookAcceptedSchema = z.union([
  z.object({ accepted: z.literal(true), debounced: z.literal(false), created: z.boolean(), runId: z.string(), status: z.string() }).strict(),
  z.object({ accepted: z.literal(true), debounced: z.literal(true) }).strict(),
]);
export type WebhookAccepted = z.infer<typeof WebhookAcceptedSchema>;

/** One deployed webhook trigger, as the webhook function knows it. */
export const WebhookRouteSchema = z.object({ toleranceSeconds: z.number().int().min(1), debounceSeconds: z.number().int().min(1).optional() }).strict();
export type WebhookRoute = z.infer<typeof WebhookRouteSchema>;

/** Pipeline id → trigger id → its route: every enabled webhook trigger of the deployment (the platform's `PHI_WEBHOOKS`). */
export const WebhookRoutesSchema = z.record(PipelineIdSchema, z.record(TriggerIdSchema, WebhookRouteSchema));
export type WebhookRoutes = z.infer<typeof WebhookRoutesSchema>;

/** The environment variable the platform hands the webhook function its routes in. */
export const WEBHOOKS_ENV = 'PHI_WEBHOOKS';

/** The HMAC-SHA256 of `<timestamp>.<body>` keyed by `secret` (its UTF-8 bytes). */
function mac(secret: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/**
 * The `X-Phi-Signature` value of a request: `sha256=` and the lowercase hex HMAC-SHA256, keyed by the
 * trigger's secret, of the timestamp (as sent in `X-Phi-Timestamp`), a `.`, and the raw body bytes.
 */
export function signWebhook(secret: string, timestamp: string, body: string | Uint8Array): string {
  return `${WEBHOOK_SIGNATURE_SCHEME}${mac(secret, timestamp, body).toString('hex')}`;
}

/** Why a request's signature was refused (logged, never answered). */
export type WebhookRefusal = 'missing' | 'malformed' | 'stale' | 'mismatch';

/**
 * Whether a request is signed by `secret` and stamped within `toleranceSeconds` of `now`. When it is,
 * `digest` is the SHA-256 (hex) of the signature's bytes as computed here, not as the header wrote
 * them: a replay that changes only the header's letter case is the same request.
 */
export function verifyWebhook(request: {
  readonly secret: string;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly body: string | Uint8Array;
  readonly now: Date;
  readonly toleranceSeconds: number;
}): { readonly ok: true; readonly digest: string; readonly timestamp: number } | { readonly ok: false; readonly reason: WebhookRefusal } {
  const { timestamp, signature } = request;
  if (timestamp === undefined || signature === undefined) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed' };
  const given = /^sha256=([0-9a-fA-F]{64})$/.exec(signature.trim());
  if (given === null) return { ok: false, reason: 'malformed' };
  const expected = mac(request.secret, timestamp, request.body);
  if (!timingSafeEqual(Buffer.from(given[1]!, 'hex'), expected)) return { ok: false, reason: 'mismatch' };
  const seconds = Number(timestamp);
  if (Math.abs(request.now.getTime() / 1000 - seconds) > request.toleranceSeconds) return { ok: false, reason: 'stale' };
  return { ok: true, digest: createHash('sha256').update(expected).digest('hex'), timestamp: seconds };
}

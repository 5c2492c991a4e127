/**
 * Webhook triggers on the emulator (issue #9), through the e2e `landing` pipeline's `hook` trigger: its
 * secret is read as root (the emulator's `test` key) from Secrets Manager, by the ARN its stack outputs;
 * requests are posted without SigV4 to `POST /webhooks/landing/hook` (the one route without IAM auth).
 * A good signature starts one run that succeeds (202); a bad one is answered 401 and starts nothing;
 * the good one sent again (a replay) is answered 401 and there is still one run.
 */
import { randomUUID } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { RunHistoryResponseSchema, signWebhook, WEBHOOK_UNAUTHORIZED_MESSAGE, WebhookAcceptedSchema, type RunRecord } from '../../lib/model/contract/index.ts';
import { pipelineStackName } from '../../lib/model/names.ts';
import { phiClient, useEmulator } from './support.ts';

const PIPELINE = 'landing';
const TRIGGER = 'hook';

let client: PhiClient;
let secret: string;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
  const stack = (await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: pipelineStackName(PIPELINE) }))).Stacks?.[0];
  const secretId = stack?.Outputs?.find((o) => o.OutputKey === 'WebhookSecretHook')?.OutputValue;
  expect(secretId, 'the pipeline stack outputs its webhook secret').toBeDefined();
  secret = (await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '';
  expect(secret).toMatch(/^[A-Za-z0-9]{64}$/);
});

/** Posts `body` to the trigger's route as an outside system would: no SigV4, only the webhook headers. */
async function post(body: string, headers: Record<string, string>, triggerId = TRIGGER): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${client.baseUrl}/webhooks/${PIPELINE}/${triggerId}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // API Gateway's own answers can be plain text
  }
  return { status: response.status, body: parsed };
}

/** The webhook runs of the pipeline whose body carried `nonce`. */
async function runsWith(nonce: string): Promise<RunRecord[]> {
  const { body } = await client.request('GET', `/pipelines/${PIPELINE}/runs?trigger=EVENT&limit=100`);
  return RunHistoryResponseSchema.parse(body).runs.filter((r) => r.triggerId === TRIGGER && (r.parameters.event as { detail?: { nonce?: string } } | undefined)?.detail?.nonce === nonce);
}

const UNAUTHORIZED = { error: { code: 'WEBHOOK_001_UNAUTHORIZED', message: WEBHOOK_UNAUTHORIZED_MESSAGE } };

describe('a webhook trigger', () => {
  it('starts one run for a good signature (202), none for a bad one (401), and none for the good one replayed (401)', async () => {
    const nonce = randomUUID();
    const body = JSON.stringify({ nonce, ref: 'refs/heads/main' });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const good = { 'X-Phi-Timestamp': timestamp, 'X-Phi-Signature': signWebhook(secret, timestamp, body) };

    // A bad signature (another secret) first: nothing is started, and its signature is not spent.
    const bad = await post(body, { 'X-Phi-Timestamp': timestamp, 'X-Phi-Signature': signWebhook(`${secret}x`, timestamp, body) });
    expect(bad).toStrictEqual({ status: 401, body: UNAUTHORIZED });
    // An unknown trigger gets the same answer.
    expect(await post(body, good, 'nope')).toStrictEqual({ status: 401, body: UNAUTHORIZED });
    expect(await runsWith(nonce)).toStrictEqual([]);

    const accepted = await post(body, good);
    expect(accepted.status).toBe(202);
    const answer = WebhookAcceptedSchema.parse(accepted.body);
    if (answer.debounced) throw new Error('the hook trigger has no debounce');
    expect(answer.created).toBe(true);
    const view = await client.waitForRun(answer.runId, { timeoutMs: 60_000 });
    expect(view.run).toMatchObject({ status: 'SUCCEEDED', trigger: 'EVENT', triggerId: TRIGGER, parameters: { event: { source: 'phi.webhook', detailType: 'Webhook', detail: { nonce, ref: 'refs/heads/main' } } } });

    // The same request again, byte for byte: a replay.
    expect(await post(body, good)).toStrictEqual({ status: 401, body: UNAUTHORIZED });
    expect((await runsWith(nonce)).map((r) => r.runId)).toStrictEqual([answer.runId]);
  });
});

/**
 * The control API client's SigV4 signing, checked against an independent implementation of the
 * algorithm (node:crypto, from AWS's documented steps). The e2e tests (test/e2e/auth.test.ts) show the
 * emulator refusing bad signatures from IAM users' keys; MiniStack never checks the secret of its root
 * key, so that a signature depends on the secret the client is given is shown here.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PhiClient, type PreparedRequest } from '../../lib/client/client.ts';

const API = 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1';
const KEY = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const NOW = new Date('2026-03-04T05:06:07Z');

const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** What the Authorization header must be for `request` (SigV4: canonical request, string to sign, derived key). */
function expectedAuthorization(request: PreparedRequest, signedHeaders: readonly string[], secret: string, region: string, service = 'execute-api'): string {
  const amzDate = request.headers['x-amz-date']!;
  const day = amzDate.slice(0, 8);
  const query = [...request.url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const canonical = [
    request.method,
    request.url.pathname,
    query,
    signedHeaders.map((h) => `${h}:${(h === 'host' ? request.url.host : request.headers[h]!).trim()}\n`).join(''),
    signedHeaders.join(';'),
    sha256(request.body ?? ''),
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  return `AWS4-HMAC-SHA256 Credential=${KEY.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${hmac(key, stringToSign).toString('hex')}`;
}

const client = (secretAccessKey = KEY.secretAccessKey): Promise<PhiClient> =>
  PhiClient.connect({ apiUrl: API, region: 'eu-west-1', credentials: { ...KEY, secretAccessKey } });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the control API client signs every request with SigV4', () => {
  it('signs for execute-api in the client\'s region, with the key it was given', async () => {
    const request = await (await client()).prepare('POST', '/pipelines/etl/runs', { parameters: { day: '2026-03-04' } });
    expect(request.headers['x-amz-date']).toBe('20260304T050607Z');
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260304\/eu-west-1\/execute-api\/aws4_request, /);
  });

  it('covers the method, path, host, content type and the body\'s SHA-256, exactly as SigV4 specifies', async () => {
    const request = await (await client()).prepare('POST', '/pipelines/etl/runs', { parameters: { day: '2026-03-04' } });
    expect(request.url.href).toBe(`${API}/pipelines/etl/runs`);
    expect(request.body).toBe('{"parameters":{"day":"2026-03-04"}}');
    expect(request.headers['x-amz-content-sha256']).toBeUndefined(); // the server hashes the body it gets
    expect(request.headers.authorization).toBe(expectedAuthorization(request, ['content-type', 'host', 'x-amz-date'], KEY.secretAccessKey, 'eu-west-1'));
  });

  it('covers the query string of a read', async () => {
    const request = await (await client()).prepare('GET', '/pipelines/etl/durations?runs=5');
    expect(request.body).toBeUndefined();
    expect(request.headers.authorization).toBe(expectedAuthorization(request, ['host', 'x-amz-date'], KEY.secretAccessKey, 'eu-west-1'));
  });

  it('gives another signature for another secret, body, path or host: none can be swapped after signing', async () => {
    const signature = (r: PreparedRequest): string => /Signature=([0-9a-f]{64})$/.exec(r.headers.authorization!)![1]!;
    const body = { parameters: { n: 1 } };
    const base = await (await client()).prepare('POST', '/pipelines/etl/runs', body);
    const others = [
      await (await client(`${KEY.secretAccessKey.slice(0, -1)}X`)).prepare('POST', '/pipelines/etl/runs', body),
      await (await client()).prepare('POST', '/pipelines/etl/runs', { parameters: { n: 2 } }),
      await (await client()).prepare('POST', '/pipelines/other/runs', body),
      await (await PhiClient.connect({ apiUrl: API.replace('a1b2c3d4e5', 'zzzzzzzzzz'), region: 'eu-west-1', credentials: KEY })).prepare('POST', '/pipelines/etl/runs', body),
    ];
    for (const other of others) expect(signature(other)).not.toBe(signature(base));
    // and the one with the other secret is exactly what that secret gives: the secret is what is used
    expect(others[0]!.headers.authorization).toBe(expectedAuthorization(others[0]!, ['content-type', 'host', 'x-amz-date'], `${KEY.secretAccessKey.slice(0, -1)}X`, 'eu-west-1'));
  });

  it('sends a session token with temporary credentials, signed', async () => {
    const temporary = await PhiClient.connect({ apiUrl: API, region: 'eu-west-1', credentials: async () => ({ ...KEY, sessionToken: 'token-1' }) });
    const request = await temporary.prepare('GET', '/runs/r-1');
    expect(request.headers['x-amz-security-token']).toBe('token-1');
    expect(request.headers.authorization).toBe(expectedAuthorization(request, ['host', 'x-amz-date', 'x-amz-security-token'], KEY.secretAccessKey, 'eu-west-1'));
  });

  it('leaves the Authorization header out only when asked for an unsigned request', async () => {
    const request = await (await client()).prepare('POST', '/pipelines/etl/runs', {}, { signed: false });
    expect(request.headers.authorization).toBeUndefined();
    expect(request.headers['x-amz-date']).toBeUndefined();
  });
});

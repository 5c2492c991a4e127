/**
 * A client of Phi's control API: finds the API of a deployment from the platform stack's outputs and
 * signs every request with SigV4 (the API takes IAM auth only). Works against AWS, and against a local
 * emulator when `AWS_ENDPOINT_URL` is set (its LocalStack-style `_user_request_` path).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { z } from 'zod';
import { CancelResponseSchema, DurationsResponseSchema, ErrorBodySchema, type DurationsResponse, RunViewSchema, StartRunResponseSchema, TERMINAL_RUN_STATUSES, type CancelRequest, type RunRecord, type RunView, type StartRunRequest } from '../model/contract/index.ts';
import { ApiError, ClientError, ClientErrorCode } from './errors.ts';
import { platformOutputs, requireOutput } from './platform.ts';


export interface ClientOptions {
  readonly region?: string;
  /** The emulator's endpoint, e.g. http://127.0.0.1:4566. @default process.env.AWS_ENDPOINT_URL */
  readonly endpoint?: string;
  /** @default the `ApiUrl` output of the PhiPlatform stack */
  readonly apiUrl?: string;
}

export class PhiClient {
  private constructor(
    readonly baseUrl: string,
    private readonly region: string,
    private readonly signer: SignatureV4,
  ) {}

  static async connect(options: ClientOptions = {}): Promise<PhiClient> {
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL;
    let baseUrl = options.apiUrl;
    if (!baseUrl) {
      const outputs = await platformOutputs({ region, ...(endpoint ? { endpoint } : {}) });
      const apiId = requireOutput(outputs, 'ApiId');
      const apiUrl = requireOutput(outputs, 'ApiUrl');
      const stage = new URL(apiUrl).pathname.split('/').filter(Boolean)[0] ?? 'v1';
      baseUrl = endpoint ? `${endpoint.replace(/\/$/, '')}/restapis/${apiId}/${stage}/_user_request_` : apiUrl.replace(/\/$/, '');
    }
    const signer = new SignatureV4({ service: 'execute-api', region, credentials: fromNodeProviderChain(), sha256: Sha256 });
    return new PhiClient(baseUrl.replace(/\/$/, ''), region, signer);
  }

  /** Sends one request; `signed: false` only to show what an unsigned caller gets. */
  async request(method: string, path: string, body?: unknown, { signed = true } = {}): Promise<{ status: number; body: unknown }> {
    const url = new URL(`${this.baseUrl}${path}`);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { host: url.host, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) };
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const request = { method, protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path: url.pathname, query, headers, ...(payload !== undefined ? { body: payload } : {}) };
    const finalHeaders = signed ? (await this.signer.sign(request)).headers : headers;
    const { host: _host, ...sendHeaders } = finalHeaders;
    const response = await fetch(url, { method, headers: sendHeaders, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: API Gateway's own errors can be plain text
    }
    return { status: response.status, body: parsed };
  }

  private async call<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const { status, body: answer } = await this.request(method, path, body);
    if (status >= 400) {
      const err = ErrorBodySchema.safeParse(answer);
      throw new ApiError(status, err.success ? err.data.error.code : ClientErrorCode.HTTP_ERROR, err.success ? err.data.error.message : JSON.stringify(answer), answer);
    }
    return schema.parse(answer);
  }

  startRun(pipelineId: string, request: StartRunRequest = {}): Promise<{ created: boolean; run: RunRecord }> {
    return this.call('POST', `/pipelines/${encodeURIComponent(pipelineId)}/runs`, StartRunResponseSchema, request);
  }

  /** Cancels a run, or one of its jobs and the dependents `scope` takes (spec Rule 16). */
  cancelRun(runId: string, request: CancelRequest = {}): Promise<RunRecord> {
    return this.call('POST', `/runs/${encodeURIComponent(runId)}/cancel`, CancelResponseSchema, request).then((r) => r.run);
  }

  /** Each job's observed durations (median, p95) over the pipeline's last `runs` succeeded runs. */
  durations(pipelineId: string, runs = 20): Promise<DurationsResponse> {
    return this.call('GET', `/pipelines/${encodeURIComponent(pipelineId)}/durations?runs=${runs}`, DurationsResponseSchema);
  }

  getRun(runId: string): Promise<RunView> {
    return this.call('GET', `/runs/${encodeURIComponent(runId)}`, RunViewSchema);
  }

  /** Polls a run until it is terminal (or `timeoutMs` passes); `onChange` sees every view whose statuses differ. */
  async waitForRun(runId: string, options: { timeoutMs?: number; intervalMs?: number; onChange?: (view: RunView) => void } = {}): Promise<RunView> {
    const deadline = Date.now() + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
    let last = '';
    for (;;) {
      const view = await this.getRun(runId);
      const fingerprint = JSON.stringify([view.run.status, Object.entries(view.jobs).map(([id, j]) => [id, j.status, j.attempts.length])]);
      if (fingerprint !== last) {
        last = fingerprint;
        options.onChange?.(view);
      }
      if (TERMINAL_RUN_STATUSES.includes(view.run.status)) return view;
      if (Date.now() > deadline) throw new ClientError(ClientErrorCode.WAIT_TIMEOUT, `run ${runId} is still ${view.run.status} after ${options.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
    }
  }
}

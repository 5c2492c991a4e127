/**
 * A client of Phi's control API: finds the API of a deployment from the platform stack's outputs and
 * signs every request with SigV4 (the API takes IAM auth only). Works against AWS, and against a local
 * emulator when `AWS_ENDPOINT_URL` is set (its LocalStack-style `_user_request_` path).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { z } from 'zod';
import { CancelResponseSchema, RetryRunResponseSchema, type RetryRunRequest, type RetryRunResponse, DryRunResponseSchema, DurationsResponseSchema, ErrorBodySchema, RunHistoryResponseSchema, RunLogsResponseSchema, type RunLogsResponse, type DryRunResponse, type DurationsResponse, type RunHistoryQuery, type RunHistoryResponse, RunViewSchema, StartRunResponseSchema, TERMINAL_RUN_STATUSES, type CancelRequest, type RunRecord, type RunView, type StartRunRequest } from '../model/contract/index.ts';
import { DeadLetterListResponseSchema, DeadLetterPurgeResponseSchema, DeadLetterRetryAllResponseSchema, DeadLetterRetryResponseSchema, DeadLetterShowResponseSchema, type DeadLetterEntry, type DeadLetterListQuery, type DeadLetterListResponse, type DeadLetterPurgeResponse, type DeadLetterRetryAllResponse, type DeadLetterRetryResponse } from '../model/contract/index.ts';
import { OrchestrationHealthStatusSchema, type OrchestrationHealthStatus } from '../model/contract/health.ts';
import { AuditResponseSchema, PauseStateSchema, type AuditQuery, type AuditResponse, type PauseState } from '../model/contract/audit.ts';
import { ApiError, ClientError, ClientErrorCode } from './errors.ts';
import { platformOutputs, requireOutput } from './platform.ts';


/** Credentials to sign with: fixed keys (a session token with temporary ones) or a provider of them. */
export type SigningCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** A request as the client sends it: its URL, method, headers (signed or not) and body. */
export interface PreparedRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface ClientOptions {
  readonly region?: string;
  /**
   * Who calls: the API evaluates the IAM policies of the identity these credentials belong to (attach
   * the platform's ViewerPolicyArn, OperatorPolicyArn or AdminPolicyArn). Also used to read the
   * platform stack's outputs when `apiUrl` is not given.
   * @default the AWS SDK's default chain (environment, shared config and SSO, container or instance role)
   */
  readonly credentials?: SigningCredentials;
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
      const outputs = await platformOutputs({ region, ...(endpoint ? { endpoint } : {}), ...(options.credentials ? { credentials: options.credentials } : {}) });
      const apiId = requireOutput(outputs, 'ApiId');
      const apiUrl = requireOutput(outputs, 'ApiUrl');
      const stage = new URL(apiUrl).pathname.split('/').filter(Boolean)[0] ?? 'v1';
      baseUrl = endpoint ? `${endpoint.replace(/\/$/, '')}/restapis/${apiId}/${stage}/_user_request_` : apiUrl.replace(/\/$/, '');
    }
    // No x-amz-content-sha256 header (`applyChecksum`): API Gateway hashes the body it receives, and a
    // server that took the header's hash instead would not notice a body changed in transit.
    const signer = new SignatureV4({ service: 'execute-api', region, credentials: options.credentials ?? fromNodeProviderChain(), sha256: Sha256, applyChecksum: false });
    return new PhiClient(baseUrl.replace(/\/$/, ''), region, signer);
  }

  /**
   * The request `request` sends: SigV4-signed for `execute-api` in the client's region over the method,
   * path, query, host and the body's SHA-256 (`signed: false` leaves the Authorization header out).
   */
  async prepare(method: string, path: string, body?: unknown, { signed = true } = {}): Promise<PreparedRequest> {
    const url = new URL(`${this.baseUrl}${path}`);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { host: url.host, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) };
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const request = { method, protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path: url.pathname, query, headers, ...(payload !== undefined ? { body: payload } : {}) };
    const finalHeaders = signed ? ((await this.signer.sign(request)).headers as Record<string, string>) : headers;
    return { url, method, headers: finalHeaders, ...(payload !== undefined ? { body: payload } : {}) };
  }

  /** Sends a prepared request as it is (fetch sets the host header itself). */
  static async send(request: PreparedRequest): Promise<{ status: number; body: unknown }> {
    const { host: _host, ...sendHeaders } = request.headers;
    const response = await fetch(request.url, { method: request.method, headers: sendHeaders, ...(request.body !== undefined ? { body: request.body } : {}) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: API Gateway's own errors can be plain text
    }
    return { status: response.status, body: parsed };
  }

  /** Sends one request; `signed: false` only to show what an unsigned caller gets. */
  async request(method: string, path: string, body?: unknown, options: { signed?: boolean } = {}): Promise<{ status: number; body: unknown }> {
    return PhiClient.send(await this.prepare(method, path, body, options));
  }

  private async call<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const { status, body: answer } = await this.request(method, path, body);
    if (status >= 400) {
      const err = ErrorBodySchema.safeParse(answer);
      throw new ApiError(status, err.success ? err.data.error.code : ClientErrorCode.HTTP_ERROR, err.success ? err.data.error.message : JSON.stringify(answer), answer);
    }
    return schema.parse(answer);
  }

  startRun(pipelineId: string, request: Omit<StartRunRequest, 'dryRun'> = {}): Promise<{ created: boolean; run: RunRecord }> {
    return this.call('POST', `/pipelines/${encodeURIComponent(pipelineId)}/runs`, StartRunResponseSchema, request);
  }

  /** What starting a run would do now (the start rules' decision, the parameters with their defaults): nothing is recorded or started. */
  dryRunStart(pipelineId: string, request: Omit<StartRunRequest, 'dryRun'> = {}): Promise<DryRunResponse> {
    return this.call('POST', `/pipelines/${encodeURIComponent(pipelineId)}/runs`, DryRunResponseSchema, { ...request, dryRun: true });
  }

  /** A page of a pipeline's runs, newest first (skipped ones included): pass the answer's `next` for the following page. */
  history(pipelineId: string, query: RunHistoryQuery = {}): Promise<RunHistoryResponse> {
    const params = new URLSearchParams(Object.entries(query).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]])));
    const search = params.toString();
    return this.call('GET', `/pipelines/${encodeURIComponent(pipelineId)}/runs${search ? `?${search}` : ''}`, RunHistoryResponseSchema);
  }

  /** A run's jobs' log lines written after `since` (ms), oldest first, one job's with `job`. */
  runLogs(runId: string, query: { job?: string; since?: number } = {}): Promise<RunLogsResponse> {
    const params = new URLSearchParams(Object.entries(query).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]])));
    const search = params.toString();
    return this.call('GET', `/runs/${encodeURIComponent(runId)}/logs${search ? `?${search}` : ''}`, RunLogsResponseSchema);
  }

  /** Cancels a run, or one of its jobs and the dependents `scope` takes (spec Rule 16). */
  cancelRun(runId: string, request: CancelRequest = {}): Promise<RunRecord> {
    return this.call('POST', `/runs/${encodeURIComponent(runId)}/cancel`, CancelResponseSchema, request).then((r) => r.run);
  }

  /**
   * Retries an ended run: a new run with its parameters (`fromFailed`: only the jobs that did not succeed
   * run again, and their dependents; the others' outputs are reused). Asked again, answers that run.
   */
  retryRun(runId: string, request: RetryRunRequest = {}): Promise<RetryRunResponse> {
    return this.call('POST', `/runs/${encodeURIComponent(runId)}/retry`, RetryRunResponseSchema, request);
  }

  /** Each job's observed durations (median, p95) over the pipeline's last `runs` succeeded runs. */
  durations(pipelineId: string, runs = 20): Promise<DurationsResponse> {
    return this.call('GET', `/pipelines/${encodeURIComponent(pipelineId)}/durations?runs=${runs}`, DurationsResponseSchema);
  }

  /** The dead letters waiting (of `pipeline`), as one bounded scan of the queue sees them. */
  deadLetters(query: DeadLetterListQuery = {}): Promise<DeadLetterListResponse> {
    const params = new URLSearchParams(Object.entries(query).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]])));
    const search = params.toString();
    return this.call('GET', `/dead-letters${search ? `?${search}` : ''}`, DeadLetterListResponseSchema);
  }

  deadLetter(messageId: string): Promise<DeadLetterEntry> {
    return this.call('GET', `/dead-letters/${encodeURIComponent(messageId)}`, DeadLetterShowResponseSchema);
  }

  /** Retries a dead letter: a new run with its run's parameters (the same run for a second retry); the letter is deleted once it has started. */
  retryDeadLetter(messageId: string): Promise<DeadLetterRetryResponse> {
    return this.call('POST', `/dead-letters/${encodeURIComponent(messageId)}/retry`, DeadLetterRetryResponseSchema, {});
  }

  /** Retries the waiting letters (of `pipeline`), a bounded number a call: `complete: false` says call again. */
  retryAllDeadLetters(pipeline?: string): Promise<DeadLetterRetryAllResponse> {
    return this.call('POST', '/dead-letters/retry', DeadLetterRetryAllResponseSchema, { ...(pipeline !== undefined ? { pipeline } : {}), all: true });
  }

  /** Deletes the letters SQS got at least `olderThanSeconds` ago. */
  purgeDeadLetters(olderThanSeconds: number): Promise<DeadLetterPurgeResponse> {
    return this.call('POST', '/dead-letters/purge', DeadLetterPurgeResponseSchema, { olderThanSeconds });
  }

  /** The deployment's health: overall status and reasons, rates, dead letters, and each pipeline's last run, next fire time and freshness. */
  health(): Promise<OrchestrationHealthStatus> {
    return this.call('GET', '/health', OrchestrationHealthStatusSchema);
  }

  /**
   * Pauses `pipelineId`'s schedules and triggers (`undefined`: every pipeline's), or resumes them: their
   * deliveries are recorded SKIPPED (`PAUSED`) until then; starts through the API go on. Audited.
   */
  setPaused(pipelineId: string | undefined, paused: boolean, reason?: string): Promise<PauseState> {
    const verb = paused ? 'pause' : 'resume';
    return this.call('POST', pipelineId === undefined ? `/${verb}` : `/pipelines/${encodeURIComponent(pipelineId)}/${verb}`, PauseStateSchema, reason === undefined ? {} : { reason });
  }

  /** Whether `pipelineId` is paused now, by its own pause or every pipeline's. */
  pauseState(pipelineId: string): Promise<PauseState> {
    return this.call('GET', `/pipelines/${encodeURIComponent(pipelineId)}/paused`, PauseStateSchema);
  }

  /** The newest audit records (of `pipeline`, with those of every pipeline): pauses, resumes, and the starts, cancels, retries and purges made through the API. */
  audit(query: AuditQuery = {}): Promise<AuditResponse> {
    const params = new URLSearchParams(Object.entries(query).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]])));
    const search = params.toString();
    return this.call('GET', `/audit${search ? `?${search}` : ''}`, AuditResponseSchema);
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

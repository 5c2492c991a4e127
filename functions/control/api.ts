/**
 * The control API behind API Gateway (IAM auth; API Gateway itself refuses unsigned requests):
 *   POST /pipelines/{id}/runs  { parameters?, idempotencyKey?, dryRun?, force?, scheduledTime?, scheduleId? } → 201 a new run, 200 the
 *                               existing one (a run its start rules refused is recorded SKIPPED, with
 *                               its `startDecision`); `dryRun`: 200 the decision, nothing recorded;
 *                               400 API_011_INVALID_PARAMETERS when the parameters are not what the
 *                               pipeline's runParameters allows; `scheduledTime` (+ `scheduleId`): a
 *                               backfill (trigger BACKFILL) with the identity of that schedule's delivery
 *                               of that time; 400 API_012_SCHEDULED_TIME_IN_FUTURE for a time to come
 *   GET  /pipelines/{id}/runs?status=&trigger=&limit=&next= → a page of its runs, newest first
 *   GET  /runs/{runId}          → the run with its jobs and their attempts
 *   GET  /runs/{runId}/logs?job=&since= → its jobs' log lines, oldest first (`./logs.ts`)
 *   POST /runs/{runId}/cancel   { job?, scope?, reason? } → 200 the run (the whole run, or a job and its scope)
 *   POST /runs/{runId}/retry    { fromFailed?, reason? } → 201 the retry run of an ended run, 200 the one asked for before
 *                               (`./retry-run.ts`); 409 API_015_RUN_NOT_ENDED, API_016_NOTHING_TO_RETRY, API_014_RETRY_REFUSED
 *   GET  /pipelines/{id}/durations?runs=N → each job's median and p95 over the last N succeeded runs
 *   GET  /health               → the deployment's OrchestrationHealthStatus (`./health.ts`), always 200
 *   GET  /dead-letters?pipeline=&limit=, GET /dead-letters/{messageId}, POST /dead-letters/{messageId}/retry,
 *   POST /dead-letters/retry { pipeline?, all: true }, POST /dead-letters/purge { olderThanSeconds }:
 *                               the dead-letter queue (`./dead-letters.ts`), retries and purges logged with the caller
 *   POST /pipelines/{id}/pause|resume, POST /pause|resume { reason? } → 200 the pause state (`./pauses.ts`):
 *                               a pipeline's pause, or every pipeline's; GET /pipelines/{id}/paused → its pause state
 *   GET  /audit?pipeline=&limit= → the audit log, newest first: pauses and resumes, and the starts, cancels,
 *                               dead-letter retries and purges made through the API, each with the caller
 * Errors answer `{ error: { code, message, issues? } }` with a stable code.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import { nestsDeeperThan } from '../../lib/model/canonical.ts';
import { ApiErrorCode, CancelRequestSchema, canonicalScheduledTime, MAX_BODY_DEPTH, RetryRunRequestSchema, RunHistoryQuerySchema, RunIdSchema, runIdPrefix, StartRunRequestSchema, TriggerType, type DryRunResponse, type RetryRunResponse, type RunHistoryResponse, type RunView } from '../../lib/model/contract/index.ts';
import { DEFAULT_SCHEDULE_ID, PipelineIdSchema } from '../../lib/model/pipeline.ts';
import { createLogger } from '../shared/log.ts';
import { formatPath } from '../../lib/model/problems.ts';
import type { RecordStore } from '../shared/records/store.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { latestByJob, RecordError, runIdOfHistoryKey } from '../shared/records/store.ts';
import { logsDepsFromSdk, runLogs, type LogsDeps } from './logs.ts';
import { cancel, cancelDepsFromEnv, JobNotFoundError, RunEndedError, type CancelDeps } from './cancel.ts';
import { NothingToRetryError, retryRun, RunNotEndedError, RunRetryRefusedError } from './retry-run.ts';
import { MAX_OBSERVED_RUNS, observedDurations } from './durations.ts';
import { ALL_PIPELINES, AuditAction, AuditQuerySchema, PauseRequestSchema, type AuditRecord } from '../../lib/model/contract/index.ts';
import { listAudit, readPauseState, recordAction, setPaused, type AuditStore } from './pauses.ts';

/** `?runs=N`: how many of the latest succeeded runs to learn from. */
const DurationsQuerySchema = z.object({ runs: z.coerce.number().int().min(1).max(MAX_OBSERVED_RUNS).default(20) }).strict();
/** `GET /runs/{runId}/logs`: one job's lines only, and those written after `since` (milliseconds since the epoch). */
const RunLogsQuerySchema = z.object({ job: z.string().min(1).max(64).optional(), since: z.coerce.number().int().min(0).optional() }).strict();
import { IdempotencyConflictError, planStart, RunParametersError, RunStartError, startRun, triggerDepsFromEnv, UnknownPipelineError, type TriggerDeps } from './trigger.ts';
import { DeadLetterIdSchema, DeadLetterListQuerySchema, DeadLetterPurgeRequestSchema, DeadLetterRetryAllRequestSchema } from '../../lib/model/contract/index.ts';
import { DeadLetterNotFoundError, listDeadLetters, OriginalRunMissingError, purgeDeadLetters, RetryRefusedError, retryAllDeadLetters, retryDeadLetter, showDeadLetter, type DeadLetterDeps } from './dead-letters.ts';
import { deadLetterQueueFromEnv, retryPointersFromEnv } from '../shared/dead-letter-queue.ts';
import { ConfigurationError, describeError } from '../../lib/model/errors.ts';
import { computeHealth, gatherHealth, healthDepsFromEnv, type HealthDeps } from './health.ts';

/** History's `next`: the history sort key of the page's last run (`<queuedAt>#<runId>`), opaque to callers. */
const HistoryCursorSchema = z.object({ v: z.literal(1), k: z.string().regex(/^[0-9T:.Z-]{10,40}#.+$/) }).strict();
export const encodeHistoryCursor = (historyKey: string): string => Buffer.from(JSON.stringify({ v: 1, k: historyKey })).toString('base64url');
/** The history sort key a `next` names, when it is one of this pipeline's; `undefined` for anything else. */
export function decodeHistoryCursor(token: string, pipelineId: string): string | undefined {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = HistoryCursorSchema.safeParse(decoded);
  if (!parsed.success) return undefined;
  const runId = runIdOfHistoryKey(parsed.data.k);
  return RunIdSchema.safeParse(runId).success && runId.startsWith(runIdPrefix(pipelineId)) ? parsed.data.k : undefined;
}

export interface ApiDeps {
  readonly trigger: TriggerDeps;
  readonly store: Pick<RecordStore, 'getRun' | 'listAttempts' | 'listJobStates' | 'listRuns' | 'listRunHistory'>;
  readonly cancel: CancelDeps;
  /** The dead-letter routes. @default they answer 500 (not configured) */
  readonly deadLetters?: DeadLetterDeps;
  /** `GET /health`. @default it answers 500 (not configured) */
  readonly health?: HealthDeps;
  /** Pause and resume, and the audit log (`./pauses.ts`), in the records table. @default those routes answer 500 (not configured) and actions go unaudited (logged) */
  readonly audit?: AuditStore;
  /** `GET /runs/{runId}/logs`: the job functions' log lines. @default it answers 500 (not configured) */
  readonly logs?: LogsDeps;
}

/** The caller, as API Gateway's IAM authorization identified it. */
function callerOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  const identity = event.requestContext?.identity;
  return identity?.userArn ?? identity?.caller ?? identity?.accessKey ?? 'unknown caller';
}

/** Writes the audit record of an operator action that took effect, with the caller (`recordAction`: a failed write is logged, not answered). */
const audited = (deps: ApiDeps, event: Partial<Pick<APIGatewayProxyEvent, 'requestContext'>>, entry: Omit<AuditRecord, 'id' | 'at' | 'by'>): Promise<void> =>
  deps.audit === undefined
    ? Promise.resolve(deps.trigger.log.warn('audit record not written: the control API was given no audit log', { audit: entry }))
    : recordAction({ ...entry, by: callerOf({ requestContext: event.requestContext as APIGatewayProxyEvent['requestContext'] }) }, { store: deps.audit, log: deps.trigger.log, ...(deps.trigger.now ? { now: deps.trigger.now } : {}) });

/** The pause and audit store, or a 500 (not configured). */
function auditStore(deps: ApiDeps): AuditStore {
  if (deps.audit === undefined) throw new ConfigurationError('audit', 'the control API was given no audit log');
  return deps.audit;
}

/** The JSON body, or the answer to a body that is not JSON. */
function bodyOf(event: Pick<APIGatewayProxyEvent, 'body'>): { body: unknown } | { error: APIGatewayProxyResult } {
  let body: unknown;
  try {
    body = event.body ? JSON.parse(event.body) : {};
  } catch (err) {
    return { error: failure(400, ApiErrorCode.INVALID_JSON, `the body is not JSON: ${(err as Error).message}`) };
  }
  // Checked before any schema walks it: a deep body would exhaust the stack of whatever recursed.
  if (nestsDeeperThan(body, MAX_BODY_DEPTH)) return { error: failure(400, ApiErrorCode.INVALID_JSON, `the body nests deeper than ${MAX_BODY_DEPTH} levels`) };
  return { body };
}

/** The path's id when it is one, or the answer to one that is not (too long, other characters: it names nothing). */
function idOf(event: Pick<APIGatewayProxyEvent, 'pathParameters'>, name: 'id' | 'runId'): { id: string } | { error: APIGatewayProxyResult } {
  const raw = event.pathParameters?.[name] ?? '';
  const parsed = (name === 'id' ? PipelineIdSchema : RunIdSchema).safeParse(raw);
  if (parsed.success) return { id: parsed.data };
  const what = name === 'id' ? 'pipeline' : 'run';
  return { error: failure(404, name === 'id' ? ApiErrorCode.PIPELINE_NOT_FOUND : ApiErrorCode.RUN_NOT_FOUND, `"${raw.slice(0, 80)}${raw.length > 80 ? '…' : ''}" is not a ${what} id`) };
}

const invalid = (message: string, issues: readonly { path: PropertyKey[]; message: string; code: string }[]): APIGatewayProxyResult =>
  failure(400, ApiErrorCode.INVALID_REQUEST, message, { issues: issues.map((i) => ({ path: formatPath(i.path), message: i.message, code: i.code })) });


const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const failure = (statusCode: number, code: string, message: string, extra: Record<string, unknown> = {}): APIGatewayProxyResult =>
  json(statusCode, { error: { code, message, ...extra } });
/** 503: the run is recorded but its execution would not start (the state machine may still be deploying); try again in 30 s. */
const startFailed = (err: RunStartError, message = err.message): APIGatewayProxyResult =>
  ({ ...failure(503, ApiErrorCode.RUN_START_FAILED, message, { run: err.run }), headers: { 'content-type': 'application/json', 'retry-after': '30' } });

export async function viewRun(runId: string, store: ApiDeps['store']): Promise<RunView | undefined> {
  const run = await store.getRun(runId);
  if (!run) return undefined;
  const [attempts, states] = await Promise.all([store.listAttempts(runId), store.listJobStates(runId)]);
  const ended = new Map(states.filter((s) => s.status !== undefined).map((s) => [s.jobId, s.status!]));
  const jobs: RunView['jobs'] = {};
  // A job's status: how it ended, else its latest attempt's.
  for (const [jobId, latest] of latestByJob(attempts)) jobs[jobId] = { status: ended.get(jobId) ?? latest.status, attempts: attempts.filter((a) => a.jobId === jobId) };
  // Jobs that never ran have no attempts, only their end (skipped) or their place in the run's summary.
  for (const [jobId, status] of ended) jobs[jobId] ??= { status, attempts: [] };
  for (const [jobId, summary] of Object.entries(run.jobs ?? {})) jobs[jobId] ??= { status: summary.status, attempts: [] };
  return { run, jobs };
}

export async function route(event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource' | 'pathParameters' | 'body'> & Partial<Pick<APIGatewayProxyEvent, 'requestContext' | 'queryStringParameters'>>, deps: ApiDeps): Promise<APIGatewayProxyResult> {
  const key = `${event.httpMethod} ${event.resource}`;
  if (key === 'POST /pipelines/{id}/runs') {
    const path = idOf(event, 'id');
    if ('error' in path) return path.error;
    const pipelineId = path.id;
    const read = bodyOf(event);
    if ('error' in read) return read.error;
    const parsed = StartRunRequestSchema.safeParse(read.body);
    if (!parsed.success) return invalid('the body does not match { parameters?, idempotencyKey?, dryRun?, force?, scheduledTime?, scheduleId? }', parsed.error.issues);
    const { dryRun, force, scheduledTime, scheduleId, ...request } = parsed.data;
    // A backfill: the scheduled time as Scheduler writes it, so the run is the one its delivery would be.
    const backfill = scheduledTime === undefined ? undefined : { scheduledTime: canonicalScheduledTime(scheduledTime), scheduleId: scheduleId ?? DEFAULT_SCHEDULE_ID };
    if (backfill !== undefined && Date.parse(backfill.scheduledTime) > (deps.trigger.now ?? (() => new Date()))().getTime()) {
      return failure(400, ApiErrorCode.SCHEDULED_TIME_IN_FUTURE, `the scheduled time ${backfill.scheduledTime} is still to come: only a time already past can be backfilled (its schedule starts it when it comes)`);
    }
    try {
      const req = { pipelineId, trigger: backfill ? TriggerType.BACKFILL : TriggerType.API, ...request, ...backfill, ...(force ? { force: true } : {}) };
      if (dryRun) {
        const plan = await planStart(req, deps.trigger);
        const answer: DryRunResponse = { dryRun: true, pipelineId, decision: plan.decision, parameters: plan.parameters };
        return json(200, answer);
      }
      const { created, run } = await startRun(req, deps.trigger);
      await audited(deps, event, { action: AuditAction.START, pipeline: pipelineId, runId: run.runId, detail: `${created ? 'recorded' : 'already recorded'} ${run.status}, trigger ${run.trigger}${backfill ? ` (backfill of ${backfill.scheduledTime})` : ''}${force ? ', forced' : ''}` });
      return json(created ? 201 : 200, { created, run });
    } catch (err) {
      if (err instanceof UnknownPipelineError) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, err.message);
      if (err instanceof RunParametersError) return failure(400, ApiErrorCode.INVALID_PARAMETERS, `the parameters are not what pipeline "${pipelineId}" allows a run to set (its runParameters)`, { issues: err.issues });
      if (err instanceof IdempotencyConflictError) return failure(409, ApiErrorCode.IDEMPOTENCY_CONFLICT, err.message, { run: err.run });
      if (err instanceof RunStartError) return startFailed(err);
      throw err;
    }
  }
  if (key === 'POST /runs/{runId}/cancel') {
    const path = idOf(event, 'runId');
    if ('error' in path) return path.error;
    const runId = path.id;
    const read = bodyOf(event);
    if ('error' in read) return read.error;
    const parsed = CancelRequestSchema.safeParse(read.body);
    if (!parsed.success) return invalid('the body does not match { job?, scope?, reason? }', parsed.error.issues);
    try {
      const run = await cancel(runId, { ...parsed.data, by: callerOf({ requestContext: event.requestContext as APIGatewayProxyEvent['requestContext'] }) }, deps.cancel);
      await audited(deps, event, { action: AuditAction.CANCEL, pipeline: run.pipelineId, runId, ...(parsed.data.reason !== undefined ? { reason: parsed.data.reason } : {}), ...(parsed.data.job !== undefined ? { detail: `job ${parsed.data.job}, scope ${parsed.data.scope ?? 'JOB'}` } : {}) });
      return json(200, { run });
    } catch (err) {
      if (err instanceof RecordError && err.code === 'REC_001_NOT_FOUND') return failure(404, ApiErrorCode.RUN_NOT_FOUND, `run "${runId}" does not exist`);
      if (err instanceof RunEndedError) return failure(409, ApiErrorCode.RUN_ENDED, err.message, { run: err.run });
      if (err instanceof JobNotFoundError) return failure(404, ApiErrorCode.JOB_NOT_FOUND, err.message);
      throw err;
    }
  }
  if (key === 'POST /runs/{runId}/retry') {
    const path = idOf(event, 'runId');
    if ('error' in path) return path.error;
    const runId = path.id;
    const read = bodyOf(event);
    if ('error' in read) return read.error;
    const parsed = RetryRunRequestSchema.safeParse(read.body);
    if (!parsed.success) return invalid('the body does not match { fromFailed?, reason? }', parsed.error.issues);
    try {
      const { fromFailed, reason } = parsed.data;
      const { created, run } = await retryRun(runId, { fromFailed, by: callerOf({ requestContext: event.requestContext as APIGatewayProxyEvent['requestContext'] }) }, { store: deps.store, trigger: deps.trigger });
      await audited(deps, event, { action: AuditAction.RETRY, pipeline: run.pipelineId, runId: run.runId, ...(reason !== undefined ? { reason } : {}), detail: `run ${runId}${fromFailed ? ' from its failed jobs' : ''}: ${created ? 'retry run recorded' : 'retried before'} ${run.status}` });
      const answer: RetryRunResponse = { created, run };
      return json(created ? 201 : 200, answer);
    } catch (err) {
      if (err instanceof RecordError && err.code === 'REC_001_NOT_FOUND') return failure(404, ApiErrorCode.RUN_NOT_FOUND, `run "${runId}" does not exist`);
      if (err instanceof RunNotEndedError || err instanceof NothingToRetryError) return failure(409, err.code, err.message, { run: err.run });
      if (err instanceof RunRetryRefusedError) return failure(409, err.code, err.message);
      if (err instanceof UnknownPipelineError) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, err.message);
      // The pipeline's runParameters changed since: the run's parameters are no longer what a run may set.
      if (err instanceof RunParametersError) return failure(400, ApiErrorCode.INVALID_PARAMETERS, `run ${runId}'s parameters are no longer what pipeline "${err.pipelineId}" allows a run to set (its runParameters)`, { issues: err.issues });
      if (err instanceof RunStartError) return startFailed(err);
      throw err;
    }
  }
  if (key === 'GET /pipelines/{id}/durations') {
    const path = idOf(event, 'id');
    if ('error' in path) return path.error;
    const pipelineId = path.id;
    if (!deps.trigger.stateMachines.has(pipelineId)) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, `pipeline "${pipelineId}" is not deployed`);
    const runs = DurationsQuerySchema.safeParse(event.queryStringParameters ?? {});
    if (!runs.success) return invalid('the query does not match ?runs=1..100', runs.error.issues);
    return json(200, await observedDurations(pipelineId, runs.data.runs, deps.store));
  }
  if (key === 'GET /pipelines/{id}/runs') {
    const path = idOf(event, 'id');
    if ('error' in path) return path.error;
    const pipelineId = path.id;
    if (!deps.trigger.stateMachines.has(pipelineId)) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, `pipeline "${pipelineId}" is not deployed`);
    const query = RunHistoryQuerySchema.safeParse(event.queryStringParameters ?? {});
    if (!query.success) return invalid('the query does not match ?status=&trigger=&limit=1..100&next=', query.error.issues);
    const { next, ...filters } = query.data;
    const after = next === undefined ? undefined : decodeHistoryCursor(next, pipelineId);
    if (next !== undefined && after === undefined) return invalid('the query does not match ?status=&trigger=&limit=1..100&next=', [{ path: ['next'], message: 'is not a cursor this pipeline\'s history gave', code: 'invalid_cursor' }]);
    const page = await deps.store.listRunHistory(pipelineId, { ...filters, ...(after !== undefined ? { after } : {}) });
    const answer: RunHistoryResponse = { pipelineId, runs: page.runs, ...(page.next !== undefined ? { next: encodeHistoryCursor(page.next) } : {}) };
    return json(200, answer);
  }
  if (key === 'GET /runs/{runId}') {
    const path = idOf(event, 'runId');
    if ('error' in path) return path.error;
    const runId = path.id;
    const view = await viewRun(runId, deps.store);
    return view ? json(200, view) : failure(404, ApiErrorCode.RUN_NOT_FOUND, `run "${runId}" does not exist`);
  }
  if (key === 'GET /runs/{runId}/logs') {
    const path = idOf(event, 'runId');
    if ('error' in path) return path.error;
    if (deps.logs === undefined) throw new ConfigurationError('logs', 'the control API was given no logs');
    const query = RunLogsQuerySchema.safeParse(event.queryStringParameters ?? {});
    if (!query.success) return invalid('the query does not match job?=<job id>&since=<milliseconds>', query.error.issues);
    const run = await deps.store.getRun(path.id);
    if (run === undefined) return failure(404, ApiErrorCode.RUN_NOT_FOUND, `run "${path.id}" does not exist`);
    return json(200, await runLogs(run, query.data, deps.logs));
  }
  if (key === 'GET /health') {
    if (deps.health === undefined) throw new ConfigurationError('health', 'the control API was given no health check');
    const audit = deps.audit;
    const inputs = await gatherHealth([...deps.trigger.stateMachines.keys()].sort(), deps.store, deps.health, audit ? () => audit.getPauses() : undefined);
    return json(200, computeHealth(inputs, (deps.trigger.now ?? (() => new Date()))()));
  }
  if (key === 'POST /pipelines/{id}/pause' || key === 'POST /pipelines/{id}/resume' || key === 'POST /pause' || key === 'POST /resume') {
    // A pipeline's own pause, or every pipeline's (`*`): two switches, each resumed on its own.
    let pipeline: string = ALL_PIPELINES;
    if (key.startsWith('POST /pipelines/')) {
      const path = idOf(event, 'id');
      if ('error' in path) return path.error;
      if (!deps.trigger.stateMachines.has(path.id)) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, `pipeline "${path.id}" is not deployed`);
      pipeline = path.id;
    }
    const read = bodyOf(event);
    if ('error' in read) return read.error;
    const parsed = PauseRequestSchema.safeParse(read.body);
    if (!parsed.success) return invalid('the body does not match { reason? }', parsed.error.issues);
    const by = callerOf({ requestContext: event.requestContext as APIGatewayProxyEvent['requestContext'] });
    return json(200, await setPaused(pipeline, key.endsWith('/pause'), by, parsed.data.reason, { store: auditStore(deps), ...(deps.trigger.now ? { now: deps.trigger.now } : {}) }));
  }
  if (key === 'GET /pipelines/{id}/paused') {
    const path = idOf(event, 'id');
    if ('error' in path) return path.error;
    if (!deps.trigger.stateMachines.has(path.id)) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, `pipeline "${path.id}" is not deployed`);
    return json(200, await readPauseState(path.id, { store: auditStore(deps) }));
  }
  if (key === 'GET /audit') {
    const query = AuditQuerySchema.safeParse(event.queryStringParameters ?? {});
    if (!query.success) return invalid('the query does not match ?pipeline=&limit=', query.error.issues);
    return json(200, await listAudit(query.data, { store: auditStore(deps), ...(deps.trigger.now ? { now: deps.trigger.now } : {}) }));
  }
  if (key.startsWith('GET /dead-letters') || key.startsWith('POST /dead-letters')) return deadLetterRoute(key, event, deps);
  return failure(404, ApiErrorCode.ROUTE_NOT_FOUND, `no route ${key}`);
}

/** The dead-letter routes: list and show (viewer), retry (operator), purge (admin); the caller is logged and kept on every retry run. */
async function deadLetterRoute(key: string, event: Parameters<typeof route>[0], deps: ApiDeps): Promise<APIGatewayProxyResult> {
  const dlq = deps.deadLetters;
  if (dlq === undefined) throw new ConfigurationError('deadLetters', 'the control API was given no dead-letter queue');
  const by = callerOf({ requestContext: event.requestContext as APIGatewayProxyEvent['requestContext'] });
  const messageIdOf = (): { id: string } | { error: APIGatewayProxyResult } => {
    const raw = event.pathParameters?.messageId ?? '';
    const parsed = DeadLetterIdSchema.safeParse(raw);
    return parsed.success ? { id: parsed.data } : { error: failure(404, ApiErrorCode.DEAD_LETTER_NOT_FOUND, `"${raw.slice(0, 80)}${raw.length > 80 ? '…' : ''}" is not a dead letter's message id`) };
  };
  try {
    if (key === 'GET /dead-letters') {
      const query = DeadLetterListQuerySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) return invalid('the query does not match ?pipeline=&limit=', query.error.issues);
      return json(200, await listDeadLetters(query.data, dlq));
    }
    if (key === 'GET /dead-letters/{messageId}') {
      const path = messageIdOf();
      if ('error' in path) return path.error;
      return json(200, await showDeadLetter(path.id, dlq));
    }
    if (key === 'POST /dead-letters/{messageId}/retry') {
      const path = messageIdOf();
      if ('error' in path) return path.error;
      const read = bodyOf(event);
      if ('error' in read) return read.error;
      if (typeof read.body !== 'object' || read.body === null || Array.isArray(read.body) || Object.keys(read.body).length > 0) return invalid('the body is empty ({})', [{ path: [], message: 'takes no fields', code: 'unrecognized_keys' }]);
      const answer = await retryDeadLetter(path.id, by, dlq);
      await audited(deps, event, { action: AuditAction.RETRY, pipeline: answer.run.pipelineId, messageId: answer.messageId, runId: answer.run.runId, detail: `${answer.created ? 'retry run recorded' : 'retried before'} ${answer.run.status}${answer.deleted ? ', letter deleted' : ''}` });
      return json(answer.created ? 201 : 200, answer);
    }
    if (key === 'POST /dead-letters/retry') {
      const read = bodyOf(event);
      if ('error' in read) return read.error;
      const parsed = DeadLetterRetryAllRequestSchema.safeParse(read.body);
      if (!parsed.success) return invalid('the body does not match { pipeline?, all: true }', parsed.error.issues);
      if (parsed.data.pipeline !== undefined && !deps.trigger.stateMachines.has(parsed.data.pipeline)) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, `pipeline "${parsed.data.pipeline}" is not deployed`);
      const retried = await retryAllDeadLetters(parsed.data.pipeline, by, dlq);
      await audited(deps, event, { action: AuditAction.RETRY, pipeline: parsed.data.pipeline ?? ALL_PIPELINES, detail: `all: ${retried.retried.length} retried (${retried.retried.map((r) => r.runId).join(', ').slice(0, 1500)}), ${retried.failed.length} failed` });
      return json(200, retried);
    }
    if (key === 'POST /dead-letters/purge') {
      const read = bodyOf(event);
      if ('error' in read) return read.error;
      const parsed = DeadLetterPurgeRequestSchema.safeParse(read.body);
      if (!parsed.success) return invalid('the body does not match { olderThanSeconds }', parsed.error.issues);
      const purged = await purgeDeadLetters(parsed.data.olderThanSeconds, by, dlq);
      await audited(deps, event, { action: AuditAction.PURGE, pipeline: ALL_PIPELINES, detail: `${purged.purged} dead letter(s) older than ${parsed.data.olderThanSeconds} s purged` });
      return json(200, purged);
    }
  } catch (err) {
    if (err instanceof DeadLetterNotFoundError) return failure(404, ApiErrorCode.DEAD_LETTER_NOT_FOUND, err.message);
    if (err instanceof OriginalRunMissingError) return failure(404, ApiErrorCode.RUN_NOT_FOUND, err.message);
    if (err instanceof RetryRefusedError) return failure(409, ApiErrorCode.RETRY_REFUSED, err.message, err.run ? { run: err.run } : {});
    if (err instanceof UnknownPipelineError) return failure(404, ApiErrorCode.PIPELINE_NOT_FOUND, err.message);
    if (err instanceof RunParametersError) return failure(400, ApiErrorCode.INVALID_PARAMETERS, `the dead letter's run parameters are not what its pipeline allows now (its runParameters changed?)`, { issues: err.issues });
    if (err instanceof RunStartError) return startFailed(err, `${err.message}; the dead letter stays in the queue`);
    throw err;
  }
  return failure(404, ApiErrorCode.ROUTE_NOT_FOUND, `no route ${key}`);
}

/**
 * `route`, and for anything it did not expect a 500 with a stable code and the request id to find the
 * logged error by: never a stack trace, never API Gateway's bare 502.
 */
export async function answer(event: Parameters<typeof route>[0], deps: ApiDeps, log = createLogger({ component: 'control-api' })): Promise<APIGatewayProxyResult> {
  try {
    return await route(event, deps);
  } catch (err) {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    log.error('request failed', { requestId, route: `${event.httpMethod} ${event.resource}`, error: describeError(err) });
    return failure(500, ApiErrorCode.INTERNAL, `the request failed unexpectedly; quote request id ${requestId}`, { requestId });
  }
}

let deps: ApiDeps | undefined;
export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  if (deps === undefined) {
    const trigger = triggerDepsFromEnv('control-api');
    const store = recordStoreFromEnv();
    deps = { trigger, store, cancel: cancelDepsFromEnv(), deadLetters: { queue: deadLetterQueueFromEnv(), retries: retryPointersFromEnv(), store, trigger, log: createLogger({ component: 'control-api', area: 'dead-letters' }) }, health: healthDepsFromEnv(createLogger({ component: 'control-api', area: 'health' })), audit: store, logs: logsDepsFromSdk() };
  }
  return answer(event, deps);
}

/**
 * Run and job-attempt records in one DynamoDB table, and every conditional write on them. Status
 * changes only move forward: a run is created PENDING once, becomes RUNNING once, and becomes terminal
 * once; an attempt leaves RUNNING once. A repeated or late write is a no-op. Everything read back is
 * parsed with the contract's schemas.
 * Keys and the table layout: `lib/model/contract/storage.ts`; expressions: `update-expression.ts`.
 */
import { z } from 'zod';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  ErrorCategory,
  JOB_STATE_ATTRIBUTES,
  RECORD_KEYS,
  JobAttemptRecordSchema,
  JobStateRecordSchema,
  JobStatus,
  KEY_PREFIX,
  UpstreamOutcomeSchema,
  recordKeys,
  RUN_START_FAILED,
  RunRecordSchema,
  RunStatus,
  StartDecisionKind,
  STORAGE_FIELDS,
  TERMINAL_RUN_STATUSES,
  ACTIVE_RUNS_ATTRIBUTES,
  WAITING_RUNS_ATTRIBUTE,
  batchEventPrefix,
  type StartDecision,
  TriggerType,
  attemptPrefix,
  runPartition,
  type Cancellation,
  type JobAttemptRecord,
  type JobStateRecord,
  type JobSummary,
  type UpstreamOutcome,
  type RunRecord,
  ALL_PIPELINES,
  AuditRecordSchema,
  auditPartition,
  PAUSE_ATTRIBUTES,
  PauseFlagSchema,
  type AuditRecord,
  type AuditResponse,
  DefinitionPointerSchema,
  type DefinitionPointer,
  type PauseFlag,
  type Pauses,
} from '../../../lib/model/contract/index.ts';
import { PhiError } from '../../../lib/model/errors.ts';
import { conditionally, isConditionFailure, update } from './update-expression.ts';

export class RecordError extends PhiError {
  constructor(
    override readonly code: 'REC_001_NOT_FOUND' | 'REC_002_CORRUPT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...item };
  for (const field of STORAGE_FIELDS) delete copy[field];
  return copy;
}

function parseRun(item: Record<string, unknown>): RunRecord {
  const parsed = RunRecordSchema.safeParse(strip(item));
  if (!parsed.success) throw new RecordError('REC_002_CORRUPT', `run record ${String(item.pk)} does not match the schema: ${parsed.error.message}`);
  return parsed.data;
}

function parseAttempt(item: Record<string, unknown>): JobAttemptRecord {
  const parsed = JobAttemptRecordSchema.safeParse(strip(item));
  if (!parsed.success) throw new RecordError('REC_002_CORRUPT', `attempt record ${String(item.sk)} does not match the schema: ${parsed.error.message}`);
  return parsed.data;
}

/** A job-state item as stored (a string set of ended upstreams, one `up:<id>` attribute each) → its record. */
function parseJobState(item: Record<string, unknown>): JobStateRecord {
  const upstream: Record<string, UpstreamOutcome> = {};
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(JOB_STATE_ATTRIBUTES.upstreamPrefix)) continue;
    const outcome = UpstreamOutcomeSchema.safeParse(value);
    if (!outcome.success) throw new RecordError('REC_002_CORRUPT', `job state ${String(item.sk)} holds a malformed ${name}: ${outcome.error.message}`);
    upstream[name.slice(JOB_STATE_ATTRIBUTES.upstreamPrefix.length)] = outcome.data;
  }
  const sk = String(item.sk ?? '');
  const parsed = JobStateRecordSchema.safeParse({
    runId: String(item.pk ?? '').slice(KEY_PREFIX.run.length),
    jobId: sk.slice(KEY_PREFIX.jobState.length),
    upstream,
    ready: item[JOB_STATE_ATTRIBUTES.ready] === true,
    ...(typeof item[JOB_STATE_ATTRIBUTES.token] === 'string' ? { token: item[JOB_STATE_ATTRIBUTES.token] } : {}),
    ...Object.fromEntries(['status', 'reason', 'attempt', 'errorCode', 'completedAt'].filter((f) => item[f] !== undefined).map((f) => [f, item[f]])),
  });
  if (!parsed.success) throw new RecordError('REC_002_CORRUPT', `job state ${sk} does not match the schema: ${parsed.error.message}`);
  return parsed.data;
}

/** How a job ended, as its own job-state item keeps it. */
export interface JobEnd {
  readonly status: JobStatus;
  readonly at: string;
  readonly attempt: number;
  readonly reason?: string;
  readonly errorCode?: string;
}

const whileRunning = { expression: '#status = :running', names: ['status'], values: { ':running': JobStatus.RUNNING } };
const whileNotTerminal = { expression: '#status IN (:pending, :running)', names: ['status'], values: { ':pending': RunStatus.PENDING, ':running': RunStatus.RUNNING } };

/** A run's first record: PENDING, or SKIPPED (ended at once) when its start rules refused it. */
export function newRunRecord(run: Omit<RunRecord, 'status' | 'transitions'>): RunRecord {
  if (run.startDecision?.decision === StartDecisionKind.SKIP) {
    return { ...run, status: RunStatus.SKIPPED, completedAt: run.queuedAt, durationMs: 0, transitions: [{ status: RunStatus.SKIPPED, at: run.queuedAt }] };
  }
  return { ...run, status: RunStatus.PENDING, transitions: [{ status: RunStatus.PENDING, at: run.queuedAt }] };
}

/**
 * Seconds an admitted run may have no record before it is taken for one whose start died (its record
 * is written right after it is admitted) and its place among the active runs given up.
 */
export const ADMISSION_GRACE_SECONDS = 60;
/** Rounds `admitRun` tries before it reports the limit reached (each one lets go of the runs that ended). */
export const ADMISSION_ROUNDS = 5;
/** The most history items one `listRunHistory` call reads (a filter that matches little still answers, with a cursor). */
export const HISTORY_SCAN_LIMIT = 500;
/** How many of a pipeline's newest runs `latestEndedRun` looks through. */
export const LATEST_ENDED_SCAN = 500;

/** A trigger's batch as its item keeps it (`recordKeys.triggerBatch`). */
export const TriggerBatchSchema = z.object({
  batchId: z.string(),
  openedAt: z.string(),
  until: z.string(),
  /** Its close is scheduled (absent: the event that opened it stopped before; the next to join schedules it). */
  scheduled: z.literal(true).optional(),
  /** When it was closed: no event joins it after that. */
  closedAt: z.string().optional(),
});
export type TriggerBatch = z.infer<typeof TriggerBatchSchema>;
const ENDED_STATUSES: readonly RunStatus[] = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED];

/** What `listRunHistory` selects: newest first, after the cursor `after` (a history sort key), matching the filters. */
export interface RunHistoryQuery {
  readonly limit: number;
  readonly status?: RunStatus;
  readonly trigger?: TriggerType;
  /** The history sort key (`<queuedAt>#<runId>`) of the last run of the previous page. */
  readonly after?: string;
}

/** A page of history: the runs, and the history sort key to continue after when more may follow. */
export interface RunHistoryPage {
  readonly runs: RunRecord[];
  readonly next?: string;
}

/** The run id a history sort key (`<queuedAt>#<runId>`) names. */
export const runIdOfHistoryKey = (historyKey: string): string => historyKey.slice(historyKey.indexOf('#') + 1);

/** Seconds a dead-letter claim holds before another caller may take it over. */
export const DEAD_LETTER_LEASE_SECONDS = 20;

/** What a dead-letter claim found: the caller may send it, it has been sent, or another live claimant holds it. */
export type DeadLetterClaim = 'claimed' | 'sent' | 'busy';

/** The most audit items one `listAudit` call reads (a pipeline filter that matches little still answers, `complete: false`). */
export const AUDIT_SCAN_LIMIT = 1000;

/** The pauses item as stored → every pause (`all`, and `p:<pipelineId>` per paused pipeline). */
export function pausesOfItem(item: Record<string, unknown>): Pauses {
  const flag = (name: string, value: unknown): PauseFlag => {
    const parsed = PauseFlagSchema.safeParse(value);
    if (!parsed.success) throw new RecordError('REC_002_CORRUPT', `the pauses item holds a malformed ${name}: ${parsed.error.message}`);
    return parsed.data;
  };
  const pipelines: Record<string, PauseFlag> = {};
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(PAUSE_ATTRIBUTES.pipelinePrefix)) pipelines[name.slice(PAUSE_ATTRIBUTES.pipelinePrefix.length)] = flag(name, value);
  }
  return { ...(item[PAUSE_ATTRIBUTES.all] !== undefined ? { all: flag(PAUSE_ATTRIBUTES.all, item[PAUSE_ATTRIBUTES.all]) } : {}), pipelines };
}

/** The attribute of the pauses item that holds `pipeline`'s pause (`*`: the global one). */
export const pauseAttribute = (pipeline: string): string => (pipeline === ALL_PIPELINES ? PAUSE_ATTRIBUTES.all : `${PAUSE_ATTRIBUTES.pipelinePrefix}${pipeline}`);

/** The audit log's months from `now`'s back to the one `retentionSeconds` before it, newest first (`2026-11`, `2026-10`, …). */
export function auditMonths(now: string, retentionSeconds: number): string[] {
  const end = new Date(now);
  const start = new Date(end.getTime() - retentionSeconds * 1000);
  const last = start.getUTCFullYear() * 12 + start.getUTCMonth();
  const months: string[] = [];
  for (let index = end.getUTCFullYear() * 12 + end.getUTCMonth(); index >= last; index--) {
    months.push(`${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`);
  }
  return months;
}

/** Whether an audit record concerns `pipeline` (its own, or one of every pipeline). */
export const auditConcerns = (record: Pick<AuditRecord, 'pipeline'>, pipeline: string | undefined): boolean => pipeline === undefined || record.pipeline === pipeline || record.pipeline === ALL_PIPELINES;

/** How a RUNNING attempt is closed by someone other than its own invocation. */
export interface AttemptClosure {
  readonly status: typeof JobStatus.FAILED | typeof JobStatus.CANCELLED;
  readonly at: string;
  /** When the closer knows when the attempt started. */
  readonly durationMs?: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly errorCategory?: ErrorCategory;
  readonly willRetry?: boolean;
}

/** How an attempt its own invocation did not end is CANCELLED at `at` (a cancel, the run's end), and why. */
export function cancelledAt(attempt: Pick<JobAttemptRecord, 'startedAt'>, at: string, errorCode: string, errorMessage: string): AttemptClosure {
  return { status: JobStatus.CANCELLED, at, durationMs: Math.max(0, Date.parse(at) - Date.parse(attempt.startedAt)), errorCode, errorMessage };
}

/** Each job's latest attempt. */
export function latestByJob(attempts: readonly JobAttemptRecord[]): Map<string, JobAttemptRecord> {
  const latest = new Map<string, JobAttemptRecord>();
  for (const a of attempts) if ((latest.get(a.jobId)?.attempt ?? 0) < a.attempt) latest.set(a.jobId, a);
  return latest;
}

export interface RecordStoreOptions {
  readonly tableName: string;
  /** Days a record is kept before DynamoDB's TTL removes it. */
  readonly retentionDays: number;
  readonly client?: DynamoDBClient;
}

/** The records an attempt's start reads: each absent when it does not exist. */
export interface AttemptContext {
  readonly run?: RunRecord;
  readonly state?: JobStateRecord;
  readonly attempt?: JobAttemptRecord;
  /** The first attempt of each upstream asked for that exists (most upstreams succeed at their first). */
  readonly upstreamAttempts: readonly JobAttemptRecord[];
}

export class RecordStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly retentionSeconds: number;

  constructor(options: RecordStoreOptions) {
    this.doc = DynamoDBDocumentClient.from(options.client ?? new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.retentionSeconds = options.retentionDays * 86_400;
  }

  /** A conditional update of a run; answers the run as it stands after it, updated or not. */
  private async updateRun(runId: string, parts: Parameters<typeof update>[0]): Promise<RunRecord> {
    await conditionally(this.doc.send(new UpdateCommand({ TableName: this.table, Key: recordKeys.run(runId), ...update(parts) })));
    return this.requireRun(runId);
  }

  private expiresAt(at: string): number {
    return Math.floor(Date.parse(at) / 1000) + this.retentionSeconds;
  }

  /**
   * Creates the run PENDING unless it exists; SKIPPED (ended as it is recorded, no execution) when its
   * start decision is SKIP. Returns the record as stored and whether this call created it.
   */
  async createRun(run: Omit<RunRecord, 'status' | 'transitions'>): Promise<{ created: boolean; run: RunRecord }> {
    const record = newRunRecord(run);
    const created = await conditionally(
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...recordKeys.run(run.runId), kind: 'run', ...recordKeys.history(run.pipelineId, run.queuedAt, run.runId), expiresAt: this.expiresAt(run.queuedAt), ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    return { created, run: created ? record : await this.requireRun(run.runId) };
  }

  /** Records the execution ARN on a run (set once). */
  async attachExecution(runId: string, executionArn: string): Promise<void> {
    await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.run(runId),
          ...update({ set: { executionArn }, condition: { expression: 'attribute_exists(pk) AND attribute_not_exists(#executionArn)', names: ['executionArn'] } }),
        }),
      ),
    );
  }

  /** A run whose execution could not be started, FAILED with RUN_START_FAILED, becomes PENDING again (with `startDecision`, when given). */
  async reopenRun(runId: string, at: string, startDecision?: StartDecision): Promise<RunRecord> {
    return this.updateRun(runId, {
      // With the decision of the start that reopens it (a WAIT: it waits again, no longer a start that failed).
      set: { status: RunStatus.PENDING, ...(startDecision !== undefined ? { startDecision } : {}) },
      append: { transitions: [{ status: RunStatus.PENDING, at }] },
      // The start failure is no longer the run's outcome.
      remove: ['error', 'completedAt', 'durationMs', 'jobs'],
      condition: { expression: '#status = :failed AND #error.#code = :startFailed', names: ['status', 'error', 'code'], values: { ':failed': RunStatus.FAILED, ':startFailed': RUN_START_FAILED } },
    });
  }

  /**
   * PENDING → FAILED with RUN_START_FAILED, when the call that was to start the run's execution failed.
   * Only a PENDING run: one that is already RUNNING has an execution whatever that call said.
   */
  async markRunStartFailed(runId: string, at: string, message: string): Promise<RunRecord> {
    return this.updateRun(runId, {
      set: { status: RunStatus.FAILED, completedAt: at, jobs: {}, error: { code: RUN_START_FAILED, message } },
      append: { transitions: [{ status: RunStatus.FAILED, at }] },
      condition: { expression: '#status = :pending', names: ['status'], values: { ':pending': RunStatus.PENDING } },
    });
  }

  /**
   * PENDING → RUNNING, keeping the run's job graph. A run started without the trigger (a console or
   * CLI StartExecution) has no record yet: it is created RUNNING here. A run marked RUN_START_FAILED
   * whose execution did start after all (the start call timed out, say) becomes RUNNING too.
   */
  async markRunRunning(run: Omit<RunRecord, 'status' | 'transitions' | 'queuedAt'>, at: string): Promise<RunRecord> {
    const history = recordKeys.history(run.pipelineId, at, run.runId);
    return this.updateRun(run.runId, {
      set: { status: RunStatus.RUNNING, startedAt: at, executionArn: run.executionArn, definitionVersion: run.definitionVersion, jobList: run.jobList, runId: run.runId, pipelineId: run.pipelineId, kind: 'run', gsi1pk: history.gsi1pk },
      setIfAbsent: { queuedAt: at, trigger: run.trigger, parameters: run.parameters, scheduledTime: run.scheduledTime, gsi1sk: history.gsi1sk, expiresAt: this.expiresAt(at) },
      append: { transitions: [{ status: RunStatus.RUNNING, at }] },
      remove: ['error', 'completedAt', 'durationMs', 'jobs'],
      condition: {
        expression: 'attribute_not_exists(pk) OR #status = :pending OR (#status = :failed AND #error.#code = :startFailed)',
        names: ['status', 'error', 'code'],
        values: { ':pending': RunStatus.PENDING, ':failed': RunStatus.FAILED, ':startFailed': RUN_START_FAILED },
      },
    });
  }

  /**
   * Non-terminal → SUCCEEDED/FAILED/CANCELLED, with the per-job summary. A second call leaves the first
   * result. With `from`, only while the run still has the status the summary was built from (the run
   * answered may then still be non-terminal: the caller builds its summary again).
   */
  async finishRun(
    runId: string,
    outcome: { status: typeof RunStatus.SUCCEEDED | typeof RunStatus.FAILED | typeof RunStatus.CANCELLED; at: string; jobs: Record<string, JobSummary>; jobsCompacted?: true; error?: RunRecord['error'] },
    from?: typeof RunStatus.PENDING | typeof RunStatus.RUNNING,
  ): Promise<RunRecord> {
    const current = await this.requireRun(runId);
    const startedAt = current.startedAt ?? current.queuedAt;
    return this.updateRun(runId, {
      set: { status: outcome.status, completedAt: outcome.at, durationMs: Math.max(0, Date.parse(outcome.at) - Date.parse(startedAt)), jobs: outcome.jobs, jobsCompacted: outcome.jobsCompacted, error: outcome.error },
      append: { transitions: [{ status: outcome.status, at: outcome.at }] },
      condition: from ? { expression: '#status = :from', names: ['status'], values: { ':from': from } } : whileNotTerminal,
    });
  }

  /** A pipeline's runs, newest first (by when they were queued), at most `limit` (the history index, page after page). */
  async listRuns(pipelineId: string, limit: number): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    let after: string | undefined;
    do {
      const page = await this.listRunHistory(pipelineId, { limit: limit - runs.length, ...(after !== undefined ? { after } : {}) });
      runs.push(...page.runs);
      after = page.next;
    } while (after !== undefined && runs.length < limit);
    return runs;
  }

  /**
   * A page of a pipeline's runs, newest first (by when they were queued), through the history index:
   * at most `limit` runs with the given status and trigger, reading at most `HISTORY_SCAN_LIMIT` runs.
   * `next` is where the following page starts, when more may follow.
   */
  async listRunHistory(pipelineId: string, query: RunHistoryQuery): Promise<RunHistoryPage> {
    const runs: RunRecord[] = [];
    const matches = (run: RunRecord): boolean => (query.status === undefined || run.status === query.status) && (query.trigger === undefined || run.trigger === query.trigger);
    const filtered = query.status !== undefined || query.trigger !== undefined;
    const history = recordKeys.history(pipelineId, '', '');
    let start: Record<string, unknown> | undefined =
      query.after === undefined ? undefined : { ...recordKeys.run(runIdOfHistoryKey(query.after)), gsi1pk: history.gsi1pk, gsi1sk: query.after };
    let examined = 0;
    for (;;) {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: RECORD_KEYS.historyIndex,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': RECORD_KEYS.historyPartition },
          ExpressionAttributeValues: { ':pk': history.gsi1pk },
          ScanIndexForward: false,
          Limit: filtered ? Math.min(100, HISTORY_SCAN_LIMIT - examined) : query.limit - runs.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const items = out.Items ?? [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        examined++;
        const run = parseRun(item);
        if (matches(run)) runs.push(run);
        if (runs.length === query.limit) {
          const more = i < items.length - 1 || out.LastEvaluatedKey !== undefined;
          return more ? { runs, next: String(item[RECORD_KEYS.historySort]) } : { runs };
        }
      }
      start = out.LastEvaluatedKey;
      if (!start) return { runs };
      if (examined >= HISTORY_SCAN_LIMIT) return { runs, next: String(start[RECORD_KEYS.historySort]) };
    }
  }

  /**
   * The pipeline's admitted runs, each with when it was admitted and whether it has ended (its record is
   * terminal, or it never got one within `ADMISSION_GRACE_SECONDS`).
   */
  private async admittedRuns(pipelineId: string, at: string): Promise<{ runId: string; admittedAt?: string; ended: boolean }[]> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.activeRuns(pipelineId), ConsistentRead: true }));
    const item = out.Item ?? {};
    const members = item[ACTIVE_RUNS_ATTRIBUTES.runs];
    const runIds = members instanceof Set ? [...(members as Set<unknown>)].map(String) : [];
    return Promise.all(
      runIds.map(async (runId) => {
        const admitted = item[`${ACTIVE_RUNS_ATTRIBUTES.admittedPrefix}${runId}`];
        const admittedAt = typeof admitted === 'string' ? admitted : undefined;
        const run = await this.getRun(runId);
        const ended = run ? TERMINAL_RUN_STATUSES.includes(run.status) : Date.parse(at) - Date.parse(admittedAt ?? at) >= ADMISSION_GRACE_SECONDS * 1000 || admittedAt === undefined;
        return { runId, ...(admittedAt !== undefined ? { admittedAt } : {}), ended };
      }),
    );
  }

  /** How many of the pipeline's admitted runs are still active (nothing is written: for a dry run). */
  async countActiveRuns(pipelineId: string, at: string): Promise<number> {
    return (await this.admittedRuns(pipelineId, at)).filter((r) => !r.ended).length;
  }

  /**
   * Admits `runId` among the pipeline's active runs when fewer than `max` of the others are, in one
   * conditional write (concurrent starts never pass the limit): `admitted`, and how many others were
   * active. A run admitted before is admitted again. At the limit, the admitted runs that have ended are
   * let go (each by a write conditional on its own admission) and it tries again.
   */
  async admitRun(pipelineId: string, runId: string, max: number, at: string): Promise<{ admitted: boolean; active: number }> {
    let active = max;
    for (let round = 0; round < ADMISSION_ROUNDS; round++) {
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: recordKeys.activeRuns(pipelineId),
            UpdateExpression: 'ADD #runs :run SET #at = if_not_exists(#at, :at), #kind = :kind',
            ConditionExpression: 'contains(#runs, :id) OR attribute_not_exists(#runs) OR size(#runs) < :max',
            ExpressionAttributeNames: { '#runs': ACTIVE_RUNS_ATTRIBUTES.runs, '#at': `${ACTIVE_RUNS_ATTRIBUTES.admittedPrefix}${runId}`, '#kind': 'kind' },
            ExpressionAttributeValues: { ':run': new Set([runId]), ':id': runId, ':at': at, ':max': max, ':kind': 'active-runs' },
            ReturnValues: 'ALL_NEW',
          }),
        );
        const members = out.Attributes?.[ACTIVE_RUNS_ATTRIBUTES.runs];
        return { admitted: true, active: Math.max(0, (members instanceof Set ? members.size : 1) - 1) };
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
      const admitted = await this.admittedRuns(pipelineId, at);
      const ended = admitted.filter((r) => r.ended && r.runId !== runId);
      for (const r of ended) {
        await conditionally(
          this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: recordKeys.activeRuns(pipelineId),
              UpdateExpression: 'DELETE #runs :run REMOVE #at',
              ConditionExpression: r.admittedAt === undefined ? 'attribute_not_exists(#at)' : '#at = :at',
              ExpressionAttributeNames: { '#runs': ACTIVE_RUNS_ATTRIBUTES.runs, '#at': `${ACTIVE_RUNS_ATTRIBUTES.admittedPrefix}${r.runId}` },
              ExpressionAttributeValues: { ':run': new Set([r.runId]), ...(r.admittedAt === undefined ? {} : { ':at': r.admittedAt }) },
            }),
          ),
        );
      }
      active = admitted.length - ended.length;
      // Nothing ended and no room appeared meanwhile: the limit holds.
      if (ended.length === 0 && active >= max) return { admitted: false, active };
    }
    // Contended every round: the limit is reported reached.
    return { admitted: false, active: Math.max(active, max) };
  }

  /**
   * Opens a trigger's debounce window for `eventId` at `at`, for `seconds`, in one conditional write:
   * `true` when no window was open (none yet, or the last one closed by `at`) or the open one is this
   * event's own (a repeated delivery); `false` when another event's window is open.
   */
  async claimTriggerWindow(pipelineId: string, triggerId: string, eventId: string, at: string, seconds: number): Promise<boolean> {
    const until = new Date(Date.parse(at) + seconds * 1000).toISOString();
    return conditionally(
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...recordKeys.triggerWindow(pipelineId, triggerId), kind: 'trigger-window', eventId, openedAt: at, until, expiresAt: this.expiresAt(until) },
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :at OR #event = :event',
          ExpressionAttributeNames: { '#until': 'until', '#event': 'eventId' },
          ExpressionAttributeValues: { ':at': at, ':event': eventId },
        }),
      ),
    );
  }

  /**
   * The replay guard of a webhook trigger: records, in one conditional write, that the request whose
   * signature's SHA-256 is `digest` was received at `at`. `true` the first time (or again once
   * `releaseWebhookRequest` gave it up), `false` when it was received before: a replay. The item expires
   * at `expiresAt` (epoch seconds), once the request's timestamp alone refuses it.
   */
  async claimWebhookRequest(pipelineId: string, triggerId: string, digest: string, at: string, expiresAt: number): Promise<boolean> {
    return conditionally(
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...recordKeys.webhookRequest(pipelineId, triggerId, digest), kind: 'webhook-request', receivedAt: at, expiresAt },
          ConditionExpression: 'attribute_not_exists(pk) OR #released = :released',
          ExpressionAttributeNames: { '#released': 'released' },
          ExpressionAttributeValues: { ':released': true },
        }),
      ),
    );
  }

  /** Gives up a webhook request's guard (`claimWebhookRequest`) when its run could not be started: the sender may send it again as it was. */
  async releaseWebhookRequest(pipelineId: string, triggerId: string, digest: string): Promise<void> {
    await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.webhookRequest(pipelineId, triggerId, digest),
          UpdateExpression: 'SET #released = :released',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#released': 'released' },
          ExpressionAttributeValues: { ':released': true },
        }),
      ),
    );
  }

  /**
   * The pipeline's latest ended run (SUCCEEDED, FAILED or CANCELLED: the one that ended last) among its
   * newest runs by when they were queued: read a page at a time, up to `LATEST_ENDED_SCAN` runs, until
   * a page holds an ended one (skipped and waiting runs are passed over); `undefined` when none ended.
   */
  async latestEndedRun(pipelineId: string): Promise<{ runId: string; status: RunStatus; completedAt: string } | undefined> {
    return this.firstHistoryPageWith(pipelineId, LATEST_ENDED_SCAN, (runs) => {
      const ended = runs.filter((r) => ENDED_STATUSES.includes(r.status) && r.completedAt !== undefined).sort((a, b) => (a.completedAt! < b.completedAt! ? 1 : a.completedAt! > b.completedAt! ? -1 : 0))[0];
      return ended === undefined ? undefined : { runId: ended.runId, status: ended.status, completedAt: ended.completedAt! };
    });
  }

  /**
   * The latest scheduled time of the pipeline's schedule `scheduleId` that has a run (delivered,
   * backfilled, caught up; skipped ones too), among its newest runs by when they were queued (at most
   * `HISTORY_SCAN_LIMIT`); `undefined` when none of them is one.
   */
  async lastScheduledTime(pipelineId: string, scheduleId: string): Promise<string | undefined> {
    // A page that holds one is enough: older runs were queued before it, their times mostly earlier.
    return this.firstHistoryPageWith(pipelineId, HISTORY_SCAN_LIMIT, (runs) =>
      runs
        // A retry carries the scheduled time of the run it retries: not a delivery of the schedule.
        .filter((r) => r.scheduledTime !== undefined && r.trigger !== TriggerType.RETRY && (r.scheduleId ?? 'default') === scheduleId)
        .map((r) => r.scheduledTime!)
        .reduce<string | undefined>((latest, t) => (latest === undefined || Date.parse(t) > Date.parse(latest) ? t : latest), undefined),
    );
  }

  /** What `pick` finds in the first page of the pipeline's history (newest first, 50 runs a page, at most `scan` runs) where it finds anything. */
  private async firstHistoryPageWith<T>(pipelineId: string, scan: number, pick: (runs: readonly RunRecord[]) => T | undefined): Promise<T | undefined> {
    let after: string | undefined;
    let examined = 0;
    do {
      const page = await this.listRunHistory(pipelineId, { limit: 50, ...(after !== undefined ? { after } : {}) });
      examined += page.runs.length;
      const found = pick(page.runs);
      if (found !== undefined) return found;
      after = page.next;
    } while (after !== undefined && examined < scan);
    return undefined;
  }

  /** Adds a run to its pipeline's waiting runs (again: nothing changes). */
  async addWaiting(pipelineId: string, runId: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: recordKeys.waitingRuns(pipelineId),
        UpdateExpression: 'ADD #runs :run SET #kind = :kind',
        ExpressionAttributeNames: { '#runs': WAITING_RUNS_ATTRIBUTE, '#kind': 'kind' },
        ExpressionAttributeValues: { ':run': new Set([runId]), ':kind': 'waiting-runs' },
      }),
    );
  }

  /** Takes a run off its pipeline's waiting runs. */
  async removeWaiting(pipelineId: string, runId: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: recordKeys.waitingRuns(pipelineId),
        UpdateExpression: 'DELETE #runs :run',
        ExpressionAttributeNames: { '#runs': WAITING_RUNS_ATTRIBUTE },
        ExpressionAttributeValues: { ':run': new Set([runId]) },
      }),
    );
  }

  /** The ids of the pipeline's runs waiting for their upstream pipelines (one consistent read). */
  async listWaiting(pipelineId: string): Promise<string[]> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.waitingRuns(pipelineId), ConsistentRead: true }));
    const members = out.Item?.[WAITING_RUNS_ATTRIBUTE];
    return members instanceof Set ? [...(members as Set<unknown>)].map(String).sort() : [];
  }

  /**
   * A run waiting (PENDING, decision WAIT) takes its new decision: START (it stays PENDING, its
   * execution is started next), SKIP (SKIPPED now, after its wait) or WAIT again (what it waits on
   * now). `changed` is false when it no longer waited (another evaluation decided it first).
   */
  async resolveWait(runId: string, decision: StartDecision, at: string): Promise<{ changed: boolean; run: RunRecord }> {
    const run = await this.requireRun(runId);
    const skip = decision.decision === StartDecisionKind.SKIP;
    const changed = await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.run(runId),
          ...update({
            set: { startDecision: decision, ...(skip ? { status: RunStatus.SKIPPED, completedAt: at, durationMs: Math.max(0, Date.parse(at) - Date.parse(run.queuedAt)) } : {}) },
            ...(skip ? { append: { transitions: [{ status: RunStatus.SKIPPED, at }] } } : {}),
            condition: { expression: '#status = :pending AND #startDecision.#decision = :wait', names: ['status', 'startDecision', 'decision'], values: { ':pending': RunStatus.PENDING, ':wait': StartDecisionKind.WAIT } },
          }),
        }),
      ),
    );
    return { changed, run: await this.requireRun(runId) };
  }

  /** A trigger's current batch (open or not), in one consistent read; `undefined` when it never had one. */
  async getBatch(pipelineId: string, triggerId: string): Promise<TriggerBatch | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.triggerBatch(pipelineId, triggerId), ConsistentRead: true }));
    return out.Item === undefined ? undefined : TriggerBatchSchema.parse(out.Item);
  }

  /**
   * Opens a batch for the trigger, `batchId`, from `at` until `until`, unless one is open at `at` (one
   * conditional write; a batch is open until its `until` and its close): answers the batch open then,
   * this one or the one that was.
   */
  async openBatch(pipelineId: string, triggerId: string, batchId: string, at: string, until: string): Promise<TriggerBatch> {
    const opened = await conditionally(
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...recordKeys.triggerBatch(pipelineId, triggerId), kind: 'trigger-batch', batchId, openedAt: at, until, expiresAt: this.expiresAt(until) },
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :at OR attribute_exists(#closed)',
          ExpressionAttributeNames: { '#until': 'until', '#closed': 'closedAt' },
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
    return opened ? { batchId, openedAt: at, until } : ((await this.getBatch(pipelineId, triggerId)) ?? { batchId, openedAt: at, until });
  }

  /** Notes that the batch's close is scheduled (only while it is the trigger's batch). */
  async markBatchScheduled(pipelineId: string, triggerId: string, batchId: string): Promise<void> {
    await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.triggerBatch(pipelineId, triggerId),
          UpdateExpression: 'SET #scheduled = :yes',
          ConditionExpression: '#batch = :batch',
          ExpressionAttributeNames: { '#scheduled': 'scheduled', '#batch': 'batchId' },
          ExpressionAttributeValues: { ':yes': true, ':batch': batchId },
        }),
      ),
    );
  }

  /**
   * Closes the batch (once): no event joins it after this write, so its events read next are all it
   * has. A batch no longer the trigger's (a later one replaced it) was closed by being replaced.
   */
  async closeBatch(pipelineId: string, triggerId: string, batchId: string, at: string): Promise<void> {
    await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.triggerBatch(pipelineId, triggerId),
          UpdateExpression: 'SET #closed = if_not_exists(#closed, :at)',
          ConditionExpression: '#batch = :batch',
          ExpressionAttributeNames: { '#closed': 'closedAt', '#batch': 'batchId' },
          ExpressionAttributeValues: { ':at': at, ':batch': batchId },
        }),
      ),
    );
  }

  /**
   * Adds an event to the trigger's batch `batchId` while it is open at `at` (a transaction: the batch's
   * check and the event's write): `false` when it is not (closed, or another batch is open). Adding
   * the same event twice keeps one.
   */
  async addToBatch(pipelineId: string, triggerId: string, batchId: string, eventId: string, event: unknown, at: string): Promise<boolean> {
    return conditionally(
      this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: recordKeys.triggerBatch(pipelineId, triggerId),
                ConditionExpression: '#batch = :batch AND #until > :at AND attribute_not_exists(#closed)',
                ExpressionAttributeNames: { '#batch': 'batchId', '#until': 'until', '#closed': 'closedAt' },
                ExpressionAttributeValues: { ':batch': batchId, ':at': at },
              },
            },
            { Put: { TableName: this.table, Item: { ...recordKeys.batchEvent(pipelineId, triggerId, batchId, eventId), kind: 'batch-event', eventId, at, event, expiresAt: this.expiresAt(at) } } },
          ],
        }),
      ),
    );
  }

  /** The events of a trigger's batch, in the order of their ids (one consistent query, page after page). */
  async batchEvents(pipelineId: string, triggerId: string, batchId: string): Promise<{ eventId: string; at: string; event: unknown }[]> {
    const events: { eventId: string; at: string; event: unknown }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': RECORD_KEYS.partition, '#sk': RECORD_KEYS.sort },
          ExpressionAttributeValues: { ':pk': recordKeys.triggerBatch(pipelineId, triggerId).pk, ':prefix': batchEventPrefix(triggerId, batchId) },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) events.push({ eventId: String(item.eventId), at: String(item.at), event: item.event });
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return events;
  }

  /** Every pause of the deployment, in one consistent read (a start makes it before it is decided). */
  async getPauses(): Promise<Pauses> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.pauses(), ConsistentRead: true }));
    return pausesOfItem(out.Item ?? {});
  }

  /**
   * Pauses (`flag`) or resumes (`undefined`) one pipeline, or every one (`ALL_PIPELINES`), and writes
   * its audit record, in one transaction: no pause changes without its record. Setting a pause again
   * replaces who, when and why; resuming what is not paused changes nothing but is recorded.
   */
  async setPause(pipeline: string, flag: PauseFlag | undefined, audit: AuditRecord): Promise<void> {
    const names = { '#pause': pauseAttribute(pipeline), '#kind': 'kind' };
    const change = flag === undefined
      ? { UpdateExpression: 'REMOVE #pause', ExpressionAttributeNames: { '#pause': names['#pause'] } }
      : { UpdateExpression: 'SET #pause = :flag, #kind = :kind', ExpressionAttributeNames: names, ExpressionAttributeValues: { ':flag': flag, ':kind': 'pauses' } };
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Update: { TableName: this.table, Key: recordKeys.pauses(), ...change } },
          { Put: { TableName: this.table, Item: this.auditItem(audit), ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }),
    );
  }

  private auditItem(record: AuditRecord): Record<string, unknown> {
    return { ...recordKeys.audit(record.at, record.id), kind: 'audit', expiresAt: this.expiresAt(record.at), ...AuditRecordSchema.parse(record) };
  }

  /** Writes one audit record (kept as long as the run records: the table's TTL). */
  async appendAudit(record: AuditRecord): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: this.auditItem(record) }));
  }

  /** The last definition recorded of `pipelineId` (`recordKeys.definition`), read consistently; absent when none was. */
  async getDefinitionPointer(pipelineId: string): Promise<DefinitionPointer | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.definition(pipelineId), ConsistentRead: true }));
    if (out.Item === undefined) return undefined;
    const parsed = DefinitionPointerSchema.safeParse(strip(out.Item));
    if (!parsed.success) throw new RecordError('REC_002_CORRUPT', `the definition pointer of ${pipelineId} does not match the schema: ${parsed.error.message}`);
    return parsed.data;
  }

  /**
   * Replaces the definition pointer of `pipelineId` with `pointer` and writes `audit`, in one
   * transaction, if the pointer is still the one read (`expected`: its `requestId`; absent: there was
   * none). `false` when it was not (another request wrote it first): nothing is written. The pointer has
   * no TTL (it is what the next deploy is compared with, however long after); the record has the audit log's.
   */
  async recordDefinition(pipelineId: string, pointer: DefinitionPointer, expected: Pick<DefinitionPointer, 'requestId'> | undefined, audit: AuditRecord): Promise<boolean> {
    const condition: { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } = expected === undefined
      ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': RECORD_KEYS.partition } }
      : { ConditionExpression: '#requestId = :requestId', ExpressionAttributeNames: { '#requestId': 'requestId' }, ExpressionAttributeValues: { ':requestId': expected.requestId } };
    return conditionally(
      this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: { ...recordKeys.definition(pipelineId), kind: 'definition', ...DefinitionPointerSchema.parse(pointer) }, ...condition } },
            { Put: { TableName: this.table, Item: this.auditItem(audit), ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      ),
    );
  }

  /**
   * The newest `limit` audit records (of `pipeline`, and those of every pipeline), from `now`'s month
   * back to the oldest one the table keeps, reading at most `AUDIT_SCAN_LIMIT` items.
   */
  async listAudit(query: { readonly pipeline?: string; readonly limit: number }, now: string): Promise<AuditResponse> {
    const records: AuditRecord[] = [];
    let scanned = 0;
    for (const month of auditMonths(now, this.retentionSeconds)) {
      let start: Record<string, unknown> | undefined;
      do {
        if (scanned >= AUDIT_SCAN_LIMIT) return { records, complete: false };
        const out = await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': RECORD_KEYS.partition },
            ExpressionAttributeValues: { ':pk': auditPartition(month) },
            ScanIndexForward: false,
            Limit: Math.min(AUDIT_SCAN_LIMIT - scanned, query.pipeline === undefined ? query.limit - records.length : 100),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        scanned += out.ScannedCount ?? out.Items?.length ?? 0;
        for (const item of out.Items ?? []) {
          const parsed = AuditRecordSchema.safeParse(strip(item));
          if (!parsed.success) throw new RecordError('REC_002_CORRUPT', `audit record ${String(item.sk)} does not match the schema: ${parsed.error.message}`);
          // Filtered here, not by a filter expression: DynamoDB reads (and charges) the same items either way.
          if (auditConcerns(parsed.data, query.pipeline)) records.push(parsed.data);
          if (records.length >= query.limit) return { records, complete: true };
        }
        start = out.LastEvaluatedKey;
      } while (start);
    }
    return { records, complete: true };
  }

  /** Keeps a cancel on a run that has not ended; `false` when it had (nothing is written). */
  async recordCancellation(runId: string, cancellation: Cancellation): Promise<boolean> {
    return conditionally(
      this.doc.send(new UpdateCommand({ TableName: this.table, Key: recordKeys.run(runId), ...update({ append: { cancellations: [cancellation] }, condition: whileNotTerminal }) })),
    );
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.run(runId), ConsistentRead: true }));
    return out.Item ? parseRun(out.Item) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RecordError('REC_001_NOT_FOUND', `run ${runId} has no record`);
    return run;
  }

  private attemptItem(record: JobAttemptRecord): Record<string, unknown> {
    return { ...recordKeys.attempt(record.runId, record.jobId, record.attempt), kind: 'attempt', expiresAt: this.expiresAt(record.startedAt), ...record };
  }

  /**
   * Writes an attempt's record as it starts (RUNNING): `false`, writing nothing, when the attempt has
   * ended already (a repeated delivery never turns an ended attempt back to RUNNING). A RUNNING record
   * (its invocation died) is taken over.
   */
  async startAttempt(record: JobAttemptRecord, released = false): Promise<boolean> {
    // One transaction with a check that the job has no end: an attempt never starts after the run's end
    // ended its job (which reads the attempts after ending the jobs, so it sees every attempt that did).
    // A job released by its upstreams notes, in the same write, that its token was delivered (`woken`):
    // a repeated release of its last upstream then sends it no more (see `claimReady`).
    const state = { TableName: this.table, Key: recordKeys.jobState(record.runId, record.jobId) };
    const noEnd = { expression: 'attribute_not_exists(#status)', names: ['status'] };
    return conditionally(
      this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            released
              ? { Update: { ...state, ...update({ set: { woken: true, kind: 'job-state' }, setIfAbsent: { expiresAt: this.expiresAt(record.startedAt) }, condition: noEnd }) } }
              : { ConditionCheck: { ...state, ConditionExpression: noEnd.expression, ExpressionAttributeNames: { '#status': 'status' } } },
            {
              Put: {
                TableName: this.table,
                Item: this.attemptItem(record),
                ConditionExpression: 'attribute_not_exists(pk) OR #status = :running',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':running': JobStatus.RUNNING },
              },
            },
          ],
        }),
      ),
    );
  }

  /** RUNNING → SUCCEEDED/FAILED, by the attempt's own invocation. An attempt closed meanwhile stays closed. */
  async finishAttempt(record: JobAttemptRecord): Promise<void> {
    await conditionally(this.doc.send(new PutCommand(this.finishedAttemptPut(record))));
  }

  private finishedAttemptPut(record: JobAttemptRecord) {
    return {
      TableName: this.table,
      Item: this.attemptItem(record),
      ConditionExpression: 'attribute_not_exists(pk) OR #status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':running': JobStatus.RUNNING },
    };
  }

  /**
   * The attempt's own end (`finishAttempt`) and its job's (`endJob`, with `released`), in one
   * transaction: answers whether the job's end was written. Either condition failing (the attempt was
   * closed, or the job ended, meanwhile) writes neither; then each is written on its own, as it can be,
   * as two separate calls would have.
   */
  async finishAttemptAndEndJob(record: JobAttemptRecord, end: JobEnd, released = false): Promise<boolean> {
    const ended = this.endJobUpdate(end, released);
    const both = await conditionally(
      this.doc.send(
        new TransactWriteCommand({
          TransactItems: [{ Put: this.finishedAttemptPut(record) }, { Update: { TableName: this.table, Key: recordKeys.jobState(record.runId, record.jobId), ...ended } }],
        }),
      ),
    );
    if (both) return true;
    await this.finishAttempt(record);
    return this.endJob(record.runId, record.jobId, end, released);
  }

  /**
   * Closes an attempt that is still RUNNING from outside its invocation: a later attempt began (its
   * invocation timed out or crashed), its job failed for good, or its run ended. A finished attempt is
   * left as it is.
   */
  async closeAttempt(runId: string, jobId: string, attempt: number, closure: AttemptClosure): Promise<void> {
    await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.attempt(runId, jobId, attempt),
          ...update({
            set: { status: closure.status, completedAt: closure.at, durationMs: closure.durationMs, errorCode: closure.errorCode, errorMessage: closure.errorMessage, errorCategory: closure.errorCategory, willRetry: closure.willRetry },
            append: { transitions: [{ status: closure.status, at: closure.at }] },
            condition: whileRunning,
          }),
        }),
      ),
    );
  }

  /** A job's state in a run (its upstreams' outcomes, its gate, its end), or undefined before anything touched it. */
  async getJobState(runId: string, jobId: string): Promise<JobStateRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.jobState(runId, jobId), ConsistentRead: true }));
    return out.Item ? parseJobState(out.Item) : undefined;
  }

  /** Every job state of a run. */
  async listJobStates(runId: string): Promise<JobStateRecord[]> {
    return (await this.queryRun(runId, KEY_PREFIX.jobState)).map(parseJobState);
  }

  /**
   * Records on a dependent's state that one of its upstreams ended, and how (a repeat is harmless).
   * Answers how many of its upstreams have ended so far, and its state after the write.
   */
  async recordUpstreamEnded(runId: string, dependent: string, upstream: string, outcome: UpstreamOutcome, at: string): Promise<{ ended: number; state: JobStateRecord }> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: recordKeys.jobState(runId, dependent),
        ...update({
          set: { [`${JOB_STATE_ATTRIBUTES.upstreamPrefix}${upstream}`]: outcome, kind: 'job-state' },
          setIfAbsent: { expiresAt: this.expiresAt(at) },
          add: { [JOB_STATE_ATTRIBUTES.done]: new Set([upstream]) },
        }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    const item = (out.Attributes ?? {}) as Record<string, unknown>;
    const done = item[JOB_STATE_ATTRIBUTES.done];
    return { ended: done instanceof Set ? done.size : 0, state: parseJobState(item) };
  }

  /**
   * Marks a job ready (every upstream has ended), once, on behalf of the upstream `by` whose end
   * completed the set: `claimed` for that caller, with the task token its iteration is waiting on, if it
   * is waiting already. A repeat of the same upstream's release is `claimed` again until the job's own
   * iteration has written past its gate (`startAttempt` or `endJob` with `released` note it `woken`), so
   * a send that failed is sent again; any other caller gets `false`.
   *
   * With `ended`, the same write also records `by`'s end (as `recordUpstreamEnded` does): for a job whose
   * only upstream is `by`, whose end always completes the set, one write instead of two.
   */
  async claimReady(runId: string, jobId: string, by: string, ended?: { outcome: UpstreamOutcome; at: string }): Promise<{ claimed: boolean; token?: string }> {
    const claim = { [JOB_STATE_ATTRIBUTES.ready]: true, readyBy: by };
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.jobState(runId, jobId),
          ...update({
            ...(ended
              ? { set: { ...claim, [`${JOB_STATE_ATTRIBUTES.upstreamPrefix}${by}`]: ended.outcome, kind: 'job-state' }, setIfAbsent: { expiresAt: this.expiresAt(ended.at) }, add: { [JOB_STATE_ATTRIBUTES.done]: new Set([by]) } }
              : { set: claim }),
            condition: { expression: 'attribute_not_exists(#ready) OR (#readyBy = :by AND attribute_not_exists(#woken))', names: ['ready', 'readyBy', 'woken'], values: { ':by': by } },
          }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const token = out.Attributes?.[JOB_STATE_ATTRIBUTES.token];
      return { claimed: true, ...(typeof token === 'string' ? { token } : {}) };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Made ready on behalf of another upstream (it has more than one after all), or woken already: the end is still recorded.
      if (ended) await this.recordUpstreamEnded(runId, jobId, by, ended.outcome, ended.at);
      return { claimed: false };
    }
  }

  /** Records how a job ended, once: the first end wins and later ones are no-ops (`false`). */
  async endJob(runId: string, jobId: string, end: JobEnd, released = false): Promise<boolean> {
    return conditionally(this.doc.send(new UpdateCommand({ TableName: this.table, Key: recordKeys.jobState(runId, jobId), ...this.endJobUpdate(end, released) })));
  }

  private endJobUpdate(end: JobEnd, released: boolean) {
    return update({
      // Ended by its own iteration, past its gate: as `startAttempt`, notes its token delivered.
      set: { status: end.status, completedAt: end.at, attempt: end.attempt, reason: end.reason, errorCode: end.errorCode, kind: 'job-state', woken: released ? true : undefined },
      setIfAbsent: { expiresAt: this.expiresAt(end.at) },
      condition: { expression: 'attribute_not_exists(#status)', names: ['status'] },
    });
  }

  /**
   * What an attempt's start decides from, in one consistent batch read: the run, the job's state and
   * the attempt itself, each absent when it does not exist; and, in the same read, the first attempt of
   * each of `upstreams` (whose outputs the job takes, when that is the attempt its upstream ended with),
   * so that a job woken by its upstreams reads once before it starts.
   */
  async readAttemptContext(runId: string, jobId: string, attempt: number, upstreams: readonly string[] = []): Promise<AttemptContext> {
    // Each upstream once: a batch read refuses a key it is given twice.
    const keys = [recordKeys.run(runId), recordKeys.jobState(runId, jobId), recordKeys.attempt(runId, jobId, attempt), ...[...new Set(upstreams)].filter((up) => up !== jobId).map((up) => recordKeys.attempt(runId, up, 1))];
    const bySk = new Map((await this.batchGet(keys)).map((item) => [item[RECORD_KEYS.sort], item]));
    const run = bySk.get(keys[0]!.sk);
    const state = bySk.get(keys[1]!.sk);
    const own = bySk.get(keys[2]!.sk);
    const upstreamAttempts = keys.slice(3).flatMap((key) => {
      const item = bySk.get(key.sk);
      return item ? [parseAttempt(item)] : [];
    });
    return { ...(run ? { run: parseRun(run) } : {}), ...(state ? { state: parseJobState(state) } : {}), ...(own ? { attempt: parseAttempt(own) } : {}), upstreamAttempts };
  }

  /** The given attempts that exist. */
  async getAttempts(keys: readonly { runId: string; jobId: string; attempt: number }[]): Promise<JobAttemptRecord[]> {
    return (await this.batchGet(keys.map((k) => recordKeys.attempt(k.runId, k.jobId, k.attempt)))).map(parseAttempt);
  }

  /** The items of `keys` that exist, consistently read, in batches of 100 (DynamoDB's limit), until none is left unprocessed. */
  private async batchGet(keys: readonly Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = { [this.table]: { Keys: keys.slice(i, i + 100), ConsistentRead: true } };
      while (request && Object.keys(request).length > 0) {
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: request }));
        found.push(...(out.Responses?.[this.table] ?? []));
        request = out.UnprocessedKeys as typeof request;
      }
    }
    return found;
  }

  /** Every attempt of a run (or of one of its jobs), in job then attempt order. */
  async listAttempts(runId: string, jobId?: string): Promise<JobAttemptRecord[]> {
    return (await this.queryRun(runId, attemptPrefix(jobId))).map(parseAttempt);
  }

  /** Every item of a run whose sort key starts with `prefix`, in key order. */
  private async queryRun(runId: string, prefix: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': runPartition(runId), ':prefix': prefix },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * Claims the dead letter of a job of a run before it is sent, for `owner` until `at` + `leaseSeconds`
   * (as an idempotency record's in-progress expiry): `claimed` for the one caller that may send it now
   * (or its owner again), `sent` once it has been sent (nothing more to do), `busy` while another
   * owner's live claim holds it (a claimant that died is taken over once its lease expires, so the
   * message is not lost).
   */
  async claimDeadLetter(runId: string, jobId: string, at: string, owner: string, leaseSeconds = DEAD_LETTER_LEASE_SECONDS): Promise<DeadLetterClaim> {
    const now = Math.floor(Date.parse(at) / 1000);
    const claimed = await conditionally(
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...recordKeys.deadLetter(runId, jobId), kind: 'dead-letter', claimedAt: at, claimedBy: owner, claimExpiresAt: now + leaseSeconds, expiresAt: this.expiresAt(at) },
          ConditionExpression: 'attribute_not_exists(pk) OR (attribute_not_exists(sentAt) AND (attribute_not_exists(claimedBy) OR claimedBy = :owner OR claimExpiresAt < :now))',
          ExpressionAttributeValues: { ':owner': owner, ':now': now },
        }),
      ),
    );
    if (claimed) return 'claimed';
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: recordKeys.deadLetter(runId, jobId), ConsistentRead: true }));
    return out.Item?.sentAt !== undefined ? 'sent' : 'busy';
  }

  /** Gives up `owner`'s claim of a dead letter it could not send (nothing happens to another's, or to a sent one). */
  async releaseDeadLetterClaim(runId: string, jobId: string, owner: string): Promise<void> {
    await conditionally(
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKeys.deadLetter(runId, jobId),
          UpdateExpression: 'REMOVE claimedBy, claimExpiresAt',
          ConditionExpression: 'claimedBy = :owner AND attribute_not_exists(sentAt)',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      ),
    );
  }

  /** Marks a claimed dead letter sent. */
  async markDeadLetterSent(runId: string, jobId: string, at: string): Promise<void> {
    await this.doc.send(new UpdateCommand({ TableName: this.table, Key: recordKeys.deadLetter(runId, jobId), ...update({ set: { sentAt: at } }) }));
  }
}

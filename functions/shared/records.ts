/**
 * Run and job-attempt records in one DynamoDB table, and every conditional write on them. Status
 * changes only move forward: a run is created PENDING once, becomes RUNNING once, and becomes terminal
 * once; a repeated or late write is a no-op that returns the record as it stands. Everything read back
 * is parsed with the contract's schemas.
 *
 * Keys: `pk = RUN#<runId>`; `sk = RUN` for the run, `JOB#<jobId>#<attempt, 3 digits>` for attempts.
 * Runs also carry `gsi1pk = PIPELINE#<pipelineId>`, `gsi1sk = <queuedAt>#<runId>` for history by pipeline.
 * `expiresAt` (epoch seconds) is the table's TTL attribute.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  JobAttemptRecordSchema,
  RunRecordSchema,
  RunStatus,
  type JobAttemptRecord,
  type JobSummary,
  type RunRecord,
} from '../../infra/model/contract.ts';

export const RECORD_KEYS = { partition: 'pk', sort: 'sk', ttl: 'expiresAt', historyIndex: 'history', historyPartition: 'gsi1pk', historySort: 'gsi1sk' } as const;

const runKey = (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' });
const attemptKey = (runId: string, jobId: string, attempt: number) => ({ pk: `RUN#${runId}`, sk: `JOB#${jobId}#${String(attempt).padStart(3, '0')}` });
const STORAGE_FIELDS = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'expiresAt', 'kind'] as const;

export class RecordError extends Error {
  override readonly name = 'RecordError';
  constructor(
    readonly code: 'REC_001_NOT_FOUND' | 'REC_002_CORRUPT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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

const isConditionFailure = (err: unknown): err is ConditionalCheckFailedException =>
  err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException';

/**
 * An UpdateExpression from named parts, every attribute name aliased (DynamoDB reserves hundreds of
 * words: status, trigger, parameters, …).
 */
function update(parts: {
  set?: Record<string, unknown>;
  setIfAbsent?: Record<string, unknown>;
  append?: Record<string, unknown[]>;
}): { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> } {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses: string[] = [];
  let n = 0;
  const slot = (field: string, value: unknown): [string, string] => {
    const i = n++;
    names[`#f${i}`] = field;
    values[`:v${i}`] = value;
    return [`#f${i}`, `:v${i}`];
  };
  for (const [field, value] of Object.entries(parts.set ?? {})) {
    if (value === undefined) continue;
    const [name, val] = slot(field, value);
    clauses.push(`${name} = ${val}`);
  }
  for (const [field, value] of Object.entries(parts.setIfAbsent ?? {})) {
    if (value === undefined) continue;
    const [name, val] = slot(field, value);
    clauses.push(`${name} = if_not_exists(${name}, ${val})`);
  }
  for (const [field, value] of Object.entries(parts.append ?? {})) {
    const [name, val] = slot(field, value);
    values[':empty'] = [];
    clauses.push(`${name} = list_append(if_not_exists(${name}, :empty), ${val})`);
  }
  return { UpdateExpression: `SET ${clauses.join(', ')}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

/** A condition on the record's status, with its own aliases merged into an update's. */
function withStatusCondition(
  expr: ReturnType<typeof update>,
  condition: string,
  statuses: Record<string, string>,
): ReturnType<typeof update> & { ConditionExpression: string } {
  return {
    ...expr,
    ConditionExpression: condition,
    ExpressionAttributeNames: { ...expr.ExpressionAttributeNames, '#status': 'status' },
    ExpressionAttributeValues: { ...expr.ExpressionAttributeValues, ...statuses },
  };
}

export interface RecordStoreOptions {
  readonly tableName: string;
  /** Days a record is kept before DynamoDB's TTL removes it. */
  readonly retentionDays: number;
  readonly client?: DynamoDBClient;
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

  private expiresAt(at: string): number {
    return Math.floor(Date.parse(at) / 1000) + this.retentionSeconds;
  }

  /** Creates the run PENDING unless it exists. Returns the record as stored and whether this call created it. */
  async createRun(run: Omit<RunRecord, 'status' | 'transitions'>): Promise<{ created: boolean; run: RunRecord }> {
    const record: RunRecord = { ...run, status: RunStatus.PENDING, transitions: [{ status: RunStatus.PENDING, at: run.queuedAt }] };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...runKey(run.runId), kind: 'run', gsi1pk: `PIPELINE#${run.pipelineId}`, gsi1sk: `${run.queuedAt}#${run.runId}`, expiresAt: this.expiresAt(run.queuedAt), ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { created: true, run: record };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return { created: false, run: await this.requireRun(run.runId) };
    }
  }

  /** Records the execution ARN on a run (set once). */
  async attachExecution(runId: string, executionArn: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: runKey(runId),
          ...update({ set: { executionArn } }),
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#f0)',
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /**
   * PENDING → RUNNING. A run started without the trigger (a console or CLI StartExecution) has no
   * record yet: it is created RUNNING here.
   */
  async markRunRunning(run: Omit<RunRecord, 'status' | 'transitions' | 'queuedAt'>, at: string): Promise<RunRecord> {
    const expr = update({
      set: { status: RunStatus.RUNNING, startedAt: at, executionArn: run.executionArn, definitionVersion: run.definitionVersion, runId: run.runId, pipelineId: run.pipelineId, kind: 'run', gsi1pk: `PIPELINE#${run.pipelineId}` },
      setIfAbsent: { queuedAt: at, trigger: run.trigger, parameters: run.parameters, scheduledTime: run.scheduledTime, gsi1sk: `${at}#${run.runId}`, expiresAt: this.expiresAt(at) },
      append: { transitions: [{ status: RunStatus.RUNNING, at }] },
    });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: runKey(run.runId),
          ...withStatusCondition(expr, 'attribute_not_exists(pk) OR #status = :pending', { ':pending': RunStatus.PENDING }),
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    return this.requireRun(run.runId);
  }

  /** Non-terminal → SUCCEEDED/FAILED, with the per-job summary. A second call leaves the first result. */
  async finishRun(
    runId: string,
    outcome: { status: typeof RunStatus.SUCCEEDED | typeof RunStatus.FAILED; at: string; jobs: Record<string, JobSummary>; error?: RunRecord['error'] },
  ): Promise<RunRecord> {
    const current = await this.requireRun(runId);
    const startedAt = current.startedAt ?? current.queuedAt;
    const expr = update({
      set: { status: outcome.status, completedAt: outcome.at, durationMs: Math.max(0, Date.parse(outcome.at) - Date.parse(startedAt)), jobs: outcome.jobs, error: outcome.error },
      append: { transitions: [{ status: outcome.status, at: outcome.at }] },
    });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: runKey(runId),
          ...withStatusCondition(expr, '#status IN (:pending, :running)', { ':pending': RunStatus.PENDING, ':running': RunStatus.RUNNING }),
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    return this.requireRun(runId);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: runKey(runId), ConsistentRead: true }));
    return out.Item ? parseRun(out.Item) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RecordError('REC_001_NOT_FOUND', `run ${runId} has no record`);
    return run;
  }

  /** Writes an attempt's record as it starts (RUNNING). A repeated delivery of the same attempt overwrites it. */
  async startAttempt(record: JobAttemptRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...attemptKey(record.runId, record.jobId, record.attempt), kind: 'attempt', expiresAt: this.expiresAt(record.startedAt), ...record },
      }),
    );
  }

  /** RUNNING → SUCCEEDED/FAILED for one attempt. */
  async finishAttempt(record: JobAttemptRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...attemptKey(record.runId, record.jobId, record.attempt), kind: 'attempt', expiresAt: this.expiresAt(record.startedAt), ...record },
        ConditionExpression: 'attribute_not_exists(pk) OR #status = :running',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':running': 'RUNNING' },
      }),
    ).catch((err: unknown) => {
      if (!isConditionFailure(err)) throw err;
    });
  }

  /**
   * Closes an attempt that is still RUNNING although a later attempt has begun: its invocation ended
   * without a result (Lambda timeout, crash, lost invocation). A finished attempt is left as it is.
   */
  async abandonAttempt(runId: string, jobId: string, attempt: number, outcome: { at: string; errorCode: string; errorMessage: string }): Promise<void> {
    const expr = update({
      set: { status: 'FAILED', completedAt: outcome.at, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, errorCategory: 'TRANSIENT', willRetry: true },
      append: { transitions: [{ status: 'FAILED', at: outcome.at }] },
    });
    try {
      await this.doc.send(new UpdateCommand({ TableName: this.table, Key: attemptKey(runId, jobId, attempt), ...withStatusCondition(expr, '#status = :running', { ':running': 'RUNNING' }) }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /** Every attempt of every job of a run, in job then attempt order. */
  async listAttempts(runId: string): Promise<JobAttemptRecord[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :job)',
          ExpressionAttributeValues: { ':pk': `RUN#${runId}`, ':job': 'JOB#' },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.map(parseAttempt);
  }
}

/** The store for a Lambda function, from its environment. */
export function recordStoreFromEnv(env: NodeJS.ProcessEnv = process.env): RecordStore {
  const tableName = env.PHI_TABLE_NAME;
  if (!tableName) throw new Error('PHI_TABLE_NAME is not set');
  return new RecordStore({ tableName, retentionDays: Number(env.PHI_RETENTION_DAYS ?? '90') });
}

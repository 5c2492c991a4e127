/**
 * The records table's layout: its key attributes, the key of every kind of item, and the DynamoDB
 * actions each user of the table needs. The one place these are written: the store in `functions/`
 * builds its keys from here, the platform construct its table and its grants.
 *
 * Keys: `pk = RUN#<runId>`; `sk = RUN` for the run, `JOB#<jobId>#<attempt, 3 digits>` for attempts,
 * `DLQ#<jobId>` for the claim that a job's dead letter was sent.
 * Runs also carry `gsi1pk = PIPELINE#<pipelineId>`, `gsi1sk = <queuedAt>#<runId>` for history by pipeline.
 * `expiresAt` (epoch seconds) is the table's TTL attribute.
 */

export const RECORD_KEYS = { partition: 'pk', sort: 'sk', ttl: 'expiresAt', historyIndex: 'history', historyPartition: 'gsi1pk', historySort: 'gsi1sk' } as const;

/** Attributes that place an item in the table; they are not part of the record a reader gets. */
export const STORAGE_FIELDS = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'expiresAt', 'kind'] as const;

export const runPartition = (runId: string): string => `RUN#${runId}`;
/** The sort-key prefix of a run's attempts, or of one job's. */
export const attemptPrefix = (jobId?: string): string => (jobId === undefined ? 'JOB#' : `JOB#${jobId}#`);

export const recordKeys = {
  run: (runId: string) => ({ pk: runPartition(runId), sk: 'RUN' }),
  attempt: (runId: string, jobId: string, attempt: number) => ({ pk: runPartition(runId), sk: `${attemptPrefix(jobId)}${String(attempt).padStart(3, '0')}` }),
  deadLetter: (runId: string, jobId: string) => ({ pk: runPartition(runId), sk: `DLQ#${jobId}` }),
  /** The history index's keys of a run. */
  history: (pipelineId: string, queuedAt: string, runId: string) => ({ gsi1pk: `PIPELINE#${pipelineId}`, gsi1sk: `${queuedAt}#${runId}` }),
} as const;

/** The DynamoDB actions each user of the records needs: the constructs grant exactly these. */
export const RECORD_ACTIONS = {
  /** The task runtime: writes its attempts. */
  runtime: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** The recorder: run starts and ends, attempt closing, dead-letter claims. */
  recorder: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** The trigger and the control API: create runs, read them with their attempts. */
  control: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
} as const;

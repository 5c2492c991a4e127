/**
 * The records table's layout: its key attributes, the key of every kind of item, and the DynamoDB
 * actions each user of the table needs. The one place these are written: the store in `functions/`
 * builds its keys from here, the platform construct its table and its grants.
 *
 * Keys: `pk = RUN#<runId>` (a run id begins with its pipeline's id: `runIdPrefix`); `sk = RUN` for the run, `JOB#<jobId>#<attempt, 3 digits>` for attempts,
 * `STATE#<jobId>` for a job's state (its upstreams' outcomes, its gate, its end), `DLQ#<jobId>` for
 * the claim that a job's dead letter was sent.
 * Runs also carry `gsi1pk = PIPELINE#<pipelineId>`, `gsi1sk = <queuedAt>#<runId>` for history by pipeline.
 * A pipeline with a limit on active runs has one more item, `pk = PIPELINE#<pipelineId>`, `sk = ACTIVE`:
 * the runs it admitted (`recordKeys.activeRuns`); a trigger with `debounceSeconds`, `pk = PIPELINE#<pipelineId>`,
 * `sk = TRIGGER#<triggerId>`: its open window (`recordKeys.triggerWindow`); a webhook request received,
 * `pk = WEBHOOK#<pipelineId>#<triggerId>#<digest>`, `sk = REQUEST` (`recordKeys.webhookRequest`).
 * The deployment's pauses are one item, `pk = GLOBAL`, `sk = PAUSED` (`recordKeys.pauses`), and the audit
 * log one partition a month, `pk = AUDIT#<yyyy-mm>`, `sk = <at>#<id>` (`recordKeys.audit`). The last
 * definition recorded of a pipeline is `pk = DEFINITION#<pipelineId>`, `sk = CURRENT` (`recordKeys.definition`).
 * `expiresAt` (epoch seconds) is the table's TTL attribute.
 */

export const RECORD_KEYS = { partition: 'pk', sort: 'sk', ttl: 'expiresAt', historyIndex: 'history', historyPartition: 'gsi1pk', historySort: 'gsi1sk' } as const;

/** Attributes that place an item in the table; they are not part of the record a reader gets. */
export const STORAGE_FIELDS = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'expiresAt', 'kind'] as const;

/** Key prefixes, for the state machine's own DynamoDB calls (`States.Format`). */
export const KEY_PREFIX = { run: 'RUN#', jobState: 'STATE#' } as const;

/**
 * Attributes of a job-state item that the state machine writes itself (the gate) or that are not a
 * plain field: `done` (string set of ended upstreams), `up:<jobId>` (each upstream's outcome).
 */
export const JOB_STATE_ATTRIBUTES = { token: 'token', ready: 'ready', done: 'done', upstreamPrefix: 'up:' } as const;

export const runPartition = (runId: string): string => `${KEY_PREFIX.run}${runId}`;
/**
 * How every run id of a pipeline begins (`<pipelineId>_`; a pipeline id has no `_`), so a run's items
 * sit under `RUN#<pipelineId>_…` and a role can be held to one pipeline's runs by `dynamodb:LeadingKeys`.
 */
export const runIdPrefix = (pipelineId: string): string => `${pipelineId}_`;
/** The sort-key prefix of a run's attempts, or of one job's. */
export const attemptPrefix = (jobId?: string): string => (jobId === undefined ? 'JOB#' : `JOB#${jobId}#`);

export const recordKeys = {
  run: (runId: string) => ({ pk: runPartition(runId), sk: 'RUN' }),
  attempt: (runId: string, jobId: string, attempt: number) => ({ pk: runPartition(runId), sk: `${attemptPrefix(jobId)}${String(attempt).padStart(3, '0')}` }),
  deadLetter: (runId: string, jobId: string) => ({ pk: runPartition(runId), sk: `DLQ#${jobId}` }),
  jobState: (runId: string, jobId: string) => ({ pk: runPartition(runId), sk: `${KEY_PREFIX.jobState}${jobId}` }),
  /** The history index's keys of a run. */
  history: (pipelineId: string, queuedAt: string, runId: string) => ({ gsi1pk: `PIPELINE#${pipelineId}`, gsi1sk: `${queuedAt}#${runId}` }),
  /**
   * A pipeline's admitted runs, for its limit on active runs (spec Rule 3): a string set `runs` of run
   * ids, and one `at:<runId>` attribute each (when it was admitted). Outside every run's partition, so
   * no job function (held to `RUN#<pipeline>_…`) can touch it.
   */
  activeRuns: (pipelineId: string) => ({ pk: `PIPELINE#${pipelineId}`, sk: 'ACTIVE' }),
  /**
   * A trigger's debounce window (`debounceSeconds`): the event that opened it (`eventId`) and when it
   * closes (`until`, an ISO instant). Outside every run's partition, like `activeRuns`.
   */
  triggerWindow: (pipelineId: string, triggerId: string) => ({ pk: `PIPELINE#${pipelineId}`, sk: `TRIGGER#${triggerId}` }),
  /** A trigger's open batch (`batchWindowSeconds`): which one, when it opened and until when it takes events. */
  triggerBatch: (pipelineId: string, triggerId: string) => ({ pk: `PIPELINE#${pipelineId}`, sk: `BATCH#${triggerId}` }),
  /** One event of a trigger's batch (`batchEventPrefix` then the event id). */
  batchEvent: (pipelineId: string, triggerId: string, batchId: string, eventId: string) => ({ pk: `PIPELINE#${pipelineId}`, sk: `${batchEventPrefix(triggerId, batchId)}${eventId}` }),
  /**
   * A webhook request received (`digest`: the SHA-256 of its signature), the replay guard: written once
   * by a conditional put, `released` again only when its run could not be started (the sender may send
   * it again). Expires (`expiresAt`) once its timestamp is past the trigger's tolerance, when the
   * timestamp alone refuses it. Outside every run's partition, like `activeRuns`.
   */
  webhookRequest: (pipelineId: string, triggerId: string, digest: string) => ({ pk: `WEBHOOK#${pipelineId}#${triggerId}#${digest}`, sk: 'REQUEST' }),
  /** The pipeline's runs waiting for their upstream pipelines (a string set, `WAITING_RUNS_ATTRIBUTE`): what an upstream's run end re-evaluates. */
  waitingRuns: (pipelineId: string) => ({ pk: `PIPELINE#${pipelineId}`, sk: 'WAITING' }),
  /**
   * The deployment's pauses, in one item (one read per start): `all` (the global pause) and one
   * `p:<pipelineId>` attribute per paused pipeline, each a `PauseFlag`. No TTL: a pause holds until resumed.
   */
  pauses: () => ({ pk: 'GLOBAL', sk: 'PAUSED' }),
  /** One audit record: a partition per month (of `at`), so no partition grows without bound; newest last within it. */
  audit: (at: string, id: string) => ({ pk: auditPartition(at.slice(0, 7)), sk: `${at}#${id}` }),
  /**
   * The last definition recorded of a pipeline (`DefinitionPointer`), which the next deploy is compared
   * with. In a partition of its own kind, so the definition recorder can be held to these and the audit
   * log (`DEFINITION_PARTITION_PREFIX`, `auditPartition('')`). No TTL.
   */
  definition: (pipelineId: string) => ({ pk: `${DEFINITION_PARTITION_PREFIX}${pipelineId}`, sk: 'CURRENT' }),
  /** The run a dead letter (its SQS message id) was retried as (`runId`), so a later retry of the same letter finds it once the letter is gone. */
  deadLetterRetry: (messageId: string) => ({ pk: `DLQ#${messageId}`, sk: 'RETRY' }),
} as const;

/** How the partition of a pipeline's definition pointer begins. */
export const DEFINITION_PARTITION_PREFIX = 'DEFINITION#';

/** The audit log's partition of a month (`2026-11`). */
export const auditPartition = (month: string): string => `AUDIT#${month}`;

/** Attributes of the pauses item (`recordKeys.pauses`). */
export const PAUSE_ATTRIBUTES = { all: 'all', pipelinePrefix: 'p:' } as const;

/** The sort-key prefix of a batch's events. */
export const batchEventPrefix = (triggerId: string, batchId: string): string => `BATCH#${triggerId}#${batchId}#`;

/** The attribute of `recordKeys.waitingRuns` that holds the run ids. */
export const WAITING_RUNS_ATTRIBUTE = 'runs';
/** Attributes of a pipeline's admitted-runs item (`recordKeys.activeRuns`). */
export const ACTIVE_RUNS_ATTRIBUTES = { runs: 'runs', admittedPrefix: 'at:' } as const;

/** The DynamoDB actions each user of the records needs: the constructs grant exactly these. */
export const RECORD_ACTIONS = {
  /** The task runtime: its job's state and its dependents', its attempts, its upstreams' outputs, dead-letter claims. */
  runtime: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** The recorder: run starts and ends, job states, attempt closing, dead-letter claims. */
  recorder: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** The state machine itself: the gate of each job (its task token). */
  stateMachine: ['dynamodb:UpdateItem'],
  /** The schedule trigger: create runs and start them; read upstream pipelines' latest runs (the history index). */
  trigger: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** The control API and the sweeper: start runs, read them with their attempts and their history, close them. */
  control: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** The definition recorder: read a pipeline's pointer, write it and its audit record (a transaction of two puts). */
  definitions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
} as const;

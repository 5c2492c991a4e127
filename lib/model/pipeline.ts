/**
 * The definition schemas: the single source of truth for what a user may write in `definitions/*.ts`.
 * Types are inferred from them. Pure: no AWS, no CDK, no I/O. Whether a cron expression or a timezone
 * is valid, and whether AWS can express a schedule, is decided by the plan compiler, which reports
 * those problems with their own codes.
 */
import { z } from 'zod';

/** The orchestration spec's configuration defaults (RETRY_DEFAULT_*). Applied in one place: `resolveRetry`. */
export const RETRY_DEFAULTS = {
  maxAttempts: 3,
  initialDelaySeconds: 60,
  backoffMultiplier: 2.0,
  maxDelaySeconds: 3600,
  jitter: 'FULL',
} as const;

/** Job defaults when neither the job nor the pipeline's `defaults` set them. */
export const JOB_DEFAULTS = {
  /** Lambda's own limit is 900 seconds. */
  timeoutSeconds: 300,
  memoryMb: 512,
} as const;

export const JitterStrategy = { NONE: 'NONE', FULL: 'FULL' } as const;
export type JitterStrategy = (typeof JitterStrategy)[keyof typeof JitterStrategy];

/** JSON values: what parameters and outputs may hold (they travel through Step Functions as JSON). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);
export const ParametersSchema = z.record(z.string(), JsonValueSchema);
export type Parameters = z.infer<typeof ParametersSchema>;

const ErrorCode = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.]*$/, 'an error code is letters, digits, `_` and `.`, starting with a letter');

/**
 * Retry policy (spec: RetryPolicy, Rules 8-11). Every field is optional where it is written; the
 * pipeline's `defaults.retry` fills a job's gaps, then `RETRY_DEFAULTS`.
 */
export const RetryPolicySchema = z
  .object({
    /** Attempts including the first (Rule 11, `include_initial: true`). @default 3 */
    maxAttempts: z.number().int().min(1).max(10).optional(),
    /** Delay before the first retry. @default 60 */
    initialDelaySeconds: z.number().int().min(1).max(3600).optional(),
    /** Each further retry waits this many times longer (Rule 8). @default 2.0 */
    backoffMultiplier: z.number().min(1).max(10).optional(),
    /** Upper bound of any one delay. @default 3600 */
    maxDelaySeconds: z.number().int().min(1).max(86400).optional(),
    /** `FULL`: each delay is drawn at random between 0 and its computed value (Rule 9). @default FULL */
    jitter: z.enum(['NONE', 'FULL']).optional(),
    /**
     * Error codes that are retried (Rule 10). When empty, every error not listed in
     * `nonRetryableErrors` is retried (unknown errors are transient). @default []
     */
    retryableErrors: z.array(ErrorCode).optional(),
    /** Error codes that fail the job at once, never retried. @default [] */
    nonRetryableErrors: z.array(ErrorCode).optional(),
  })
  .strict();
export type RetryPolicyInput = z.input<typeof RetryPolicySchema>;

export const JobIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a job id is 1-40 lowercase letters, digits, `-` or `_`, starting with a letter');

/** What an upstream job must have done for its dependent to run. */
export const DependencyType = {
  /** The upstream succeeded (spec Rule 2). */
  SUCCESS: 'SUCCESS',
  /** The upstream ended, whatever its outcome: succeeded, failed, cancelled or skipped. */
  COMPLETION: 'COMPLETION',
  /** The upstream succeeded and its outputs satisfy `condition`. */
  DATA_READY: 'DATA_READY',
} as const;
export type DependencyType = (typeof DependencyType)[keyof typeof DependencyType];

/**
 * One dependency (spec: Dependency). A plain job id in `dependsOn` means `{ job, on: 'SUCCESS' }`.
 * - `condition`: for `DATA_READY`, an expression over the upstream's outputs, e.g. `rows > 0` or
 *   `status == "ok" && files[0] != null` (the language: `lib/model/condition.ts`).
 * - `skipOnUpstreamSkip`: when the upstream was skipped (not for a failure), skip this job too
 *   (reason `UPSTREAM_SKIPPED`); when false, a skipped upstream counts as satisfied for `SUCCESS` and
 *   `COMPLETION` (a `DATA_READY` edge has no outputs to test, so its job is skipped, `CONDITION_FALSE`).
 *   An upstream skipped because something before it failed counts as failed. @default true
 */
export const DependencySchema = z
  .object({
    job: z.string(),
    on: z.enum(DependencyType).optional(),
    condition: z.string().optional(),
    skipOnUpstreamSkip: z.boolean().optional(),
  })
  .strict();
export type DependencyInput = z.input<typeof DependencySchema>;

/** A dataset's name: what one pipeline's `provides` and another's `requires` match on. */
export const DatasetIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'a dataset name is 1-63 lowercase letters, digits, `_`, `.` or `-`, starting with a letter');

/** What an upstream pipeline's latest ended run must be for its dependents. */
export const UpstreamCondition = { SUCCESS: 'SUCCESS', COMPLETION: 'COMPLETION' } as const;
export type UpstreamCondition = (typeof UpstreamCondition)[keyof typeof UpstreamCondition];

/**
 * How a cross-pipeline dependency acts (see `UpstreamSchema`):
 * - `trigger`: each run of the upstream that ends as required starts one run of this pipeline;
 * - `gate`: every start of this pipeline first checks the upstream (and waits for it).
 */
export const UpstreamMode = { TRIGGER: 'trigger', GATE: 'gate' } as const;
export type UpstreamMode = (typeof UpstreamMode)[keyof typeof UpstreamMode];

const upstreamFields = {
  /** @default 'trigger' for a pipeline with no schedules and no triggers of its own, else 'gate' */
  mode: z.enum(UpstreamMode).optional(),
  /** The upstream's latest ended run must have ended within this many hours. @default any age */
  maxAgeHours: z.number().positive().max(8_760).optional(),
  /**
   * How long a start waits for the upstream when it is not ready (spec Rule 2, `timeout_seconds`):
   * the run is recorded PENDING, waiting, and starts as soon as the upstream's run ends as required;
   * past this it ends SKIPPED (`DEPENDENCY_TIMEOUT`, or `STALE_UPSTREAM` when only its age was wrong).
   * 0 decides at once. @default 3600
   */
  timeoutSeconds: z.number().int().min(0).max(604_800).optional(),
};


/** A dataset this pipeline needs: its name, or `{ dataset, mode?, maxAgeHours?, timeoutSeconds? }` (as on `after`). */
export const RequirementSchema = z.union([DatasetIdSchema, z.object({ dataset: DatasetIdSchema, ...upstreamFields }).strict()]);
export type RequirementInput = z.input<typeof RequirementSchema>;

export const JobSchema = z
  .object({
    /** Path to a TypeScript file exporting `handler`, relative to the definition file. */
    handler: z.string().min(1),
    description: z.string().optional(),
    /**
     * The jobs this one waits for (spec Rule 2, `require_all: true`): job ids (they must succeed) or
     * `{ job, on, condition?, skipOnUpstreamSkip? }`. The job starts as soon as all of them have ended
     * as required, whatever the rest of the pipeline is doing. @default []
     */
    dependsOn: z.array(z.union([z.string(), DependencySchema])).optional(),
    /** Job parameters: override the pipeline's, overridden by a run's. @default {} */
    parameters: ParametersSchema.optional(),
    /** Maximum time for one attempt (Rule 12). Lambda's limit is 900. @default pipeline defaults, else 300 */
    timeoutSeconds: z.number().int().min(1).max(900, 'Lambda runs at most 900 seconds').optional(),
    /** Lambda memory. @default pipeline defaults, else 512 */
    memoryMb: z.number().int().min(128).max(10240).optional(),
    retry: RetryPolicySchema.optional(),
    /** A disabled job is not deployed and never runs. @default true */
    enabled: z.boolean().optional(),
    /** Datasets this job makes: its pipeline provides them (as fresh as the pipeline's last successful run). @default none */
    provides: z.array(DatasetIdSchema).optional(),
    /** Datasets this job needs: its pipeline requires them (see the pipeline's `requires`). @default none */
    requires: z.array(RequirementSchema).optional(),
  })
  .strict();
export type JobInput = z.input<typeof JobSchema>;

export const PipelineIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'a pipeline id is kebab-case: lowercase letters and digits joined by `-`')
  .max(40);

/**
 * A dependency on another pipeline of the deployment (spec Rule 2 across pipelines):
 * `{ pipeline, on?, mode?, maxAgeHours?, timeoutSeconds? }`. `on: 'SUCCESS'` (the default) needs the
 * upstream's latest ended run SUCCEEDED; `'COMPLETION'` takes any end (succeeded, failed, cancelled).
 */
export const UpstreamSchema = z
  .object({ pipeline: PipelineIdSchema, on: z.enum(UpstreamCondition).optional(), ...upstreamFields })
  .strict();
export type UpstreamInput = z.input<typeof UpstreamSchema>;

/** The id the one-schedule form (`schedule`) gets, and a delivery that names no schedule belongs to. */
export const DEFAULT_SCHEDULE_ID = 'default';

export const ScheduleIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'a schedule id is kebab-case: lowercase letters and digits joined by `-`')
  .max(40);

/** An instant with its offset: `2026-12-01T00:00:00Z`, `2026-12-01T09:00+01:00`. */
const InstantSchema = z.iso.datetime({ offset: true, local: false, message: 'an ISO 8601 date and time with Z or an offset, e.g. 2026-12-01T00:00:00Z' });

const scheduleFields = {
  cron: z.string().optional(),
  rate: z.string().optional(),
  at: z.string().optional(),
  timezone: z.string().optional(),
  /** No fire time before this instant (a rate schedule fires first at it). @default none */
  startDate: InstantSchema.optional(),
  /** No fire time after this instant; once it has passed the schedule is deployed disabled. @default none */
  endDate: InstantSchema.optional(),
  /** A disabled schedule is deployed (Scheduler state `DISABLED`) and never fires. @default true */
  enabled: z.boolean().optional(),
  /** The parameters of the runs this schedule starts: checked against `runParameters`, whose defaults fill the rest. @default {} */
  parameters: ParametersSchema.optional(),
};

function oneKind(s: { cron?: string | undefined; rate?: string | undefined; at?: string | undefined; timezone?: string | undefined }, ctx: z.RefinementCtx): void {
  const kinds = (['cron', 'rate', 'at'] as const).filter((k) => s[k] !== undefined);
  if (kinds.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: `a schedule has exactly one of cron, rate or at; found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`,
    });
  }
  if (s.rate !== undefined && s.timezone !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['timezone'], message: 'a rate schedule has no timezone' });
  }
}

/**
 * When a pipeline runs on its own: exactly one of `cron`, `rate` or `at`.
 * - `cron`: Unix cron, 5 fields (`m h dom mon dow`) or 6 with a leading seconds field.
 * - `rate`: `"<n> minute(s)|hour(s)|day(s)"`.
 * - `at`: a one-off local time, `YYYY-MM-DDTHH:mm[:ss]`, in `timezone`.
 * `timezone` is an IANA name. @default "UTC"
 * `startDate` / `endDate` (instants, end after start; not for `at`), `enabled` and `parameters` (the
 * runs' parameters) are optional.
 */
export const ScheduleSchema = z.object(scheduleFields).strict().superRefine(oneKind);
export type ScheduleInput = z.input<typeof ScheduleSchema>;

/** One of a pipeline's `schedules`: a schedule with an `id`, kebab-case and unique within the pipeline. */
export const NamedScheduleSchema = z
  .object({ id: ScheduleIdSchema, ...scheduleFields })
  .strict()
  .superRefine(oneKind);
export type NamedScheduleInput = z.input<typeof NamedScheduleSchema>;

export const JobDefaultsSchema = z
  .object({
    timeoutSeconds: JobSchema.shape.timeoutSeconds,
    memoryMb: JobSchema.shape.memoryMb,
    retry: RetryPolicySchema.optional(),
  })
  .strict();

/** A day of the week as a window names it. */
export type WindowDay = 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN';

/**
 * One execution window (spec Rule 17): runs start only from `start` (included) to `end` (excluded),
 * `HH:MM` wall-clock times in `timezone`, on `days`. A window whose end is before its start spans
 * midnight (it opens on its days and closes the next morning); `end: '24:00'` is the end of the day.
 * The plan checks the times, days and timezone (`RULE_001_INVALID_WINDOW`, `SCHED_002_INVALID_TIMEZONE`).
 * - `days`: `MON` … `SUN`. @default every day
 * - `timezone`: an IANA name. @default the pipeline's schedule timezone (the one its schedules share), else "UTC"
 */
export const ExecutionWindowSchema = z
  .object({
    start: z.string(),
    end: z.string(),
    days: z.array(z.custom<WindowDay>((value) => typeof value === 'string', 'a day is a string: MON, TUE, WED, THU, FRI, SAT or SUN')).optional(),
    timezone: z.string().optional(),
  })
  .strict();
export type ExecutionWindowInput = z.input<typeof ExecutionWindowSchema>;

/**
 * How many runs of the pipeline may be active (PENDING or RUNNING) at once (spec Rule 3,
 * `skip_if_running` / `queue_if_running`).
 * - `maxActiveRuns`: the limit, 1-100. @default 1 with `whenRunning: 'skip'` or `'queue'`, else no limit
 * - `whenRunning`: what a start beyond the limit does: `'skip'` (recorded `SKIPPED`, `ALREADY_RUNNING`),
 *   `'queue'` (recorded PENDING, waiting, and started, oldest first, when an active run ends) or
 *   `'allow'` (no limit). @default 'skip' with `maxActiveRuns`, else 'allow'
 */
export const ConcurrencySchema = z
  .object({
    maxActiveRuns: z.number().int().min(1).max(100).optional(),
    whenRunning: z.enum(['skip', 'queue', 'allow']).optional(),
  })
  .strict();
export type ConcurrencyInput = z.input<typeof ConcurrencySchema>;

/**
 * The parameters a run may set (`POST /pipelines/{id}/runs`, `phi run --param`), as a zod object:
 * `z.object({ date: z.iso.date(), lookbackDays: z.number().int().min(1).default(30) })` (`z` from `phi`).
 * The deployment checks every run's parameters against it and fills in its defaults, for runs started
 * by a schedule too; a key it does not declare is refused, in nested objects too (unless the object
 * says otherwise, with `.catchall(…)` or `.loose()`). It must be expressible as JSON Schema: no transforms, refinements or
 * custom types (`DEF_008`). Without it, a run sets no parameters.
 */
export const RunParametersDeclarationSchema = z.custom<z.ZodObject>((value) => value instanceof z.ZodObject, {
  message: 'runParameters is a zod object schema: z.object({ … }), with z imported from "phi" (or "zod")',
});

/** The id of a pipeline's trigger: kebab-case, unique in the pipeline, at most 19 characters (its EventBridge rule is named `phi-<pipeline>_<trigger>`, 64 at most). */
export const TriggerIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'a trigger id is kebab-case: lowercase letters and digits joined by `-`')
  .max(19);

/** The parameter an event-triggered run finds its event under (see `TriggerSchema`). Set by Phi only. */
export const EVENT_PARAMETER = 'event';

const triggerFields = {
  /** Kebab-case, unique in the pipeline; part of each run's identity. @default `event-<i>` / `data-<i>` / `message-<i>` / `webhook-<i>` (its index in `triggers`) */
  id: TriggerIdSchema.optional(),
  /** A disabled trigger is not deployed (no rule) and starts nothing. @default true */
  enabled: z.boolean().optional(),
  /**
   * At most one run per this many seconds: an event arriving while the interval of the last run this
   * trigger started is open is dropped (logged and counted in the `DebouncedEvents` metric, never
   * recorded). Decided by one conditional write per trigger in the records table. @default none: one run per event
   */
  debounceSeconds: z.number().int().min(1).max(86_400).optional(),
  /**
   * Event and dataArrival triggers: the events of a window this long, opened by the first, become one
   * run listing them all (its `event` parameter: `{ type: 'batch', batchId, openedAt, closedAt, events }`),
   * started when the window closes; not with `debounceSeconds` (`TRIG_003`). For a message trigger with
   * `batchSize` above 1: how long SQS gathers a batch before handing it over, at most 300 (`TRIG_004`).
   * Webhook triggers: not supported (`TRIG_003`). @default none: one run per event
   */
  batchWindowSeconds: z.number().int().min(1).max(86_400).optional(),
};

/** An SQS queue's ARN: `arn:<partition>:sqs:<region>:<account>:<name>` (a FIFO queue's name ends in `.fifo`). */
export const SqsQueueArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d:\d{12}:(?:[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo)$/, 'an SQS queue ARN: arn:aws:sqs:<region>:<account>:<queue name>');

/** The most messages one run is made of: SQS's largest batch without a batching window, and about what a run's 32 KB of parameters holds. */
export const MAX_MESSAGE_BATCH_SIZE = 10;

/**
 * What starts a run besides schedules and the API: an EventBridge event on the account's default bus,
 * or an SQS message.
 * Each enabled event trigger is one EventBridge rule whose every matching event starts one run (trigger
 * `EVENT`; a redelivery of the same event id starts no second one). The run's parameters are its
 * pipeline's run parameters as a run with none gets them (the `runParameters` defaults), plus `event`,
 * which Phi sets and `runParameters` must not declare:
 * `{ id, source, detailType, time, detail }`, and for `dataArrival` also `bucket`, `key`, `size`
 * (a `detail` that would take the parameters past their size limit is left out, `detailOmitted: true`).
 * - `{ type: 'event', pattern }`: any EventBridge event pattern (checked at plan time, `TRIG_001`).
 * - `{ type: 'dataArrival', bucket, prefix?, suffix? }`: an S3 object created in `bucket` (under
 *   `prefix`, ending in `suffix`), through S3's EventBridge notifications (the bucket must have them on).
 * - `{ type: 'message', queueArn?, batchSize?, batchWindowSeconds? }`: each message of an SQS queue
 *   (`batchSize` 1, the default), or each batch SQS hands over (`batchSize` 2-10, gathered for up to
 *   `batchWindowSeconds`, at most 300), starts one run (trigger `EVENT`), through a Lambda event source
 *   mapping: `queueArn` names a queue the user owns (in the deployment's region, with a visibility
 *   timeout of at least 30 seconds, the trigger function's timeout); without it Phi creates one,
 *   `phi-<pipeline>_<trigger>` (encrypted, TLS only, stack output `MessageQueueUrl…`), with its own
 *   dead-letter queue. A message whose run could not be started goes back to the queue and is
 *   delivered again (after 5 receives, into that dead-letter queue; a user's queue follows its own
 *   redrive policy); a redelivered message, or batch, is the same run. Its `event` parameter is
 *   `{ type: 'message', queue, messages: [{ messageId, sentAt, body }] }` (`body` parsed when it is
 *   JSON, else the string; a body that would take the parameters past their size limit is left out,
 *   `bodyOmitted: true`). A disabled message trigger keeps its queue: its mapping is deployed
 *   disabled, and messages wait. `debounceSeconds` is refused (`TRIG_004`).
 * - `{ type: 'webhook', toleranceSeconds? }`: an HTTPS route of the control API without IAM auth,
 *   `POST /webhooks/<pipeline>/<trigger>`, that external systems call with an HMAC-SHA256 signature
 *   of the timestamp and the body (`X-Phi-Timestamp`, `X-Phi-Signature`: `lib/model/contract/webhook.ts`)
 *   keyed by the trigger's secret (Secrets Manager, `phi/<pipeline>/<trigger>`). Each request signed by
 *   it, stamped within `toleranceSeconds` of its arrival and not received before starts one run
 *   (trigger `EVENT`, answered 202); any other is answered 401 and starts nothing. Its `event`
 *   parameter is `{ id, source: 'phi.webhook', detailType: 'Webhook', time, detail }`: `id` the
 *   signature's SHA-256 (the run's identity), `time` the request's timestamp, `detail` the body (parsed
 *   when it is JSON, else the string).
 */
export const TriggerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('event'), pattern: z.record(z.string(), z.unknown()), ...triggerFields }).strict(),
  z
    .object({
      type: z.literal('dataArrival'),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lowercase letters, digits, `.` and `-`'),
      prefix: z.string().min(1).optional(),
      suffix: z.string().min(1).optional(),
      ...triggerFields,
    })
    .strict(),
  z
    .object({
      type: z.literal('message'),
      /** A queue the user owns, by its ARN. @default none: Phi creates `phi-<pipeline>_<trigger>`, with its dead-letter queue */
      queueArn: SqsQueueArnSchema.optional(),
      /** The same as `queueArn` (the spec's name for it); not both. */
      queue: SqsQueueArnSchema.optional(),
      /** 1: one run per message; 2-10: one run per batch SQS hands over, listing each of its messages. @default 1 */
      batchSize: z.number().int().min(1).max(MAX_MESSAGE_BATCH_SIZE).optional(),
      ...triggerFields,
    })
    .strict(),
  z
    .object({
      type: z.literal('webhook'),
      /** How far a request's timestamp may be from its arrival, either way, in seconds: an older one is a replay refused. @default 300 */
      toleranceSeconds: z.number().int().min(1).max(3_600).optional(),
      ...triggerFields,
    })
    .strict(),
]);
export type TriggerInput = z.input<typeof TriggerSchema>;
export type Trigger = z.output<typeof TriggerSchema>;

/**
 * The pipeline's CloudWatch alarms (the seed's alert rules), each notifying the platform's alarm topic
 * (output `AlarmTopicArn`: subscribe email or HTTPS endpoints). Each is on or off here.
 */
export const AlarmsSchema = z
  .object({
    /** A run of the pipeline ended FAILED ("Pipeline Failure"). @default true */
    runFailed: z.boolean().optional(),
    /** A run took longer than this many minutes, start to end ("Long Running Pipeline"); it alarms when such a run ends. @default off */
    maxDurationMinutes: z.number().int().min(1).max(525_600).optional(),
    /** No run succeeded for this many hours ("Data Staleness"; CloudWatch looks back at most 7 days). @default off */
    maxDataAgeHours: z.number().int().min(1).max(168).optional(),
    /** Failed jobs over ended jobs above `threshold` (0–1) within `windowMinutes` ("High Error Rate"). @default off */
    errorRate: z.object({ threshold: z.number().gt(0).lt(1), windowMinutes: z.number().int().min(1).max(1_440).optional() }).strict().optional(),
  })
  .strict();
export type AlarmsInput = z.input<typeof AlarmsSchema>;


export const PipelineSchema = z
  .object({
    id: PipelineIdSchema,
    description: z.string().optional(),
    /** The user's version label; the definition's content hash is recorded beside it. */
    version: z.string().optional(),
    schedule: ScheduleSchema.optional(),
    /** Several schedules, each with its own id (not together with `schedule`, which is the one-schedule form, id `default`). */
    schedules: z.array(NamedScheduleSchema).optional(),
    /** Pipeline parameters, the lowest layer of every job's parameters. @default {} */
    parameters: ParametersSchema.optional(),
    /** What a run may set, on top of the pipeline's and the jobs' parameters (see `RunParametersDeclarationSchema`). @default none: a run sets no parameters */
    runParameters: RunParametersDeclarationSchema.optional(),
    /** Job defaults: fill what a job leaves unset. */
    defaults: JobDefaultsSchema.optional(),
    /** When runs may start, whatever starts them (spec Rule 17; `force` overrides). @default none: any time */
    executionWindows: z.array(ExecutionWindowSchema).optional(),
    /** What a start outside every window does: `'skip'` records it `SKIPPED` (`OUTSIDE_WINDOW`); `'defer'` records it PENDING, waiting, and starts it when the next window opens. @default 'skip' */
    outsideWindow: z.enum(['skip', 'defer']).optional(),
    /** The spec's form of `outsideWindow`: true is `'skip'`, false `'defer'` (not together with `outsideWindow`). */
    skipOutsideWindow: z.boolean().optional(),
    /** A scheduled delivery later than this after its scheduled time is recorded late (spec Rule 1). @default 60 */
    toleranceSeconds: z.number().int().min(0).max(86_400).optional(),
    /** A scheduled delivery later than this after its scheduled time is recorded `SKIPPED` (`TOO_LATE`). @default none: never too late */
    maxLatenessSeconds: z.number().int().min(0).max(31_536_000).optional(),
    /**
     * Catch-up (spec Rule 4): the scheduled times each schedule missed since its last recorded run (or,
     * with none, since its `startDate`), started by the sweeper oldest first, at most the last `maxRuns`
     * of them, each with its own scheduled time. `enabled` @default true; `maxRuns` (0-100) @default 10.
     * @default off
     */
    catchup: z.object({ enabled: z.boolean().optional(), maxRuns: z.number().int().min(0).max(100).optional() }).strict().optional(),
    /** How many runs may be active at once (spec Rule 3, see `ConcurrencySchema`). @default no limit */
    concurrency: ConcurrencySchema.optional(),
    /** The spec's forms of `concurrency` (Rule 3; not together with it): at most this many active runs. */
    maxActiveRuns: z.number().int().min(1).max(100).optional(),
    /** A run beyond the limit (`maxActiveRuns`, default 1) is recorded SKIPPED (`whenRunning: 'skip'`). */
    skipIfRunning: z.boolean().optional(),
    /** A run beyond the limit (`maxActiveRuns`, default 1) waits and starts when one ends (`whenRunning: 'queue'`). */
    queueIfRunning: z.boolean().optional(),
    /** EventBridge events that start runs (see `TriggerSchema`). @default none */
    triggers: z.array(TriggerSchema).optional(),
    /**
     * Other pipelines this one runs after (see `UpstreamSchema`): triggered by their runs' ends, or
     * gated on them. Cycles across pipelines are refused. @default none
     */
    after: z.array(UpstreamSchema).optional(),
    /** The datasets this pipeline's successful runs provide: a dataset is as fresh as its provider's last successful run. @default none */
    provides: z.array(DatasetIdSchema).optional(),
    /**
     * The datasets it needs: each names exactly one providing pipeline, which becomes an `after`
     * dependency (`on: 'SUCCESS'`) of this one. @default none
     */
    requires: z.array(RequirementSchema).optional(),
    /** CloudWatch alarms on the pipeline's runs (see `AlarmsSchema`). @default a run failed, only */
    alarms: AlarmsSchema.optional(),
    jobs: z.record(JobIdSchema, JobSchema).refine((jobs) => Object.keys(jobs).length > 0, 'a pipeline has at least one job'),
  })
  .strict();

export type PipelineInput = z.input<typeof PipelineSchema>;
export type Pipeline = z.output<typeof PipelineSchema>;
export type Job = z.output<typeof JobSchema>;
export type Dependency = z.output<typeof DependencySchema>;
export type RetryPolicy = z.output<typeof RetryPolicySchema>;
export type Schedule = z.output<typeof ScheduleSchema>;
export type NamedSchedule = z.output<typeof NamedScheduleSchema>;

/** A typed identity helper: `export default definePipeline({...})` checks the shape as you type. */
export function definePipeline<const P extends PipelineInput>(pipeline: P): P {
  return pipeline;
}

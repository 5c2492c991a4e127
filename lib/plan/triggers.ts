/**
 * Event triggers (issue #9): each enabled event or dataArrival trigger of a pipeline becomes one
 * EventBridge rule on the default bus, each message trigger a Lambda event source mapping from its SQS
 * queue. Here a pattern is checked (an `event` trigger's) or written (a `dataArrival` trigger's: S3's
 * Object Created events through EventBridge), a message trigger's batching checked, ids defaulted and
 * made unique, and what Phi does not support refused. A webhook trigger is a route of the platform's
 * control API (its requests carry an HMAC signature; see `lib/model/contract/webhook.ts`): here only its
 * tolerance is defaulted. Pure.
 */
import type { MessageTriggerRoute } from '../model/contract/messages.ts';
import { messageQueueName } from '../model/names.ts';
import { EVENT_PARAMETER, type Pipeline, type Trigger } from '../model/pipeline.ts';
import { ProblemCode, type Problem } from '../model/problems.ts';
import { WEBHOOK_DEFAULTS, type WebhookRoute } from '../model/contract/webhook.ts';
import { checkRunParameters, type JsonSchema } from '../model/run-parameters.ts';

/** An EventBridge event pattern, as a rule holds it. */
export type EventPattern = { readonly [key: string]: unknown };

/** A message trigger as deployed: the queue its mapping reads and how it batches. */
export interface CompiledMessageTrigger {
  /** The user's queue. @default none: Phi creates `messageQueueName(pipeline, trigger)`, with its dead-letter queue */
  readonly queueArn?: string;
  /** The most messages one run is made of (1: one run per message). */
  readonly batchSize: number;
  /** How long SQS gathers a batch (with `batchSize` above 1). */
  readonly batchWindowSeconds?: number;
}

/** One trigger as deployed: its rule's pattern or its queue, and what the trigger function needs to start its runs. */
export interface CompiledTrigger {
  readonly id: string;
  readonly type: Trigger['type'];
  readonly enabled: boolean;
  /** The pattern of its EventBridge rule (event and dataArrival triggers); none for a message trigger. */
  readonly pattern?: EventPattern;
  /** At most one run per this many seconds. */
  readonly debounceSeconds?: number;
  /** Event and dataArrival triggers: the events of a window this long, from its first, become one run. */
  readonly batchWindowSeconds?: number;
  /** A message trigger's queue and batching. */
  readonly message?: CompiledMessageTrigger;
  /** A webhook trigger's tolerance (its requests reach the platform's webhook function through the control API: no rule). */
  readonly webhook?: CompiledWebhookTrigger;
}

/** A webhook trigger as deployed: a route of the control API, and a secret in Secrets Manager (`webhookSecretName`). */
export interface CompiledWebhookTrigger {
  /** How far a request's timestamp may be from its arrival, either way, in seconds. */
  readonly toleranceSeconds: number;
}

/** The id a trigger without one gets: `<this>-<its index>`. */
const DEFAULT_ID_PREFIX: Readonly<Record<Trigger['type'], string>> = { event: 'event', dataArrival: 'data', message: 'message', webhook: 'webhook' };

/** SQS's Lambda event source mapping gathers a batch for at most 300 seconds. */
export const MAX_MESSAGE_BATCH_WINDOW_SECONDS = 300;

export interface TriggerProblem {
  readonly code: ProblemCode;
  readonly path: string;
  readonly message: string;
  readonly hint: string;
}

/** EventBridge keeps an event pattern to 4,096 characters. */
export const MAX_PATTERN_LENGTH = 4096;

/** The matchers EventBridge documents, each with the check of its operand. */
const MATCHERS = ['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'equals-ignore-case', 'wildcard', 'cidr'] as const;
const NUMERIC_OPERATORS = ['<', '<=', '=', '>', '>='];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isStringOrStrings = (v: unknown): boolean => isString(v) || (Array.isArray(v) && v.length > 0 && v.every(isString));

/** What is wrong with one matcher's operand (`undefined`: nothing). */
function matcherIssue(name: string, operand: unknown): string | undefined {
  switch (name) {
    case 'prefix':
    case 'suffix':
      return isString(operand) || (isObject(operand) && Object.keys(operand).length === 1 && isString(operand['equals-ignore-case'])) ? undefined : `${name} takes a string, or { "equals-ignore-case": string }`;
    case 'equals-ignore-case':
    case 'wildcard':
      return isString(operand) ? undefined : `${name} takes a string`;
    case 'cidr':
      return isString(operand) && /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(operand) ? undefined : 'cidr takes an IP prefix such as "10.0.0.0/24"';
    case 'exists':
      return typeof operand === 'boolean' ? undefined : 'exists takes true or false';
    case 'numeric': {
      if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) return 'numeric takes [operator, number] or [operator, number, operator, number]';
      for (let i = 0; i < operand.length; i += 2) {
        if (!NUMERIC_OPERATORS.includes(String(operand[i])) || typeof operand[i + 1] !== 'number' || !Number.isFinite(operand[i + 1])) return `numeric's operators are ${NUMERIC_OPERATORS.join(' ')}, each followed by a number`;
      }
      return undefined;
    }
    case 'anything-but': {
      if (isString(operand) || (typeof operand === 'number' && Number.isFinite(operand))) return undefined;
      if (Array.isArray(operand)) return operand.length > 0 && (operand.every(isString) || operand.every((v) => typeof v === 'number')) ? undefined : 'anything-but takes a non-empty list of strings or of numbers';
      if (isObject(operand) && Object.keys(operand).length === 1) {
        const [inner] = Object.keys(operand) as [string];
        if (['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(inner) && isStringOrStrings(operand[inner])) return undefined;
      }
      return 'anything-but takes a value, a list of values, or one of { prefix | suffix | equals-ignore-case | wildcard: string }';
    }
    default:
      return `"${name}" is not an EventBridge matcher (${MATCHERS.join(', ')})`;
  }
}

/**
 * Whether `pattern` is an EventBridge event pattern: a non-empty object whose fields are objects of
 * the same kind or non-empty arrays of values (strings, numbers, booleans, null) and matchers (an
 * object with one of `MATCHERS`); `$or` takes a list of at least two such objects. Each issue with its path.
 */
export function eventPatternIssues(pattern: unknown): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const visit = (node: unknown, path: string): void => {
    if (!isObject(node)) return void issues.push({ path, message: 'a pattern field holds an object of fields or a list of values' });
    if (Object.keys(node).length === 0) return void issues.push({ path, message: 'an empty object matches nothing: name at least one field' });
    for (const [key, value] of Object.entries(node)) {
      const at = path === '' ? key : `${path}.${key}`;
      if (key === '$or') {
        if (!Array.isArray(value) || value.length < 2) issues.push({ path: at, message: '$or takes a list of at least two patterns' });
        else value.forEach((alternative, i) => visit(alternative, `${at}[${i}]`));
      } else if (Array.isArray(value)) {
        if (value.length === 0) issues.push({ path: at, message: 'an empty list matches nothing' });
        value.forEach((leaf, i) => {
          if (leaf === null || ['string', 'number', 'boolean'].includes(typeof leaf)) return;
          if (!isObject(leaf) || Object.keys(leaf).length !== 1) return void issues.push({ path: `${at}[${i}]`, message: 'a list holds values (strings, numbers, booleans, null) or matchers with one key each' });
          const [name] = Object.keys(leaf) as [string];
          const issue = matcherIssue(name, leaf[name]);
          if (issue !== undefined) issues.push({ path: `${at}[${i}].${name}`, message: issue });
        });
      } else {
        visit(value, at);
      }
    }
  };
  visit(pattern, '');
  if (issues.length === 0 && JSON.stringify(pattern).length > MAX_PATTERN_LENGTH) issues.push({ path: '', message: `the pattern is ${JSON.stringify(pattern).length} characters of JSON; EventBridge takes at most ${MAX_PATTERN_LENGTH}` });
  return issues;
}

/** `*` and `\` stand for themselves in a wildcard matcher once escaped. */
const wildcardLiteral = (text: string): string => text.replace(/[\\*]/g, (c) => `\\${c}`);

/**
 * The pattern of S3's "Object Created" events through EventBridge for `bucket`, of keys starting with
 * `prefix` and ending with `suffix` (both: one wildcard, since a list's matchers are alternatives).
 */
export function dataArrivalPattern(trigger: { bucket: string; prefix?: string | undefined; suffix?: string | undefined }): EventPattern {
  const { prefix, suffix } = trigger;
  const key =
    prefix !== undefined && suffix !== undefined ? [{ wildcard: `${wildcardLiteral(prefix)}*${wildcardLiteral(suffix)}` }]
    : prefix !== undefined ? [{ prefix }]
    : suffix !== undefined ? [{ suffix }]
    : undefined;
  return {
    source: ['aws.s3'],
    'detail-type': ['Object Created'],
    detail: { bucket: { name: [trigger.bucket] }, ...(key !== undefined ? { object: { key } } : {}) },
  };
}

/**
 * What is wrong with a message trigger: a debounce (a queue keeps every message until its run starts:
 * dropping messages is not its job), a batch window without batches or longer than SQS's, a queue
 * another of the pipeline's message triggers reads (each message would go to one of them only).
 */
function messageTriggerProblems(trigger: Extract<Trigger, { type: 'message' }>, where: string, queues: Map<string, string>): TriggerProblem[] {
  const problems: TriggerProblem[] = [];
  if (trigger.debounceSeconds !== undefined) {
    problems.push({ code: ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, path: `${where}.debounceSeconds`, message: 'a message trigger has no debounceSeconds: its queue keeps every message until the message\'s run has started, and dropping messages is not what a queue is for', hint: 'remove it; to start fewer runs, give the trigger a batchSize (2-10: one run per batch) and a batchWindowSeconds, or set concurrency on the pipeline' });
  }
  if (trigger.batchWindowSeconds !== undefined && (trigger.batchSize ?? 1) === 1) {
    problems.push({ code: ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, path: `${where}.batchWindowSeconds`, message: 'batchWindowSeconds gathers messages into a batch, but batchSize is 1: each message is its own run', hint: 'give the trigger a batchSize of 2-10 (one run per batch), or remove batchWindowSeconds' });
  } else if (trigger.batchWindowSeconds !== undefined && trigger.batchWindowSeconds > MAX_MESSAGE_BATCH_WINDOW_SECONDS) {
    problems.push({ code: ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, path: `${where}.batchWindowSeconds`, message: `batchWindowSeconds is ${trigger.batchWindowSeconds}; SQS gathers a batch for at most ${MAX_MESSAGE_BATCH_WINDOW_SECONDS} seconds`, hint: `use at most ${MAX_MESSAGE_BATCH_WINDOW_SECONDS} seconds, the longest a Lambda event source mapping waits for a batch` });
  }
  if (trigger.queueArn !== undefined && trigger.queue !== undefined) {
    problems.push({ code: ProblemCode.TRIG_004_INVALID_MESSAGE_TRIGGER, path: `${where}.queue`, message: 'a message trigger names its queue as queue or as queueArn, not both', hint: 'keep one of them' });
  }
  const queueArn = trigger.queueArn ?? trigger.queue;
  if (queueArn !== undefined) {
    const first = queues.get(queueArn);
    if (first !== undefined) problems.push({ code: ProblemCode.TRIG_002_TRIGGER_CONFLICT, path: `${where}.${trigger.queueArn !== undefined ? 'queueArn' : 'queue'}`, message: `${first} reads the same queue: each message would start a run of one of the two triggers only`, hint: 'give each message trigger a queue of its own (fan a queue out with SNS or EventBridge Pipes first)' });
    else queues.set(queueArn, where);
  }
  return problems;
}

/** What the trigger function needs to know of a pipeline's enabled message triggers, to find them by their queue (`queueArnOf`: a Phi-created queue's ARN, which only the deployment knows). */
export function messageTriggerRoutes(pipelineId: string, triggers: readonly CompiledTrigger[], queueArnOf: (queueName: string) => string): MessageTriggerRoute[] {
  return triggers.flatMap((t) =>
    t.message === undefined || !t.enabled ? [] : [{ q: t.message.queueArn ?? queueArnOf(messageQueueName(pipelineId, t.id)), p: pipelineId, t: t.id, ...(t.message.batchSize > 1 ? { b: 1 as const } : {}) }],
  );
}

/** A Phi-created queue's ARN at its longest (a partition and region of the longest names), for the plan's size estimates. */
export const longestQueueArn = (queueName: string): string => `arn:aws-iso-b:sqs:ap-southeast-12:123456789012:${queueName}`;

/**
 * Two message triggers of the deployment that read one queue: the trigger function finds a message's
 * pipeline and trigger by its queue, and each message would go to one of them only (`TRIG_002`).
 */
export function sharedQueueProblems(pipelines: readonly { readonly id: string; readonly file: string; readonly triggers: readonly CompiledTrigger[] }[]): Problem[] {
  const problems: Problem[] = [];
  const readers = new Map<string, string>();
  for (const p of pipelines) {
    p.triggers.forEach((t, i) => {
      const queue = t.message?.queueArn;
      if (queue === undefined) return;
      const first = readers.get(queue);
      if (first !== undefined && !first.startsWith(`${p.id}/`)) problems.push({ code: ProblemCode.TRIG_002_TRIGGER_CONFLICT, pipeline: p.id, file: p.file, path: `triggers[${i}].queueArn`, message: `the message trigger ${first} reads the same queue: each message would start a run of one of the two only`, hint: 'give each message trigger a queue of its own (fan a queue out with SNS or EventBridge Pipes first)' });
      else if (first === undefined) readers.set(queue, `${p.id}/${t.id}`);
    });
  }
  return problems;
}

/**
 * What the platform's webhook function needs of a pipeline's enabled webhook triggers (its entry in
 * `PHI_WEBHOOKS`: trigger id → tolerance and debounce); none when it has none. A disabled one has no
 * route: its requests are answered as unsigned ones (its secret is kept, for when it is enabled again).
 */
export function webhookRoutes(triggers: readonly CompiledTrigger[]): Record<string, WebhookRoute> | undefined {
  const routes = triggers.flatMap((t) => (t.webhook === undefined || !t.enabled ? [] : [[t.id, { toleranceSeconds: t.webhook.toleranceSeconds, ...(t.debounceSeconds !== undefined ? { debounceSeconds: t.debounceSeconds } : {}) }] as const]));
  return routes.length === 0 ? undefined : Object.fromEntries(routes);
}

/** Whether a run-parameter schema declares `name` at its top level. */
const declares = (schema: JsonSchema | undefined, name: string): boolean => {
  const properties = schema?.properties;
  return isObject(properties) && Object.prototype.hasOwnProperty.call(properties, name);
};

/** The pipeline's triggers, compiled, with every problem (`TRIG_001`…`TRIG_003`). */
export function compileTriggers(pipeline: Pipeline, runParameters: JsonSchema | undefined): { triggers: CompiledTrigger[]; problems: TriggerProblem[] } {
  const problems: TriggerProblem[] = [];
  const triggers: CompiledTrigger[] = [];
  const seen = new Set<string>();
  /** The user's queues the pipeline's message triggers read, each with where it was first named. */
  const queues = new Map<string, string>();
  (pipeline.triggers ?? []).forEach((trigger, i) => {
    const where = `triggers[${i}]`;
    const id = trigger.id ?? `${DEFAULT_ID_PREFIX[trigger.type]}-${i}`;
    if (seen.has(id)) problems.push({ code: ProblemCode.TRIG_002_TRIGGER_CONFLICT, path: `${where}.id`, message: `pipeline "${pipeline.id}" has two triggers with the id "${id}"`, hint: 'give each trigger an id of its own: a run\'s identity includes it (a trigger without one is event-<i>, data-<i> or message-<i>)' });
    seen.add(id);
    if (trigger.type === 'message') {
      problems.push(...messageTriggerProblems(trigger, where, queues));
      const queueArn = trigger.queueArn ?? trigger.queue;
      const message: CompiledMessageTrigger = { ...(queueArn !== undefined ? { queueArn } : {}), batchSize: trigger.batchSize ?? 1, ...(trigger.batchWindowSeconds !== undefined ? { batchWindowSeconds: trigger.batchWindowSeconds } : {}) };
      triggers.push({ id, type: trigger.type, enabled: trigger.enabled !== false, message });
      return;
    }
    if (trigger.type === 'webhook') {
      // Its requests reach the webhook function through the control API: no rule, no pattern.
      if (trigger.batchWindowSeconds !== undefined) problems.push({ code: ProblemCode.TRIG_003_UNSUPPORTED, path: `${where}.batchWindowSeconds`, message: 'batchWindowSeconds (requests inside a window become one run) is not supported yet', hint: 'remove it: each signed request starts its own run; debounceSeconds keeps to one run per interval' });
      const webhook: CompiledWebhookTrigger = { toleranceSeconds: trigger.toleranceSeconds ?? WEBHOOK_DEFAULTS.toleranceSeconds };
      triggers.push({ id, type: trigger.type, enabled: trigger.enabled !== false, webhook, ...(trigger.debounceSeconds !== undefined ? { debounceSeconds: trigger.debounceSeconds } : {}) });
      return;
    }
    if (trigger.batchWindowSeconds !== undefined && trigger.debounceSeconds !== undefined) problems.push({ code: ProblemCode.TRIG_003_UNSUPPORTED, path: `${where}.batchWindowSeconds`, message: 'a trigger has batchWindowSeconds (the events of a window become one run) or debounceSeconds (the events after the first of an interval are dropped), not both', hint: 'keep batchWindowSeconds to run once per window with every event, or debounceSeconds to run once per interval with its first' });
    let pattern: EventPattern;
    if (trigger.type === 'event') {
      for (const issue of eventPatternIssues(trigger.pattern)) {
        problems.push({ code: ProblemCode.TRIG_001_INVALID_PATTERN, path: `${where}.pattern${issue.path === '' ? '' : `.${issue.path}`}`, message: `not an EventBridge event pattern: ${issue.message}`, hint: 'write the pattern as EventBridge documents it: { source: ["my.app"], detail: { status: ["done", { prefix: "ok" }] } }' });
      }
      pattern = trigger.pattern;
    } else {
      pattern = dataArrivalPattern(trigger);
    }
    triggers.push({ id, type: trigger.type, enabled: trigger.enabled !== false, pattern, ...(trigger.debounceSeconds !== undefined ? { debounceSeconds: trigger.debounceSeconds } : {}), ...(trigger.batchWindowSeconds !== undefined ? { batchWindowSeconds: trigger.batchWindowSeconds } : {}) });
  });
  const enabled = triggers.findIndex((t) => t.enabled);
  if (enabled >= 0) problems.push(...triggeredRunProblems(runParameters, `triggers[${enabled}]`, 'the pipeline\'s triggers set on each run they start (the event that started it)'));
  return { triggers, problems };
}

/**
 * What a run that something other than a person starts (a trigger's event, an upstream pipeline's end)
 * needs of the run-parameter schema: it sets no parameters of its own, so the schema's defaults must
 * make a run (`DEF_009`), and Phi's `event` parameter, which it sets, must not be declared (`TRIG_002`).
 * `path` is where the starting thing is written; `setBy` says who sets `event`.
 */
export function triggeredRunProblems(runParameters: JsonSchema | undefined, path: string, setBy: string): TriggerProblem[] {
  const problems: TriggerProblem[] = [];
  const bare = checkRunParameters(runParameters, {});
  if (!bare.ok) {
    for (const issue of bare.issues) {
      problems.push({ code: ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, path, message: `a run ${path.startsWith('triggers') ? 'a trigger' : 'an upstream pipeline'} starts sets no parameters but "${EVENT_PARAMETER}", which runParameters refuses: ${issue.path ? `${issue.path} ` : ''}${issue.message}`, hint: 'give the run parameter a default (.default(…)) or make it optional (.optional())' });
    }
  }
  if (declares(runParameters, EVENT_PARAMETER)) {
    problems.push({ code: ProblemCode.TRIG_002_TRIGGER_CONFLICT, path: `runParameters.${EVENT_PARAMETER}`, message: `runParameters declares "${EVENT_PARAMETER}", which ${setBy}`, hint: `name the run parameter otherwise: "${EVENT_PARAMETER}" is Phi's` });
  }
  return problems;
}

/**
 * Event triggers (issue #9): each enabled trigger of a pipeline becomes one EventBridge rule on the
 * default bus. Here its pattern is checked (an `event` trigger's) or written (a `dataArrival`
 * trigger's: S3's Object Created events through EventBridge), its id defaulted and made unique, and
 * what Phi does not support refused. Pure.
 */
import { EVENT_PARAMETER, type Pipeline, type Trigger } from '../model/pipeline.ts';
import { ProblemCode } from '../model/problems.ts';
import { checkRunParameters, type JsonSchema } from '../model/run-parameters.ts';

/** An EventBridge event pattern, as a rule holds it. */
export type EventPattern = { readonly [key: string]: unknown };

/** One trigger as deployed: its rule's pattern, and what the trigger function needs to start its runs. */
export interface CompiledTrigger {
  readonly id: string;
  readonly type: Trigger['type'];
  readonly enabled: boolean;
  readonly pattern: EventPattern;
  /** At most one run per this many seconds. */
  readonly debounceSeconds?: number;
}

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
  (pipeline.triggers ?? []).forEach((trigger, i) => {
    const where = `triggers[${i}]`;
    const id = trigger.id ?? `${trigger.type === 'event' ? 'event' : 'data'}-${i}`;
    if (seen.has(id)) problems.push({ code: ProblemCode.TRIG_002_TRIGGER_CONFLICT, path: `${where}.id`, message: `pipeline "${pipeline.id}" has two triggers with the id "${id}"`, hint: 'give each trigger an id of its own: a run\'s identity includes it (a trigger without one is event-<i> or data-<i>)' });
    seen.add(id);
    if (trigger.batchWindowSeconds !== undefined) problems.push({ code: ProblemCode.TRIG_003_UNSUPPORTED, path: `${where}.batchWindowSeconds`, message: 'batchWindowSeconds (events inside a window become one run) is not supported yet', hint: 'remove it: each event starts its own run; debounceSeconds keeps to one run per interval' });
    let pattern: EventPattern;
    if (trigger.type === 'event') {
      for (const issue of eventPatternIssues(trigger.pattern)) {
        problems.push({ code: ProblemCode.TRIG_001_INVALID_PATTERN, path: `${where}.pattern${issue.path === '' ? '' : `.${issue.path}`}`, message: `not an EventBridge event pattern: ${issue.message}`, hint: 'write the pattern as EventBridge documents it: { source: ["my.app"], detail: { status: ["done", { prefix: "ok" }] } }' });
      }
      pattern = trigger.pattern;
    } else {
      pattern = dataArrivalPattern(trigger);
    }
    triggers.push({ id, type: trigger.type, enabled: trigger.enabled !== false, pattern, ...(trigger.debounceSeconds !== undefined ? { debounceSeconds: trigger.debounceSeconds } : {}) });
  });
  // A triggered run sets no parameters of its own: the schema's defaults must make a run.
  const enabled = triggers.findIndex((t) => t.enabled);
  const bare = enabled < 0 ? undefined : checkRunParameters(runParameters, {});
  if (bare !== undefined && !bare.ok) {
    for (const issue of bare.issues) {
      problems.push({ code: ProblemCode.DEF_009_RUN_PARAMETERS_CONFLICT, path: `triggers[${enabled}]`, message: `a run a trigger starts sets no parameters but "${EVENT_PARAMETER}", which runParameters refuses: ${issue.path ? `${issue.path} ` : ''}${issue.message}`, hint: 'give the run parameter a default (.default(…)) or make it optional (.optional())' });
    }
  }
  if (enabled >= 0 && declares(runParameters, EVENT_PARAMETER)) {
    problems.push({ code: ProblemCode.TRIG_002_TRIGGER_CONFLICT, path: `runParameters.${EVENT_PARAMETER}`, message: `runParameters declares "${EVENT_PARAMETER}", which the pipeline's triggers set on each run they start (the event that started it)`, hint: `name the run parameter otherwise: "${EVENT_PARAMETER}" is Phi's` });
  }
  return { triggers, problems };
}

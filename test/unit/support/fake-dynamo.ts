/**
 * A DynamoDB document client in memory, for running the real `RecordStore` in unit tests. It evaluates
 * the subset of the expression language the project writes (and throws on anything else, so a new form
 * of expression is noticed rather than mis-evaluated):
 *  - conditions: `attribute_exists(p)`, `attribute_not_exists(p)`, `begins_with(p, :v)`,
 *    `contains(p, :v)`, `a IN (:x, :y, …)` and comparisons `a <op> b` (`=`, `<>`, `<`, `<=`, `>`, `>=`)
 *    whose operands are `:v`, a path or `size(p)`; `NOT` before any of them; joined by AND / OR (AND
 *    binds tighter), in parentheses or not;
 *  - updates: `SET`, `REMOVE`, `ADD` and `DELETE` sections, in any order, each at most once, over
 *    top-level attributes: `SET p = operand, …` with operands `:v`, a path, `if_not_exists(p, operand)`
 *    and `list_append(operand, operand)`; `REMOVE p, …`; `ADD p :v, …` (a number added, a missing
 *    attribute counting 0, or a set joined); `DELETE p :v, …` (elements taken out of a set);
 *  - `ReturnValues` (`ALL_OLD`, `ALL_NEW`, `UPDATED_OLD`, `UPDATED_NEW` as each command allows) and
 *    `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`;
 *  - `ProjectionExpression` of top-level attributes on Get and BatchGet;
 *  - queries: a key condition over `pk` and `sk`, in sort-key (byte) order, `pageSize` items a page;
 *  - transactions of `Put` and `ConditionCheck` items: all applied, or none, cancelled with a reason per item.
 * A parameter a command does not understand throws too (a `FilterExpression` silently ignored would be
 * a mis-evaluation).
 * Like DynamoDB, it refuses expression attribute names or values that no expression uses, an update
 * whose paths overlap or touch the key, and wrongly typed operands (these throw an `Error` named
 * `ValidationException`); a failed condition throws `ConditionalCheckFailedException`. Like the document
 * client told to `removeUndefinedValues`, undefined fields are dropped, a JS `Set` of strings or of
 * numbers is a DynamoDB set (kept and read back as a `Set`), and values it cannot marshal (NaN, an empty
 * set, a Date) throw.
 */
import { ConditionalCheckFailedException, DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { vi } from 'vitest';
import { RecordStore } from '../../../functions/shared/records/store.ts';

type Item = Record<string, unknown>;
type Names = Readonly<Record<string, string>>;
type Values = Readonly<Record<string, unknown>>;

const isMap = (value: unknown): value is Item =>
  value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null);
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** What DynamoDB itself refuses (its `ValidationException`), as against what this fake does not support. */
function refused(message: string): never {
  throw Object.assign(new Error(`fake DynamoDB: ${message}`), { name: 'ValidationException' });
}

/**
 * A deep copy of a value as the document client (`removeUndefinedValues`) marshals it and reads it back:
 * undefined fields and list elements are dropped and a `Set` stays a `Set`; what it cannot marshal throws.
 */
function copy<T>(value: T): T {
  return clone(value) as T;
}

function clone(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) throw new Error(`fake DynamoDB: the document client cannot marshal the number ${value}`);
    return value;
  }
  if (Array.isArray(value)) return value.filter((v) => v !== undefined && typeof v !== 'function').map(clone);
  if (value instanceof Set) {
    const elements = [...(value as Set<unknown>)].filter((v) => v !== undefined);
    if (elements.length === 0) throw new Error('fake DynamoDB: the document client cannot marshal an empty set');
    if (!elements.every((v) => typeof v === 'string') && !elements.every((v) => typeof v === 'number')) throw new Error('fake DynamoDB: unsupported set (only sets of strings or of numbers)');
    return new Set(elements.map(clone));
  }
  if (isMap(value)) {
    const out: Item = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined && typeof v !== 'function') out[k] = clone(v);
    return out;
  }
  throw new Error(`fake DynamoDB: unsupported value ${String(value)} (the document client does not marshal it as given)`);
}

/** An item as DynamoDB's wire format has it (what the document client leaves on an error). */
function marshal(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(marshal) };
  if (value instanceof Set) {
    const elements = [...(value as Set<unknown>)];
    return typeof elements[0] === 'number' ? { NS: elements.map(String) } : { SS: elements.map(String) };
  }
  if (isMap(value)) return { M: marshalItem(value) };
  throw new Error(`fake DynamoDB: cannot marshal ${String(value)}`);
}

const marshalItem = (item: Item): Record<string, AttributeValue> => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, marshal(v)]));

/** Equality of DynamoDB values: sets and maps regardless of order. */
function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Set && b instanceof Set) return a.size === b.size && [...(a as Set<unknown>)].every((e) => b.has(e));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((e, i) => equal(e, b[i]));
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && equal(a[k], b[k]));
  }
  return a === b;
}

/** The order of two numbers or two strings (by UTF-8 bytes); undefined for anything else (DynamoDB: false). */
function order(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return byteOrder(a, b);
  return undefined;
}

/** `size()`: a string's length, a set's or list's elements, a map's keys; undefined for anything else. */
function sizeOf(value: unknown): number | undefined {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value instanceof Set) return value.size;
  if (isMap(value)) return Object.keys(value).length;
  return undefined;
}

const typeName = (value: unknown): string =>
  value instanceof Set ? (typeof [...(value as Set<unknown>)][0] === 'number' ? 'NS' : 'SS') : Array.isArray(value) ? 'L' : isMap(value) ? 'M' : value === null ? 'NULL' : typeof value;
const sameSetType = (a: Set<unknown>, b: Set<unknown>): boolean => typeName(a) === typeName(b);

/** Splits at `separator` outside parentheses. */
function splitTop(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i));
      start = i + separator.length;
      i += separator.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** Whether `text` is one parenthesised whole, `( … )`, not `(a) … (b)`. */
function enclosed(text: string): boolean {
  if (!text.startsWith('(') || !text.endsWith(')')) return false;
  let depth = 0;
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    if (depth === 0) return false;
  }
  return true;
}

const UPDATE_KEYWORDS = ['SET', 'REMOVE', 'ADD', 'DELETE'] as const;
type UpdateKeyword = (typeof UPDATE_KEYWORDS)[number];
const KEY_ATTRIBUTES = ['pk', 'sk'];

/** An update expression's sections, by keyword; each keyword at most once, in any order. */
function updateSections(text: string): Map<UpdateKeyword, string> {
  const starts: { keyword: UpdateKeyword; at: number; body: number }[] = [];
  for (const m of text.matchAll(/(?:^|\s)(SET|REMOVE|ADD|DELETE)\s/g)) {
    const at = m.index + m[0].indexOf(m[1]!);
    const before = text.slice(0, at);
    if (before.split('(').length !== before.split(')').length) continue;
    starts.push({ keyword: m[1] as UpdateKeyword, at, body: at + m[1]!.length });
  }
  if (starts[0]?.at !== text.search(/\S/)) throw new Error(`fake DynamoDB: unsupported update "${text}"`);
  const sections = new Map<UpdateKeyword, string>();
  starts.forEach(({ keyword, body }, i) => {
    if (sections.has(keyword)) refused(`Invalid UpdateExpression: The "${keyword}" section can only be used once in an update expression`);
    const section = text.slice(body, starts[i + 1]?.at ?? text.length).trim();
    if (!section) refused(`Invalid UpdateExpression: Syntax error; an empty ${keyword} section in "${text}"`);
    sections.set(keyword, section);
  });
  return sections;
}

class Expressions {
  constructor(
    private readonly names: Names,
    private readonly values: Values,
  ) {}

  path(text: string): string[] {
    return text.split('.').map((part) => {
      if (!part.startsWith('#')) {
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(part)) throw new Error(`fake DynamoDB: unsupported path "${text}"`);
        return part;
      }
      if (!/^#[A-Za-z0-9_]+$/.test(part)) throw new Error(`fake DynamoDB: unsupported path "${text}"`);
      const name = this.names[part];
      if (name === undefined) refused(`${part} is not in ExpressionAttributeNames`);
      return name;
    });
  }

  /** A path naming a top-level attribute (all this fake updates or projects). */
  topLevel(text: string, what: string): string {
    const path = this.path(text.trim());
    if (path.length !== 1) throw new Error(`fake DynamoDB: nested ${what} "${text}"`);
    return path[0]!;
  }

  value(token: string): unknown {
    if (!(token in this.values)) refused(`${token} is not in ExpressionAttributeValues`);
    return this.values[token];
  }

  read(item: Item | undefined, path: readonly string[]): unknown {
    let at: unknown = item;
    for (const part of path) at = isMap(at) ? at[part] : undefined;
    return at;
  }

  /** Every atom is evaluated (no short cut), so an unsupported one throws whatever the item. */
  condition(text: string, item: Item | undefined): boolean {
    return splitTop(text, ' OR ')
      .map((any) => splitTop(any, ' AND ').map((atom) => this.atom(atom, item)).every(Boolean))
      .some(Boolean);
  }

  private atom(text: string, item: Item | undefined): boolean {
    if (text.startsWith('NOT ')) return !this.atom(text.slice(4).trim(), item);
    if (enclosed(text)) return this.condition(text.slice(1, -1).trim(), item);
    let m = /^attribute_(not_)?exists\((.+)\)$/.exec(text);
    if (m) return (this.read(item, this.path(m[2]!.trim())) === undefined) === Boolean(m[1]);
    m = /^begins_with\((.+),\s*(:\w+)\)$/.exec(text);
    if (m) {
      const actual = this.read(item, this.path(m[1]!.trim()));
      return typeof actual === 'string' && actual.startsWith(String(this.value(m[2]!)));
    }
    m = /^contains\((.+),\s*(:\w+)\)$/.exec(text);
    if (m) {
      const actual = this.read(item, this.path(m[1]!.trim()));
      const wanted = this.value(m[2]!);
      if (typeof wanted !== 'string' && typeof wanted !== 'number') throw new Error(`fake DynamoDB: unsupported contains() operand ${typeName(wanted)}`);
      if (typeof actual === 'string') return typeof wanted === 'string' && actual.includes(wanted);
      if (actual instanceof Set) return actual.has(wanted);
      if (Array.isArray(actual)) return actual.some((e) => equal(e, wanted));
      return false;
    }
    m = /^(\S+) IN \((.+)\)$/.exec(text);
    if (m) {
      const actual = this.read(item, this.path(m[1]!));
      const tokens = m[2]!.split(',');
      if (tokens.length > 100) refused('Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: ' + tokens.length);
      return tokens.map((token) => this.value(token.trim())).some((candidate) => actual !== undefined && equal(actual, candidate));
    }
    m = /^(.+?) (=|<>|<=|>=|<|>) (.+)$/.exec(text);
    if (m) return this.compare(m[2]!, m[1]!, m[3]!, item);
    throw new Error(`fake DynamoDB: unsupported condition "${text}"`);
  }

  /** `a <op> b`; an operand that is missing (an absent attribute, the size of one) makes it false, but `<>` true. */
  private compare(op: string, left: string, right: string, item: Item | undefined): boolean {
    const [a, b] = [left, right].map((operand) => {
      if (operand.startsWith(':')) {
        const value = this.value(operand);
        if (op !== '=' && op !== '<>' && typeof value !== 'number' && typeof value !== 'string') {
          refused(`Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: ${op}, operand type: ${typeName(value)}`);
        }
        return value;
      }
      const size = /^size\((.+)\)$/.exec(operand);
      if (size) return sizeOf(this.read(item, this.path(size[1]!.trim())));
      return this.read(item, this.path(operand));
    });
    const same = a !== undefined && b !== undefined && equal(a, b);
    if (op === '=') return same;
    if (op === '<>') return !same;
    const o = order(a, b);
    if (o === undefined) return false;
    return op === '<' ? o < 0 : op === '<=' ? o <= 0 : op === '>' ? o > 0 : o >= 0;
  }

  /** Throws unless `text` is a key condition DynamoDB takes: `pk = :v`, and at most one condition on `sk`. */
  checkKeyCondition(text: string): void {
    const parts = splitTop(text, ' AND ');
    const onPk = parts.filter((part) => {
      const m = /^(\S+) = :\w+$/.exec(part);
      return m !== null && this.path(m[1]!).join('.') === 'pk';
    });
    const onSk = parts.filter((part) => {
      const m = /^(\S+) (?:=|<|<=|>|>=) :\w+$/.exec(part) ?? /^begins_with\((\S+?),\s*:\w+\)$/.exec(part);
      return m !== null && this.path(m[1]!).join('.') === 'sk';
    });
    if (onPk.length !== 1 || onSk.length + onPk.length !== parts.length || onSk.length > 1) {
      throw new Error(`fake DynamoDB: unsupported key condition "${text}"`);
    }
  }

  operand(text: string, item: Item | undefined): unknown {
    if (text.startsWith(':')) return this.value(text);
    let m = /^if_not_exists\((.+)\)$/.exec(text);
    if (m) {
      const [path, fallback] = splitTop(m[1]!, ',');
      const current = this.read(item, this.path(path!));
      return current !== undefined ? current : this.operand(fallback!, item);
    }
    m = /^list_append\((.+)\)$/.exec(text);
    if (m) {
      const [a, b] = splitTop(m[1]!, ',').map((part) => this.operand(part, item));
      if (!Array.isArray(a) || !Array.isArray(b)) throw new Error('fake DynamoDB: list_append of a non-list');
      return [...a, ...b];
    }
    return this.read(item, this.path(text));
  }

  /**
   * The item after `update`, every operand read from the item as it was (as DynamoDB does), and the
   * attributes the update touched.
   */
  update(text: string, before: Item): { after: Item; touched: string[] } {
    const sections = updateSections(text);
    const after = copy(before);
    const touched: string[] = [];
    const touch = (name: string): string => {
      if (KEY_ATTRIBUTES.includes(name)) refused(`Cannot update attribute ${name}. This attribute is part of the key`);
      if (touched.includes(name)) refused(`Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths to avoid overlap. Paths: [${name}, ${name}]`);
      touched.push(name);
      return name;
    };
    const clauses = (keyword: UpdateKeyword): string[] => (sections.has(keyword) ? splitTop(sections.get(keyword)!, ',') : []);
    /** `ADD` and `DELETE` clauses, `path :value`. */
    const pairs = (keyword: UpdateKeyword): [string, unknown][] =>
      clauses(keyword).map((clause) => {
        const m = /^(\S+)\s+(:\w+)$/.exec(clause);
        if (!m) throw new Error(`fake DynamoDB: unsupported ${keyword} "${clause}"`);
        return [touch(this.topLevel(m[1]!, keyword)), this.value(m[2]!)];
      });

    for (const clause of clauses('SET')) {
      const eq = clause.indexOf(' = ');
      if (eq < 0) throw new Error(`fake DynamoDB: unsupported SET "${clause}"`);
      const name = touch(this.topLevel(clause.slice(0, eq), 'SET'));
      const value = this.operand(clause.slice(eq + 3).trim(), before);
      if (value === undefined) refused(`The provided expression refers to an attribute that does not exist in the item: "${clause}"`);
      after[name] = copy(value);
    }
    for (const removed of clauses('REMOVE')) {
      delete after[touch(this.topLevel(removed, 'REMOVE'))];
    }
    for (const [name, value] of pairs('ADD')) {
      const current = before[name];
      if (typeof value === 'number') {
        if (current !== undefined && typeof current !== 'number') refused(`An operand in the update expression has an incorrect data type: ADD ${typeName(value)} to ${typeName(current)}`);
        after[name] = ((current as number | undefined) ?? 0) + value;
      } else if (value instanceof Set) {
        if (current !== undefined && !(current instanceof Set && sameSetType(current, value))) refused(`An operand in the update expression has an incorrect data type: ADD ${typeName(value)} to ${typeName(current)}`);
        after[name] = new Set([...((current as Set<unknown> | undefined) ?? []), ...(value as Set<unknown>)]);
      } else {
        refused(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ${typeName(value)}`);
      }
    }
    for (const [name, value] of pairs('DELETE')) {
      const current = before[name];
      if (!(value instanceof Set)) refused(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: ${typeName(value)}`);
      if (current === undefined) continue;
      if (!(current instanceof Set && sameSetType(current, value))) refused(`An operand in the update expression has an incorrect data type: DELETE ${typeName(value)} from ${typeName(current)}`);
      const rest = [...(current as Set<unknown>)].filter((e) => !value.has(e));
      if (rest.length > 0) after[name] = new Set(rest);
      else delete after[name];
    }
    return { after, touched };
  }

  /** The item's top-level attributes a `ProjectionExpression` names (all of them without one). */
  project(item: Item, projection: string | undefined): Item {
    if (projection === undefined) return copy(item);
    const names = splitTop(projection, ',').map((path) => this.topLevel(path, 'projection'));
    return copy(Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name))));
  }
}

/** DynamoDB refuses a request that declares names or values its expressions do not use. */
function checkAllUsed(expressions: readonly (string | undefined)[], names: Names = {}, values: Values = {}): void {
  const text = expressions.filter(Boolean).join('\n');
  for (const token of [...Object.keys(names), ...Object.keys(values)]) {
    if (!new RegExp(`${token}(?![A-Za-z0-9_])`).test(text)) refused(`${token} is declared but not used in any expression`);
  }
}

/** A parameter this fake does not act on throws, rather than being ignored. */
function checkParameters(what: string, input: Item, known: readonly string[]): void {
  for (const key of Object.keys(input)) if (!known.includes(key)) throw new Error(`fake DynamoDB: unsupported parameter ${key} of ${what}`);
}

const WRITE_PARAMETERS = ['TableName', 'ConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues', 'ReturnValues', 'ReturnValuesOnConditionCheckFailure'];

/** The table's key of an item (or of a `Key`, which must hold the key attributes and nothing else). */
function keyOf(item: Item, onlyKey = false): string {
  for (const name of KEY_ATTRIBUTES) {
    const value = item[name];
    if (typeof value !== 'string') refused('The provided key element does not match the schema');
    if (value === '') refused(`One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`);
  }
  if (onlyKey && Object.keys(item).length !== KEY_ATTRIBUTES.length) refused('The provided key element does not match the schema');
  return `${String(item.pk)}\u0000${String(item.sk)}`;
}

/** The `ReturnValues` a command answers with. */
function returned(mode: unknown, allowed: readonly string[], old: Item | undefined, now: Item | undefined, touched: readonly string[] = []): Record<string, unknown> {
  if (mode === undefined || mode === 'NONE') return {};
  if (typeof mode !== 'string' || !allowed.includes(mode)) refused(`ReturnValues ${String(mode)} is not valid here (${['NONE', ...allowed].join(', ')})`);
  const pick = (item: Item | undefined): Item | undefined => (item ? Object.fromEntries(Object.entries(item).filter(([name]) => touched.includes(name))) : undefined);
  const attributes = { ALL_OLD: old, ALL_NEW: now, UPDATED_OLD: pick(old), UPDATED_NEW: pick(now) }[mode];
  return attributes && Object.keys(attributes).length > 0 ? { Attributes: copy(attributes) } : {};
}

/**
 * A failed condition. With `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'` the exception carries the
 * existing item in DynamoDB's wire format (`{ status: { S: 'RUNNING' } }`): the document client does not
 * unmarshall errors (aws-sdk-js-v3 issue 6723), so neither does this fake.
 */
function conditionFailed(existing: Item | undefined, onFailure: unknown): never {
  if (onFailure !== undefined && onFailure !== 'NONE' && onFailure !== 'ALL_OLD') refused(`ReturnValuesOnConditionCheckFailure ${String(onFailure)} is not valid (NONE, ALL_OLD)`);
  throw new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(onFailure === 'ALL_OLD' && existing ? { Item: marshalItem(existing) } : {}),
  });
}

/** The table (`pk`, `sk`) and the document client's `send` over it. */
export class FakeDynamo {
  private readonly items = new Map<string, Item>();
  /** Every command sent, in order (name and input), for tests that look at what was asked. */
  readonly sent: { command: string; input: Record<string, unknown> }[] = [];
  /**
   * Errors the coming commands fail with, in turn, before doing anything (throttling, an outage): each
   * command sent takes the first one left, and throws it without touching the table.
   */
  readonly failures: Error[] = [];
  /**
   * Errors the coming commands fail with, in turn, after they have been applied (the write happened, but
   * the caller sees an error: a timeout after DynamoDB committed). A command takes the first one left
   * only once it has succeeded; one that throws of itself (a failed condition), or takes a `failures`
   * entry, leaves it for the next.
   */
  readonly failAfter: Error[] = [];

  constructor(readonly pageSize = 2) {}

  /** The stored items, storage fields included, in key order (string sets as `Set`s). */
  get table(): Item[] {
    return [...this.items.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, item]) => copy(item));
  }

  readonly send = async (command: unknown): Promise<Record<string, unknown>> => {
    const input = copy((command as { input: Record<string, unknown> }).input);
    this.sent.push({ command: (command as object).constructor.name, input: copy(input) });
    const failure = this.failures.shift();
    if (failure) throw failure;
    const output = this.apply(command, input);
    const late = this.failAfter.shift();
    if (late) throw late;
    return output;
  };

  private apply(command: unknown, input: Record<string, unknown>): Record<string, unknown> {
    const names = (input.ExpressionAttributeNames ?? {}) as Names;
    const values = (input.ExpressionAttributeValues ?? {}) as Values;
    const expr = new Expressions(names, values);
    const condition = input.ConditionExpression as string | undefined;
    const check = (existing: Item | undefined): void => {
      if (condition && !expr.condition(condition, existing)) conditionFailed(existing, input.ReturnValuesOnConditionCheckFailure);
    };

    if (command instanceof TransactWriteCommand) {
      // All or nothing: every item's condition is checked first; one that fails cancels the whole
      // transaction, with a reason per item as DynamoDB gives them.
      checkParameters('TransactWrite', input, ['TransactItems']);
      const items = input.TransactItems as Record<string, Item>[];
      const parts = items.map((item) => {
        const kinds = Object.keys(item);
        if (kinds.length !== 1 || !['Put', 'Update', 'ConditionCheck'].includes(kinds[0]!)) throw new Error(`fake DynamoDB: unsupported transaction item ${kinds.join(', ')}`);
        const kind = kinds[0] as 'Put' | 'Update' | 'ConditionCheck';
        const part = item[kind] as Item;
        const common = ['TableName', 'ConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues'];
        checkParameters(kind, part, kind === 'Put' ? ['Item', ...common] : kind === 'Update' ? ['Key', 'UpdateExpression', ...common] : ['Key', ...common]);
        const partNames = (part.ExpressionAttributeNames ?? {}) as Names;
        const partValues = (part.ExpressionAttributeValues ?? {}) as Values;
        const partCondition = part.ConditionExpression as string | undefined;
        checkAllUsed([partCondition, ...(kind === 'Update' ? [part.UpdateExpression as string] : [])], partNames, partValues);
        const key = kind === 'Put' ? keyOf(part.Item as Item) : keyOf(part.Key as Item, true);
        const holds = !partCondition || new Expressions(partNames, partValues).condition(partCondition, this.items.get(key));
        return { kind, key, part, holds };
      });
      if (parts.some((p) => !p.holds)) {
        throw Object.assign(new Error('Transaction cancelled, please refer cancellation reasons for specific reasons'), {
          name: 'TransactionCanceledException',
          CancellationReasons: parts.map((p) => ({ Code: p.holds ? 'None' : 'ConditionalCheckFailed' })),
        });
      }
      for (const p of parts) {
        if (p.kind === 'Put') this.items.set(p.key, p.part.Item as Item);
        if (p.kind === 'Update') {
          const partExpr = new Expressions((p.part.ExpressionAttributeNames ?? {}) as Names, (p.part.ExpressionAttributeValues ?? {}) as Values);
          this.items.set(p.key, partExpr.update(p.part.UpdateExpression as string, this.items.get(p.key) ?? { ...(p.part.Key as Item) }).after);
        }
      }
      return {};
    }
    if (command instanceof PutCommand) {
      checkParameters('Put', input, ['Item', ...WRITE_PARAMETERS]);
      checkAllUsed([condition], names, values);
      const item = input.Item as Item;
      const existing = this.items.get(keyOf(item));
      check(existing);
      this.items.set(keyOf(item), item);
      return returned(input.ReturnValues, ['ALL_OLD'], existing, item);
    }
    if (command instanceof UpdateCommand) {
      checkParameters('Update', input, ['Key', 'UpdateExpression', ...WRITE_PARAMETERS]);
      const update = input.UpdateExpression as string;
      checkAllUsed([update, condition], names, values);
      const key = input.Key as Item;
      const existing = this.items.get(keyOf(key, true));
      check(existing);
      const { after, touched } = expr.update(update, existing ?? { ...key });
      this.items.set(keyOf(key), after);
      return returned(input.ReturnValues, ['ALL_OLD', 'ALL_NEW', 'UPDATED_OLD', 'UPDATED_NEW'], existing, after, touched);
    }
    if (command instanceof DeleteCommand) {
      checkParameters('Delete', input, ['Key', ...WRITE_PARAMETERS]);
      checkAllUsed([condition], names, values);
      const key = keyOf(input.Key as Item, true);
      const existing = this.items.get(key);
      check(existing);
      this.items.delete(key);
      return returned(input.ReturnValues, ['ALL_OLD'], existing, undefined);
    }
    if (command instanceof GetCommand) {
      checkParameters('Get', input, ['TableName', 'Key', 'ConsistentRead', 'ProjectionExpression', 'ExpressionAttributeNames']);
      const projection = input.ProjectionExpression as string | undefined;
      checkAllUsed([projection], names);
      const item = this.items.get(keyOf(input.Key as Item, true));
      return item ? { Item: expr.project(item, projection) } : {};
    }
    if (command instanceof BatchGetCommand) {
      checkParameters('BatchGet', input, ['RequestItems']);
      const requests = Object.entries((input.RequestItems ?? {}) as Record<string, Item>);
      if (requests.length === 0) refused('1 validation error detected: Value at requestItems failed to satisfy constraint: Member must have length greater than or equal to 1');
      if (requests.length > 1) throw new Error('fake DynamoDB: unsupported BatchGet over more than one table (this fake holds one)');
      const [table, request] = requests[0]!;
      checkParameters('BatchGet RequestItems', request, ['Keys', 'ConsistentRead', 'ProjectionExpression', 'ExpressionAttributeNames']);
      const keys = (request.Keys ?? []) as Item[];
      if (keys.length === 0) refused('1 validation error detected: Value at requestItems.keys failed to satisfy constraint: Member must have length greater than or equal to 1');
      if (keys.length > 100) refused('Too many items requested for the BatchGetItem call');
      const wanted = keys.map((key) => keyOf(key, true));
      if (new Set(wanted).size !== wanted.length) refused('Provided list of item keys contains duplicates');
      const projection = request.ProjectionExpression as string | undefined;
      const batchNames = (request.ExpressionAttributeNames ?? {}) as Names;
      checkAllUsed([projection], batchNames);
      const batchExpr = new Expressions(batchNames, {});
      const found = wanted.flatMap((key) => {
        const item = this.items.get(key);
        return item ? [batchExpr.project(item, projection)] : [];
      });
      return { Responses: { [table]: found }, UnprocessedKeys: {} };
    }
    if (command instanceof QueryCommand && input.IndexName !== undefined) {
      // The records table's one index, `history`: partition gsi1pk, sort gsi1sk; eventually consistent only.
      checkParameters('Query', input, ['TableName', 'IndexName', 'KeyConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues', 'ScanIndexForward', 'Limit', 'ExclusiveStartKey']);
      if (input.IndexName !== 'history') throw new Error(`fake DynamoDB: no index ${String(input.IndexName)} (this table has "history")`);
      const keyCondition = input.KeyConditionExpression as string;
      checkAllUsed([keyCondition], names, values);
      const m = /^(\S+) = (:\w+)$/.exec(keyCondition);
      if (!m || expr.path(m[1]!).join('.') !== 'gsi1pk') throw new Error(`fake DynamoDB: unsupported key condition "${keyCondition}" on the history index`);
      const sortKey = (item: Item): string => `${String(item.gsi1sk)}\u0000${String(item.pk)}\u0000${String(item.sk)}`;
      const ordered = this.table.filter((item) => item.gsi1sk !== undefined && expr.condition(keyCondition, item)).sort((a, b) => byteOrder(sortKey(a), sortKey(b)));
      if (input.ScanIndexForward === false) ordered.reverse();
      const start = input.ExclusiveStartKey as Item | undefined;
      const from = start ? ordered.findIndex((item) => sortKey(item) === sortKey(start)) + 1 : 0;
      const size = Math.min(this.pageSize, typeof input.Limit === 'number' ? input.Limit : Infinity);
      const page = ordered.slice(from, from + size);
      const last = page.at(-1);
      return { Items: page, ...(from + page.length < ordered.length && last ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk, gsi1pk: last.gsi1pk, gsi1sk: last.gsi1sk } } : {}) };
    }
    if (command instanceof QueryCommand) {
      checkParameters('Query', input, ['TableName', 'KeyConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues', 'ConsistentRead', 'ExclusiveStartKey', 'ScanIndexForward', 'Limit']);
      const keyCondition = input.KeyConditionExpression as string;
      checkAllUsed([keyCondition], names, values);
      expr.checkKeyCondition(keyCondition);
      const start = input.ExclusiveStartKey as Item | undefined;
      // In sort-key order, or its reverse (ScanIndexForward: false), after the start key in that direction.
      const backwards = input.ScanIndexForward === false;
      const ordered = this.table.filter((item) => expr.condition(keyCondition, item));
      if (backwards) ordered.reverse();
      const matching = ordered.filter((item) => !start || byteOrder(String(item.sk), String(start.sk)) * (backwards ? -1 : 1) > 0);
      const page = matching.slice(0, Math.min(this.pageSize, typeof input.Limit === 'number' ? input.Limit : Infinity));
      const last = page.at(-1);
      return { Items: page, ...(matching.length > page.length && last ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk } } : {}) };
    }
    throw new Error(`fake DynamoDB: unsupported command ${(command as object).constructor.name}`);
  }
}

/** The real `RecordStore`, its document client answered by a `FakeDynamo`. */
export function recordStoreOver(dynamo: FakeDynamo, retentionDays = 90): RecordStore {
  const from = vi.spyOn(DynamoDBDocumentClient, 'from').mockReturnValue(dynamo as unknown as DynamoDBDocumentClient);
  try {
    return new RecordStore({ tableName: 'phi-records', retentionDays, client: new DynamoDBClient({ region: 'us-east-1' }) });
  } finally {
    from.mockRestore();
  }
}

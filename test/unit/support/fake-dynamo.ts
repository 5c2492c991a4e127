/**
 * A DynamoDB document client in memory, for running the real `RecordStore` in unit tests. It evaluates
 * the subset of the expression language `functions/shared/records.ts` writes (and throws on anything
 * else, so a new form of expression is noticed rather than mis-evaluated):
 *  - conditions: `attribute_exists(p)`, `attribute_not_exists(p)`, `p = :v`, `p IN (:a, :b, …)`,
 *    `begins_with(p, :v)`, joined by AND / OR (AND binds tighter), in parentheses or not;
 *  - updates: `SET p = operand, …` with operands `:v`, a path, `if_not_exists(p, operand)` and
 *    `list_append(operand, operand)`, then an optional `REMOVE p, …`;
 *  - queries: a key condition over `pk` and `sk`, in sort-key (byte) order, `pageSize` items a page.
 * Like DynamoDB, it refuses expression attribute names or values that no expression uses, and a failed
 * condition throws `ConditionalCheckFailedException`. Like the document client told to
 * `removeUndefinedValues`, undefined fields are dropped.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { vi } from 'vitest';
import { RecordStore } from '../../../functions/shared/records/store.ts';

type Item = Record<string, unknown>;
type Names = Readonly<Record<string, string>>;
type Values = Readonly<Record<string, unknown>>;

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const keyOf = (key: Item): string => `${String(key.pk)}\u0000${String(key.sk)}`;
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

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
      const name = this.names[part];
      if (name === undefined) throw new Error(`fake DynamoDB: ${part} is not in ExpressionAttributeNames`);
      return name;
    });
  }

  value(token: string): unknown {
    if (!(token in this.values)) throw new Error(`fake DynamoDB: ${token} is not in ExpressionAttributeValues`);
    return this.values[token];
  }

  read(item: Item | undefined, path: readonly string[]): unknown {
    let at: unknown = item;
    for (const part of path) at = at !== null && typeof at === 'object' ? (at as Item)[part] : undefined;
    return at;
  }

  condition(text: string, item: Item | undefined): boolean {
    return splitTop(text, ' OR ').some((any) => splitTop(any, ' AND ').every((atom) => this.atom(atom, item)));
  }

  private atom(text: string, item: Item | undefined): boolean {
    if (text.startsWith('(') && text.endsWith(')')) return this.condition(text.slice(1, -1).trim(), item);
    let m = /^attribute_(not_)?exists\((.+)\)$/.exec(text);
    if (m) return (this.read(item, this.path(m[2]!.trim())) === undefined) === Boolean(m[1]);
    m = /^begins_with\((.+),\s*(:\w+)\)$/.exec(text);
    if (m) {
      const actual = this.read(item, this.path(m[1]!.trim()));
      return typeof actual === 'string' && actual.startsWith(String(this.value(m[2]!)));
    }
    m = /^(\S+) IN \((.+)\)$/.exec(text);
    if (m) {
      const actual = this.read(item, this.path(m[1]!));
      return m[2]!.split(',').some((token) => JSON.stringify(this.value(token.trim())) === JSON.stringify(actual));
    }
    m = /^(\S+) = (:\w+)$/.exec(text);
    if (m) {
      const actual = this.read(item, this.path(m[1]!));
      return actual !== undefined && JSON.stringify(actual) === JSON.stringify(this.value(m[2]!));
    }
    throw new Error(`fake DynamoDB: unsupported condition "${text}"`);
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

  /** The item after `update`, every operand read from the item as it was (as DynamoDB does). */
  update(text: string, before: Item): Item {
    const m = /^SET (.+?)(?: REMOVE (.+))?$/.exec(text);
    if (!m) throw new Error(`fake DynamoDB: unsupported update "${text}"`);
    const after = copy(before);
    for (const clause of splitTop(m[1]!, ',')) {
      const eq = clause.indexOf(' = ');
      const path = this.path(clause.slice(0, eq));
      if (path.length !== 1) throw new Error(`fake DynamoDB: nested SET "${clause}"`);
      if (path[0] === 'pk' || path[0] === 'sk') throw new Error('fake DynamoDB: a key attribute cannot be updated');
      const value = this.operand(clause.slice(eq + 3).trim(), before);
      if (value !== undefined) after[path[0]!] = copy(value);
    }
    for (const removed of m[2] ? splitTop(m[2], ',') : []) {
      const path = this.path(removed);
      if (path.length !== 1) throw new Error(`fake DynamoDB: nested REMOVE "${removed}"`);
      delete after[path[0]!];
    }
    return after;
  }
}

/** DynamoDB refuses a request that declares names or values its expressions do not use. */
function checkAllUsed(expressions: readonly (string | undefined)[], names: Names = {}, values: Values = {}): void {
  const text = expressions.filter(Boolean).join('\n');
  for (const token of [...Object.keys(names), ...Object.keys(values)]) {
    if (!new RegExp(`${token}(?![A-Za-z0-9_])`).test(text)) throw new Error(`fake DynamoDB: ${token} is declared but not used in any expression`);
  }
}

function conditionFailed(): never {
  throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

/** The table (`pk`, `sk`) and the document client's `send` over it. */
export class FakeDynamo {
  private readonly items = new Map<string, Item>();
  /** Every command sent, in order (name and input), for tests that look at what was asked. */
  readonly sent: { command: string; input: Record<string, unknown> }[] = [];
  /** Errors the coming commands fail with, in turn, before doing anything (throttling, an outage). */
  readonly failures: Error[] = [];

  constructor(readonly pageSize = 2) {}

  /** The stored items, storage fields included, in key order. */
  get table(): Item[] {
    return [...this.items.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, item]) => copy(item));
  }

  readonly send = async (command: unknown): Promise<Record<string, unknown>> => {
    const input = copy((command as { input: Record<string, unknown> }).input);
    this.sent.push({ command: (command as object).constructor.name, input });
    const failure = this.failures.shift();
    if (failure) throw failure;
    const names = (input.ExpressionAttributeNames ?? {}) as Names;
    const values = (input.ExpressionAttributeValues ?? {}) as Values;
    const expr = new Expressions(names, values);
    const condition = input.ConditionExpression as string | undefined;

    if (command instanceof PutCommand) {
      checkAllUsed([condition], names, values);
      const item = input.Item as Item;
      const existing = this.items.get(keyOf(item));
      if (condition && !expr.condition(condition, existing)) conditionFailed();
      this.items.set(keyOf(item), item);
      return {};
    }
    if (command instanceof UpdateCommand) {
      const update = input.UpdateExpression as string;
      checkAllUsed([update, condition], names, values);
      const key = input.Key as Item;
      const existing = this.items.get(keyOf(key));
      if (condition && !expr.condition(condition, existing)) conditionFailed();
      this.items.set(keyOf(key), expr.update(update, existing ?? { ...key }));
      return {};
    }
    if (command instanceof GetCommand) {
      const item = this.items.get(keyOf(input.Key as Item));
      return item ? { Item: copy(item) } : {};
    }
    if (command instanceof DeleteCommand) {
      this.items.delete(keyOf(input.Key as Item));
      return {};
    }
    if (command instanceof QueryCommand) {
      const keyCondition = input.KeyConditionExpression as string;
      checkAllUsed([keyCondition], names, values);
      const start = input.ExclusiveStartKey as Item | undefined;
      const matching = this.table.filter((item) => expr.condition(keyCondition, item)).filter((item) => !start || byteOrder(String(item.sk), String(start.sk)) > 0);
      const page = matching.slice(0, this.pageSize);
      const last = page.at(-1);
      return { Items: page, ...(matching.length > page.length && last ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk } } : {}) };
    }
    throw new Error(`fake DynamoDB: unsupported command ${(command as object).constructor.name}`);
  };
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

/**
 * DynamoDB update and condition expressions built from named parts, every attribute name aliased
 * (DynamoDB reserves hundreds of words: status, trigger, parameters, …), and conditional writes whose
 * failed condition the caller sees as `false`.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/** A failed condition: of a single write, or of one item of a transaction (which then wrote nothing). */
export const isConditionFailure = (err: unknown): boolean =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string }).name === 'ConditionalCheckFailedException' ||
  ((err as { name?: string }).name === 'TransactionCanceledException' &&
    ((err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed'));

/** Runs a conditional write; `false` when its condition did not hold (the write was a no-op). */
export async function conditionally(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/**
 * An update from named parts, every attribute name aliased (DynamoDB reserves hundreds of words:
 * status, trigger, parameters, …), with an optional condition written over the same names as `#name`.
 */
export function update(parts: {
  set?: Record<string, unknown>;
  setIfAbsent?: Record<string, unknown>;
  append?: Record<string, unknown[]>;
  /** `ADD`: a number to add, or a set of strings to join (the attribute is created when absent). */
  add?: Record<string, number | ReadonlySet<string>>;
  remove?: readonly string[];
  condition?: { expression: string; names: readonly string[]; values?: Record<string, unknown> };
}): { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown>; ConditionExpression?: string } {
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
  const added: string[] = [];
  for (const [field, value] of Object.entries(parts.add ?? {})) {
    const [name, val] = slot(field, value);
    added.push(`${name} ${val}`);
  }
  const removed = (parts.remove ?? []).map((field) => {
    names[`#r${field}`] = field;
    return `#r${field}`;
  });
  const condition = parts.condition;
  for (const name of condition?.names ?? []) names[`#${name}`] = name;
  return {
    UpdateExpression: [clauses.length > 0 ? `SET ${clauses.join(', ')}` : '', added.length > 0 ? `ADD ${added.join(', ')}` : '', removed.length > 0 ? `REMOVE ${removed.join(', ')}` : ''].filter(Boolean).join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ...values, ...condition?.values },
    ...(condition ? { ConditionExpression: condition.expression } : {}),
  };
}


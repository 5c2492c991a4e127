/**
 * The in-memory DynamoDB document client (`support/fake-dynamo.ts`) against what DynamoDB and the
 * document client do, one behaviour a test.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { FakeDynamo } from './support/fake-dynamo.ts';

const TableName = 'phi-records';
const KEY = { pk: 'RUN#r1', sk: 'STATE#extract' };
const OTHER = { pk: 'RUN#r1', sk: 'STATE#load' };

/** The error a promise rejects with (undefined when it resolves). */
const caught = (promise: Promise<unknown>): Promise<unknown> => promise.then(
  () => undefined,
  (err: unknown) => err,
);

/** A fake holding `item` under KEY. */
async function holding(item: Record<string, unknown>): Promise<FakeDynamo> {
  const fake = new FakeDynamo();
  await fake.send(new PutCommand({ TableName, Item: { ...KEY, ...item } }));
  return fake;
}

const get = async (fake: FakeDynamo, key: Record<string, unknown> = KEY): Promise<unknown> => (await fake.send(new GetCommand({ TableName, Key: key }))).Item;

describe('FakeDynamo: UpdateCommand ReturnValues', () => {
  it('ALL_NEW answers the whole item after the update, key included', async () => {
    const fake = await holding({ status: 'RUNNING', attempts: 1 });
    const out = await fake.send(
      new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'DONE' }, ReturnValues: 'ALL_NEW' }),
    );
    expect(out).toEqual({ Attributes: { ...KEY, status: 'DONE', attempts: 1 } });
  });

  it('ALL_OLD answers the whole item as it was before the update', async () => {
    const fake = await holding({ status: 'RUNNING' });
    const out = await fake.send(
      new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'DONE' }, ReturnValues: 'ALL_OLD' }),
    );
    expect(out).toEqual({ Attributes: { ...KEY, status: 'RUNNING' } });
  });

  it('ALL_OLD answers no Attributes when the update created the item', async () => {
    const fake = new FakeDynamo();
    const out = await fake.send(
      new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'DONE' }, ReturnValues: 'ALL_OLD' }),
    );
    expect(out).toEqual({});
    expect(await get(fake)).toEqual({ ...KEY, status: 'DONE' });
  });

  it('UPDATED_NEW answers only the attributes the update touched', async () => {
    const fake = await holding({ status: 'RUNNING', note: 'x' });
    const out = await fake.send(
      new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'DONE' }, ReturnValues: 'UPDATED_NEW' }),
    );
    expect(out).toEqual({ Attributes: { status: 'DONE' } });
  });

  it('PutCommand answers the replaced item with ReturnValues ALL_OLD, and refuses ALL_NEW as DynamoDB does', async () => {
    const fake = await holding({ status: 'RUNNING' });
    expect(await fake.send(new PutCommand({ TableName, Item: { ...KEY, status: 'DONE' }, ReturnValues: 'ALL_OLD' }))).toEqual({ Attributes: { ...KEY, status: 'RUNNING' } });
    await expect(fake.send(new PutCommand({ TableName, Item: { ...KEY }, ReturnValues: 'ALL_NEW' }))).rejects.toMatchObject({ name: 'ValidationException' });
  });
});

describe('FakeDynamo: ReturnValuesOnConditionCheckFailure', () => {
  const failingUpdate = (onFailure?: 'ALL_OLD' | 'NONE') =>
    new UpdateCommand({
      TableName,
      Key: KEY,
      UpdateExpression: 'SET #s = :done',
      ConditionExpression: '#s = :running',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':done': 'DONE', ':running': 'RUNNING' },
      ...(onFailure ? { ReturnValuesOnConditionCheckFailure: onFailure } : {}),
    });

  it('an Update whose condition fails with ALL_OLD throws ConditionalCheckFailedException carrying the existing item, marshalled as the document client leaves it', async () => {
    const fake = await holding({ status: 'FAILED', tags: new Set(['a']), attempts: 2 });
    const err = await caught(fake.send(failingUpdate('ALL_OLD')));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    // The document client unmarshalls outputs only, not errors: Item is in DynamoDB's wire format.
    expect((err as ConditionalCheckFailedException).Item).toEqual({ pk: { S: KEY.pk }, sk: { S: KEY.sk }, status: { S: 'FAILED' }, tags: { SS: ['a'] }, attempts: { N: '2' } });
    expect(await get(fake)).toEqual({ ...KEY, status: 'FAILED', tags: new Set(['a']), attempts: 2 });
  });

  it('a Put whose condition fails with ALL_OLD throws carrying the existing item', async () => {
    const fake = await holding({ status: 'FAILED' });
    const err = await caught(fake.send(new PutCommand({ TableName, Item: { ...KEY, status: 'NEW' }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect((err as ConditionalCheckFailedException).Item).toEqual({ pk: { S: KEY.pk }, sk: { S: KEY.sk }, status: { S: 'FAILED' } });
  });

  it('a failed condition without ALL_OLD carries no Item', async () => {
    const fake = await holding({ status: 'FAILED' });
    const err = await caught(fake.send(failingUpdate()));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect((err as ConditionalCheckFailedException).Item).toBeUndefined();
  });

  it('a failed condition with ALL_OLD on an item that does not exist carries no Item', async () => {
    const err = await caught(new FakeDynamo().send(failingUpdate('ALL_OLD')));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect((err as ConditionalCheckFailedException).Item).toBeUndefined();
  });
});

describe('FakeDynamo: ADD and DELETE in update expressions', () => {
  const add = (fake: FakeDynamo, value: unknown, extra: Partial<ConstructorParameters<typeof UpdateCommand>[0]> = {}) =>
    fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'ADD #n :v', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':v': value }, ...extra }));

  it('ADD to a missing number attribute sets it to the value (missing counts 0)', async () => {
    const fake = await holding({});
    await add(fake, 5);
    expect(await get(fake)).toEqual({ ...KEY, n: 5 });
  });

  it('ADD to a missing item creates it with the key and the number', async () => {
    const fake = new FakeDynamo();
    await add(fake, 1);
    expect(fake.table).toEqual([{ ...KEY, n: 1 }]);
  });

  it('ADD to an existing number adds to it', async () => {
    const fake = await holding({ n: 5 });
    await add(fake, -2);
    expect(await get(fake)).toEqual({ ...KEY, n: 3 });
  });

  it('ADD of a string set twice is idempotent (a union)', async () => {
    const fake = await holding({});
    await add(fake, new Set(['up:extract', 'up:load']));
    await add(fake, new Set(['up:extract', 'up:load']));
    expect(await get(fake)).toEqual({ ...KEY, n: new Set(['up:extract', 'up:load']) });
  });

  it('ADD of a string set joins the existing set', async () => {
    const fake = await holding({ n: new Set(['a']) });
    await add(fake, new Set(['b']));
    expect(await get(fake)).toEqual({ ...KEY, n: new Set(['a', 'b']) });
  });

  it('ALL_NEW after ADD shows the string set as a Set with its size', async () => {
    const fake = await holding({ n: new Set(['a']) });
    const out = await add(fake, new Set(['a', 'b']), { ReturnValues: 'ALL_NEW' });
    const attributes = out.Attributes as Record<string, unknown>;
    expect(attributes.n).toBeInstanceOf(Set);
    expect((attributes.n as Set<string>).size).toBe(2);
    expect(attributes.n).toEqual(new Set(['a', 'b']));
  });

  it('the table and Get answer string sets as Sets, copies that do not change what is stored', async () => {
    const fake = await holding({ n: new Set(['a']) });
    const [row] = fake.table;
    expect(row?.n).toBeInstanceOf(Set);
    (row?.n as Set<string>).add('mutated');
    const item = (await get(fake)) as Record<string, unknown>;
    expect(item.n).toEqual(new Set(['a']));
  });

  it('takes SET, ADD and REMOVE sections in any order', async () => {
    const fake = await holding({ gone: 'x', n: 1 });
    await fake.send(
      new UpdateCommand({
        TableName,
        Key: KEY,
        UpdateExpression: 'REMOVE #gone ADD #n :one, #deps :deps SET #s = :s',
        ExpressionAttributeNames: { '#gone': 'gone', '#n': 'n', '#deps': 'deps', '#s': 'status' },
        ExpressionAttributeValues: { ':one': 1, ':deps': new Set(['extract']), ':s': 'READY' },
      }),
    );
    expect(await get(fake)).toEqual({ ...KEY, n: 2, deps: new Set(['extract']), status: 'READY' });
  });

  it('refuses a section keyword used twice', async () => {
    const fake = await holding({});
    const twice = fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'ADD #a :v ADD #b :v', ExpressionAttributeNames: { '#a': 'a', '#b': 'b' }, ExpressionAttributeValues: { ':v': 1 } }));
    await expect(twice).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('"ADD" section can only be used once') });
  });

  it('refuses two actions on the same attribute (overlapping paths)', async () => {
    const fake = await holding({});
    const overlap = fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #a = :v ADD #b :v', ExpressionAttributeNames: { '#a': 'n', '#b': 'n' }, ExpressionAttributeValues: { ':v': 1 } }));
    await expect(overlap).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('overlap') });
  });

  it('refuses ADD of a value that is neither a number nor a set', async () => {
    await expect(add(await holding({}), 'one')).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('refuses ADD of a number to a string set (an operand of the wrong type)', async () => {
    await expect(add(await holding({ n: new Set(['a']) }), 1)).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('incorrect data type') });
  });

  it('refuses ADD to a key attribute', async () => {
    const fake = await holding({});
    const onKey = fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'ADD #k :v', ExpressionAttributeNames: { '#k': 'sk' }, ExpressionAttributeValues: { ':v': new Set(['x']) } }));
    await expect(onKey).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('part of the key') });
  });

  it('DELETE takes elements out of a set', async () => {
    const fake = await holding({ n: new Set(['a', 'b', 'c']) });
    await fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'DELETE #n :v', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':v': new Set(['a', 'z']) } }));
    expect(await get(fake)).toEqual({ ...KEY, n: new Set(['b', 'c']) });
  });

  it('DELETE of every element removes the attribute (DynamoDB keeps no empty set)', async () => {
    const fake = await holding({ n: new Set(['a']) });
    await fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'DELETE #n :v', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':v': new Set(['a']) } }));
    expect(await get(fake)).toEqual({ ...KEY });
  });
});

describe('FakeDynamo: SET', () => {
  it('sets a top-level attribute whose name (given through #alias) has any characters', async () => {
    const fake = await holding({});
    await fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #u = :v', ExpressionAttributeNames: { '#u': 'up:extract' }, ExpressionAttributeValues: { ':v': 'done' } }));
    expect(await get(fake)).toEqual({ ...KEY, 'up:extract': 'done' });
  });

  it('refuses a SET whose operand is an attribute the item does not have', async () => {
    const fake = await holding({});
    const absent = fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #a = #b', ExpressionAttributeNames: { '#a': 'a', '#b': 'b' } }));
    await expect(absent).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('does not exist in the item') });
  });
});

describe('FakeDynamo: conditions', () => {
  /** Whether a conditional Put over the held item succeeds. */
  async function holds(item: Record<string, unknown>, condition: string, values: Record<string, unknown> = {}, names: Record<string, string> = {}): Promise<boolean> {
    const fake = await holding(item);
    const err = await caught(
      fake.send(
        new PutCommand({
          TableName,
          Item: { ...KEY, replaced: true },
          ConditionExpression: condition,
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      ),
    );
    if (err && !(err instanceof ConditionalCheckFailedException)) throw err;
    return err === undefined;
  }

  it('size() of a set is its element count', async () => {
    expect(await holds({ s: new Set(['a', 'b']) }, 'size(#s) = :n', { ':n': 2 }, { '#s': 's' })).toBe(true);
    expect(await holds({ s: new Set(['a', 'b']) }, 'size(#s) = :n', { ':n': 3 }, { '#s': 's' })).toBe(false);
  });

  it('size() of a string is its length, of a list its elements, of a map its keys', async () => {
    expect(await holds({ s: 'abcd' }, 'size(#s) = :n', { ':n': 4 }, { '#s': 's' })).toBe(true);
    expect(await holds({ s: [1, 2, 3] }, 'size(#s) = :n', { ':n': 3 }, { '#s': 's' })).toBe(true);
    expect(await holds({ s: { a: 1, b: 2 } }, 'size(#s) = :n', { ':n': 2 }, { '#s': 's' })).toBe(true);
  });

  it('size() compares with every comparator', async () => {
    const item = { s: new Set(['a', 'b']) };
    const results = await Promise.all(['<', '<=', '>', '>=', '<>'].map((op) => holds(item, `size(#s) ${op} :n`, { ':n': 2 }, { '#s': 's' })));
    expect(results).toEqual([false, true, false, true, false]);
  });

  it('compares numbers numerically with <, <=, >, >=, <>', async () => {
    const results = await Promise.all(['<', '<=', '>', '>=', '<>'].map((op) => holds({ n: 10 }, `#n ${op} :v`, { ':v': 9 }, { '#n': 'n' })));
    expect(results).toEqual([false, false, true, true, true]);
  });

  it('compares strings by their bytes', async () => {
    expect(await holds({ at: '2024-01-02' }, '#a > :v', { ':v': '2024-01-01' }, { '#a': 'at' })).toBe(true);
    expect(await holds({ at: 'Z' }, '#a < :v', { ':v': 'a' }, { '#a': 'at' })).toBe(true);
  });

  it('a comparison of different types is false, and an absent attribute is unequal to any value', async () => {
    expect(await holds({ n: '10' }, '#n > :v', { ':v': 9 }, { '#n': 'n' })).toBe(false);
    expect(await holds({}, '#n < :v', { ':v': 9 }, { '#n': 'n' })).toBe(false);
    expect(await holds({}, '#n <> :v', { ':v': 9 }, { '#n': 'n' })).toBe(true);
  });

  it('NOT before a function negates it', async () => {
    expect(await holds({}, 'NOT attribute_exists(#x)', {}, { '#x': 'x' })).toBe(true);
    expect(await holds({ x: 1 }, 'NOT attribute_exists(#x)', {}, { '#x': 'x' })).toBe(false);
  });

  it('NOT binds tighter than AND and OR', async () => {
    expect(await holds({ x: 1 }, 'NOT attribute_exists(#x) OR #x = :one', { ':one': 1 }, { '#x': 'x' })).toBe(true);
    expect(await holds({ x: 1 }, 'NOT (attribute_exists(#x) AND #x = :one)', { ':one': 1 }, { '#x': 'x' })).toBe(false);
  });

  it('contains() finds an element of a set, of a list, and a substring', async () => {
    expect(await holds({ s: new Set(['a', 'b']) }, 'contains(#s, :v)', { ':v': 'b' }, { '#s': 's' })).toBe(true);
    expect(await holds({ s: new Set(['a', 'b']) }, 'contains(#s, :v)', { ':v': 'c' }, { '#s': 's' })).toBe(false);
    expect(await holds({ s: ['x', 'y'] }, 'contains(#s, :v)', { ':v': 'y' }, { '#s': 's' })).toBe(true);
    expect(await holds({ s: 'hello' }, 'contains(#s, :v)', { ':v': 'ell' }, { '#s': 's' })).toBe(true);
    expect(await holds({}, 'contains(#s, :v)', { ':v': 'a' }, { '#s': 's' })).toBe(false);
  });

  it('= compares sets regardless of order', async () => {
    expect(await holds({ s: new Set(['a', 'b']) }, '#s = :v', { ':v': new Set(['b', 'a']) }, { '#s': 's' })).toBe(true);
    expect(await holds({ s: new Set(['a', 'b']) }, '#s = :v', { ':v': new Set(['a']) }, { '#s': 's' })).toBe(false);
  });

  it('refuses an ordering comparison with a value that is not a number or a string', async () => {
    await expect(holds({ n: 1 }, '#n < :v', { ':v': true }, { '#n': 'n' })).rejects.toMatchObject({ name: 'ValidationException' });
  });
});

describe('FakeDynamo: BatchGetCommand', () => {
  it('answers the items of present keys, leaves missing keys out, and has no UnprocessedKeys', async () => {
    const fake = await holding({ status: 'RUNNING' });
    const out = await fake.send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: [KEY, OTHER], ConsistentRead: true } } }));
    expect(out).toEqual({ Responses: { [TableName]: [{ ...KEY, status: 'RUNNING' }] }, UnprocessedKeys: {} });
  });

  it('answers an empty list when no key is present', async () => {
    const out = await new FakeDynamo().send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: [KEY] } } }));
    expect(out).toEqual({ Responses: { [TableName]: [] }, UnprocessedKeys: {} });
  });

  it('refuses more than 100 keys a request', async () => {
    const keys = Array.from({ length: 101 }, (_, i) => ({ pk: 'RUN#r1', sk: `STATE#job${i}` }));
    const fake = new FakeDynamo();
    await expect(fake.send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: keys.slice(0, 100) } } }))).resolves.toBeDefined();
    await expect(fake.send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: keys } } }))).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('Too many items') });
  });

  it('refuses a key asked twice', async () => {
    await expect(new FakeDynamo().send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: [KEY, { ...KEY }] } } }))).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('duplicates') });
  });

  it('projects top-level attributes with ProjectionExpression', async () => {
    const fake = await holding({ status: 'RUNNING', big: 'x' });
    const out = await fake.send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: [KEY], ProjectionExpression: 'sk, #s', ExpressionAttributeNames: { '#s': 'status' } } } }));
    expect(out.Responses).toEqual({ [TableName]: [{ sk: KEY.sk, status: 'RUNNING' }] });
  });
});

describe('FakeDynamo: DeleteCommand with a ConditionExpression', () => {
  it('deletes the item when the condition holds', async () => {
    const fake = await holding({ status: 'DONE' });
    await fake.send(new DeleteCommand({ TableName, Key: KEY, ConditionExpression: '#s = :done', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':done': 'DONE' } }));
    expect(fake.table).toEqual([]);
  });

  it('keeps the item and throws ConditionalCheckFailedException when the condition fails', async () => {
    const fake = await holding({ status: 'RUNNING' });
    const err = await caught(fake.send(new DeleteCommand({ TableName, Key: KEY, ConditionExpression: '#s = :done', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':done': 'DONE' } })));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect(fake.table).toEqual([{ ...KEY, status: 'RUNNING' }]);
  });

  it('fails a condition on an item that does not exist (attribute_exists)', async () => {
    const err = await caught(new FakeDynamo().send(new DeleteCommand({ TableName, Key: KEY, ConditionExpression: 'attribute_exists(pk)' })));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('answers the deleted item with ReturnValues ALL_OLD', async () => {
    const fake = await holding({ status: 'DONE' });
    expect(await fake.send(new DeleteCommand({ TableName, Key: KEY, ReturnValues: 'ALL_OLD' }))).toEqual({ Attributes: { ...KEY, status: 'DONE' } });
  });
});

describe('FakeDynamo: fault hooks', () => {
  const write = (fake: FakeDynamo) => fake.send(new PutCommand({ TableName, Item: { ...KEY, status: 'DONE' } }));

  it('failures: the command throws before doing anything', async () => {
    const fake = new FakeDynamo();
    fake.failures.push(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(write(fake)).rejects.toThrow('Rate exceeded');
    expect(fake.table).toEqual([]);
  });

  it('failAfter: the write is applied, then the caller sees the error', async () => {
    const fake = new FakeDynamo();
    fake.failAfter.push(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    await expect(write(fake)).rejects.toThrow('socket hang up');
    expect(fake.table).toEqual([{ ...KEY, status: 'DONE' }]);
    await expect(write(fake)).resolves.toEqual({});
  });

  it('failAfter is left for the next command by one that fails its condition', async () => {
    const fake = await holding({ status: 'RUNNING' });
    fake.failAfter.push(new Error('late'));
    const conditional = fake.send(new PutCommand({ TableName, Item: { ...KEY }, ConditionExpression: 'attribute_not_exists(pk)' }));
    await expect(conditional).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(write(fake)).rejects.toThrow('late');
    expect(fake.table).toEqual([{ ...KEY, status: 'DONE' }]);
  });
});

describe('FakeDynamo: what it does not support still throws', () => {
  it('throws on condition syntax it does not evaluate (BETWEEN), even after an OR already true', async () => {
    const fake = new FakeDynamo();
    const between = fake.send(
      new PutCommand({ TableName, Item: { ...KEY }, ConditionExpression: 'attribute_not_exists(pk) OR #n BETWEEN :a AND :b', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':a': 1, ':b': 2 } }),
    );
    await expect(between).rejects.toThrow(/fake DynamoDB: unsupported condition/);
    expect(fake.table).toEqual([]);
  });

  it('throws on update syntax it does not evaluate (arithmetic, nested paths)', async () => {
    const fake = await holding({ n: 1, m: { a: 1 } });
    await expect(fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'SET #n = #n + :one', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':one': 1 } }))).rejects.toThrow(
      /fake DynamoDB: unsupported path/,
    );
    await expect(fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'ADD #m.#a :one', ExpressionAttributeNames: { '#m': 'm', '#a': 'a' }, ExpressionAttributeValues: { ':one': 1 } }))).rejects.toThrow(
      /fake DynamoDB: nested ADD/,
    );
  });

  it('refuses a declared name or value no expression uses', async () => {
    const fake = new FakeDynamo();
    const unused = fake.send(new UpdateCommand({ TableName, Key: KEY, UpdateExpression: 'ADD #n :v', ExpressionAttributeNames: { '#n': 'n', '#x': 'x' }, ExpressionAttributeValues: { ':v': 1 } }));
    await expect(unused).rejects.toThrow('#x is declared but not used');
  });

  it('throws on a parameter it would otherwise ignore (FilterExpression)', async () => {
    const query = new QueryCommand({ TableName, KeyConditionExpression: 'pk = :pk', FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':pk': KEY.pk, ':s': 'x' } });
    await expect(new FakeDynamo().send(query)).rejects.toThrow('unsupported parameter FilterExpression');
  });

  it('throws on a key condition DynamoDB would not take (<> on the sort key)', async () => {
    const query = new QueryCommand({ TableName, KeyConditionExpression: 'pk = :pk AND sk <> :sk', ExpressionAttributeValues: { ':pk': KEY.pk, ':sk': KEY.sk } });
    await expect(new FakeDynamo().send(query)).rejects.toThrow('unsupported key condition');
  });

  it('throws on values the document client cannot marshal (an empty set)', async () => {
    await expect(new FakeDynamo().send(new PutCommand({ TableName, Item: { ...KEY, s: new Set() } }))).rejects.toThrow('empty set');
  });
});

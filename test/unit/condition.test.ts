/**
 * The dependency-condition language: parsing (grammar, precedence, every error with its offset, the
 * limits, the paths a condition reads) and evaluation (paths, equality, ordering, truthiness,
 * short-circuiting), and that neither ever throws.
 */
import { describe, expect, it } from 'vitest';
import { evaluateCondition, parseCondition, type Condition, type ConditionError } from '../../lib/model/condition.ts';

function parsed(source: string): Condition {
  const result = parseCondition(source);
  if (!result.ok) throw new Error(`${JSON.stringify(source)} does not parse: ${result.error.message}`);
  return result.condition;
}

function errorOf(source: string): ConditionError {
  const result = parseCondition(source);
  if (result.ok) throw new Error(`${JSON.stringify(source)} parses, but should not`);
  return result.error;
}

const holds = (source: string, outputs: unknown): boolean => evaluateCondition(parsed(source), outputs);

const path = (text: string, ...segments: (string | number)[]): Condition => ({ kind: 'path', path: text, segments });

describe('comparison operators', () => {
  it.each([
    ['rows == 12', true],
    ['rows == 13', false],
    ['rows != 13', true],
    ['rows != 12', false],
    ['rows < 13', true],
    ['rows < 12', false],
    ['rows <= 12', true],
    ['rows <= 11', false],
    ['rows > 11', true],
    ['rows > 12', false],
    ['rows >= 12', true],
    ['rows >= 13', false],
    ['status == "ok"', true],
    ["status == 'ok'", true],
    ['status != "ok"', false],
    ['ratio == 2.5', true],
    ['delta == -3', true],
    ['delta > -4', true],
    ['delta>-4', true],
    ['zero == 0', true],
    ['done == true', true],
    ['done != false', true],
    ['nothing == null', true],
  ])('%s is %s', (source, expected) => {
    const outputs = { rows: 12, status: 'ok', ratio: 2.5, delta: -3, zero: 0, done: true, nothing: null };
    expect(holds(source, outputs)).toBe(expected);
  });

  it('compares a literal on the left with a path on the right', () => {
    expect(holds('0 < rows', { rows: 1 })).toBe(true);
    expect(holds('"ok" == status', { status: 'ok' })).toBe(true);
  });

  it('compares two literals', () => {
    expect(holds('1 < 2', {})).toBe(true);
    expect(holds('"a" == "a"', {})).toBe(true);
    expect(holds('null == null', {})).toBe(true);
  });

  it('builds a compare node whose operator and sides are as written', () => {
    expect(parsed('rows >= 0')).toEqual({ kind: 'compare', operator: '>=', left: path('rows', 'rows'), right: { kind: 'literal', value: 0 } });
  });
});

describe('precedence', () => {
  it('reads a || b && c as a || (b && c)', () => {
    expect(parsed('a || b && c')).toEqual({
      kind: 'or',
      operands: [path('a', 'a'), { kind: 'and', operands: [path('b', 'b'), path('c', 'c')] }],
    });
    // (a || b) && c would be false here.
    expect(holds('a || b && c', { a: true, b: false, c: false })).toBe(true);
  });

  it('reads a && b || c as (a && b) || c', () => {
    expect(holds('a && b || c', { a: false, b: false, c: true })).toBe(true);
  });

  it('reads !a == b as !(a == b), as the grammar says (unlike C)', () => {
    expect(parsed('!a == b')).toEqual({
      kind: 'not',
      operand: { kind: 'compare', operator: '==', left: path('a', 'a'), right: path('b', 'b') },
    });
    expect(holds('!a == b', { a: 1, b: 1 })).toBe(false);
    expect(holds('!a == b', { a: 1, b: 2 })).toBe(true);
  });

  it('applies ! to the nearest comparison, not to a whole && chain', () => {
    expect(parsed('!a && b')).toEqual({ kind: 'and', operands: [{ kind: 'not', operand: path('a', 'a') }, path('b', 'b')] });
    expect(holds('!a && b', { a: false, b: true })).toBe(true);
  });

  it('lets parentheses override precedence', () => {
    expect(holds('(a || b) && c', { a: true, b: false, c: false })).toBe(false);
    expect(holds('(!a) == b', { a: 0, b: true })).toBe(true);
    expect(holds('!(a && b)', { a: true, b: false })).toBe(true);
  });

  it('allows ! to be repeated', () => {
    expect(holds('!!a', { a: 'x' })).toBe(true);
    expect(holds('!!!a', { a: 'x' })).toBe(false);
  });

  it('flattens a chain of && (and of ||) into one node', () => {
    expect(parsed('a && b && c')).toEqual({ kind: 'and', operands: [path('a', 'a'), path('b', 'b'), path('c', 'c')] });
    expect(parsed('a || b || c')).toEqual({ kind: 'or', operands: [path('a', 'a'), path('b', 'b'), path('c', 'c')] });
  });

  it('compares the boolean value of a parenthesised condition', () => {
    expect(holds('(rows > 0) == true', { rows: 3 })).toBe(true);
    expect(holds('(rows > 0) == false', { rows: 3 })).toBe(false);
  });
});

describe('literals and whitespace', () => {
  it('reads numbers: integers, decimals, negatives, leading zeros', () => {
    expect(parsed('0')).toEqual({ kind: 'literal', value: 0 });
    expect(parsed('12')).toEqual({ kind: 'literal', value: 12 });
    expect(parsed('-3')).toEqual({ kind: 'literal', value: -3 });
    expect(parsed('2.5')).toEqual({ kind: 'literal', value: 2.5 });
    expect(parsed('-0.25')).toEqual({ kind: 'literal', value: -0.25 });
    expect(parsed('007')).toEqual({ kind: 'literal', value: 7 });
  });

  it('reads true, false and null as keywords, not paths', () => {
    expect(parsed('true')).toEqual({ kind: 'literal', value: true });
    expect(parsed('false')).toEqual({ kind: 'literal', value: false });
    expect(parsed('null')).toEqual({ kind: 'literal', value: null });
    expect(holds('true', { true: false })).toBe(true);
    expect(parseCondition('true && null == false')).toMatchObject({ ok: true, paths: [] });
  });

  it('reads identifiers that merely start with a keyword as paths', () => {
    expect(parsed('nullable')).toEqual(path('nullable', 'nullable'));
    expect(parsed('true_count')).toEqual(path('true_count', 'true_count'));
    expect(parsed('True')).toEqual(path('True', 'True'));
  });

  it.each([
    [String.raw`s == "a\"b"`, 'a"b'],
    [String.raw`s == 'a\'b'`, "a'b"],
    [String.raw`s == "a\\b"`, 'a\\b'],
    [String.raw`s == "a\nb"`, 'a\nb'],
    [String.raw`s == "a\tb"`, 'a\tb'],
    [String.raw`s == "it's"`, "it's"],
    [String.raw`s == 'say "hi"'`, 'say "hi"'],
    [String.raw`s == ""`, ''],
    [String.raw`s == "&& || ( ) !"`, '&& || ( ) !'],
  ])('reads the string in %s', (source, value) => {
    expect(holds(source, { s: value })).toBe(true);
  });

  it('ignores whitespace, including tabs and newlines, between tokens', () => {
    expect(holds('  rows\t>\n0   &&\r\n( status==  "ok" )  ', { rows: 1, status: 'ok' })).toBe(true);
    expect(holds('rows>0&&status=="ok"', { rows: 1, status: 'ok' })).toBe(true);
  });
});

describe('paths', () => {
  const outputs = { rows: 12, meta: { files: ['a', 'b'], owner: { name: 'etl' } }, grid: [[1, 2], [3, 4]], list: [{ id: 7 }] };

  it('reads nested properties and array indexes', () => {
    expect(holds('meta.owner.name == "etl"', outputs)).toBe(true);
    expect(holds('meta.files[0] == "a"', outputs)).toBe(true);
    expect(holds('meta.files[1] == "b"', outputs)).toBe(true);
    expect(holds('grid[1][0] == 3', outputs)).toBe(true);
    expect(holds('list[0].id == 7', outputs)).toBe(true);
  });

  it('records each segment of a path in the tree', () => {
    expect(parsed('list[0].id')).toEqual(path('list[0].id', 'list', 0, 'id'));
  });

  it('treats a missing property, an index past the end and anything below a missing value as missing', () => {
    for (const source of ['nope', 'meta.nope', 'meta.files[2]', 'meta.nope.deeper', 'meta.files[5].x', 'rows.x']) {
      expect(holds(`${source} == null`, outputs), source).toBe(true);
      expect(holds(source, outputs), source).toBe(false);
    }
  });

  it('reads an index only from an array and a name only from an object', () => {
    expect(holds('meta.files.length == null', outputs)).toBe(true);
    expect(holds('obj[0] == null', { obj: { 0: 'x' } })).toBe(true);
    expect(holds('s[0] == null', { s: 'abc' })).toBe(true);
    expect(holds('s.length == null', { s: 'abc' })).toBe(true);
  });

  it('skips holes in sparse arrays', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(holds('a[1] == null', { a: [1, , 3] })).toBe(true);
  });

  it('treats inherited names such as constructor, __proto__ and toString as missing', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(holds(`${name} == null`, {}), name).toBe(true);
      expect(holds(name, {}), name).toBe(false);
      expect(holds(`meta.${name} == null`, { meta: {} }), name).toBe(true);
    }
    expect(holds('rows == null', Object.create({ rows: 5 }))).toBe(true);
  });

  it('reads constructor and __proto__ when the outputs really have them as own properties', () => {
    expect(holds('__proto__ == 5', JSON.parse('{"__proto__": 5}'))).toBe(true);
    expect(holds('constructor == "x"', { constructor: 'x' })).toBe(true);
  });

  it('reads outputs made without a prototype', () => {
    const outputs = Object.assign(Object.create(null) as Record<string, unknown>, { rows: 1 });
    expect(holds('rows == 1', outputs)).toBe(true);
  });

  it('allows keywords as property names after a dot', () => {
    expect(holds('flags.true == 1 && flags.null == 2', { flags: { true: 1, null: 2 } })).toBe(true);
  });

  it('reads every path as missing when the outputs are not an object', () => {
    for (const outputs of [undefined, null, 42, 'rows', true, [1, 2], () => 1]) {
      expect(holds('rows == null', outputs)).toBe(true);
      expect(holds('rows', outputs)).toBe(false);
    }
  });
});

describe('equality', () => {
  it('compares arrays element by element, in order', () => {
    expect(holds('a == b', { a: [1, 'x', null, [true]], b: [1, 'x', null, [true]] })).toBe(true);
    expect(holds('a == b', { a: [1, 2], b: [2, 1] })).toBe(false);
    expect(holds('a == b', { a: [1, 2], b: [1, 2, 3] })).toBe(false);
    expect(holds('a != b', { a: [1, 2], b: [1, 2, 3] })).toBe(true);
  });

  it('compares objects key by key, ignoring key order', () => {
    expect(holds('a == b', { a: { x: 1, y: { z: [1] } }, b: { y: { z: [1] }, x: 1 } })).toBe(true);
    expect(holds('a == b', { a: { x: 1 }, b: { x: 1, y: 2 } })).toBe(false);
    expect(holds('a == b', { a: { x: 1, y: 2 }, b: { x: 1, z: 2 } })).toBe(false);
    expect(holds('a == b', { a: { x: 1 }, b: { x: '1' } })).toBe(false);
  });

  it('never makes an array equal to an object', () => {
    expect(holds('a == b', { a: [], b: {} })).toBe(false);
    expect(holds('a == b', { a: { 0: 'x', length: 1 }, b: ['x'] })).toBe(false);
  });

  it('converts nothing: a number never equals a string or a boolean', () => {
    expect(holds('n == "1"', { n: 1 })).toBe(false);
    expect(holds('n == true', { n: 1 })).toBe(false);
    expect(holds('z == false', { z: 0 })).toBe(false);
    expect(holds('e == false', { e: '' })).toBe(false);
    expect(holds('n == 1.0', { n: 1 })).toBe(true);
  });

  it('makes a missing value equal to null and to another missing value, and to nothing else', () => {
    expect(holds('x == null', {})).toBe(true);
    expect(holds('null == x', {})).toBe(true);
    expect(holds('x == y', {})).toBe(true);
    expect(holds('x == n', { n: null })).toBe(true);
    for (const other of ['false', '0', '""', 'e', 'z']) {
      expect(holds(`x == ${other}`, { e: [], z: {} }), other).toBe(false);
      expect(holds(`x != ${other}`, { e: [], z: {} }), other).toBe(true);
    }
  });

  it('makes null unequal to false, 0 and ""', () => {
    expect(holds('n == false || n == 0 || n == ""', { n: null })).toBe(false);
  });
});

describe('ordering', () => {
  it('orders numbers numerically', () => {
    expect(holds('a < b', { a: 9, b: 10 })).toBe(true);
    expect(holds('a < b', { a: -1.5, b: -1 })).toBe(true);
  });

  it('orders strings by code units', () => {
    expect(holds('a < b', { a: '10', b: '9' })).toBe(true);
    expect(holds('a < b', { a: 'B', b: 'a' })).toBe(true);
    expect(holds('a < b', { a: 'ab', b: 'abc' })).toBe(true);
    expect(holds('a <= b && a >= b', { a: 'same', b: 'same' })).toBe(true);
  });

  it.each([
    ['a number and a string', 1, '2'],
    ['a string and a number', '1', 2],
    ['a number and null', 1, null],
    ['a number and a missing value', 1, undefined],
    ['two booleans', false, true],
    ['two arrays', [1], [2]],
    ['two objects', { a: 1 }, { a: 2 }],
    ['two nulls', null, null],
  ])('makes every ordering of %s false, never throwing', (_name, a, b) => {
    const outputs = b === undefined ? { a } : { a, b };
    for (const operator of ['<', '<=', '>', '>=']) {
      expect(holds(`a ${operator} b`, outputs), operator).toBe(false);
      expect(holds(`b ${operator} a`, outputs), operator).toBe(false);
    }
  });

  it('makes every comparison with NaN false except !=', () => {
    const outputs = { x: Number.NaN };
    for (const operator of ['<', '<=', '>', '>=', '==']) expect(holds(`x ${operator} x`, outputs), operator).toBe(false);
    expect(holds('x != 1', outputs)).toBe(true);
  });
});

describe('truthiness', () => {
  it.each([
    ['false', false, false],
    ['null', null, false],
    ['zero', 0, false],
    ['negative zero', -0, false],
    ['NaN', Number.NaN, false],
    ['the empty string', '', false],
    ['true', true, true],
    ['a non-zero number', -1, true],
    ['a non-empty string', 'no', true],
    ['the string "false"', 'false', true],
    ['the string "0"', '0', true],
    ['an empty array', [], true],
    ['an empty object', {}, true],
  ])('treats %s as %s', (_name, value, expected) => {
    expect(holds('v', { v: value })).toBe(expected);
    expect(holds('!v', { v: value })).toBe(!expected);
  });

  it('treats a missing value as false', () => {
    expect(holds('v', {})).toBe(false);
    expect(holds('!v', {})).toBe(true);
  });

  it('treats literals by the same rule', () => {
    expect(holds('0', {})).toBe(false);
    expect(holds('""', {})).toBe(false);
    expect(holds('"x"', {})).toBe(true);
    expect(holds('2.5', {})).toBe(true);
  });
});

describe('&& and ||', () => {
  it.each([
    [false, false, false, false],
    [false, true, false, true],
    [true, false, false, true],
    [true, true, true, true],
  ])('with a=%s and b=%s, a && b is %s and a || b is %s', (a, b, and, or) => {
    expect(holds('a && b', { a, b })).toBe(and);
    expect(holds('a || b', { a, b })).toBe(or);
  });

  it('produces booleans, not the deciding operand', () => {
    expect(holds('(a || b) == true', { a: 5, b: 0 })).toBe(true);
    expect(holds('(a || b) == 5', { a: 5, b: 0 })).toBe(false);
    expect(holds('(a && b) == false', { a: 5, b: 0 })).toBe(true);
  });

  it('short-circuits: stops reading operands once the result is decided', () => {
    let reads = 0;
    const outputs = {
      yes: true,
      no: false,
      get counted(): boolean {
        reads++;
        return true;
      },
    };
    expect(holds('yes || counted', outputs)).toBe(true);
    expect(holds('no && counted', outputs)).toBe(false);
    expect(reads).toBe(0);
    expect(holds('no || counted', outputs)).toBe(true);
    expect(reads).toBe(1);
  });
});

describe('parse errors', () => {
  it.each([
    ['', 'the condition is empty', 0],
    ['  \t\n', 'the condition is empty', 0],
    ['rows > 0 && && x', 'expected an operand at character 12, found "&&"', 12],
    ['&& a', 'expected an operand at character 0, found "&&"', 0],
    ['a ==', 'expected an operand at character 4, found the end of the condition', 4],
    ['a && ', 'expected an operand at character 5, found the end of the condition', 5],
    ['!', 'expected an operand at character 1, found the end of the condition', 1],
    ['()', 'expected an operand at character 1, found ")"', 1],
    ['a == ==', 'expected an operand at character 5, found "=="', 5],
    ['s == "ok', 'unterminated string starting at character 5', 5],
    ["s == 'ok\"", 'unterminated string starting at character 5', 5],
    ['s == "ok\\', 'unterminated string starting at character 5', 5],
    ['s == "a\\qb"', 'unknown escape "\\q" at character 7; a string may use \\" \\\' \\\\ \\n \\t', 7],
    ['(a && b))', 'unexpected ")" at character 8', 8],
    [')', 'expected an operand at character 0, found ")"', 0],
    ['a b', 'unexpected "b" at character 2', 2],
    ['x == "s" "t"', 'unexpected string "t" at character 9', 9],
    ['rows 12', 'unexpected "12" at character 5', 5],
    ['12abc', 'unexpected "abc" at character 2', 2],
    ['(a && b', 'expected ")" at character 7 to close the "(" at character 0, found the end of the condition', 7],
    ['(a b)', 'expected ")" at character 3 to close the "(" at character 0, found "b"', 3],
    ['a < b < c', 'unexpected "<" at character 6; comparisons do not chain, join them with && or ||', 6],
    ['a = 1', 'expected "==" at character 2, found "="', 2],
    ['a === 1', 'expected "==" at character 2, found "==="', 2],
    ['a !== 1', 'expected "!=" at character 2, found "!=="', 2],
    ['a & b', 'expected "&&" at character 2, found "&"', 2],
    ['a | b', 'expected "||" at character 2, found "|"', 2],
    ['a @ b', 'unexpected "@" at character 2', 2],
    ['a == 😀', 'unexpected "😀" at character 5', 5],
    ['x > - 3', 'expected a digit after "-" at character 5, found " "', 5],
    ['x > -', 'expected a digit after "-" at character 5, found the end of the condition', 5],
    ['x > 1.', 'expected a digit after "." at character 6, found the end of the condition', 6],
    ['x > 1.e', 'expected a digit after "." at character 6, found "e"', 6],
    ['x > .5', 'unexpected "." at character 4', 4],
    ['x > 1.2.3', 'unexpected "." at character 7', 7],
    [`x > ${'9'.repeat(400)}`, 'the number at character 4 is too large', 4],
    ['meta.', 'expected a property name after "." at character 5, found the end of the condition', 5],
    ['meta.1', 'expected a property name after "." at character 5, found "1"', 5],
    ['meta .files', 'unexpected "." at character 5', 5],
    ['files[]', 'expected an index (0, 1, 2...) after "[" at character 6, found "]"', 6],
    ['files[-1]', 'expected an index (0, 1, 2...) after "[" at character 6, found "-"', 6],
    ['files[ 0]', 'expected an index (0, 1, 2...) after "[" at character 6, found " "', 6],
    ['files[01]', 'expected an index without leading zeros at character 6, found "01"', 6],
    ['files[0', 'expected "]" at character 7, found the end of the condition', 7],
    ['files[0.5]', 'expected "]" at character 7, found "."', 7],
    ['files[99999999999999999999]', 'the index at character 6 is too large', 6],
    ['[0]', 'unexpected "[" at character 0', 0],
    ['true.x', 'unexpected "." at character 4', 4],
    ['null[0]', 'unexpected "[" at character 4', 4],
  ])('rejects %j: %s', (source, message, at) => {
    expect(errorOf(source)).toEqual({ message, at });
  });

  it('reports the first error in the source, even when a later token cannot be read', () => {
    expect(errorOf('&& "unterminated')).toEqual({ message: 'expected an operand at character 0, found "&&"', at: 0 });
    expect(errorOf('a && "unterminated')).toEqual({ message: 'unterminated string starting at character 5', at: 5 });
  });

  it('shortens a long token in a message', () => {
    const long = 'x'.repeat(100);
    expect(errorOf(`a ${long}`).message).toBe(`unexpected "${'x'.repeat(29)}…" at character 2`);
  });

  it('rejects a source that is not a string instead of throwing', () => {
    expect(errorOf(undefined as unknown as string)).toEqual({ message: 'a condition must be a string', at: 0 });
    expect(errorOf(42 as unknown as string)).toEqual({ message: 'a condition must be a string', at: 0 });
  });
});

describe('limits', () => {
  it('accepts 1000 characters and rejects 1001', () => {
    expect(parseCondition(`rows${' '.repeat(996)}`).ok).toBe(true);
    expect(errorOf(`rows${' '.repeat(997)}`)).toEqual({ message: 'a condition is at most 1000 characters, this one has 1001', at: 1000 });
  });

  it('accepts 32 nested parentheses and rejects 33 at the 33rd', () => {
    expect(holds(`${'('.repeat(32)}a${')'.repeat(32)}`, { a: 1 })).toBe(true);
    expect(errorOf(`${'('.repeat(33)}a${')'.repeat(33)}`)).toEqual({ message: 'nesting is deeper than 32 at character 32', at: 32 });
  });

  it('accepts 32 nested ! and rejects 33', () => {
    expect(holds(`${'!'.repeat(32)}a`, { a: 1 })).toBe(true);
    expect(errorOf(`${'!'.repeat(33)}a`)).toEqual({ message: 'nesting is deeper than 32 at character 32', at: 32 });
  });

  it('counts ! and parentheses together', () => {
    expect(parseCondition(`${'!('.repeat(16)}a${')'.repeat(16)}`).ok).toBe(true);
    expect(errorOf(`${'!('.repeat(16)}!a${')'.repeat(16)}`)).toEqual({ message: 'nesting is deeper than 32 at character 32', at: 32 });
    expect(errorOf(`!${'('.repeat(32)}a${')'.repeat(32)}`)).toEqual({ message: 'nesting is deeper than 32 at character 32', at: 32 });
  });

  it('counts only nesting, not groups side by side or long && and || chains', () => {
    const siblings = Array.from({ length: 40 }, (_, i) => `(!a${i})`).join(' && ');
    expect(parseCondition(siblings).ok).toBe(true);
    const chain = Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? 'a' : 'b')).join(' || ');
    expect(holds(chain, { b: 1 })).toBe(true);
  });

  it('checks the length before anything else', () => {
    expect(errorOf(`&& ${'x'.repeat(1000)}`).message).toBe('a condition is at most 1000 characters, this one has 1003');
  });
});

describe('paths read by a condition', () => {
  it('lists each path as written, once, in order of first appearance', () => {
    const result = parseCondition('rows > 0 && status == "ok" && meta.files[0] != null && rows < 10 && (meta.files[0] == other)');
    expect(result).toMatchObject({ ok: true, paths: ['rows', 'status', 'meta.files[0]', 'other'] });
  });

  it('leaves out keywords, numbers and strings that look like paths', () => {
    expect(parseCondition('x == "rows" && true && null == y')).toMatchObject({ ok: true, paths: ['x', 'y'] });
  });

  it('is empty for a condition of literals only', () => {
    expect(parseCondition('1 < 2')).toMatchObject({ ok: true, paths: [] });
  });

  it('keeps paths that differ only in where they stop apart', () => {
    expect(parseCondition('meta && meta.files && meta.files[0]')).toMatchObject({ paths: ['meta', 'meta.files', 'meta.files[0]'] });
  });
});

describe('the parsed condition', () => {
  it('survives a JSON round trip and evaluates the same', () => {
    const condition = parsed('!(rows <= 0) && (status == "ok" || meta.files[1] == \'b\')');
    const copy = JSON.parse(JSON.stringify(condition)) as Condition;
    expect(copy).toEqual(condition);
    for (const outputs of [{ rows: 1, status: 'ok' }, { rows: 1, meta: { files: ['a', 'b'] } }, { rows: 0, status: 'ok' }, {}]) {
      expect(evaluateCondition(copy, outputs)).toBe(evaluateCondition(condition, outputs));
    }
  });
});

describe('evaluateCondition never throws', () => {
  const condition = parsed('a.b[0] == 1 || a < b || !c || a == b');

  it('on outputs of any type', () => {
    const outputs: unknown[] = [undefined, null, 0, 1, '', 'text', true, [], [1, [2]], {}, Symbol('s'), 10n, () => 1, new Map([['a', 1]]), new Date(0)];
    for (const value of outputs) expect(() => evaluateCondition(condition, value)).not.toThrow();
  });

  it('returns false when reading the outputs throws', () => {
    const throwing = {
      get a(): never {
        throw new Error('boom');
      },
    };
    expect(evaluateCondition(parsed('a == 1'), throwing)).toBe(false);
    expect(evaluateCondition(parsed('!a'), throwing)).toBe(false);
    const proxy = new Proxy(
      {},
      {
        getOwnPropertyDescriptor: () => {
          throw new Error('trap');
        },
        get: () => {
          throw new Error('trap');
        },
      },
    );
    expect(evaluateCondition(parsed('!a'), proxy)).toBe(false);
  });

  it('returns false, without overflowing, when comparing distinct cyclic values', () => {
    const a: Record<string, unknown> = {};
    a['self'] = a;
    const b: Record<string, unknown> = {};
    b['self'] = b;
    expect(evaluateCondition(parsed('a == b'), { a, b })).toBe(false);
    expect(evaluateCondition(parsed('a == a'), { a })).toBe(true);
  });

  it('returns false for a tree that is not a condition', () => {
    expect(evaluateCondition({ kind: 'bogus' } as unknown as Condition, {})).toBe(false);
    expect(evaluateCondition({ kind: 'and' } as unknown as Condition, {})).toBe(false);
    expect(evaluateCondition(null as unknown as Condition, {})).toBe(false);
  });
});

describe('random sources (fixed-seed property check)', () => {
  /** A linear congruential generator: the same sequence on every run. */
  function lcg(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
  }

  const pick = <T,>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  const TOKENS = [
    'rows', 'status', 'meta.files[0]', 'meta.owner', 'a', 'b[1]', 'constructor', '__proto__', 'true', 'false', 'null',
    '0', '12', '-3', '2.5', '"ok"', "'x'", '""', '"a\\"b"', '&&', '||', '!', '==', '!=', '<', '<=', '>', '>=', '(', ')',
    '(', ')', '!', '&&', '==',
  ] as const;
  const JUNK = [...TOKENS, '=', '&', '|', '.', '[', ']', '-', '"', "'", '\\', '@', '01', 'x.', 'y[', '[9', '1.', ' '] as const;
  const OUTPUTS: readonly unknown[] = [
    { rows: 12, status: 'ok', meta: { files: ['a', 'b'], owner: null }, a: [1, 2], b: [0, { c: 1 }] },
    {},
    undefined,
    [1, 2, 3],
    'rows',
    JSON.parse('{"__proto__": {"x": 1}, "constructor": 0}'),
  ];

  function sourceFrom(random: () => number, vocabulary: readonly string[]): string {
    const length = 1 + Math.floor(random() * 14);
    const separator = (): string => (random() < 0.3 ? '' : ' ');
    return Array.from({ length }, () => pick(random, vocabulary) + separator()).join('');
  }

  function check(source: string): boolean {
    let result: ReturnType<typeof parseCondition> | undefined;
    expect(() => {
      result = parseCondition(source);
    }, source).not.toThrow();
    if (result === undefined) return false;
    if (!result.ok) {
      expect(result.error.message.length, source).toBeGreaterThan(0);
      expect(result.error.at, source).toBeGreaterThanOrEqual(0);
      expect(result.error.at, source).toBeLessThanOrEqual(source.length);
      return false;
    }
    for (const outputs of OUTPUTS) {
      let value: unknown;
      expect(() => {
        value = evaluateCondition(result?.ok ? result.condition : { kind: 'literal', value: null }, outputs);
      }, source).not.toThrow();
      expect(typeof value, source).toBe('boolean');
    }
    return true;
  }

  it('parseCondition never throws on token soup, and evaluateCondition never throws on what parses', () => {
    const random = lcg(20240601);
    let parsedCount = 0;
    for (let i = 0; i < 400; i++) if (check(sourceFrom(random, TOKENS))) parsedCount++;
    // The generator must reach both outcomes, or the check proves little.
    expect(parsedCount).toBeGreaterThan(20);
    expect(parsedCount).toBeLessThan(400);
  });

  it('parseCondition never throws on character soup, including broken strings, numbers and paths', () => {
    const random = lcg(7);
    let parsedCount = 0;
    for (let i = 0; i < 400; i++) if (check(sourceFrom(random, JUNK))) parsedCount++;
    expect(parsedCount).toBeGreaterThan(0);
  });

  it('lists in paths only text that parses on its own as a condition reading exactly that path', () => {
    const random = lcg(99);
    for (let i = 0; i < 200; i++) {
      const result = parseCondition(sourceFrom(random, TOKENS));
      if (!result.ok) continue;
      for (const p of result.paths) expect(parseCondition(p), p).toMatchObject({ ok: true, paths: [p] });
    }
  });
});

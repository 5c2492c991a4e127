/**
 * Dependency conditions: a small, safe expression language over an upstream job's outputs.
 *
 * A job that depends on another may add a condition, checked against the upstream job's outputs (a JSON
 * object) when the dependency fires:
 *
 *     { job: 'extract', on: 'DATA_READY', condition: 'rows > 0 && status == "ok"' }
 *
 * The condition is parsed when the plan is made, so a bad one is rejected with a message saying what was
 * expected and where, and evaluated when the pipeline runs. Nothing in it is ever executed as code.
 *
 * Grammar (whitespace between tokens is ignored; characters are counted from 0):
 *
 *     expr       := or
 *     or         := and ('||' and)*
 *     and        := unary ('&&' unary)*
 *     unary      := '!' unary | comparison
 *     comparison := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
 *     operand    := number | string | 'true' | 'false' | 'null' | path | '(' expr ')'
 *     number     := -?digits(.digits)?                 0, 12, -3, 2.5 (no exponent, no space after '-')
 *     string     := "..." or '...'                     escapes: \" \' \\ \n \t
 *     path       := ident ('.' ident | '[' index ']')*  rows, meta.files[0] (written without spaces)
 *     ident      := [A-Za-z_][A-Za-z0-9_]*              true, false and null are keywords, not paths
 *     index      := 0 or a positive integer without leading zeros
 *
 * Precedence, loosest first: `||`, `&&`, `!`, comparison. So `a || b && c` is `a || (b && c)` and, unlike
 * C, `!a == b` is `!(a == b)`; write `(!a) == b` for the other. Comparisons do not chain: `a < b < c` is
 * an error.
 *
 * Meaning:
 * - A path reads the outputs: `.name` reads an object's own property, `[n]` an array's element. Anything
 *   else (a property of an array or a string, an index of an object, a key only inherited such as
 *   `constructor`, anything below a missing value) is missing.
 * - `==` and `!=` compare JSON values: numbers, strings, booleans and null by value, arrays and objects
 *   by structure (same keys, any order; same elements, same order). A missing value equals `null` (and
 *   another missing value) and nothing else, so `x == null` is true when `x` is absent.
 * - `<`, `<=`, `>`, `>=` compare two numbers, or two strings (by UTF-16 code units). Any other pair,
 *   such as a number and a string, is false; nothing is converted.
 * - Used as a truth value (`ready`, `!failed`, `a && b`), a value is true unless it is false, null,
 *   missing, 0, NaN or "". Empty arrays and objects are true.
 * - `&&` and `||` stop at the first operand that decides them. The condition as a whole is true or false.
 * - At most 1,000 characters, and at most 32 parentheses and `!` nested inside one another.
 *
 * Examples:
 *
 *     rows > 0 && status == "ok"
 *         some rows, and the status is exactly "ok" (a missing `rows` is not > 0: false)
 *     meta.files[0] != null || force
 *         the first file of `meta.files` exists, or the upstream set `force` to a true value
 *     !failed && (mode == 'full' || rows >= 1000)
 *         `failed` is missing or false-like, and either a full run or at least 1000 rows
 */

/** A parsed condition: a JSON-serialisable syntax tree. Opaque to callers except through evaluateCondition. */
export type Condition =
  | { readonly kind: 'literal'; readonly value: number | string | boolean | null }
  | { readonly kind: 'path'; readonly path: string; readonly segments: readonly (string | number)[] }
  | { readonly kind: 'not'; readonly operand: Condition }
  | { readonly kind: 'and'; readonly operands: readonly Condition[] }
  | { readonly kind: 'or'; readonly operands: readonly Condition[] }
  | {
      readonly kind: 'compare';
      readonly operator: '==' | '!=' | '<' | '<=' | '>' | '>=';
      readonly left: Condition;
      readonly right: Condition;
    };

/** Why a condition does not parse: a message naming what was expected, and where (0-based, in UTF-16 units). */
export interface ConditionError {
  readonly message: string;
  readonly at: number;
}

/**
 * Parses a condition. On success, `paths` lists every path it reads as written (e.g. `["rows",
 * "meta.files[0]"]`), each once, in order of first appearance. Never throws.
 */
export function parseCondition(
  source: string,
): { ok: true; condition: Condition; paths: string[] } | { ok: false; error: ConditionError } {
  const tooBig = checkSize(source);
  if (tooBig) return { ok: false, error: tooBig };
  const state: ParserState = { tokens: tokenize(source), index: 0, depth: 0, paths: [] };
  try {
    const condition = parseWhole(state);
    return { ok: true, condition, paths: state.paths };
  } catch (caught) {
    if (caught instanceof ParseFailure) return { ok: false, error: caught.error };
    throw caught;
  }
}

/**
 * Whether a condition holds for an upstream job's outputs. Never throws: outputs of any shape are read as
 * described above (a path into a non-object is missing), and outputs that are not plain JSON and fail
 * when read (a throwing getter, a cycle compared by `==`) make the condition false.
 */
export function evaluateCondition(condition: Condition, outputs: unknown): boolean {
  try {
    return isTruthy(valueOf(condition, outputs));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Limits and vocabulary

const LIMITS = { maxLength: 1000, maxDepth: 32 } as const;

type ComparisonOperator = Extract<Condition, { kind: 'compare' }>['operator'];
type Literal = Extract<Condition, { kind: 'literal' }>['value'];
type Segment = string | number;

/** Longest first, so `<=` is read before `<` and `!=` before `!`. */
const SYMBOLS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')'] as const;
type SymbolText = (typeof SYMBOLS)[number];

const COMPARISON_OPERATORS: ReadonlySet<string> = new Set<ComparisonOperator>(['==', '!=', '<', '<=', '>', '>=']);

const KEYWORDS: ReadonlyMap<string, Literal> = new Map<string, Literal>([
  ['true', true],
  ['false', false],
  ['null', null],
]);

const ESCAPES: ReadonlyMap<string, string> = new Map([
  ['"', '"'],
  ["'", "'"],
  ['\\', '\\'],
  ['n', '\n'],
  ['t', '\t'],
]);

/** Single characters that start nothing, but look like the start of an operator. */
const NEAR_MISSES: ReadonlyMap<string, SymbolText> = new Map<string, SymbolText>([
  ['=', '=='],
  ['&', '&&'],
  ['|', '||'],
]);

function checkSize(source: unknown): ConditionError | undefined {
  if (typeof source !== 'string') return { message: 'a condition must be a string', at: 0 };
  if (source.length > LIMITS.maxLength) {
    return {
      message: `a condition is at most ${LIMITS.maxLength} characters, this one has ${source.length}`,
      at: LIMITS.maxLength,
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Tokens: the source is read into tokens ending with `end`, or with `invalid` where it cannot be read.
// The parser reports an `invalid` token's error only when it reaches it, so the first error is reported.

type Token =
  | { readonly kind: 'literal'; readonly at: number; readonly text: string; readonly value: Literal }
  | { readonly kind: 'path'; readonly at: number; readonly text: string; readonly segments: readonly Segment[] }
  | { readonly kind: 'symbol'; readonly at: number; readonly text: SymbolText }
  | { readonly kind: 'end'; readonly at: number }
  | { readonly kind: 'invalid'; readonly at: number; readonly error: ConditionError };

interface Scan {
  readonly token: Token;
  readonly next: number;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = skipSpace(source, 0);
  while (at < source.length) {
    const { token, next } = readToken(source, at);
    tokens.push(token);
    if (token.kind === 'invalid') return tokens;
    at = skipSpace(source, next);
  }
  tokens.push({ kind: 'end', at: source.length });
  return tokens;
}

function skipSpace(source: string, at: number): number {
  let i = at;
  while (i < source.length && /\s/.test(source.charAt(i))) i++;
  return i;
}

function readToken(source: string, at: number): Scan {
  const c = source.charAt(at);
  if (c === '"' || c === "'") return readString(source, at);
  if (c === '-' || isDigit(c)) return readNumber(source, at);
  if (isIdentStart(c)) return readPathOrKeyword(source, at);
  return readSymbol(source, at);
}

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdentStart = (c: string): boolean => (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c === '_';
const isIdentPart = (c: string): boolean => isIdentStart(c) || isDigit(c);

function skipWhile(source: string, at: number, test: (c: string) => boolean): number {
  let i = at;
  while (i < source.length && test(source.charAt(i))) i++;
  return i;
}

function invalid(at: number, message: string): Scan {
  return { token: { kind: 'invalid', at, error: { message, at } }, next: at };
}

/** `expected <what> at character N, found <the character there>`. */
function expectedChar(source: string, at: number, what: string): Scan {
  return invalid(at, `expected ${what} at character ${at}, found ${describeChar(source, at)}`);
}

function describeChar(source: string, at: number): string {
  const code = source.codePointAt(at);
  return code === undefined ? 'the end of the condition' : `"${String.fromCodePoint(code)}"`;
}

function readString(source: string, start: number): Scan {
  const quote = source.charAt(start);
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source.charAt(i);
    if (c === quote) {
      return { token: { kind: 'literal', at: start, text: source.slice(start, i + 1), value }, next: i + 1 };
    }
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    if (i + 1 >= source.length) break;
    const escaped = ESCAPES.get(source.charAt(i + 1));
    if (escaped === undefined) {
      return invalid(i, `unknown escape ${describeEscape(source, i)} at character ${i}; a string may use \\" \\' \\\\ \\n \\t`);
    }
    value += escaped;
    i += 2;
  }
  return invalid(start, `unterminated string starting at character ${start}`);
}

function describeEscape(source: string, at: number): string {
  const code = source.codePointAt(at + 1);
  return `"\\${code === undefined ? '' : String.fromCodePoint(code)}"`;
}

function readNumber(source: string, start: number): Scan {
  const digitsAt = source.charAt(start) === '-' ? start + 1 : start;
  let end = skipWhile(source, digitsAt, isDigit);
  if (end === digitsAt) return expectedChar(source, digitsAt, 'a digit after "-"');
  if (source.charAt(end) === '.') {
    const fractionEnd = skipWhile(source, end + 1, isDigit);
    if (fractionEnd === end + 1) return expectedChar(source, end + 1, 'a digit after "."');
    end = fractionEnd;
  }
  const text = source.slice(start, end);
  const value = Number(text);
  if (!Number.isFinite(value)) return invalid(start, `the number at character ${start} is too large`);
  return { token: { kind: 'literal', at: start, text, value }, next: end };
}

function readPathOrKeyword(source: string, start: number): Scan {
  let end = skipWhile(source, start, isIdentPart);
  const first = source.slice(start, end);
  const keyword = KEYWORDS.get(first);
  if (keyword !== undefined) return { token: { kind: 'literal', at: start, text: first, value: keyword }, next: end };
  const segments: Segment[] = [first];
  for (;;) {
    const c = source.charAt(end);
    const step = c === '.' ? readProperty(source, end) : c === '[' ? readIndex(source, end) : undefined;
    if (step === undefined) break;
    if ('invalid' in step) return step.invalid;
    segments.push(step.segment);
    end = step.next;
  }
  return { token: { kind: 'path', at: start, text: source.slice(start, end), segments }, next: end };
}

type PathStep = { readonly segment: Segment; readonly next: number } | { readonly invalid: Scan };

/** `.name`, starting at the dot. */
function readProperty(source: string, dot: number): PathStep {
  const nameAt = dot + 1;
  if (!isIdentStart(source.charAt(nameAt))) return { invalid: expectedChar(source, nameAt, 'a property name after "."') };
  const end = skipWhile(source, nameAt, isIdentPart);
  return { segment: source.slice(nameAt, end), next: end };
}

/** `[n]`, starting at the bracket. */
function readIndex(source: string, bracket: number): PathStep {
  const digitsAt = bracket + 1;
  const end = skipWhile(source, digitsAt, isDigit);
  if (end === digitsAt) return { invalid: expectedChar(source, digitsAt, 'an index (0, 1, 2...) after "["') };
  const digits = source.slice(digitsAt, end);
  if (digits.length > 1 && digits.startsWith('0')) {
    return { invalid: invalid(digitsAt, `expected an index without leading zeros at character ${digitsAt}, found "${digits}"`) };
  }
  const index = Number(digits);
  if (!Number.isSafeInteger(index)) return { invalid: invalid(digitsAt, `the index at character ${digitsAt} is too large`) };
  if (source.charAt(end) !== ']') return { invalid: expectedChar(source, end, '"]"') };
  return { segment: index, next: end + 1 };
}

function readSymbol(source: string, at: number): Scan {
  const symbol = SYMBOLS.find((s) => source.startsWith(s, at));
  if (symbol !== undefined) {
    if ((symbol === '==' || symbol === '!=') && source.charAt(at + 2) === '=') {
      return invalid(at, `expected "${symbol}" at character ${at}, found "${symbol}="`);
    }
    return { token: { kind: 'symbol', at, text: symbol }, next: at + symbol.length };
  }
  const nearMiss = NEAR_MISSES.get(source.charAt(at));
  if (nearMiss !== undefined) return invalid(at, `expected "${nearMiss}" at character ${at}, found ${describeChar(source, at)}`);
  return invalid(at, `unexpected ${describeChar(source, at)} at character ${at}`);
}

// ---------------------------------------------------------------------------------------------------
// Parser: recursive descent over the tokens, one function per grammar rule.

interface ParserState {
  readonly tokens: readonly Token[];
  index: number;
  depth: number;
  readonly paths: string[];
}

/** Thrown inside the parser only, and caught by parseCondition. */
class ParseFailure {
  constructor(readonly error: ConditionError) {}
}

function fail(at: number, message: string): never {
  throw new ParseFailure({ message, at });
}

/** The next token; reaching one that could not be read reports why. */
function peek(state: ParserState): Token {
  const token = state.tokens[state.index] ?? { kind: 'end', at: 0 };
  if (token.kind === 'invalid') throw new ParseFailure(token.error);
  return token;
}

function advance(state: ParserState): Token {
  const token = peek(state);
  if (token.kind !== 'end') state.index++;
  return token;
}

const isSymbol = (token: Token, text: SymbolText): boolean => token.kind === 'symbol' && token.text === text;

function isComparison(token: Token): token is Token & { kind: 'symbol'; text: ComparisonOperator } {
  return token.kind === 'symbol' && COMPARISON_OPERATORS.has(token.text);
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the condition';
    case 'invalid':
      return 'an unreadable token';
    case 'literal':
      return typeof token.value === 'string' ? `string ${shorten(token.text)}` : `"${shorten(token.text)}"`;
    default:
      return `"${shorten(token.text)}"`;
  }
}

function shorten(text: string): string {
  return text.length > 30 ? `${text.slice(0, 29)}…` : text;
}

function parseWhole(state: ParserState): Condition {
  if (peek(state).kind === 'end') fail(0, 'the condition is empty');
  const condition = parseOr(state);
  const rest = peek(state);
  if (rest.kind !== 'end') {
    const hint = isComparison(rest) ? '; comparisons do not chain, join them with && or ||' : '';
    fail(rest.at, `unexpected ${describeToken(rest)} at character ${rest.at}${hint}`);
  }
  return condition;
}

function parseOr(state: ParserState): Condition {
  const operands = [parseAnd(state)];
  while (isSymbol(peek(state), '||')) {
    advance(state);
    operands.push(parseAnd(state));
  }
  return operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: 'or', operands };
}

function parseAnd(state: ParserState): Condition {
  const operands = [parseUnary(state)];
  while (isSymbol(peek(state), '&&')) {
    advance(state);
    operands.push(parseUnary(state));
  }
  return operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: 'and', operands };
}

function parseUnary(state: ParserState): Condition {
  const token = peek(state);
  if (!isSymbol(token, '!')) return parseComparison(state);
  advance(state);
  return nested(state, token, () => ({ kind: 'not', operand: parseUnary(state) }));
}

function parseComparison(state: ParserState): Condition {
  const left = parseOperand(state);
  const operator = peek(state);
  if (!isComparison(operator)) return left;
  advance(state);
  return { kind: 'compare', operator: operator.text, left, right: parseOperand(state) };
}

function parseOperand(state: ParserState): Condition {
  const token = advance(state);
  if (token.kind === 'literal') return { kind: 'literal', value: token.value };
  if (token.kind === 'path') {
    if (!state.paths.includes(token.text)) state.paths.push(token.text);
    return { kind: 'path', path: token.text, segments: token.segments };
  }
  if (isSymbol(token, '(')) return nested(state, token, () => parseGroup(state, token));
  return fail(token.at, `expected an operand at character ${token.at}, found ${describeToken(token)}`);
}

/** The inside of `( ... )` and its closing parenthesis; the opening one is already read. */
function parseGroup(state: ParserState, open: Token): Condition {
  const inner = parseOr(state);
  const close = peek(state);
  if (!isSymbol(close, ')')) {
    fail(close.at, `expected ")" at character ${close.at} to close the "(" at character ${open.at}, found ${describeToken(close)}`);
  }
  advance(state);
  return inner;
}

/** Runs `parse` one level deeper, for a `(` or `!` at `token`. */
function nested(state: ParserState, token: Token, parse: () => Condition): Condition {
  state.depth++;
  if (state.depth > LIMITS.maxDepth) fail(token.at, `nesting is deeper than ${LIMITS.maxDepth} at character ${token.at}`);
  const condition = parse();
  state.depth--;
  return condition;
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

function valueOf(node: Condition, outputs: unknown): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'path':
      return readPath(outputs, node.segments);
    case 'not':
      return !isTruthy(valueOf(node.operand, outputs));
    case 'and':
      return node.operands.every((operand) => isTruthy(valueOf(operand, outputs)));
    case 'or':
      return node.operands.some((operand) => isTruthy(valueOf(operand, outputs)));
    case 'compare':
      return COMPARE[node.operator](valueOf(node.left, outputs), valueOf(node.right, outputs));
    default:
      return undefined;
  }
}

const hasOwn = (value: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(value, key);

function readPath(root: unknown, segments: readonly Segment[]): unknown {
  let current = root;
  for (const segment of segments) {
    current = typeof segment === 'number' ? elementOf(current, segment) : propertyOf(current, segment);
    if (current === undefined) return undefined;
  }
  return current;
}

function propertyOf(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

function elementOf(value: unknown, index: number): unknown {
  if (!Array.isArray(value) || !hasOwn(value, index)) return undefined;
  return (value as unknown[])[index];
}

function isTruthy(value: unknown): boolean {
  if (value === false || value === null || value === undefined || value === 0 || value === '') return false;
  return !(typeof value === 'number' && Number.isNaN(value));
}

const COMPARE = {
  '==': (left, right) => jsonEqual(left, right),
  '!=': (left, right) => !jsonEqual(left, right),
  '<': (left, right) => ordered(left, right, (order) => order < 0),
  '<=': (left, right) => ordered(left, right, (order) => order <= 0),
  '>': (left, right) => ordered(left, right, (order) => order > 0),
  '>=': (left, right) => ordered(left, right, (order) => order >= 0),
} as const satisfies Record<ComparisonOperator, (left: unknown, right: unknown) => boolean>;

/** Missing counts as null; otherwise deep structural equality of JSON values. */
function jsonEqual(left: unknown, right: unknown): boolean {
  return deepEqual(left === undefined ? null : left, right === undefined ? null : right);
}

function deepEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (Array.isArray(left) || Array.isArray(right)) {
    return Array.isArray(left) && Array.isArray(right) && arraysEqual(left, right);
  }
  if (isObject(left) && isObject(right)) return objectsEqual(left, right);
  return false;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';

function arraysEqual(left: readonly unknown[], right: readonly unknown[]): boolean {
  return left.length === right.length && left.every((item, i) => deepEqual(item, right[i]));
}

function objectsEqual(left: Record<string, unknown>, right: Record<string, unknown>): boolean {
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => hasOwn(right, key) && deepEqual(left[key], right[key]));
}

/** Applies `test` to the order of two numbers or two strings; any other pair (or NaN) is false. */
function ordered(left: unknown, right: unknown, test: (order: number) => boolean): boolean {
  const bothNumbers = typeof left === 'number' && typeof right === 'number';
  const bothStrings = typeof left === 'string' && typeof right === 'string';
  if (!bothNumbers && !bothStrings) return false;
  if (left === right) return test(0);
  if ((left as number | string) < (right as number | string)) return test(-1);
  if ((left as number | string) > (right as number | string)) return test(1);
  return false; // NaN is neither less, greater nor equal
}

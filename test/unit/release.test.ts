/**
 * Releasing a dependent exactly once. A job with upstreams waits at the state machine's gate ("Wait for
 * upstream", `lib/plan/asl.ts`): an UpdateItem that stores its task token unless its state is ready
 * already (then it runs at once). Each upstream's end is recorded on the dependent's state by
 * `releaseDependents`, and the caller that sees every upstream ended claims the dependent ready and, if
 * the gate stored a token, sends it. The promise: whatever the order of the upstreams' ends (each
 * possibly delivered more than once) and of the gate, the dependent is released exactly once: either its
 * gate finds it ready and does not wait, and nothing is sent; or its gate waits and its token is sent
 * once.
 *
 * Here the real `releaseDependents` and the real `RecordStore` run over the in-memory DynamoDB, and the
 * gate sends the very UpdateItem the state machine sends, through the same table. A scheduler holds
 * every DynamoDB command until it picks which of the pending ones goes next, so the ends, their repeats
 * and the gate interleave one command at a time: by hand in the named examples, from a seeded generator
 * in the property tests (thousands of schedules, with and without a fault: a command whose write
 * happened but whose reply was lost, after which its caller retries, as a redelivery would).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isDeepStrictEqual } from 'node:util';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { JobStatus, RECORD_ACTIONS, SkipReason, type JobStateRecord, type UpstreamOutcome } from '../../lib/model/contract/index.ts';
import { jobIteration, stateNames, TABLE_NAME_KEY } from '../../lib/plan/asl.ts';
import { createLogger } from '../../functions/shared/log.ts';
import { releaseDependents } from '../../functions/shared/release.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';

const TABLE = 'phi-records';
const RUN = 'r1';
const DEPENDENT = 'd';
const AT = new Date('2024-05-01T10:00:00.000Z');

// ---------------------------------------------------------------------------------------------------
// The gate: the state machine's own UpdateItem.

/** The "Wait for upstream" state as the state machine has it. */
const waitState = jobIteration(60).States[stateNames.waitForUpstream];

/** The iteration's input the gate's paths read: job `d` of run `r1`. */
const ITERATION = { run: { runId: RUN }, job: { id: DEPENDENT } };

/** The value at a JSONPath of the iteration's input (`$.a.b`). */
function at(path: string): unknown {
  if (!path.startsWith('$.')) throw new Error(`unsupported path ${path}`);
  return path
    .slice(2)
    .split('.')
    .reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), ITERATION);
}

/** An intrinsic or path (`'x.$': …`) as Step Functions evaluates it for this iteration holding `token`. */
function evaluate(expression: string, token: string): unknown {
  if (expression === '$$.Task.Token') return token;
  const format = /^States\.Format\('([^'{}]*)\{\}', (\$\.[\w.]+)\)$/.exec(expression);
  if (format) return `${format[1]}${String(at(format[2]!))}`;
  if (expression.startsWith('$.')) return at(expression);
  throw new Error(`unsupported expression ${expression}`);
}

/**
 * The gate's Parameters resolved as Step Functions resolves them (the table's placeholder substituted,
 * paths evaluated), with DynamoDB's `{ S: … }` values as the document client writes them (plain).
 */
function resolve(value: unknown, token: string): unknown {
  if (value === `\${${TABLE_NAME_KEY}}`) return TABLE;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1 && entries[0]![0] === 'S.$') return evaluate(String(entries[0]![1]), token);
  if (entries.length === 1 && entries[0]![0] === 'S') return entries[0]![1];
  return Object.fromEntries(
    entries.map(([key, v]) => {
      if (key.endsWith('.$')) throw new Error(`unsupported dynamic parameter ${key}`);
      return [key, resolve(v, token)];
    }),
  );
}

/** The UpdateItem the gate of job `d` of run `r1` sends, holding `token`. */
const gateCommand = (token: string): UpdateCommand => new UpdateCommand(resolve(waitState?.Parameters, token) as UpdateCommandInput);

/** Errors the gate's Retry retries (the others end the iteration: "Abandon job"). */
const GATE_RETRIED = new Set(((waitState?.Retry ?? []) as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals));

type GateAnswer = 'waits' | 'runs';

/** The gate: `waits` when its token was stored, `runs` when its condition failed (the state's Catch goes to "Run attempt"). */
async function gate(send: (command: unknown) => Promise<unknown>, token: string): Promise<GateAnswer> {
  try {
    await send(gateCommand(token));
    return 'waits';
  } catch (err) {
    if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return 'runs';
    throw err;
  }
}

describe('the gate', () => {
  it('is the state machine’s "Wait for upstream" UpdateItem, resolved for job d of run r1', () => {
    expect(waitState).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken',
      Next: stateNames.runAttempt,
      Catch: [{ ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'], Next: stateNames.runAttempt }, { ErrorEquals: ['States.ALL'] }],
    });
    expect(gateCommand('token-1').input).toEqual({
      TableName: TABLE,
      Key: { pk: 'RUN#r1', sk: 'STATE#d' },
      UpdateExpression: 'SET #token = :token',
      ConditionExpression: 'attribute_not_exists(#ready)',
      ExpressionAttributeNames: { '#token': 'token', '#ready': 'ready' },
      ExpressionAttributeValues: { ':token': 'token-1' },
    });
  });

  it('waits on a state that is not ready, keeping the last token; runs once it is ready, keeping none; needs only the state machine’s grant', async () => {
    const fake = new FakeDynamo();
    expect(await gate(fake.send, 'token-1')).toBe('waits');
    expect(await gate(fake.send, 'token-2')).toBe('waits');
    expect(fake.table).toEqual([{ pk: 'RUN#r1', sk: 'STATE#d', token: 'token-2' }]);
    await recordStoreOver(fake).claimReady(RUN, DEPENDENT, 'u1');
    expect(await gate(fake.send, 'token-3')).toBe('runs');
    expect(fake.table[0]).toMatchObject({ token: 'token-2', ready: true });
    const gates = fake.sent.filter((s) => s.input.UpdateExpression === 'SET #token = :token');
    expect(gates).toHaveLength(3);
    expect([...new Set(gates.map((s) => ({ UpdateCommand: 'dynamodb:UpdateItem' })[s.command]))]).toEqual([...RECORD_ACTIONS.stateMachine]);
  });
});

// ---------------------------------------------------------------------------------------------------
// The scheduler: one DynamoDB command at a time, in the order chosen.

/** Who sends a command: an upstream's delivery (`u2#1`: upstream u2, its first delivery) or the gate. */
const actors = new AsyncLocalStorage<string>();

/** The injected fault: the command's write happened (or its condition was evaluated), but its reply is lost. */
const INJECTED = Symbol('injected fault');
type Injected = Error & { [INJECTED]: true };
const lostReply = (): Injected => Object.assign(new Error('the reply was lost after the write'), { name: 'InternalServerErrorException', [INJECTED]: true as const });
const isInjected = (err: unknown): err is Injected => typeof err === 'object' && err !== null && INJECTED in err;

interface Pending {
  readonly actor: string;
  readonly command: unknown;
  readonly resolve: (out: Record<string, unknown>) => void;
  readonly reject: (err: unknown) => void;
}

/** What a command is, for the schedule's trace. */
function label(command: unknown): string {
  if (!(command instanceof UpdateCommand)) return (command as object).constructor.name;
  const names = Object.values(command.input.ExpressionAttributeNames ?? {});
  if (names.includes('token')) return `gate(${String(command.input.ExpressionAttributeValues?.[':token'])})`;
  const upstream = names.find((n) => n.startsWith('up:'))?.slice(3) ?? '?';
  // A dependent's only upstream records its end and claims it in one write.
  if (names.includes('done') && names.includes('ready')) return `recordEndedAndClaim(${upstream})`;
  if (names.includes('done')) return `recordUpstreamEnded(${upstream})`;
  if (names.includes('ready')) return 'claimReady';
  return 'UpdateItem';
}

/** What a command answered, for the trace. */
function answer(command: unknown, out: Record<string, unknown>): string {
  const item = out.Attributes as Record<string, unknown> | undefined;
  const what = label(command);
  if (what.startsWith('gate')) return 'waits';
  if (what.startsWith('recordUpstreamEnded') || what.startsWith('recordEndedAndClaim')) return `ended=${item?.done instanceof Set ? item.done.size : 0}${item?.ready === true ? ', ready' : ''}`;
  if (what === 'claimReady') return `claimed${typeof item?.token === 'string' ? ` (${item.token})` : ''}`;
  return 'ok';
}

/**
 * A document client over `fake` whose every command waits until `step` lets it through. Commands are
 * applied one at a time and at once (the fake answers synchronously), so the chosen order is the order
 * DynamoDB applied them in.
 */
class Scheduler {
  readonly pending: Pending[] = [];
  /** Each command let through, by whom, and what it answered. */
  readonly trace: string[] = [];
  /** Actors that have not finished. */
  live = 0;
  /** Once the schedule is over: commands go straight to the table. */
  direct = false;

  constructor(readonly fake: FakeDynamo) {}

  readonly send = (command: unknown): Promise<Record<string, unknown>> =>
    this.direct
      ? this.fake.send(command)
      : new Promise((resolve, reject) => {
          this.pending.push({ actor: actors.getStore() ?? '?', command, resolve, reject });
        });

  /** Runs `body` as `actor`, its commands held here. */
  actor(actor: string, body: () => Promise<void>): Promise<void> {
    this.live++;
    return actors.run(actor, body).finally(() => {
      this.live--;
    });
  }

  /** Until every actor has finished or waits on a command (every promise chain has run as far as it can). */
  async settle(): Promise<void> {
    for (let ticks = 0; this.pending.length < this.live; ticks++) {
      // Only promise jobs run here; should anything wait on the event loop, let it run.
      await (ticks < 1_000 ? Promise.resolve() : new Promise((resolve) => setImmediate(resolve)));
      if (ticks > 2_000) throw new Error('the actors neither finish nor send a command');
    }
  }

  /** Lets the `i`-th pending command through, its reply lost when `lose`. */
  step(i: number, lose = false): void {
    const [p] = this.pending.splice(i, 1);
    if (!p) throw new Error(`no pending command ${i}`);
    const line = this.trace.push(`${p.actor}: ${label(p.command)}`) - 1;
    const fault = lose ? lostReply() : undefined;
    if (fault) this.fake.failAfter.push(fault);
    const result = this.fake.send(p.command);
    // A command that failed of itself (its condition) leaves the fault unused: its reply is lost just the same.
    if (fault) this.fake.failAfter.splice(0);
    result.then(
      (out) => {
        this.trace[line] += ` → ${answer(p.command, out)}`;
        p.resolve(out);
      },
      (err: unknown) => {
        const name = (err as { name?: string }).name ?? String(err);
        const conditionFailed = name === 'ConditionalCheckFailedException';
        this.trace[line] += ` → ${conditionFailed ? 'condition failed' : err === fault ? 'applied' : name}${fault ? ', REPLY LOST' : ''}`;
        p.reject(fault && (err === fault || conditionFailed) ? fault : err);
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// One schedule: k upstreams, each end delivered one or more times, and the gate.

interface Plan {
  /** Each upstream's outcome (upstream `u1` first), as each of its deliveries reports it. */
  readonly outcomes: readonly UpstreamOutcome[];
  /** How many times each upstream's end is delivered. */
  readonly deliveries: readonly number[];
  /** The command (counted from 0, in the order let through) whose reply is lost. */
  readonly loseReplyAt?: number;
  /** The first SendTaskSuccess fails (Step Functions throttles), as a delivery's own failure. */
  readonly sendTokenFailsOnce?: boolean;
}

/** Which pending command goes next (its index), given the pending ones and how many went before. */
type Chooser = (pending: readonly Pending[], step: number) => number;

interface Result {
  readonly gate: GateAnswer | undefined;
  /** The token of the gate's last try (a retried gate holds a new one). */
  readonly token: string;
  /** Every token the gate tried with. */
  readonly tokens: readonly string[];
  /** The tokens sent (successfully), in order. */
  readonly sent: readonly string[];
  /** What each delivery answered (the dependents it released), or its error. */
  readonly deliveries: Readonly<Record<string, string[] | Error>>;
  readonly state: JobStateRecord | undefined;
  readonly trace: readonly string[];
  readonly error?: string;
}

const upstreamId = (i: number): string => `u${i + 1}`;
const silent = createLogger({}, () => {});

/** The document client of the one store all schedules use: the current schedule's scheduler. */
const router = { scheduler: new Scheduler(new FakeDynamo()), send: (command: unknown) => router.scheduler.send(command) };
// The real RecordStore; it only ever calls its client's `send`.
const store = recordStoreOver(router as unknown as FakeDynamo);

async function runSchedule(plan: Plan, choose: Chooser): Promise<Result> {
  const fake = new FakeDynamo();
  const scheduler = new Scheduler(fake);
  router.scheduler = scheduler;
  const sent: string[] = [];
  let sendFailures = plan.sendTokenFailsOnce ? 1 : 0;
  const sendToken = vi.fn(async (token: string): Promise<void> => {
    const line = `${actors.getStore() ?? '?'}: SendTaskSuccess(${token})`;
    if (sendFailures > 0) {
      sendFailures--;
      scheduler.trace.push(`${line} → ThrottlingException`);
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', [INJECTED]: true });
    }
    scheduler.trace.push(`${line} → sent`);
    sent.push(token);
  });
  const deps = { store, sendToken, log: silent, now: () => AT };
  const dependents = [{ job: DEPENDENT, upstreamCount: plan.outcomes.length }];

  const deliveries: Record<string, string[] | Error> = {};
  const running: Promise<unknown>[] = [];
  plan.outcomes.forEach((outcome, i) => {
    for (let n = 1; n <= (plan.deliveries[i] ?? 1); n++) {
      const name = `${upstreamId(i)}#${n}`;
      const deliver = (): Promise<string[]> => releaseDependents(deps, RUN, upstreamId(i), outcome, dependents);
      running.push(
        scheduler.actor(name, async () => {
          try {
            // A delivery that fails is delivered again, once.
            deliveries[name] = await deliver().catch((err: unknown) => {
              if (!isInjected(err)) throw err;
              return deliver();
            });
          } catch (err) {
            deliveries[name] = err instanceof Error ? err : new Error(String(err));
          }
        }),
      );
    }
  });

  const tokens: string[] = [];
  let answered: GateAnswer | undefined;
  let gateError: string | undefined;
  running.push(
    scheduler.actor('gate', async () => {
      const attempt = (): Promise<GateAnswer> => {
        tokens.push(`token-${tokens.length + 1}`);
        return gate(scheduler.send, tokens.at(-1)!);
      };
      try {
        // The gate's Retry: a new try, with a new task token.
        answered = await attempt().catch((err: unknown) => {
          if (!GATE_RETRIED.has(`DynamoDb.${(err as { name?: string }).name}`)) throw err;
          return attempt();
        });
      } catch (err) {
        gateError = String(err);
      }
    }),
  );

  let error: string | undefined;
  try {
    for (let step = 0; ; step++) {
      await scheduler.settle();
      if (scheduler.pending.length === 0) break;
      scheduler.step(choose(scheduler.pending, step), step === plan.loseReplyAt);
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  // Whatever is left (a script that went wrong) goes through in order, so that nothing is left hanging.
  scheduler.direct = true;
  for (const p of scheduler.pending.splice(0)) fake.send(p.command).then(p.resolve, p.reject);
  await Promise.all(running);

  const state = await store.getJobState(RUN, DEPENDENT);
  return {
    gate: answered,
    token: tokens.at(-1) ?? '',
    tokens,
    sent,
    deliveries,
    state,
    trace: scheduler.trace,
    ...(error !== undefined || gateError !== undefined ? { error: [error, gateError].filter(Boolean).join('; ') } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// The invariant.

/**
 * What breaks the promise in a result: the dependent released never, both ways, or to the wrong token;
 * its token sent twice when every upstream's end was delivered once, without a fault (a redelivery
 * cannot tell a send that failed from one whose caller died after it, so then a second send of the
 * same token is allowed: Step Functions answers it TaskDoesNotExist, and the task resumes once); a
 * delivery or the gate failing for good; its state not ready with every outcome.
 */
function violations(plan: Plan, result: Result): string[] {
  const found: string[] = [];
  const toFinal = result.sent.filter((t) => t === result.token).length;
  const stale = result.sent.filter((t) => t !== result.token);
  const redelivered = plan.deliveries.some((n) => n > 1) || plan.loseReplyAt !== undefined || plan.sendTokenFailsOnce === true;
  if (result.error) found.push(`error: ${result.error}`);
  if (result.gate === 'runs' && toFinal > 0) found.push(`both: the gate ran at once, and its token was sent ${toFinal} time(s)`);
  if (result.gate === 'waits' && toFinal === 0) found.push('lost: the gate waits, and its token was never sent');
  if (result.gate === 'waits' && toFinal > 1 && !redelivered) found.push(`duplicate: the gate’s token was sent ${toFinal} times`);
  // A token of a gate try that failed belongs to no waiting task: sending it wakes nothing (Step Functions answers TaskDoesNotExist).
  if (stale.some((t) => !result.tokens.includes(t))) found.push(`wrong token: sent ${stale.join(', ')}`);
  if (result.sent.length > 1 && toFinal <= 1 && !redelivered) found.push(`duplicate: ${result.sent.length} sends (${result.sent.join(', ')})`);
  for (const [name, answered] of Object.entries(result.deliveries)) if (answered instanceof Error) found.push(`delivery ${name} failed: ${answered.message}`);
  const expected = Object.fromEntries(plan.outcomes.map((o, i) => [upstreamId(i), o]));
  if (result.state?.ready !== true) found.push('state: not ready');
  if (!isDeepStrictEqual(result.state?.upstream, expected)) {
    found.push(`state: upstream outcomes ${JSON.stringify(result.state?.upstream)}, not ${JSON.stringify(expected)}`);
  }
  if (result.gate === 'waits' && result.state?.token !== result.token) found.push(`state: token ${String(result.state?.token)}, not the gate’s ${result.token}`);
  return found;
}

const describePlan = (plan: Plan): string =>
  `k=${plan.outcomes.length}; ` +
  plan.outcomes.map((o, i) => `${upstreamId(i)} ${o.status}#${o.attempt} delivered ${plan.deliveries[i] ?? 1}×`).join(', ') +
  (plan.loseReplyAt !== undefined ? `; the reply to DynamoDB command ${plan.loseReplyAt + 1} is lost` : '') +
  (plan.sendTokenFailsOnce ? '; the first SendTaskSuccess fails' : '');

const report = (plan: Plan, result: Result, problems: readonly string[]): string =>
  [
    describePlan(plan),
    ...result.trace.map((line, i) => `  ${String(i + 1).padStart(2)}. ${line}`),
    `  gate: ${String(result.gate)} (tokens ${result.tokens.join(', ')}); sent: [${result.sent.join(', ')}]`,
    ...problems.map((p) => `  ✗ ${p}`),
  ].join('\n');

// ---------------------------------------------------------------------------------------------------
// Named examples: interleavings by hand, each step naming the actor whose pending command goes next.

/**
 * Lets through, at each step, the pending command of the actor the script names there (`u2#1`: one
 * command of u2's first delivery; `u2#1*`: each of its commands until it has finished). The script must
 * cover every command.
 */
function scripted(script: readonly string[]): Chooser {
  let at = 0;
  const pendingList = (pending: readonly Pending[]): string => pending.map((p) => `${p.actor}: ${label(p.command)}`).join(', ');
  return (pending) => {
    for (;;) {
      const entry = script[at];
      if (entry === undefined) throw new Error(`the script ends with ${pendingList(pending)} pending`);
      const toEnd = entry.endsWith('*');
      const actor = toEnd ? entry.slice(0, -1) : entry;
      const i = pending.findIndex((p) => p.actor === actor);
      if (i >= 0) {
        if (!toEnd) at++;
        return i;
      }
      if (!toEnd) throw new Error(`script step ${at + 1}: ${actor} has no command pending (pending: ${pendingList(pending)})`);
      // That actor has finished.
      at++;
    }
  };
}

const OK: UpstreamOutcome = { status: JobStatus.SUCCEEDED, attempt: 1 };
const FAILED: UpstreamOutcome = { status: JobStatus.FAILED, attempt: 3 };
const SKIPPED: UpstreamOutcome = { status: JobStatus.SKIPPED, reason: SkipReason.UPSTREAM_FAILED, attempt: 0 };

/** Runs a scripted schedule and checks the invariant, then the example's own expectations. */
async function example(plan: Plan, script: readonly string[]): Promise<Result> {
  const result = await runSchedule(plan, scripted(script));
  const problems = violations(plan, result);
  expect(problems, report(plan, result, problems)).toEqual([]);
  return result;
}

const two: Plan = { outcomes: [OK, FAILED], deliveries: [1, 1] };

describe('releasing a dependent: named interleavings', () => {
  it('gate before every end: it waits, and the last end wakes it', async () => {
    const r = await example(two, ['gate', 'u1#1*', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'], deliveries: { 'u1#1': [], 'u2#1': [DEPENDENT] } });
  });

  it('gate after every end: it runs at once, and nothing is sent', async () => {
    const r = await example(two, ['u1#1*', 'u2#1*', 'gate']);
    expect(r).toMatchObject({ gate: 'runs', sent: [], deliveries: { 'u1#1': [], 'u2#1': [DEPENDENT] } });
    expect(r.state).toMatchObject({ runId: RUN, jobId: DEPENDENT, upstream: { u1: OK, u2: FAILED }, ready: true });
    expect(r.state).not.toHaveProperty('token');
  });

  it('gate between two ends: it waits, and the second end wakes it', async () => {
    const r = await example(two, ['u1#1*', 'gate', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'] });
  });

  it('gate between the last end’s record and its claim: the claim finds the token', async () => {
    const r = await example(two, ['u1#1*', 'u2#1', 'gate', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'] });
  });

  it('gate right after the claim: it runs at once', async () => {
    const r = await example(two, ['u1#1*', 'u2#1', 'u2#1', 'gate', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'runs', sent: [] });
  });

  it('one upstream: the gate before or after its end', async () => {
    const plan: Plan = { outcomes: [SKIPPED], deliveries: [1] };
    expect(await example(plan, ['gate', 'u1#1*'])).toMatchObject({ gate: 'waits', sent: ['token-1'] });
    expect(await example(plan, ['u1#1*', 'gate'])).toMatchObject({ gate: 'runs', sent: [] });
  });

  it('two last ends at once (the last upstream’s end and a repeat of the other’s both see every upstream ended): one claims, one send', async () => {
    const plan: Plan = { outcomes: [OK, FAILED], deliveries: [2, 1] };
    // u2#1 and u1#2 record, then claim, u2#1 first.
    const r = await example(plan, ['u1#1*', 'gate', 'u2#1', 'u1#2', 'u2#1', 'u1#2*', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'], deliveries: { 'u1#1': [], 'u1#2': [], 'u2#1': [DEPENDENT] } });
    // Likewise, u1#2 first.
    const other = await example(plan, ['u1#1*', 'gate', 'u2#1', 'u1#2', 'u1#2', 'u2#1*', 'u1#2*']);
    expect(other).toMatchObject({ gate: 'waits', sent: ['token-1'], deliveries: { 'u1#2': [DEPENDENT], 'u2#1': [] } });
  });

  it('a repeated last end after the release, before the dependent started: it claims again and sends the one token again (its task resumes once)', async () => {
    const plan: Plan = { outcomes: [OK, OK], deliveries: [1, 2] };
    const r = await example(plan, ['gate', 'u1#1*', 'u2#1*', 'u2#2*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1', 'token-1'], deliveries: { 'u2#1': [DEPENDENT], 'u2#2': [DEPENDENT] } });
  });

  it('a repeated end of another upstream after the release: it finds the dependent ready and claims nothing', async () => {
    const plan: Plan = { outcomes: [OK, OK], deliveries: [2, 1] };
    const r = await example(plan, ['gate', 'u1#1*', 'u2#1*', 'u1#2*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'], deliveries: { 'u2#1': [DEPENDENT], 'u1#2': [] } });
  });

  it('a repeated last end interleaved with the first: both see every upstream ended and may both send, the one waiting token', async () => {
    const plan: Plan = { outcomes: [OK, OK], deliveries: [1, 2] };
    // u2's two deliveries record, then claim, in lockstep: a repeat of the same end may claim again until the dependent has started.
    const r = await example(plan, ['gate', 'u1#1*', 'u2#1', 'u2#2', 'u2#1', 'u2#2', 'u2#1*', 'u2#2*']);
    expect(r.gate).toBe('waits');
    expect(r.sent.length).toBeGreaterThanOrEqual(1);
    expect(new Set(r.sent)).toEqual(new Set(['token-1']));
  });

  it('the reply to the last end’s record is lost: its redelivery records it again and claims', async () => {
    const r = await example({ ...two, loseReplyAt: 2 }, ['gate', 'u1#1*', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'], deliveries: { 'u2#1': [DEPENDENT] } });
  });

  it('the reply to the claim is lost before the gate came: the gate then runs at once', async () => {
    const r = await example({ ...two, loseReplyAt: 2 }, ['u1#1*', 'u2#1*', 'gate']);
    expect(r).toMatchObject({ gate: 'runs', sent: [] });
  });

  it('the reply to the claim is lost while the gate waits: the redelivery still wakes it, once', async () => {
    const r = await example({ ...two, loseReplyAt: 3 }, ['gate', 'u1#1*', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'] });
  });

  it('sending the token fails once (Step Functions throttles): the redelivery still wakes the gate, once', async () => {
    const r = await example({ ...two, sendTokenFailsOnce: true }, ['gate', 'u1#1*', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', sent: ['token-1'] });
  });

  it('the reply to the gate is lost after it stored its token: its retry stores a new one, and that one is sent', async () => {
    const r = await example({ ...two, loseReplyAt: 0 }, ['gate*', 'u1#1*', 'u2#1*']);
    expect(r).toMatchObject({ gate: 'waits', tokens: ['token-1', 'token-2'], sent: ['token-2'] });
  });

  it('the reply to the gate is lost after it stored its token, and the claim sends that token: its retry runs at once', async () => {
    const r = await example({ ...two, loseReplyAt: 0 }, ['gate', 'u1#1*', 'u2#1*', 'gate*']);
    // The first token belongs to a try that failed: sending it woke nothing.
    expect(r).toMatchObject({ gate: 'runs', tokens: ['token-1', 'token-2'], sent: ['token-1'] });
  });
});

// ---------------------------------------------------------------------------------------------------
// The property: thousands of seeded schedules.

/** A linear congruential generator (Numerical Recipes' constants): `next(n)` is an integer in [0, n). */
function lcg(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
}

const SCHEDULES = 3_000;
const MASTER_SEED = 0x5eed_1e5e;
const OUTCOMES: readonly UpstreamOutcome[] = [OK, { status: JobStatus.SUCCEEDED, attempt: 2 }, FAILED, SKIPPED];

/** Schedule `index`'s generator: the same index always draws the same schedule. */
const seedOf = (index: number): number => (MASTER_SEED + Math.imul(index, 0x9e37_79b9)) >>> 0;

function draw(index: number, withFault: boolean): { plan: Plan; choose: Chooser } {
  const next = lcg(seedOf(index));
  const k = 1 + next(4);
  const outcomes = Array.from({ length: k }, () => OUTCOMES[next(OUTCOMES.length)]!);
  const deliveries = Array.from({ length: k }, () => 1 + next(3));
  // Every delivery records its end, one or two of them claim, one records the send, and the gate: a fault lands on any of them.
  const commands = deliveries.reduce((a, b) => a + b, 0) + 3;
  const plan: Plan = { outcomes, deliveries, ...(withFault ? { loseReplyAt: next(commands) } : {}) };
  return { plan, choose: (pending) => next(pending.length) };
}

interface Tally {
  schedules: number;
  /** How the gate answered, by answer. */
  gate: Record<string, number>;
  /** The commands whose reply was lost, by kind. */
  faults: Record<string, number>;
}

async function property(withFault: boolean): Promise<{ tally: Tally; results: { index: number; plan: Plan; result: Result; problems: string[] }[] }> {
  const tally: Tally = { schedules: 0, gate: {}, faults: {} };
  const results: { index: number; plan: Plan; result: Result; problems: string[] }[] = [];
  for (let index = 0; index < SCHEDULES; index++) {
    const { plan, choose } = draw(index, withFault);
    const result = await runSchedule(plan, choose);
    tally.schedules++;
    tally.gate[String(result.gate)] = (tally.gate[String(result.gate)] ?? 0) + 1;
    const lost = result.trace.find((line) => line.endsWith('REPLY LOST'));
    if (lost) {
      const what = lost.replace(/^[^:]*: (\w+).*$/, '$1');
      tally.faults[what] = (tally.faults[what] ?? 0) + 1;
    }
    const problems = violations(plan, result);
    if (problems.length > 0) results.push({ index, plan, result, problems });
  }
  return { tally, results };
}

/** Runs a property once, for the tests that look at it. */
const once = <T,>(run: () => Promise<T>): (() => Promise<T>) => {
  let memo: Promise<T> | undefined;
  return () => (memo ??= run());
};

/** The schedules whose problems `which` keeps, with the first few in full (seed index, schedule, trace). */
function failing(run: Awaited<ReturnType<typeof property>>, which: (problem: string) => boolean): { count: number; message: string } {
  const hits = run.results.map((r) => ({ ...r, problems: r.problems.filter(which) })).filter((r) => r.problems.length > 0);
  const kinds: Record<string, number> = {};
  for (const r of hits) for (const p of r.problems) kinds[p.replace(/:.*$/, '')] = (kinds[p.replace(/:.*$/, '')] ?? 0) + 1;
  const counts = Object.entries(kinds)
    .map(([kind, n]) => `${kind}: ${n}`)
    .join(', ');
  const first = hits.slice(0, 3).map((r) => `schedule #${r.index} (seed ${seedOf(r.index)}): ${report(r.plan, r.result, r.problems)}`);
  return { count: hits.length, message: `${hits.length} of ${run.tally.schedules} schedules break the promise (${counts}); the first ones:\n${first.join('\n')}` };
}

const isDuplicate = (problem: string): boolean => problem.startsWith('duplicate');

describe('releasing a dependent: the property over seeded schedules', () => {
  const faultless = once(() => property(false));
  const faulty = once(() => property(true));

  it(`never leaves it waiting unreleased, nor sends to a gate that let it run, in ${SCHEDULES} random interleavings of its upstreams’ ends, their repeats and its gate`, async () => {
    const run = await faultless();
    const { count, message } = failing(run, (p) => !isDuplicate(p));
    expect(count, message).toBe(0);
    // The schedules reach both ways of releasing.
    expect(run.tally.gate.waits).toBeGreaterThan(SCHEDULES / 10);
    expect(run.tally.gate.runs).toBeGreaterThan(SCHEDULES / 10);
  });

  it(`sends its token exactly once in those ${SCHEDULES} interleavings where each upstream’s end is delivered once; a repeat may send the same token again`, async () => {
    const { count, message } = failing(await faultless(), isDuplicate);
    expect(count, message).toBe(0);
  });

  it(`never leaves it waiting unreleased, nor sends to a gate that let it run, when the reply to one command is lost after its write and its caller retries, in ${SCHEDULES} more`, async () => {
    const run = await faulty();
    const { count, message } = failing(run, (p) => !isDuplicate(p));
    expect(count, message).toBe(0);
    // The faults land on every kind of command.
    expect(Object.keys(run.tally.faults)).toEqual(expect.arrayContaining(['claimReady', 'gate', 'recordUpstreamEnded']));
  });

  it(`sends nothing but the waiting gate’s token in those ${SCHEDULES} interleavings with a lost reply (a redelivery may send it again)`, async () => {
    const { count, message } = failing(await faulty(), isDuplicate);
    expect(count, message).toBe(0);
  });
});

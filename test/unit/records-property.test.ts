/**
 * Records that never lie, under faults: a property-based test (fast-check, fixed seeds) of one run of a
 * small random pipeline driven through the real task runtime (`runAttempt`, `attemptFailed`) and the
 * real recorder (`record`, `fromStatusChange`), by a simulator of the state machine of
 * `lib/plan/asl.ts`, over a record store whose calls fail at random (`support/faulty-store.ts`).
 *
 * The simulator (`Simulation`) plays Step Functions for one execution:
 *  - Record run started → Jobs (one iteration per job, all at once) → Record run finished → Succeed, or
 *    Fail (then EventBridge's status change delivers `runFinished` with `EXECUTION_FAILED`);
 *  - an iteration: Has upstream? → Wait for upstream (the gate: `registerToken`, a DynamoDB call with
 *    its own Retry, Catch → Abandon job) → Run attempt → on an error Attempt failed → Retry? → Back off →
 *    Run attempt, or Back off, then decide again → Attempt failed, or the end; Attempt failed failing
 *    past its retries → Abandon job (the recorder's `jobAbandoned`); an Abandon job failing past its
 *    retries fails the iteration, which the Map tolerates;
 *  - each Task's Retry policy is read from the rendered state machine; a Lambda call that throws is
 *    caught as Step Functions hands it on (`lambdaCaught`: the Node.js runtime's error JSON);
 *  - a recorder step failing past its retries fails the execution: EventBridge then delivers
 *    `runFinished` (`EXECUTION_FAILED`) until it succeeds;
 *  - invocation faults: a Lambda call throttled before the function runs, or whose answer is lost after
 *    it ran (a redelivery: the same payload is delivered again by the Task's Retry);
 *  - a stop (StopExecution) at a random step: nothing more is driven, the workers in flight complete,
 *    and EventBridge delivers `runFinished` (`EXECUTION_ABORTED`) until it succeeds;
 *  - a job left waiting at its gate with nothing able to release it: the execution times out
 *    (`EXECUTION_TIMED_OUT`), counted as a liveness failure unless an Abandon job step itself gave up;
 *  - waits (back-offs, retry intervals) only move the simulated clock (dead-letter leases need it).
 * Every store call, send, handler run and invocation is a point where the simulator parks the caller and
 * picks, from the scenario's choices, which parked caller goes next: the jobs, their redeliveries, the
 * recorder and late workers interleave at every call.
 *
 * The properties, checked after each run (on the memory store itself, not through the faults):
 *  (1) the run and every attempt record are terminal; every job of the run has a terminal job state that
 *      agrees with the run's summary (`run.jobs`), and a SUCCEEDED run has no FAILED or CANCELLED job;
 *  (2) each job that ended FAILED has exactly one dead letter in the queue, and no other job has one (the
 *      queue is FIFO and deduplicates by run and job within 5 minutes, as the platform's is: a second
 *      send after one whose outcome was unknown is dropped there); a second copy only after that window,
 *      and only after a send whose outcome was uncertain;
 *  (3) no handler ran again after its job's attempt succeeded, and no attempt's handler ran twice, except
 *      after the store could not record that attempt's end and the answer carrying it was lost too;
 *  (4) no job waited at its gate for ever unless an Abandon job step gave up (the execution's timeout
 *      is the only way out then);
 * and the simulator itself ends every run within a step budget (else it fails: a bug to report).
 * A control property without faults, stops or lost answers checks every job against a reference
 * model of the pipeline (which jobs succeed, fail or are skipped, and how often each handler runs).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  graphOfJobList,
  ErrorInfoSchema,
  JobStatus,
  PipelineManifestSchema,
  RecorderEventSchema,
  RetryDecisionSchema,
  RunInputSchema,
  RunStatus,
  TASK_ERROR_NAME,
  TaskPayloadSchema,
  TaskResultSchema,
  TERMINAL_JOB_STATUSES,
  TERMINAL_RUN_STATUSES,
  type CaughtError,
  type DeadLetterMessage,
  type FailedTaskPayload,
  type JobManifest,
  type PipelineManifest,
  type ResolvedDependency,
  type ResolvedRetry,
  type RetryDecision,
  type RunInput,
  type RunRecord,
  type JobItem,
  type JobListRef,
  type RunTaskPayload,
} from '../../lib/model/contract/index.ts';
import { DependencyType } from '../../lib/model/pipeline.ts';
import { renderStateMachine, stateNames } from '../../lib/plan/asl.ts';
import type { AslState, ResolvedJob } from '../../lib/plan/types.ts';
import { fromStatusChange, record, type RecorderDeps } from '../../functions/control/recorder.ts';
import { attemptFailed, runAttempt, type LoadedHandler, type RuntimeDeps } from '../../functions/runtime/core.ts';
import { PermanentError, TransientError } from '../../functions/runtime/index.ts';
import { DEAD_LETTER_DEDUPLICATION_SECONDS, deadLetterDeduplicationId } from '../../functions/shared/dead-letters.ts';
import { createLogger } from '../../functions/shared/log.ts';
import { FaultyRecordStore, flakySender, type FaultKind, type FlakySender } from './support/faulty-store.ts';
import { MemoryJobLists } from './support/job-lists.ts';
import { MemoryOutputStore, MemoryRecordStore } from './support/memory-store.ts';

/** The job lists the simulated deploys wrote. */
const JOB_LISTS = new MemoryJobLists();

// ---------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------

/** Fixed seeds: the same sequences on every run of the suite. */
const SEED = 20_240_501;
const CONTROL_SEED = 4_242;
/** Runs of the main property and of the control property. */
const RUNS = 2_000;
const CONTROL_RUNS = 300;

const PIPELINE_ID = 'prop';
const RUN_ID = 'm-20240501T100000Z-0123456789ab';
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:phi-${PIPELINE_ID}:${RUN_ID}`;
const DEFINITION_VERSION = 'def-prop';
const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const MAX_JOBS = 5;
/** Scheduling steps one run may take (parked calls resumed): far above what any run needs. */
const STEP_BUDGET = 20_000;
/** Rounds of one iteration (Run attempt / Attempt failed), and deliveries by EventBridge. */
const LOOP_BUDGET = 200;

// ---------------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------------

type Outcome = 'ok' | 'transient' | 'permanent';

interface JobGen {
  /** Bit k: waits for job k (only the jobs before it count). */
  readonly upMask: number;
  /** Bit k: waits for job k's COMPLETION (else its SUCCESS). */
  readonly completionMask: number;
  readonly maxAttempts: number;
  /** What the handler does on attempt 1, 2, 3. */
  readonly script: readonly Outcome[];
}

interface Scenario {
  /** Jobs of the pipeline: the first `size` of `jobs`. */
  readonly size: number;
  readonly jobs: readonly JobGen[];
  /** Percent of store calls failed while `storeFaults` lasts (one draw per call, in call order; none after it). */
  readonly storeRate: number;
  readonly storeFaults: readonly number[];
  /** Percent of sends (dead letters, task tokens) failed while `sendFaults` lasts. */
  readonly sendRate: number;
  readonly sendFaults: readonly number[];
  /** Percent of Lambda invocations throttled, or whose answer is lost, while `invokeFaults` lasts. */
  readonly invokeRate: number;
  readonly invokeFaults: readonly number[];
  /** Which parked call goes next, step by step (0 past the end). */
  readonly choices: readonly number[];
  /** The step at which the execution is stopped, if it is. */
  readonly stopAt: number | null;
}

/** A draw of 0..99 against a rate: faults are the high draws, so shrinking draws towards 0 removes faults. */
const faultOf = (draw: number | undefined, rate: number): FaultKind => (draw === undefined || draw < 100 - rate ? 'none' : draw % 2 === 0 ? 'before' : 'after');

/** Mostly successes, so that dependents run too. */
const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { withCrossShrink: true },
  { weight: 4, arbitrary: fc.constant<Outcome>('ok') },
  { weight: 2, arbitrary: fc.constant<Outcome>('transient') },
  { weight: 1, arbitrary: fc.constant<Outcome>('permanent') },
);
const jobArb: fc.Arbitrary<JobGen> = fc.record({
  upMask: fc.nat({ max: 15 }),
  completionMask: fc.nat({ max: 15 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  script: fc.tuple(outcomeArb, outcomeArb, outcomeArb),
});
/** Mostly 0-15 %, sometimes a storm. */
const rateArb = fc.oneof({ withCrossShrink: true }, { weight: 9, arbitrary: fc.integer({ min: 0, max: 15 }) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 60 }) });
const draws = (maxLength: number): fc.Arbitrary<number[]> => fc.array(fc.nat({ max: 99 }), { maxLength, size: 'max' });

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  size: fc.integer({ min: 2, max: MAX_JOBS }),
  jobs: fc.tuple(jobArb, jobArb, jobArb, jobArb, jobArb),
  storeRate: rateArb,
  storeFaults: draws(250),
  sendRate: rateArb,
  sendFaults: draws(40),
  invokeRate: fc.integer({ min: 0, max: 10 }),
  invokeFaults: draws(80),
  choices: fc.array(fc.nat({ max: 31 }), { maxLength: 200, size: 'max' }),
  stopAt: fc.oneof({ withCrossShrink: true }, { weight: 7, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.nat({ max: 300 }) }),
});

/** The same pipelines and interleavings, without any fault, lost answer or stop. */
const calmArb: fc.Arbitrary<Scenario> = scenarioArb.map((s) => ({ ...s, storeRate: 0, storeFaults: [], sendRate: 0, sendFaults: [], invokeRate: 0, invokeFaults: [], stopAt: null }));

// ---------------------------------------------------------------------------------------------------
// The pipeline of a scenario: its manifest and its state machine
// ---------------------------------------------------------------------------------------------------

interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds: number;
  readonly BackoffRate: number;
  readonly MaxAttempts: number;
}

interface Plan {
  readonly ids: readonly string[];
  readonly upstream: Readonly<Record<string, readonly ResolvedDependency[]>>;
  readonly scripts: Readonly<Record<string, readonly Outcome[]>>;
  readonly retry: Readonly<Record<string, ResolvedRetry>>;
  readonly manifest: PipelineManifest;
  /** The Map's items: the job list the deploy wrote. */
  readonly items: readonly JobItem[];
  /** Where that job list is, as Record run started hands it to the recorder. */
  readonly jobList: JobListRef;
  readonly states: Readonly<Record<string, AslState>>;
  readonly iteration: Readonly<Record<string, AslState>>;
}

const retryOf = (maxAttempts: number): ResolvedRetry => ({ maxAttempts, initialDelaySeconds: 1, backoffMultiplier: 2, maxDelaySeconds: 10, jitter: 'NONE', retryableErrors: [], nonRetryableErrors: [] });

function planOf(s: Scenario): Plan {
  const ids = Array.from({ length: s.size }, (_, i) => `j${i}`);
  const upstream: Record<string, ResolvedDependency[]> = {};
  const scripts: Record<string, readonly Outcome[]> = {};
  const retry: Record<string, ResolvedRetry> = {};
  ids.forEach((id, i) => {
    const gen = s.jobs[i]!;
    upstream[id] = ids.slice(0, i).flatMap((up, k) => ((gen.upMask >> k) & 1 ? [{ job: up, on: (gen.completionMask >> k) & 1 ? DependencyType.COMPLETION : DependencyType.SUCCESS, skipOnUpstreamSkip: true }] : []));
    scripts[id] = gen.script;
    retry[id] = retryOf(gen.maxAttempts);
  });
  const jobs: Record<string, JobManifest> = Object.fromEntries(
    ids.map((id) => [
      id,
      {
        parameters: {},
        retry: retry[id]!,
        upstream: upstream[id]!,
        dependents: ids.filter((other) => upstream[other]!.some((d) => d.job === id)).map((other) => ({ job: other, upstreamCount: upstream[other]!.length })),
      },
    ]),
  );
  const manifest = PipelineManifestSchema.parse({ pipelineId: PIPELINE_ID, definitionVersion: DEFINITION_VERSION, jobs });
  const resolved: ResolvedJob[] = ids.map((id, layer) => ({
    id,
    dependsOn: upstream[id]!.map((d) => d.job),
    dependencies: upstream[id]!,
    handlerPath: '/pipelines/prop/handler.ts',
    parameters: {},
    timeoutSeconds: 60,
    memoryMb: 128,
    retry: retry[id]!,
    enabled: true,
    layer,
    function: 'f0',
  }));
  const { definition, items } = renderStateMachine({
    pipelineId: PIPELINE_ID,
    definitionVersion: DEFINITION_VERSION,
    jobs: resolved,
    functions: [{ key: 'f0', handlerPath: '/pipelines/prop/handler.ts', memoryMb: 128, timeoutSeconds: 60, jobs: ids }],
    timeoutSeconds: 3600,
  });
  const states = definition.States;
  const map = states[stateNames.jobs] as unknown as { ItemProcessor: { States: Record<string, AslState> } };
  // What the deploy writes: the job list, read by the jobs' Map and, for its graph, by the recorder.
  return { ids, upstream, scripts, retry, manifest, items, jobList: JOB_LISTS.put(graphOfJobList(items)), states, iteration: map.ItemProcessor.States };
}

const retriersOf = (state: AslState | undefined): readonly Retrier[] => ((state?.Retry ?? []) as readonly Retrier[]);
const matches = (retrier: Retrier, error: string): boolean => retrier.ErrorEquals.includes('States.ALL') || retrier.ErrorEquals.includes(error);

// ---------------------------------------------------------------------------------------------------
// Totals over every sequence run (reported at the end of each property)
// ---------------------------------------------------------------------------------------------------

interface Totals {
  sequences: number;
  storeFaults: { before: number; after: number };
  storeFaultsByMethod: Record<string, number>;
  tokenSendFaults: { before: number; after: number };
  deadLetterSendFaults: { before: number; after: number };
  gateFaults: number;
  throttledInvocations: number;
  lostAnswers: number;
  deduplicatedLetters: number;
  lateCopies: number;
  redeliveries: number;
  taskRetries: number;
  stops: number;
  stopsWithWorkersInFlight: number;
  executionFailures: number;
  timeouts: number;
  abandons: number;
  abandonsGivenUp: number;
  handlerCallsAfterStop: number;
  runs: Record<string, number>;
  jobs: Record<string, number>;
}

const emptyTotals = (): Totals => ({
  sequences: 0,
  storeFaults: { before: 0, after: 0 },
  storeFaultsByMethod: {},
  tokenSendFaults: { before: 0, after: 0 },
  deadLetterSendFaults: { before: 0, after: 0 },
  gateFaults: 0,
  throttledInvocations: 0,
  lostAnswers: 0,
  deduplicatedLetters: 0,
  lateCopies: 0,
  redeliveries: 0,
  taskRetries: 0,
  stops: 0,
  stopsWithWorkersInFlight: 0,
  executionFailures: 0,
  timeouts: 0,
  abandons: 0,
  abandonsGivenUp: 0,
  handlerCallsAfterStop: 0,
  runs: {},
  jobs: {},
});

// ---------------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------------

/** What Step Functions' Catch hands on after the Lambda function threw `err` (the Node.js runtime's error shape). */
const lambdaCaught = (err: unknown): CaughtError => {
  const e = err as Error;
  return { Error: e.name, Cause: JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] }) };
};

const THROTTLED: CaughtError = { Error: 'Lambda.TooManyRequestsException', Cause: 'Rate Exceeded.' };
const LOST: CaughtError = { Error: 'Lambda.ServiceException', Cause: 'the function ran, but its answer was lost' };

const STOPPED = Symbol('stopped');
type TaskOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly caught: CaughtError } | typeof STOPPED;

/** Lets every microtask run: the memory store and the code under test do no I/O, so all progress is microtasks. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A short account of a caught error, for the trace. */
function describeCaught(caught: CaughtError): string {
  if (caught.Error !== TASK_ERROR_NAME) return caught.Error;
  try {
    const info = ErrorInfoSchema.parse(JSON.parse((JSON.parse(caught.Cause ?? '') as { errorMessage: string }).errorMessage));
    return `${TASK_ERROR_NAME} ${info.code} ${info.category}${info.pending ? ` (pending ${info.pending.result.status})` : ''}`;
  } catch {
    return caught.Error;
  }
}

interface HandlerCall {
  readonly job: string;
  readonly attempt: number;
  readonly outcome: Outcome;
  readonly afterStop: boolean;
}

class Simulation {
  readonly plan: Plan;
  readonly inner = new MemoryRecordStore();
  readonly store: FaultyRecordStore;
  readonly tokens: FlakySender<string>;
  readonly letters: FlakySender<DeadLetterMessage>;
  /** Dead letters the queue kept (a send that failed after sending included; a copy it deduplicated not). */
  readonly sentLetters: DeadLetterMessage[] = [];
  /** When the queue accepted each deduplication id (a FIFO queue drops a copy within its window). */
  private readonly acceptedLetters = new Map<string, number>();
  /** Copies the queue dropped as duplicates. */
  deduplicatedLetters = 0;
  /** Sends whose outcome was uncertain: sent, then an error; its mark as sent failed. */
  private uncertainSends = 0;
  /**
   * Copies the queue kept, by job, because they came after its window while a letter's send was
   * uncertain (sent, then an error; its mark as sent failed; its claim taken over from a held sender).
   */
  readonly lateCopies = new Map<string, number>();
  /** Invocations whose answer was lost when it was an error (it may carry an end the store could not record). */
  readonly lostErrorAnswers: string[] = [];
  readonly handlerCalls: HandlerCall[] = [];
  readonly trace: string[] | undefined;
  readonly input: RunInput = { runId: RUN_ID, pipelineId: PIPELINE_ID, trigger: 'MANUAL', parameters: {} };

  /** The simulated clock (ms). */
  time = T0;
  steps = 0;
  stopped: 'ABORTED' | 'TIMED_OUT' | undefined;
  /** The execution has ended (succeeded, failed, stopped or timed out): nothing more is driven. */
  executionEnded = false;
  /** Jobs left waiting at their gate with nothing to release them. */
  stuck: string[] = [];
  readonly counts = { throttled: 0, lost: 0, redeliveries: 0, taskRetries: 0, executionFailures: 0, abandons: 0, abandonsGivenUp: 0, workersInFlightAtStop: 0 };

  private readonly parked: { readonly label: string; readonly go: () => void }[] = [];
  private readonly waiting = new Map<string, { readonly token: string; readonly wake: (how: 'released' | 'stopped') => void }>();
  private readonly runtimeDeps: RuntimeDeps;
  private readonly recorderDeps: RecorderDeps;
  private readonly loaded: LoadedHandler;
  private choice = 0;
  private invocations = 0;
  /** Lambda invocations under way. */
  private inFlight = 0;
  private running = 0;
  private failure: { readonly error: unknown } | undefined;

  constructor(readonly scenario: Scenario, options: { readonly trace?: boolean } = {}) {
    this.plan = planOf(scenario);
    this.trace = options.trace ? [] : undefined;
    this.store = new FaultyRecordStore(this.inner, {
      beforeCall: (method) => this.park(`store.${method}`),
      schedule: (method, callIndex) => {
        const kind = faultOf(scenario.storeFaults[callIndex], scenario.storeRate);
        if (kind === 'none') this.note(`store.${method}`);
        else if (method === 'markDeadLetterSent') this.uncertainSends++;
        if (kind !== 'none') this.note(`fault: store.${method} fails ${kind === 'before' ? 'before applying' : 'after applying'} (call ${callIndex})`);
        return kind;
      },
    });
    let sends = 0;
    const sendSchedule = (what: string) => (): FaultKind => {
      const kind = faultOf(scenario.sendFaults[sends++], scenario.sendRate);
      if (kind !== 'none') this.note(`fault: ${what} fails ${kind === 'before' ? 'before sending' : 'after sending'}`);
      if (kind === 'after' && what === 'sendDeadLetter') this.uncertainSends++;
      return kind;
    };
    this.tokens = flakySender<string>((token) => this.deliverToken(token), { beforeCall: () => this.park('sendToken'), schedule: sendSchedule('sendToken') });
    this.letters = flakySender<DeadLetterMessage>(
      (message) => {
        // The platform's FIFO queue: a copy with the same deduplication id within its window is dropped.
        const id = deadLetterDeduplicationId(message);
        const accepted = this.acceptedLetters.get(id);
        if (accepted !== undefined && this.time - accepted < DEAD_LETTER_DEDUPLICATION_SECONDS * 1000) {
          this.deduplicatedLetters++;
          this.note(`dead letter for ${message.jobId} dropped by the queue as a duplicate`);
          return;
        }
        if (accepted !== undefined && (this.uncertainSends > 0 || this.inner.deadLetterTakeovers > 0)) this.lateCopies.set(message.jobId, (this.lateCopies.get(message.jobId) ?? 0) + 1);
        this.acceptedLetters.set(id, this.time);
        this.sentLetters.push(structuredClone(message));
        this.note(`dead letter sent for ${message.jobId} (${message.errorCode})`);
      },
      { beforeCall: () => this.park('sendDeadLetter'), schedule: sendSchedule('sendDeadLetter'), error: () => Object.assign(new Error('SQS is unavailable'), { name: 'ServiceUnavailable' }) },
    );
    const log = createLogger({}, () => {});
    const now = (): Date => new Date(this.time);
    this.runtimeDeps = { store: this.store, log, sendToken: this.tokens.send, sendDeadLetter: this.letters.send, outputs: new MemoryOutputStore(), now, random: () => 0.5 };
    this.recorderDeps = { store: this.store, log, sendToken: this.tokens.send, sendDeadLetter: this.letters.send, jobLists: JOB_LISTS, now };
    this.loaded = {
      handler: async (ctx) => {
        const outcome = this.plan.scripts[ctx.jobId]?.[ctx.attempt - 1] ?? 'ok';
        this.handlerCalls.push({ job: ctx.jobId, attempt: ctx.attempt, outcome, afterStop: this.stopped !== undefined });
        this.note(`handler ${ctx.jobId} #${ctx.attempt} runs: ${outcome}`);
        await this.park(`handler ${ctx.jobId}#${ctx.attempt}`);
        if (outcome === 'transient') throw new TransientError('FLAKY', `attempt ${ctx.attempt} of ${ctx.jobId} failed for now`);
        if (outcome === 'permanent') throw new PermanentError('BROKEN', `attempt ${ctx.attempt} of ${ctx.jobId} cannot succeed`);
        return { job: ctx.jobId, attempt: ctx.attempt };
      },
    };
  }

  /** Moves the simulated clock, which `new Date()` follows too (the dead-letter claim's lease is read from it). */
  private advance(ms: number): void {
    this.time += ms;
    vi.setSystemTime(this.time);
  }

  private note(line: string): void {
    this.trace?.push(`[step ${this.steps}, t+${Math.round((this.time - T0) / 1000)}s] ${line}`);
  }

  private park(label: string): Promise<void> {
    return new Promise((go) => this.parked.push({ label, go }));
  }

  private spawn(work: () => Promise<void>): void {
    this.running++;
    work().then(
      () => this.running--,
      (error: unknown) => {
        this.running--;
        this.failure ??= { error };
      },
    );
  }

  /** Runs the execution to its end, and whatever it leaves (EventBridge deliveries, late workers). */
  async run(): Promise<void> {
    vi.setSystemTime(this.time);
    // The trigger created the run PENDING and started the execution.
    await this.inner.createRun({ runId: RUN_ID, pipelineId: PIPELINE_ID, trigger: this.input.trigger, parameters: this.input.parameters, queuedAt: new Date(T0).toISOString() });
    this.spawn(() => this.execution());
    for (;;) {
      await settle();
      if (this.failure) throw this.failure.error;
      if (this.scenario.stopAt === this.steps && !this.executionEnded) this.stop('ABORTED');
      if (this.parked.length === 0) {
        if (this.waiting.size > 0) {
          // Nothing can release them: the execution runs into its timeout.
          this.stuck = [...this.waiting.keys()];
          this.stop('TIMED_OUT');
          continue;
        }
        if (this.running > 0) throw new Error(`simulator: ${this.running} tasks neither run nor wait`);
        return;
      }
      if (++this.steps > STEP_BUDGET) throw new Error(`simulator: the run did not end within ${STEP_BUDGET} steps (parked: ${this.parked.map((p) => p.label).join(', ')})`);
      const [next] = this.parked.splice((this.scenario.choices[this.choice++] ?? 0) % this.parked.length, 1);
      next!.go();
    }
  }

  private stop(kind: 'ABORTED' | 'TIMED_OUT'): void {
    this.stopped = kind;
    this.executionEnded = true;
    this.counts.workersInFlightAtStop = this.inFlight;
    this.note(`the execution is ${kind === 'ABORTED' ? 'stopped' : 'timed out'} (${this.inFlight} Lambda invocations in flight)`);
    for (const { wake } of this.waiting.values()) wake('stopped');
    this.waiting.clear();
    this.spawn(() => this.eventBridge(kind));
  }

  private invokeFault(): 'none' | 'throttled' | 'lost' {
    const draw = this.scenario.invokeFaults[this.invocations++];
    const kind = faultOf(draw, this.scenario.invokeRate);
    return kind === 'before' ? 'throttled' : kind === 'after' ? 'lost' : 'none';
  }

  /** A Lambda Task: invocations with the state's Retry policy; what its Catch would hand on when it gives up. */
  private async lambda<T>(label: string, retriers: readonly Retrier[], invoke: () => Promise<T>): Promise<TaskOutcome<T>> {
    const counts = retriers.map(() => 0);
    let lost = false;
    for (let n = 1; ; n++) {
      if (n > 1) this.counts.taskRetries++;
      if (n > LOOP_BUDGET) throw new Error(`simulator: ${label} was invoked more than ${LOOP_BUDGET} times`);
      if (this.stopped) return STOPPED;
      await this.park(`invoke ${label}`);
      if (this.stopped) return STOPPED;
      const fault = this.invokeFault();
      let caught: CaughtError;
      if (fault === 'throttled') {
        this.counts.throttled++;
        caught = THROTTLED;
      } else {
        // The same payload again, after an invocation that did run (its answer lost).
        if (lost) this.counts.redeliveries++;
        this.inFlight++;
        try {
          const value = await invoke();
          caught = LOST;
          if (fault === 'none') {
            this.note(`${label} → ${JSON.stringify(value)}${this.stopped ? ' (after the stop: not used)' : ''}`);
            return this.stopped ? STOPPED : { ok: true, value };
          }
        } catch (err) {
          caught = fault === 'lost' ? LOST : lambdaCaught(err);
          if (fault === 'lost') this.lostErrorAnswers.push(label);
          if (fault === 'none') this.note(`${label} threw ${describeCaught(caught)}${this.stopped ? ' (after the stop: not used)' : ''}`);
        } finally {
          this.inFlight--;
        }
        lost = fault === 'lost';
        if (lost) {
          this.counts.lost++;
          this.note(`${label}: the function ran, its answer was lost`);
        }
      }
      if (this.stopped) return STOPPED;
      const r = retriers.findIndex((retrier) => matches(retrier, caught.Error));
      const retrier = retriers[r];
      if (!retrier || counts[r]! >= retrier.MaxAttempts) {
        this.note(`${label} gives up: ${describeCaught(caught)}`);
        return { ok: false, caught };
      }
      this.advance(retrier.IntervalSeconds * retrier.BackoffRate ** counts[r]! * 1000);
      counts[r]!++;
    }
  }

  private get recorderRetry(): readonly Retrier[] {
    return retriersOf(this.plan.states[stateNames.recordStarted]);
  }

  private async execution(): Promise<void> {
    const started = await this.lambda('Record run started', this.recorderRetry, () =>
      record(RecorderEventSchema.parse({ action: 'runStarted', run: this.input, executionArn: EXECUTION_ARN, definitionVersion: DEFINITION_VERSION, jobList: this.plan.jobList }), this.recorderDeps),
    );
    if (started === STOPPED) return;
    if (!started.ok) return this.executionFails(started.caught);
    // The recorder answers the run input: the state from then on.
    const run = RunInputSchema.parse(started.value);
    // Jobs: a Distributed Map tolerating every failure; its iterations all start at once.
    await Promise.all(this.plan.items.map((item) => this.iteration(run, item)));
    if (this.stopped) return;
    const finished = await this.lambda('Record run finished', retriersOf(this.plan.states[stateNames.recordFinished]), () =>
      record(RecorderEventSchema.parse({ action: 'runFinished', run, executionArn: EXECUTION_ARN }), this.recorderDeps),
    );
    if (finished === STOPPED) return;
    if (!finished.ok) return this.executionFails(finished.caught);
    this.executionEnded = true;
    const status = (finished.value as RunRecord).status;
    // Run outcome: Succeed, or a Fail state (the execution FAILED: EventBridge tells the recorder too).
    if (status !== RunStatus.SUCCEEDED) this.spawn(() => this.eventBridge('FAILED', status === RunStatus.CANCELLED ? 'PhiRunCancelled' : 'PhiRunFailed'));
  }

  /** A recorder step gave up: the execution fails there. */
  private executionFails(caught: CaughtError): void {
    this.executionEnded = true;
    this.counts.executionFailures++;
    this.note(`the execution FAILED (${caught.Error})`);
    this.spawn(() => this.eventBridge('FAILED', caught.Error));
  }

  /** EventBridge's status change, delivered to the recorder until it succeeds. */
  private async eventBridge(status: 'FAILED' | 'ABORTED' | 'TIMED_OUT', error?: string): Promise<void> {
    const event = fromStatusChange({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: EXECUTION_ARN, status, input: JSON.stringify(this.input), ...(error ? { error, cause: `the execution ended with ${error}` } : {}) },
    });
    if (!event) throw new Error('simulator: fromStatusChange refused a status change');
    for (let n = 1; ; n++) {
      if (n > LOOP_BUDGET) throw new Error(`simulator: EventBridge delivered ${status} more than ${LOOP_BUDGET} times`);
      await this.park(`EventBridge ${status}`);
      try {
        const finished = (await record(event, this.recorderDeps)) as RunRecord;
        this.note(`EventBridge ${status} → run ${finished.status}`);
        return;
      } catch (err) {
        this.note(`EventBridge ${status} → ${(err as Error).name}: delivered again later`);
        this.advance(60_000);
      }
    }
  }

  private runPayload(run: RunInput, jobId: string, attempt: number): RunTaskPayload {
    return TaskPayloadSchema.parse({ action: 'run', run, jobId, attempt, executionArn: EXECUTION_ARN, taskExecutionArn: `${EXECUTION_ARN}/${jobId}` }) as RunTaskPayload;
  }

  private failedPayload(run: RunInput, jobId: string, next: RetryDecision, caught: CaughtError): FailedTaskPayload {
    return TaskPayloadSchema.parse({ action: 'failed', run, jobId, attempt: next.attempt, executionArn: EXECUTION_ARN, taskExecutionArn: `${EXECUTION_ARN}/${jobId}`, caught, infraTries: next.infraTries }) as FailedTaskPayload;
  }

  /** One job's iteration (`jobIteration` in lib/plan/asl.ts). */
  private async iteration(run: RunInput, item: JobItem): Promise<void> {
    const states = this.plan.iteration;
    const id = item.id;
    let next: RetryDecision = { retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 };
    // Has upstream? → Wait for upstream
    if (item.up > 0) {
      const gate = await this.gate(id, retriersOf(states[stateNames.waitForUpstream]));
      if (gate === STOPPED) return;
      if (gate !== 'run') return this.abandon(run, id, next.attempt, gate.caught);
    }
    for (let round = 1; ; round++) {
      if (round > LOOP_BUDGET) throw new Error(`simulator: job ${id} looped more than ${LOOP_BUDGET} times`);
      // Run attempt
      const ran = await this.lambda(`${id} Run attempt #${next.attempt}`, retriersOf(states[stateNames.runAttempt]), () => runAttempt(this.plan.manifest, this.runPayload(run, id, next.attempt), this.loaded, this.runtimeDeps));
      if (ran === STOPPED) return;
      if (ran.ok) {
        TaskResultSchema.parse(ran.value);
        return;
      }
      const caught = ran.caught;
      // Attempt failed → Retry? → Back off, then decide again → Attempt failed …
      for (let again = 1; ; again++) {
        if (again > LOOP_BUDGET) throw new Error(`simulator: job ${id} decided again more than ${LOOP_BUDGET} times`);
        const payload = this.failedPayload(run, id, next, caught);
        const decided = await this.lambda(`${id} Attempt failed #${next.attempt}`, retriersOf(states[stateNames.attemptFailed]), () => attemptFailed(this.plan.manifest, payload, this.runtimeDeps));
        if (decided === STOPPED) return;
        if (!decided.ok) return this.abandon(run, id, next.attempt, caught);
        next = RetryDecisionSchema.parse(decided.value);
        if (next.retry || next.again) this.advance(next.delaySeconds * 1000);
        if (next.retry) break;
        if (!next.again) return; // Job done
      }
    }
  }

  /** Wait for upstream: the gate's DynamoDB call (its Retry, then Catch → Abandon job), then the wait for the token. */
  private async gate(jobId: string, retriers: readonly Retrier[]): Promise<'run' | { readonly caught: CaughtError } | typeof STOPPED> {
    const counts = retriers.map(() => 0);
    for (let n = 1; ; n++) {
      if (n > LOOP_BUDGET) throw new Error(`simulator: the gate of ${jobId} was tried more than ${LOOP_BUDGET} times`);
      if (this.stopped) return STOPPED;
      const token = `${jobId}.${n}`;
      let waits: boolean;
      try {
        waits = await this.store.registerToken(RUN_ID, jobId, token);
      } catch (err) {
        if (this.stopped) return STOPPED;
        const caught: CaughtError = { Error: `DynamoDb.${(err as Error).name}`, Cause: (err as Error).message };
        const r = retriers.findIndex((retrier) => matches(retrier, caught.Error));
        const retrier = retriers[r];
        if (!retrier || counts[r]! >= retrier.MaxAttempts) {
          this.note(`${jobId} Wait for upstream gives up: ${caught.Error}`);
          return { caught };
        }
        this.advance(retrier.IntervalSeconds * retrier.BackoffRate ** counts[r]! * 1000);
        counts[r]!++;
        continue;
      }
      if (this.stopped) return STOPPED;
      if (!waits) {
        this.note(`${jobId} Wait for upstream: ready already`);
        return 'run';
      }
      this.note(`${jobId} waits for its upstreams (token ${token})`);
      const how = await new Promise<'released' | 'stopped'>((wake) => this.waiting.set(jobId, { token, wake }));
      return how === 'stopped' ? STOPPED : 'run';
    }
  }

  /** SendTaskSuccess: wakes the iteration waiting on `token`; a token no iteration waits on any more is ignored (`TaskDoesNotExist`, swallowed by `sendTaskToken`). */
  private deliverToken(token: string): void {
    const jobId = token.slice(0, token.lastIndexOf('.'));
    const waiter = this.waiting.get(jobId);
    if (waiter?.token !== token) {
      this.note(`token ${token} sent: no iteration waits on it`);
      return;
    }
    this.note(`token ${token} sent: ${jobId} is released`);
    this.waiting.delete(jobId);
    waiter.wake('released');
  }

  /** Abandon job: the recorder fails the job in its place; giving up fails the iteration (the Map tolerates it). */
  private async abandon(run: RunInput, jobId: string, attempt: number, caught: CaughtError): Promise<void> {
    this.counts.abandons++;
    const done = await this.lambda(`${jobId} Abandon job`, retriersOf(this.plan.iteration[stateNames.abandon]), () =>
      record(RecorderEventSchema.parse({ action: 'jobAbandoned', run, jobId, attempt, caught, executionArn: EXECUTION_ARN }), this.recorderDeps),
    );
    if (done !== STOPPED && !done.ok) {
      this.counts.abandonsGivenUp++;
      this.note(`the iteration of ${jobId} FAILED`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------------

/** What the records and the world say after a run, against the properties: each broken one, in words. */
async function violations(sim: Simulation): Promise<string[]> {
  const out: string[] = [];
  const store = sim.inner;
  const run = await store.getRun(RUN_ID);
  if (!run) return ['(1) the run has no record'];
  if (!TERMINAL_RUN_STATUSES.includes(run.status)) out.push(`(1) the run is ${run.status}`);
  const attempts = await store.listAttempts(RUN_ID);
  for (const a of attempts) if (a.status === JobStatus.RUNNING) out.push(`(1) attempt ${a.attempt} of ${a.jobId} is RUNNING`);
  const states = new Map((await store.listJobStates(RUN_ID)).map((s) => [s.jobId, s]));
  const summary = run.jobs ?? {};
  if (run.jobList === undefined && attempts.length > 0) out.push('(1) attempts were recorded for a run whose start never was');
  const graph = run.jobList ? await JOB_LISTS.graph(run.jobList) : {};
  const jobsOfRun = [...new Set([...Object.keys(graph), ...Object.keys(summary)])].sort();
  for (const jobId of jobsOfRun) {
    const state = states.get(jobId);
    const summed = summary[jobId];
    if (!summed) out.push(`(1) ${jobId} is missing from the run's summary`);
    if (!state?.status || !TERMINAL_JOB_STATUSES.includes(state.status)) out.push(`(1) ${jobId} has no end in its job state`);
    else if (summed && summed.status !== state.status) out.push(`(1) ${jobId} ended ${state.status}, but the run's summary says ${summed.status}`);
  }
  if (run.status === RunStatus.SUCCEEDED) {
    for (const [jobId, j] of Object.entries(summary)) if (j.status === JobStatus.FAILED || j.status === JobStatus.CANCELLED) out.push(`(1) the run SUCCEEDED with ${jobId} ${j.status}`);
  }
  for (const jobId of sim.plan.ids) {
    const letters = sim.sentLetters.filter((m) => m.jobId === jobId).length;
    const failed = states.get(jobId)?.status === JobStatus.FAILED;
    // A copy after the queue's window is one the design allows, only after a send whose outcome was
    // uncertain (SQS and the store failing for minutes): at least once then, deduplicable by run and job.
    if (failed && (letters === 0 || letters - 1 > (sim.lateCopies.get(jobId) ?? 0))) out.push(`(2) ${jobId} ended FAILED with ${letters} dead letters sent`);
    if (!failed && letters > 0) out.push(`(2) ${jobId} ended ${states.get(jobId)?.status ?? 'without an end'} with ${letters} dead letter(s) sent`);
    const calls = sim.handlerCalls.filter((c) => c.job === jobId);
    // The one rerun allowed: after the store could not record an attempt's end and the answer carrying
    // that end was lost too, nothing durable says the handler ran: it runs again (that attempt, or the
    // next once the lost invocation is counted as a failed one).
    const rerunAllowed = (attempt: number): boolean => sim.lostErrorAnswers.includes(`${jobId} Run attempt #${attempt}`);
    const success = calls.findIndex((c) => c.outcome === 'ok');
    const again = success >= 0 && !rerunAllowed(calls[success]!.attempt) ? calls.slice(success + 1) : [];
    if (again.length > 0) out.push(`(3) the handler of ${jobId} succeeded on attempt ${calls[success]!.attempt} and ran again: ${again.map((c) => `attempt ${c.attempt}`).join(', ')}`);
    const attemptsRun = calls.map((c) => c.attempt);
    const twice = attemptsRun.filter((a, i) => attemptsRun.indexOf(a) !== i && !rerunAllowed(a));
    if (twice.length > 0) out.push(`(3) the handler of ${jobId} ran attempt ${[...new Set(twice)].join(', ')} more than once`);
  }
  if (sim.counts.abandonsGivenUp > 0 && out.length > 0) out.push(`(note) ${sim.counts.abandonsGivenUp} Abandon job step(s) gave up in this run`);
  if (sim.stuck.length > 0 && sim.counts.abandonsGivenUp === 0) out.push(`(4) ${sim.stuck.join(', ')} waited at the gate with nothing left to release them (until the execution timed out)`);
  return out;
}

/** What a run without any fault must end as: each job's status and how many times its handler runs. */
function reference(plan: Plan): { jobs: Record<string, { status: string; calls: number }>; run: string } {
  const jobs: Record<string, { status: string; calls: number }> = {};
  for (const id of plan.ids) {
    // No conditions and no cancels: a job is skipped only because an upstream it needs to succeed did not.
    const skip = plan.upstream[id]!.some((d) => d.on === DependencyType.SUCCESS && jobs[d.job]!.status !== JobStatus.SUCCEEDED);
    if (skip) {
      jobs[id] = { status: JobStatus.SKIPPED, calls: 0 };
      continue;
    }
    const max = plan.retry[id]!.maxAttempts;
    let status: string = JobStatus.FAILED;
    let calls = 0;
    for (let attempt = 1; attempt <= max; attempt++) {
      calls++;
      const outcome = plan.scripts[id]![attempt - 1];
      if (outcome === 'ok') status = JobStatus.SUCCEEDED;
      if (outcome !== 'transient') break;
    }
    jobs[id] = { status, calls };
  }
  return { jobs, run: Object.values(jobs).some((j) => j.status === JobStatus.FAILED) ? RunStatus.FAILED : RunStatus.SUCCEEDED };
}

function tally(totals: Totals, sim: Simulation, run: RunRecord | undefined, states: readonly { status?: string }[]): void {
  totals.sequences++;
  for (const f of sim.store.injected) {
    if (f.method === 'registerToken') totals.gateFaults++;
    totals.storeFaults[f.kind]++;
    totals.storeFaultsByMethod[f.method] = (totals.storeFaultsByMethod[f.method] ?? 0) + 1;
  }
  for (const f of sim.tokens.injected) totals.tokenSendFaults[f.kind]++;
  for (const f of sim.letters.injected) totals.deadLetterSendFaults[f.kind]++;
  totals.throttledInvocations += sim.counts.throttled;
  totals.lostAnswers += sim.counts.lost;
  totals.deduplicatedLetters += sim.deduplicatedLetters;
  totals.lateCopies += [...sim.lateCopies.values()].reduce((a, b) => a + b, 0);
  totals.redeliveries += sim.counts.redeliveries;
  totals.taskRetries += sim.counts.taskRetries;
  if (sim.stopped === 'ABORTED') totals.stops++;
  if (sim.stopped === 'ABORTED' && sim.counts.workersInFlightAtStop > 0) totals.stopsWithWorkersInFlight++;
  if (sim.stopped === 'TIMED_OUT') totals.timeouts++;
  totals.executionFailures += sim.counts.executionFailures;
  totals.abandons += sim.counts.abandons;
  totals.abandonsGivenUp += sim.counts.abandonsGivenUp;
  totals.handlerCallsAfterStop += sim.handlerCalls.filter((c) => c.afterStop).length;
  const status = run?.status ?? 'none';
  totals.runs[status] = (totals.runs[status] ?? 0) + 1;
  for (const s of states) totals.jobs[s.status ?? 'none'] = (totals.jobs[s.status ?? 'none'] ?? 0) + 1;
}

/** One sequence: the run simulated, then the properties (and, for a calm run, the reference) checked. */
async function check(scenario: Scenario, totals: Totals, options: { readonly calm?: boolean; readonly trace?: boolean } = {}): Promise<{ sim: Simulation; problems: string[] }> {
  const sim = new Simulation(scenario, { trace: options.trace ?? false });
  await sim.run();
  const problems = await violations(sim);
  const run = await sim.inner.getRun(RUN_ID);
  const states = await sim.inner.listJobStates(RUN_ID);
  if (options.calm) {
    const expected = reference(sim.plan);
    if (run?.status !== expected.run) problems.push(`(control) the run ended ${run?.status}, expected ${expected.run}`);
    for (const id of sim.plan.ids) {
      const actual = states.find((s) => s.jobId === id)?.status;
      const calls = sim.handlerCalls.filter((c) => c.job === id).length;
      if (actual !== expected.jobs[id]!.status) problems.push(`(control) ${id} ended ${actual}, expected ${expected.jobs[id]!.status}`);
      if (calls !== expected.jobs[id]!.calls) problems.push(`(control) the handler of ${id} ran ${calls} times, expected ${expected.jobs[id]!.calls}`);
    }
  }
  if (!options.trace) tally(totals, sim, run, states);
  return { sim, problems };
}

/** The scenario, readably: the pipeline and what happens to it. */
function describeScenario(s: Scenario): string {
  const plan = planOf(s);
  const jobs = plan.ids.map((id) => {
    const ups = plan.upstream[id]!.map((d) => `${d.job}${d.on === DependencyType.COMPLETION ? '(COMPLETION)' : ''}`);
    return `  ${id}: after [${ups.join(', ')}], maxAttempts ${plan.retry[id]!.maxAttempts}, attempts ${plan.scripts[id]!.slice(0, plan.retry[id]!.maxAttempts).join(' → ')}`;
  });
  return [
    `pipeline:`,
    ...jobs,
    `store faults: ${s.storeRate}% of the first ${s.storeFaults.length} calls; send faults: ${s.sendRate}% of the first ${s.sendFaults.length} sends; invocation faults: ${s.invokeRate}% of the first ${s.invokeFaults.length} invocations`,
    `stop: ${s.stopAt === null ? 'none' : `at step ${s.stopAt}`}; scheduling choices: [${s.choices.join(', ')}]`,
    `scenario: ${JSON.stringify(s)}`,
  ].join('\n');
}

/** Runs a property over `runs` sequences from `seed`; on a failure, fails with the seed, the minimal scenario and its trace. */
async function assertProperty(name: string, arb: fc.Arbitrary<Scenario>, params: { seed: number; numRuns: number; timeLimitMs: number; calm?: boolean }): Promise<Totals> {
  const totals = emptyTotals();
  const details = await fc.check(
    fc.asyncProperty(arb, async (scenario) => {
      const { problems } = await check(scenario, totals, { calm: params.calm ?? false });
      if (problems.length > 0) throw new Error(problems.join('\n'));
    }),
    // Generation takes a few seconds; the limit bounds the shrinking of a counterexample (the best one so far is reported).
    { seed: params.seed, numRuns: params.numRuns, plugins: [fc.interruptAfterTimeLimit(params.timeLimitMs, { failOnInterrupt: true })] },
  );
  if (details.failed) {
    const minimal = (details.counterexample as readonly [Scenario] | null | undefined)?.[0];
    let account = details.interrupted && !details.counterexample ? `interrupted by its time limit (${params.timeLimitMs} ms) after ${details.numRuns} runs` : `the property failed with: ${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance)}`;
    if (minimal) {
      try {
        const { sim, problems } = await check(minimal, emptyTotals(), { calm: params.calm ?? false, trace: true });
        const run = await sim.inner.getRun(RUN_ID);
        account = [
          `broken:`,
          ...problems.map((p) => `  ${p}`),
          describeScenario(minimal),
          `the run record: ${JSON.stringify({ status: run?.status, jobs: run?.jobs, error: run?.error })}`,
          `attempt records: ${JSON.stringify((await sim.inner.listAttempts(RUN_ID)).map((a) => `${a.jobId}#${a.attempt} ${a.status}${a.errorCode ? ` ${a.errorCode}` : ''}`))}`,
          `job states: ${JSON.stringify((await sim.inner.listJobStates(RUN_ID)).map((st) => `${st.jobId} ${st.status ?? '-'}${st.reason ? ` ${st.reason}` : ''}`))}`,
          `dead letters: ${JSON.stringify(sim.sentLetters.map((m) => m.jobId))}; handler calls: ${JSON.stringify(sim.handlerCalls.map((c) => `${c.job}#${c.attempt} ${c.outcome}${c.afterStop ? ' (after the stop)' : ''}`))}`,
          `trace:`,
          ...(sim.trace ?? []).map((line) => `  ${line}`),
        ].join('\n');
      } catch (err) {
        account = `the minimal scenario throws: ${(err as Error).stack ?? String(err)}\n${describeScenario(minimal)}`;
      }
    }
    expect.fail(`${name}: counterexample after ${details.numRuns} runs, shrunk ${details.numShrinks} times (seed ${details.seed}, path "${details.counterexamplePath}")\n${account}`);
  }
  return totals;
}

function report(name: string, t: Totals): void {
  const byMethod = Object.entries(t.storeFaultsByMethod)
    .sort(([, a], [, b]) => b - a)
    .map(([m, n]) => `${m} ${n}`)
    .join(', ');
  console.info(
    [
      `${name}: ${t.sequences} sequences`,
      `  store faults: ${t.storeFaults.before} before applying, ${t.storeFaults.after} after applying (of them ${t.gateFaults} at the gate); by method: ${byMethod || 'none'}`,
      `  send faults: task tokens ${t.tokenSendFaults.before} before / ${t.tokenSendFaults.after} after sending; dead letters ${t.deadLetterSendFaults.before} before / ${t.deadLetterSendFaults.after} after sending`,
      `  invocations: ${t.throttledInvocations} throttled, ${t.lostAnswers} answers lost, ${t.redeliveries} redeliveries (the same payload delivered again after a lost answer); ${t.taskRetries} invocations by a Task's Retry in all`,
      `  stops: ${t.stops} (${t.stopsWithWorkersInFlight} with Lambda workers in flight, ${t.handlerCallsAfterStop} handler calls after a stop); timeouts: ${t.timeouts}; executions failed in a recorder step: ${t.executionFailures}`,
      `  dead letters: ${t.deduplicatedLetters} second copies dropped by the FIFO queue, ${t.lateCopies} kept after its window (after uncertain sends)`,
      `  abandoned jobs: ${t.abandons} (${t.abandonsGivenUp} Abandon job steps gave up)`,
      `  runs ended: ${JSON.stringify(t.runs)}; jobs ended: ${JSON.stringify(t.jobs)}`,
    ].join('\n'),
  );
}

// `new Date()` follows the simulated clock (only Date is faked: the simulator's scheduling uses setImmediate).
beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterAll(() => {
  vi.useRealTimers();
});

describe('the simulator', () => {
  it('follows the state machine of lib/plan/asl.ts', async () => {
    const plan = planOf({ size: 2, jobs: [{ upMask: 0, completionMask: 0, maxAttempts: 1, script: ['ok'] }, { upMask: 1, completionMask: 0, maxAttempts: 1, script: ['ok'] }], storeRate: 0, storeFaults: [], sendRate: 0, sendFaults: [], invokeRate: 0, invokeFaults: [], choices: [], stopAt: null });
    const n = stateNames;
    expect(plan.items).toEqual([expect.objectContaining({ id: 'j0', up: 0 }), expect.objectContaining({ id: 'j1', up: 1 })]);
    expect(await JOB_LISTS.graph(plan.jobList)).toEqual({ j0: [], j1: ['j0'] });
    expect(plan.states).toMatchObject({
      [n.recordStarted]: { Next: n.jobs },
      [n.jobs]: { ToleratedFailurePercentage: 100, Next: n.recordFinished },
      [n.recordFinished]: { Next: n.outcome },
      [n.outcome]: { Choices: [{ StringEquals: RunStatus.SUCCEEDED, Next: n.runSucceeded }, { StringEquals: RunStatus.CANCELLED, Next: n.runCancelled }], Default: n.runFailed },
      [n.runSucceeded]: { Type: 'Succeed' },
      [n.runFailed]: { Type: 'Fail' },
    });
    for (const state of [n.recordStarted, n.recordFinished]) expect(plan.states[state]).not.toHaveProperty('Catch');
    expect(plan.iteration).toMatchObject({
      [n.hasUpstream]: { Choices: [{ Variable: '$.job.up', NumericGreaterThan: 0, Next: n.waitForUpstream }], Default: n.runAttempt },
      [n.waitForUpstream]: { Catch: [{ ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'], Next: n.runAttempt }, { ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: n.abandon }], Next: n.runAttempt },
      [n.runAttempt]: { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: n.attemptFailed }], End: true },
      [n.attemptFailed]: { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.abandoned', Next: n.abandon }], Next: n.retry },
      [n.retry]: { Choices: [{ Variable: '$.next.retry', Next: n.backOff }, { Variable: '$.next.again', Next: n.backOffThenDecide }], Default: n.jobDone },
      [n.backOff]: { Next: n.runAttempt },
      [n.backOffThenDecide]: { Next: n.attemptFailed },
      [n.abandon]: { Next: n.jobDone },
    });
    expect(plan.iteration[n.abandon]).not.toHaveProperty('Catch');
    // The same Retry policy for every recorder step (read from Record run started).
    expect(retriersOf(plan.iteration[n.abandon])).toEqual(retriersOf(plan.states[n.recordStarted]));
    expect(retriersOf(plan.states[n.recordFinished])).toEqual(retriersOf(plan.states[n.recordStarted]));
  });
});

// Counterexamples the property found, each kept as a fixed case of what it broke.
const FOUND: readonly (readonly [string, Partial<Scenario>])[] = [
  ['a handler that succeeded runs again only when its end and the answer carrying it were both lost', { size: 1, storeRate: 2, storeFaults: [0, 0, 0, 0, 0, 98], invokeRate: 1, invokeFaults: [0, 99] }],
  ['a job that failed as its execution was stopped still has its dead letter', { size: 1, jobs: [{ upMask: 0, completionMask: 0, maxAttempts: 1, script: ['permanent', 'ok', 'ok'] }], stopAt: 9 }],
  ['a dead letter whose send failed after sending is sent again, not lost', { size: 1, jobs: [{ upMask: 0, completionMask: 0, maxAttempts: 1, script: ['permanent', 'ok', 'ok'] }], sendRate: 1, sendFaults: [99] }],
  ['a dead letter whose mark as sent failed is not lost', { size: 1, jobs: [{ upMask: 0, completionMask: 0, maxAttempts: 1, script: ['permanent', 'ok', 'ok'] }], storeRate: 2, storeFaults: [0, 0, 0, 0, 0, 0, 0, 0, 0, 98] }],
  ['a worker still running at a stop never leaves an attempt RUNNING after the run closed', { size: 1, stopAt: 6, choices: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], storeRate: 2, storeFaults: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 98] }],
  ['a stop during Record run started still gives every job of the graph its end and summary', { size: 2, stopAt: 1, choices: [0, 1, 21] }],
  ['an attempt whose start was written but answered with an error, as the run closed, is closed', {"size":3,"jobs":[{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":3,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]}],"storeRate":1,"storeFaults":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,99],"sendRate":0,"sendFaults":[],"invokeRate":0,"invokeFaults":[],"choices":[0,0,0,0,0,0,2,17,11,0,26,26,11,11,0,16,2,20,16],"stopAt":5}],
  ['a dead-letter claim written after its lease ran out still leaves a letter and true records', {"size":4,"jobs":[{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":3,"completionMask":0,"maxAttempts":1,"script":["transient","ok","ok"]},{"upMask":9,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]},{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["ok","ok","ok"]}],"storeRate":14,"storeFaults":[0,0,0,0,0,0,0,0,86,0,0,0,91,0,0,0,0,90,0,0,0,86,0,86,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,17,36,97,50,55,25,23,25,19,4,13,50,57,79,46,3,75,5,6,50,86,66,84,64,87,75,22,52,98,29,3,41,86,97,66,19,6,54,75,50,69,47,88,24,33,27,21,42,35,56,52,72,80,96,9,26,82,0,52,32,81,10,78,81,75,24,68,44,68,41,32,68,15,0,25,1,38,42,4,4,64,70,55,44,72,54,27,2,97,70,39,2,90,11,5,41,64,73],"sendRate":21,"sendFaults":[67,6,29,50,2,75,91,28],"invokeRate":5,"invokeFaults":[76,65,24,84,13,3,67,32,7,76],"choices":[4,11,17,9,2,31,18,5,20,9,3,13,8,25,17,9,29,4,17,28,15,22,28,3,2,22,17,31,27,31,3,0,24,3,8,26,1,27,7,28,26,12,0,14,6,12,26,21,3,10,30,28,2,9,19,12,10,6,11,15,31,4,24,16,18,8,3,6,20,25,4,1,5,27,16,13,16,3,10,6,19,6,4,1,31,14,13,24,0,12,0,20,30,15,29,2,4,18,28,5,21,27,8,2,9,22,29,12,4,1,6,22,30,2,0,4,27,14,11,4,3,2,1,3,30,7,27,12,1,11,10,19,14,2,6,7,29,0,17,13,24,12,9,26,7,1,2,18,2,31,17,31,29,0,17,2,16,3,30,23,11,20,7,16,1,31,15,2,5,27,31,27,28,16,8,11,25,12,25,3,14,2,1],"stopAt":86}],
];

describe('counterexamples found by the property', () => {
  it.each(FOUND)('%s', async (_name, given) => {
    const { problems } = await check(scenarioOf(given), emptyTotals(), {});
    expect(problems).toEqual([]);
  });
});

describe('records that never lie, under faults (property)', () => {
  it(`keeps every record terminal and true, one dead letter per failed job, no handler run again (${CONTROL_RUNS} sequences without faults, checked against a reference model)`, async () => {
    report('control (no faults, no stops)', await assertProperty('control property', calmArb, { seed: CONTROL_SEED, numRuns: CONTROL_RUNS, timeLimitMs: 5_000, calm: true }));
  }, 30_000);

  it(`keeps every record terminal and true, one dead letter per failed job, no handler run again (${RUNS} sequences with store and send faults, lost answers and stops)`, async () => {
    report('faults', await assertProperty('records property', scenarioArb, { seed: SEED, numRuns: RUNS, timeLimitMs: 14_000 }));
  }, 30_000);
});


/**
 * Replays one scenario with its trace: the `scenario:` line of a failure, or any part of one (the rest
 * defaults to two plain jobs, no fault, no stop):
 *   PHI_PROPERTY_REPLAY='{"size":1,"jobs":[{"upMask":0,"completionMask":0,"maxAttempts":1,"script":["permanent"]}],"stopAt":9}' \
 *     npx vitest run test/unit/records-property.test.ts -t replay
 */
/** A whole scenario from a partial one (the shape the replay takes and a counterexample prints). */
function scenarioOf(given: Partial<Scenario>): Scenario {
  const plain: JobGen = { upMask: 0, completionMask: 0, maxAttempts: 1, script: ['ok', 'ok', 'ok'] };
  const jobs = Array.from({ length: MAX_JOBS }, (_, i) => ({ ...plain, ...given.jobs?.[i] }));
  return { size: 2, storeRate: 0, storeFaults: [], sendRate: 0, sendFaults: [], invokeRate: 0, invokeFaults: [], choices: [], stopAt: null, ...given, jobs };
}

// A debugging tool, not a test: registered only when asked for (so a normal run skips nothing).
if (process.env.PHI_PROPERTY_REPLAY !== undefined) {
  describe('replay', () => {
    it('replays PHI_PROPERTY_REPLAY', async () => {
      const scenario = scenarioOf(JSON.parse(process.env.PHI_PROPERTY_REPLAY ?? '{}') as Partial<Scenario>);
      const { sim, problems } = await check(scenario, emptyTotals(), { trace: true });
      console.info([`broken: ${problems.length === 0 ? 'nothing' : ''}`, ...problems.map((p) => `  ${p}`), describeScenario(scenario), 'trace:', ...(sim.trace ?? []).map((line) => `  ${line}`)].join('\n'));
    });
  });
}

/**
 * Fault injection for the property tests of the records (`test/unit/records-property.test.ts`).
 *
 * `FaultyRecordStore` wraps a `MemoryRecordStore` and fails calls as DynamoDB does when it throttles or
 * times out, per a schedule the test decides: each call asks `schedule(method, callIndex, methodIndex)`
 * and gets
 *  - `'none'`: the call is applied and answered as the memory store answers it;
 *  - `'before'`: nothing is applied, the caller gets the error (a throttled request);
 *  - `'after'`: the call is applied (written, for a write), but the caller still gets the error (a
 *    timeout after the commit: the SDK gave up on an answer DynamoDB had already acted on).
 * The error is the SDK's `ProvisionedThroughputExceededException` (see `throughputExceeded`).
 *
 * It covers every method of the memory store's `StoreMethods` (a superset of the task runtime's
 * `RuntimeStore` and of the recorder's `RecorderDeps['store']`: checked below at compile time), plus
 * `registerToken`, the state machine's own DynamoDB call at "Wait for upstream" (the gate), made
 * asynchronous and faultable like the others.
 *
 * It wraps (composition, not a subclass) so that only the callers' calls count: the memory store's own
 * internal calls (`finishRun` reading `requireRun`, …) are neither faulted nor counted.
 *
 * `beforeCall` runs (and is awaited) before each call is decided: a simulator uses it to park the call
 * and decide which pending call of which caller goes next. Call indexes are given in the order calls
 * pass `beforeCall`, so a schedule keyed by index sees the calls in the order they act.
 *
 * `flakySender` does the same for a send (a dead letter to SQS, a task token to Step Functions):
 * `'before'` fails without sending, `'after'` sends and then fails.
 */
import type { RuntimeStore } from '../../../functions/runtime/core.ts';
import type { RecorderDeps } from '../../../functions/control/recorder.ts';
import type { MemoryRecordStore, StoreMethods } from './memory-store.ts';

export type FaultKind = 'none' | 'before' | 'after';

/** Every method a `FaultyRecordStore` can fail: the store's, and the state machine's gate. */
export type FaultyMethod = StoreMethods | 'registerToken';

/** Decides the fate of one call: `callIndex` counts every call of this store, `methodIndex` those of `method`. */
export type FaultSchedule = (method: FaultyMethod, callIndex: number, methodIndex: number) => FaultKind;

/** One fault that was injected. */
export interface InjectedFault {
  readonly method: FaultyMethod;
  readonly callIndex: number;
  readonly kind: Exclude<FaultKind, 'none'>;
}

export interface FaultyStoreOptions {
  /** @default never fails */
  readonly schedule?: FaultSchedule;
  /** Awaited before each call is decided and applied. */
  readonly beforeCall?: (method: FaultyMethod) => Promise<void> | void;
}

/** What the AWS SDK throws when DynamoDB throttles a request (its `name` is what callers and Step Functions see). */
export function throughputExceeded(): Error {
  return Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
}

// Compile-time coverage: every method the task runtime and the recorder call is one this store fails.
type RuntimeMethods = keyof RuntimeStore;
type RecorderMethods = keyof RecorderDeps['store'];
type Uncovered = Exclude<RuntimeMethods | RecorderMethods, StoreMethods>;
const covered: [Uncovered] extends [never] ? true : Uncovered = true;
void covered;

export class FaultyRecordStore implements Pick<MemoryRecordStore, StoreMethods> {
  /** Calls made so far (all methods). */
  calls = 0;
  /** Calls made so far, by method. */
  readonly callsByMethod = new Map<FaultyMethod, number>();
  /** Every fault injected, in order. */
  readonly injected: InjectedFault[] = [];

  constructor(
    /** The store that holds the truth: read it directly to check what was written. */
    readonly inner: MemoryRecordStore,
    private readonly options: FaultyStoreOptions = {},
  ) {}

  private async call<T>(method: FaultyMethod, apply: () => Promise<T> | T): Promise<T> {
    await this.options.beforeCall?.(method);
    const callIndex = this.calls++;
    const methodIndex = this.callsByMethod.get(method) ?? 0;
    this.callsByMethod.set(method, methodIndex + 1);
    const kind = this.options.schedule?.(method, callIndex, methodIndex) ?? 'none';
    if (kind !== 'none') this.injected.push({ method, callIndex, kind });
    if (kind === 'before') throw throughputExceeded();
    const result = await apply();
    if (kind === 'after') throw throughputExceeded();
    return result;
  }

  createRun(...a: Parameters<MemoryRecordStore['createRun']>): ReturnType<MemoryRecordStore['createRun']> {
    return this.call('createRun', () => this.inner.createRun(...a));
  }
  attachExecution(...a: Parameters<MemoryRecordStore['attachExecution']>): ReturnType<MemoryRecordStore['attachExecution']> {
    return this.call('attachExecution', () => this.inner.attachExecution(...a));
  }
  reopenRun(...a: Parameters<MemoryRecordStore['reopenRun']>): ReturnType<MemoryRecordStore['reopenRun']> {
    return this.call('reopenRun', () => this.inner.reopenRun(...a));
  }
  markRunStartFailed(...a: Parameters<MemoryRecordStore['markRunStartFailed']>): ReturnType<MemoryRecordStore['markRunStartFailed']> {
    return this.call('markRunStartFailed', () => this.inner.markRunStartFailed(...a));
  }
  markRunRunning(...a: Parameters<MemoryRecordStore['markRunRunning']>): ReturnType<MemoryRecordStore['markRunRunning']> {
    return this.call('markRunRunning', () => this.inner.markRunRunning(...a));
  }
  finishRun(...a: Parameters<MemoryRecordStore['finishRun']>): ReturnType<MemoryRecordStore['finishRun']> {
    return this.call('finishRun', () => this.inner.finishRun(...a));
  }
  getRun(...a: Parameters<MemoryRecordStore['getRun']>): ReturnType<MemoryRecordStore['getRun']> {
    return this.call('getRun', () => this.inner.getRun(...a));
  }
  requireRun(...a: Parameters<MemoryRecordStore['requireRun']>): ReturnType<MemoryRecordStore['requireRun']> {
    return this.call('requireRun', () => this.inner.requireRun(...a));
  }
  startAttempt(...a: Parameters<MemoryRecordStore['startAttempt']>): ReturnType<MemoryRecordStore['startAttempt']> {
    return this.call('startAttempt', () => this.inner.startAttempt(...a));
  }
  finishAttempt(...a: Parameters<MemoryRecordStore['finishAttempt']>): ReturnType<MemoryRecordStore['finishAttempt']> {
    return this.call('finishAttempt', () => this.inner.finishAttempt(...a));
  }
  /** One transaction: a fault applies both writes or neither. */
  finishAttemptAndEndJob(...a: Parameters<MemoryRecordStore['finishAttemptAndEndJob']>): ReturnType<MemoryRecordStore['finishAttemptAndEndJob']> {
    return this.call('finishAttemptAndEndJob', () => this.inner.finishAttemptAndEndJob(...a));
  }
  closeAttempt(...a: Parameters<MemoryRecordStore['closeAttempt']>): ReturnType<MemoryRecordStore['closeAttempt']> {
    return this.call('closeAttempt', () => this.inner.closeAttempt(...a));
  }
  listAttempts(...a: Parameters<MemoryRecordStore['listAttempts']>): ReturnType<MemoryRecordStore['listAttempts']> {
    return this.call('listAttempts', () => this.inner.listAttempts(...a));
  }
  claimDeadLetter(...a: Parameters<MemoryRecordStore['claimDeadLetter']>): ReturnType<MemoryRecordStore['claimDeadLetter']> {
    return this.call('claimDeadLetter', () => this.inner.claimDeadLetter(...a));
  }
  releaseDeadLetterClaim(...a: Parameters<MemoryRecordStore['releaseDeadLetterClaim']>): ReturnType<MemoryRecordStore['releaseDeadLetterClaim']> {
    return this.call('releaseDeadLetterClaim', () => this.inner.releaseDeadLetterClaim(...a));
  }
  markDeadLetterSent(...a: Parameters<MemoryRecordStore['markDeadLetterSent']>): ReturnType<MemoryRecordStore['markDeadLetterSent']> {
    return this.call('markDeadLetterSent', () => this.inner.markDeadLetterSent(...a));
  }
  getAttempts(...a: Parameters<MemoryRecordStore['getAttempts']>): ReturnType<MemoryRecordStore['getAttempts']> {
    return this.call('getAttempts', () => this.inner.getAttempts(...a));
  }
  readAttemptContext(...a: Parameters<MemoryRecordStore['readAttemptContext']>): ReturnType<MemoryRecordStore['readAttemptContext']> {
    return this.call('readAttemptContext', () => this.inner.readAttemptContext(...a));
  }
  getJobState(...a: Parameters<MemoryRecordStore['getJobState']>): ReturnType<MemoryRecordStore['getJobState']> {
    return this.call('getJobState', () => this.inner.getJobState(...a));
  }
  listJobStates(...a: Parameters<MemoryRecordStore['listJobStates']>): ReturnType<MemoryRecordStore['listJobStates']> {
    return this.call('listJobStates', () => this.inner.listJobStates(...a));
  }
  recordUpstreamEnded(...a: Parameters<MemoryRecordStore['recordUpstreamEnded']>): ReturnType<MemoryRecordStore['recordUpstreamEnded']> {
    return this.call('recordUpstreamEnded', () => this.inner.recordUpstreamEnded(...a));
  }
  claimReady(...a: Parameters<MemoryRecordStore['claimReady']>): ReturnType<MemoryRecordStore['claimReady']> {
    return this.call('claimReady', () => this.inner.claimReady(...a));
  }
  recordCancellation(...a: Parameters<MemoryRecordStore['recordCancellation']>): ReturnType<MemoryRecordStore['recordCancellation']> {
    return this.call('recordCancellation', () => this.inner.recordCancellation(...a));
  }
  listRuns(...a: Parameters<MemoryRecordStore['listRuns']>): ReturnType<MemoryRecordStore['listRuns']> {
    return this.call('listRuns', () => this.inner.listRuns(...a));
  }
  listRunHistory(...a: Parameters<MemoryRecordStore['listRunHistory']>): ReturnType<MemoryRecordStore['listRunHistory']> {
    return this.call('listRunHistory', () => this.inner.listRunHistory(...a));
  }
  admitRun(...a: Parameters<MemoryRecordStore['admitRun']>): ReturnType<MemoryRecordStore['admitRun']> {
    return this.call('admitRun', () => this.inner.admitRun(...a));
  }
  countActiveRuns(...a: Parameters<MemoryRecordStore['countActiveRuns']>): ReturnType<MemoryRecordStore['countActiveRuns']> {
    return this.call('countActiveRuns', () => this.inner.countActiveRuns(...a));
  }  getBatch(...a: Parameters<MemoryRecordStore['getBatch']>): ReturnType<MemoryRecordStore['getBatch']> {
    return this.call('getBatch', () => this.inner.getBatch(...a));
  }
  openBatch(...a: Parameters<MemoryRecordStore['openBatch']>): ReturnType<MemoryRecordStore['openBatch']> {
    return this.call('openBatch', () => this.inner.openBatch(...a));
  }
  addToBatch(...a: Parameters<MemoryRecordStore['addToBatch']>): ReturnType<MemoryRecordStore['addToBatch']> {
    return this.call('addToBatch', () => this.inner.addToBatch(...a));
  }
  batchEvents(...a: Parameters<MemoryRecordStore['batchEvents']>): ReturnType<MemoryRecordStore['batchEvents']> {
    return this.call('batchEvents', () => this.inner.batchEvents(...a));
  }
  markBatchScheduled(...a: Parameters<MemoryRecordStore['markBatchScheduled']>): ReturnType<MemoryRecordStore['markBatchScheduled']> {
    return this.call('markBatchScheduled', () => this.inner.markBatchScheduled(...a));
  }
  closeBatch(...a: Parameters<MemoryRecordStore['closeBatch']>): ReturnType<MemoryRecordStore['closeBatch']> {
    return this.call('closeBatch', () => this.inner.closeBatch(...a));
  }
  lastScheduledTime(...a: Parameters<MemoryRecordStore['lastScheduledTime']>): ReturnType<MemoryRecordStore['lastScheduledTime']> {
    return this.call('lastScheduledTime', () => this.inner.lastScheduledTime(...a));
  }
  latestEndedRun(...a: Parameters<MemoryRecordStore['latestEndedRun']>): ReturnType<MemoryRecordStore['latestEndedRun']> {
    return this.call('latestEndedRun', () => this.inner.latestEndedRun(...a));
  }
  addWaiting(...a: Parameters<MemoryRecordStore['addWaiting']>): ReturnType<MemoryRecordStore['addWaiting']> {
    return this.call('addWaiting', () => this.inner.addWaiting(...a));
  }
  removeWaiting(...a: Parameters<MemoryRecordStore['removeWaiting']>): ReturnType<MemoryRecordStore['removeWaiting']> {
    return this.call('removeWaiting', () => this.inner.removeWaiting(...a));
  }
  listWaiting(...a: Parameters<MemoryRecordStore['listWaiting']>): ReturnType<MemoryRecordStore['listWaiting']> {
    return this.call('listWaiting', () => this.inner.listWaiting(...a));
  }
  resolveWait(...a: Parameters<MemoryRecordStore['resolveWait']>): ReturnType<MemoryRecordStore['resolveWait']> {
    return this.call('resolveWait', () => this.inner.resolveWait(...a));
  }

  endJob(...a: Parameters<MemoryRecordStore['endJob']>): ReturnType<MemoryRecordStore['endJob']> {
    return this.call('endJob', () => this.inner.endJob(...a));
  }

  /**
   * The state machine's gate ("Wait for upstream": DynamoDB UpdateItem with `attribute_not_exists(ready)`):
   * stores the iteration's task token unless the job is ready already (`false`: the iteration does not wait).
   */
  registerToken(runId: string, jobId: string, token: string): Promise<boolean> {
    return this.call('registerToken', () => this.inner.registerToken(runId, jobId, token));
  }
}

/** One send that was failed. */
export interface InjectedSendFault {
  readonly callIndex: number;
  readonly kind: Exclude<FaultKind, 'none'>;
}

export interface FlakySender<A> {
  /** Sends, or fails per the schedule. */
  readonly send: (message: A) => Promise<void>;
  /** Every send attempted, failed ones included. */
  readonly calls: () => number;
  /** Every fault injected, in order. */
  readonly injected: InjectedSendFault[];
}

/**
 * A sender that fails per `schedule(callIndex)`: `'before'` fails without calling `deliver`, `'after'`
 * calls it (the message is sent) and then fails, as a send whose answer was lost. `error` makes the
 * error thrown (by default SQS's or Step Functions' throttling).
 */
export function flakySender<A>(
  deliver: (message: A) => Promise<void> | void,
  options: { readonly schedule?: (callIndex: number) => FaultKind; readonly beforeCall?: () => Promise<void> | void; readonly error?: () => Error } = {},
): FlakySender<A> {
  let calls = 0;
  const injected: InjectedSendFault[] = [];
  const error = options.error ?? (() => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
  return {
    calls: () => calls,
    injected,
    send: async (message) => {
      await options.beforeCall?.();
      const callIndex = calls++;
      const kind = options.schedule?.(callIndex) ?? 'none';
      if (kind !== 'none') injected.push({ callIndex, kind });
      if (kind === 'before') throw error();
      await deliver(message);
      if (kind === 'after') throw error();
    },
  };
}

/**
 * Dead letters through the control API: list, show, retry (one, or all of a pipeline) and purge.
 *
 * SQS has no get-by-id: every operation scans the queue, receiving at most `DEAD_LETTER_SCAN_PAGES`
 * pages of 10 (`DEAD_LETTER_SCAN_LIMIT` letters), each hidden for `SCAN_VISIBILITY_SECONDS` while the
 * operation runs, and makes every message it did not delete visible again at once (also when it fails).
 * A letter beyond the bound, or hidden at that moment by another caller's scan, is not seen.
 *
 * A retry is a new run of the letter's pipeline (trigger `RETRY`) with its run's parameters, recorded
 * with `retryOf` (the run, job and message id, who asked and when), from the run's failed jobs
 * (`./retry-run.ts`): the failed job and its dependents run again, the jobs that succeeded are not. Its run id derives from the
 * letter's run, so two retries of one letter, or of two letters of one run, are one run. The letter is deleted only once that run has started;
 * a start that fails (or that the start rules refuse) leaves it in the queue. A pointer from the message
 * id to the run lets a retry of a letter already deleted answer with its run.
 */
import {
  ApiErrorCode,
  DEAD_LETTER_SCAN_PAGES,
  DeadLetterMessageSchema,
  MAX_RETRIES_PER_REQUEST,
  RunStatus,
  type DeadLetterEntry,
  type DeadLetterListResponse,
  type DeadLetterPurgeResponse,
  type DeadLetterRetryAllResponse,
  type DeadLetterRetryResponse,
  type RunRecord,
} from '../../lib/model/contract/index.ts';
import { PhiError, describeError } from '../../lib/model/errors.ts';
import type { DeadLetterQueue, QueuedMessage, RetryPointers } from '../shared/dead-letter-queue.ts';
import type { Logger } from '../shared/log.ts';
import type { RecordStore } from '../shared/records/store.ts';
import { retryRequest, StartRefusedError, startRun, type TriggerDeps } from './trigger.ts';

/** How long a scanned message stays hidden: longer than the control function may run (30 s), so one that dies mid-scan lets its messages reappear soon after. */
export const SCAN_VISIBILITY_SECONDS = 60;

export interface DeadLetterDeps {
  readonly queue: DeadLetterQueue;
  readonly retries: RetryPointers;
  /** The letters' original runs. */
  readonly store: Pick<RecordStore, 'getRun'>;
  /** Starting the retry runs. */
  readonly trigger: TriggerDeps;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** No letter with that message id waits (within the scan's bound); `retriedAs` when it was retried already. */
export class DeadLetterNotFoundError extends PhiError {
  constructor(
    readonly messageId: string,
    detail = 'it was retried, purged or expired, is beyond the scan\'s bound, or is being looked at by another caller',
  ) {
    super(ApiErrorCode.DEAD_LETTER_NOT_FOUND, `no dead letter "${messageId}" waits in the queue: ${detail}`);
  }
}

/** The letter's run has no record (it expired): there are no parameters to retry it with. */
export class OriginalRunMissingError extends PhiError {
  constructor(readonly runId: string) {
    super(ApiErrorCode.RUN_NOT_FOUND, `the dead letter's run ${runId} has no record (expired?): nothing to retry it with`);
  }
}

/** The retry run would not start by its pipeline's start rules (its active-runs limit): nothing started, the letter stays. */
export class RetryRefusedError extends PhiError {
  constructor(
    readonly messageId: string,
    reason: string,
    readonly run?: RunRecord,
  ) {
    super(ApiErrorCode.RETRY_REFUSED, `the retry of dead letter "${messageId}" would not start (${reason}); the letter stays in the queue: try again once the pipeline's active runs have ended`);
  }
}

interface Scanned {
  readonly message: QueuedMessage;
  /** Absent when the body is not a Phi dead letter. */
  readonly entry?: DeadLetterEntry;
}

function entryOf(message: QueuedMessage): DeadLetterEntry | undefined {
  let body: unknown;
  try {
    body = JSON.parse(message.body);
  } catch {
    return undefined;
  }
  const letter = DeadLetterMessageSchema.safeParse(body);
  if (!letter.success) return undefined;
  return { messageId: message.messageId, ...(message.sentAt ? { sentAt: message.sentAt } : {}), ...(message.receiveCount !== undefined ? { receiveCount: message.receiveCount } : {}), letter: letter.data };
}

/**
 * Receives the queue's messages, page by page (at most `DEAD_LETTER_SCAN_PAGES`), until a page is empty
 * or `stopAt` says the one looked for came; runs `work` on them, then makes visible again every message
 * `work` did not delete (listed in `deleted`), whatever `work` did.
 */
async function withScan<T>(deps: DeadLetterDeps, work: (messages: readonly Scanned[], deleted: Set<string>) => Promise<T>, stopAt?: (s: Scanned) => boolean): Promise<{ result: T; scanned: number; complete: boolean }> {
  const messages: Scanned[] = [];
  const deleted = new Set<string>();
  let complete = false;
  try {
    for (let page = 0; page < DEAD_LETTER_SCAN_PAGES; page++) {
      const received = await deps.queue.receive(SCAN_VISIBILITY_SECONDS, 1);
      if (received.length === 0) {
        complete = true;
        break;
      }
      const scanned = received.map((message) => {
        const entry = entryOf(message);
        return entry ? { message, entry } : { message };
      });
      messages.push(...scanned);
      if (stopAt !== undefined && scanned.some(stopAt)) {
        complete = true;
        break;
      }
    }
    const result = await work(messages, deleted);
    return { result, scanned: messages.length, complete };
  } finally {
    const keep = messages.map((m) => m.message.receiptHandle).filter((h) => !deleted.has(h));
    try {
      await deps.queue.release(keep);
    } catch (err) {
      // They reappear by themselves once their visibility runs out.
      deps.log.warn('dead letters not made visible again', { count: keep.length, error: describeError(err) });
    }
  }
}

/** `GET /dead-letters`: the letters waiting (of `pipeline`), at most `limit`. */
export async function listDeadLetters(query: { pipeline?: string; limit: number }, deps: DeadLetterDeps): Promise<DeadLetterListResponse> {
  const { result, scanned, complete } = await withScan(deps, async (messages) => messages.flatMap((m) => (m.entry && (query.pipeline === undefined || m.entry.letter.pipelineId === query.pipeline) ? [m.entry] : [])));
  return { letters: result.slice(0, query.limit), scanned, complete: complete && result.length <= query.limit };
}

/** `GET /dead-letters/{messageId}`. */
export async function showDeadLetter(messageId: string, deps: DeadLetterDeps): Promise<DeadLetterEntry> {
  const { result } = await withScan(deps, async (messages) => messages.find((m) => m.message.messageId === messageId)?.entry, (m) => m.message.messageId === messageId);
  if (result !== undefined) return result;
  const runId = await deps.retries.get(messageId);
  throw new DeadLetterNotFoundError(messageId, runId !== undefined ? `it was retried as run ${runId}` : undefined);
}

/** Retries one received letter: starts (or finds) its retry run, keeps the pointer, then deletes the letter. */
async function retryReceived(scanned: Scanned & { entry: DeadLetterEntry }, by: string, deps: DeadLetterDeps, deleted: Set<string>): Promise<DeadLetterRetryResponse> {
  const { letter, messageId } = scanned.entry;
  const now = (deps.now ?? (() => new Date()))();
  const original = await deps.store.getRun(letter.runId);
  if (original === undefined) throw new OriginalRunMissingError(letter.runId);
  // From the run's failed jobs: the failed job and its dependents run again, the jobs that succeeded are not.
  const req = retryRequest(original, { runId: letter.runId, jobId: letter.jobId, messageId, fromFailed: true, by, at: now.toISOString() });
  // Throws when the execution would not start: the letter is then made visible again, not deleted.
  const { created, run } = await startRun(req, deps.trigger).catch((err: unknown) => {
    if (err instanceof StartRefusedError) throw new RetryRefusedError(messageId, err.decision.reason ?? 'refused by its start rules');
    throw err;
  });
  if (run.status === RunStatus.SKIPPED) throw new RetryRefusedError(messageId, run.startDecision?.reason ?? 'refused by its start rules', run);
  await deps.retries.put(messageId, run.runId, now.toISOString());
  let removed = false;
  try {
    await deps.queue.remove(scanned.message.receiptHandle);
    deleted.add(scanned.message.receiptHandle);
    removed = true;
  } catch (err) {
    // The run has started; the letter reappears and its next retry answers with this run and deletes it.
    deps.log.warn('dead letter not deleted after its retry started', { messageId, runId: run.runId, error: describeError(err) });
  }
  deps.log.info('dead letter retried', { messageId, by, pipelineId: letter.pipelineId, failedRunId: letter.runId, jobId: letter.jobId, runId: run.runId, created, deleted: removed });
  return { messageId, created, deleted: removed, run };
}

/** `POST /dead-letters/{messageId}/retry`. */
export async function retryDeadLetter(messageId: string, by: string, deps: DeadLetterDeps): Promise<DeadLetterRetryResponse> {
  const { result } = await withScan(
    deps,
    async (messages, deleted) => {
      const found = messages.find((m) => m.message.messageId === messageId);
      if (found === undefined) return undefined;
      if (found.entry === undefined) throw new DeadLetterNotFoundError(messageId, 'the message is not a Phi dead letter');
      return retryReceived({ ...found, entry: found.entry }, by, deps, deleted);
    },
    (m) => m.message.messageId === messageId,
  );
  if (result !== undefined) return result;
  // Gone from the queue: retried already (the same run answers), else unknown.
  const runId = await deps.retries.get(messageId);
  const run = runId === undefined ? undefined : await deps.store.getRun(runId);
  if (run === undefined) throw new DeadLetterNotFoundError(messageId);
  deps.log.info('dead letter retried already', { messageId, by, runId: run.runId });
  return { messageId, created: false, deleted: false, run };
}

/** `POST /dead-letters/retry` with `{ pipeline?, all: true }`: at most `MAX_RETRIES_PER_REQUEST` letters a call, one at a time. */
export async function retryAllDeadLetters(pipeline: string | undefined, by: string, deps: DeadLetterDeps): Promise<DeadLetterRetryAllResponse> {
  const { result, scanned, complete } = await withScan(deps, async (messages, deleted) => {
    const matching = messages.flatMap((m) => (m.entry && (pipeline === undefined || m.entry.letter.pipelineId === pipeline) ? [{ ...m, entry: m.entry }] : []));
    const retried: DeadLetterRetryAllResponse['retried'] = [];
    const failed: DeadLetterRetryAllResponse['failed'] = [];
    for (const m of matching.slice(0, MAX_RETRIES_PER_REQUEST)) {
      try {
        const done = await retryReceived(m, by, deps, deleted);
        retried.push({ messageId: done.messageId, runId: done.run.runId, created: done.created });
      } catch (err) {
        const code = err instanceof PhiError ? err.code : ApiErrorCode.INTERNAL;
        failed.push({ messageId: m.entry.messageId, code, message: err instanceof Error ? err.message.slice(0, 1000) : String(err) });
        deps.log.warn('dead letter not retried', { messageId: m.entry.messageId, by, code });
      }
    }
    return { retried, failed, more: matching.length > MAX_RETRIES_PER_REQUEST };
  });
  deps.log.info('dead letters retried', { by, ...(pipeline !== undefined ? { pipelineId: pipeline } : {}), retried: result.retried.length, failed: result.failed.length, scanned });
  return { retried: result.retried, failed: result.failed, scanned, complete: complete && !result.more };
}

/**
 * `POST /dead-letters/purge` with `{ olderThanSeconds }`: deletes every letter SQS got at least that long
 * ago (its `SentTimestamp`, else the letter's `failedAt`); logs how many, which, and who asked.
 */
export async function purgeDeadLetters(olderThanSeconds: number, by: string, deps: DeadLetterDeps): Promise<DeadLetterPurgeResponse> {
  const now = (deps.now ?? (() => new Date()))().getTime();
  const { result, scanned, complete } = await withScan(deps, async (messages, deleted) => {
    const purged: string[] = [];
    for (const m of messages) {
      const since = m.message.sentAt ?? m.entry?.letter.failedAt;
      if (since === undefined || now - Date.parse(since) < olderThanSeconds * 1000) continue;
      await deps.queue.remove(m.message.receiptHandle);
      deleted.add(m.message.receiptHandle);
      purged.push(m.message.messageId);
    }
    return purged;
  });
  deps.log.info('dead letters purged', { by, olderThanSeconds, purged: result.length, messageIds: result, scanned });
  return { purged: result.length, messageIds: result, scanned, complete };
}

/**
 * The task runtime's core: everything a job's function does for one job of one run. Adapters (the
 * Lambda entry, tests) supply the stores, the clock and the senders.
 *
 * - `runAttempt` (the state machine's `run`): decides from its upstreams' outcomes whether the job runs
 *   or is skipped, runs one attempt of the handler with its upstreams' outputs, records it, and on
 *   success releases its dependents. Every failure is recorded and then thrown as `PhiTaskError`.
 * - `attemptFailed` (the state machine's `failed`, after it caught that error or any other): decides
 *   whether to retry and after what delay (the job's retry policy: Rules 8-11), or fails the job for
 *   good: its one dead letter, its end, its dependents released.
 */
import { createHash } from 'node:crypto';
import {
  ErrorCategory,
  capText,
  ExecErrorCode,
  JobStatus,
  MAX_ERROR_CODE_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_INLINE_OUTPUTS_BYTES,
  MAX_OUTPUTS_BYTES,
  MAX_OUTPUTS_DEPTH,
  OutputsSchema,
  SkipReason,
  TASK_ERROR_NAME,
  TERMINAL_RUN_STATUSES,
  type ErrorInfo,
  type FailedTaskPayload,
  type JobAttemptRecord,
  type JobManifest,
  type PendingEnd,
  type PipelineManifest,
  type ResolvedRetry,
  type RetryDecision,
  type RunTaskPayload,
  type TaskResult,
  type UpstreamOutcome,
} from '../../lib/model/contract/index.ts';
import { canonicalJson, jsonBytes, nestsDeeperThan } from '../../lib/model/canonical.ts';
import { METRIC_DIMENSIONS } from '../../lib/model/contract/metrics.ts';
import { emitMetrics } from '../shared/metrics.ts';
import { PhiError } from '../../lib/model/errors.ts';
import { deadLetterOf, sendDeadLetterOnce, type DeadLetterDeps } from '../shared/dead-letters.ts';
import { decide } from '../shared/dependencies.ts';
import { errorFromCaught } from '../shared/failures.ts';
import { outputsKey, type OutputStore } from '../shared/outputs.ts';
import type { Logger } from '../shared/log.ts';
import { cancelledAt, RecordError, type RecordStore } from '../shared/records/store.ts';
import { releaseDependents, type ReleaseDeps } from '../shared/release.ts';
import type { Outputs, TaskContext, TaskHandler } from './index.ts';

/** The error an attempt's failure is thrown as. Its message is the `ErrorInfo` as JSON, read back by `attemptFailed`. */
export class PhiTaskError extends PhiError {
  override readonly name = TASK_ERROR_NAME;
  constructor(readonly info: ErrorInfo) {
    super(info.code, JSON.stringify(info));
  }
}

export type RuntimeStore = Pick<
  RecordStore,
  'startAttempt' | 'finishAttempt' | 'finishAttemptAndEndJob' | 'closeAttempt' | 'getAttempts' | 'readAttemptContext' | 'getJobState' | 'endJob' | 'recordUpstreamEnded' | 'claimReady' | 'claimDeadLetter' | 'releaseDeadLetterClaim' | 'markDeadLetterSent'
>;

export interface RuntimeDeps {
  readonly store: RuntimeStore;
  readonly log: Logger;
  readonly sendToken: ReleaseDeps['sendToken'];
  readonly sendDeadLetter: DeadLetterDeps['sendDeadLetter'];
  /** Where outputs too large for the attempt record go. */
  readonly outputs: OutputStore;
  readonly now?: () => Date;
  /** Draws the jitter of a retry delay: [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** The user's handler, or why it could not be loaded. */
export type LoadedHandler = { readonly handler: TaskHandler } | { readonly error: string };

/** What a thrown value says, even one whose own conversion throws. */
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Classifies a thrown error (spec Rule 10). The job's lists win: a code in `nonRetryableErrors` is
 * permanent; when `retryableErrors` is not empty, only its codes are transient. Otherwise the error's
 * own category, and an error without one is transient (DEFAULT_ERROR_CATEGORY).
 */
export function classifyError(err: unknown, retry: Pick<ResolvedRetry, 'retryableErrors' | 'nonRetryableErrors'>): ErrorInfo {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; category?: unknown };
  // A handler's own code and message, within what its records and its dead letter keep.
  const code = typeof e.code === 'string' && e.code !== '' ? e.code.slice(0, MAX_ERROR_CODE_LENGTH) : ExecErrorCode.HANDLER_ERROR;
  const message = capText(typeof e.message === 'string' ? e.message : safeString(err), MAX_ERROR_MESSAGE_LENGTH);
  let category: ErrorCategory;
  if (retry.nonRetryableErrors.includes(code)) category = ErrorCategory.PERMANENT;
  else if (retry.retryableErrors.length > 0) category = retry.retryableErrors.includes(code) ? ErrorCategory.TRANSIENT : ErrorCategory.PERMANENT;
  else if (e.category === ErrorCategory.PERMANENT || e.category === ErrorCategory.TRANSIENT) category = e.category;
  else category = ErrorCategory.TRANSIENT;
  return { code, message, category };
}

/**
 * The delay before attempt `attempt + 1` (Rules 8 and 9): the initial delay times the multiplier for
 * each earlier retry, capped at the maximum; `FULL` jitter draws it uniformly between 0 and that.
 */
export function retryDelaySeconds(retry: ResolvedRetry, attempt: number, random: () => number = Math.random): number {
  const computed = Math.min(retry.maxDelaySeconds, retry.initialDelaySeconds * retry.backoffMultiplier ** (attempt - 1));
  return Math.round(retry.jitter === 'FULL' ? random() * computed : computed);
}

export const checksum = (outputs: unknown): string => createHash('sha256').update(canonicalJson(outputs)).digest('hex');

function jobOf(manifest: PipelineManifest, jobId: string): JobManifest {
  const job = Object.prototype.hasOwnProperty.call(manifest.jobs, jobId) ? manifest.jobs[jobId] : undefined;
  // A misrouted payload is a compiler/deployment mismatch: retrying cannot mend it.
  if (!job) throw new PhiTaskError({ code: ExecErrorCode.TASK_FAILED, message: `job ${jobId} is not one of the jobs of pipeline ${manifest.pipelineId} this function runs`, category: ErrorCategory.PERMANENT });
  return job;
}

/**
 * Whether the job waited at its gate for its upstreams: its own writes (start, end) then note its
 * token delivered, so a repeated release sends it no more (see `claimReady`).
 */
const gated = (job: JobManifest): boolean => job.upstream.length > 0;

/**
 * Ends the job (the first end wins) and releases its dependents; answers the end that stands. With
 * `finished`, the attempt's own end is written with the job's, in one write.
 */
async function endJob(job: JobManifest, runId: string, jobId: string, outcome: UpstreamOutcome & { errorCode?: string }, deps: RuntimeDeps, finished?: JobAttemptRecord): Promise<JobStatus | undefined> {
  const now = deps.now ?? (() => new Date());
  const end = { ...outcome, at: now().toISOString() };
  const released = gated(job);
  const ended = finished ? await deps.store.finishAttemptAndEndJob(finished, end, released) : await deps.store.endJob(runId, jobId, end, released);
  const actual = ended ? outcome : await deps.store.getJobState(runId, jobId);
  if (actual?.status === undefined) return undefined;
  await release(job, runId, jobId, { status: actual.status, attempt: actual.attempt ?? 0, ...(actual.reason ? { reason: actual.reason } : {}) }, deps);
  return actual.status;
}

/**
 * Releases the dependents of an ended job. Done again on a repeated delivery: it finishes what a crash
 * between the job's end and its release interrupted (each dependent counts each upstream once).
 */
async function release(job: JobManifest, runId: string, jobId: string, outcome: UpstreamOutcome, deps: RuntimeDeps): Promise<void> {
  await releaseDependents({ store: deps.store, sendToken: deps.sendToken, log: deps.log, ...(deps.now ? { now: deps.now } : {}) }, runId, jobId, outcome, job.dependents);
}

const outcomeOf = (state: { status?: UpstreamOutcome['status']; attempt?: number; reason?: string }): UpstreamOutcome => ({ status: state.status ?? JobStatus.FAILED, attempt: state.attempt ?? 0, ...(state.reason ? { reason: state.reason } : {}) });

/** The attempt of each upstream that succeeded: one read already (`read`, by attempt), or read now. */
async function succeededUpstreams(runId: string, outcomes: Readonly<Record<string, UpstreamOutcome>>, read: readonly JobAttemptRecord[], deps: RuntimeDeps): Promise<JobAttemptRecord[]> {
  const keys = Object.entries(outcomes)
    .filter(([, o]) => o.status === JobStatus.SUCCEEDED && o.attempt > 0)
    .map(([jobId, o]) => ({ runId, jobId, attempt: o.attempt }));
  const byJob = new Map(read.map((a) => [a.jobId, a]));
  const found: JobAttemptRecord[] = [];
  const missing: typeof keys = [];
  for (const key of keys) {
    const attempt = byJob.get(key.jobId);
    if (attempt?.attempt === key.attempt) found.push(attempt);
    else missing.push(key);
  }
  return missing.length === 0 ? found : [...found, ...(await deps.store.getAttempts(missing))];
}

/** The outputs of each of those attempts, by job id: from its record, or the outputs bucket. */
async function outputsOf(attempts: readonly JobAttemptRecord[], deps: RuntimeDeps): Promise<Record<string, Outputs>> {
  const outputs: Record<string, Outputs> = {};
  await Promise.all(
    attempts.map(async (attempt) => {
      outputs[attempt.jobId] = attempt.outputsRef ? (OutputsSchema.parse(JSON.parse(await deps.outputs.get(attempt.outputsRef))) as Outputs) : ((attempt.outputs ?? {}) as Outputs);
    }),
  );
  return outputs;
}

/**
 * In a run retried from its failed jobs (`run.reuseFrom`): the attempt whose outputs this job takes
 * instead of running again, when it succeeded in the retried run and its inputs are the same: each
 * upstream ended as it did there (status and reason), and each that succeeded took its outputs from
 * there too (one that ran again may have made other outputs). Absent: the job runs.
 */
async function reusableAttempt(reuseFrom: string, job: JobManifest, jobId: string, outcomes: Readonly<Record<string, UpstreamOutcome>>, upstreams: readonly JobAttemptRecord[], deps: RuntimeDeps): Promise<JobAttemptRecord | undefined> {
  const before = await deps.store.getJobState(reuseFrom, jobId);
  if (before?.status !== JobStatus.SUCCEEDED || !before.attempt) return undefined;
  const taken = new Set(upstreams.filter((a) => a.reusedFrom !== undefined).map((a) => a.jobId));
  const same = job.upstream.every(({ job: up }) => {
    const now = outcomes[up];
    const then = before.upstream[up];
    return now !== undefined && then !== undefined && now.status === then.status && (now.reason ?? '') === (then.reason ?? '') && (now.status !== JobStatus.SUCCEEDED || taken.has(up));
  });
  if (!same) return undefined;
  const [attempt] = await deps.store.getAttempts([{ runId: reuseFrom, jobId, attempt: before.attempt }]);
  return attempt?.status === JobStatus.SUCCEEDED ? attempt : undefined;
}

/** Consecutive failures of Phi's own storage a job's step may meet before the job fails for it (`INFRA_001`). */
export const MAX_INFRA_TRIES = 8;

/** Seconds before the `tries`-th retry after a storage failure: 2, 4, 8, … up to five minutes. */
export const infraDelaySeconds = (tries: number): number => Math.min(300, 2 ** tries);

/** Inline outputs carried back in a pending end stay well under Step Functions' 32,768-character error cause. */
const MAX_PENDING_INLINE_BYTES = 16 * 1024;

/** The failure of Phi's own storage, as the attempt's error: carries the attempt's end when the handler has run. */
function infraFailure(err: unknown, pending?: PendingEnd): PhiTaskError {
  const message = `Phi's records or outputs could not be written or read: ${(err as Error)?.message ?? String(err)}`.slice(0, 1000);
  return new PhiTaskError({ code: ExecErrorCode.INFRA_UNAVAILABLE, message, category: ErrorCategory.INFRASTRUCTURE, ...(pending ? { pending } : {}) });
}

/** Runs `work`; an error that is not Phi's own verdict (an AWS call still failing after the SDK's retries) becomes an infrastructure failure. */
async function guarded<T>(work: () => Promise<T>, pending?: () => Promise<PendingEnd | undefined>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PhiTaskError || err instanceof RecordError) throw err;
    throw infraFailure(err, await pending?.().catch(() => undefined));
  }
}

export async function runAttempt(manifest: PipelineManifest, payload: RunTaskPayload, loaded: LoadedHandler, deps: RuntimeDeps): Promise<TaskResult> {
  const now = deps.now ?? (() => new Date());
  const { run, jobId, attempt } = payload;
  const job = jobOf(manifest, jobId);
  const log = deps.log.child({ pipelineId: manifest.pipelineId, runId: run.runId, jobId, attempt });
  // Every line logged for this attempt, the releases of its dependents too, carries the run and the job.
  const scoped: RuntimeDeps = { ...deps, log };
  const parameters = { ...job.parameters, ...run.parameters };

  // Before the handler: nothing of the job's has happened yet, so a storage failure costs no attempt.
  type Before = { readonly answer: TaskResult } | { readonly again: true } | { readonly outputs: Record<string, Outputs>; readonly base: JobAttemptRecord };
  const before = await guarded(async (): Promise<Before> => {
    // One consistent batch read of the run, the job's state, this attempt and its upstreams' first attempts.
    const { state, run: current, attempt: own, upstreamAttempts } = await deps.store.readAttemptContext(run.runId, jobId, attempt, job.upstream.map((u) => u.job));
    // A repeated delivery of an ended job answers as it ended and runs nothing again (its release is completed).
    if (state?.status !== undefined) {
      // Its attempt, started as the job was ended by another (the run's end), never stays RUNNING.
      if (own?.status === JobStatus.RUNNING) await deps.store.closeAttempt(run.runId, jobId, attempt, cancelledAt(own, now().toISOString(), state.reason ?? SkipReason.RUN_ENDED, `the job ended ${state.status} as this attempt started`));
      await release(job, run.runId, jobId, outcomeOf(state), scoped);
      if (state.status === JobStatus.SUCCEEDED || state.status === JobStatus.SKIPPED) return { answer: { status: state.status, attempt: state.attempt ?? 0 } };
      throw new PhiTaskError({ code: state.errorCode ?? ExecErrorCode.TASK_FAILED, message: `job ${jobId} already ended ${state.status}`, category: ErrorCategory.PERMANENT });
    }
    // A repeated delivery of an attempt that ended: its end stands, and its handler does not run again.
    if (own?.status === JobStatus.SUCCEEDED) {
      await endJob(job, run.runId, jobId, { status: JobStatus.SUCCEEDED, attempt }, scoped);
      return { answer: { status: JobStatus.SUCCEEDED, attempt } };
    }
    if (own && own.status !== JobStatus.RUNNING) throw new PhiTaskError({ code: own.errorCode ?? ExecErrorCode.TASK_FAILED, message: own.errorMessage ?? `attempt ${attempt} ended ${own.status}`, category: own.errorCategory ?? ErrorCategory.PERMANENT });
    if (current && TERMINAL_RUN_STATUSES.includes(current.status)) {
      // The run was closed (its execution stopped) while this job waited: it does not start now.
      const status = attempt > 1 ? JobStatus.CANCELLED : JobStatus.SKIPPED;
      await endJob(job, run.runId, jobId, { status, reason: SkipReason.RUN_ENDED, attempt: attempt - 1 }, scoped);
      log.info('job not started: its run has ended', { status });
      return { answer: { status: JobStatus.SKIPPED, attempt: attempt - 1 } };
    }
    const outcomes = state?.upstream ?? {};
    const upstreams = job.upstream.length > 0 ? await succeededUpstreams(run.runId, outcomes, upstreamAttempts, deps) : [];
    const reused = attempt === 1 && run.reuseFrom !== undefined ? await reusableAttempt(run.reuseFrom, job, jobId, outcomes, upstreams, deps) : undefined;
    if (reused !== undefined) {
      // Succeeded in the retried run, from the same inputs: its outputs stand, the handler does not run.
      const at = now().toISOString();
      const started = attemptBase(manifest, run.runId, jobId, attempt, parameters, at);
      // Larger outputs are copied to this attempt's own object: the one they came from expires with its run.
      const taken = reused.outputsRef !== undefined ? { outputsRef: await deps.outputs.put(outputsKey(started), await deps.outputs.get(reused.outputsRef)) } : reused.outputs !== undefined ? { outputs: reused.outputs } : {};
      // The attempt that ran the handler, however many retries ago.
      const kept: JobAttemptRecord = { ...succeededRecord(started, at, taken, reused.outputChecksum), reusedFrom: reused.reusedFrom ?? { runId: reused.runId, attempt: reused.attempt } };
      if (!(await deps.store.startAttempt(kept, gated(job)))) return { again: true };
      log.info('job not run again: its outputs are reused', { reusedFrom: kept.reusedFrom });
      await endJob(job, run.runId, jobId, { status: JobStatus.SUCCEEDED, attempt }, scoped);
      return { answer: { status: JobStatus.SUCCEEDED, attempt } };
    }
    const outputs = await outputsOf(upstreams, deps);
    if (attempt === 1 && job.upstream.length > 0) {
      const decision = decide(job.upstream, outcomes, outputs);
      if (!decision.run) {
        log.info('job skipped', { reason: decision.reason });
        await endJob(job, run.runId, jobId, { status: JobStatus.SKIPPED, reason: decision.reason, attempt: 0 }, scoped);
        return { answer: { status: JobStatus.SKIPPED, attempt: 0 } };
      }
    }
    const base: JobAttemptRecord = { ...attemptBase(manifest, run.runId, jobId, attempt, parameters, now().toISOString()), ...(payload.taskExecutionArn ? { taskExecutionArn: payload.taskExecutionArn } : {}) };
    // A RUNNING record (an invocation that died, delivered again) is taken over; one that ended meanwhile
    // never is, nor is one of a job that ended meanwhile (the run's end, which then closes what started).
    if (!(await deps.store.startAttempt(base, gated(job)))) return { again: true };
    return { outputs, base };
  });
  // Another delivery ended this attempt between our read and our write: answer as that end says.
  if ('again' in before) return runAttempt(manifest, payload, loaded, deps);
  if ('answer' in before) return before.answer;
  const { outputs, base } = before;
  const startedAt = base.startedAt;
  log.info('attempt started', { maxAttempts: job.retry.maxAttempts });

  const ctx: TaskContext = {
    pipelineId: manifest.pipelineId,
    runId: run.runId,
    jobId,
    attempt,
    maxAttempts: job.retry.maxAttempts,
    trigger: run.trigger,
    ...(run.scheduledTime ? { scheduledTime: run.scheduledTime } : {}),
    executionArn: payload.executionArn,
    parameters,
    upstream: outputs,
    log,
  };

  let error: ErrorInfo | undefined;
  let result: Outputs = {};
  if ('error' in loaded) {
    error = { code: ExecErrorCode.HANDLER_LOAD_FAILED, message: loaded.error, category: ErrorCategory.PERMANENT };
  } else {
    try {
      const returned = await loaded.handler(ctx);
      // Depth first: a value that refers to itself would send the schema (and JSON) round for ever.
      const tooDeep = nestsDeeperThan(returned, MAX_OUTPUTS_DEPTH);
      const parsed = tooDeep ? undefined : OutputsSchema.safeParse(returned ?? {});
      const bytes = parsed?.success ? jsonBytes(parsed.data) : 0;
      if (!parsed) error = { code: ExecErrorCode.INVALID_OUTPUT, message: `the handler returned outputs nesting deeper than ${MAX_OUTPUTS_DEPTH} levels, or referring to themselves: they cannot be kept as JSON`, category: ErrorCategory.PERMANENT };
      else if (!parsed.success) error = { code: ExecErrorCode.INVALID_OUTPUT, message: `the handler returned ${Array.isArray(returned) ? 'an array' : typeof returned}, not a JSON object of outputs`, category: ErrorCategory.PERMANENT };
      else if (bytes > MAX_OUTPUTS_BYTES) error = { code: ExecErrorCode.INVALID_OUTPUT, message: `the handler returned ${bytes} bytes of outputs; at most ${MAX_OUTPUTS_BYTES} are kept: store large results yourself (in S3) and return their key`, category: ErrorCategory.PERMANENT };
      else result = parsed.data as Outputs;
    } catch (err) {
      error = classifyError(err, job.retry);
    }
  }

  const completedAt = now().toISOString();
  emitMetrics({ JobDuration: Date.parse(completedAt) - Date.parse(startedAt) }, { [METRIC_DIMENSIONS.pipeline]: manifest.pipelineId, [METRIC_DIMENSIONS.job]: jobId }, log, now);
  if (error) {
    const failure = error;
    const willRetry = failure.category === ErrorCategory.TRANSIENT && attempt < job.retry.maxAttempts;
    await guarded(
      () => deps.store.finishAttempt(failedRecord(base, completedAt, failure, willRetry)),
      async () => ({ startedAt, completedAt, result: { status: JobStatus.FAILED, error: failure } }),
    );
    log.error('attempt failed', { errorCode: failure.code, errorMessage: failure.message, errorCategory: failure.category, willRetry });
    throw new PhiTaskError(failure);
  }

  // Small outputs stay in the record; larger ones go to the outputs bucket, the record keeping where.
  const json = JSON.stringify(result);
  const outputChecksum = checksum(result);
  let kept: Pick<JobAttemptRecord, 'outputs' | 'outputsRef'> | undefined;
  await guarded(
    async () => {
      kept = Buffer.byteLength(json) > MAX_INLINE_OUTPUTS_BYTES ? { outputsRef: await deps.outputs.put(outputsKey(base), json) } : { outputs: result };
      log.info('attempt succeeded', { durationMs: Date.parse(completedAt) - Date.parse(startedAt) });
      await endJob(job, run.runId, jobId, { status: JobStatus.SUCCEEDED, attempt }, scoped, succeededRecord(base, completedAt, kept, outputChecksum));
    },
    // The handler succeeded: its end goes back to the state machine, so a store that failed never makes it run again.
    async () => {
      const carried = kept ?? (Buffer.byteLength(json) > MAX_PENDING_INLINE_BYTES ? { outputsRef: await deps.outputs.put(outputsKey(base), json) } : { outputs: result });
      if (carried.outputs !== undefined && Buffer.byteLength(json) > MAX_PENDING_INLINE_BYTES) return undefined;
      return { startedAt, completedAt, result: { status: JobStatus.SUCCEEDED, ...carried, outputChecksum } };
    },
  );
  return { status: JobStatus.SUCCEEDED, attempt };
}

/** An attempt as it starts: RUNNING since `at`. */
function attemptBase(manifest: PipelineManifest, runId: string, jobId: string, attempt: number, parameters: JobAttemptRecord['parameters'], at: string): JobAttemptRecord {
  return { runId, pipelineId: manifest.pipelineId, jobId, attempt, status: JobStatus.RUNNING, definitionVersion: manifest.definitionVersion, parameters, startedAt: at, transitions: [{ status: JobStatus.RUNNING, at }] };
}

function failedRecord(base: JobAttemptRecord, completedAt: string, error: ErrorInfo, willRetry: boolean): JobAttemptRecord {
  return {
    ...base,
    status: JobStatus.FAILED,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(base.startedAt),
    transitions: [...base.transitions, { status: JobStatus.FAILED, at: completedAt }],
    errorCode: error.code,
    errorMessage: error.message,
    errorCategory: error.category,
    willRetry,
  };
}

function succeededRecord(base: JobAttemptRecord, completedAt: string, kept: Pick<JobAttemptRecord, 'outputs' | 'outputsRef'>, outputChecksum: string | undefined): JobAttemptRecord {
  return {
    ...base,
    status: JobStatus.SUCCEEDED,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(base.startedAt),
    transitions: [...base.transitions, { status: JobStatus.SUCCEEDED, at: completedAt }],
    ...kept,
    ...(outputChecksum !== undefined ? { outputChecksum } : {}),
  };
}

export async function attemptFailed(manifest: PipelineManifest, payload: FailedTaskPayload, deps: RuntimeDeps): Promise<RetryDecision> {
  const { attempt, infraTries } = payload;
  try {
    return await decideAfterFailure(manifest, payload, deps);
  } catch (err) {
    if (err instanceof PhiTaskError || err instanceof RecordError) throw err;
    // Phi's storage failed while deciding: the same failure is handed back after a while, a bounded number of times.
    const tries = infraTries + 1;
    deps.log.warn('records unavailable while closing an attempt', { pipelineId: manifest.pipelineId, runId: payload.run.runId, jobId: payload.jobId, attempt, tries, error: (err as Error)?.message });
    if (tries > MAX_INFRA_TRIES) throw err;
    return { retry: false, again: true, delaySeconds: infraDelaySeconds(tries), attempt, infraTries: tries };
  }
}

async function decideAfterFailure(manifest: PipelineManifest, payload: FailedTaskPayload, deps: RuntimeDeps): Promise<RetryDecision> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const { run, jobId, attempt } = payload;
  const job = jobOf(manifest, jobId);
  const log = deps.log.child({ pipelineId: manifest.pipelineId, runId: run.runId, jobId, attempt });
  // Every line logged for this attempt, the releases of its dependents too, carries the run and the job.
  const scoped: RuntimeDeps = { ...deps, log };
  const done: RetryDecision = { retry: false, again: false, delaySeconds: 0, attempt, infraTries: 0 };
  const state = await deps.store.getJobState(run.runId, jobId);
  if (state?.status !== undefined) {
    await release(job, run.runId, jobId, outcomeOf(state), scoped);
    return done;
  }

  const caught = errorFromCaught(payload.caught);
  let [record] = await deps.store.getAttempts([{ runId: run.runId, jobId, attempt }]);
  if (caught.pending && record?.status === JobStatus.RUNNING) {
    // The attempt ended, but its store failed as it recorded the end: recorded now, as it was.
    const { pending } = caught;
    const end = pending.result.status === JobStatus.SUCCEEDED
      ? succeededRecord(record, pending.completedAt, { ...(pending.result.outputs ? { outputs: pending.result.outputs } : {}), ...(pending.result.outputsRef ? { outputsRef: pending.result.outputsRef } : {}) }, pending.result.outputChecksum)
      : failedRecord(record, pending.completedAt, pending.result.error, pending.result.error.category === ErrorCategory.TRANSIENT && attempt < job.retry.maxAttempts);
    await deps.store.finishAttempt(end);
    [record] = await deps.store.getAttempts([{ runId: run.runId, jobId, attempt }]);
  }
  if (record?.status === JobStatus.SUCCEEDED) {
    // The attempt succeeded and was recorded, but its invocation failed before the job's end was.
    await endJob(job, run.runId, jobId, { status: JobStatus.SUCCEEDED, attempt }, scoped);
    return done;
  }
  if (caught.category === ErrorCategory.INFRASTRUCTURE && !caught.pending) {
    // Phi's storage failed before the handler ran: the same attempt runs again, costing none of the job's.
    const tries = payload.infraTries + 1;
    if (tries <= MAX_INFRA_TRIES) {
      log.warn('records unavailable before the handler ran: the attempt runs again', { tries });
      return { retry: true, again: false, delaySeconds: infraDelaySeconds(tries), attempt, infraTries: tries };
    }
  }
  // The handler's own failures were recorded (and classified) by the attempt; anything else is what Step Functions saw.
  const error: ErrorInfo = record?.status === JobStatus.FAILED && record.errorCode && record.errorCategory ? { code: record.errorCode, message: record.errorMessage ?? '', category: record.errorCategory } : { code: caught.code, message: caught.message, category: caught.category };
  const retry = error.category === ErrorCategory.TRANSIENT && attempt < job.retry.maxAttempts;
  if (record?.status === JobStatus.RUNNING) {
    // The invocation ended without recording its end (a timeout, a crash).
    await deps.store.closeAttempt(run.runId, jobId, attempt, { status: JobStatus.FAILED, at: now, durationMs: Date.parse(now) - Date.parse(record.startedAt), errorCode: error.code, errorMessage: error.message, errorCategory: error.category, willRetry: retry });
  } else if (!record) {
    // The function never ran the attempt (the invocation itself failed): the attempt still gets its record.
    await deps.store.startAttempt(attemptBase(manifest, run.runId, jobId, attempt, { ...job.parameters, ...run.parameters }, now));
    await deps.store.closeAttempt(run.runId, jobId, attempt, { status: JobStatus.FAILED, at: now, durationMs: 0, errorCode: error.code, errorMessage: error.message, errorCategory: error.category, willRetry: retry });
  }
  if (retry) {
    const delaySeconds = retryDelaySeconds(job.retry, attempt, deps.random);
    log.info('attempt will be retried', { errorCode: error.code, delaySeconds });
    return { retry: true, again: false, delaySeconds, attempt: attempt + 1, infraTries: 0 };
  }

  // The job's end first: the run's end may have ended it otherwise (CANCELLED), and then it has no dead
  // letter. A crash between the two leaves the letter to the run's end, which sends one for every job
  // that ended FAILED.
  if ((await endJob(job, run.runId, jobId, { status: JobStatus.FAILED, attempt, errorCode: error.code }, scoped)) !== JobStatus.FAILED) return done;
  const message = deadLetterOf(run, { jobId, attempts: attempt, error, parameters: record?.parameters ?? { ...job.parameters, ...run.parameters }, executionArn: payload.executionArn, failedAt: now });
  if (await sendDeadLetterOnce({ store: deps.store, sendDeadLetter: deps.sendDeadLetter, ...(deps.now ? { now: deps.now } : {}) }, message)) log.error('job failed permanently', { errorCode: error.code, attempts: attempt });
  return done;
}

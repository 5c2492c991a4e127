/**
 * In-memory test doubles for the unit tests of the pure cores (runtime, recorder, trigger, API).
 *
 * `MemoryRecordStore` has the same surface as `functions/shared/records.ts` `RecordStore` and honours
 * the same status rules as its conditional writes:
 *  - createRun creates a run PENDING (SKIPPED, ended at once, when its start decision is SKIP) only once; a
 *    second call answers `created: false` and the record as stored;
 *  - admitRun admits a run among its pipeline's active runs while fewer than the limit are (letting go of
 *    those whose record is terminal, or missing past the grace, when at the limit), a run admitted before
 *    again; countActiveRuns counts the admitted runs that have not ended;
 *  - listRunHistory pages a pipeline's runs newest first by their history key, filtered, after a cursor;
 *  - markRunRunning moves a run to RUNNING only from PENDING, from FAILED with RUN_START_FAILED (removing
 *    error, completedAt, durationMs and jobs), or when it has no record (then it creates it RUNNING); it
 *    always writes the execution ARN, definition version and graph it is given;
 *  - markRunStartFailed moves a run to FAILED with RUN_START_FAILED only from PENDING;
 *  - finishRun moves a run to SUCCEEDED/FAILED/CANCELLED only from PENDING/RUNNING (with `from`, only from that
 *    status); a second call keeps the first result;
 *  - reopenRun moves a run back to PENDING only when it is FAILED with error code RUN_START_FAILED, removing
 *    error, completedAt, durationMs and jobs and appending a PENDING transition;
 *  - attachExecution sets the execution ARN once, on an existing run;
 *  - startAttempt and finishAttempt write only when the attempt is absent or RUNNING, startAttempt also only
 *    while the job has no end (it answers whether it wrote);
 *  - closeAttempt closes an attempt only when it exists and is RUNNING (with durationMs when given);
 *  - listAttempts lists a run's attempts (or one job's), in the sort-key order of a DynamoDB query;
 *  - claimDeadLetter claims the job's dead letter for an owner and a lease: `sent` once marked sent, `busy`
 *    while another owner's claim is live, else `claimed`; markDeadLetterSent marks it;
 *  - job states: recordUpstreamEnded keeps each upstream's outcome (a repeat overwrites it) and counts
 *    them; claimReady marks a job ready once (with its token, if registered), again for the same
 *    upstream until the job starts released (and, given its end, records it too); endJob keeps the first end;
 *    registerToken is the state machine's gate (a token is kept only while the job is not ready);
 *  - waiting runs: latestEndedRun answers a pipeline's newest run (by history key) that ended SUCCEEDED,
 *    FAILED or CANCELLED; add/remove/listWaiting keep a pipeline's set of waiting run ids; resolveWait
 *    gives a PENDING run with decision WAIT its new decision once (SKIP: SKIPPED, ended then);
 *  - trigger batches: openBatch opens one unless one is open at its instant (answering the open one);
 *    addToBatch adds an event only while that batch is the open one at its instant; batchEvents lists
 *    a batch's events by event id;
 *  - pauses and the audit log (`PauseAuditMethods`): setPause sets or clears one pipeline's pause (or the
 *    global one, `*`) and appends its audit record together; getPauses answers every pause; appendAudit
 *    appends a record; listAudit answers the newest `limit` records (of a pipeline and the global ones)
 *    by `<at>#<id>`, like the real store's month partitions read newest first (these are not in `writes`).
 * Like DynamoDB with `removeUndefinedValues`, undefined fields are dropped, and every record is parsed
 * with the contract's schemas on the way in and copied on the way out (callers never share state with it).
 *
 * Also here: a clock that answers given instants in turn, and a logger that captures its JSON lines.
 */
import {
  JobAttemptRecordSchema,
  RunRecordSchema,
  RunStatus,
  StartDecisionKind,
  type StartDecision,
  type JobAttemptRecord,
  type JobSummary,
  type RunRecord,
} from '../../../lib/model/contract/index.ts';
import { createLogger, type Logger } from '../../../functions/shared/log.ts';
import type { OutputStore, OutputsRef } from '../../../functions/shared/outputs.ts';
import { attemptPrefix, TERMINAL_RUN_STATUSES, type Cancellation, JobStateRecordSchema, KEY_PREFIX, recordKeys, RUN_START_FAILED, runPartition, type JobStateRecord, type UpstreamOutcome } from '../../../lib/model/contract/index.ts';
import { AuditRecordSchema, PauseFlagSchema, type AuditRecord, type AuditResponse, type PauseFlag, type Pauses } from '../../../lib/model/contract/index.ts';
import { auditConcerns, pauseAttribute } from '../../../functions/shared/records/store.ts';
import { ADMISSION_GRACE_SECONDS, DEAD_LETTER_LEASE_SECONDS, HISTORY_SCAN_LIMIT, newRunRecord, RecordError, type RunHistoryPage, type RunHistoryQuery, type AttemptClosure, type AttemptContext, type DeadLetterClaim, type JobEnd, type RecordStore } from '../../../functions/shared/records/store.ts';

export type StoreMethods =
  | 'createRun'
  | 'attachExecution'
  | 'reopenRun'
  | 'markRunStartFailed'
  | 'markRunRunning'
  | 'finishRun'
  | 'getRun'
  | 'requireRun'
  | 'startAttempt'
  | 'finishAttempt'
  | 'finishAttemptAndEndJob'
  | 'closeAttempt'
  | 'listAttempts'
  | 'claimDeadLetter'
  | 'markDeadLetterSent'
  | 'getAttempts'
  | 'readAttemptContext'
  | 'getJobState'
  | 'listJobStates'
  | 'recordUpstreamEnded'
  | 'claimReady'
  | 'recordCancellation'
  | 'releaseDeadLetterClaim'
  | 'listRuns'
  | 'listRunHistory'
  | 'admitRun'
  | 'countActiveRuns'
  | 'latestEndedRun'
  | 'addWaiting'
  | 'removeWaiting'
  | 'listWaiting'
  | 'resolveWait'
  | 'lastScheduledTime'
  | 'getBatch'
  | 'openBatch'
  | 'addToBatch'
  | 'batchEvents'
  | 'markBatchScheduled'
  | 'closeBatch'
  | 'endJob';

/** The pause and audit methods (kept apart from `StoreMethods`, which the fault-injecting store wraps). */
export type PauseAuditMethods = 'getPauses' | 'setPause' | 'appendAudit' | 'listAudit';

/** One write that changed the store (a conditional write that did not apply is not one). */
export interface StoreWrite {
  readonly op: StoreMethods;
  readonly key: string;
}

/** A JSON copy: drops undefined fields (as the DynamoDB marshaller is told to) and shares nothing. */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The real store's keys (`pk|sk`), so that listAttempts selects and orders exactly as a DynamoDB query would. */
const joined = ({ pk, sk }: { pk: string; sk: string }): string => `${pk}|${sk}`;
const attemptKey = (runId: string, jobId: string, attempt: number): string => joined(recordKeys.attempt(runId, jobId, attempt));
const deadLetterKey = (runId: string, jobId: string): string => joined(recordKeys.deadLetter(runId, jobId));

/** The object without its undefined fields (an update's `SET` skips them). */
const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export class MemoryRecordStore implements Pick<RecordStore, StoreMethods | PauseAuditMethods> {
  private readonly runs = new Map<string, RunRecord>();
  /** The pauses item: attribute (`all`, `p:<pipelineId>`) → flag. */
  private readonly pauses = new Map<string, PauseFlag>();
  private readonly auditLog: AuditRecord[] = [];
  private readonly attempts = new Map<string, JobAttemptRecord>();
  private readonly deadLetters = new Map<string, { claimedAt: string; claimedBy?: string; claimExpiresAt?: number; sentAt?: string }>();
  private readonly jobStates = new Map<string, JobStateRecord>();
  /** Every write that changed a record, in order. */
  readonly writes: StoreWrite[] = [];

  private putRun(op: StoreMethods, record: RunRecord): void {
    this.runs.set(record.runId, RunRecordSchema.parse(copy(record)));
    this.writes.push({ op, key: runPartition(record.runId) });
  }

  private putAttempt(op: StoreMethods, record: JobAttemptRecord): void {
    const key = attemptKey(record.runId, record.jobId, record.attempt);
    this.attempts.set(key, JobAttemptRecordSchema.parse(copy(record)));
    this.writes.push({ op, key });
  }

  async createRun(run: Omit<RunRecord, 'status' | 'transitions'>): Promise<{ created: boolean; run: RunRecord }> {
    const existing = this.runs.get(run.runId);
    if (existing) return { created: false, run: copy(existing) };
    const record = newRunRecord(run);
    this.putRun('createRun', record);
    return { created: true, run: copy(record) };
  }

  async attachExecution(runId: string, executionArn: string): Promise<void> {
    const existing = this.runs.get(runId);
    if (!existing || existing.executionArn !== undefined) return;
    this.putRun('attachExecution', { ...existing, executionArn });
  }

  async reopenRun(runId: string, at: string, startDecision?: StartDecision): Promise<RunRecord> {
    const existing = this.runs.get(runId);
    if (existing && existing.status === RunStatus.FAILED && existing.error?.code === RUN_START_FAILED) {
      const { error: _error, completedAt: _completedAt, durationMs: _durationMs, jobs: _jobs, ...rest } = existing;
      this.putRun('reopenRun', { ...rest, ...(startDecision !== undefined ? { startDecision } : {}), status: RunStatus.PENDING, transitions: [...existing.transitions, { status: RunStatus.PENDING, at }] });
    }
    return this.requireRun(runId);
  }

  async markRunStartFailed(runId: string, at: string, message: string): Promise<RunRecord> {
    const existing = this.runs.get(runId);
    if (existing?.status === RunStatus.PENDING) {
      this.putRun('markRunStartFailed', {
        ...existing,
        status: RunStatus.FAILED,
        completedAt: at,
        jobs: {},
        error: { code: RUN_START_FAILED, message },
        transitions: [...existing.transitions, { status: RunStatus.FAILED, at }],
      });
    }
    return this.requireRun(runId);
  }

  async markRunRunning(run: Omit<RunRecord, 'status' | 'transitions' | 'queuedAt'>, at: string): Promise<RunRecord> {
    const found = this.runs.get(run.runId);
    const startFailed = found?.status === RunStatus.FAILED && found.error?.code === RUN_START_FAILED;
    if (!found || found.status === RunStatus.PENDING || startFailed) {
      // REMOVE error, completedAt, durationMs, jobs
      const { error: _e, completedAt: _c, durationMs: _d, jobs: _j, ...existing } = found ?? ({} as Partial<RunRecord>);
      const record: RunRecord = {
        // if_not_exists: kept when the record has them
        queuedAt: at,
        trigger: run.trigger,
        parameters: run.parameters,
        ...defined({ scheduledTime: run.scheduledTime }),
        ...existing,
        // set: always written (when defined)
        ...defined({ executionArn: run.executionArn, definitionVersion: run.definitionVersion, jobList: run.jobList }),
        runId: run.runId,
        pipelineId: run.pipelineId,
        status: RunStatus.RUNNING,
        startedAt: at,
        transitions: [...(existing.transitions ?? []), { status: RunStatus.RUNNING, at }],
      };
      this.putRun('markRunRunning', record);
    }
    return this.requireRun(run.runId);
  }

  async finishRun(
    runId: string,
    outcome: { status: typeof RunStatus.SUCCEEDED | typeof RunStatus.FAILED | typeof RunStatus.CANCELLED; at: string; jobs: Record<string, JobSummary>; jobsCompacted?: true; error?: RunRecord['error'] },
    from?: typeof RunStatus.PENDING | typeof RunStatus.RUNNING,
  ): Promise<RunRecord> {
    const current = await this.requireRun(runId);
    if (from ? current.status === from : current.status === RunStatus.PENDING || current.status === RunStatus.RUNNING) {
      const startedAt = current.startedAt ?? current.queuedAt;
      this.putRun('finishRun', {
        ...current,
        status: outcome.status,
        completedAt: outcome.at,
        durationMs: Math.max(0, Date.parse(outcome.at) - Date.parse(startedAt)),
        jobs: outcome.jobs,
        ...(outcome.jobsCompacted ? { jobsCompacted: true as const } : {}),
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        transitions: [...current.transitions, { status: outcome.status, at: outcome.at }],
      });
    }
    return this.requireRun(runId);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const run = this.runs.get(runId);
    return run ? copy(run) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RecordError('REC_001_NOT_FOUND', `run ${runId} has no record`);
    return run;
  }

  async startAttempt(record: JobAttemptRecord, released = false): Promise<boolean> {
    const existing = this.attempts.get(attemptKey(record.runId, record.jobId, record.attempt));
    if (existing && existing.status !== 'RUNNING') return false;
    if (this.jobStates.get(joined(recordKeys.jobState(record.runId, record.jobId)))?.status !== undefined) return false;
    if (released) this.noteWoken(record.runId, record.jobId);
    this.putAttempt('startAttempt', record);
    return true;
  }

  async finishAttempt(record: JobAttemptRecord): Promise<void> {
    const existing = this.attempts.get(attemptKey(record.runId, record.jobId, record.attempt));
    if (existing && existing.status !== 'RUNNING') return;
    this.putAttempt('finishAttempt', record);
  }

  /** As the real store's transaction when both conditions hold; else each on its own, as it falls back to. */
  async finishAttemptAndEndJob(record: JobAttemptRecord, end: JobEnd, released = false): Promise<boolean> {
    await this.finishAttempt(record);
    return this.endJob(record.runId, record.jobId, end, released);
  }

  async closeAttempt(runId: string, jobId: string, attempt: number, closure: AttemptClosure): Promise<void> {
    const existing = this.attempts.get(attemptKey(runId, jobId, attempt));
    if (!existing || existing.status !== 'RUNNING') return;
    this.putAttempt('closeAttempt', {
      ...existing,
      ...defined({
        status: closure.status,
        completedAt: closure.at,
        durationMs: closure.durationMs,
        errorCode: closure.errorCode,
        errorMessage: closure.errorMessage,
        errorCategory: closure.errorCategory,
        willRetry: closure.willRetry,
      }),
      transitions: [...existing.transitions, { status: closure.status, at: closure.at }],
    });
  }

  async listAttempts(runId: string, jobId?: string): Promise<JobAttemptRecord[]> {
    const prefix = `${runPartition(runId)}|${attemptPrefix(jobId)}`;
    return [...this.attempts.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, record]) => copy(record));
  }

  async claimDeadLetter(runId: string, jobId: string, at: string, owner: string, leaseSeconds = DEAD_LETTER_LEASE_SECONDS): Promise<DeadLetterClaim> {
    const key = deadLetterKey(runId, jobId);
    const existing = this.deadLetters.get(key);
    if (existing?.sentAt !== undefined) return 'sent';
    const now = Math.floor(Date.parse(at) / 1000);
    if (existing && existing.claimedBy !== owner && (existing.claimExpiresAt ?? 0) >= now) return 'busy';
    if (existing?.claimedBy !== undefined && existing.claimedBy !== owner) this.deadLetterTakeovers++;
    this.deadLetters.set(key, { claimedAt: at, claimedBy: owner, claimExpiresAt: now + leaseSeconds });
    this.writes.push({ op: 'claimDeadLetter', key });
    return 'claimed';
  }

  /** Claims taken over from another owner whose lease ran out (that owner may have sent the letter). */
  deadLetterTakeovers = 0;

  async releaseDeadLetterClaim(runId: string, jobId: string, owner: string): Promise<void> {
    const key = deadLetterKey(runId, jobId);
    const existing = this.deadLetters.get(key);
    if (!existing || existing.claimedBy !== owner || existing.sentAt !== undefined) return;
    this.deadLetters.set(key, { claimedAt: existing.claimedAt });
    this.writes.push({ op: 'releaseDeadLetterClaim', key });
  }

  async markDeadLetterSent(runId: string, jobId: string, at: string): Promise<void> {
    const key = deadLetterKey(runId, jobId);
    this.deadLetters.set(key, { claimedAt: this.deadLetters.get(key)?.claimedAt ?? at, sentAt: at });
    this.writes.push({ op: 'markDeadLetterSent', key });
  }

  async getAttempts(keys: readonly { runId: string; jobId: string; attempt: number }[]): Promise<JobAttemptRecord[]> {
    return this.attemptsOf(keys);
  }

  private attemptsOf(keys: readonly { runId: string; jobId: string; attempt: number }[]): JobAttemptRecord[] {
    return keys.flatMap((k) => {
      const found = this.attempts.get(attemptKey(k.runId, k.jobId, k.attempt));
      return found ? [copy(found)] : [];
    });
  }

  private jobState(runId: string, jobId: string): JobStateRecord {
    return this.jobStates.get(joined(recordKeys.jobState(runId, jobId))) ?? { runId, jobId, upstream: {}, ready: false };
  }

  private putJobState(op: StoreMethods, state: JobStateRecord): void {
    const key = joined(recordKeys.jobState(state.runId, state.jobId));
    this.jobStates.set(key, JobStateRecordSchema.parse(copy(state)));
    this.writes.push({ op, key });
  }

  async readAttemptContext(runId: string, jobId: string, attempt: number, upstreams: readonly string[] = []): Promise<AttemptContext> {
    // One read, as the real store's batch: not through the store's other public reads.
    const [run, state] = await Promise.all([this.getRun(runId), this.getJobState(runId, jobId)]);
    const [own] = this.attemptsOf([{ runId, jobId, attempt }]);
    const upstreamAttempts = this.attemptsOf(upstreams.map((up) => ({ runId, jobId: up, attempt: 1 })));
    return { ...(run ? { run } : {}), ...(state ? { state } : {}), ...(own ? { attempt: own } : {}), upstreamAttempts };
  }

  async getJobState(runId: string, jobId: string): Promise<JobStateRecord | undefined> {
    const found = this.jobStates.get(joined(recordKeys.jobState(runId, jobId)));
    return found ? copy(found) : undefined;
  }

  async listJobStates(runId: string): Promise<JobStateRecord[]> {
    const prefix = `${runPartition(runId)}|${KEY_PREFIX.jobState}`;
    return [...this.jobStates.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, state]) => copy(state));
  }

  async recordUpstreamEnded(runId: string, dependent: string, upstream: string, outcome: UpstreamOutcome): Promise<{ ended: number; state: JobStateRecord }> {
    const state = this.jobState(runId, dependent);
    const next = { ...state, upstream: { ...state.upstream, [upstream]: outcome } };
    this.putJobState('recordUpstreamEnded', next);
    return { ended: Object.keys(next.upstream).length, state: copy(next) };
  }

  private readonly readyBy = new Map<string, { by: string; woken: boolean }>();

  /** The job's own iteration wrote past its gate (`released`): a repeated claim for it sends nothing more. */
  private noteWoken(runId: string, jobId: string): void {
    const key = joined(recordKeys.jobState(runId, jobId));
    const claim = this.readyBy.get(key);
    if (claim) this.readyBy.set(key, { ...claim, woken: true });
  }

  async claimReady(runId: string, jobId: string, by: string, ended?: { outcome: UpstreamOutcome; at: string }): Promise<{ claimed: boolean; token?: string }> {
    const key = joined(recordKeys.jobState(runId, jobId));
    const claim = this.readyBy.get(key);
    if (this.jobState(runId, jobId).ready && (claim?.by !== by || claim.woken)) {
      if (ended) await this.recordUpstreamEnded(runId, jobId, by, ended.outcome);
      return { claimed: false };
    }
    const state = this.jobState(runId, jobId);
    this.readyBy.set(key, { by, woken: false });
    this.putJobState('claimReady', { ...state, ...(ended ? { upstream: { ...state.upstream, [by]: ended.outcome } } : {}), ready: true });
    return { claimed: true, ...(state.token !== undefined ? { token: state.token } : {}) };
  }

  async endJob(runId: string, jobId: string, end: JobEnd, released = false): Promise<boolean> {
    const state = this.jobState(runId, jobId);
    if (state.status !== undefined) return false;
    if (released) this.noteWoken(runId, jobId);
    this.putJobState('endJob', { ...state, ...defined({ status: end.status, completedAt: end.at, attempt: end.attempt, reason: end.reason, errorCode: end.errorCode }) });
    return true;
  }

  /**
   * What the state machine's gate does ("Wait for upstream"): stores the iteration's task token unless
   * the job is ready already (`false`: the iteration does not wait).
   */
  registerToken(runId: string, jobId: string, token: string): boolean {
    const state = this.jobState(runId, jobId);
    if (state.ready) return false;
    this.putJobState('claimReady', { ...state, token });
    return true;
  }

  async listRuns(pipelineId: string, limit: number): Promise<RunRecord[]> {
    return [...this.runs.values()]
      .filter((r) => r.pipelineId === pipelineId)
      .sort((a, b) => (`${b.queuedAt}#${b.runId}` < `${a.queuedAt}#${a.runId}` ? -1 : 1))
      .slice(0, limit)
      .map((r) => copy(r));
  }

  async listRunHistory(pipelineId: string, query: RunHistoryQuery): Promise<RunHistoryPage> {
    const keyOf = (r: RunRecord): string => recordKeys.history(r.pipelineId, r.queuedAt, r.runId).gsi1sk;
    const ordered = [...this.runs.values()]
      .filter((r) => r.pipelineId === pipelineId && (query.after === undefined || Buffer.compare(Buffer.from(keyOf(r)), Buffer.from(query.after)) < 0))
      .sort((a, b) => Buffer.compare(Buffer.from(keyOf(b)), Buffer.from(keyOf(a))));
    const runs: RunRecord[] = [];
    for (let i = 0; i < ordered.length; i++) {
      const run = ordered[i]!;
      if ((query.status === undefined || run.status === query.status) && (query.trigger === undefined || run.trigger === query.trigger)) runs.push(copy(run));
      if (runs.length === query.limit) return i < ordered.length - 1 ? { runs, next: keyOf(run) } : { runs };
      if (i + 1 >= HISTORY_SCAN_LIMIT && i < ordered.length - 1) return { runs, next: keyOf(run) };
    }
    return { runs };
  }

  /** Each pipeline's admitted runs: run id → when it was admitted. */
  private readonly admitted = new Map<string, Map<string, string>>();

  private admittedOf(pipelineId: string): Map<string, string> {
    return this.admitted.get(pipelineId) ?? this.admitted.set(pipelineId, new Map()).get(pipelineId)!;
  }

  /** Whether an admitted run has ended: its record is terminal, or it never got one within the grace. */
  private admissionEnded(runId: string, admittedAt: string, at: string): boolean {
    const run = this.runs.get(runId);
    return run ? TERMINAL_RUN_STATUSES.includes(run.status) : Date.parse(at) - Date.parse(admittedAt) >= ADMISSION_GRACE_SECONDS * 1000;
  }

  async countActiveRuns(pipelineId: string, at: string): Promise<number> {
    return [...this.admittedOf(pipelineId)].filter(([runId, admittedAt]) => !this.admissionEnded(runId, admittedAt, at)).length;
  }

  async admitRun(pipelineId: string, runId: string, max: number, at: string): Promise<{ admitted: boolean; active: number }> {
    const admitted = this.admittedOf(pipelineId);
    if (!admitted.has(runId) && admitted.size >= max) {
      for (const [other, admittedAt] of admitted) if (this.admissionEnded(other, admittedAt, at)) admitted.delete(other);
    }
    if (!admitted.has(runId) && admitted.size >= max) return { admitted: false, active: admitted.size };
    if (!admitted.has(runId)) admitted.set(runId, at);
    this.writes.push({ op: 'admitRun', key: `PIPELINE#${pipelineId}|ACTIVE` });
    return { admitted: true, active: admitted.size - 1 };
  }

  private readonly waiting = new Map<string, Set<string>>();

  async latestEndedRun(pipelineId: string): Promise<{ runId: string; status: RunStatus; completedAt: string } | undefined> {
    const keyOf = (r: RunRecord): string => recordKeys.history(r.pipelineId, r.queuedAt, r.runId).gsi1sk;
    const ended = [...this.runs.values()]
      .filter((r) => r.pipelineId === pipelineId && [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED].includes(r.status as never) && r.completedAt !== undefined)
      .sort((a, b) => Buffer.compare(Buffer.from(keyOf(b)), Buffer.from(keyOf(a))))[0];
    return ended === undefined ? undefined : { runId: ended.runId, status: ended.status, completedAt: ended.completedAt! };
  }

  private readonly batches = new Map<string, { batchId: string; openedAt: string; until: string; scheduled?: true; closedAt?: string }>();
  private readonly batchMembers = new Map<string, { eventId: string; at: string; event: unknown }>();

  async getBatch(pipelineId: string, triggerId: string): Promise<{ batchId: string; openedAt: string; until: string; scheduled?: true; closedAt?: string } | undefined> {
    const batch = this.batches.get(`${pipelineId}|${triggerId}`);
    return batch === undefined ? undefined : copy(batch);
  }

  async openBatch(pipelineId: string, triggerId: string, batchId: string, at: string, until: string): Promise<{ batchId: string; openedAt: string; until: string }> {
    const key = `${pipelineId}|${triggerId}`;
    const open = this.batches.get(key);
    if (open !== undefined && open.until > at && open.closedAt === undefined) return copy(open);
    this.batches.set(key, { batchId, openedAt: at, until });
    this.writes.push({ op: 'openBatch', key: `PIPELINE#${pipelineId}|BATCH#${triggerId}` });
    return { batchId, openedAt: at, until };
  }

  async addToBatch(pipelineId: string, triggerId: string, batchId: string, eventId: string, event: unknown, at: string): Promise<boolean> {
    const open = this.batches.get(`${pipelineId}|${triggerId}`);
    if (open === undefined || open.batchId !== batchId || open.until <= at || open.closedAt !== undefined) return false;
    this.batchMembers.set(`${pipelineId}|${triggerId}|${batchId}|${eventId}`, { eventId, at, event: copy(event) });
    this.writes.push({ op: 'addToBatch', key: `PIPELINE#${pipelineId}|BATCH#${triggerId}#${batchId}#${eventId}` });
    return true;
  }

  async markBatchScheduled(pipelineId: string, triggerId: string, batchId: string): Promise<void> {
    const batch = this.batches.get(`${pipelineId}|${triggerId}`);
    if (batch?.batchId === batchId) batch.scheduled = true;
  }

  async closeBatch(pipelineId: string, triggerId: string, batchId: string, at: string): Promise<void> {
    const batch = this.batches.get(`${pipelineId}|${triggerId}`);
    if (batch?.batchId === batchId) batch.closedAt ??= at;
  }

  async batchEvents(pipelineId: string, triggerId: string, batchId: string): Promise<{ eventId: string; at: string; event: unknown }[]> {
    const prefix = `${pipelineId}|${triggerId}|${batchId}|`;
    return [...this.batchMembers.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => copy(v));
  }

  async lastScheduledTime(pipelineId: string, scheduleId: string): Promise<string | undefined> {
    const times = [...this.runs.values()].filter((r) => r.pipelineId === pipelineId && r.scheduledTime !== undefined && (r.scheduleId ?? 'default') === scheduleId).map((r) => r.scheduledTime!);
    return times.sort((a, b) => Date.parse(b) - Date.parse(a))[0];
  }

  async addWaiting(pipelineId: string, runId: string): Promise<void> {
    (this.waiting.get(pipelineId) ?? this.waiting.set(pipelineId, new Set()).get(pipelineId)!).add(runId);
    this.writes.push({ op: 'addWaiting', key: `PIPELINE#${pipelineId}|WAITING` });
  }

  async removeWaiting(pipelineId: string, runId: string): Promise<void> {
    this.waiting.get(pipelineId)?.delete(runId);
    this.writes.push({ op: 'removeWaiting', key: `PIPELINE#${pipelineId}|WAITING` });
  }

  async listWaiting(pipelineId: string): Promise<string[]> {
    return [...(this.waiting.get(pipelineId) ?? [])].sort();
  }

  async resolveWait(runId: string, decision: StartDecision, at: string): Promise<{ changed: boolean; run: RunRecord }> {
    const run = this.runs.get(runId);
    if (!run) throw new RecordError('REC_001_NOT_FOUND', `run ${runId} has no record`);
    if (run.status !== RunStatus.PENDING || run.startDecision?.decision !== StartDecisionKind.WAIT) return { changed: false, run: copy(run) };
    const skip = decision.decision === StartDecisionKind.SKIP;
    this.putRun('resolveWait', {
      ...run,
      startDecision: decision,
      ...(skip ? { status: RunStatus.SKIPPED, completedAt: at, durationMs: Math.max(0, Date.parse(at) - Date.parse(run.queuedAt)), transitions: [...run.transitions, { status: RunStatus.SKIPPED, at }] } : {}),
    });
    return { changed: true, run: copy(this.runs.get(runId)!) };
  }

  /** The runs a pipeline's limit counts as admitted (ended or not), in the order they were admitted. */
  admittedRuns(pipelineId: string): string[] {
    return [...this.admittedOf(pipelineId).keys()];
  }

  async getPauses(): Promise<Pauses> {
    const pipelines: Record<string, PauseFlag> = {};
    for (const [attribute, flag] of this.pauses) if (attribute !== pauseAttribute('*')) pipelines[attribute.slice(pauseAttribute('').length)] = copy(flag);
    const all = this.pauses.get(pauseAttribute('*'));
    return { ...(all !== undefined ? { all: copy(all) } : {}), pipelines };
  }

  async setPause(pipeline: string, flag: PauseFlag | undefined, audit: AuditRecord): Promise<void> {
    const record = AuditRecordSchema.parse(copy(audit));
    if (flag === undefined) this.pauses.delete(pauseAttribute(pipeline));
    else this.pauses.set(pauseAttribute(pipeline), PauseFlagSchema.parse(copy(flag)));
    this.auditLog.push(record);
  }

  async appendAudit(record: AuditRecord): Promise<void> {
    this.auditLog.push(AuditRecordSchema.parse(copy(record)));
  }

  async listAudit(query: { readonly pipeline?: string; readonly limit: number }, _now: string): Promise<AuditResponse> {
    const key = (r: AuditRecord): string => `${r.at}#${r.id}`;
    const records = this.auditLog
      .filter((r) => auditConcerns(r, query.pipeline))
      .sort((a, b) => Buffer.compare(Buffer.from(key(b)), Buffer.from(key(a))))
      .slice(0, query.limit)
      .map((r) => copy(r));
    return { records, complete: true };
  }

  /** Every audit record, oldest first as written (for tests). */
  get audit(): AuditRecord[] {
    return this.auditLog.map((r) => copy(r));
  }

  async recordCancellation(runId: string, cancellation: Cancellation): Promise<boolean> {
    const existing = this.runs.get(runId);
    if (!existing || TERMINAL_RUN_STATUSES.includes(existing.status)) return false;
    this.putRun('recordCancellation', { ...existing, cancellations: [...(existing.cancellations ?? []), cancellation] });
    return true;
  }

  /** The jobs of a run whose dead letter is claimed (sent or not), in key order. */
  deadLetterClaims(runId: string): string[] {
    const prefix = `${runPartition(runId)}|DLQ#`;
    return [...this.deadLetters.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length)).sort();
  }

  /** How many runs have a record. */
  get runCount(): number {
    return this.runs.size;
  }
}

/** A clock answering the given instants in turn, then the last one for ever. */
export function clock(...instants: readonly string[]): () => Date {
  if (instants.length === 0) throw new Error('clock() needs at least one instant');
  let i = 0;
  return () => new Date(instants[Math.min(i++, instants.length - 1)] as string);
}

/** One captured log line, parsed. */
export type LogLine = Readonly<Record<string, unknown>> & { readonly level: string; readonly message: string };

/** A logger (createLogger with a capturing writer) and the lines it wrote, parsed. */
export function captureLogs(base: Readonly<Record<string, unknown>> = {}): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger(base, (line) => {
    lines.push(JSON.parse(line) as LogLine);
  });
  return { log, lines };
}

/** The outputs bucket in memory: every object put, by key. */
export class MemoryOutputStore implements OutputStore {
  readonly objects = new Map<string, string>();
  constructor(readonly bucket = 'phi-outputs') {}

  async put(key: string, json: string): Promise<OutputsRef> {
    this.objects.set(key, json);
    return { bucket: this.bucket, key, bytes: Buffer.byteLength(json) };
  }

  async get(ref: OutputsRef): Promise<string> {
    const json = this.objects.get(ref.key);
    if (json === undefined || ref.bucket !== this.bucket) throw new Error(`NoSuchKey: ${ref.bucket}/${ref.key}`);
    return json;
  }
}

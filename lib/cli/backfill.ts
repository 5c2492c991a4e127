/**
 * `phi backfill <pipeline> --from --to [--schedule ID] [--max-concurrent N]`: one run per fire time of a
 * schedule in `[from, to)`, oldest first, each started through `POST /pipelines/{id}/runs` with its
 * `scheduledTime` (the run's logical date) and `scheduleId`, so it has the identity its schedule's own
 * delivery of that time would have. At most N of them are active at once: the CLI polls the active ones
 * (`GET /runs/{id}`, backing off while none ends) before it starts more. Run again after an
 * interruption, it starts nothing twice: a start of a time already started answers with its run, which
 * counts as done when it has ended and is waited for (as one of the N) while it is active.
 */
import { z } from 'zod';
import { RunStatus, TERMINAL_RUN_STATUSES, type RunRecord, type RunView, type StartRunRequest } from '../model/contract/index.ts';
import { PhiError } from '../model/errors.ts';
import type { NamedSchedule, Parameters, Pipeline } from '../model/pipeline.ts';
import { backfillTimes, MAX_BACKFILL_RUNS } from '../plan/schedule/backfill.ts';
import { declaredSchedules } from '../plan/schedule/index.ts';
import { ApiError } from '../client/errors.ts';

/** The most runs `--max-concurrent` lets be active at once. */
export const MAX_BACKFILL_CONCURRENCY = 100;
export const DEFAULT_BACKFILL_CONCURRENCY = 1;

/** What the command line got wrong about a backfill: exit 2 with the code. */
export const BackfillUsageCode = {
  /** `--from` or `--to` is not an ISO 8601 date or instant, or `--max-concurrent` is not 1..100. */
  INVALID_OPTION: 'CLI_010_BACKFILL_INVALID_OPTION',
  /** The pipeline is not in the definitions, or has no such schedule (or none). */
  NO_SCHEDULE: 'CLI_011_BACKFILL_NO_SCHEDULE',
  /** The range has more fire times than one backfill starts (`MAX_BACKFILL_RUNS`), or none can be told. */
  RANGE_REFUSED: 'CLI_012_BACKFILL_RANGE_REFUSED',
} as const;

export class BackfillUsageError extends PhiError {}

/** `2026-03-27` (midnight UTC), `2026-03-27T00:00` (UTC) or an instant with an offset. */
export function parseBackfillInstant(flag: string, text: string | undefined): Date {
  if (text === undefined) throw new BackfillUsageError(BackfillUsageCode.INVALID_OPTION, `phi backfill needs ${flag} (an ISO 8601 date, or date and time; UTC unless it has an offset)`);
  const instant = z.iso.datetime({ offset: true });
  const full = instant.safeParse(text).success ? text : z.iso.date().safeParse(text).success ? `${text}T00:00:00Z` : `${text}Z`;
  if (!instant.safeParse(full).success) throw new BackfillUsageError(BackfillUsageCode.INVALID_OPTION, `${flag} takes an ISO 8601 date, or date and time (UTC unless it has an offset), e.g. 2026-03-27 or 2026-03-27T00:00:00+01:00; got "${text}"`);
  return new Date(full);
}

export function parseMaxConcurrent(text: string | undefined): number {
  if (text === undefined) return DEFAULT_BACKFILL_CONCURRENCY;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BACKFILL_CONCURRENCY) throw new BackfillUsageError(BackfillUsageCode.INVALID_OPTION, `--max-concurrent is a whole number from 1 to ${MAX_BACKFILL_CONCURRENCY}`);
  return n;
}

/** A scheduled time as the API keeps it (and Scheduler sends it): UTC, whole seconds. */
const utc = (iso: string): string => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface BackfillPlan {
  readonly pipelineId: string;
  readonly scheduleId: string;
  readonly timezone: string;
  /** The fire times, oldest first, as UTC instants (what each run's `scheduledTime` is). */
  readonly times: readonly string[];
  /** The schedule's own run parameters: a backfilled run gets what its delivery would have. */
  readonly parameters?: Parameters;
}

/** Which runs a backfill starts: the schedule's fire times in `[from, to)`. Throws `BackfillUsageError`. */
export function planBackfill(pipeline: Pick<Pipeline, 'id' | 'schedule' | 'schedules'>, scheduleId: string | undefined, from: Date, to: Date): BackfillPlan {
  const schedules = declaredSchedules(pipeline).map((s) => s.schedule);
  if (schedules.length === 0) throw new BackfillUsageError(BackfillUsageCode.NO_SCHEDULE, `pipeline "${pipeline.id}" has no schedule: there are no scheduled times to backfill`);
  let schedule: NamedSchedule | undefined;
  if (scheduleId !== undefined) {
    schedule = schedules.find((s) => s.id === scheduleId);
    if (!schedule) throw new BackfillUsageError(BackfillUsageCode.NO_SCHEDULE, `pipeline "${pipeline.id}" has no schedule "${scheduleId}"; its schedules: ${schedules.map((s) => s.id).join(', ')}`);
  } else if (schedules.length > 1) {
    throw new BackfillUsageError(BackfillUsageCode.NO_SCHEDULE, `pipeline "${pipeline.id}" has ${schedules.length} schedules: say which with --schedule (${schedules.map((s) => s.id).join(', ')})`);
  } else schedule = schedules[0]!;
  const listed = backfillTimes(schedule, from, to, MAX_BACKFILL_RUNS);
  if (!listed.ok) throw new BackfillUsageError(BackfillUsageCode.RANGE_REFUSED, `${listed.message} (${listed.code})`);
  return { pipelineId: pipeline.id, scheduleId: schedule.id, timezone: listed.timezone, times: listed.times.map(utc), ...(schedule.parameters !== undefined ? { parameters: schedule.parameters } : {}) };
}

/** What a backfill needs of the client. */
export interface BackfillClient {
  startRun(pipelineId: string, request: Omit<StartRunRequest, 'dryRun'>): Promise<{ created: boolean; run: RunRecord }>;
  getRun(runId: string): Promise<Pick<RunView, 'run'>>;
}

/** How the active runs are polled: from `initialMs`, times `factor` after each poll where none ended, at most `maxMs`. */
export interface PollBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
}
export const DEFAULT_POLL: PollBackoff = { initialMs: 1000, maxMs: 15_000, factor: 2 };

export interface BackfillRunResult {
  readonly scheduledTime: string;
  readonly runId: string;
  readonly status: RunStatus;
  /** This backfill started it; false: it existed (an earlier backfill, or its schedule's delivery). */
  readonly created: boolean;
}

export type BackfillEvent =
  | { readonly kind: 'started'; readonly run: BackfillRunResult; readonly active: number }
  | { readonly kind: 'ended'; readonly run: BackfillRunResult; readonly active: number; readonly done: number; readonly total: number };

export interface BackfillOptions {
  readonly plan: BackfillPlan;
  readonly maxConcurrent: number;
  /** Start outside the pipeline's execution windows. */
  readonly force?: boolean;
  readonly poll?: PollBackoff;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onEvent?: (event: BackfillEvent) => void;
  /** How often a start the API answered 429 or 5xx to is tried again (with the poll's backoff). @default 5 */
  readonly startRetries?: number;
}

export interface BackfillSummary {
  readonly pipelineId: string;
  readonly scheduleId: string;
  readonly total: number;
  /** Runs this backfill started. */
  readonly created: number;
  /** Times that had their run already. */
  readonly existing: number;
  readonly statuses: Partial<Record<RunStatus, number>>;
  /** One per scheduled time, oldest first. */
  readonly runs: readonly BackfillRunResult[];
}

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ended = (status: RunStatus): boolean => TERMINAL_RUN_STATUSES.includes(status);

/** Starts the plan's runs, at most `maxConcurrent` active at once, and waits for all of them to end. */
export async function runBackfill(client: BackfillClient, options: BackfillOptions): Promise<BackfillSummary> {
  const { plan, maxConcurrent } = options;
  const poll = options.poll ?? DEFAULT_POLL;
  const sleep = options.sleep ?? sleepMs;
  const retries = options.startRetries ?? 5;
  const results = new Map<string, BackfillRunResult>();
  /** runId → its result so far (status not terminal). */
  const active = new Map<string, BackfillRunResult>();
  const finish = (run: BackfillRunResult): void => {
    results.set(run.scheduledTime, run);
    options.onEvent?.({ kind: 'ended', run, active: active.size, done: results.size, total: plan.times.length });
  };

  /** Polls the active runs until at most `room` are left, backing off while none ends. */
  const waitUntil = async (room: number): Promise<void> => {
    let delay = poll.initialMs;
    while (active.size > room) {
      await sleep(delay);
      let endedNow = 0;
      for (const [runId, run] of [...active]) {
        const { run: record } = await client.getRun(runId);
        if (!ended(record.status)) continue;
        active.delete(runId);
        endedNow++;
        finish({ ...run, status: record.status });
      }
      delay = endedNow > 0 ? poll.initialMs : Math.min(poll.maxMs, Math.round(delay * poll.factor));
    }
  };

  const start = async (scheduledTime: string): Promise<{ created: boolean; run: RunRecord }> => {
    const request = { scheduledTime, scheduleId: plan.scheduleId, ...(plan.parameters !== undefined ? { parameters: plan.parameters } : {}), ...(options.force ? { force: true } : {}) };
    let delay = poll.initialMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await client.startRun(plan.pipelineId, request);
      } catch (err) {
        // Throttled, or the run recorded but its execution not started yet (503): the same start again is safe.
        const retryable = err instanceof ApiError && (err.status === 429 || err.status >= 500);
        if (!retryable || attempt >= retries) throw err;
        await sleep(delay);
        delay = Math.min(poll.maxMs, Math.round(delay * poll.factor));
      }
    }
  };

  for (const scheduledTime of plan.times) {
    await waitUntil(maxConcurrent - 1);
    const { created, run } = await start(scheduledTime);
    const result: BackfillRunResult = { scheduledTime, runId: run.runId, status: run.status, created };
    if (ended(run.status)) finish(result);
    else {
      active.set(run.runId, result);
      options.onEvent?.({ kind: 'started', run: result, active: active.size });
    }
  }
  await waitUntil(0);

  const runs = plan.times.map((t) => results.get(t)!);
  const statuses: Partial<Record<RunStatus, number>> = {};
  for (const r of runs) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const created = runs.filter((r) => r.created).length;
  return { pipelineId: plan.pipelineId, scheduleId: plan.scheduleId, total: runs.length, created, existing: runs.length - created, statuses, runs };
}

/** Whether every run of the backfill succeeded. */
export const backfillSucceeded = (summary: BackfillSummary): boolean => summary.runs.every((r) => r.status === RunStatus.SUCCEEDED);

/** `market-data/default: 10 run(s), 7 started, 3 existed; SUCCEEDED 9, FAILED 1` and the runs that did not succeed. */
export function formatBackfillSummary(summary: BackfillSummary): string {
  const statuses = Object.entries(summary.statuses).map(([s, n]) => `${s} ${n}`).join(', ');
  const lines = [`${summary.pipelineId}/${summary.scheduleId}: ${summary.total} run(s), ${summary.created} started, ${summary.existing} existed${statuses ? `; ${statuses}` : ''}`];
  for (const r of summary.runs) if (r.status !== RunStatus.SUCCEEDED) lines.push(`  ${r.scheduledTime}  ${r.status.padEnd(9)}  ${r.runId}`);
  return lines.join('\n');
}

/** How a backfill shows its progress: a bar on a terminal, a line per run otherwise, nothing but the summary under --json. */
export interface BackfillProgress {
  readonly onEvent: (event: BackfillEvent) => void;
  readonly stop: () => void;
}

export async function progressReporter(total: number, mode: 'bar' | 'lines' | 'none', out: (text: string) => void, label: string): Promise<BackfillProgress> {
  if (mode === 'none') return { onEvent: () => undefined, stop: () => undefined };
  if (mode === 'lines') {
    return {
      onEvent: (e) => out(e.kind === 'started' ? `started   ${e.run.scheduledTime}  ${e.run.runId}${e.run.created ? '' : ' (existed)'}  active ${e.active}` : `${e.run.status.padEnd(10)}${e.run.scheduledTime}  ${e.run.runId}  ${e.done}/${e.total}`),
      stop: () => undefined,
    };
  }
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} ended | {active} active | {failed} not succeeded`, stream: process.stderr, hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  let failed = 0;
  let active = 0;
  bar.start(total, 0, { active, failed });
  return {
    onEvent: (e) => {
      active = e.active;
      if (e.kind === 'ended') {
        if (e.run.status !== RunStatus.SUCCEEDED) failed++;
        bar.update(e.done, { active, failed });
      } else bar.update({ active, failed });
    },
    stop: () => bar.stop(),
  };
}

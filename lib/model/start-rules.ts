/**
 * Whether a run starts: one pure function, `evaluateStart`, applies a pipeline's start rules in the
 * spec's evaluation order (a pause first, `SCHEDULER_ENABLED`; then execution window, Rule 17 → schedule due and lateness, Rule 1 →
 * upstream pipelines, Rule 2 → skip if running, Rule 3), stopping at the first that refuses; upstream
 * pipelines not ready within their timeout make the run WAIT (nothing after them is evaluated). Every start goes through it (schedule, API,
 * sweeper), and its decision, checks and all, is kept in the run's record, a skipped run's too.
 *
 * Windows are wall-clock times in their timezone: on a day that skips an hour (spring forward), a
 * window inside the skipped hour never opens and one across it is an hour shorter; on a day that
 * repeats one (fall back), the repeated times are inside a window twice. A window whose end is before
 * its start spans midnight: it opens on its days and closes the next morning.
 *
 * Pure: no I/O, no clock (the instant is given), no AWS.
 */
import {
  CheckOutcome,
  DEFAULT_TOLERANCE_SECONDS,
  PAUSABLE_TRIGGERS,
  START_RULE_SPEC,
  StartDecisionKind,
  StartRule,
  StartSkipReason,
  WEEKDAYS,
  type DeployedUpstream,
  type DeployedWindow,
  type StartCheck,
  type StartDecision,
  type StartRules,
  type Weekday,
} from './contract/start.ts';
import { RunStatus, TriggerType } from './contract/status.ts';
import type { PauseFlag, Pauses } from './contract/audit.ts';
import { PhiError } from './errors.ts';

export interface StartInput {
  /** The pipeline's rules as deployed. @default none: every default */
  readonly rules?: StartRules;
  readonly trigger: TriggerType;
  /** The instant the run would start: windows are checked at it, lateness measured to it. */
  readonly now: Date;
  /** A scheduled delivery's scheduled time (ISO). */
  readonly scheduledTime?: string;
  /** Windows are not applied (recorded as forced). */
  readonly force?: boolean;
  /**
   * The pipeline's other active runs (PENDING or RUNNING), when it has a limit. Left out, the
   * concurrency check is `NOT_EVALUATED` and does not refuse: count them and evaluate again.
   */
  readonly activeRuns?: number;
  /**
   * The pause that holds the pipeline now, if any: its own, or the global one (`global: true`). It
   * refuses scheduled and event-triggered starts (`PAUSABLE_TRIGGERS`), whatever `force` says.
   * @default not paused
   */
  readonly pause?: { readonly flag: PauseFlag; readonly global: boolean };
  /**
   * What each upstream pipeline of `rules.upstreams` last did: its latest ended run (none: it never
   * ended one). Left out, the dependency check is `NOT_EVALUATED` and does not refuse: read them and
   * evaluate again.
   */
  readonly upstreams?: Readonly<Record<string, UpstreamRun | undefined>>;
  /** When the run began waiting for its upstreams (a run evaluated again): its timeouts count from it. @default now */
  readonly waitingSince?: Date;
  /** When the delivery came (a run evaluated again after waiting): lateness is measured to it. @default now */
  readonly deliveredAt?: Date;
  /**
   * With `queueIfRunning`: how many of the pipeline's runs queued before this one still wait for a
   * place. A start does not pass them: it queues behind them (oldest first). @default 0
   */
  readonly queuedAhead?: number;
}

/** An upstream pipeline's latest ended run, as the dependency check reads it. */
export interface UpstreamRun {
  readonly runId: string;
  readonly status: RunStatus;
  readonly completedAt: string;
}

/** The triggers whose starts wait for their upstream pipelines: all but a backfill's and a dead-letter retry's (a past run and a retry an operator asked for). */
export const DEPENDENCY_TRIGGERS: readonly TriggerType[] = [TriggerType.SCHEDULE, TriggerType.CATCHUP, TriggerType.EVENT, TriggerType.UPSTREAM, TriggerType.API, TriggerType.MANUAL];

/** Whether `run` satisfies `upstream` at `now`: ended as required, within its maximum age. */
export function upstreamState(upstream: DeployedUpstream, run: UpstreamRun | undefined, now: Date): 'ready' | 'stale' | 'not-ready' {
  if (run === undefined) return 'not-ready';
  const asRequired = upstream.on === 'COMPLETION' ? [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED].includes(run.status as never) : run.status === RunStatus.SUCCEEDED;
  if (!asRequired) return 'not-ready';
  if (upstream.maxAgeHours !== undefined && now.getTime() - Date.parse(run.completedAt) > upstream.maxAgeHours * 3_600_000) return 'stale';
  return 'ready';
}

/** A day and minute of a wall clock. */
export interface WallMinute {
  readonly day: Weekday;
  /** Minutes since local midnight, 0 to 1439. */
  readonly minute: number;
  /** `HH:MM`. */
  readonly time: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const SHORT_DAYS: Readonly<Record<string, Weekday>> = { Mon: 'MON', Tue: 'TUE', Wed: 'WED', Thu: 'THU', Fri: 'FRI', Sat: 'SAT', Sun: 'SUN' };

/** The weekday and minute of `instant` on the wall clocks of `timezone` (an IANA name). */
export function wallMinute(instant: Date, timezone: string): WallMinute {
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, fmt);
  }
  const parts = fmt.formatToParts(instant);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const hour = Number(get('hour')) % 24;
  const minute = Number(get('minute'));
  const day = SHORT_DAYS[get('weekday')];
  if (day === undefined) throw new PhiError('RULE_000_NO_WEEKDAY', `no weekday for ${instant.toISOString()} in ${timezone}`);
  return { day, minute: hour * 60 + minute, time: `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}` };
}

/** `HH:MM` → minutes since midnight (24:00 → 1440). */
export const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const previousDay = (day: Weekday): Weekday => WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;

/** Whether `instant` lies inside `window`: from its start (included) to its end (excluded), on its days. */
export function insideWindow(window: DeployedWindow, instant: Date): boolean {
  const { day, minute } = wallMinute(instant, window.timezone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const on = (d: Weekday): boolean => window.days === undefined || window.days.includes(d);
  if (start < end) return on(day) && minute >= start && minute < end;
  // Past midnight: the evening part on its own days, the morning part on the day after one of them.
  return (on(day) && minute >= start) || (on(previousDay(day)) && minute < end);
}

/**
 * The first instant at or after `now` (to the minute) inside one of `windows`: when a deferred start is
 * evaluated again. Looked for minute by minute over eight days (a window opens at least once a week; a
 * window inside an hour the clocks skip may not open at all that week: then the week after). `undefined`
 * when none opens in that time.
 */
export function nextWindowStart(windows: readonly DeployedWindow[], now: Date): Date | undefined {
  const first = Math.ceil(now.getTime() / 60_000) * 60_000;
  for (let t = first; t <= first + 8 * 86_400_000; t += 60_000) {
    const at = new Date(t);
    if (windows.some((w) => insideWindow(w, at))) return at;
  }
  return undefined;
}

/** `06:00–22:00 MON,TUE [Europe/London]`. */
export function describeWindow(window: DeployedWindow): string {
  return `${window.start}–${window.end}${window.days ? ` ${window.days.join(',')}` : ''} [${window.timezone}]`;
}

/** The pause that holds `pipelineId` now: the global one first, else its own; `undefined` when neither does. */
export function pauseOf(pauses: Pauses, pipelineId: string): StartInput['pause'] {
  if (pauses.all !== undefined) return { flag: pauses.all, global: true };
  // Own properties only: a pipeline id may be `constructor` or `toString`.
  const own = Object.hasOwn(pauses.pipelines, pipelineId) ? pauses.pipelines[pipelineId] : undefined;
  return own === undefined ? undefined : { flag: own, global: false };
}

const check = (rule: StartRule, outcome: CheckOutcome, detail: string): StartCheck => ({ rule, spec: START_RULE_SPEC[rule], outcome, detail });

/** Seconds, as people read them: `60 s`, `60.5 s`. */
const secs = (s: number): string => `${Math.round(s * 1000) / 1000} s`;

/**
 * The decision for one start: START, or SKIP with the reason of the first rule that refused it, and
 * every rule's check in the spec's order (those after a refusal `NOT_EVALUATED`).
 */
export function evaluateStart(input: StartInput): StartDecision {
  const rules = input.rules ?? {};
  const checks: StartCheck[] = [];
  let reason: StartDecision['reason'];
  const refuse = (rule: StartRule, why: NonNullable<StartDecision['reason']>, detail: string): void => {
    checks.push(check(rule, CheckOutcome.FAILED, detail));
    reason = why;
  };
  // What the run waits for, once a rule made it wait (the rules after it are not evaluated then).
  let waitingFor: string | undefined;
  const skipped = (rule: StartRule): boolean => {
    if (reason === undefined && waitingFor === undefined) return false;
    checks.push(check(rule, CheckOutcome.NOT_EVALUATED, reason !== undefined ? `not evaluated: the start was refused by an earlier rule (${reason})` : `not evaluated: the run waits for ${waitingFor}`));
    return true;
  };
  let waitUntil: string | undefined;
  let waitingSince: string | undefined;

  // 0. Pause (SCHEDULER_ENABLED, `phi pause`): a paused pipeline's schedules and triggers start nothing.
  const pause = input.pause;
  if (pause === undefined) {
    checks.push(check(StartRule.PAUSE, CheckOutcome.PASSED, 'the pipeline is not paused'));
  } else {
    const what = `${pause.global ? 'every pipeline is paused' : 'the pipeline is paused'} (by ${pause.flag.by} at ${pause.flag.at}${pause.flag.reason ? `: ${pause.flag.reason}` : ''})`;
    if (PAUSABLE_TRIGGERS.includes(input.trigger)) refuse(StartRule.PAUSE, StartSkipReason.PAUSED, `${what}: its ${input.trigger} deliveries are recorded, not run, until it is resumed`);
    else checks.push(check(StartRule.PAUSE, CheckOutcome.NOT_APPLICABLE, `${what}, but a pause holds only scheduled and event-triggered starts: ${input.trigger} starts go on`));
  }

  // 1. Execution window (Rule 17): checked at the instant the run would start, whatever started it.
  const windows = rules.windows ?? [];
  if (skipped(StartRule.WINDOW)) {
    // refused by the pause
  } else if (windows.length === 0) {
    checks.push(check(StartRule.WINDOW, CheckOutcome.NOT_APPLICABLE, 'the pipeline has no execution windows: runs start at any time'));
  } else {
    const inside = windows.find((w) => insideWindow(w, input.now));
    const first = windows[0]!;
    const local = wallMinute(input.now, (inside ?? first).timezone);
    const where = `${local.day} ${local.time} in ${(inside ?? first).timezone}`;
    if (inside) checks.push(check(StartRule.WINDOW, input.force ? CheckOutcome.BYPASSED : CheckOutcome.PASSED, `${where} is inside ${describeWindow(inside)}${input.force ? ' (forced: windows not applied)' : ''}`));
    else if (input.force) checks.push(check(StartRule.WINDOW, CheckOutcome.BYPASSED, `${where} is outside every window (${windows.map(describeWindow).join('; ')}), but the start was forced`));
    else if (rules.deferOutsideWindow) {
      // Deferred (outsideWindow: 'defer'): it waits, PENDING, and is evaluated again when the next window opens.
      waitingFor = 'its execution window';
      waitUntil = nextWindowStart(windows, input.now)?.toISOString();
      checks.push(check(StartRule.WINDOW, CheckOutcome.WAITING, `${where} is outside every window (${windows.map(describeWindow).join('; ')}): deferred to the next window's start${waitUntil !== undefined ? `, ${waitUntil}` : ''}`));
    } else refuse(StartRule.WINDOW, StartSkipReason.OUTSIDE_WINDOW, `${where} is outside every window: ${windows.map(describeWindow).join('; ')}`);
  }

  // 2. Schedule (Rule 1): a scheduled delivery is due at its time; late past its tolerance; skipped past its maximum lateness.
  let late: boolean | undefined;
  let latenessSeconds: number | undefined;
  if (!skipped(StartRule.SCHEDULE)) {
    if (input.trigger !== TriggerType.SCHEDULE || input.scheduledTime === undefined) {
      checks.push(check(StartRule.SCHEDULE, CheckOutcome.NOT_APPLICABLE, `not a scheduled delivery (${input.trigger}): due when asked`));
    } else {
      const tolerance = rules.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
      latenessSeconds = ((input.deliveredAt ?? input.now).getTime() - Date.parse(input.scheduledTime)) / 1000;
      late = latenessSeconds > tolerance;
      const max = rules.maxLatenessSeconds;
      const what = `delivered ${latenessSeconds < 0 ? `${secs(-latenessSeconds)} before` : `${secs(latenessSeconds)} after`} its scheduled time ${input.scheduledTime}`;
      if (max !== undefined && latenessSeconds > max) refuse(StartRule.SCHEDULE, StartSkipReason.TOO_LATE, `${what}: past its maximum lateness of ${secs(max)}`);
      else checks.push(check(StartRule.SCHEDULE, CheckOutcome.PASSED, `${what}: ${late ? `late (tolerance ${secs(tolerance)}${max !== undefined ? `, maximum ${secs(max)}` : ''})` : `on time (tolerance ${secs(tolerance)})`}`));
    }
  }

  // 3. Dependencies (Rule 2): each upstream pipeline's latest ended run as required and fresh; else wait, until its timeout.
  if (!skipped(StartRule.DEPENDENCIES)) {
    const upstreams = rules.upstreams ?? [];
    if (upstreams.length === 0) checks.push(check(StartRule.DEPENDENCIES, CheckOutcome.NOT_APPLICABLE, 'the pipeline depends on no other pipeline'));
    else if (!DEPENDENCY_TRIGGERS.includes(input.trigger)) checks.push(check(StartRule.DEPENDENCIES, CheckOutcome.NOT_APPLICABLE, `a ${input.trigger} start does not wait for upstream pipelines`));
    else if (input.upstreams === undefined) checks.push(check(StartRule.DEPENDENCIES, CheckOutcome.NOT_EVALUATED, `upstream pipelines ${upstreams.map((u) => u.pipeline).join(', ')}: not read yet`));
    else {
      const since = input.waitingSince ?? input.now;
      const found = upstreams.map((u) => {
        const run = input.upstreams?.[u.pipeline];
        const state = upstreamState(u, run, input.now);
        const deadline = since.getTime() + u.timeoutSeconds * 1000;
        const what = run === undefined ? `${u.pipeline} has no ended run` : `${u.pipeline}'s latest ended run ${run.runId} ${run.status} at ${run.completedAt}`;
        const need = `${u.on === 'COMPLETION' ? 'ended' : 'succeeded'}${u.maxAgeHours !== undefined ? ` within ${u.maxAgeHours} h` : ''}`;
        return { u, state, deadline, text: `${what} (needs: ${need})${state === 'stale' ? ': too old' : state === 'not-ready' ? ': not ready' : ''}` };
      });
      const unmet = found.filter((f) => f.state !== 'ready');
      const detail = found.map((f) => f.text).join('; ');
      if (unmet.length === 0) checks.push(check(StartRule.DEPENDENCIES, CheckOutcome.PASSED, detail));
      else if (input.force) checks.push(check(StartRule.DEPENDENCIES, CheckOutcome.BYPASSED, `${detail}; the start was forced`));
      else {
        const expired = unmet.filter((f) => input.now.getTime() >= f.deadline);
        if (expired.length > 0) {
          const why = expired.every((f) => f.state === 'stale') ? StartSkipReason.STALE_UPSTREAM : StartSkipReason.DEPENDENCY_TIMEOUT;
          refuse(StartRule.DEPENDENCIES, why, `${detail}; waited ${secs((input.now.getTime() - since.getTime()) / 1000)} of at most ${secs(Math.min(...expired.map((f) => f.u.timeoutSeconds)))}`);
        } else {
          waitingFor = 'its upstream pipelines';
          waitingSince = since.toISOString();
          waitUntil = new Date(Math.min(...unmet.map((f) => f.deadline))).toISOString();
          checks.push(check(StartRule.DEPENDENCIES, CheckOutcome.WAITING, `${detail}; waiting for ${unmet.map((f) => f.u.pipeline).join(', ')} until ${waitUntil}`));
        }
      }
    }
  }

  // 4. Skip if running (Rule 3): with a limit, a run beyond it is skipped, or queued (it waits, without a timeout, for an active run to end).
  let counted: number | undefined;
  if (!skipped(StartRule.CONCURRENCY)) {
    const max = rules.maxActiveRuns;
    if (max !== undefined) counted = input.activeRuns;
    if (max === undefined) checks.push(check(StartRule.CONCURRENCY, CheckOutcome.NOT_APPLICABLE, 'the pipeline has no limit on active runs'));
    else if (input.activeRuns === undefined) checks.push(check(StartRule.CONCURRENCY, CheckOutcome.NOT_EVALUATED, `at most ${max} active run(s): not counted yet`));
    else if (rules.queueIfRunning && (input.activeRuns >= max || (input.queuedAhead ?? 0) > 0)) {
      waitingFor = 'a place among the active runs';
      waitingSince = (input.waitingSince ?? input.now).toISOString();
      const ahead = input.queuedAhead ?? 0;
      checks.push(check(StartRule.CONCURRENCY, CheckOutcome.WAITING, `${input.activeRuns} run(s) of the pipeline are active; at most ${max}${ahead > 0 ? `; ${ahead} queued before it` : ''}: queued, it starts when one ends (oldest first)`));
    } else if (input.activeRuns >= max) refuse(StartRule.CONCURRENCY, StartSkipReason.ALREADY_RUNNING, `${input.activeRuns} run(s) of the pipeline are active; at most ${max}`);
    else checks.push(check(StartRule.CONCURRENCY, CheckOutcome.PASSED, `${input.activeRuns} other run(s) active; at most ${max}`));
  }

  return {
    decision: reason !== undefined ? StartDecisionKind.SKIP : waitingFor !== undefined ? StartDecisionKind.WAIT : StartDecisionKind.START,
    ...(reason !== undefined ? { reason } : {}),
    evaluatedAt: input.now.toISOString(),
    ...(input.force ? { forced: true as const } : {}),
    ...(late !== undefined ? { late } : {}),
    ...(latenessSeconds !== undefined ? { latenessSeconds } : {}),
    ...(counted !== undefined ? { activeRuns: counted } : {}),
    // Waiting on a rule with a timeout: since when. Decided after waiting: that it waited, since when.
    ...(waitingSince !== undefined ? { waitingSince } : waitingFor === undefined && input.waitingSince !== undefined ? { waitingSince: input.waitingSince.toISOString() } : {}),
    ...(waitUntil !== undefined ? { waitUntil } : {}),
    checks,
  };
}

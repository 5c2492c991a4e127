/** Text the CLI shows people. JSON output (`--json`) bypasses all of it. */
import { CheckOutcome, StartDecisionKind, type RunLogEvent, type RunHistoryResponse, type RunRecord, type RunView, type StartDecision } from '../model/contract/index.ts';
import { LIMITS } from '../plan/compile.ts';
import type { DatasetFreshness, ObservedPlan } from '../plan/observed.ts';
import { describeRunParameters } from '../plan/render.ts';
import { describeStartRules } from '../plan/start-rules.ts';
import { describeUpstreams } from '../plan/upstreams.ts';
import type { CompiledSchedule, DstChange } from '../plan/schedule/index.ts';
import type { Plan } from '../plan/types.ts';

export { formatProblems } from '../model/problems.ts';

/** Step Functions Standard workflows: $0.025 per 1,000 state transitions (us-east-1). */
const STANDARD_PRICE_PER_TRANSITION = 0.025 / 1000;

export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const p of plan.pipelines) {
    lines.push(`${p.id}${p.version ? ` v${p.version}` : ''}  (definition ${p.definitionVersion})${p.description ? `  ${p.description}` : ''}`);
    if (p.schedules.length === 0) lines.push('  schedule: none (runs when started)');
    for (const s of p.schedules) lines.push(...formatSchedule(s, plan.fireTimes));
    lines.push(`  run parameters: ${describeRunParameters(p.runParameters)}`);
    lines.push(`  starts: ${describeStartRules(p.startRules)}`);
    const after = describeUpstreams(p.startRules?.upstreams);
    if (after !== undefined) lines.push(`  after: ${after}`);
    if (p.provides !== undefined) lines.push(`  provides: ${p.provides.join(', ')}`);
    p.layers.forEach((layer, i) => lines.push(`  layer ${i + 1}: ${layer.join(', ')}`));
    const disabled = p.jobs.filter((j) => !j.enabled).map((j) => j.id);
    if (disabled.length > 0) lines.push(`  disabled: ${disabled.join(', ')}`);
    lines.push(`  critical path: ${p.criticalPath.join(' → ')}  (≤ ${p.estimates.criticalPathSeconds}s per attempt chain)`);
    lines.push(`  functions: ${p.functions.length} for ${p.jobs.filter((j) => j.enabled).length} jobs (one per handler, memory and timeout)`);
    const e = p.estimates;
    const of = (value: number, limit: number): string => `${value.toLocaleString('en-US')} of ${limit.toLocaleString('en-US')} (${((100 * value) / limit).toFixed(1)} %)`;
    lines.push('  estimates against their limits:');
    lines.push(`    definition bytes       ${of(e.definitionBytes, LIMITS.definitionBytes)}`);
    lines.push(`    state payload bytes    ${of(e.payloadBytes, LIMITS.payloadBytes)}`);
    lines.push(`    history events         run ${of(e.historyEvents.run, LIMITS.historyEvents)}; per job ${e.historyEvents.perJob.expected}, worst ${of(e.historyEvents.perJob.worstCase, LIMITS.historyEvents)}`);
    lines.push(`    stack resources        ${of(e.stackResources, LIMITS.stackResources)}`);
    lines.push(`    jobs waiting at once   ${of(p.jobs.filter((j) => j.enabled).length, LIMITS.jobsPerRun)}`);
    lines.push(`    run record bytes       ${of(e.runRecordBytes, LIMITS.runRecordBytes)}`);
    lines.push(`  state transitions per run: ${e.stateTransitions.perRun} (${e.stateTransitions.perJob} per job), $${((e.stateTransitions.perRun * STANDARD_PRICE_PER_TRANSITION) || 0).toFixed(5)} per run at Step Functions Standard prices`);
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const pad2 = (n: number): string => String(n).padStart(2, '0');
/** Minutes of the day → `HH:MM` (wrapping at midnight). */
const clock = (minutes: number): string => {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${pad2(Math.floor(m / 60))}:${pad2(m % 60)}`;
};
/** `+1h`, `-1h`, `+30m`. */
const shift = (minutes: number): string => `${minutes > 0 ? '+' : '-'}${Math.abs(minutes) % 60 === 0 ? `${Math.abs(minutes) / 60}h` : `${Math.abs(minutes)}m`}`;

/** What a daylight-saving change does to the wall clock: the local times it skips or repeats. */
function describeDstChange(change: DstChange): string {
  const after = Number(change.at.slice(11, 13)) * 60 + Number(change.at.slice(14, 16));
  const what = change.minutes > 0 ? `${clock(after - change.minutes)}–${clock(after)} does not exist` : `${clock(after)}–${clock(after - change.minutes)} happens twice`;
  return `← DST change (${shift(change.minutes)}): ${what}`;
}

/**
 * A schedule for people: its expression, state, dates and parameters, then its fire times one a
 * line in local time, with the days a daylight-saving change falls on marked (a day with a change
 * and no fire time gets a line of its own).
 */
export function formatSchedule(s: CompiledSchedule, fireTimes: Plan['fireTimes']): string[] {
  const window = { from: fireTimes.from.replace(/\.000Z$/, 'Z'), count: fireTimes.count };
  const lines = [`  schedule ${s.id}: ${s.source}  →  ${s.expression}  [${s.timezone}]`];
  const facts = [
    s.startDate !== undefined ? `from ${s.startDate}` : undefined,
    s.endDate !== undefined ? `until ${s.endDate}` : undefined,
    !s.enabled ? 'disabled: never fires' : s.state === 'DISABLED' ? 'ended: deployed disabled' : undefined,
    s.parameters !== undefined ? `parameters ${JSON.stringify(s.parameters)}` : undefined,
  ].filter((f) => f !== undefined);
  if (facts.length > 0) lines.push(`    ${facts.join('; ')}`);
  if (s.state === 'DISABLED') return lines;
  if (s.next.length === 0) {
    lines.push(`    next after ${window.from}: never again`);
    return lines;
  }
  lines.push(`    next ${s.next.length === window.count ? window.count : `${s.next.length} (no more)`} after ${window.from}:`);
  const changeOn = new Map(s.dstChanges.map((c) => [c.date, c]));
  const fireDays = new Set(s.next.map((t) => t.slice(0, 10)));
  const entries = [
    ...s.next.map((t) => {
      const date = t.slice(0, 10);
      const offset = s.timezone === 'UTC' ? '' : t.endsWith('Z') ? ', UTC' : `, UTC${t.slice(19)}`;
      const weekday = WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()];
      const change = changeOn.get(date);
      return { at: Date.parse(t), text: `${date} ${t.slice(11, 16)} ${s.timezone} (${weekday}${offset})${change ? `  ${describeDstChange(change)}` : ''}` };
    }),
    ...s.dstChanges.filter((c) => !fireDays.has(c.date)).map((c) => ({ at: Date.parse(c.at), text: `${c.date}       ${s.timezone}  ${describeDstChange(c)}; no fire time that day` })),
  ].sort((a, b) => a.at - b.at);
  for (const entry of entries) lines.push(`      ${entry.text}`);
  return lines;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** One line of `phi logs`: when, which job and attempt, the level, the message, its other fields (a metrics line's values, not its embedded-metric directive). */
export function formatLogEvent(e: RunLogEvent): string {
  const where = e.jobId !== undefined ? `${e.jobId}${e.attempt !== undefined ? `#${e.attempt}` : ''}` : '-';
  const fields = e.fields !== undefined ? Object.entries(e.fields).filter(([k]) => k !== 'pipelineId' && k !== 'component' && k !== '_aws').map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`) : [];
  return `${e.at}  ${where.padEnd(16)} ${(e.level ?? '').padEnd(5)} ${e.message}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}`;
}

/** `phi plan --observed`: each dataset, its provider's last success, and for whom it is fresh. */
export function formatDatasets(datasets: readonly DatasetFreshness[]): string {
  const lines = ['datasets (as fresh as their provider\'s last success):'];
  for (const d of datasets) {
    const who = d.consumers.map((c) => `${c.fresh ? 'fresh' : 'stale'} for ${c.pipelineId}${c.maxAgeHours !== undefined ? ` (≤ ${c.maxAgeHours} h)` : ''}`);
    lines.push(`  ${d.dataset}  from ${d.provider}, last success ${d.lastSucceededAt ?? 'none yet'}${who.length > 0 ? `; ${who.join(', ')}` : ''}`);
  }
  return lines.join('\n');
}

export function formatObserved(observed: readonly ObservedPlan[]): string {
  const lines: string[] = [];
  for (const o of observed) {
    lines.push(`${o.pipelineId}: observed over the last ${o.runs} succeeded run(s)`);
    if (o.runs === 0) {
      lines.push('  no succeeded run yet: nothing observed', '');
      continue;
    }
    lines.push(`  expected makespan ${seconds(o.median.ms)} (median), ${seconds(o.p95.ms)} (p95)`);
    lines.push(`  critical path (median): ${o.median.path.join(' → ')}`);
    if (o.p95.path.join() !== o.median.path.join()) lines.push(`  critical path (p95):    ${o.p95.path.join(' → ')}`);
    for (const s of o.savings) lines.push(`    ${s.job} taking no time would save ${seconds(s.ms)}`);
    if (o.unobserved.length > 0) lines.push(`  never succeeded in those runs (weighed with their timeout): ${o.unobserved.join(', ')}`);
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

export function formatRunView(view: RunView, { brief = false } = {}): string {
  const { run } = view;
  const jobs = Object.entries(view.jobs)
    .map(([id, j]) => `${id}=${j.status}${j.attempts.length > 1 ? `(${j.attempts.length} attempts)` : ''}`)
    .join('  ');
  if (brief) return `  [${new Date().toISOString().slice(11, 19)}] ${run.status.padEnd(9)} ${jobs}`;
  const lines = [
    `run ${run.runId}  ${run.pipelineId}  ${run.status}`,
    `  trigger ${run.trigger}${run.scheduleId ? ` (schedule ${run.scheduleId})` : ''}${run.scheduledTime ? ` for ${run.scheduledTime}` : ''}  queued ${run.queuedAt}${run.startedAt ? `  started ${run.startedAt}` : ''}${run.completedAt ? `  completed ${run.completedAt} (${run.durationMs} ms)` : ''}`,
    `  parameters ${JSON.stringify(run.parameters)}`,
  ];
  if (run.retryOf) lines.push(`  retry of ${run.retryOf.messageId ? `dead letter ${run.retryOf.messageId} (job ${run.retryOf.jobId ?? '?'}) of ` : ''}run ${run.retryOf.runId}${run.retryOf.fromFailed ? ', from its failed jobs' : ''}, asked by ${run.retryOf.by} at ${run.retryOf.at}`);
  if (run.error) lines.push(`  error ${run.error.code}${run.error.jobId ? ` in ${run.error.jobId}` : ''}: ${run.error.message}`);
  const started = startNote(run.startDecision);
  if (started) lines.push(`  ${started}`);
  for (const c of run.cancellations ?? []) lines.push(`  cancelled ${c.job ? `job ${c.job} (${c.scope ?? 'JOB'})` : 'the run'} by ${c.by} at ${c.at}${c.reason ? `: ${c.reason}` : ''}`);
  for (const [id, job] of Object.entries(view.jobs)) {
    const reason = run.jobs?.[id]?.reason;
    lines.push(`  ${id}: ${job.status}${reason ? ` (${reason})` : ''}`);
    for (const a of job.attempts) {
      const detail = a.errorCode
        ? `${a.errorCode} (${a.errorCategory ?? a.status}${a.willRetry ? ', will retry' : ''}): ${a.errorMessage}`
        : a.outputsRef
          ? `outputs in s3://${a.outputsRef.bucket}/${a.outputsRef.key} (${a.outputsRef.bytes} bytes)`
          : a.outputs
            ? `outputs ${JSON.stringify(a.outputs)}`
            : '';
      const reused = a.reusedFrom ? `  (not run again: reused from run ${a.reusedFrom.runId}, attempt ${a.reusedFrom.attempt})` : '';
      lines.push(`    attempt ${a.attempt} ${a.status} ${a.durationMs ?? '-'} ms  ${detail}${reused}`);
    }
  }
  return lines.join('\n');
}

/**
 * What a run's start decision says that people need: why it was skipped (the check that refused it),
 * that it was late (and by how much), or forced; nothing for an ordinary start.
 */
export function startNote(decision: StartDecision | undefined): string | undefined {
  if (decision === undefined) return undefined;
  if (decision.decision === StartDecisionKind.SKIP) {
    const refused = decision.checks.find((c) => c.outcome === CheckOutcome.FAILED);
    return `skipped ${decision.reason ?? ''} (${refused?.spec ?? 'start rules'}): ${refused?.detail ?? 'its start rules refused it'}`;
  }
  const notes = [
    decision.late ? `late: ${decision.checks.find((c) => c.rule === 'SCHEDULE')?.detail ?? `${decision.latenessSeconds} s after its scheduled time`}` : undefined,
    decision.forced ? 'forced: execution windows and upstream pipelines not applied' : undefined,
    decision.decision === StartDecisionKind.WAIT ? `waiting (${decision.checks.find((c) => c.outcome === CheckOutcome.WAITING)?.spec ?? 'start rules'}): ${decision.checks.find((c) => c.outcome === CheckOutcome.WAITING)?.detail ?? ''}` : undefined,
  ].filter((n) => n !== undefined);
  return notes.length > 0 ? notes.join('; ') : undefined;
}

/** A dry run's answer: would it start, and every rule's check in the order they were made. */
export function formatStartDecision(pipelineId: string, decision: StartDecision, parameters: Readonly<Record<string, unknown>>): string {
  const lines = [
    decision.decision === StartDecisionKind.START
      ? `a run of ${pipelineId} would start now${decision.late ? ' (late)' : ''}${decision.forced ? ' (forced)' : ''}`
      : decision.decision === StartDecisionKind.WAIT
        ? `a run of ${pipelineId} would wait${decision.waitUntil !== undefined ? `, at most until ${decision.waitUntil}` : ' for an active run to end'}`
        : `a run of ${pipelineId} would be skipped now: ${decision.reason ?? 'refused'}`,
    `  parameters ${JSON.stringify(parameters)}`,
  ];
  const specWidth = Math.max(7, ...decision.checks.map((c) => c.spec.length));
  for (const c of decision.checks) lines.push(`  ${c.rule.padEnd(12)} ${c.spec.padEnd(specWidth)} ${c.outcome.padEnd(14)} ${c.detail}`);
  return lines.join('\n');
}

/** One line a run: when it was queued, its id, status, trigger, and its start note or error. */
function historyLine(run: RunRecord): string {
  const note = startNote(run.startDecision) ?? (run.error ? `${run.error.code}${run.error.jobId ? ` in ${run.error.jobId}` : ''}` : '');
  const took = run.durationMs !== undefined && run.status !== 'SKIPPED' ? `${(run.durationMs / 1000).toFixed(1)} s` : '';
  return `${run.queuedAt}  ${run.status.padEnd(9)}  ${run.trigger.padEnd(8)}  ${took.padStart(9)}  ${run.runId}${note ? `  ${note}` : ''}`;
}

/** `phi history`: a page of a pipeline's runs, newest first, and how to get the next page. */
export function formatHistory(page: RunHistoryResponse): string {
  if (page.runs.length === 0) return `${page.pipelineId}: no runs${page.next ? ' on this page' : ''}${page.next ? `\n  more: --next ${page.next}` : ''}`;
  const lines = [`${page.pipelineId}: ${page.runs.length} run(s), newest first`, ...page.runs.map((r) => `  ${historyLine(r)}`)];
  if (page.next) lines.push(`  more: --next ${page.next}`);
  return lines.join('\n');
}

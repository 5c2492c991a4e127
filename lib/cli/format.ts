/** Text the CLI shows people. JSON output (`--json`) bypasses all of it. */
import type { RunView } from '../model/contract/index.ts';
import { LIMITS } from '../plan/compile.ts';
import type { ObservedPlan } from '../plan/observed.ts';
import { describeRunParameters } from '../plan/render.ts';
import type { Plan } from '../plan/types.ts';

export { formatProblems } from '../model/problems.ts';

/** Step Functions Standard workflows: $0.025 per 1,000 state transitions (us-east-1). */
const STANDARD_PRICE_PER_TRANSITION = 0.025 / 1000;

export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const p of plan.pipelines) {
    lines.push(`${p.id}${p.version ? ` v${p.version}` : ''}  (definition ${p.definitionVersion})${p.description ? `  ${p.description}` : ''}`);
    if (p.schedules.length === 0) lines.push('  schedule: none (runs when started)');
    for (const s of p.schedules) {
      lines.push(`  schedule: ${s.source}  →  ${s.expression}  [${s.timezone}]`);
      lines.push(`    next: ${s.next.join(', ') || 'never again'}`);
    }
    lines.push(`  run parameters: ${describeRunParameters(p.runParameters)}`);
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

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

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
    `  trigger ${run.trigger}${run.scheduledTime ? ` for ${run.scheduledTime}` : ''}  queued ${run.queuedAt}${run.startedAt ? `  started ${run.startedAt}` : ''}${run.completedAt ? `  completed ${run.completedAt} (${run.durationMs} ms)` : ''}`,
    `  parameters ${JSON.stringify(run.parameters)}`,
  ];
  if (run.error) lines.push(`  error ${run.error.code}${run.error.jobId ? ` in ${run.error.jobId}` : ''}: ${run.error.message}`);
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
      lines.push(`    attempt ${a.attempt} ${a.status} ${a.durationMs ?? '-'} ms  ${detail}`);
    }
  }
  return lines.join('\n');
}

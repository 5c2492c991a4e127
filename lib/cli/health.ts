/** `phi health`: the deployment's health through the control API (`GET /health`), as text or JSON. */
import { HealthStatus, type OrchestrationHealthStatus, type PipelineHealth } from '../model/contract/health.ts';
import type { PhiClient } from '../client/client.ts';

const rate = (value: number | null): string => (value === null ? '—' : `${Math.round(value * 1000) / 10}%`);

/** `1.2 s`, `3 min 20 s`, `1 h 5 min`. */
export function formatDurationMs(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ''}`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

function pipelineLine(p: PipelineHealth): string {
  if (!p.readable) return `  ${p.pipelineId}  records unreadable`;
  const last = p.lastRun === null ? 'no runs' : `last ${p.lastRun.status} ${p.lastRun.at} (${p.lastRun.runId})`;
  const freshness = `data ${p.dataFreshness}${p.maxDataAgeHours !== undefined ? ` (max ${p.maxDataAgeHours} h)` : ''}`;
  return [
    `  ${p.pipelineId}${p.paused ? '  PAUSED' : ''}  ${last}`,
    ...(p.provides !== undefined ? [`    provides ${p.provides.join(', ')} (as of ${p.lastSucceededAt ?? 'no success yet'})`] : []),
    `    next ${p.nextScheduledTime ?? '—'}; ${freshness}; avg ${p.averageDurationMs === null ? '—' : formatDurationMs(p.averageDurationMs)}; active ${p.activeExecutions}; errors 1h ${rate(p.errorRate1h)}; success 24h ${rate(p.successRate24h)}`,
  ].join('\n');
}

export function formatHealth(h: OrchestrationHealthStatus): string {
  const lines = [
    `${h.overallStatus} (checked ${h.checkedAt})`,
    ...h.reasons.map((r) => `  ${r.status === HealthStatus.UNHEALTHY ? '✗' : '!'} ${r.code}: ${r.message}`),
    `active executions ${h.activeExecutions} (queued ${h.queuedRuns}); error rate 1h ${rate(h.errorRate1h)} of ${h.endedRuns1h} ended; success rate 24h ${rate(h.successRate24h)} of ${h.endedRuns24h} ended; dead letters waiting ${h.deadLettersWaiting ?? 'unknown'}`,
    ...(h.paused === null ? ['paused: unknown (the pauses could not be read)'] : h.paused.all ? ['paused: every pipeline (phi pause --all)'] : h.paused.pipelines.length > 0 ? [`paused: ${h.paused.pipelines.join(', ')}`] : []),
    `pipelines (${h.pipelines.length}; the newest ${h.window.runsPerPipeline} runs of each, rates over at most ${h.window.hours} h):`,
    ...(h.pipelines.length === 0 ? ['  none deployed'] : h.pipelines.map(pipelineLine)),
  ];
  return lines.join('\n');
}

/** Prints the health; 0 when HEALTHY, 1 otherwise. */
export async function runHealth(client: Pick<PhiClient, 'health'>, out: (text: string) => void, json: boolean): Promise<number> {
  const health = await client.health();
  out(json ? JSON.stringify(health, null, 2) : formatHealth(health));
  return health.overallStatus === HealthStatus.HEALTHY ? 0 : 1;
}

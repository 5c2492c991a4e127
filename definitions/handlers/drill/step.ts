import { PermanentError, type TaskHandler } from 'phi/runtime';

/** One step of the DAG drill: sleeps, fails, outputs rows (and a blob) as the run's parameters say for this job. */
export const handler: TaskHandler = async (ctx) => {
  const { sleepMs = {}, fail = [], rows = 1, blobBytes = {} } = ctx.parameters as { sleepMs?: Record<string, number>; fail?: string[]; rows?: number; blobBytes?: Record<string, number> };
  const ms = sleepMs[ctx.jobId] ?? 0;
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  if (fail.includes(ctx.jobId)) throw new PermanentError('DRILL_FAILURE', `job ${ctx.jobId} fails on purpose`);
  const upstream = Object.keys(ctx.upstream).sort();
  const upstreamRows = upstream.reduce((sum, id) => sum + Number(ctx.upstream[id]?.rows ?? 0), 0);
  const upstreamBlobBytes = upstream.reduce((sum, id) => sum + String(ctx.upstream[id]?.blob ?? '').length, 0);
  const blob = blobBytes[ctx.jobId];
  return { rows: ctx.jobId === 'b' ? rows : 1, upstream, upstreamRows, ...(upstreamBlobBytes > 0 ? { upstreamBlobBytes } : {}), ...(blob ? { blob: 'x'.repeat(blob) } : {}) };
};

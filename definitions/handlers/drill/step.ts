import { PermanentError, type TaskHandler } from 'phi/runtime';

/** One step of the DAG drill: sleeps, fails or outputs rows as the run's parameters say for this job. */
export const handler: TaskHandler = async (ctx) => {
  const { sleepMs = {}, fail = [], rows = 1 } = ctx.parameters as { sleepMs?: Record<string, number>; fail?: string[]; rows?: number };
  const ms = sleepMs[ctx.jobId] ?? 0;
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  if (fail.includes(ctx.jobId)) throw new PermanentError('DRILL_FAILURE', `job ${ctx.jobId} fails on purpose`);
  const upstream = Object.keys(ctx.upstream).sort();
  const upstreamRows = upstream.reduce((sum, id) => sum + Number(ctx.upstream[id]?.rows ?? 0), 0);
  return { rows: ctx.jobId === 'b' ? rows : 1, upstream, upstreamRows };
};

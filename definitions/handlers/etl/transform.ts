import type { TaskHandler } from 'phi/runtime';

/** One handler for the three transforms; the job's `step` parameter picks which. */
export const handler: TaskHandler = async (ctx) => {
  const step = String(ctx.parameters.step);
  ctx.log.info('transformed', { step });
  return { step, output: `${step}/${ctx.runId}` };
};

import type { TaskHandler } from 'phi/runtime';

/** One step of the e2e chain: what started its run (an upstream run, for a triggered pipeline). */
export const handler: TaskHandler = async (ctx) => {
  const event = ctx.parameters.event;
  const from = typeof event === 'object' && event !== null && !Array.isArray(event) ? event : {};
  return { run: ctx.runId, upstream: typeof from.runId === 'string' ? from.runId : null };
};

import type { TaskHandler } from 'phi/runtime';

/** Reads what arrived from the run's `event` parameter (set by the pipeline's triggers). */
export const handler: TaskHandler = async (ctx) => {
  const event = ctx.parameters.event;
  const arrived = typeof event === 'object' && event !== null && !Array.isArray(event) ? event : {};
  ctx.log.info('arrived', { source: arrived.source, key: arrived.key });
  return { source: String(arrived.source ?? 'unknown'), key: typeof arrived.key === 'string' ? arrived.key : null };
};

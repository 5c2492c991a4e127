import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  ctx.log.info('published', { runId: ctx.runId });
  return { published: true };
};

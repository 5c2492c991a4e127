import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  ctx.log.info('loaded');
  return { loaded: true };
};

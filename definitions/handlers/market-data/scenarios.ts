import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  const scenarios = (ctx.parameters.scenarios as string[] | undefined) ?? ['base'];
  ctx.log.info('built scenarios', { scenarios });
  return { scenarios, count: scenarios.length };
};

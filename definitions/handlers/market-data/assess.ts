import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  const strategies = (ctx.parameters.strategies as string[] | undefined) ?? [];
  const ranking = [...strategies].sort();
  ctx.log.info('assessed strategies', { ranking });
  return { ranking, reportKey: `reports/${ctx.runId}.json` };
};

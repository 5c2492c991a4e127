import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  const rows = 1000;
  ctx.log.info('ingested', { source: ctx.parameters.source, rows });
  return { rows, batch: `${String(ctx.parameters.source)}/${ctx.runId}` };
};

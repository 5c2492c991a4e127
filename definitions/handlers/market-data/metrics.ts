import type { TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  const symbols = (ctx.parameters.symbols as string[] | undefined) ?? [];
  const metrics = ['volatility', 'drawdown', 'sharpe'];
  ctx.log.info('computed metrics', { symbols: symbols.length, metrics });
  return { metrics, series: symbols.length * metrics.length };
};

import { PermanentError, type TaskHandler } from 'phi/runtime';

/** Deterministic stand-in for a market data feed: one close price per symbol and day. */
export const handler: TaskHandler = async (ctx) => {
  const symbols = ctx.parameters.symbols;
  if (!Array.isArray(symbols) || symbols.some((s) => typeof s !== 'string')) {
    throw new PermanentError('INVALID_CONFIG', 'parameter "symbols" must be a list of ticker strings');
  }
  const days = Number(ctx.parameters.lookbackDays ?? 30);
  const bars = symbols.length * days;
  ctx.log.info('ingested market data', { symbols, days, bars });
  return { symbols: symbols as string[], days, bars };
};

/**
 * The four-stage market-data chain: ingest the day's market data, build scenarios from it, compute
 * metrics per scenario, and assess strategies against them. Weekdays after the US close.
 */
import { definePipeline, z } from 'phi';

export default definePipeline({
  id: 'market-data',
  description: 'Market data → scenarios → metrics → strategy assessment',
  version: '1.0.0',
  schedule: { cron: '0 19 * * 1-5', timezone: 'America/New_York' },
  // The seed's alert rules: a failed run, no success for 72 hours (a weekday schedule leaves weekends without runs), more than 10 %
  // of jobs failing within an hour, a run longer than two hours.
  alarms: { maxDataAgeHours: 72, errorRate: { threshold: 0.1 }, maxDurationMinutes: 120 },
  parameters: { symbols: ['SPY', 'QQQ', 'IWM'], lookbackDays: 30 },
  // A run may narrow the symbols or the lookback; anything else is refused before it starts.
  runParameters: z.object({
    symbols: z.array(z.string().regex(/^[A-Z][A-Z0-9.]{0,9}$/)).min(1).max(50).optional(),
    lookbackDays: z.number().int().min(1).max(365).optional(),
  }),
  defaults: {
    timeoutSeconds: 120,
    retry: { maxAttempts: 3, initialDelaySeconds: 30, backoffMultiplier: 2, maxDelaySeconds: 600, nonRetryableErrors: ['INVALID_CONFIG'] },
  },
  jobs: {
    'ingest-market-data': {
      handler: './handlers/market-data/ingest.ts',
      description: 'Fetch daily bars for every symbol',
      retry: { retryableErrors: ['CONNECTION_FAILED', 'RATE_LIMITED', 'TIMEOUT'] },
    },
    'build-scenarios': {
      handler: './handlers/market-data/scenarios.ts',
      dependsOn: ['ingest-market-data'],
      parameters: { scenarios: ['base', 'stress', 'rally'] },
    },
    'compute-metrics': {
      handler: './handlers/market-data/metrics.ts',
      dependsOn: ['build-scenarios'],
      memoryMb: 1024,
    },
    'assess-strategies': {
      handler: './handlers/market-data/assess.ts',
      dependsOn: ['compute-metrics'],
      parameters: { strategies: ['momentum', 'mean-reversion'] },
    },
  },
});

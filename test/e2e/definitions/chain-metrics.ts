/** The chain's third step: weekly, gated on fresh scenario definitions and market data, waiting up to five minutes for them (see chain-data.ts). */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'chain-metrics',
  schedule: { cron: '0 21 * * 0' },
  // Fresh means within 3 minutes here (a week's data in the seed), so the e2e test sees it wait whatever ran before.
  requires: [{ dataset: 'scenario_definitions', maxAgeHours: 0.05, timeoutSeconds: 300 }, { dataset: 'market_data', maxAgeHours: 0.05, timeoutSeconds: 300 }],
  provides: ['ml_features'],
  jobs: { compute: { handler: './handlers/chain-step.ts', timeoutSeconds: 30 } },
});

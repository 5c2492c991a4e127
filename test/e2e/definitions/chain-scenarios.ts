/** The chain's second step: no schedule, so each successful run of its provider (chain-data) starts one run (see chain-data.ts). */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'chain-scenarios',
  requires: ['market_data'],
  provides: ['scenario_definitions'],
  jobs: { build: { handler: './handlers/chain-step.ts', timeoutSeconds: 30 } },
});

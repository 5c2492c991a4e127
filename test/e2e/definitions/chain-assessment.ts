/** The chain's last step: weekly, gated on the metrics, but waiting only 15 seconds for them (see chain-data.ts). */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'chain-assessment',
  schedule: { cron: '0 22 * * 0' },
  // Fresh means within 3 minutes here, so the e2e test sees it time out whatever ran before.
  requires: [{ dataset: 'ml_features', maxAgeHours: 0.05, timeoutSeconds: 15 }],
  jobs: { assess: { handler: './handlers/chain-step.ts', timeoutSeconds: 30 } },
});

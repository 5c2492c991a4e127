/**
 * Catch-up (spec Rule 4) on the emulator: a yearly schedule since 2020 that has never run catches up
 * its last three New Year's runs, oldest first, when the sweeper next runs.
 */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'yearly-catchup',
  schedule: { cron: '0 0 1 1 *', startDate: '2020-01-01T00:00:00Z' },
  catchup: { maxRuns: 3 },
  jobs: { close: { handler: './handlers/chain-step.ts', timeoutSeconds: 30 } },
});

/**
 * The seed's four-pipeline chain (`001_08da6f999216783a.txt`), on the emulator (issue #9): a daily
 * upstream providing market data (here started by the test, as its 19:00 schedule would), a
 * scenarios pipeline triggered by it (no schedule of its own), a weekly metrics pipeline gated on both,
 * and a weekly assessment gated on the metrics with a short timeout. The edges are inferred from
 * `provides` and `requires`.
 */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'chain-data',
  provides: ['market_data', 'economic_data'],
  jobs: { fetch: { handler: './handlers/chain-step.ts', timeoutSeconds: 30 } },
});

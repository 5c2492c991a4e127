/**
 * The operator's story of issue #10 (test/e2e/recovery.test.ts): a job fails for good because its
 * source is not there yet (before the run's `availableAt`); health shows it, `phi logs` says why,
 * and once the source is there the dead letter's retry, with the same parameters, succeeds; or the
 * run's retry from its failed jobs does, without running `stage` again.
 */
import { definePipeline, z } from 'phi';

export default definePipeline({
  id: 'recovery-drill',
  runParameters: z.object({ availableAt: z.string() }),
  defaults: { timeoutSeconds: 30 },
  jobs: {
    // Succeeds every time: a retry from the failed jobs (phi retry --from-failed) takes its outputs.
    stage: { handler: './handlers/chain-step.ts' },
    read: { handler: './handlers/available-at.ts', dependsOn: ['stage'] },
    report: { handler: './handlers/chain-step.ts', dependsOn: ['read'] },
  },
});

/**
 * Failure drill: shows Phi's failure handling on demand, driven by run parameters.
 *  - `{ "transientFailures": n }`: `check-source` fails transiently on its first n attempts, then succeeds.
 *  - `{ "corruptInput": true }`: `check-source` fails permanently (no retry, one dead letter).
 * With no parameters every job succeeds. It has no schedule: it runs only when started.
 */
import { definePipeline, z } from 'phi';

export default definePipeline({
  id: 'failure-drill',
  description: 'Transient and permanent failures on demand',
  parameters: { transientFailures: 0, corruptInput: false },
  runParameters: z.object({
    transientFailures: z.number().int().min(0).max(10).optional(),
    corruptInput: z.boolean().optional(),
  }),
  defaults: {
    timeoutSeconds: 30,
    retry: { maxAttempts: 3, initialDelaySeconds: 1, backoffMultiplier: 2, maxDelaySeconds: 5, jitter: 'NONE' },
  },
  jobs: {
    'check-source': { handler: './handlers/drill/check-source.ts' },
    load: { handler: './handlers/drill/load.ts', dependsOn: ['check-source'] },
  },
});

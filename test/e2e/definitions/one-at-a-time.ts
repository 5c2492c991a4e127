/** At most one run at a time (spec Rule 3, skip_if_running): a start while one is active is recorded SKIPPED, ALREADY_RUNNING. */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'one-at-a-time',
  concurrency: { maxActiveRuns: 1, whenRunning: 'skip' },
  jobs: { work: { handler: './handlers/slow-step.ts', timeoutSeconds: 30 } },
});

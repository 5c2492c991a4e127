/** At most one run at a time, the rest queued (spec Rule 3, queue_if_running): each starts, oldest first, when the active run ends. */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'queued',
  concurrency: { maxActiveRuns: 1, whenRunning: 'queue' },
  jobs: { work: { handler: './handlers/slow-step.ts', timeoutSeconds: 30 } },
});

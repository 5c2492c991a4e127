/**
 * Runs when data arrives (issue #9 triggers): each CSV file put under `incoming/` in the landing bucket
 * (S3 Object Created through EventBridge: the bucket has EventBridge notifications on), and each
 * "Batch Ready" event an application puts on the default bus. The run finds the event in its `event`
 * parameter.
 */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'landing',
  description: 'Ingest each file that lands in the landing bucket, and each batch an application announces',
  triggers: [
    { type: 'dataArrival', id: 'files', bucket: 'phi-landing', prefix: 'incoming/', suffix: '.csv' },
    { type: 'event', id: 'batches', pattern: { source: ['phi.example'], 'detail-type': ['Batch Ready'] } },
  ],
  defaults: { timeoutSeconds: 60, retry: { maxAttempts: 2, initialDelaySeconds: 10 } },
  jobs: {
    ingest: { handler: './handlers/landing-ingest.ts' },
  },
});

/**
 * Runs when data arrives (issue #9 triggers): each CSV file put under `incoming/` in the landing bucket
 * (S3 Object Created through EventBridge: the bucket has EventBridge notifications on), each
 * "Batch Ready" event an application puts on the default bus, each message sent to the queue Phi
 * creates for it (`phi-landing_messages`), and each batch of up to 10 messages of another
 * (`phi-landing_bundles`), and each webhook call signed with the secret of its `hook` trigger. The run
 * finds the event, or the messages, in its `event` parameter.
 */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'landing',
  description: 'Ingest each file that lands in the landing bucket, each batch an application announces, and what it sends to the landing queues',
  triggers: [
    { type: 'dataArrival', id: 'files', bucket: 'phi-landing', prefix: 'incoming/', suffix: '.csv' },
    { type: 'event', id: 'batches', pattern: { source: ['phi.example'], 'detail-type': ['Batch Ready'] } },
    // The "Item Ready" events of 10 seconds, from the first, make one run (test/e2e/triggers.test.ts).
    { type: 'event', id: 'items', pattern: { source: ['phi.example'], 'detail-type': ['Item Ready'] }, batchWindowSeconds: 10 },
    { type: 'message', id: 'messages' },
    { type: 'message', id: 'bundles', batchSize: 10 },
    // Signed HTTPS calls from outside AWS (test/e2e/webhooks.test.ts): POST /webhooks/landing/hook.
    { type: 'webhook', id: 'hook' },
  ],
  defaults: { timeoutSeconds: 60, retry: { maxAttempts: 2, initialDelaySeconds: 10 } },
  jobs: {
    ingest: { handler: './handlers/landing-ingest.ts' },
  },
});

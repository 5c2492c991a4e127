/** Fan-out/fan-in ETL: one ingest, three independent transforms in parallel, one publish. */
import { definePipeline } from 'phi';

export default definePipeline({
  id: 'etl-fanout',
  description: 'Ingest → three parallel transforms → publish',
  schedule: { rate: '6 hours' },
  parameters: { source: 'orders' },
  defaults: { timeoutSeconds: 60, retry: { maxAttempts: 2, initialDelaySeconds: 10 } },
  jobs: {
    ingest: { handler: './handlers/etl/ingest.ts' },
    'transform-clean': { handler: './handlers/etl/transform.ts', dependsOn: ['ingest'], parameters: { step: 'clean' } },
    'transform-enrich': { handler: './handlers/etl/transform.ts', dependsOn: ['ingest'], parameters: { step: 'enrich' } },
    'transform-aggregate': { handler: './handlers/etl/transform.ts', dependsOn: ['ingest'], parameters: { step: 'aggregate' } },
    publish: {
      handler: './handlers/etl/publish.ts',
      dependsOn: ['transform-clean', 'transform-enrich', 'transform-aggregate'],
    },
  },
});

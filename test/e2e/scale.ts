/** The generated pipeline of the scale test: 1,000 jobs, 3,000 edges, 5 handler files (seeded, so every run is the same DAG). */
import { randomDag, type GeneratedJob } from '../support/generated-pipeline.ts';

export const SCALE = {
  pipelineId: 'scale-1000',
  jobs: (): GeneratedJob[] => randomDag(1000, 3, 5),
} as const;

/** Bound at bundle time to the job's handler file (esbuild alias). */
declare module 'phi-user-handler' {
  import type { TaskHandler } from './index.ts';
  export const handler: TaskHandler;
}

/** Bound at bundle time to the pipeline's manifest, a JSON file the pipeline construct writes (esbuild alias). */
declare module 'phi-pipeline-manifest' {
  const manifest: unknown;
  export default manifest;
}

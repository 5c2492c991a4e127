/** Bound at bundle time to the job's handler file (esbuild alias). */
declare module 'phi-user-handler' {
  import type { TaskHandler } from './index.ts';
  export const handler: TaskHandler;
}

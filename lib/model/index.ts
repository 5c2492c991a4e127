/** Phi's public definition API: `import { definePipeline, z } from 'phi'`. */
/** The zod Phi is built with, for `runParameters`: `z.object({ … })`. */
export { z } from 'zod';
export * from './pipeline.ts';
export * from './problems.ts';
export * from './errors.ts';
export * from './contract/index.ts';
export * from './canonical.ts';

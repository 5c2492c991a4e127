/** Phi's public definition API: `import { definePipeline } from 'phi'`. */
export * from './pipeline.ts';
export * from './problems.ts';
export * from './errors.ts';
export * from './contract/index.ts';
export * from './canonical.ts';

import { PermanentError, type TaskHandler } from 'phi/runtime';

/** Reads a source that is not there before `availableAt` (a run parameter): a permanent failure until then, which no retry within the run fixes. */
export const handler: TaskHandler = async (ctx) => {
  const availableAt = Date.parse(String(ctx.parameters.availableAt));
  if (Date.now() < availableAt) {
    ctx.log.warn('source not there yet', { availableAt: ctx.parameters.availableAt });
    throw new PermanentError('SOURCE_UNAVAILABLE', `the source is not there before ${String(ctx.parameters.availableAt)}`);
  }
  ctx.log.info('source read', { availableAt: ctx.parameters.availableAt });
  return { read: true };
};

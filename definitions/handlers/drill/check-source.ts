import { PermanentError, TransientError, type TaskHandler } from 'phi/runtime';

export const handler: TaskHandler = async (ctx) => {
  if (ctx.parameters.corruptInput === true) {
    throw new PermanentError('CORRUPT_INPUT', 'the source file fails its checksum; retrying cannot fix it');
  }
  const failures = Number(ctx.parameters.transientFailures ?? 0);
  if (ctx.attempt <= failures) {
    throw new TransientError('CONNECTION_FAILED', `source unreachable (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
  }
  return { checkedOnAttempt: ctx.attempt };
};

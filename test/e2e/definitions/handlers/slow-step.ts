import type { TaskHandler } from 'phi/runtime';

/** Takes a second: long enough for concurrent starts of its pipeline to find a run active. */
export const handler: TaskHandler = async (ctx) => {
  await new Promise((r) => setTimeout(r, 1000));
  return { run: ctx.runId };
};

/** Cancel dependencies over an in-memory store for API tests that do not look at what a cancel stops or wakes. */
import type { CancelDeps } from '../../../functions/control/cancel.ts';
import type { Logger } from '../../../functions/shared/log.ts';
import { MemoryJobLists } from './job-lists.ts';

export function quietCancelDeps(store: CancelDeps['store'] & CancelDeps['recorder']['store'], log: Logger, now?: () => Date): CancelDeps {
  const sendToken = async (): Promise<void> => {};
  return {
    store,
    recorder: { store, log, sendToken, sendDeadLetter: async () => {}, jobLists: new MemoryJobLists(), ...(now ? { now } : {}) },
    stopExecution: async () => {},
    sendToken,
    log,
    ...(now ? { now } : {}),
  };
}

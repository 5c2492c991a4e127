/**
 * Releasing a job's dependents when it ends. Each dependent's state item collects how its upstreams
 * ended; the caller whose write completes the set marks the dependent ready, once (a conditional
 * write decides, whatever runs concurrently), and wakes the dependent's Map iteration if it is
 * already waiting on its task token. A redelivered release of the same upstream (its first send
 * failed, or its caller died after it) sends again until the dependent has started; a token sent
 * twice is harmless (the second finds the task gone). An iteration that arrives later finds the item ready and does
 * not wait (see `lib/plan/asl.ts`, "Wait for upstream"). Whether the woken job runs or is skipped is
 * decided by the job itself, from the outcomes collected here.
 */
import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { UpstreamOutcome } from '../../lib/model/contract/index.ts';
import type { Logger } from './log.ts';
import type { RecordStore } from './records/store.ts';

export interface ReleaseDeps {
  readonly store: Pick<RecordStore, 'recordUpstreamEnded' | 'claimReady'>;
  /** Resumes the Map iteration waiting on `token`. */
  readonly sendToken: (token: string) => Promise<void>;
  readonly log: Logger;
  readonly now?: () => Date;
}

export interface Dependent {
  readonly job: string;
  /** How many upstreams it waits for in all. */
  readonly upstreamCount: number;
}

/** Records `jobId`'s end on each dependent; answers the dependents this call made ready. */
export async function releaseDependents(deps: ReleaseDeps, runId: string, jobId: string, outcome: UpstreamOutcome, dependents: readonly Dependent[]): Promise<string[]> {
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const released = await Promise.all(
    dependents.map(async (dependent) => {
      const claim = await recordEnd(deps, runId, jobId, outcome, at, dependent);
      if (!claim.claimed) return undefined;
      const { token } = claim;
      if (token !== undefined) await deps.sendToken(token);
      deps.log.info('dependent released', { jobId, dependent: dependent.job, waiting: token !== undefined });
      return dependent.job;
    }),
  );
  return released.filter((id): id is string => id !== undefined);
}

/** Records `jobId`'s end on `dependent`; claims it when this end completes its set. */
async function recordEnd(deps: ReleaseDeps, runId: string, jobId: string, outcome: UpstreamOutcome, at: string, dependent: Dependent): Promise<{ claimed: boolean; token?: string }> {
  // Its only upstream: this end completes the set, recorded and claimed in one write.
  if (dependent.upstreamCount === 1) return deps.store.claimReady(runId, dependent.job, jobId, { outcome, at });
  const { ended } = await deps.store.recordUpstreamEnded(runId, dependent.job, jobId, outcome, at);
  // Ready already, by another upstream's end: that one wakes it. By this one's (a redelivery after a
  // failed send): the claim lets it send again.
  return ended < dependent.upstreamCount ? { claimed: false } : deps.store.claimReady(runId, dependent.job, jobId);
}

/** Errors of SendTaskSuccess that mean the iteration is no longer waiting (its execution ended): nothing to wake. */
const GONE = new Set(['TaskDoesNotExist', 'InvalidToken', 'TaskTimedOut']);

/** `sendToken` over Step Functions. */
export function sendTaskToken(sfn: SFNClient, log: Logger): (token: string) => Promise<void> {
  return async (token) => {
    try {
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      if (!GONE.has(name)) throw err;
      log.warn('the released iteration no longer waits', { error: name });
    }
  };
}

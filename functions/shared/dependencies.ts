/**
 * Whether a job whose upstreams have all ended runs, or is skipped and why: one pure function over
 * its dependencies, their outcomes and the outputs of those that succeeded.
 *
 * For each dependency:
 * - the upstream SUCCEEDED: SUCCESS and COMPLETION hold; DATA_READY holds when its condition is true
 *   over the upstream's outputs (else `CONDITION_FALSE`);
 * - it FAILED, or was SKIPPED because something before it failed: COMPLETION holds; SUCCESS and
 *   DATA_READY do not (`UPSTREAM_FAILED`); likewise when it was CANCELLED by an operator, or skipped
 *   because of a cancel (`UPSTREAM_CANCELLED`);
 * - it was SKIPPED otherwise (a condition before it was false): with `skipOnUpstreamSkip` the job is
 *   skipped too (`UPSTREAM_SKIPPED`); without, SUCCESS and COMPLETION hold and DATA_READY does not
 *   (`CONDITION_FALSE`: a skipped job has no outputs to test).
 * When several do not hold, the reason is the first of UPSTREAM_FAILED, UPSTREAM_CANCELLED,
 * UPSTREAM_SKIPPED, CONDITION_FALSE.
 */
import { evaluateCondition, parseCondition } from '../../lib/model/condition.ts';
import { JobStatus, SkipReason, type ResolvedDependency, type UpstreamOutcome } from '../../lib/model/contract/index.ts';
import { DependencyType } from '../../lib/model/pipeline.ts';

export type Decision = { readonly run: true } | { readonly run: false; readonly reason: SkipReason };

const PRECEDENCE: readonly SkipReason[] = [SkipReason.UPSTREAM_FAILED, SkipReason.UPSTREAM_CANCELLED, SkipReason.UPSTREAM_SKIPPED, SkipReason.CONDITION_FALSE];

const CANCELS: readonly string[] = [SkipReason.JOB_CANCELLED, SkipReason.UPSTREAM_CANCELLED, SkipReason.RUN_CANCELLED];

/** An upstream that ended without a result because of a failure (its own, or one before it). */
export function endedByFailure(outcome: UpstreamOutcome): boolean {
  return outcome.status === JobStatus.FAILED || (outcome.status === JobStatus.SKIPPED && outcome.reason === SkipReason.UPSTREAM_FAILED);
}

/** An upstream that ended without a result because an operator cancelled it (or something before it). */
export function endedByCancel(outcome: UpstreamOutcome): boolean {
  return outcome.status === JobStatus.CANCELLED || (outcome.status === JobStatus.SKIPPED && CANCELS.includes(outcome.reason ?? ''));
}

function unmet(dep: ResolvedDependency, outcome: UpstreamOutcome | undefined, outputs: unknown): SkipReason | undefined {
  // An upstream with no recorded end cannot have been waited for: treat it as failed rather than guess.
  if (!outcome || endedByFailure(outcome)) return dep.on === DependencyType.COMPLETION ? undefined : SkipReason.UPSTREAM_FAILED;
  if (endedByCancel(outcome)) return dep.on === DependencyType.COMPLETION ? undefined : SkipReason.UPSTREAM_CANCELLED;
  if (outcome.status === JobStatus.SKIPPED) {
    if (dep.skipOnUpstreamSkip) return SkipReason.UPSTREAM_SKIPPED;
    return dep.on === DependencyType.DATA_READY ? SkipReason.CONDITION_FALSE : undefined;
  }
  if (dep.on !== DependencyType.DATA_READY) return undefined;
  const parsed = parseCondition(dep.condition ?? '');
  return parsed.ok && evaluateCondition(parsed.condition, outputs) ? undefined : SkipReason.CONDITION_FALSE;
}

export function decide(
  dependencies: readonly ResolvedDependency[],
  outcomes: Readonly<Record<string, UpstreamOutcome>>,
  outputs: Readonly<Record<string, unknown>>,
): Decision {
  const own = (record: Readonly<Record<string, unknown>>, key: string): unknown => (Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined);
  const reasons = new Set<SkipReason>();
  for (const dep of dependencies) {
    const reason = unmet(dep, own(outcomes, dep.job) as UpstreamOutcome | undefined, own(outputs, dep.job));
    if (reason) reasons.add(reason);
  }
  const reason = PRECEDENCE.find((r) => reasons.has(r));
  return reason ? { run: false, reason } : { run: true };
}

/**
 * Whether a job whose upstreams have ended runs or is skipped (functions/shared/dependencies.ts): every
 * dependency form against every way an upstream can end, and the precedence of skip reasons.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../../functions/shared/dependencies.ts';
import { JobStatus, SkipReason, type ResolvedDependency, type UpstreamOutcome } from '../../lib/model/contract/index.ts';

const dep = (on: ResolvedDependency['on'], extra: Partial<ResolvedDependency> = {}): ResolvedDependency => ({ job: 'up', on, skipOnUpstreamSkip: true, ...extra });
const ended: Record<string, UpstreamOutcome> = {
  succeeded: { status: JobStatus.SUCCEEDED, attempt: 1 },
  failed: { status: JobStatus.FAILED, attempt: 3 },
  cancelled: { status: JobStatus.CANCELLED, attempt: 1, reason: SkipReason.JOB_CANCELLED },
  'skipped (failure)': { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.UPSTREAM_FAILED },
  'skipped (cancel)': { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.JOB_CANCELLED },
  'skipped (condition)': { status: JobStatus.SKIPPED, attempt: 0, reason: SkipReason.CONDITION_FALSE },
};
const RUN = { run: true } as const;
const skip = (reason: SkipReason) => ({ run: false, reason }) as const;

describe('decide: one dependency, every way its upstream ended', () => {
  // upstream's outputs when it succeeded: rows 3
  it.each([
    ['SUCCESS', {}, 'succeeded', RUN],
    ['SUCCESS', {}, 'failed', skip(SkipReason.UPSTREAM_FAILED)],
    ['SUCCESS', {}, 'cancelled', skip(SkipReason.UPSTREAM_CANCELLED)],
    ['SUCCESS', {}, 'skipped (failure)', skip(SkipReason.UPSTREAM_FAILED)],
    ['SUCCESS', {}, 'skipped (cancel)', skip(SkipReason.UPSTREAM_CANCELLED)],
    ['SUCCESS', {}, 'skipped (condition)', skip(SkipReason.UPSTREAM_SKIPPED)],
    ['SUCCESS', { skipOnUpstreamSkip: false }, 'skipped (condition)', RUN],
    ['SUCCESS', { skipOnUpstreamSkip: false }, 'skipped (failure)', skip(SkipReason.UPSTREAM_FAILED)],
    ['COMPLETION', {}, 'succeeded', RUN],
    ['COMPLETION', {}, 'failed', RUN],
    ['COMPLETION', {}, 'cancelled', RUN],
    ['COMPLETION', {}, 'skipped (failure)', RUN],
    ['COMPLETION', {}, 'skipped (condition)', skip(SkipReason.UPSTREAM_SKIPPED)],
    ['COMPLETION', { skipOnUpstreamSkip: false }, 'skipped (condition)', RUN],
    ['DATA_READY', { condition: 'rows > 0' }, 'succeeded', RUN],
    ['DATA_READY', { condition: 'rows > 5' }, 'succeeded', skip(SkipReason.CONDITION_FALSE)],
    ['DATA_READY', { condition: 'rows > 0' }, 'failed', skip(SkipReason.UPSTREAM_FAILED)],
    ['DATA_READY', { condition: 'rows > 0' }, 'cancelled', skip(SkipReason.UPSTREAM_CANCELLED)],
    ['DATA_READY', { condition: 'rows > 0' }, 'skipped (condition)', skip(SkipReason.UPSTREAM_SKIPPED)],
    ['DATA_READY', { condition: 'rows > 0', skipOnUpstreamSkip: false }, 'skipped (condition)', skip(SkipReason.CONDITION_FALSE)],
  ] as const)('%s %j after an upstream %s: %j', (on, extra, how, expected) => {
    expect(decide([dep(on, extra)], { up: ended[how]! }, { up: { rows: 3 } })).toStrictEqual(expected);
  });

  it('treats an upstream with no recorded end as failed, and never reads an inherited property as one', () => {
    expect(decide([dep('SUCCESS')], {}, {})).toStrictEqual(skip(SkipReason.UPSTREAM_FAILED));
    expect(decide([{ ...dep('SUCCESS'), job: 'constructor' }], {}, {})).toStrictEqual(skip(SkipReason.UPSTREAM_FAILED));
    expect(decide([{ ...dep('COMPLETION'), job: 'toString' }], {}, {})).toStrictEqual(RUN);
  });
});

describe('decide: several dependencies', () => {
  it('runs only when every one holds', () => {
    const deps = [{ ...dep('SUCCESS'), job: 'a' }, { ...dep('COMPLETION'), job: 'b' }, { ...dep('DATA_READY', { condition: 'ok' }), job: 'c' }];
    const outcomes = { a: ended.succeeded!, b: ended.failed!, c: ended.succeeded! };
    expect(decide(deps, outcomes, { c: { ok: true } })).toStrictEqual(RUN);
    expect(decide(deps, outcomes, { c: { ok: false } })).toStrictEqual(skip(SkipReason.CONDITION_FALSE));
  });

  it('names the most serious reason: UPSTREAM_FAILED, then UPSTREAM_CANCELLED, UPSTREAM_SKIPPED, CONDITION_FALSE', () => {
    const four = ['f', 'x', 's', 'c'].map((job) => ({ ...dep(job === 'c' ? 'DATA_READY' : 'SUCCESS', job === 'c' ? { condition: 'rows > 9' } : {}), job }));
    const outcomes = { f: ended.failed!, x: ended.cancelled!, s: ended['skipped (condition)']!, c: ended.succeeded! };
    expect(decide(four, outcomes, { c: { rows: 1 } })).toStrictEqual(skip(SkipReason.UPSTREAM_FAILED));
    expect(decide(four.slice(1), outcomes, { c: { rows: 1 } })).toStrictEqual(skip(SkipReason.UPSTREAM_CANCELLED));
    expect(decide(four.slice(2), outcomes, { c: { rows: 1 } })).toStrictEqual(skip(SkipReason.UPSTREAM_SKIPPED));
    expect(decide(four.slice(3), outcomes, { c: { rows: 1 } })).toStrictEqual(skip(SkipReason.CONDITION_FALSE));
  });
});

/**
 * Runs of the shipped example pipelines on the local emulator: real Lambda handlers inside real Step
 * Functions executions, leaving DynamoDB records and SQS dead letters.
 *
 * Where MiniStack differs from AWS, and how these tests cover the behaviour anyway:
 * - MiniStack reports every Node.js Lambda error to Step Functions as `Runtime.HandlerError` (AWS passes
 *   the error's name, `PhiTransientError`). Phi's retry classification does not depend on the name:
 *   permanent failures are returned, never thrown, and Retry matches States.ALL. The recorder reads the
 *   error from the Cause, which carries the same message in both forms (see the recorder unit tests).
 * - MiniStack ignores MaxDelaySeconds and JitterStrategy; the drill uses jitter NONE and delays under
 *   the cap, so the gap between attempts is still checked against IntervalSeconds.
 */
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { deadLetterQueueUrl, peekDeadLetters, waitForDeadLetter } from '../../lib/client/dead-letters.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { executionArnFor } from '../../lib/model/names.ts';
import { phiClient, stateMachineArn, useEmulator } from './support.ts';

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

const isOrdered = (...times: (string | undefined)[]): boolean => times.every((t, i) => i === 0 || Date.parse(times[i - 1] ?? '') <= Date.parse(t ?? ''));

describe('a successful run', () => {
  it('runs every job in dependency order and leaves complete run and attempt records', async () => {
    const { plan } = await planDefinitions('definitions');
    const market = plan.pipelines.find((p) => p.id === 'market-data')!;

    const { created, run } = await client.startRun('market-data', { parameters: { lookbackDays: 5 } });
    expect(created).toBe(true);
    const view = await client.waitForRun(run.runId);

    expect(view.run).toMatchObject({ pipelineId: 'market-data', status: 'SUCCEEDED', trigger: 'API', parameters: { lookbackDays: 5 }, definitionVersion: market.definitionVersion });
    expect(view.run.transitions.map((t) => t.status)).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
    expect(isOrdered(view.run.queuedAt, view.run.startedAt, view.run.completedAt)).toBe(true);
    expect(view.run.executionArn).toBe(executionArnFor(stateMachineArn('market-data'), run.runId));
    expect(view.run.jobs).toEqual({
      'ingest-market-data': { status: 'SUCCEEDED', attempts: 1 },
      'build-scenarios': { status: 'SUCCEEDED', attempts: 1 },
      'compute-metrics': { status: 'SUCCEEDED', attempts: 1 },
      'assess-strategies': { status: 'SUCCEEDED', attempts: 1 },
    });

    // Each job started only after its upstream job completed.
    const attempt = (job: string) => view.jobs[job]!.attempts[0]!;
    for (const job of market.jobs) {
      for (const dep of job.dependsOn) expect(isOrdered(attempt(dep).completedAt, attempt(job.id).startedAt)).toBe(true);
    }
    const ingest = attempt('ingest-market-data');
    expect(ingest).toMatchObject({
      status: 'SUCCEEDED',
      attempt: 1,
      definitionVersion: market.definitionVersion,
      // pipeline parameters < run overrides
      parameters: { symbols: ['SPY', 'QQQ', 'IWM'], lookbackDays: 5 },
      outputs: { symbols: ['SPY', 'QQQ', 'IWM'], days: 5, bars: 15 },
      outputChecksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(ingest.transitions.map((t) => t.status)).toEqual(['RUNNING', 'SUCCEEDED']);
    // job parameters < run overrides, pipeline parameters underneath
    expect(attempt('build-scenarios').parameters).toEqual({ symbols: ['SPY', 'QQQ', 'IWM'], lookbackDays: 5, scenarios: ['base', 'stress', 'rally'] });
  });
});

describe('failures', () => {
  it('retries a transient failure after the policy delay and succeeds, with no dead letter', async () => {
    const { run } = await client.startRun('failure-drill', { parameters: { transientFailures: 1 } });
    const view = await client.waitForRun(run.runId);

    expect(view.run.status).toBe('SUCCEEDED');
    const attempts = view.jobs['check-source']!.attempts;
    expect(attempts.map((a) => [a.attempt, a.status, a.errorCode, a.errorCategory, a.willRetry])).toEqual([
      [1, 'FAILED', 'CONNECTION_FAILED', 'TRANSIENT', true],
      [2, 'SUCCEEDED', undefined, undefined, undefined],
    ]);
    expect(attempts[1]!.outputs).toEqual({ checkedOnAttempt: 2 });
    // initialDelaySeconds: 1 with jitter NONE
    expect(Date.parse(attempts[1]!.startedAt) - Date.parse(attempts[0]!.completedAt!)).toBeGreaterThanOrEqual(900);
    expect(view.run.jobs).toEqual({ 'check-source': { status: 'SUCCEEDED', attempts: 2 }, load: { status: 'SUCCEEDED', attempts: 1 } });

    const letters = await peekDeadLetters(await deadLetterQueueUrl());
    expect(letters.filter((m) => m.runId === run.runId)).toEqual([]);
  });

  it('fails a permanent error at once: one attempt, dependents skipped, the run FAILED, one dead letter', async () => {
    const { run } = await client.startRun('failure-drill', { parameters: { corruptInput: true } });
    const view = await client.waitForRun(run.runId);

    expect(view.run.status).toBe('FAILED');
    expect(view.run.transitions.map((t) => t.status)).toEqual(['PENDING', 'RUNNING', 'FAILED']);
    expect(view.run.jobs).toEqual({
      'check-source': { status: 'FAILED', attempts: 1, errorCode: 'CORRUPT_INPUT' },
      load: { status: 'SKIPPED', attempts: 0, reason: 'UPSTREAM_FAILED' },
    });
    expect(view.run.error).toEqual({ code: 'CORRUPT_INPUT', message: 'the source file fails its checksum; retrying cannot fix it', jobId: 'check-source' });
    expect(view.jobs['check-source']!.attempts).toHaveLength(1);
    expect(view.jobs['check-source']!.attempts[0]).toMatchObject({ status: 'FAILED', errorCategory: 'PERMANENT', willRetry: false });

    const letter = await waitForDeadLetter(run.runId);
    expect(letter).toEqual({
      kind: 'phi.job.failed',
      pipelineId: 'failure-drill',
      runId: run.runId,
      jobId: 'check-source',
      attempts: 1,
      errorCode: 'CORRUPT_INPUT',
      errorMessage: 'the source file fails its checksum; retrying cannot fix it',
      errorCategory: 'PERMANENT',
      parameters: { transientFailures: 0, corruptInput: true },
      executionArn: view.run.executionArn,
      trigger: 'API',
      failedAt: expect.any(String),
    });
    // exactly one dead letter for the run
    expect((await peekDeadLetters(await deadLetterQueueUrl())).filter((m) => m.runId === run.runId)).toHaveLength(1);
  });

  it('gives up on a transient failure after maxAttempts and dead-letters it with every attempt counted', async () => {
    const { run } = await client.startRun('failure-drill', { parameters: { transientFailures: 10 } });
    const view = await client.waitForRun(run.runId);

    expect(view.run.status).toBe('FAILED');
    expect(view.jobs['check-source']!.attempts.map((a) => [a.status, a.willRetry])).toEqual([
      ['FAILED', true],
      ['FAILED', true],
      ['FAILED', false],
    ]);
    const letter = await waitForDeadLetter(run.runId);
    expect(letter).toMatchObject({ jobId: 'check-source', attempts: 3, errorCode: 'CONNECTION_FAILED', errorCategory: 'TRANSIENT', errorMessage: 'source unreachable (attempt 3 of 3)' });
  });
});

describe('idempotency', () => {
  it('starts one execution for the same idempotency key sent twice', async () => {
    const idempotencyKey = `e2e-${Date.now()}`;
    const first = await client.startRun('etl-fanout', { idempotencyKey });
    const second = await client.startRun('etl-fanout', { idempotencyKey });

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.run.runId).toBe(first.run.runId);
    const view = await client.waitForRun(first.run.runId);
    expect(view.run.status).toBe('SUCCEEDED');
    expect(Object.values(view.run.jobs ?? {}).every((j) => j.attempts === 1)).toBe(true);

    const executions = await new SFNClient({}).send(new ListExecutionsCommand({ stateMachineArn: stateMachineArn('etl-fanout') }));
    expect((executions.executions ?? []).filter((e) => e.name === first.run.runId)).toHaveLength(1);
  });
});

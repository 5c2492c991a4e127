/**
 * A 1,000-job pipeline with 3,000 edges over 5 handler files (generated, see test/e2e/scale.ts):
 * validated, planned, synthesized and deployed by the e2e setup, run here to completion on the emulator.
 * The records prove every job ran once, after each of its upstreams, with their outputs.
 */
import { describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { SCALE } from './scale.ts';
import { phiClient, useEmulator } from './support.ts';

describe('a 1,000-job pipeline', () => {
  it('plans within every limit with one function per handler file', async () => {
    const { plan, problems } = await planDefinitions('.phi/scale');
    expect(problems).toEqual([]);
    const pipeline = plan.pipelines[0]!;
    expect(pipeline.jobs).toHaveLength(1000);
    expect(pipeline.jobs.reduce((n, j) => n + j.dependsOn.length, 0)).toBe(3 * 1000 - 6);
    expect(pipeline.functions).toHaveLength(5);
    expect(pipeline.estimates.stackResources).toBeLessThan(50);
    expect(pipeline.estimates.stateTransitions.perJob).toBeLessThanOrEqual(3);
  });

  it('runs to completion on the emulator: every job once, each after all of its upstreams, with their outputs', async () => {
    useEmulator();
    const client: PhiClient = await phiClient();
    const { run } = await client.startRun(SCALE.pipelineId, {});
    const view = await client.waitForRun(run.runId, { timeoutMs: 600_000, intervalMs: 2_000 });

    expect(view.run.status).toBe('SUCCEEDED');
    const jobs = SCALE.jobs();
    expect(Object.keys(view.jobs)).toHaveLength(jobs.length);
    const attempt = (id: string) => {
      const attempts = view.jobs[id]?.attempts ?? [];
      expect({ id, attempts: attempts.length }).toEqual({ id, attempts: 1 });
      return attempts[0]!;
    };
    for (const job of jobs) {
      const own = attempt(job.id);
      expect(own.status).toBe('SUCCEEDED');
      for (const up of job.dependsOn) expect(Date.parse(own.startedAt)).toBeGreaterThanOrEqual(Date.parse(attempt(up).completedAt ?? ''));
      // the handler counts the upstream outputs it was handed
      expect(own.outputs).toEqual({ upstream: job.dependsOn.length });
    }
    console.log(`[scale] ${SCALE.pipelineId}: ${jobs.length} jobs in ${view.run.durationMs} ms`);
  }, 660_000);
});

/**
 * `phi backfill` on the emulator: ten weekday fire times of the shipped market-data schedule (19:00 New
 * York) with --max-concurrent 3, the CLI killed after a few starts and run again. From the records: ten
 * runs, one per scheduled time, none twice, each with its scheduled time, and never more than three
 * active at once (each run active from when it was queued to when it was closed).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import type { BackfillSummary } from '../../lib/cli/backfill.ts';
import { RunStatus, type RunRecord } from '../../lib/model/contract/index.ts';
import { phiClient, useEmulator } from './support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PHI = path.join(ROOT, 'bin', 'phi.js');
const MAX = 3;

let client: PhiClient;
beforeAll(async () => {
  useEmulator();
  client = await phiClient();
});

/**
 * A Monday 00:00Z in a random past year: the two weeks from it hold exactly ten weekday 19:00 New York
 * fire times, which no earlier run of this test (on a reused emulator) is likely to have backfilled.
 */
function twoRandomWeeks(): { from: string; to: string } {
  const year = 2001 + Math.floor(Math.random() * 24);
  const jan = new Date(Date.UTC(year, 0, 1));
  const monday = new Date(jan.getTime() + (((8 - jan.getUTCDay()) % 7) + 7 * Math.floor(Math.random() * 48)) * 86_400_000);
  const to = new Date(monday.getTime() + 14 * 86_400_000);
  return { from: monday.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** Runs `phi backfill`; `killAfterStarts`: SIGKILL it once it has printed that many `started` lines. */
function backfill(args: readonly string[], killAfterStarts?: number): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PHI, 'backfill', ...args], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (killAfterStarts !== undefined && !killed && (stdout.match(/^started /gm) ?? []).length >= killAfterStarts) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, killed }));
  });
}

/** The most intervals [start, end] that overlap at one instant. */
function maxOverlap(intervals: readonly [number, number][]): number {
  const edges = intervals.flatMap(([s, e]): [number, number][] => [[s, 1], [e, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let active = 0;
  let most = 0;
  for (const [, delta] of edges) most = Math.max(most, (active += delta));
  return most;
}

describe('phi backfill', () => {
  it(`starts ten scheduled runs at most ${MAX} at a time, and resumes after being killed without starting any twice`, async () => {
    const { from, to } = twoRandomWeeks();
    const args = ['market-data', '--from', from, '--to', to, '--max-concurrent', String(MAX)];

    const first = await backfill(args, 4);
    expect(first.killed, first.stderr).toBe(true);
    const startedBefore = (first.stdout.match(/^started /gm) ?? []).length;

    const second = await backfill([...args, '--json']);
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout) as BackfillSummary;
    expect(summary).toMatchObject({ pipelineId: 'market-data', scheduleId: 'default', total: 10, statuses: { SUCCEEDED: 10 } });
    // What the killed one started exists: the second found it rather than starting it again.
    expect(summary.existing).toBeGreaterThanOrEqual(startedBefore);
    expect(summary.created + summary.existing).toBe(10);
    expect(new Set(summary.runs.map((r) => r.runId)).size).toBe(10);
    expect(new Set(summary.runs.map((r) => r.scheduledTime)).size).toBe(10);

    const records: RunRecord[] = await Promise.all(summary.runs.map(async (r) => (await client.getRun(r.runId)).run));
    for (const [i, run] of records.entries()) {
      expect(run).toMatchObject({ status: RunStatus.SUCCEEDED, trigger: 'BACKFILL', scheduledTime: summary.runs[i]!.scheduledTime, scheduleId: 'default' });
      expect(run.startedAt).toBeDefined();
      expect(run.completedAt).toBeDefined();
    }
    // Oldest first, and never more than MAX active, from the records' own times.
    const queued = records.map((r) => Date.parse(r.queuedAt));
    expect(queued).toEqual([...queued].sort((a, b) => a - b));
    expect(maxOverlap(records.map((r) => [Date.parse(r.queuedAt), Date.parse(r.completedAt!)]))).toBeLessThanOrEqual(MAX);
    expect(maxOverlap(records.map((r) => [Date.parse(r.startedAt!), Date.parse(r.completedAt!)]))).toBeLessThanOrEqual(MAX);

    // A third time: nothing new.
    const third = await backfill([...args, '--json']);
    expect(JSON.parse(third.stdout)).toMatchObject({ total: 10, created: 0, existing: 10 });
  }, 900_000);
});

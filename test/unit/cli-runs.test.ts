/**
 * `phi run --dry-run`, `--force`, a run its start rules skipped, and `phi history`, through
 * `main(argv, out, err)` with the deployment's client replaced (no AWS is reached); and the client's
 * history request.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PhiClient } from '../../lib/client/client.ts';
import { ExitCode, main } from '../../lib/cli/main.ts';
import { evaluateStart } from '../../lib/model/start-rules.ts';
import type { DryRunResponse, RunHistoryResponse, RunRecord } from '../../lib/model/contract/index.ts';

async function phi(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (t) => out.push(t), (t) => err.push(t));
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const AT = '2026-05-04T22:30:00.000Z';
const WINDOWS = { windows: [{ start: '06:00', end: '22:00', timezone: 'Europe/London' }] };
const skipDecision = evaluateStart({ trigger: 'API', now: new Date(AT), rules: WINDOWS });
const run = (extra: Partial<RunRecord> = {}): RunRecord => ({ runId: 'daily-sales_m-1', pipelineId: 'daily-sales', status: 'PENDING', trigger: 'API', parameters: {}, queuedAt: AT, transitions: [], ...extra });

/** A client whose calls are recorded, answering as given. */
function fakeClient(answers: { startRun?: unknown; dryRunStart?: DryRunResponse; history?: RunHistoryResponse }) {
  const calls: [string, ...unknown[]][] = [];
  const client = {
    startRun: async (...args: unknown[]) => (calls.push(['startRun', ...args]), answers.startRun),
    dryRunStart: async (...args: unknown[]) => (calls.push(['dryRunStart', ...args]), answers.dryRunStart),
    history: async (...args: unknown[]) => (calls.push(['history', ...args]), answers.history),
  };
  vi.spyOn(PhiClient, 'connect').mockResolvedValue(client as unknown as PhiClient);
  return calls;
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('phi run --dry-run', () => {
  it('prints whether a run would start and every check, exit 1 when it would be skipped, starting nothing', async () => {
    const calls = fakeClient({ dryRunStart: { dryRun: true, pipelineId: 'daily-sales', decision: skipDecision, parameters: { region: 'eu' } } });
    const res = await phi('run', 'daily-sales', '--dry-run', '--param', 'region=eu');
    expect(res.code).toBe(ExitCode.FAILED);
    expect(res.stdout.split('\n')).toEqual([
      'a run of daily-sales would be skipped now: OUTSIDE_WINDOW',
      '  parameters {"region":"eu"}',
      '  PAUSE        SCHEDULER_ENABLED PASSED         the pipeline is not paused',
      '  WINDOW       Rule 17           FAILED         MON 23:30 in Europe/London is outside every window: 06:00–22:00 [Europe/London]',
      '  SCHEDULE     Rule 1            NOT_EVALUATED  not evaluated: the start was refused by an earlier rule (OUTSIDE_WINDOW)',
      '  DEPENDENCIES Rule 2            NOT_EVALUATED  not evaluated: the start was refused by an earlier rule (OUTSIDE_WINDOW)',
      '  CONCURRENCY  Rule 3            NOT_EVALUATED  not evaluated: the start was refused by an earlier rule (OUTSIDE_WINDOW)',
    ]);
    expect(calls).toEqual([['dryRunStart', 'daily-sales', { parameters: { region: 'eu' } }]]);
  });

  it('exits 0 when it would start; --force goes with the request; --json prints the answer', async () => {
    const decision = evaluateStart({ trigger: 'API', now: new Date(AT), rules: WINDOWS, force: true });
    const answer: DryRunResponse = { dryRun: true, pipelineId: 'daily-sales', decision, parameters: {} };
    const calls = fakeClient({ dryRunStart: answer });
    const res = await phi('run', 'daily-sales', '--dry-run', '--force', '--json');
    expect(res.code).toBe(ExitCode.OK);
    expect(JSON.parse(res.stdout)).toEqual(answer);
    expect(calls).toEqual([['dryRunStart', 'daily-sales', { parameters: {}, force: true }]]);
  });
});

describe('phi run: a start its rules refused, and --force', () => {
  it('says the run was recorded SKIPPED and why, exit 1', async () => {
    fakeClient({ startRun: { created: true, run: run({ status: 'SKIPPED', startDecision: skipDecision, completedAt: AT, durationMs: 0 }) } });
    const res = await phi('run', 'daily-sales');
    expect(res.code).toBe(ExitCode.FAILED);
    expect(res.stdout).toBe('recorded run daily-sales_m-1 SKIPPED: skipped OUTSIDE_WINDOW (Rule 17): MON 23:30 in Europe/London is outside every window: 06:00–22:00 [Europe/London]');
  });

  it('sends force: true with --force', async () => {
    const calls = fakeClient({ startRun: { created: true, run: run() } });
    const res = await phi('run', 'daily-sales', '--force');
    expect(res.code).toBe(ExitCode.OK);
    expect(calls).toEqual([['startRun', 'daily-sales', { parameters: {}, force: true }]]);
  });
});

describe('phi history', () => {
  const late = evaluateStart({ trigger: 'SCHEDULE', scheduledTime: '2026-05-04T12:00:00Z', now: new Date('2026-05-04T12:02:00Z') });
  const page: RunHistoryResponse = {
    pipelineId: 'daily-sales',
    runs: [
      run({ runId: 'daily-sales_m-3', status: 'SKIPPED', startDecision: skipDecision, completedAt: AT, durationMs: 0 }),
      run({ runId: 'daily-sales_s-2', status: 'SUCCEEDED', trigger: 'SCHEDULE', queuedAt: '2026-05-04T12:02:00.000Z', durationMs: 61_500, startDecision: late }),
      run({ runId: 'daily-sales_m-1', status: 'FAILED', queuedAt: '2026-05-04T11:00:00.000Z', durationMs: 2000, error: { code: 'EXEC_002_TIMEOUT', message: 'late', jobId: 'load' } }),
    ],
    next: 'eyJ2IjoxfQ',
  };

  it('lists the runs newest first, one a line, with why a run was skipped, late or failed, and how to go on', async () => {
    const calls = fakeClient({ history: page });
    const res = await phi('history', 'daily-sales', '--status', 'SKIPPED', '--trigger', 'API', '--limit', '3', '--next', 'abc');
    expect(res.code).toBe(ExitCode.OK);
    expect(res.stdout.split('\n')).toEqual([
      'daily-sales: 3 run(s), newest first',
      `  ${AT}  SKIPPED    API                  daily-sales_m-3  skipped OUTSIDE_WINDOW (Rule 17): MON 23:30 in Europe/London is outside every window: 06:00–22:00 [Europe/London]`,
      '  2026-05-04T12:02:00.000Z  SUCCEEDED  SCHEDULE     61.5 s  daily-sales_s-2  late: delivered 120 s after its scheduled time 2026-05-04T12:00:00Z: late (tolerance 60 s)',
      '  2026-05-04T11:00:00.000Z  FAILED     API           2.0 s  daily-sales_m-1  EXEC_002_TIMEOUT in load',
      '  more: --next eyJ2IjoxfQ',
    ]);
    expect(calls).toEqual([['history', 'daily-sales', { status: 'SKIPPED', trigger: 'API', limit: 3, next: 'abc' }]]);
  });

  it('prints the page as it came under --json', async () => {
    fakeClient({ history: page });
    expect(JSON.parse((await phi('history', 'daily-sales', '--json')).stdout)).toEqual(page);
  });

  it.each([
    [['history'], 'phi history needs a pipeline id'],
    [['history', 'p', '--status', 'DONE'], '--status is one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, SKIPPED'],
    [['history', 'p', '--trigger', 'CRON'], '--trigger is one of SCHEDULE, API, MANUAL, EVENT, UPSTREAM'],
    [['history', 'p', '--limit', '0'], '--limit is a whole number from 1 to 100'],
    [['history', 'p', '--limit', '2.5'], '--limit is a whole number from 1 to 100'],
  ])('exits 2 with usage for %j, asking nothing', async (argv, message) => {
    const calls = fakeClient({});
    const res = await phi(...argv);
    expect(res.code).toBe(ExitCode.USAGE);
    expect(res.stderr).toContain(`phi: ${message}`);
    expect(calls).toEqual([]);
  });
});

describe('PhiClient: history and dry runs', () => {
  it('sends GET /pipelines/{id}/runs with the query it is given, and POSTs a dry run with dryRun: true', async () => {
    const requests: { url: string; method: string; body?: string }[] = [];
    vi.stubGlobal('fetch', async (url: URL, init: { method: string; body?: string }) => {
      requests.push({ url: String(url), method: init.method, ...(init.body !== undefined ? { body: init.body } : {}) });
      const body = init.method === 'GET' ? { pipelineId: 'daily-sales', runs: [] } : { dryRun: true, pipelineId: 'daily-sales', decision: skipDecision, parameters: {} };
      return new Response(JSON.stringify(body), { status: 200 });
    });
    const client = await PhiClient.connect({ apiUrl: 'https://api.example.com/v1', region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    expect(await client.history('daily-sales', { status: 'SKIPPED', limit: 5 })).toEqual({ pipelineId: 'daily-sales', runs: [] });
    expect(await client.history('daily-sales')).toEqual({ pipelineId: 'daily-sales', runs: [] });
    expect((await client.dryRunStart('daily-sales', { force: true })).decision.reason).toBe('OUTSIDE_WINDOW');
    expect(requests).toEqual([
      { url: 'https://api.example.com/v1/pipelines/daily-sales/runs?status=SKIPPED&limit=5', method: 'GET' },
      { url: 'https://api.example.com/v1/pipelines/daily-sales/runs', method: 'GET' },
      { url: 'https://api.example.com/v1/pipelines/daily-sales/runs', method: 'POST', body: '{"force":true,"dryRun":true}' },
    ]);
  });
});

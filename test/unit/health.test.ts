/**
 * `GET /health` and `phi health`: the pure `computeHealth` (each status and reason, freshness
 * boundaries, error-rate windows), next fire times, what the plan hands the API, the bounded reads
 * (`gatherHealth`), the route, and the CLI's rendering.
 */
import { describe, expect, it } from 'vitest';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { computeHealth, gatherHealth, healthDepsFromEnv, type HealthInputs, type PipelineRecords } from '../../functions/control/health.ts';
import { answer, route, type ApiDeps } from '../../functions/control/api.ts';
import {
  DataFreshness,
  HEALTH_ENV,
  HEALTH_RUNS_PER_PIPELINE,
  HealthReasonCode,
  HealthStatus,
  OrchestrationHealthStatusSchema,
  RunRecordSchema,
  RunStatus,
  TriggerType,
  type OrchestrationHealthStatus,
  type PipelineHealthConfig,
  type RunRecord,
} from '../../lib/model/contract/index.ts';
import { healthConfig, pipelineHealthConfig } from '../../lib/plan/health.ts';
import { nextFireTime } from '../../lib/plan/schedule/next.ts';
import { resolveAlarms } from '../../lib/plan/alarms.ts';
import { compileSchedule, type CompiledSchedule } from '../../lib/plan/schedule/index.ts';
import { formatHealth, runHealth } from '../../lib/cli/health.ts';
import { main } from '../../lib/cli/main.ts';
import { captureLogs, MemoryRecordStore } from './support/memory-store.ts';
import { compilePlan, type LoadedPipeline } from '../../lib/plan/compile.ts';
import { PipelineSchema } from '../../lib/model/pipeline.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { quietCancelDeps } from './support/cancel-deps.ts';

const NOW = new Date('2026-06-05T20:00:00.000Z'); // a Friday, 16:00 in New York (EDT)
const MIN = 60_000;
const HOUR = 60 * MIN;
const ago = (ms: number): string => new Date(NOW.getTime() - ms).toISOString();

let seq = 0;
/** A run of `pipelineId` that ended (or not) `endedAgo` ms before NOW. */
function run(pipelineId: string, status: RunStatus, endedAgo: number, extra: Partial<RunRecord> = {}): RunRecord {
  seq++;
  const ended = status !== RunStatus.PENDING && status !== RunStatus.RUNNING;
  return RunRecordSchema.parse({
    runId: `${pipelineId}_k-${String(seq).padStart(4, '0')}`,
    pipelineId,
    status,
    trigger: TriggerType.API,
    parameters: {},
    queuedAt: ago(endedAgo + 5 * MIN),
    startedAt: status === RunStatus.PENDING ? undefined : ago(endedAgo + 4 * MIN),
    ...(ended ? { completedAt: ago(endedAgo), durationMs: 4 * MIN } : {}),
    transitions: [],
    ...extra,
  });
}
/** Newest first, as the history index answers. */
const newestFirst = (runs: RunRecord[]): RunRecord[] => [...runs].sort((a, b) => (a.queuedAt < b.queuedAt ? 1 : -1));
const readable = (runs: RunRecord[], lastSucceeded?: RunRecord): PipelineRecords => ({ readable: true, runs: newestFirst(runs), ...(lastSucceeded ? { lastSucceeded } : {}) });

function inputs(pipelines: { id: string; runs?: RunRecord[]; records?: PipelineRecords; config?: PipelineHealthConfig }[], deadLetters: HealthInputs['deadLetters'] = { waiting: 0 }): HealthInputs {
  return { pipelines: pipelines.map((p) => ({ pipelineId: p.id, ...(p.config ? { config: p.config } : {}), records: p.records ?? readable(p.runs ?? []) })), deadLetters };
}
/** `n` runs of `p` in the last hour, `failed` of them FAILED, the newest one SUCCEEDED. */
function hourOf(p: string, n: number, failed: number): RunRecord[] {
  return Array.from({ length: n }, (_, i) => run(p, i > 0 && i <= failed ? RunStatus.FAILED : RunStatus.SUCCEEDED, (i + 1) * MIN));
}
const codes = (h: OrchestrationHealthStatus): string[] => h.reasons.map((r) => r.code);

describe('computeHealth: the overall status and its reasons', () => {
  const cases: { name: string; in: HealthInputs; status: HealthStatus; codes: string[] }[] = [
    { name: 'nothing deployed, no dead letters', in: inputs([]), status: HealthStatus.HEALTHY, codes: [] },
    { name: 'every run succeeded', in: inputs([{ id: 'a', runs: hourOf('a', 6, 0) }]), status: HealthStatus.HEALTHY, codes: [] },
    { name: 'dead letters waiting', in: inputs([{ id: 'a', runs: hourOf('a', 2, 0) }], { waiting: 2 }), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.DEAD_LETTERS_WAITING] },
    { name: 'the dead-letter queue unreadable', in: inputs([], { error: 'AccessDenied' }), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.DEAD_LETTER_QUEUE_UNREADABLE] },
    { name: 'a pipeline’s records unreadable', in: inputs([{ id: 'a', records: { readable: false, error: 'ProvisionedThroughputExceededException' } }, { id: 'b', runs: hourOf('b', 1, 0) }]), status: HealthStatus.UNHEALTHY, codes: [HealthReasonCode.RECORDS_UNREADABLE] },
    { name: 'error rate 10% (not above): healthy', in: inputs([{ id: 'a', runs: hourOf('a', 10, 1) }]), status: HealthStatus.HEALTHY, codes: [] },
    { name: 'error rate 20%: degraded', in: inputs([{ id: 'a', runs: hourOf('a', 10, 2) }]), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.ERROR_RATE_HIGH] },
    { name: 'error rate 50% (not above): degraded', in: inputs([{ id: 'a', runs: hourOf('a', 10, 5) }]), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.ERROR_RATE_HIGH] },
    { name: 'error rate 60%: unhealthy', in: inputs([{ id: 'a', runs: hourOf('a', 10, 6) }]), status: HealthStatus.UNHEALTHY, codes: [HealthReasonCode.ERROR_RATE_CRITICAL] },
    { name: 'error rate over every pipeline together', in: inputs([{ id: 'a', runs: hourOf('a', 3, 2) }, { id: 'b', runs: hourOf('b', 3, 0) }]), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.ERROR_RATE_HIGH] },
    { name: 'fewer than 5 ended runs: the rate decides nothing', in: inputs([{ id: 'a', runs: hourOf('a', 4, 3) }]), status: HealthStatus.HEALTHY, codes: [] },
    { name: 'the latest ended run failed', in: inputs([{ id: 'a', runs: [run('a', RunStatus.SUCCEEDED, 2 * HOUR), run('a', RunStatus.FAILED, HOUR + MIN)] }]), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.LAST_RUN_FAILED] },
    { name: 'a failure then a success (a retry): healthy again', in: inputs([{ id: 'a', runs: [run('a', RunStatus.FAILED, 10 * MIN), run('a', RunStatus.SUCCEEDED, 2 * MIN, { trigger: TriggerType.RETRY })] }]), status: HealthStatus.HEALTHY, codes: [] },
    { name: 'stale data', in: inputs([{ id: 'a', runs: [run('a', RunStatus.SUCCEEDED, 7 * HOUR)], config: { maxDataAgeHours: 6 } }]), status: HealthStatus.DEGRADED, codes: [HealthReasonCode.DATA_STALE] },
    {
      name: 'several causes: the worst wins, every reason listed',
      in: inputs([{ id: 'a', runs: [...hourOf('a', 10, 9), run('a', RunStatus.FAILED, MIN / 2)] }, { id: 'b', records: { readable: false, error: 'x' } }], { waiting: 1 }),
      status: HealthStatus.UNHEALTHY,
      codes: [HealthReasonCode.RECORDS_UNREADABLE, HealthReasonCode.ERROR_RATE_CRITICAL, HealthReasonCode.DEAD_LETTERS_WAITING, HealthReasonCode.LAST_RUN_FAILED],
    },
  ];
  it.each(cases)('$name → $status', (c) => {
    const health = computeHealth(c.in, NOW);
    expect(OrchestrationHealthStatusSchema.parse(health)).toStrictEqual(health);
    expect(health.overallStatus).toBe(c.status);
    expect(codes(health)).toStrictEqual(c.codes);
    for (const reason of health.reasons) expect(reason.message.length).toBeGreaterThan(10);
  });

  it('names the pipeline of a per-pipeline reason', () => {
    const health = computeHealth(inputs([{ id: 'a', records: { readable: false, error: 'boom' } }]), NOW);
    expect(health.reasons).toStrictEqual([expect.objectContaining({ code: HealthReasonCode.RECORDS_UNREADABLE, status: HealthStatus.UNHEALTHY, pipelineId: 'a' })]);
    expect(health.components).toStrictEqual({ records: 'UNREADABLE', deadLetterQueue: 'OK' });
    expect(health.pipelines[0]).toMatchObject({ pipelineId: 'a', readable: false, lastRun: null, dataFreshness: DataFreshness.UNKNOWN });
  });
});

describe('computeHealth: error rate and success rate windows', () => {
  it('counts a run in the last hour by when it ended: (now − 1 h, now]', () => {
    const runs = [
      ...hourOf('a', 5, 0),
      run('a', RunStatus.FAILED, HOUR), // exactly an hour ago: out of the hour
      run('a', RunStatus.FAILED, HOUR - 1), // just inside
      run('a', RunStatus.FAILED, 3 * HOUR), // in the day only
      run('a', RunStatus.FAILED, 25 * HOUR), // in neither
    ];
    const health = computeHealth(inputs([{ id: 'a', runs }]), NOW);
    expect(health.endedRuns1h).toBe(6);
    expect(health.errorRate1h).toBeCloseTo(1 / 6);
    expect(health.endedRuns24h).toBe(8);
    expect(health.successRate24h).toBeCloseTo(5 / 8);
    expect(codes(health)).toStrictEqual([HealthReasonCode.ERROR_RATE_HIGH]);
  });

  it('leaves cancelled and skipped runs out of the rates, and says null when no run ended', () => {
    const health = computeHealth(inputs([{ id: 'a', runs: [run('a', RunStatus.CANCELLED, MIN), run('a', RunStatus.SKIPPED, 2 * MIN)] }]), NOW);
    expect([health.errorRate1h, health.successRate24h, health.endedRuns1h]).toStrictEqual([null, null, 0]);
    expect(health.overallStatus).toBe(HealthStatus.HEALTHY);
  });

  it('counts active executions (PENDING and RUNNING) and queued runs (PENDING)', () => {
    const health = computeHealth(inputs([{ id: 'a', runs: [run('a', RunStatus.RUNNING, 0), run('a', RunStatus.PENDING, 0)] }, { id: 'b', runs: [run('b', RunStatus.RUNNING, 0)] }]), NOW);
    expect([health.activeExecutions, health.queuedRuns]).toStrictEqual([3, 1]);
    expect(health.pipelines.map((p) => p.activeExecutions)).toStrictEqual([2, 1]);
  });
});

describe('computeHealth: each pipeline', () => {
  it('reports its newest run, average duration of its succeeded runs, and its own rates', () => {
    const runs = [run('a', RunStatus.SUCCEEDED, 30 * MIN, { durationMs: 1000 }), run('a', RunStatus.SUCCEEDED, 20 * MIN, { durationMs: 3000 }), run('a', RunStatus.FAILED, 10 * MIN, { durationMs: 99_000 }), run('a', RunStatus.RUNNING, 0)];
    const [p] = computeHealth(inputs([{ id: 'a', runs }]), NOW).pipelines;
    expect(p).toMatchObject({ pipelineId: 'a', readable: true, lastRun: { runId: runs[3]!.runId, status: RunStatus.RUNNING, at: runs[3]!.startedAt }, averageDurationMs: 2000, errorRate1h: 1 / 3, successRate24h: 2 / 3, nextScheduledTime: null, dataFreshness: DataFreshness.UNKNOWN });
  });

  const freshness: { name: string; config?: PipelineHealthConfig; runs: () => RunRecord[]; lastSucceeded?: () => RunRecord; want: DataFreshness }[] = [
    { name: 'no maxDataAgeHours', runs: () => [run('a', RunStatus.SUCCEEDED, 100 * HOUR)], want: DataFreshness.UNKNOWN },
    { name: 'no success', config: { maxDataAgeHours: 6 }, runs: () => [run('a', RunStatus.FAILED, MIN)], want: DataFreshness.UNKNOWN },
    { name: 'a success exactly maxDataAgeHours ago', config: { maxDataAgeHours: 6 }, runs: () => [run('a', RunStatus.SUCCEEDED, 6 * HOUR)], want: DataFreshness.FRESH },
    { name: 'a success a millisecond more ago', config: { maxDataAgeHours: 6 }, runs: () => [run('a', RunStatus.SUCCEEDED, 6 * HOUR + 1)], want: DataFreshness.STALE },
    { name: 'the newest success counts, by when it ended', config: { maxDataAgeHours: 6 }, runs: () => [run('a', RunStatus.SUCCEEDED, 10 * HOUR), run('a', RunStatus.SUCCEEDED, HOUR), run('a', RunStatus.FAILED, MIN)], want: DataFreshness.FRESH },
    { name: 'the success read apart (older than the runs read)', config: { maxDataAgeHours: 48 }, runs: () => [run('a', RunStatus.FAILED, MIN)], lastSucceeded: () => run('a', RunStatus.SUCCEEDED, 30 * HOUR), want: DataFreshness.FRESH },
    { name: 'the success read apart, too old', config: { maxDataAgeHours: 24 }, runs: () => [run('a', RunStatus.FAILED, MIN)], lastSucceeded: () => run('a', RunStatus.SUCCEEDED, 30 * HOUR), want: DataFreshness.STALE },
  ];
  it.each(freshness)('data freshness: $name → $want', (c) => {
    const runs = c.runs();
    const health = computeHealth(inputs([{ id: 'a', records: readable(runs, c.lastSucceeded?.()), ...(c.config ? { config: c.config } : {}) }]), NOW);
    expect(health.pipelines[0]!.dataFreshness).toBe(c.want);
    expect(codes(health).includes(HealthReasonCode.DATA_STALE)).toBe(c.want === DataFreshness.STALE);
  });

  it('tells the earliest next fire time of its schedules; a rate counts from its latest scheduled run', () => {
    const config: PipelineHealthConfig = {
      schedules: [
        { id: 'default', cron: '0 19 * * 1-5', timezone: 'America/New_York' },
        { id: 'every-15', rate: '15 minutes' },
      ],
    };
    const scheduled = run('a', RunStatus.SUCCEEDED, 5 * MIN, { trigger: TriggerType.SCHEDULE, scheduleId: 'every-15', scheduledTime: '2026-06-05T19:50:00Z' });
    expect(computeHealth(inputs([{ id: 'a', runs: [scheduled], config }]), NOW).pipelines[0]!.nextScheduledTime).toBe('2026-06-05T20:05:00.000Z');
    // Without a scheduled run the rate's phase is unknown: the cron's 19:00 New York (23:00 UTC).
    expect(computeHealth(inputs([{ id: 'a', runs: [], config }]), NOW).pipelines[0]!.nextScheduledTime).toBe('2026-06-05T23:00:00.000Z');
  });
});

describe('nextFireTime', () => {
  it.each([
    ['a weekday cron in New York, after Friday’s', { id: 'd', cron: '0 19 * * 1-5', timezone: 'America/New_York' }, new Date('2026-06-05T23:30:00Z'), undefined, '2026-06-08T23:00:00.000Z'],
    ['a rate from its anchor', { id: 'r', rate: '1 hour' }, NOW, '2026-06-05T18:30:00Z', '2026-06-05T20:30:00.000Z'],
    ['a rate with no anchor', { id: 'r', rate: '1 hour' }, NOW, undefined, undefined],
    ['a rate whose start is to come: at its start', { id: 'r', rate: '1 hour', startDate: '2026-07-01T00:00:00Z' }, NOW, undefined, '2026-07-01T00:00:00.000Z'],
    ['a schedule whose end has passed', { id: 'c', cron: '* * * * *', endDate: '2026-06-01T00:00:00Z' }, NOW, undefined, undefined],
    ['a one-off time to come', { id: 'o', at: '2026-12-01T09:00', timezone: 'Europe/London' }, NOW, undefined, '2026-12-01T09:00:00.000Z'],
    ['a one-off time past', { id: 'o', at: '2026-01-01T09:00' }, NOW, undefined, undefined],
  ] as const)('%s', (_name, schedule, now, anchor, want) => {
    expect(nextFireTime(schedule, now, anchor)).toBe(want);
  });
});

describe('what the plan hands the control API (PHI_HEALTH)', () => {
  const compiled = (s: Parameters<typeof compileSchedule>[0]): CompiledSchedule => {
    const r = compileSchedule(s, NOW);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.schedule;
  };
  it('keeps the enabled schedules (UTC left out) and maxDataAgeHours, and leaves out a pipeline with neither', () => {
    const pipelines = [
      { id: 'a', schedules: [compiled({ id: 'default', cron: '0 19 * * 1-5', timezone: 'America/New_York' }), compiled({ id: 'off', rate: '5 minutes', enabled: false }), compiled({ id: 'r', rate: '15 minutes', startDate: '2026-01-01T00:00:00Z' })], alarms: resolveAlarms({ maxDataAgeHours: 30 }) },
      { id: 'b', schedules: [], alarms: resolveAlarms(undefined) },
    ];
    expect(healthConfig(pipelines)).toStrictEqual({
      a: { schedules: [{ id: 'default', cron: '0 19 * * 1-5', timezone: 'America/New_York' }, { id: 'r', rate: '15 minutes', startDate: '2026-01-01T00:00:00Z' }], maxDataAgeHours: 30 },
    });
    expect(pipelineHealthConfig(pipelines[1]!)).toBeUndefined();
  });

  it('is read back from the environment, and refused when it is not a health config', () => {
    const { log } = captureLogs({});
    expect(healthDepsFromEnv(log, { PHI_DLQ_URL: 'https://sqs/q', [HEALTH_ENV]: JSON.stringify({ a: { maxDataAgeHours: 2 } }) }).config).toStrictEqual({ a: { maxDataAgeHours: 2 } });
    expect(healthDepsFromEnv(log, { PHI_DLQ_URL: 'https://sqs/q' }).config).toStrictEqual({});
    expect(() => healthDepsFromEnv(log, { PHI_DLQ_URL: 'https://sqs/q', [HEALTH_ENV]: '{"a":{"maxDataAgeHours":0}}' })).toThrow(/CFG_001|PHI_HEALTH/);
    expect(() => healthDepsFromEnv(log, { [HEALTH_ENV]: '{}' })).toThrow(/PHI_DLQ_URL/);
  });
});

/** A store that answers from a fixed list of runs, counting its reads; `broken` pipelines throw. */
function runsStore(runs: RunRecord[], broken: readonly string[] = []) {
  const calls: string[] = [];
  const of = (pipelineId: string): RunRecord[] => {
    if (broken.includes(pipelineId)) throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' });
    return newestFirst(runs.filter((r) => r.pipelineId === pipelineId));
  };
  return {
    calls,
    store: {
      listRuns: async (pipelineId: string, limit: number) => {
        calls.push(`listRuns ${pipelineId} ${limit}`);
        return of(pipelineId).slice(0, limit);
      },
      listRunHistory: async (pipelineId: string, query: { limit: number; status?: RunStatus }) => {
        calls.push(`listRunHistory ${pipelineId} ${query.status} ${query.limit}`);
        return { runs: of(pipelineId).filter((r) => query.status === undefined || r.status === query.status).slice(0, query.limit) };
      },
      getRun: async () => undefined,
      listAttempts: async () => [],
      listJobStates: async () => [],
    },
  };
}

describe('gatherHealth: bounded reads', () => {
  it(`reads each pipeline's newest ${HEALTH_RUNS_PER_PIPELINE} runs, and its last success apart only when it has maxDataAgeHours and none is among them`, async () => {
    const old = run('c', RunStatus.SUCCEEDED, 40 * HOUR);
    const many = Array.from({ length: HEALTH_RUNS_PER_PIPELINE }, (_, i) => run('c', RunStatus.FAILED, i * MIN));
    const { store, calls } = runsStore([run('a', RunStatus.SUCCEEDED, MIN), old, ...many]);
    const config = { a: { maxDataAgeHours: 1 }, c: { maxDataAgeHours: 48 } };
    const got = await gatherHealth(['a', 'b', 'c'], store, { config, deadLetterDepth: async () => 3 });
    expect(calls.sort()).toStrictEqual([`listRunHistory c SUCCEEDED 1`, `listRuns a ${HEALTH_RUNS_PER_PIPELINE}`, `listRuns b ${HEALTH_RUNS_PER_PIPELINE}`, `listRuns c ${HEALTH_RUNS_PER_PIPELINE}`]);
    expect(got.deadLetters).toStrictEqual({ waiting: 3 });
    const c = got.pipelines.find((p) => p.pipelineId === 'c')!;
    expect(c.records.readable && c.records.runs.length).toBe(HEALTH_RUNS_PER_PIPELINE);
    expect(c.records.readable && c.records.lastSucceeded?.runId).toBe(old.runId);
    expect(computeHealth(got, NOW).pipelines.find((p) => p.pipelineId === 'c')!.dataFreshness).toBe(DataFreshness.FRESH);
  });

  it('shows what is paused, per pipeline and overall (one read of the pauses), and unknown (null) when the pauses cannot be read', async () => {
    const { store } = runsStore([run('a', RunStatus.SUCCEEDED, MIN)]);
    const flag = { at: NOW.toISOString(), by: 'arn:aws:iam::123456789012:user/ops' };
    let reads = 0;
    const got = await gatherHealth(['a', 'b', 'constructor'], store, { config: {}, deadLetterDepth: async () => 0 }, async () => (reads++, { pipelines: { b: flag } }));
    expect(reads).toBe(1);
    const health = computeHealth(got, NOW);
    expect(health.paused).toStrictEqual({ all: false, pipelines: ['b'] });
    expect(health.pipelines.map((p) => [p.pipelineId, p.paused])).toStrictEqual([['a', false], ['b', true], ['constructor', false]]);
    // A pause is an operator's decision, not a fault: the status does not change for it.
    expect(health.overallStatus).toBe(HealthStatus.HEALTHY);
    expect(computeHealth(await gatherHealth(['a'], store, { config: {}, deadLetterDepth: async () => 0 }, async () => ({ all: flag, pipelines: {} })), NOW).pipelines[0]!.paused).toBe(true);
    const { log, lines } = captureLogs({});
    const unknown = computeHealth(await gatherHealth(['a'], store, { config: {}, deadLetterDepth: async () => 0, log }, async () => Promise.reject(new Error('AccessDenied'))), NOW);
    expect(unknown.paused).toBeNull();
    expect(unknown.pipelines[0]!.paused).toBeNull();
    expect(lines.map((l) => l.message)).toContain('health: the pauses could not be read');
  });

  it('reports a read that fails instead of throwing, and logs it', async () => {
    const { store } = runsStore([run('a', RunStatus.SUCCEEDED, MIN)], ['b']);
    const { log, lines } = captureLogs({});
    const got = await gatherHealth(['a', 'b'], store, { config: {}, deadLetterDepth: async () => Promise.reject(new Error('AccessDenied')), log });
    expect(got.pipelines.map((p) => p.records.readable)).toStrictEqual([true, false]);
    expect(got.deadLetters).toStrictEqual({ error: 'Error: AccessDenied' });
    expect(lines.map((l) => l.message)).toStrictEqual(expect.arrayContaining(['health: the records could not be read', 'health: the dead-letter queue depth could not be read']));
    expect(computeHealth(got, NOW).overallStatus).toBe(HealthStatus.UNHEALTHY);
  });
});

describe('GET /health', () => {
  function api(runs: RunRecord[], health?: ApiDeps['health']): ApiDeps {
    const { log } = captureLogs({ component: 'control-api' });
    const memory = new MemoryRecordStore();
    const { store } = runsStore(runs);
    const trigger = { store: memory, startExecution: async () => {}, stateMachines: new Map([['b', 'arn:b'], ['a', 'arn:a']]), log, now: () => NOW };
    const cancel = quietCancelDeps(memory, log, () => NOW);
    return { trigger, store, cancel, ...(health ? { health } : {}) };
  }
  const event = { httpMethod: 'GET', resource: '/health', pathParameters: null, body: null } satisfies Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource' | 'pathParameters' | 'body'>;

  it('answers 200 with the health of every deployed pipeline, DEGRADED while a dead letter waits', async () => {
    const deps = api([run('a', RunStatus.FAILED, 2 * MIN), run('b', RunStatus.SUCCEEDED, MIN)], { config: { b: { maxDataAgeHours: 1 } }, deadLetterDepth: async () => 1 });
    const res = await route(event, deps);
    expect(res.statusCode).toBe(200);
    const body = OrchestrationHealthStatusSchema.parse(JSON.parse(res.body));
    expect(body.overallStatus).toBe(HealthStatus.DEGRADED);
    expect(codes(body)).toStrictEqual([HealthReasonCode.DEAD_LETTERS_WAITING, HealthReasonCode.LAST_RUN_FAILED]);
    expect(body.pipelines.map((p) => [p.pipelineId, p.lastRun?.status, p.dataFreshness])).toStrictEqual([['a', RunStatus.FAILED, 'unknown'], ['b', RunStatus.SUCCEEDED, 'fresh']]);
    expect(body.checkedAt).toBe(NOW.toISOString());
  });

  it('answers a coded 500 when the API was given no health check', async () => {
    const res = await answer(event, api([]), captureLogs({}).log);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body).error.code).toBe('API_009_INTERNAL');
  });
});

describe('phi health', () => {
  const health = computeHealth(
    inputs(
      [
        { id: 'market-data', runs: [run('market-data', RunStatus.SUCCEEDED, 30 * MIN, { durationMs: 83_000 }), run('market-data', RunStatus.FAILED, 5 * MIN, { error: { code: 'RATE_LIMITED', message: 'x', jobId: 'extract' } })], config: { maxDataAgeHours: 24, schedules: [{ id: 'default', cron: '0 19 * * 1-5', timezone: 'America/New_York' }] } },
        { id: 'broken', records: { readable: false, error: 'boom' } },
      ],
      { waiting: 1 },
    ),
    NOW,
  );

  it('renders the status, every reason, the rates and each pipeline', () => {
    const text = formatHealth(health);
    expect(text.split('\n')[0]).toBe(`UNHEALTHY (checked ${NOW.toISOString()})`);
    expect(text).toContain('✗ HEALTH_001_RECORDS_UNREADABLE: the records of pipeline broken could not be read: boom');
    expect(text).toContain('! HEALTH_004_DEAD_LETTERS_WAITING: 1 dead letter(s) wait');
    expect(text).toMatch(/! HEALTH_007_LAST_RUN_FAILED: .*\(RATE_LIMITED in job extract\)/);
    expect(text).toContain('error rate 1h 50% of 2 ended; success rate 24h 50% of 2 ended; dead letters waiting 1');
    expect(text).toMatch(/ {2}market-data {2}last FAILED .*\n {4}next 2026-06-05T23:00:00.000Z; data fresh \(max 24 h\); avg 1 min 23 s; active 0; errors 1h 50%; success 24h 50%/);
    expect(text).toContain('  broken  records unreadable');
    expect(text).toContain('paused: unknown (the pauses could not be read)');
  });

  it('marks what is paused', () => {
    const flag = { at: NOW.toISOString(), by: 'ops' };
    const paused = computeHealth({ ...inputs([{ id: 'market-data', runs: [] }, { id: 'etl', runs: [] }]), pauses: { pipelines: { etl: flag } } }, NOW);
    const text = formatHealth(paused);
    expect(text).toContain('paused: etl');
    expect(text).toMatch(/ {2}etl {2}PAUSED {2}no runs/);
    expect(text).not.toMatch(/market-data {2}PAUSED/);
    expect(formatHealth(computeHealth({ ...inputs([{ id: 'etl', runs: [] }]), pauses: { all: flag, pipelines: {} } }, NOW))).toContain('paused: every pipeline (phi pause --all)');
  });

  it('prints JSON with --json, and exits 0 only when HEALTHY', async () => {
    const lines: string[] = [];
    expect(await runHealth({ health: async () => health }, (t) => lines.push(t), true)).toBe(1);
    expect(OrchestrationHealthStatusSchema.parse(JSON.parse(lines[0]!))).toStrictEqual(health);
    const healthy = computeHealth(inputs([]), NOW);
    expect(await runHealth({ health: async () => healthy }, (t) => lines.push(t), false)).toBe(0);
    expect(lines[1]).toContain('HEALTHY');
    expect(lines[1]).toContain('none deployed');
  });

  it('takes no arguments', async () => {
    const err: string[] = [];
    expect(await main(['health', 'extra'], () => {}, (t) => err.push(t))).toBe(2);
    expect(err[0]).toContain('phi health takes no arguments');
  });
});

describe('LIMIT_008: the health schedules count in the environment budget', () => {
  it('refuses a deployment whose schedules alone pass it, and accepts one that fits', () => {
    const loaded = (count: number): LoadedPipeline[] => [
      {
        file: '/defs/many.ts',
        pipeline: PipelineSchema.parse({
          id: 'many',
          schedules: Array.from({ length: count }, (_, i) => ({ id: `schedule-number-${i}`, cron: `${i % 60} ${i % 24} * * 1-5`, timezone: 'America/Argentina/ComodRivadavia' })),
          jobs: { a: { handler: './a.ts' } },
        }),
      },
    ];
    expect(compilePlan(loaded(3), NOW).problems).toStrictEqual([]);
    const problems = compilePlan(loaded(40), NOW).problems;
    expect(problems.map((p) => [p.code, p.pipeline])).toStrictEqual([[ProblemCode.LIMIT_008_RUN_PARAMETERS_SIZE, 'many']]);
    expect(problems[0]!.message).toContain('health schedules');
  });
});

describe('the datasets a pipeline provides, in its health', () => {
  it('are listed with the pipeline’s last success (as fresh as it), also when that success is older than the runs read', async () => {
    const store = new MemoryRecordStore();
    const at = (m: number): string => new Date(Date.UTC(2026, 10, 23, 12, m)).toISOString();
    await store.createRun({ runId: 'prices_1', pipelineId: 'prices', trigger: 'API', parameters: {}, queuedAt: at(0) });
    await store.finishRun('prices_1', { status: RunStatus.SUCCEEDED, at: at(1), jobs: {} });
    for (let i = 0; i < 55; i++) {
      await store.createRun({ runId: `prices_f${i}`, pipelineId: 'prices', trigger: 'API', parameters: {}, queuedAt: at(2 + i) });
      await store.finishRun(`prices_f${i}`, { status: RunStatus.FAILED, at: at(3 + i), jobs: {} });
    }
    const config = { prices: { provides: ['market_data', 'news'] } };
    const inputs = await gatherHealth(['prices'], store, { config, deadLetterDepth: async () => 0 });
    const health = computeHealth(inputs, new Date(at(90)));
    expect(health.pipelines[0]).toMatchObject({ provides: ['market_data', 'news'], lastSucceededAt: at(1) });
    expect(formatHealth(health)).toContain(`provides market_data, news (as of ${at(1)})`);
    expect(pipelineHealthConfig({ schedules: [], alarms: resolveAlarms(undefined), provides: ['market_data'] })).toEqual({ provides: ['market_data'] });
  });
});

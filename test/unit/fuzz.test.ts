/**
 * Fuzzing the boundaries (fast-check, fixed seeds): whatever a definition, an API body or a cron holds,
 * Phi answers with a coded result — a plan or problems with codes, a documented HTTP status with an
 * error code — and never throws. Each property reports how many cases it tried.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { answer, type ApiDeps } from '../../functions/control/api.ts';
import type { TriggerDeps } from '../../functions/control/trigger.ts';
import { parseDefinition } from '../../lib/load/load.ts';
import { ApiErrorCode } from '../../lib/model/contract/index.ts';
import { ProblemCode } from '../../lib/model/problems.ts';
import { compilePlan } from '../../lib/plan/compile.ts';
import { compileSchedule } from '../../lib/plan/schedule/index.ts';
import { captureLogs, clock, MemoryRecordStore } from './support/memory-store.ts';
import { quietCancelDeps } from './support/cancel-deps.ts';

const SEED = 20261123;
const NOW = new Date('2026-11-23T12:00:00Z');
const CODES = new Set<string>(Object.values(ProblemCode));
const API_CODES = new Set<string>(Object.values(ApiErrorCode));
const tried = { definitions: 0, planned: 0, refused: 0, apiRequests: 0, schedules: 0 };

afterAll(() => {
  console.log(`  fuzzed: ${tried.definitions} definitions (${tried.planned} planned, ${tried.refused} compiled to coded problems, the rest refused by the schema), ${tried.apiRequests} API requests, ${tried.schedules} schedules; 0 uncaught exceptions`);
});

/** Mostly `valid`, now and then `odd`: enough valid definitions reach the compiler, enough odd ones the schema. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>): fc.Arbitrary<T | U> => fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: odd });

/** Ids as users write them, and as attackers do: inherited property names, long, odd characters. */
const idArb = mostly(
  fc.oneof(fc.constantFrom('a', 'b', 'c', 'extract', 'load', 'constructor', 'valueof'), fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/)),
  fc.constantFrom('toString', '__proto__', 'hasOwnProperty', 'x'.repeat(41), 'Upper', '', 'a b'),
);
const cronArb = fc.oneof(
  fc.constantFrom('0 19 * * 1-5', '0-59/1 0-23/1 1-31/1 * *', '* * * * *', '0 0 31 2 *', '0 0 * * 0,7', '0 0 L * *', '60 * * * *', '0 0 1 1 1', '', '*/7 */5 1,15 * *', '0 2 * * 0'),
  fc.array(fc.oneof(fc.constantFrom('*', '?', 'L', 'W', '#', '/', '-', ','), fc.integer({ min: -5, max: 70 }).map(String), fc.stringMatching(/^[0-9*\/,-]{1,8}$/)), { minLength: 0, maxLength: 7 }).map((fields) => fields.join(' ')),
  fc.string({ maxLength: 40 }),
);
const scheduleArb = fc.oneof(
  fc.record({ cron: cronArb, timezone: fc.constantFrom(undefined, 'UTC', 'America/New_York', 'Europe/London', 'Mars/Olympus', '') }, { requiredKeys: ['cron'] }),
  fc.record({ rate: fc.oneof(fc.constantFrom('1 minute', '15 minutes', '99999999 days', '0 hours', '1.5 days', '36500 days'), fc.string({ maxLength: 20 })) }),
  fc.record({ at: fc.oneof(fc.constantFrom('2026-12-01T10:00', '2026-02-30T10:00', '2026-03-08T02:30'), fc.string({ maxLength: 20 })), timezone: fc.constantFrom(undefined, 'America/New_York') }, { requiredKeys: ['at'] }),
  fc.anything({ maxDepth: 2 }),
);
const dependencyArb = mostly(
  fc.oneof(idArb, fc.record({ job: idArb, on: fc.constantFrom('SUCCESS', 'COMPLETION', 'DATA_READY'), condition: fc.constantFrom('rows > 0', 'status == "ok"', 'rows >', 'eval("x")'), skipOnUpstreamSkip: fc.boolean() }, { requiredKeys: ['job'] })),
  fc.anything({ maxDepth: 1 }),
);
const jobArb = fc.record(
  {
    handler: mostly(fc.constant('./handlers/a.ts'), fc.constantFrom('../../../etc/hostname', '', 42)),
    dependsOn: fc.array(dependencyArb, { maxLength: 4 }),
    retry: fc.record({ maxAttempts: mostly(fc.integer({ min: 1, max: 10 }), fc.integer({ min: -1, max: 100 })), initialDelaySeconds: fc.integer({ min: 0, max: 4000 }), backoffMultiplier: mostly(fc.double({ min: 1, max: 5, noNaN: true }), fc.double()), maxDelaySeconds: fc.integer({ min: 0, max: 4000 }), jitter: fc.constantFrom('FULL', 'NONE') }, { requiredKeys: [] }),
    timeoutSeconds: mostly(fc.integer({ min: 1, max: 900 }), fc.integer({ min: -1, max: 2000 })),
    memoryMb: mostly(fc.integer({ min: 128, max: 10240 }), fc.integer({ min: 0, max: 20_000 })),
    enabled: mostly(fc.constant(true), fc.boolean()),
    parameters: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }),
  },
  { requiredKeys: ['handler'] },
);
const definitionArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ id: mostly(fc.constant('orders'), idArb), schedule: scheduleArb, parameters: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }), jobs: fc.dictionary(idArb, jobArb, { minKeys: 1, maxKeys: 6 }) }, { requiredKeys: ['id', 'jobs'] }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
);

describe('fuzz: definitions', () => {
  it('gets a plan or coded problems for any definition, never an exception', () => {
    fc.assert(
      fc.property(definitionArb, (exported) => {
        tried.definitions++;
        const parsed = parseDefinition(exported);
        if ('thrown' in parsed || !parsed.success) return;
        const { plan, problems } = compilePlan([{ file: '/defs/p.ts', pipeline: parsed.data }], NOW);
        for (const problem of problems) expect(CODES.has(problem.code)).toBe(true);
        expect(plan.pipelines.length + (problems.length > 0 ? 1 : 0)).toBeGreaterThanOrEqual(1);
        if (plan.pipelines.length > 0) tried.planned++;
        else tried.refused++;
      }),
      { seed: SEED, numRuns: 3_000 },
    );
  }, 60_000);
});

describe('fuzz: schedules', () => {
  it('translates any cron, rate or at exactly or refuses it with a code, never an exception', () => {
    fc.assert(
      fc.property(scheduleArb, (schedule) => {
        tried.schedules++;
        if (typeof schedule !== 'object' || schedule === null || Array.isArray(schedule)) return;
        const result = compileSchedule(schedule as Parameters<typeof compileSchedule>[0], NOW);
        if (result.ok) {
          expect(result.schedule.expression.length).toBeLessThanOrEqual(256);
          expect(result.schedule.next.every((t) => !Number.isNaN(Date.parse(t)))).toBe(true);
        } else {
          for (const problem of result.problems) expect(CODES.has(problem.code)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1_500 },
    );
  }, 60_000);
});

describe('fuzz: the control API', () => {
  const store = new MemoryRecordStore();
  const { log } = captureLogs({ component: 'control-api' });
  const trigger: TriggerDeps = {
    store,
    startExecution: async () => {},
    stateMachines: new Map([['orders', 'arn:aws:states:us-east-1:123456789012:stateMachine:phi-orders']]),
    log,
    now: clock('2026-11-23T12:00:00.000Z'),
  };
  const cancel = quietCancelDeps(store, log);
  const deps: ApiDeps = { trigger, store, cancel };
  const bodyArb = fc.oneof(
    fc.json({ maxDepth: 4 }),
    fc.string({ maxLength: 200 }),
    fc.record({ parameters: fc.anything({ maxDepth: 4 }), idempotencyKey: fc.anything({ maxDepth: 1 }), job: fc.anything({ maxDepth: 1 }), scope: fc.constantFrom('JOB', 'ALL_DOWNSTREAM', 'NOPE', 1), reason: fc.string({ maxLength: 300 }) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
    fc.integer({ min: 30, max: 5_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
    fc.constant(null),
  );
  const requestArb = fc.record({
    route: fc.constantFrom('POST /pipelines/{id}/runs', 'GET /runs/{runId}', 'POST /runs/{runId}/cancel', 'GET /pipelines/{id}/durations', 'DELETE /runs/{runId}'),
    id: fc.oneof(fc.constantFrom('orders', 'nope', 'k-1', 'k-00000000000000000000000000000000', ''), fc.string({ maxLength: 3_000 }), fc.stringMatching(/^[a-z]-[a-z0-9]{1,30}$/)),
    body: bodyArb,
    runs: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 5 })),
  });
  const STATUSES = new Set([200, 201, 400, 404, 409, 503]);

  it('answers every request with a documented status and, for an error, a stable code; never an exception or a 5xx of its own', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        tried.apiRequests++;
        const [httpMethod, resource] = r.route.split(' ') as [string, string];
        const event = { httpMethod, resource, pathParameters: resource.includes('{id}') ? { id: r.id } : { runId: r.id }, body: r.body, queryStringParameters: r.runs === undefined ? null : { runs: r.runs }, requestContext: { requestId: 'fuzz' } as APIGatewayProxyEvent['requestContext'] };
        const res = await answer(event, deps, log);
        expect(STATUSES.has(res.statusCode)).toBe(true);
        const body = JSON.parse(res.body) as { error?: { code: string } };
        if (res.statusCode >= 400) expect(API_CODES.has(body.error?.code ?? '')).toBe(true);
      }),
      { seed: SEED, numRuns: 1_500 },
    );
  }, 60_000);
});

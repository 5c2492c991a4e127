/**
 * The CLI through `main(argv, out, err)`, output captured: the offline commands (validate, plan, graph),
 * and how `run` handles bad input and errors with the deployment's client replaced (no AWS is reached).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PhiClient } from '../../lib/client/client.ts';
import { ApiError } from '../../lib/client/errors.ts';
import { ExitCode, main } from '../../lib/cli/main.ts';
import { removeDefinitionDirs, writeDefinitionDir } from './support/temp-definitions.ts';

const DEFINITIONS_DIR = fileURLToPath(new URL('../../definitions/', import.meta.url));

afterAll(removeDefinitionDirs);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function phi(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (t) => out.push(t), (t) => err.push(t));
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** Parses JSON output, typed as the shape the test then checks. */
const parse = <T>(text: string): T => JSON.parse(text) as T;

interface ValidateJson {
  valid: boolean;
  pipelines: string[];
  problems: { code: string; pipeline?: string; job?: string; file?: string; path: string; message: string; hint: string; cyclePath?: string[] }[];
}

interface PlanJson {
  generatedAt: string;
  problems: unknown[];
  pipelines: {
    id: string;
    schedules: { source: string; expression: string; timezone: string; next: string[] }[];
    jobs: { id: string; dependsOn: string[]; layer: number }[];
    layers: string[][];
    criticalPath: string[];
    estimates: { definitionBytes: number; historyEvents: { expected: number; worstCase: number }; stateTransitions: number; stackResources: number; criticalPathSeconds: number };
  }[];
}

/** A directory with one broken pipeline: a missing upstream and a cycle. */
let badDir: string;
beforeAll(() => {
  badDir = writeDefinitionDir({
    definitions: {
      'broken.ts': {
        id: 'broken',
        jobs: {
          a: { handler: './handlers/task.ts', dependsOn: ['ghost'] },
          b: { handler: './handlers/task.ts', dependsOn: ['c'] },
          c: { handler: './handlers/task.ts', dependsOn: ['b'] },
        },
      },
    },
    handlers: ['handlers/task.ts'],
  });
});

describe('phi validate', () => {
  it('exits 0 and names the pipelines when the shipped definitions are valid', async () => {
    const run = await phi('validate', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toBe('✓ 4 pipeline(s) valid: dag-drill, etl-fanout, failure-drill, market-data');
  });

  it('--json exits 1 and lists every problem with code, pipeline, job, path, message and hint', async () => {
    const run = await phi('validate', '--definitions', badDir, '--json');
    expect(run.code).toBe(ExitCode.FAILED);
    const json = parse<ValidateJson>(run.stdout);
    expect(json.valid).toBe(false);
    expect(json.pipelines).toStrictEqual([]);
    expect(json.problems.map((p) => [p.code, p.pipeline, p.job, p.path])).toStrictEqual([
      ['DEP_001_MISSING_UPSTREAM', 'broken', 'a', 'jobs.a.dependsOn[0]'],
      ['DEP_002_CYCLE_DETECTED', 'broken', 'b', 'jobs.b.dependsOn'],
    ]);
    for (const problem of json.problems) {
      expect(problem.message).not.toBe('');
      expect(problem.hint).not.toBe('');
    }
    expect(json.problems[1]?.cyclePath).toStrictEqual(['b', 'c', 'b']);
  });

  it('without --json exits 1 and prints each problem with its hint and cycle', async () => {
    const run = await phi('validate', '--definitions', badDir);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stdout).toContain('✗ 2 problem(s):');
    expect(run.stdout).toContain('DEP_001_MISSING_UPSTREAM  broken / job a  at jobs.a.dependsOn[0]');
    expect(run.stdout).toContain('cycle: b → c → b');
    expect(run.stdout).toContain('hint: ');
  });
});

describe('phi plan', () => {
  it('--json lists schedules, jobs with layers, layers, critical path and estimates per pipeline', async () => {
    const run = await phi('plan', '--definitions', DEFINITIONS_DIR, '--json');
    expect(run.code).toBe(ExitCode.OK);
    const json = parse<PlanJson>(run.stdout);
    expect(json.problems).toStrictEqual([]);
    expect(json.pipelines.map((p) => p.id)).toStrictEqual(['dag-drill', 'etl-fanout', 'failure-drill', 'market-data']);

    const market = json.pipelines.find((p) => p.id === 'market-data');
    expect(market?.schedules).toHaveLength(1);
    expect(market?.schedules[0]).toMatchObject({ source: 'cron: 0 19 * * 1-5', expression: 'cron(0 19 ? * MON-FRI *)', timezone: 'America/New_York' });
    expect(market?.schedules[0]?.next).toHaveLength(5);
    for (const t of market?.schedules[0]?.next ?? []) expect(t).toMatch(/^\d{4}-\d{2}-\d{2}T19:00:00-0[45]:00$/);

    const etl = json.pipelines.find((p) => p.id === 'etl-fanout');
    expect(etl?.jobs.map((j) => ({ id: j.id, dependsOn: j.dependsOn, layer: j.layer }))).toStrictEqual([
      { id: 'ingest', dependsOn: [], layer: 0 },
      { id: 'publish', dependsOn: ['transform-clean', 'transform-enrich', 'transform-aggregate'], layer: 2 },
      { id: 'transform-aggregate', dependsOn: ['ingest'], layer: 1 },
      { id: 'transform-clean', dependsOn: ['ingest'], layer: 1 },
      { id: 'transform-enrich', dependsOn: ['ingest'], layer: 1 },
    ]);
    expect(etl?.layers).toStrictEqual([['ingest'], ['transform-aggregate', 'transform-clean', 'transform-enrich'], ['publish']]);
    expect(etl?.criticalPath).toStrictEqual(['ingest', 'transform-aggregate', 'publish']);
    expect(etl?.estimates).toStrictEqual({
      definitionBytes: expect.any(Number),
      historyEvents: { run: 20, perJob: { expected: 15, worstCase: 33 } },
      stateTransitions: { perRun: 19, perJob: 2.8 },
      payloadBytes: expect.any(Number),
      runRecordBytes: expect.any(Number),
      stackResources: 22,
      criticalPathSeconds: 180,
      // three jobs in a row, each 2 × (60 + 30) s with a 10 s delay between
      worstCaseRunSeconds: 3 * 190,
    });
    expect(json.pipelines.find((p) => p.id === 'failure-drill')?.schedules).toStrictEqual([]);
  });

  it('prints a readable plan without --json', async () => {
    const run = await phi('plan', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toContain('schedule default: cron: 0 19 * * 1-5  →  cron(0 19 ? * MON-FRI *)  [America/New_York]');
    expect(run.stdout).toContain('layer 2: transform-aggregate, transform-clean, transform-enrich');
    expect(run.stdout).toContain('critical path: ingest → transform-aggregate → publish');
    expect(run.stdout).toContain('schedule: none (runs when started)');
  });

  it('exits 1 and includes the problems when a definition is broken', async () => {
    const run = await phi('plan', '--definitions', badDir, '--json');
    expect(run.code).toBe(ExitCode.FAILED);
    expect(parse<{ problems: { code: string }[] }>(run.stdout).problems.map((p) => p.code)).toStrictEqual(['DEP_001_MISSING_UPSTREAM', 'DEP_002_CYCLE_DETECTED']);
  });
});

describe('phi graph', () => {
  const etlEdges: readonly [string, string][] = [
    ['ingest', 'transform-aggregate'],
    ['ingest', 'transform-clean'],
    ['ingest', 'transform-enrich'],
    ['transform-aggregate', 'publish'],
    ['transform-clean', 'publish'],
    ['transform-enrich', 'publish'],
  ];

  it('--format mermaid draws every dependency edge between labelled nodes and marks the critical path', async () => {
    const run = await phi('graph', 'etl-fanout', '--format', 'mermaid', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.OK);
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 2)).toStrictEqual(['%% etl-fanout', 'graph LR']);
    // Node ids are j0, j1, …; map them back to job ids through their labels.
    const label = new Map<string, string>();
    for (const line of lines) {
      const node = /^\s+(j\d+)\["([^"]+)"\]$/.exec(line);
      if (node) label.set(node[1]!, node[2]!);
    }
    expect([...label.values()].sort()).toStrictEqual(['ingest', 'publish', 'transform-aggregate', 'transform-clean', 'transform-enrich']);
    const edges = lines.flatMap((line) => {
      const edge = /^\s+(j\d+) --> (j\d+)$/.exec(line);
      return edge ? [[label.get(edge[1]!), label.get(edge[2]!)]] : [];
    });
    expect(edges.sort()).toStrictEqual([...etlEdges].sort());
    const critical = /^\s+class (\S+) critical$/.exec(lines.at(-1) ?? '');
    expect(critical?.[1]?.split(',').map((id) => label.get(id))).toStrictEqual(['ingest', 'transform-aggregate', 'publish']);
  });

  it('--format dot draws every dependency edge and thickens the critical path', async () => {
    const run = await phi('graph', 'etl-fanout', '--format', 'dot', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout.startsWith('digraph "etl-fanout" {')).toBe(true);
    expect(run.stdout.endsWith('}')).toBe(true);
    for (const [from, to] of etlEdges) expect(run.stdout).toContain(`  "${from}" -> "${to}";`);
    expect(run.stdout.match(/ -> /g)).toHaveLength(etlEdges.length);
    expect(run.stdout).toContain('"transform-aggregate" [penwidth=3];');
    expect(run.stdout).toContain('  "transform-clean";');
  });

  it('--format ascii lists the layers with each job’s upstream jobs, starring the critical path', async () => {
    const run = await phi('graph', 'etl-fanout', '--format', 'ascii', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.OK);
    // Trailing padding (job ids are padded to the longest id) is not part of the contract.
    expect(run.stdout.split('\n').map((line) => line.trimEnd())).toStrictEqual([
      'etl-fanout  (5 jobs, 3 layers; * critical path)',
      'layer 1',
      '  * ingest',
      'layer 2',
      '  * transform-aggregate  <- ingest',
      '    transform-clean      <- ingest',
      '    transform-enrich     <- ingest',
      'layer 3',
      '  * publish              <- transform-aggregate, transform-clean, transform-enrich',
    ]);
  });

  it('defaults to ascii', async () => {
    const run = await phi('graph', 'etl-fanout', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout.split('\n')[0]).toBe('etl-fanout  (5 jobs, 3 layers; * critical path)');
  });

  it('exits 1 for an unknown pipeline, listing the known ones', async () => {
    const run = await phi('graph', 'no-such-pipeline', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('no pipeline "no-such-pipeline"; pipelines: dag-drill, etl-fanout, failure-drill, market-data');
  });

  it('exits 1 with the pipeline’s own problems when it does not compile', async () => {
    const run = await phi('graph', 'broken', '--definitions', badDir);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stderr).toContain('DEP_002_CYCLE_DETECTED');
  });

  it('exits 2 with usage for a format it does not know', async () => {
    const run = await phi('graph', 'etl-fanout', '--format', 'svg', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--format is one of mermaid, dot, ascii');
  });

  it('exits 2 without a pipeline id', async () => {
    const run = await phi('graph', '--definitions', DEFINITIONS_DIR);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toContain('phi graph needs a pipeline id');
  });
});

describe('usage', () => {
  it('exits 2 for an unknown command or option, and with no command at all', async () => {
    expect((await phi('deploy')).code).toBe(ExitCode.USAGE);
    expect((await phi('validate', '--definitions', DEFINITIONS_DIR, '--verbose')).code).toBe(ExitCode.USAGE);
    const bare = await phi();
    expect(bare.code).toBe(ExitCode.USAGE);
    expect(bare.stdout).toContain('phi validate');
  });

  it('exits 0 with usage for help', async () => {
    const run = await phi('help');
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toContain('phi graph <pipeline>');
  });
});

describe('phi run: bad input and errors', () => {
  /** A client that records what it is asked and starts nothing. */
  function fakeClient(startRun: PhiClient['startRun'] = async () => {
    throw new Error('startRun must not be called');
  }) {
    const calls: unknown[][] = [];
    const client = {
      startRun: async (...args: Parameters<PhiClient['startRun']>) => {
        calls.push(args);
        return startRun(...args);
      },
    };
    vi.spyOn(PhiClient, 'connect').mockResolvedValue(client as unknown as PhiClient);
    return calls;
  }

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it.each(['{"date": ', 'not json', "{'date': 1}"])('exits 2 with usage for --params that is not JSON (%s), starting nothing', async (params) => {
    const calls = fakeClient();
    const run = await phi('run', 'daily-sales', '--params', params);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^phi: --params is not JSON: /);
    expect(run.stderr).toContain('phi run <pipeline>');
    expect(calls).toEqual([]);
  });

  it.each([
    ['null', 'null'],
    ['[1,2]', 'an array'],
    ['42', 'number'],
    ['"date"', 'string'],
  ])('exits 2 with usage for --params that is JSON but not an object (%s), starting nothing', async (params, said) => {
    const calls = fakeClient();
    const run = await phi('run', 'daily-sales', '--params', params);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toMatch(new RegExp(`^phi: --params takes a JSON object of parameters, got ${said}`));
    expect(calls).toEqual([]);
  });

  it('says what failed as JSON under --json: a usage error, and a failure of the deployment', async () => {
    fakeClient();
    const usage = await phi('run', 'daily-sales', '--params', 'null', '--json');
    expect(usage.code).toBe(ExitCode.USAGE);
    expect(usage.stdout).toBe('');
    expect(JSON.parse(usage.stderr)).toEqual({ error: { code: 'CLI_000_USAGE', message: '--params takes a JSON object of parameters, got null' } });
    vi.restoreAllMocks();
    fakeClient(async () => {
      throw new ApiError(404, 'API_003_PIPELINE_NOT_FOUND', 'no pipeline "nope" is deployed', {});
    });
    const missing = await phi('run', 'nope', '--json');
    expect(missing.code).toBe(ExitCode.FAILED);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: 'API_003_PIPELINE_NOT_FOUND', message: '404 API_003_PIPELINE_NOT_FOUND: no pipeline "nope" is deployed' } });
  });

  it('lists each issue of a 400 API_011_INVALID_PARAMETERS: one line each, or in the JSON error under --json', async () => {
    const issues = [
      { path: 'lookbackDays', message: 'must be integer', code: 'type' },
      { path: 'colour', message: 'is not a run parameter of this pipeline; it declares: symbols, lookbackDays', code: 'unknown_parameter' },
    ];
    const refuse = async (): Promise<never> => {
      throw new ApiError(400, 'API_011_INVALID_PARAMETERS', 'the parameters are not what pipeline "market-data" allows a run to set (its runParameters)', { error: { code: 'API_011_INVALID_PARAMETERS', message: '…', issues } });
    };
    fakeClient(refuse);
    const run = await phi('run', 'market-data', '--param', 'lookbackDays=thirty', '--param', 'colour=blue');
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      [
        'phi: 400 API_011_INVALID_PARAMETERS: the parameters are not what pipeline "market-data" allows a run to set (its runParameters)',
        '  lookbackDays: must be integer',
        '  colour: is not a run parameter of this pipeline; it declares: symbols, lookbackDays',
      ].join('\n'),
    );
    vi.restoreAllMocks();
    fakeClient(refuse);
    const json = await phi('run', 'market-data', '--param', 'lookbackDays=thirty', '--json');
    expect(json.code).toBe(ExitCode.FAILED);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'API_011_INVALID_PARAMETERS', message: '400 API_011_INVALID_PARAMETERS: the parameters are not what pipeline "market-data" allows a run to set (its runParameters)', issues } });
  });

  it('sends --params merged with --param pairs (a pair’s JSON value parsed, else kept as text)', async () => {
    const calls = fakeClient(async () => ({
      created: true,
      run: { runId: 'k-1', pipelineId: 'daily-sales', status: 'PENDING', trigger: 'API', parameters: {}, queuedAt: '2024-05-01T10:00:00.000Z', transitions: [] },
    }));
    const run = await phi('run', 'daily-sales', '--params', '{"date":"2024-04-30","limit":1}', '--param', 'limit=5', '--param', 'region=eu-west-1', '--idempotency-key', 'k');
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toBe('started run k-1 (PENDING)');
    expect(calls).toEqual([['daily-sales', { parameters: { date: '2024-04-30', limit: 5, region: 'eu-west-1' }, idempotencyKey: 'k' }]]);
  });

  it('exits 2 printing "phi: <message>" and no stack trace for any other error (credentials, network, no deployment)', async () => {
    vi.stubEnv('PHI_DEBUG', '');
    vi.spyOn(PhiClient, 'connect').mockRejectedValue(new Error('stack PhiPlatform has no ApiUrl output: is Phi deployed in this account and region?'));
    const run = await phi('run', 'daily-sales');
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('phi: stack PhiPlatform has no ApiUrl output: is Phi deployed in this account and region?');
  });

  it('says what failed for a status request too', async () => {
    vi.stubEnv('PHI_DEBUG', '');
    vi.spyOn(PhiClient, 'connect').mockRejectedValue(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const run = await phi('status', 'k-1');
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.stderr).toBe('phi: Could not load credentials from any providers');
  });

  it('rethrows the error, stack and all, when PHI_DEBUG is set', async () => {
    vi.stubEnv('PHI_DEBUG', '1');
    const failure = new Error('connect ECONNREFUSED 127.0.0.1:4566');
    vi.spyOn(PhiClient, 'connect').mockRejectedValue(failure);
    await expect(phi('run', 'daily-sales')).rejects.toBe(failure);
  });
});

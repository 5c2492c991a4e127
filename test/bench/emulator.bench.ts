/**
 * `npm run bench:emulator`: how close Phi's exact-DAG execution comes to the critical path on the local
 * emulator, against a bare state machine of Lambda-invoke states doing the same sleeps (the emulator's
 * floor, and how Phi compiled pipelines before: one Parallel state per execution layer). Figures and
 * ratios to their targets (ratio < 1 meets the target), never assertions: it exits non-zero only when
 * something cannot run, saying why.
 *   - makespan ÷ critical path, Phi                                              ≤ 1.05
 *   - Phi's overhead above the bare machine, per job on the critical path         < 25 ms
 *   - state transitions per job (the plan's estimate)                             ≤ 3
 * Every job sleeps PHI_BENCH_SLEEP_MS (default 5,000 ms); each DAG runs once to warm up, then is measured
 * (PHI_BENCH_RUNS times, default 3 (PHI_BENCH_ONLY=fan,nsp measures only those DAGs): the median is shown; one run alone often meets the emulator growing its
 * pool of Lambda workers, a cold start a steady state does not have). Uses the emulator at AWS_ENDPOINT_URL, or the
 * one on 127.0.0.1:4566, or starts MiniStack there (and stops it at the end). Deploying replaces the
 * pipelines the emulator's Phi platform knew with the benchmark's.
 */
import { CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { iam, putInlinePolicy, xmlValues } from '../../lib/local/iam.ts';
import { CreateStateMachineCommand, DeleteStateMachineCommand, DescribeExecutionCommand, SFNClient, StartExecutionCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhiClient } from '../../lib/client/client.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { deployLocal, emulatorEnv, startEmulator, stopEmulator, type EmulatorHandle } from '../../lib/local/emulator.ts';
import type { RunView } from '../../lib/model/contract/index.ts';
import { criticalPath, executionLayers, type GraphNode } from '../../lib/plan/graph.ts';
import { randomDag, writeGeneratedPipeline, type GeneratedJob } from '../support/generated-pipeline.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BENCH_DIR = path.join(ROOT, '.phi', 'bench');
/** The longest any one wait (a run, an execution, a function becoming active) may take. */
const WAIT_TIMEOUT_MS = 10 * 60_000;
const TARGET_RATIO = 1.05;
const TARGET_OVERHEAD_MS = 25;
const TARGET_TRANSITIONS = 3;

class BenchError extends Error {}

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new BenchError(`${name}=${raw} is not a positive whole number`);
  return value;
}

const log = (line: string): void => console.log(`[bench] ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---------------------------------------------------------------------------------------------------
// The DAGs

interface BenchDag {
  /** The pipeline id (and the bare state machine's name suffix). */
  readonly id: string;
  readonly label: string;
  readonly jobs: readonly GeneratedJob[];
  /** Per-job sleeps; every job not named sleeps `'*'`. */
  readonly sleepMs: (sleep: number) => Record<string, number>;
  /** Whether to run it once before measuring (a DAG that only changes sleeps shares the warm pipeline). */
  readonly warmUp: boolean;
  /** The pipeline it runs on, when it is another DAG's with other sleeps. */
  readonly pipelineId?: string;
}

const job = (id: string, dependsOn: string[] = []): GeneratedJob => ({ id, dependsOn, handler: 0 });
const chain = Array.from({ length: 5 }, (_, i) => job(`c${i}`, i > 0 ? [`c${i - 1}`] : []));
const fanMiddle = Array.from({ length: 18 }, (_, i) => `m${String(i).padStart(2, '0')}`);
const fan = [job('root'), ...fanMiddle.map((id) => job(id, ['root'])), job('sink', fanMiddle)];
const nsp = [job('a'), job('b'), job('c', ['a', 'b']), job('d', ['b'])];
const random = randomDag(30, 2, 1).map((j) => ({ ...j, handler: 0 }));

/** `PHI_BENCH_ONLY=fan,nsp`: measure only the DAGs whose id holds one of these (all are deployed). */
const selected = (dag: { id: string }): boolean => {
  const only = (process.env.PHI_BENCH_ONLY ?? '').split(',').filter(Boolean);
  return only.length === 0 || only.some((part) => dag.id.includes(part));
};

const DAGS: readonly BenchDag[] = [
  { id: 'bench-chain-5', label: 'chain of 5', jobs: chain, sleepMs: (s) => ({ '*': s }), warmUp: true },
  { id: 'bench-fan-20', label: 'fan-out/fan-in 1 → 18 → 1', jobs: fan, sleepMs: (s) => ({ '*': s }), warmUp: true },
  { id: 'bench-nsp-4', label: 'non-series-parallel a→c b→c b→d', jobs: nsp, sleepMs: (s) => ({ '*': s }), warmUp: true },
  // The same DAG with the sleeps of the e2e drill (a and d long, b and c short): the only one here where
  // layer by layer (d waits for a) is slower than the critical path; with equal sleeps they are equal.
  { id: 'bench-nsp-4-skewed', pipelineId: 'bench-nsp-4', label: 'the same, b and c sleep ¼', jobs: nsp, sleepMs: (s) => ({ '*': s, b: Math.round(s / 4), c: Math.round(s / 4) }), warmUp: false },
  { id: 'bench-random-30', label: 'randomDag(30, 2, 1)', jobs: random, sleepMs: (s) => ({ '*': s }), warmUp: true },
];

const graphOf = (jobs: readonly GeneratedJob[], sleeps: Record<string, number>): GraphNode[] => jobs.map((j) => ({ id: j.id, dependsOn: j.dependsOn, weight: sleeps[j.id] ?? sleeps['*'] ?? 0 }));

// ---------------------------------------------------------------------------------------------------
// The bare machine: one Lambda function that sleeps `ms`, state machines made only of invokes of it

/** A zip archive of stored (uncompressed) files: all a Lambda deployment package needs. */
function zipStored(files: Record<string, string>): Uint8Array {
  const table = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (data: Buffer): number => {
    let c = 0xffffffff;
    for (const byte of data) c = table[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.from(text, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x031e, 4); // made by: Unix, 3.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, centralDir, end]));
}

const SLEEPER_SOURCE = 'export const handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return {}; };\n';

/** The layered machine: a Task per single-job layer, a Parallel of one Task per job for the others. */
function layeredDefinition(dag: BenchDag, functionArn: string, sleep: number): { definition: string; layers: string[][] } {
  const sleeps = dag.sleepMs(sleep);
  const layers = executionLayers(graphOf(dag.jobs, sleeps));
  const task = (id: string, next: Record<string, unknown>): Record<string, unknown> => ({
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: functionArn, Payload: { ms: sleeps[id] ?? sleeps['*'] ?? 0 } },
    ResultPath: null,
    ...next,
  });
  const name = (i: number): string => `layer ${i}`;
  const states: Record<string, unknown> = {};
  layers.forEach((layer, i) => {
    const next = i + 1 < layers.length ? { Next: name(i + 1) } : { End: true };
    states[name(i)] =
      layer.length === 1
        ? task(layer[0]!, next)
        : { Type: 'Parallel', Branches: layer.map((id) => ({ StartAt: id, States: { [id]: task(id, { End: true }) } })), ResultPath: null, ...next };
  });
  return { definition: JSON.stringify({ Comment: `bare layered ${dag.id}`, StartAt: name(0), States: states }), layers };
}

/** Polls an execution until it has stopped; answers its duration (stopDate − startDate). */
async function executionDuration(sfn: SFNClient, executionArn: string): Promise<{ ms: number; status: string; description: DescribeExecutionCommandOutput }> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (description.status !== 'RUNNING' && description.stopDate && description.startDate) {
      return { ms: description.stopDate.getTime() - description.startDate.getTime(), status: description.status ?? '?', description };
    }
    if (Date.now() > deadline) throw new BenchError(`execution ${executionArn} is still ${description.status} after ${WAIT_TIMEOUT_MS / 60_000} minutes`);
    await sleep(250);
  }
}

async function runBare(sfn: SFNClient, stateMachineArn: string): Promise<number> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: '{}' }));
  if (!executionArn) throw new BenchError(`StartExecution of ${stateMachineArn} answered no execution ARN`);
  const { ms, status, description } = await executionDuration(sfn, executionArn);
  if (status !== 'SUCCEEDED') throw new BenchError(`the bare execution ${executionArn} ended ${status}: ${description.error ?? ''} ${description.cause ?? ''}`);
  return ms;
}

interface PhiRun {
  /** The execution's stopDate − startDate. */
  readonly executionMs: number;
  /** The run record's durationMs (run started → run finished, as the recorder saw them). */
  readonly recordMs: number;
  /** For each job with upstreams: its attempt's start − the last of its upstreams' completion. */
  readonly handoffsMs: number[];
  /** The execution's start → the first job's attempt start. */
  readonly startMs: number;
  /** The last job's attempt end → the execution's stop. */
  readonly tailMs: number;
  /** For each job: its attempt's duration − its sleep (the runtime's work within the attempt). */
  readonly inJobMs: number[];
}

async function runPhi(client: PhiClient, sfn: SFNClient, dag: BenchDag, sleep: number): Promise<PhiRun> {
  const pipelineId = dag.pipelineId ?? dag.id;
  const { run } = await client.startRun(pipelineId, { parameters: { sleepMs: dag.sleepMs(sleep) } }).catch((err: unknown) => {
    // Deploying replaces the platform's pipelines: another process deploying to the same emulator takes ours away.
    throw new BenchError(`starting a run of ${pipelineId} failed (${(err as Error).message}); did another process deploy to the same emulator meanwhile? Run the bench on an emulator of its own (AWS_ENDPOINT_URL)`);
  });
  const view: RunView = await client.waitForRun(run.runId, { timeoutMs: WAIT_TIMEOUT_MS, intervalMs: 500 });
  if (view.run.status !== 'SUCCEEDED') throw new BenchError(`run ${run.runId} of ${pipelineId} ended ${view.run.status}: ${JSON.stringify(view.run.error ?? view.run.jobs)}`);
  if (!view.run.executionArn) throw new BenchError(`run ${run.runId} of ${pipelineId} has no execution ARN in its record`);
  if (view.run.durationMs === undefined) throw new BenchError(`run ${run.runId} of ${pipelineId} has no durationMs in its record`);
  const execution = await executionDuration(sfn, view.run.executionArn);
  const attempt = (id: string) => {
    const found = view.jobs[id]?.attempts[0];
    if (!found) throw new BenchError(`run ${run.runId}: job ${id} has no attempt`);
    return found;
  };
  const handoffsMs = dag.jobs
    .filter((j) => j.dependsOn.length > 0)
    .map((j) => Date.parse(attempt(j.id).startedAt) - Math.max(...j.dependsOn.map((up) => Date.parse(attempt(up).completedAt ?? ''))));
  const sleeps = dag.sleepMs(sleep);
  const starts = dag.jobs.map((j) => Date.parse(attempt(j.id).startedAt));
  const ends = dag.jobs.map((j) => Date.parse(attempt(j.id).completedAt ?? ''));
  const startDate = execution.description.startDate!.getTime();
  const stopDate = execution.description.stopDate!.getTime();
  const inJobMs = dag.jobs.map((j, i) => ends[i]! - starts[i]! - (sleeps[j.id] ?? sleeps['*'] ?? 0));
  return { executionMs: execution.ms, recordMs: view.run.durationMs, handoffsMs, startMs: Math.min(...starts) - startDate, tailMs: stopDate - Math.max(...ends), inJobMs };
}

// ---------------------------------------------------------------------------------------------------

const rows: [string, string, string][] = [];
const record = (name: string, figure: string, ratio: string): void => {
  rows.push([name, figure, ratio]);
};

async function main(): Promise<void> {
  const SLEEP_MS = positiveInteger('PHI_BENCH_SLEEP_MS', 5_000);
  const RUNS = positiveInteger('PHI_BENCH_RUNS', 3);
  const timeoutSeconds = Math.min(900, Math.max(60, Math.ceil(SLEEP_MS / 1000) + 60));

  // The pipelines, one definitions directory each, planned as the deploy will plan them.
  const dirs: string[] = [];
  for (const dag of DAGS.filter((d) => d.pipelineId === undefined)) {
    const dir = path.join(BENCH_DIR, dag.id);
    rmSync(dir, { recursive: true, force: true }); // the bench's own output of an earlier run
    dirs.push(writeGeneratedPipeline(dag.id, dag.jobs, { dir, handlers: 1, timeoutSeconds }));
  }
  const { plan, problems } = await planDefinitions(dirs);
  if (problems.length > 0) throw new BenchError(`the generated pipelines have problems:\n${problems.map((p) => `  ${p.code} ${p.pipeline ?? ''} ${p.job ?? ''} ${p.path}: ${p.message}`).join('\n')}`);

  let emulator: EmulatorHandle | undefined;
  const sfnCleanup: string[] = [];
  let functionName: string | undefined;
  let lambda: LambdaClient | undefined;
  let sfn: SFNClient | undefined;
  try {
    emulator = await startEmulator(log);
    const endpoint = emulator.endpoint;
    Object.assign(process.env, emulatorEnv(endpoint));
    const region = process.env.AWS_REGION ?? 'us-east-1';

    let started = Date.now();
    log(`deploying ${dirs.length} bench pipelines (${path.relative(process.cwd(), BENCH_DIR)}) with cdklocal …`);
    deployLocal(endpoint, { quiet: true, definitionsDirs: dirs });
    log(`deployed in ${Math.round((Date.now() - started) / 1000)} s`);

    // The bare machine.
    lambda = new LambdaClient({ endpoint, region });
    sfn = new SFNClient({ endpoint, region });
    const suffix = Date.now().toString(36);
    // The emulator checks roles (AUTH=true): the bare machine's role may invoke its sleeper, nothing more.
    const roleName = `phi-bench-bare-${suffix}`;
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com', 'states.amazonaws.com'] }, Action: 'sts:AssumeRole' }] };
    const [roleArn] = xmlValues(await iam(endpoint, 'CreateRole', { RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust) }), 'Arn');
    if (roleArn === undefined) throw new BenchError(`CreateRole ${roleName} answered no ARN`);
    await putInlinePolicy(endpoint, roleName, 'invoke', [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [`arn:aws:lambda:${region}:000000000000:function:phi-bench-sleeper-${suffix}`] }]);
    functionName = `phi-bench-sleeper-${suffix}`;
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: functionName,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: roleArn,
        Code: { ZipFile: zipStored({ 'index.mjs': SLEEPER_SOURCE }) },
        Timeout: timeoutSeconds,
        MemorySize: 128,
      }),
    );
    const functionArn = created.FunctionArn;
    if (!functionArn) throw new BenchError(`CreateFunction ${functionName} answered no ARN`);
    const activeBy = Date.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      const state = (await lambda.send(new GetFunctionCommand({ FunctionName: functionName }))).Configuration?.State;
      if (state === undefined || state === 'Active') break;
      if (state === 'Failed') throw new BenchError(`the Lambda function ${functionName} failed to create`);
      if (Date.now() > activeBy) throw new BenchError(`the Lambda function ${functionName} is still ${state} after ${WAIT_TIMEOUT_MS / 60_000} minutes`);
      await sleep(250);
    }
    const bareArn = new Map<string, string>();
    const bareLayers = new Map<string, number>();
    for (const dag of DAGS) {
      const { definition, layers } = layeredDefinition(dag, functionArn, SLEEP_MS);
      const sm = await sfn.send(new CreateStateMachineCommand({ name: `phi-bench-bare-${dag.id}-${suffix}`, type: 'STANDARD', roleArn, definition }));
      if (!sm.stateMachineArn) throw new BenchError(`CreateStateMachine for ${dag.id} answered no ARN`);
      sfnCleanup.push(sm.stateMachineArn);
      bareArn.set(dag.id, sm.stateMachineArn);
      bareLayers.set(dag.id, layers.length);
    }

    const client = await PhiClient.connect();

    for (const dag of DAGS.filter(selected)) {
      const sleeps = dag.sleepMs(SLEEP_MS);
      const critical = criticalPath(graphOf(dag.jobs, sleeps));
      const criticalMs = critical.weight;
      const pathJobs = critical.path.length;
      started = Date.now();
      if (dag.warmUp) {
        await runPhi(client, sfn, dag, SLEEP_MS);
        await runBare(sfn, bareArn.get(dag.id)!);
      }
      const phiRuns: PhiRun[] = [];
      const bareRuns: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        phiRuns.push(await runPhi(client, sfn, dag, SLEEP_MS));
        bareRuns.push(await runBare(sfn, bareArn.get(dag.id)!));
      }
      const phiMs = median(phiRuns.map((r) => r.executionMs));
      const phiRecordMs = median(phiRuns.map((r) => r.recordMs));
      const bareMs = median(bareRuns);
      const handoffs = phiRuns.flatMap((r) => r.handoffsMs);
      log(`${dag.id}: critical path ${critical.path.join('→')}; Phi ${phiMs} ms (record ${phiRecordMs} ms), bare ${bareMs} ms, critical path ${criticalMs} ms (${Math.round((Date.now() - started) / 1000)} s with warm-up)`);

      const pipelinePlan = plan.pipelines.find((p) => p.id === (dag.pipelineId ?? dag.id));
      const head = `${dag.label} (${dag.jobs.length} jobs)`;
      record(`${head}: critical path, ${pathJobs} jobs${pathJobs <= 5 ? ` (${critical.path.join('→')})` : ''}`, `${criticalMs} ms`, dag.id === 'bench-nsp-4-skewed' ? `(layer by layer: ${(executionLayers(graphOf(dag.jobs, sleeps)).reduce((n, layer) => n + Math.max(...layer.map((id) => sleeps[id] ?? sleeps['*'] ?? 0)), 0))} ms)` : '');
      record(`  Phi makespan (execution; run record ${phiRecordMs} ms)`, `${phiMs} ms = ${(phiMs / criticalMs).toFixed(3)} × cp`, `${(phiMs / criticalMs / TARGET_RATIO).toFixed(3)} of ≤ ${TARGET_RATIO} × cp (record: ${(phiRecordMs / criticalMs / TARGET_RATIO).toFixed(3)})`);
      record(`  bare layered machine makespan (${bareLayers.get(dag.id)} layers)`, `${bareMs} ms = ${(bareMs / criticalMs).toFixed(3)} × cp`, dag.id === 'bench-chain-5' ? '(the emulator floor: no target)' : '(layer by layer: no target)');
      const overhead = (phiMs - bareMs) / pathJobs;
      if (dag.pipelineId === undefined) {
        record(`  Phi overhead above bare, per critical-path job`, `${overhead.toFixed(1)} ms/job`, `${(overhead / TARGET_OVERHEAD_MS).toFixed(3)} of < ${TARGET_OVERHEAD_MS} ms`);
        // The same extra time spread over every job of the DAG (what the run costs per job, not per hand-off).
        const perJob = (phiMs - bareMs) / dag.jobs.length;
        record(`  Phi overhead above bare, spread over all ${dag.jobs.length} jobs`, `${perJob.toFixed(1)} ms/job`, `${(perJob / TARGET_OVERHEAD_MS).toFixed(3)} of < ${TARGET_OVERHEAD_MS} ms`);
      }
      // With unequal sleeps the layered machine waits for each layer's slowest job: no floor to compare with.
      else record(`  Phi faster than layer by layer`, `${bareMs - phiMs} ms (${(((bareMs - phiMs) / bareMs) * 100).toFixed(1)} %)`, '(no target)');
      if (handoffs.length > 0) record(`  Phi hand-off (job start − last upstream end), median / max`, `${median(handoffs)} / ${Math.max(...handoffs)} ms`, `(${handoffs.length} hand-offs)`);
      const inJob = phiRuns.flatMap((r) => r.inJobMs);
      record(`  Phi start (execution start → first job start) / tail (last job end → execution stop)`, `${median(phiRuns.map((r) => r.startMs))} / ${median(phiRuns.map((r) => r.tailMs))} ms`, '(medians)');
      record(`  Phi within a job (attempt duration − sleep), median / max`, `${median(inJob)} / ${Math.max(...inJob)} ms`, '');
      if (pipelinePlan && dag.pipelineId === undefined) {
        const perJob = pipelinePlan.estimates.stateTransitions.perJob;
        record(`  state transitions per job (plan estimate; ${pipelinePlan.estimates.stateTransitions.perRun} a run)`, `${perJob}`, `${(perJob / TARGET_TRANSITIONS).toFixed(3)} of ≤ ${TARGET_TRANSITIONS}`);
      }
    }
  } finally {
    // Only what this run created: its state machines, its function, and the emulator if it started it.
    for (const arn of sfnCleanup) await sfn?.send(new DeleteStateMachineCommand({ stateMachineArn: arn })).catch(() => {});
    if (functionName) await lambda?.send(new DeleteFunctionCommand({ FunctionName: functionName })).catch(() => {});
    if (emulator?.started) stopEmulator(log);
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  const figureWidth = Math.max(18, ...rows.map((r) => r[1].length));
  console.log(`Phi emulator benchmarks (node ${process.version}, ${new Date().toISOString()}, every job sleeps ${SLEEP_MS} ms unless said, ${RUNS === 1 ? '1 measured run' : `median of ${RUNS} runs`} after 1 warm-up; cp = critical path)`);
  for (const [name, figure, ratio] of rows) console.log(`  ${name.padEnd(width)}  ${figure.padStart(figureWidth)}   ${ratio.startsWith('(') || ratio === '' ? ratio : `ratio ${ratio}`}`.trimEnd());
}

try {
  await main();
} catch (err) {
  console.error(`emulator benchmark could not run: ${err instanceof BenchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
}

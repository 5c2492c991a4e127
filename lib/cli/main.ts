/**
 * `phi`: validate, plan and graph offline; run and status against a deployment (AWS, or the local
 * emulator when AWS_ENDPOINT_URL is set).
 */
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { z } from 'zod';
import { DEFAULT_DEFINITIONS_DIR, definitionDirs, loadDefinitions, planDefinitions } from '../load/load.ts';
import { CancelScope, MAX_HISTORY_PAGE, RunStatus, StartDecisionKind, TriggerType, type RunRecord } from '../model/contract/index.ts';
import type { Parameters } from '../model/pipeline.ts';
import type { Problem } from '../model/problems.ts';
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from '../plan/render.ts';
import { MAX_NEXT_COUNT, type FireTimeWindow } from '../plan/schedule/index.ts';
import type { Plan } from '../plan/types.ts';
import { PhiClient } from '../client/client.ts';
import { ApiError, ClientError, ClientErrorCode } from '../client/errors.ts';
import { PhiError } from '../model/errors.ts';
import { datasetFreshness, observedCriticalPath, type DatasetFreshness, type ObservedPlan } from '../plan/observed.ts';
import { backfillSucceeded, BackfillUsageCode, BackfillUsageError, formatBackfillSummary, parseBackfillInstant, parseMaxConcurrent, planBackfill, progressReporter, runBackfill, type BackfillSummary } from './backfill.ts';
import { MAX_BACKFILL_RUNS } from '../plan/schedule/backfill.ts';
import { parseDlq, runDlq } from './dlq.ts';
import { parseOperate, runOperate } from './pause.ts';
import { runHealth } from './health.ts';
import { formatDatasets, formatHistory, formatLogEvent, formatObserved, formatPlan, formatProblems, formatRunView, formatStartDecision, startNote } from './format.ts';

const USAGE = `phi — serverless pipelines on AWS Step Functions

Offline:
  phi validate [--definitions DIR] [--json]         check every definition; exit 1 listing every problem
  phi plan     [--definitions DIR] [--json]         schedules, layers, critical path, estimates
  phi plan --observed [--runs N]                    and the critical path as the last N runs went, each dataset's freshness (reads the deployment)
  phi plan --from <ISO time> [--count N]            each schedule's next N (default 5) fire times from that moment,
                                                    marking the days a daylight-saving change falls on
  phi graph <pipeline> [--format mermaid|dot|ascii] [--definitions DIR]

Against a deployment (AWS credentials; AWS_ENDPOINT_URL for a local emulator):
  phi run <pipeline> [--param key=value ...] [--params JSON] [--idempotency-key KEY] [--force] [--wait [--timeout SECONDS]] [--json]
  phi run <pipeline> --dry-run [--param ...] [--force] [--json]   would it start now? every start rule's check; nothing started
  phi history <pipeline> [--status S] [--trigger T] [--limit N] [--next TOKEN] [--json]   its runs, newest first (skipped ones too)
  phi backfill <pipeline> --from <date> --to <date> [--schedule ID] [--max-concurrent N] [--force] [--json]
                                                    one run per fire time of the schedule in [from, to) (at most ${MAX_BACKFILL_RUNS}),
                                                    oldest first, at most N (default 1) active at once; run again, it resumes
  phi status <runId> [--watch [--timeout SECONDS]] [--json]
  phi logs <runId> [--job J] [--follow [--timeout SECONDS]] [--json]   its jobs' log lines, oldest first; --follow until it ends
  phi cancel <runId> [--job J [--scope JOB|IMMEDIATE_DEPENDENTS|ALL_DOWNSTREAM]] [--reason TEXT] [--json]
  phi retry <runId> [--from-failed] [--reason TEXT] [--wait [--timeout SECONDS]] [--json]
                                                    a new run of an ended run, with its parameters; --from-failed: only the jobs
                                                    that failed or were skipped run again (and their dependents), the others' outputs reused
  phi dlq list [--pipeline P] [--json]               the dead letters waiting (one per permanently failed job)
  phi dlq show <messageId> [--json]
  phi dlq retry <messageId> | --all [--pipeline P]  a new run with the failed run's parameters; the letter goes once it started
  phi dlq purge --older-than 7d                     delete the letters older than that (7d, 12h, 30m…)
  phi pause <pipeline> | --all [--reason TEXT]      hold its schedules and triggers (every pipeline's), no deploy: each
                                                    delivery is recorded SKIPPED (PAUSED); starts through the API go on
  phi resume <pipeline> | --all [--reason TEXT]     let them start runs again (a pipeline's pause and --all are separate)
  phi paused <pipeline> [--json]                    whether it is paused, by whom, since when and why
  phi audit [--pipeline P] [--limit N] [--json]     who paused, resumed, started, cancelled, retried or purged, newest first,
                                                    and each deploy that changed a definition (DEPLOY: hashes, jobs, schedules, commit)
  phi health [--json]                               HEALTHY, DEGRADED or UNHEALTHY and why; each pipeline's last run,
                                                    next fire time and data freshness (exit 1 unless HEALTHY)

--definitions defaults to $PHI_DEFINITIONS_DIR, else ./${DEFAULT_DEFINITIONS_DIR}; several directories are separated by "${path.delimiter}".`;

/** `--wait`: follows a run to its end, each change on a line, then the whole run; exit 0 only when it succeeded. */
async function waitForEnd(client: PhiClient, run: RunRecord, values: { readonly json: boolean; readonly timeout?: string | undefined; readonly definitions?: string | undefined }, out: Out): Promise<number> {
  const timeoutMs = await waitTimeoutMs(values.timeout, values.definitions, run.pipelineId);
  const view = await client.waitForRun(run.runId, { timeoutMs, onChange: (v) => values.json || out(formatRunView(v, { brief: true })) });
  out(values.json ? JSON.stringify(view, null, 2) : formatRunView(view));
  return view.run.status === RunStatus.SUCCEEDED ? ExitCode.OK : ExitCode.FAILED;
}

/** Exit codes: 0 ok, 1 the definitions or the run failed, 2 usage or a connection error. */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2 } as const;

type Out = (text: string) => void;

const definitionsDir = (flag: string | undefined): string[] => definitionDirs(flag ?? process.env.PHI_DEFINITIONS_DIR ?? DEFAULT_DEFINITIONS_DIR).map((dir) => path.resolve(dir));

async function loadPlan(dirs: readonly string[], fireTimes: FireTimeWindow = {}): Promise<{ plan: Plan; problems: Problem[] }> {
  return planDefinitions(dirs, new Date(), fireTimes);
}

/** `--from` (an ISO 8601 date, or date and time; without an offset, UTC) and `--count` (1-1000): which fire times `phi plan` lists. */
function fireTimeWindow(from: string | undefined, count: string | undefined): FireTimeWindow {
  const window: { from?: Date; count?: number } = {};
  if (from !== undefined) {
    // A date alone is midnight UTC, and a time without an offset UTC too (never the machine's timezone).
    const instant = z.iso.datetime({ offset: true });
    const text = instant.safeParse(from).success ? from : z.iso.date().safeParse(from).success ? `${from}T00:00:00Z` : `${from}Z`;
    if (!instant.safeParse(text).success) {
      throw new UsageError(`--from takes an ISO 8601 date, or date and time (UTC unless it has an offset), e.g. 2026-03-27 or 2026-03-27T00:00:00+01:00; got "${from}"`);
    }
    window.from = new Date(text);
  }
  if (count !== undefined) {
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1 || n > MAX_NEXT_COUNT) throw new UsageError(`--count is a whole number from 1 to ${MAX_NEXT_COUNT}`);
    window.count = n;
  }
  return window;
}

function parseParams(pairs: readonly string[], json: string | undefined): Parameters {
  let params: Parameters = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`--params is not JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--params takes a JSON object of parameters, got ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed}`);
    params = parsed as Parameters;
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes key=value, got "${pair}"`);
    const raw = pair.slice(eq + 1);
    let value: Parameters[string];
    try {
      value = JSON.parse(raw) as Parameters[string];
    } catch {
      value = raw;
    }
    params[pair.slice(0, eq)] = value;
  }
  return params;
}

/** The command line itself is wrong: exit 2 with the usage. */
/** When nothing else says how long a run may take (its pipeline is not in the definitions at hand). */
const DEFAULT_WAIT_SECONDS = 3600;

/**
 * How long `--wait` and `--watch` wait: `--timeout SECONDS`, else the pipeline's worst case from its
 * plan (every job of the heaviest chain using every attempt), with a minute's slack.
 */
async function waitTimeoutMs(flag: string | undefined, definitions: string | undefined, pipelineId: string): Promise<number> {
  if (flag !== undefined) {
    const seconds = Number(flag);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--timeout takes a number of seconds above 0');
    return seconds * 1000;
  }
  const { plan } = await loadPlan(definitionsDir(definitions)).catch(() => ({ plan: { pipelines: [] as Plan['pipelines'] } }));
  const pipeline = plan.pipelines.find((p) => p.id === pipelineId);
  return ((pipeline?.estimates.worstCaseRunSeconds ?? DEFAULT_WAIT_SECONDS) + 60) * 1000;
}

class UsageError extends PhiError {
  constructor(message: string) {
    super('CLI_000_USAGE', message);
  }
}

export async function main(argv: readonly string[], out: Out = (t) => process.stdout.write(`${t}\n`), err: Out = (t) => process.stderr.write(`${t}\n`)): Promise<number> {
  const [command, ...rest] = argv;
  // Under --json, a failure is JSON too: { "error": { "code", "message" } } on stderr.
  const asJson = rest.includes('--json');
  const fail = (code: string, message: string, text: string): void => err(asJson ? JSON.stringify({ error: { code, message } }) : text);
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: {
        definitions: { type: 'string' },
        json: { type: 'boolean', default: false },
        format: { type: 'string', default: 'ascii' },
        param: { type: 'string', multiple: true, default: [] },
        params: { type: 'string' },
        'idempotency-key': { type: 'string' },
        wait: { type: 'boolean', default: false },
        watch: { type: 'boolean', default: false },
        follow: { type: 'boolean', default: false },
        job: { type: 'string' },
        scope: { type: 'string' },
        reason: { type: 'string' },
        observed: { type: 'boolean', default: false },
        from: { type: 'string' },
        count: { type: 'string' },
        timeout: { type: 'string' },
        runs: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        to: { type: 'string' },
        schedule: { type: 'string' },
        'max-concurrent': { type: 'string' },
        force: { type: 'boolean', default: false },
        status: { type: 'string' },
        trigger: { type: 'string' },
        limit: { type: 'string' },
        next: { type: 'string' },
        pipeline: { type: 'string' },
        all: { type: 'boolean', default: false },
        'older-than': { type: 'string' },
        'from-failed': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help || command === undefined || command === 'help') {
      out(USAGE);
      return command === undefined ? ExitCode.USAGE : ExitCode.OK;
    }
    switch (command) {
      case 'validate': {
        const { plan, problems } = await loadPlan(definitionsDir(values.definitions));
        if (values.json) out(JSON.stringify({ valid: problems.length === 0, pipelines: plan.pipelines.map((p) => p.id), problems }, null, 2));
        else if (problems.length === 0) out(`✓ ${plan.pipelines.length} pipeline(s) valid: ${plan.pipelines.map((p) => p.id).join(', ')}`);
        else out(formatProblems(problems));
        return problems.length === 0 ? ExitCode.OK : ExitCode.FAILED;
      }
      case 'plan': {
        const { plan, problems } = await loadPlan(definitionsDir(values.definitions), fireTimeWindow(values.from, values.count));
        let observed: ObservedPlan[] | undefined;
        let datasets: DatasetFreshness[] | undefined;
        if (values.observed) {
          const runs = Number(values.runs ?? 20);
          if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError('--runs is a whole number from 1 to 100');
          const client = await PhiClient.connect();
          observed = await Promise.all(plan.pipelines.map(async (p) => observedCriticalPath(p, await client.durations(p.id, runs))));
          // Each dataset as fresh as its provider's last success, which the deployment's health tells.
          if (plan.pipelines.some((p) => p.provides !== undefined)) {
            const health = await client.health();
            datasets = datasetFreshness(plan, new Map(health.pipelines.map((p) => [p.pipelineId, p.lastSucceededAt])), new Date(health.checkedAt));
          }
        }
        // The fire times per pipeline and schedule id, beside each schedule's own `next`.
        const fireTimes = { ...plan.fireTimes, schedules: Object.fromEntries(plan.pipelines.map((p) => [p.id, Object.fromEntries(p.schedules.map((s) => [s.id, s.next]))])) };
        if (values.json) out(JSON.stringify({ ...plan, fireTimes, ...(observed ? { observed } : {}), ...(datasets ? { datasets } : {}), problems }, null, 2));
        else {
          out(formatPlan(plan));
          if (observed) out(formatObserved(observed));
          if (datasets) out(formatDatasets(datasets));
          if (problems.length > 0) out(formatProblems(problems));
        }
        return problems.length === 0 ? ExitCode.OK : ExitCode.FAILED;
      }
      case 'graph': {
        const id = positionals[0];
        if (!id) throw new UsageError('phi graph needs a pipeline id');
        const format = values.format as GraphFormat;
        if (!GRAPH_FORMATS.includes(format)) throw new UsageError(`--format is one of ${GRAPH_FORMATS.join(', ')}`);
        const { plan, problems } = await loadPlan(definitionsDir(values.definitions));
        const pipeline = plan.pipelines.find((p) => p.id === id);
        if (!pipeline) {
          const own = problems.filter((p) => p.pipeline === id);
          err(own.length > 0 ? formatProblems(own) : `no pipeline "${id}"; pipelines: ${plan.pipelines.map((p) => p.id).join(', ')}`);
          return ExitCode.FAILED;
        }
        out(renderGraph(pipeline, format));
        return ExitCode.OK;
      }
      case 'run': {
        const id = positionals[0];
        if (!id) throw new UsageError('phi run needs a pipeline id');
        const parameters = parseParams(values.param ?? [], values.params);
        const client = await PhiClient.connect();
        const key = values['idempotency-key'];
        const request = { parameters, ...(key ? { idempotencyKey: key } : {}), ...(values.force ? { force: true } : {}) };
        if (values['dry-run']) {
          const answer = await client.dryRunStart(id, request);
          out(values.json ? JSON.stringify(answer, null, 2) : formatStartDecision(id, answer.decision, answer.parameters));
          return answer.decision.decision === StartDecisionKind.START ? ExitCode.OK : ExitCode.FAILED;
        }
        const { created, run } = await client.startRun(id, request);
        if (run.status === RunStatus.SKIPPED) {
          // Its start rules refused it: recorded, never started.
          out(values.json ? JSON.stringify({ created, run }, null, 2) : `${created ? 'recorded' : 'already recorded'} run ${run.runId} SKIPPED: ${startNote(run.startDecision) ?? 'its start rules refused it'}`);
          return ExitCode.FAILED;
        }
        if (!values.wait) {
          out(values.json ? JSON.stringify({ created, run }, null, 2) : `${created ? 'started' : 'already started'} run ${run.runId} (${run.status})`);
          return ExitCode.OK;
        }
        if (!values.json) out(`${created ? 'started' : 'already started'} run ${run.runId}`);
        return waitForEnd(client, run, values, out);
      }
      case 'retry': {
        const runId = positionals[0];
        if (!runId) throw new UsageError('phi retry needs a run id');
        const client = await PhiClient.connect();
        const { created, run } = await client.retryRun(runId, { fromFailed: values['from-failed'], ...(values.reason ? { reason: values.reason } : {}) });
        const what = `${values['from-failed'] ? 'its failed jobs and their dependents' : 'every job'}`;
        const said = created ? `started run ${run.runId}, a retry of ${runId} (${what})` : `${runId} was retried so before: run ${run.runId} (${run.status}); to go on from there, retry that run`;
        if (!values.wait) {
          out(values.json ? JSON.stringify({ created, run }, null, 2) : said);
          return ExitCode.OK;
        }
        if (!values.json) out(said);
        return waitForEnd(client, run, values, out);
      }
      case 'status': {
        const runId = positionals[0];
        if (!runId) throw new UsageError('phi status needs a run id');
        const client = await PhiClient.connect();
        const view = values.watch
          ? await client.waitForRun(runId, { timeoutMs: await waitTimeoutMs(values.timeout, values.definitions, (await client.getRun(runId)).run.pipelineId), onChange: (v) => values.json || out(formatRunView(v, { brief: true })) })
          : await client.getRun(runId);
        out(values.json ? JSON.stringify(view, null, 2) : formatRunView(view));
        return ExitCode.OK;
      }
      case 'cancel': {
        const runId = positionals[0];
        if (!runId) throw new UsageError('phi cancel needs a run id');
        const scope = values.scope;
        if (scope !== undefined && !(Object.values(CancelScope) as string[]).includes(scope)) throw new UsageError(`--scope is one of ${Object.values(CancelScope).join(', ')}`);
        if (scope !== undefined && values.job === undefined) throw new UsageError('--scope needs --job');
        const client = await PhiClient.connect();
        const run = await client.cancelRun(runId, { ...(values.job ? { job: values.job } : {}), ...(scope ? { scope: scope as CancelScope } : {}), ...(values.reason ? { reason: values.reason } : {}) });
        const last = run.cancellations?.at(-1);
        out(values.json ? JSON.stringify(run, null, 2) : `${values.job ? `cancelled ${last?.jobs.length ?? 0} job(s) of` : 'cancelled'} run ${run.runId}${last?.jobs.length ? ` (${last.jobs.join(', ')})` : ''}; the run is ${run.status}`);
        return ExitCode.OK;
      }
      case 'backfill': {
        const id = positionals[0];
        if (!id) throw new UsageError('phi backfill needs a pipeline id');
        const from = parseBackfillInstant('--from', values.from);
        const to = parseBackfillInstant('--to', values.to);
        const maxConcurrent = parseMaxConcurrent(values['max-concurrent']);
        const loaded = await loadDefinitions(definitionsDir(values.definitions));
        const pipeline = loaded.pipelines.find((p) => p.pipeline.id === id)?.pipeline;
        if (!pipeline) throw new BackfillUsageError(BackfillUsageCode.NO_SCHEDULE, `no pipeline "${id}" in the definitions; pipelines: ${loaded.pipelines.map((p) => p.pipeline.id).join(', ')}`);
        const plan = planBackfill(pipeline, values.schedule, from, to);
        const client = await PhiClient.connect();
        const progress = await progressReporter(plan.times.length, process.stderr.isTTY ? 'bar' : values.json ? 'none' : 'lines', out, `backfill ${id}/${plan.scheduleId}`);
        let summary: BackfillSummary;
        try {
          summary = await runBackfill(client, { plan, maxConcurrent, ...(values.force ? { force: true } : {}), onEvent: progress.onEvent });
        } finally {
          progress.stop();
        }
        out(values.json ? JSON.stringify(summary, null, 2) : formatBackfillSummary(summary));
        return backfillSucceeded(summary) ? ExitCode.OK : ExitCode.FAILED;
      }
      case 'health': {
        if (positionals.length > 0) throw new UsageError('phi health takes no arguments');
        return (await runHealth(await PhiClient.connect(), out, values.json)) === 0 ? ExitCode.OK : ExitCode.FAILED;
      }
      case 'pause':
      case 'resume':
      case 'paused':
      case 'audit': {
        const parsed = parseOperate(command, positionals, values);
        if ('usage' in parsed) throw new UsageError(parsed.usage);
        return (await runOperate(parsed.command, await PhiClient.connect(), out, values.json)) === 0 ? ExitCode.OK : ExitCode.FAILED;
      }
      case 'dlq': {
        const parsed = parseDlq(positionals, values);
        if ('usage' in parsed) throw new UsageError(parsed.usage);
        return (await runDlq(parsed.command, await PhiClient.connect(), out, values.json)) === 0 ? ExitCode.OK : ExitCode.FAILED;
      }
      case 'logs': {
        const runId = positionals[0];
        if (!runId) throw new UsageError('phi logs needs a run id');
        const client = await PhiClient.connect();
        const deadline = Date.now() + Number(values.timeout ?? 3600) * 1000;
        let since: number | undefined;
        // A running run's newest lines come again on the next page (CloudWatch shows lines late): each is printed once.
        const seen = new Set<string>();
        for (;;) {
          const page = await client.runLogs(runId, { ...(values.job !== undefined ? { job: values.job } : {}), ...(since !== undefined ? { since } : {}) });
          const fresh = page.events.filter((e) => !seen.has(JSON.stringify(e)));
          for (const e of fresh) {
            seen.add(JSON.stringify(e));
            out(values.json ? JSON.stringify(e) : formatLogEvent(e));
          }
          since = page.next;
          // Followed until the run has ended and its last lines are read.
          if (!values.follow || (page.ended && fresh.length === 0) || Date.now() > deadline) return ExitCode.OK;
          if (fresh.length === 0) await new Promise((r) => setTimeout(r, 2000));
        }
      }
      case 'history': {
        const id = positionals[0];
        if (!id) throw new UsageError('phi history needs a pipeline id');
        const status = values.status;
        if (status !== undefined && !(Object.values(RunStatus) as string[]).includes(status)) throw new UsageError(`--status is one of ${Object.values(RunStatus).join(', ')}`);
        const trigger = values.trigger;
        if (trigger !== undefined && !(Object.values(TriggerType) as string[]).includes(trigger)) throw new UsageError(`--trigger is one of ${Object.values(TriggerType).join(', ')}`);
        const limit = values.limit === undefined ? undefined : Number(values.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE)) throw new UsageError(`--limit is a whole number from 1 to ${MAX_HISTORY_PAGE}`);
        const client = await PhiClient.connect();
        const page = await client.history(id, {
          ...(status !== undefined ? { status: status as RunStatus } : {}),
          ...(trigger !== undefined ? { trigger: trigger as TriggerType } : {}),
          ...(limit !== undefined ? { limit } : {}),
          ...(values.next !== undefined ? { next: values.next } : {}),
        });
        out(values.json ? JSON.stringify(page, null, 2) : formatHistory(page));
        return ExitCode.OK;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof BackfillUsageError) {
      fail(e.code, e.message, `phi: ${e.code}: ${e.message}`);
      return ExitCode.USAGE;
    }
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      fail('CLI_000_USAGE', (e as Error).message, `phi: ${(e as Error).message}\n\n${USAGE}`);
      return ExitCode.USAGE;
    }
    if (e instanceof ClientError && e.code === ClientErrorCode.WAIT_TIMEOUT) {
      fail(e.code, e.message, `phi: ${e.code}: ${e.message}; it goes on (phi status <runId> --watch, or phi cancel <runId>)`);
      return ExitCode.FAILED;
    }
    if (e instanceof ApiError) {
      // A refused request lists its issues: each parameter that is unknown, missing or of the wrong kind.
      const issues = e.issues;
      if (asJson) err(JSON.stringify({ error: { code: e.code, message: e.message, ...(issues.length > 0 ? { issues } : {}) } }));
      else err([`phi: ${e.message}`, ...issues.map((i) => `  ${i.path || '(the body)'}: ${i.message}`)].join('\n'));
      return e.status === 404 || e.status === 400 || e.status === 409 ? ExitCode.FAILED : ExitCode.USAGE;
    }
    // Credentials, network, a missing deployment: say what happened (PHI_DEBUG=1 for the stack trace).
    if (process.env.PHI_DEBUG) throw e;
    const message = e instanceof Error ? e.message : String(e);
    fail(e instanceof PhiError ? e.code : ((e as { name?: string }).name ?? 'CLI_001_FAILED'), message, `phi: ${message}`);
    return ExitCode.USAGE;
  }
}

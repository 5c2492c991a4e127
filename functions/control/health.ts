/**
 * `GET /health`: `gatherHealth` reads (bounded: each pipeline's newest runs through the history index,
 * in parallel, and the dead-letter queue's depth), `computeHealth` decides (pure). The thresholds and
 * definitions are documented with the answer's schema (`lib/model/contract/health.ts`).
 */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DataFreshness,
  HEALTH_DURATION_RUNS,
  HEALTH_ENV,
  HEALTH_RUNS_PER_PIPELINE,
  HEALTH_THRESHOLDS,
  HEALTH_WINDOW_HOURS,
  HealthConfigSchema,
  HealthReasonCode,
  HealthStatus,
  RunStatus,
  TriggerType,
  type HealthConfig,
  type HealthReason,
  type OrchestrationHealthStatus,
  type PipelineHealth,
  type PipelineHealthConfig,
  type RunRecord,
} from '../../lib/model/contract/index.ts';
import { ConfigurationError, describeError } from '../../lib/model/errors.ts';
import type { Pauses } from '../../lib/model/contract/audit.ts';
import { pauseOf } from '../../lib/model/start-rules.ts';
import { nextFireTime } from '../../lib/plan/schedule/next.ts';
import type { Logger } from '../shared/log.ts';
import type { RecordStore } from '../shared/records/store.ts';

const HOUR_MS = 3_600_000;

/** What one pipeline's records said: its newest runs (newest first), and its last success when read apart; or that they could not be read. */
export type PipelineRecords =
  | { readonly readable: true; readonly runs: readonly RunRecord[]; readonly lastSucceeded?: RunRecord }
  | { readonly readable: false; readonly error: string };

export interface HealthInputs {
  /** Every deployed pipeline, with what its records said. */
  readonly pipelines: readonly { readonly pipelineId: string; readonly config?: PipelineHealthConfig; readonly records: PipelineRecords }[];
  /** The dead-letter queue's depth, or why it could not be read. */
  readonly deadLetters: { readonly waiting: number } | { readonly error: string };
  /** What `phi pause` holds now; absent when the pauses could not be read. */
  readonly pauses?: Pauses;
}

/** When a run last changed: its end, else its start, else when it was queued. */
const changedAt = (run: RunRecord): string => run.completedAt ?? run.startedAt ?? run.queuedAt;
const endedWithin = (run: RunRecord, now: number, hours: number): boolean => {
  const at = Date.parse(changedAt(run));
  return at <= now && at > now - hours * HOUR_MS;
};
/** Runs that count for the rates: succeeded or failed (cancels and skips are decisions, not errors). */
const isOutcome = (run: RunRecord): boolean => run.status === RunStatus.SUCCEEDED || run.status === RunStatus.FAILED;
const isActive = (run: RunRecord): boolean => run.status === RunStatus.PENDING || run.status === RunStatus.RUNNING;
const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);
const percent = (rate: number): string => `${Math.round(rate * 1000) / 10}%`;

/** The outcomes (succeeded or failed) among `runs` that ended within `hours` of `now`. */
function outcomes(runs: readonly RunRecord[], now: number, hours: number): { ended: number; failed: number; succeeded: number } {
  const ended = runs.filter((r) => isOutcome(r) && endedWithin(r, now, hours));
  const failed = ended.filter((r) => r.status === RunStatus.FAILED).length;
  return { ended: ended.length, failed, succeeded: ended.length - failed };
}

/** The earliest next fire time of the pipeline's schedules; a rate counts from its newest scheduled run's time. */
function nextScheduled(config: PipelineHealthConfig | undefined, runs: readonly RunRecord[], now: Date): string | null {
  const times = (config?.schedules ?? []).flatMap((s) => {
    const anchor = runs.find((r) => r.scheduledTime !== undefined && (r.scheduleId ?? 'default') === s.id && (r.trigger === TriggerType.SCHEDULE || r.trigger === TriggerType.BACKFILL))?.scheduledTime;
    const next = nextFireTime(s, now, anchor);
    return next === undefined ? [] : [next];
  });
  return times.length === 0 ? null : times.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
}

function pipelineHealth(pipelineId: string, config: PipelineHealthConfig | undefined, records: PipelineRecords, now: Date): Omit<PipelineHealth, 'paused'> {
  const maxAge = { ...(config?.maxDataAgeHours !== undefined ? { maxDataAgeHours: config.maxDataAgeHours } : {}), ...(config?.provides !== undefined ? { provides: config.provides } : {}) };
  if (!records.readable) {
    return { pipelineId, readable: false, lastRun: null, nextScheduledTime: nextScheduled(config, [], now), dataFreshness: DataFreshness.UNKNOWN, lastSucceededAt: null, ...maxAge, averageDurationMs: null, activeExecutions: 0, errorRate1h: null, successRate24h: null };
  }
  const t = now.getTime();
  const runs = records.runs;
  const newest = runs[0];
  const succeeded = runs.filter((r) => r.status === RunStatus.SUCCEEDED);
  const lastSucceededAt = [...succeeded, ...(records.lastSucceeded ? [records.lastSucceeded] : [])]
    .map((r) => r.completedAt)
    .filter((at): at is string => at !== undefined)
    .reduce<string | null>((a, b) => (a === null || Date.parse(b) > Date.parse(a) ? b : a), null);
  let dataFreshness: DataFreshness = DataFreshness.UNKNOWN;
  if (config?.maxDataAgeHours !== undefined && lastSucceededAt !== null) {
    dataFreshness = t - Date.parse(lastSucceededAt) > config.maxDataAgeHours * HOUR_MS ? DataFreshness.STALE : DataFreshness.FRESH;
  }
  // A run retried from its failed jobs ran only some of them: not a run's duration.
  const durations = succeeded.filter((r) => !r.retryOf?.fromFailed).slice(0, HEALTH_DURATION_RUNS).flatMap((r) => (r.durationMs === undefined ? [] : [r.durationMs]));
  const hour = outcomes(runs, t, 1);
  const day = outcomes(runs, t, HEALTH_WINDOW_HOURS);
  return {
    pipelineId,
    readable: true,
    lastRun: newest ? { runId: newest.runId, status: newest.status, at: changedAt(newest) } : null,
    nextScheduledTime: nextScheduled(config, runs, now),
    dataFreshness,
    lastSucceededAt,
    ...maxAge,
    averageDurationMs: durations.length === 0 ? null : Math.round(durations.reduce((a, b) => a + b, 0) / durations.length),
    activeExecutions: runs.filter(isActive).length,
    errorRate1h: ratio(hour.failed, hour.ended),
    successRate24h: ratio(day.succeeded, day.ended),
  };
}

/** The deployment's health at `now` from what was read. Pure. */
export function computeHealth(inputs: HealthInputs, now: Date): OrchestrationHealthStatus {
  const t = now.getTime();
  const reasons: HealthReason[] = [];
  const { pauses } = inputs;
  const pipelines = inputs.pipelines.map((p): PipelineHealth => ({ ...pipelineHealth(p.pipelineId, p.config, p.records, now), paused: pauses === undefined ? null : pauseOf(pauses, p.pipelineId) !== undefined }));
  const readable = inputs.pipelines.flatMap((p) => (p.records.readable ? [p.records.runs] : [])).flat();

  for (const p of inputs.pipelines) {
    if (!p.records.readable) reasons.push({ code: HealthReasonCode.RECORDS_UNREADABLE, status: HealthStatus.UNHEALTHY, pipelineId: p.pipelineId, message: `the records of pipeline ${p.pipelineId} could not be read: ${p.records.error}` });
  }
  const hour = outcomes(readable, t, 1);
  const day = outcomes(readable, t, HEALTH_WINDOW_HOURS);
  const errorRate1h = ratio(hour.failed, hour.ended);
  if (errorRate1h !== null && hour.ended >= HEALTH_THRESHOLDS.minErrorRateRuns) {
    const what = `${hour.failed} of the ${hour.ended} runs that ended in the last hour failed (${percent(errorRate1h)})`;
    if (errorRate1h > HEALTH_THRESHOLDS.unhealthyErrorRate) reasons.push({ code: HealthReasonCode.ERROR_RATE_CRITICAL, status: HealthStatus.UNHEALTHY, message: `${what}, above ${percent(HEALTH_THRESHOLDS.unhealthyErrorRate)}` });
    else if (errorRate1h > HEALTH_THRESHOLDS.degradedErrorRate) reasons.push({ code: HealthReasonCode.ERROR_RATE_HIGH, status: HealthStatus.DEGRADED, message: `${what}, above ${percent(HEALTH_THRESHOLDS.degradedErrorRate)}` });
  }
  const deadLettersWaiting = 'waiting' in inputs.deadLetters ? inputs.deadLetters.waiting : null;
  if (deadLettersWaiting !== null && deadLettersWaiting > 0) reasons.push({ code: HealthReasonCode.DEAD_LETTERS_WAITING, status: HealthStatus.DEGRADED, message: `${deadLettersWaiting} dead letter(s) wait in the dead-letter queue (phi dlq list)` });
  if ('error' in inputs.deadLetters) reasons.push({ code: HealthReasonCode.DEAD_LETTER_QUEUE_UNREADABLE, status: HealthStatus.DEGRADED, message: `the dead-letter queue's depth could not be read: ${inputs.deadLetters.error}` });
  for (const p of pipelines) {
    if (p.dataFreshness === DataFreshness.STALE) reasons.push({ code: HealthReasonCode.DATA_STALE, status: HealthStatus.DEGRADED, pipelineId: p.pipelineId, message: `pipeline ${p.pipelineId}'s data is stale: its last success ended ${p.lastSucceededAt}, more than ${p.maxDataAgeHours} hour(s) ago` });
  }
  for (const p of inputs.pipelines) {
    if (!p.records.readable) continue;
    // Its latest outcome, by when it ended.
    const latest = p.records.runs.filter(isOutcome).reduce<RunRecord | undefined>((a, b) => (a === undefined || Date.parse(changedAt(b)) > Date.parse(changedAt(a)) ? b : a), undefined);
    if (latest?.status === RunStatus.FAILED) reasons.push({ code: HealthReasonCode.LAST_RUN_FAILED, status: HealthStatus.DEGRADED, pipelineId: p.pipelineId, message: `pipeline ${p.pipelineId}'s latest ended run ${latest.runId} FAILED at ${changedAt(latest)}${latest.error ? ` (${latest.error.code}${latest.error.jobId ? ` in job ${latest.error.jobId}` : ''})` : ''}` });
  }
  const overallStatus = reasons.some((r) => r.status === HealthStatus.UNHEALTHY) ? HealthStatus.UNHEALTHY : reasons.length > 0 ? HealthStatus.DEGRADED : HealthStatus.HEALTHY;
  return {
    overallStatus,
    reasons,
    checkedAt: now.toISOString(),
    components: { records: inputs.pipelines.every((p) => p.records.readable) ? 'OK' : 'UNREADABLE', deadLetterQueue: deadLettersWaiting === null ? 'UNREADABLE' : 'OK' },
    activeExecutions: readable.filter(isActive).length,
    queuedRuns: readable.filter((r) => r.status === RunStatus.PENDING).length,
    errorRate1h,
    successRate24h: ratio(day.succeeded, day.ended),
    endedRuns1h: hour.ended,
    endedRuns24h: day.ended,
    deadLettersWaiting,
    pipelines,
    paused: pauses === undefined ? null : { all: pauses.all !== undefined, pipelines: Object.keys(pauses.pipelines).sort() },
    window: { runsPerPipeline: HEALTH_RUNS_PER_PIPELINE, hours: HEALTH_WINDOW_HOURS },
  };
}

export interface HealthDeps {
  /** What the plan said of each pipeline (`PHI_HEALTH`). */
  readonly config: HealthConfig;
  /** The dead-letter queue's depth (visible and in-flight messages). */
  readonly deadLetterDepth: () => Promise<number>;
  readonly log?: Logger;
}


/**
 * Reads what `computeHealth` needs, in parallel: each pipeline's newest `HEALTH_RUNS_PER_PIPELINE` runs
 * (one history-index query), its last success apart only when it has `maxDataAgeHours` and none is
 * among them (one filtered history read, bounded by the store), and the dead-letter queue's depth. A
 * read that fails is reported as such, never thrown.
 */
export async function gatherHealth(pipelineIds: readonly string[], store: Pick<RecordStore, 'listRuns' | 'listRunHistory'>, deps: HealthDeps, readPauses?: () => Promise<Pauses>): Promise<HealthInputs> {
  const [pipelines, deadLetters, pauses] = await Promise.all([
    Promise.all(
      pipelineIds.map(async (pipelineId) => {
        const config = Object.hasOwn(deps.config, pipelineId) ? deps.config[pipelineId] : undefined;
        const records = await (async (): Promise<PipelineRecords> => {
          try {
            const runs = await store.listRuns(pipelineId, HEALTH_RUNS_PER_PIPELINE);
            // A provider's datasets are as fresh as its last success: looked for beyond the runs read, as a data age is.
            if ((config?.maxDataAgeHours === undefined && config?.provides === undefined) || runs.some((r) => r.status === RunStatus.SUCCEEDED)) return { readable: true, runs };
            const [lastSucceeded] = (await store.listRunHistory(pipelineId, { limit: 1, status: RunStatus.SUCCEEDED })).runs;
            return { readable: true, runs, ...(lastSucceeded ? { lastSucceeded } : {}) };
          } catch (err) {
            deps.log?.warn('health: the records could not be read', { pipelineId, error: describeError(err) });
            return { readable: false, error: describeError(err) };
          }
        })();
        return { pipelineId, ...(config ? { config } : {}), records };
      }),
    ),
    deps.deadLetterDepth().then(
      (waiting) => ({ waiting }),
      (err: unknown) => {
        deps.log?.warn('health: the dead-letter queue depth could not be read', { error: describeError(err) });
        return { error: describeError(err) };
      },
    ),
    // One read of the pauses item; what could not be read is reported unknown (null), not as unpaused.
    (readPauses ?? (async () => undefined))().catch((err: unknown) => {
      deps.log?.warn('health: the pauses could not be read', { error: describeError(err) });
      return undefined;
    }),
  ]);
  return { pipelines, deadLetters, ...(pauses !== undefined ? { pauses } : {}) };
}

/** The queue's `ApproximateNumberOfMessages` + `…NotVisible` (a letter a scan holds still waits): needs `sqs:GetQueueAttributes` only. */
export function sqsQueueDepth(queueUrl: string, sqs: SQSClient = new SQSClient({ useQueueUrlAsEndpoint: false })): () => Promise<number> {
  return async () => {
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    const count = (name: 'ApproximateNumberOfMessages' | 'ApproximateNumberOfMessagesNotVisible'): number => {
      const n = Number(out.Attributes?.[name] ?? 0);
      return Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
    };
    return count('ApproximateNumberOfMessages') + count('ApproximateNumberOfMessagesNotVisible');
  };
}

/** `PHI_HEALTH` (absent: no pipeline has schedules or a data age), and the dead-letter queue's depth from `PHI_DLQ_URL`. */
export function healthDepsFromEnv(log: Logger, env: NodeJS.ProcessEnv = process.env): HealthDeps {
  const queueUrl = env.PHI_DLQ_URL;
  if (!queueUrl) throw new ConfigurationError('PHI_DLQ_URL');
  let config: HealthConfig = {};
  const raw = env[HEALTH_ENV];
  if (raw !== undefined && raw !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ConfigurationError(HEALTH_ENV, 'it is not JSON: the CDK constructs set it from the plan');
    }
    const result = HealthConfigSchema.safeParse(parsed);
    if (!result.success) throw new ConfigurationError(HEALTH_ENV, `it is not a health config (${result.error.issues[0]?.message ?? 'invalid'}): the CDK constructs set it from the plan`);
    config = result.data;
  }
  return { config, deadLetterDepth: sqsQueueDepth(queueUrl), log };
}

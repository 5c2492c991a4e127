/**
 * `GET /runs/{runId}/logs` (`phi logs`): a run's jobs' structured log lines, from CloudWatch Logs. Every
 * line a job function writes (the runtime's and the handler's, through `ctx.log`) is JSON with the run
 * id, job id and attempt; the lines of one run are found in its pipeline's job functions' log groups
 * (`/aws/lambda/phi-<pipeline>_f<n>`, numbered from 0: read in turn until one does not exist) by the
 * run id, within the run's time, and given oldest first.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { TERMINAL_RUN_STATUSES, type RunLogEvent, type RunLogsResponse, type RunRecord } from '../../lib/model/contract/index.ts';
import { functionLogGroupName, jobFunctionName } from '../../lib/model/names.ts';

/** The most lines one answer holds: read on with `next`. */
export const MAX_LOG_EVENTS = 1000;
/** How long CloudWatch may take to show a line: a running run's lines this new are read again. */
const INGESTION_MS = 10_000;
/** Lines are looked for from this long before the run was queued to this long after it ended. */
const MARGIN_MS = 60_000;

/** The most job functions a pipeline's log groups are looked for among (the plan numbers them f0, f1, …). */
const MAX_FUNCTIONS = 500;

export interface LogsDeps {
  /** The lines of `group` from `startTime` to `endTime` (ms) that contain `term`, oldest first, at most `limit`; `undefined` when the group does not exist. */
  readonly filter: (group: string, term: string, startTime: number, endTime: number, limit: number) => Promise<{ timestamp: number; message: string }[] | undefined>;
  readonly now?: () => Date;
}

/** One raw line as a log event: its JSON fields when it is a JSON object (Phi's own lines are), else its text. */
export function logEventOf(timestamp: number, message: string): RunLogEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { at: new Date(timestamp).toISOString(), message: message.trimEnd() };
  const { jobId, attempt, level, message: text, msg, runId: _runId, timestamp: _ts, time: _time, ...fields } = parsed as Record<string, unknown>;
  return {
    at: new Date(timestamp).toISOString(),
    ...(typeof jobId === 'string' ? { jobId } : {}),
    ...(typeof attempt === 'number' && Number.isInteger(attempt) ? { attempt } : {}),
    ...(typeof level === 'string' ? { level } : {}),
    message: typeof text === 'string' ? text : typeof msg === 'string' ? msg : message.trimEnd(),
    ...(Object.keys(fields).length > 0 ? { fields } : {}),
  };
}

/** The run's log lines written after `since` (ms), of one job when `job` is given, oldest first. */
export async function runLogs(run: RunRecord, query: { readonly job?: string; readonly since?: number }, deps: LogsDeps): Promise<RunLogsResponse> {
  const now = (deps.now ?? (() => new Date()))().getTime();
  const from = Math.max(query.since ?? 0, Date.parse(run.queuedAt) - MARGIN_MS);
  const ended = TERMINAL_RUN_STATUSES.includes(run.status);
  const until = ended && run.completedAt !== undefined ? Math.min(now, Date.parse(run.completedAt) + MARGIN_MS) : now;
  const lines: { timestamp: number; message: string }[] = [];
  for (let i = 0; i < MAX_FUNCTIONS; i++) {
    const found = await deps.filter(functionLogGroupName(jobFunctionName(run.pipelineId, `f${i}`)), run.runId, from, until, MAX_LOG_EVENTS);
    if (found === undefined) break;
    lines.push(...found);
  }
  let page = lines.filter((l) => l.timestamp >= from).sort((a, b) => a.timestamp - b.timestamp);
  if (page.length > MAX_LOG_EVENTS) {
    // Cut at a millisecond boundary, so the lines of the last one are all read on the next page.
    const cut = page[MAX_LOG_EVENTS]!.timestamp;
    const kept = page.filter((l) => l.timestamp < cut);
    page = kept.length > 0 ? kept : page.slice(0, MAX_LOG_EVENTS);
  }
  // Where the next page starts: after the last line read (whatever job wrote it). While the run goes
  // on, no later than a while ago: CloudWatch takes a line some seconds after it is written, one
  // job's sooner than another's, so the newest seconds are read again (a reader keeps what it saw).
  const last = page.at(-1)?.timestamp;
  const read = last === undefined ? from : last + 1;
  const next = ended ? read : Math.max(from, Math.min(read, now - INGESTION_MS));
  // The run id is in the line: it is this run's (a handler's own text line naming the run counts too).
  const events = page.map((l) => logEventOf(l.timestamp, l.message)).filter((e) => query.job === undefined || e.jobId === query.job);
  return { runId: run.runId, events, next, ended };
}

/** CloudWatch Logs for `runLogs`, through the SDK (the emulator's too). */
export function logsDepsFromSdk(client: CloudWatchLogsClient = new CloudWatchLogsClient({})): LogsDeps {
  return {
    filter: async (group, term, startTime, endTime, limit) => {
      const lines: { timestamp: number; message: string }[] = [];
      let nextToken: string | undefined;
      do {
        let out;
        try {
          out = await client.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: `"${term}"`, startTime, endTime, limit: Math.min(limit - lines.length, 10_000), ...(nextToken ? { nextToken } : {}) }));
        } catch (err) {
          // No such group: the pipeline has no function of that number.
          if ((err as { name?: string }).name === 'ResourceNotFoundException') return undefined;
          throw err;
        }
        for (const e of out.events ?? []) if (e.timestamp !== undefined && e.message !== undefined) lines.push({ timestamp: e.timestamp, message: e.message });
        nextToken = out.nextToken;
      } while (nextToken && lines.length < limit);
      return lines;
    },
  };
}

/**
 * Issue #10's "metrics emitted for a run (read back from the emulator)": after a run, its metrics are
 * read back from the emulator's CloudWatch Logs, where the recorder and the job functions wrote them in
 * embedded metric format. MiniStack keeps those log lines but does not turn them into CloudWatch
 * metrics (it has no EMF extraction), so the test extracts them as CloudWatch would, by the format's
 * rules (namespace, dimension sets, each metric a number or numbers at the top level), and checks what
 * the run counted: its start, its success, its duration and queue time, its jobs by how they ended,
 * and each job's duration with the pipeline and job dimensions.
 */
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhiClient } from '../../lib/client/client.ts';
import { METRICS, METRICS_NAMESPACE } from '../../lib/model/contract/metrics.ts';
import { PLATFORM_STACK, functionLogGroupName, jobFunctionName } from '../../lib/model/names.ts';
import { phiClient, until, useEmulator } from './support.ts';

let client: PhiClient;
let endpoint: string;
beforeAll(async () => {
  endpoint = useEmulator();
  client = await phiClient();
});

const PIPELINE = 'recovery-drill';
const JOBS = ['stage', 'read', 'report'];

/** One metric value as CloudWatch would record it from an EMF document. */
interface Extracted {
  readonly name: string;
  readonly unit: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
}

/**
 * The metrics CloudWatch extracts from one log line, by the embedded metric format's rules; throws
 * where the line breaks them (CloudWatch would drop it). Lines without `_aws` are not EMF: none.
 */
function extract(line: Record<string, unknown>): Extracted[] {
  const aws = line._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (aws === undefined) return [];
  expect(typeof aws.Timestamp).toBe('number');
  const directives = aws.CloudWatchMetrics as { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit?: string }[] }[];
  expect(Array.isArray(directives)).toBe(true);
  return directives.flatMap((d) => {
    expect(typeof d.Namespace).toBe('string');
    return d.Dimensions.flatMap((set) => {
      expect(set.length).toBeLessThanOrEqual(30);
      const dimensions = Object.fromEntries(set.map((key) => [key, line[key]]));
      for (const value of Object.values(dimensions)) expect(typeof value).toBe('string');
      return d.Metrics.map((m) => {
        const raw = line[m.Name];
        const values = Array.isArray(raw) ? raw : [raw];
        for (const v of values) expect(typeof v).toBe('number');
        return { name: `${d.Namespace}/${m.Name}`, unit: m.Unit ?? 'None', dimensions: dimensions as Record<string, string>, values: values as number[] };
      });
    });
  });
}

/** The JSON lines of a log group written since `since` (ms) that carry `runId`. */
async function linesOf(logGroupName: string, since: number, runId: string): Promise<Record<string, unknown>[]> {
  const logs = new CloudWatchLogsClient({ endpoint });
  const lines: Record<string, unknown>[] = [];
  let nextToken: string | undefined;
  do {
    const page = await logs.send(new FilterLogEventsCommand({ logGroupName, startTime: since, ...(nextToken ? { nextToken } : {}) }));
    for (const event of page.events ?? []) {
      const text = event.message ?? '';
      const start = text.indexOf('{');
      if (start < 0 || !text.includes(runId)) continue;
      try {
        const parsed = JSON.parse(text.slice(start)) as Record<string, unknown>;
        if (parsed.runId === runId) lines.push(parsed);
      } catch {
        // not one of Phi's structured lines
      }
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return lines;
}

/** The (run) recorder's log group, as the platform stack named it: not the definition recorder's. */
async function recorderLogGroup(): Promise<string> {
  const cfn = new CloudFormationClient({ endpoint });
  let nextToken: string | undefined;
  do {
    const page = await cfn.send(new ListStackResourcesCommand({ StackName: PLATFORM_STACK, ...(nextToken ? { NextToken: nextToken } : {}) }));
    const found = page.StackResourceSummaries?.find((r) => r.ResourceType === 'AWS::Logs::LogGroup' && /RecorderLogs/.test(r.LogicalResourceId ?? '') && !/DefinitionRecorder/.test(r.LogicalResourceId ?? ''));
    if (found?.PhysicalResourceId) return found.PhysicalResourceId;
    nextToken = page.NextToken;
  } while (nextToken);
  throw new Error(`no recorder log group in ${PLATFORM_STACK}`);
}

describe('a run’s metrics', () => {
  it('are written in embedded metric format and read back from the emulator’s logs: the run’s start, success, duration and jobs, and each job’s duration', async () => {
    const since = Date.now() - 5_000;
    const { run } = await client.startRun(PIPELINE, { parameters: { availableAt: new Date(0).toISOString() } });
    const ended = await client.waitForRun(run.runId, { timeoutMs: 60_000 });
    expect(ended.run.status).toBe('SUCCEEDED');

    const group = await recorderLogGroup();
    const runMetrics = await until('the run’s end metrics in the recorder’s logs', async () => {
      const found = (await linesOf(group, since, run.runId)).flatMap(extract);
      return found.some((m) => m.name === 'Phi/RunsSucceeded') ? found : undefined;
    });
    const only = (name: string): Extracted => {
      const all = runMetrics.filter((m) => m.name === `${METRICS_NAMESPACE}/${name}`);
      expect(all, name).toHaveLength(1);
      expect(all[0]!.unit).toBe(METRICS[name as keyof typeof METRICS]);
      expect(all[0]!.dimensions).toEqual({ pipeline: PIPELINE });
      return all[0]!;
    };
    expect(only('RunsStarted').values).toEqual([1]);
    expect(only('RunsSucceeded').values).toEqual([1]);
    expect(only('RunsFailed').values).toEqual([0]);
    expect(only('JobsSucceeded').values).toEqual([JOBS.length]);
    expect(only('JobsFailed').values).toEqual([0]);
    expect(only('DeadLetters').values).toEqual([0]);
    expect(only('JobFailure').values).toEqual(JOBS.map(() => 0));
    expect(only('RunDuration').values[0]).toBeGreaterThan(0);
    expect(only('RunQueueTime').values[0]).toBeGreaterThanOrEqual(0);

    // Each job's attempt, in its function's log group (the three share one function: one handler file each, two files).
    const jobGroups = [...new Set(Array.from({ length: 4 }, (_, i) => functionLogGroupName(jobFunctionName(PIPELINE, `f${i}`))))];
    const durations = await until('each job’s duration in its function’s logs', async () => {
      const found = (await Promise.all(jobGroups.map((g) => linesOf(g, since, run.runId).catch(() => [])))).flat().flatMap(extract).filter((m) => m.name === 'Phi/JobDuration');
      return JOBS.every((job) => found.some((m) => m.dimensions.job === job)) ? found : undefined;
    });
    for (const job of JOBS) {
      const [metric] = durations.filter((m) => m.dimensions.job === job);
      expect(metric).toMatchObject({ unit: 'Milliseconds', dimensions: { pipeline: PIPELINE, job } });
      expect(metric!.values[0]).toBeGreaterThanOrEqual(0);
    }
  }, 150_000);
});

/**
 * The EventBridge events Phi publishes for every run's start and end (on the account's default event
 * bus, source `phi`), so users can subscribe rules of their own. Published by the recorder once the
 * record says so (at least once: a repeated delivery of the recorder's step may publish one twice; the
 * run id and detail type identify it). A run that never starts (recorded SKIPPED by its start rules, or
 * whose execution could not be started) has neither.
 */
import { z } from 'zod';
import { JobStatus, RunStatus, TriggerType } from './status.ts';
import { IsoTimeSchema } from './task.ts';
import type { RunRecord } from './records.ts';

export const RUN_EVENT_SOURCE = 'phi';

export const RunEventDetailType = {
  STARTED: 'Phi Run Started',
  ENDED: 'Phi Run Ended',
} as const;
export type RunEventDetailType = (typeof RunEventDetailType)[keyof typeof RunEventDetailType];

/** The detail's version: a change that is not an addition of a field is a new version. */
export const RUN_EVENT_VERSION = 1;

const RunEventBaseSchema = z.object({
  version: z.literal(RUN_EVENT_VERSION),
  runId: z.string(),
  pipelineId: z.string(),
  trigger: z.enum(TriggerType),
  /** A scheduled or backfilled run's scheduled time (its logical date), as recorded. */
  scheduledTime: IsoTimeSchema.optional(),
  /** The schedule it belongs to (with `scheduledTime`). */
  scheduleId: z.string().optional(),
});

/** `Phi Run Started`: the run's execution began (its record became RUNNING). */
export const RunStartedDetailSchema = RunEventBaseSchema.extend({
  status: z.literal(RunStatus.RUNNING),
  startedAt: IsoTimeSchema,
}).strict();
export type RunStartedDetail = z.infer<typeof RunStartedDetailSchema>;

/** `Phi Run Ended`: the run's record was closed SUCCEEDED, FAILED or CANCELLED. */
export const RunEndedDetailSchema = RunEventBaseSchema.extend({
  status: z.enum([RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]),
  startedAt: IsoTimeSchema.optional(),
  completedAt: IsoTimeSchema,
  /** From `startedAt` (else from when it was queued) to `completedAt`. */
  durationMs: z.number().int().min(0),
  /** The jobs that ended FAILED, sorted. */
  failedJobs: z.array(z.string()),
  /** Why a run that did not succeed ended: the first failure's code and job, or the cancel. */
  error: z.object({ code: z.string(), jobId: z.string().optional() }).strict().optional(),
}).strict();
export type RunEndedDetail = z.infer<typeof RunEndedDetailSchema>;

/** One event as it is put on the bus (`PutEvents` entry without the bus: the default one). */
export const RunEventSchema = z.discriminatedUnion('detailType', [
  z.object({ source: z.literal(RUN_EVENT_SOURCE), detailType: z.literal(RunEventDetailType.STARTED), detail: RunStartedDetailSchema }),
  z.object({ source: z.literal(RUN_EVENT_SOURCE), detailType: z.literal(RunEventDetailType.ENDED), detail: RunEndedDetailSchema }),
]);
export type RunEvent = z.infer<typeof RunEventSchema>;

const base = (run: RunRecord): z.infer<typeof RunEventBaseSchema> => ({
  version: RUN_EVENT_VERSION,
  runId: run.runId,
  pipelineId: run.pipelineId,
  trigger: run.trigger,
  ...(run.scheduledTime !== undefined ? { scheduledTime: run.scheduledTime } : {}),
  ...(run.scheduledTime !== undefined && run.scheduleId !== undefined ? { scheduleId: run.scheduleId } : {}),
});

/** The `Phi Run Started` event of a run whose record is RUNNING; `undefined` for one that is not. */
export function runStartedEvent(run: RunRecord): RunEvent | undefined {
  if (run.status !== RunStatus.RUNNING || run.startedAt === undefined) return undefined;
  return RunEventSchema.parse({ source: RUN_EVENT_SOURCE, detailType: RunEventDetailType.STARTED, detail: { ...base(run), status: RunStatus.RUNNING, startedAt: run.startedAt } });
}

/** The `Phi Run Ended` event of a run whose record is closed (SUCCEEDED, FAILED, CANCELLED); `undefined` for any other. */
export function runEndedEvent(run: RunRecord): RunEvent | undefined {
  if (run.status !== RunStatus.SUCCEEDED && run.status !== RunStatus.FAILED && run.status !== RunStatus.CANCELLED) return undefined;
  const completedAt = run.completedAt ?? run.transitions.at(-1)?.at ?? run.queuedAt;
  const from = run.startedAt ?? run.queuedAt;
  const failedJobs = Object.entries(run.jobs ?? {})
    .filter(([, j]) => j.status === JobStatus.FAILED)
    .map(([id]) => id)
    .sort();
  const detail = {
    ...base(run),
    status: run.status,
    ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}),
    completedAt,
    durationMs: Math.max(0, Math.round(run.durationMs ?? (Date.parse(completedAt) - Date.parse(from) || 0))),
    failedJobs,
    ...(run.error !== undefined ? { error: { code: run.error.code, ...(run.error.jobId !== undefined ? { jobId: run.error.jobId } : {}) } } : {}),
  };
  return RunEventSchema.parse({ source: RUN_EVENT_SOURCE, detailType: RunEventDetailType.ENDED, detail });
}

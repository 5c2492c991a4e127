/** What the state machine and EventBridge send the recorder. */
import { z } from 'zod';
import { JobListRefSchema } from './job-list.ts';
import { CaughtErrorSchema, RunInputSchema } from './task.ts';

export const RecorderEventSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('runStarted'),
    run: RunInputSchema,
    executionArn: z.string(),
    definitionVersion: z.string(),
    /** Where the definition version's job list (its enabled jobs and their dependencies) is: kept on the run record. */
    jobList: JobListRefSchema,
  }),
  z.object({
    /**
     * A job's own function could not close its job (it could not be invoked, or failed while deciding):
     * the recorder fails the job in its place, sends its dead letter and releases its dependents.
     */
    action: z.literal('jobAbandoned'),
    run: RunInputSchema,
    jobId: z.string(),
    attempt: z.number().int().min(1),
    executionArn: z.string(),
    caught: CaughtErrorSchema,
  }),
  z.object({
    /**
     * Every job has ended (`caught` absent), or the jobs' Map itself failed (`caught`): the run is
     * closed, SUCCEEDED when no job failed, with its per-job summary.
     */
    action: z.literal('runFinished'),
    run: RunInputSchema,
    executionArn: z.string(),
    caught: CaughtErrorSchema.optional(),
  }),
]);
export type RecorderEvent = z.infer<typeof RecorderEventSchema>;

/**
 * EventBridge's status-change event for a Phi execution that ended without its own final recorder
 * step (aborted, timed out, or failed inside a recorder step): it closes the run record.
 */
export const ExecutionStatusChangeSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string(),
    status: z.enum(['FAILED', 'TIMED_OUT', 'ABORTED']),
    input: z.string(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});
export type ExecutionStatusChange = z.infer<typeof ExecutionStatusChangeSchema>;

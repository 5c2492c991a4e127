/** What the state machine and EventBridge send the recorder. */
import { z } from 'zod';
import { RunStatus } from './status.ts';
import { CaughtErrorSchema, RunInputSchema } from './task.ts';

export const RecorderEventSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('runStarted'),
    run: RunInputSchema,
    executionArn: z.string(),
    definitionVersion: z.string(),
    /** The pipeline's enabled jobs and their dependencies, kept on the run record. */
    graph: z.record(z.string(), z.array(z.string())),
  }),
  z.object({
    action: z.literal('jobFailed'),
    run: RunInputSchema,
    jobId: z.string(),
    executionArn: z.string(),
    maxAttempts: z.number().int(),
    /** `$.job` as the branch left it: `{ result }` (the job's own answer) or what Catch caught (`{ Error, Cause }`). */
    outcome: z.unknown(),
  }),
  z.object({
    action: z.literal('runFinished'),
    run: RunInputSchema,
    executionArn: z.string(),
    status: z.enum([RunStatus.SUCCEEDED, RunStatus.FAILED]),
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

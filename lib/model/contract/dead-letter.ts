/** The dead-letter message Phi sends for each permanently failed job (spec Rule 15). */
import { z } from 'zod';
import { ParametersSchema } from '../pipeline.ts';
import { ErrorCategory, TriggerType } from './status.ts';
import { IsoTimeSchema } from './task.ts';

export const DeadLetterMessageSchema = z.object({
  kind: z.literal('phi.job.failed'),
  pipelineId: z.string(),
  runId: z.string(),
  jobId: z.string(),
  attempts: z.number().int(),
  errorCode: z.string(),
  errorMessage: z.string(),
  errorCategory: z.enum(ErrorCategory),
  parameters: ParametersSchema,
  executionArn: z.string(),
  trigger: z.enum(TriggerType),
  scheduledTime: IsoTimeSchema.optional(),
  failedAt: IsoTimeSchema,
});
export type DeadLetterMessage = z.infer<typeof DeadLetterMessageSchema>;

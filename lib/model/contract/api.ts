/** The control API's bodies and error codes, shared by the API function and its client. */
import { z } from 'zod';
import { JobStatus } from './status.ts';
import { JobAttemptRecordSchema, RunRecordSchema } from './records.ts';
import { RunParametersSchema } from './task.ts';

export const ApiErrorCode = {
  INVALID_JSON: 'API_001_INVALID_JSON',
  INVALID_REQUEST: 'API_002_INVALID_REQUEST',
  PIPELINE_NOT_FOUND: 'API_003_PIPELINE_NOT_FOUND',
  RUN_NOT_FOUND: 'API_004_RUN_NOT_FOUND',
  IDEMPOTENCY_CONFLICT: 'API_005_IDEMPOTENCY_CONFLICT',
  ROUTE_NOT_FOUND: 'API_006_ROUTE_NOT_FOUND',
} as const;

/** `POST /pipelines/{id}/runs` body. */
export const StartRunRequestSchema = z
  .object({
    parameters: RunParametersSchema.optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
  })
  .strict();
export type StartRunRequest = z.infer<typeof StartRunRequestSchema>;

/** `POST /pipelines/{id}/runs` answer: the run, and whether this request created it. */
export const StartRunResponseSchema = z.object({ created: z.boolean(), run: RunRecordSchema });

/** A run as the API and the CLI show it: the record, and each job's status and attempts in order. */
export const RunViewSchema = z.object({
  run: RunRecordSchema,
  jobs: z.record(z.string(), z.object({ status: z.enum(JobStatus), attempts: z.array(JobAttemptRecordSchema) })),
});
export type RunView = z.infer<typeof RunViewSchema>;

/** Every error answer: `{ error: { code, message, … } }`. */
export const ErrorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }).passthrough() });

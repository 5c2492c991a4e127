/** The dead-letter message Phi sends for each permanently failed job (spec Rule 15). */
import { z } from 'zod';
import { ParametersSchema, PipelineIdSchema } from '../pipeline.ts';
import { RunRecordSchema } from './records.ts';
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

/** An SQS message id (a UUID on AWS and the emulator): anything else names no dead letter. */
export const DeadLetterIdSchema = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'not a message id');

/** The most dead letters one scan of the queue looks at (`DEAD_LETTER_SCAN_PAGES` receives of 10): list, show, retry and purge see at most these. */
export const DEAD_LETTER_SCAN_PAGES = 20;
export const DEAD_LETTER_SCAN_LIMIT = DEAD_LETTER_SCAN_PAGES * 10;
/** The most letters one `POST /dead-letters/retry` starts runs for (call again for the rest: `complete` says whether any are left). */
export const MAX_RETRIES_PER_REQUEST = 20;
/** The oldest a purge's `olderThanSeconds` can ask for: SQS keeps a message 14 days at most. */
export const MAX_PURGE_AGE_SECONDS = 14 * 86_400;

/** One dead letter waiting in the queue: its message id, when SQS got it, how often it was received, and the letter. */
export const DeadLetterEntrySchema = z.object({
  messageId: z.string(),
  sentAt: IsoTimeSchema.optional(),
  receiveCount: z.number().int().min(0).optional(),
  letter: DeadLetterMessageSchema,
});
export type DeadLetterEntry = z.infer<typeof DeadLetterEntrySchema>;

/** `GET /dead-letters?pipeline=&limit=`. */
export const DeadLetterListQuerySchema = z
  .object({
    pipeline: PipelineIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(DEAD_LETTER_SCAN_LIMIT).default(100),
  })
  .strict();
export type DeadLetterListQuery = z.input<typeof DeadLetterListQuerySchema>;

/**
 * `GET /dead-letters` answer: the letters, oldest first as SQS hands them out. `scanned`: how many
 * messages the scan looked at; `complete`: false when the scan stopped at its bound (more may wait).
 */
export const DeadLetterListResponseSchema = z.object({ letters: z.array(DeadLetterEntrySchema), scanned: z.number().int().min(0), complete: z.boolean() });
export type DeadLetterListResponse = z.infer<typeof DeadLetterListResponseSchema>;

/** `GET /dead-letters/{messageId}` answer. */
export const DeadLetterShowResponseSchema = DeadLetterEntrySchema;

/** `POST /dead-letters/{messageId}/retry` answer: the retry run (`created: false` when an earlier retry of the letter started it) and whether the letter was deleted now. */
export const DeadLetterRetryResponseSchema = z.object({ messageId: z.string(), created: z.boolean(), deleted: z.boolean(), run: RunRecordSchema });
export type DeadLetterRetryResponse = z.infer<typeof DeadLetterRetryResponseSchema>;

/** `POST /dead-letters/retry` body: every waiting letter (of `pipeline`), `all: true` saying so. */
export const DeadLetterRetryAllRequestSchema = z.object({ pipeline: PipelineIdSchema.optional(), all: z.literal(true) }).strict();
export type DeadLetterRetryAllRequest = z.infer<typeof DeadLetterRetryAllRequestSchema>;

/** `POST /dead-letters/retry` answer: the letters retried and those that could not be (kept in the queue), and whether letters were left (`complete: false`: call again). */
export const DeadLetterRetryAllResponseSchema = z.object({
  retried: z.array(z.object({ messageId: z.string(), runId: z.string(), created: z.boolean() })),
  failed: z.array(z.object({ messageId: z.string(), code: z.string(), message: z.string() })),
  scanned: z.number().int().min(0),
  complete: z.boolean(),
});
export type DeadLetterRetryAllResponse = z.infer<typeof DeadLetterRetryAllResponseSchema>;

/** `POST /dead-letters/purge` body: delete the letters SQS got more than `olderThanSeconds` ago. */
export const DeadLetterPurgeRequestSchema = z.object({ olderThanSeconds: z.number().int().min(0).max(MAX_PURGE_AGE_SECONDS) }).strict();
export type DeadLetterPurgeRequest = z.infer<typeof DeadLetterPurgeRequestSchema>;

/** `POST /dead-letters/purge` answer: what was deleted. */
export const DeadLetterPurgeResponseSchema = z.object({ purged: z.number().int().min(0), messageIds: z.array(z.string()), scanned: z.number().int().min(0), complete: z.boolean() });
export type DeadLetterPurgeResponse = z.infer<typeof DeadLetterPurgeResponseSchema>;

/**
 * Pause and resume (the spec's `SCHEDULER_ENABLED` and its `PAUSE_SCHEDULING` emergency action) and the
 * audit log of operator actions through the control API.
 *
 * A pause is a flag in the records table (`recordKeys.pauses`), for one pipeline or for all of them
 * (`ALL_PIPELINES`), never a change to the deployed Scheduler schedules or EventBridge rules: every
 * start reads the flags and `evaluateStart` refuses a scheduled or event-triggered start of a paused
 * pipeline (`PAUSE` check, recorded SKIPPED with reason `PAUSED`). Manual starts (the API, backfills,
 * dead-letter retries) go on. A pipeline's pause and the global one are independent switches: resuming
 * one leaves the other as it is.
 *
 * Every pause and resume, and every start, cancel, dead-letter retry and purge through the API, is an
 * audit record: who (the caller's IAM identity), what, when, why. So is every deploy that changes a
 * pipeline's definition (`DEPLOY`, with `definition`: what changed, from which commit; see `./definition.ts`).
 */
import { z } from 'zod';
import { PipelineIdSchema } from '../pipeline.ts';
import { IsoTimeSchema } from './task.ts';
import { DefinitionChangeSchema } from './definition.ts';

/** What a pause or an audit record names instead of one pipeline: every pipeline of the deployment. */
export const ALL_PIPELINES = '*';

/** The longest reason a pause, resume or other action may carry. */
export const MAX_REASON_LENGTH = 1000;

/** One pause as stored: who paused, when, and why. */
export const PauseFlagSchema = z
  .object({
    by: z.string().min(1),
    at: IsoTimeSchema,
    reason: z.string().max(MAX_REASON_LENGTH).optional(),
  })
  .strict();
export type PauseFlag = z.infer<typeof PauseFlagSchema>;

/** Every pause of the deployment: the global one (`all`) and each paused pipeline's. */
export interface Pauses {
  readonly all?: PauseFlag;
  readonly pipelines: Readonly<Record<string, PauseFlag>>;
}

/** `POST /pipelines/{id}/pause|resume` and `POST /pause|resume` body. */
export const PauseRequestSchema = z.object({ reason: z.string().max(MAX_REASON_LENGTH).optional() }).strict();
export type PauseRequest = z.infer<typeof PauseRequestSchema>;

/**
 * A pipeline's pause state (`GET /pipelines/{id}/paused`, and the answer of its pause and resume), or
 * the deployment's (`pipelineId: '*'`, the answer of `POST /pause|resume`). `paused`: whether its
 * scheduled and event-triggered starts are held now, by its own pause or by the global one.
 */
export const PauseStateSchema = z.object({
  pipelineId: z.union([PipelineIdSchema, z.literal(ALL_PIPELINES)]),
  paused: z.boolean(),
  /** The pipeline's own pause (absent for `*`). */
  pipeline: PauseFlagSchema.optional(),
  /** The pause of every pipeline (`phi pause --all`). */
  all: PauseFlagSchema.optional(),
});
export type PauseState = z.infer<typeof PauseStateSchema>;

/** The operator actions the audit log records. */
export const AuditAction = {
  PAUSE: 'PAUSE',
  RESUME: 'RESUME',
  /** A run started through the API (`phi run`, a backfill's run); not a dry run. */
  START: 'START',
  CANCEL: 'CANCEL',
  /** A dead letter retried (one, or `--all`: one record each call). */
  RETRY: 'RETRY',
  PURGE: 'PURGE',
  /**
   * A deploy that changed a pipeline's definition (created, changed, or its stack deleted), recorded by
   * the platform's definition recorder from CloudFormation: `definition` says what changed.
   */
  DEPLOY: 'DEPLOY',
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

/** One audit record. */
export const AuditRecordSchema = z
  .object({
    /** Unique; with `at`, its place in the log. */
    id: z.string().min(1),
    action: z.enum(AuditAction),
    /** The pipeline acted on, or `*` (every pipeline: a global pause, a purge). */
    pipeline: z.union([PipelineIdSchema, z.literal(ALL_PIPELINES)]),
    /**
     * The caller's IAM identity, as API Gateway's IAM authorization identified it. For `DEPLOY`,
     * `cloudformation:<stack>`: CloudFormation does not tell a custom resource who deployed (CloudTrail's
     * UpdateStack event does); the commit's author is in `definition.author`.
     */
    by: z.string().min(1),
    at: IsoTimeSchema,
    reason: z.string().max(MAX_REASON_LENGTH).optional(),
    /** The run it started or cancelled. */
    runId: z.string().optional(),
    /** The dead letter it retried. */
    messageId: z.string().optional(),
    /** What else is worth knowing, for people: `created`, `3 retried`, `job extract, scope ALL_DOWNSTREAM`. */
    detail: z.string().max(2000).optional(),
    /** `DEPLOY`: the definition change. */
    definition: DefinitionChangeSchema.optional(),
  })
  .strict();
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/** The most records one `GET /audit` answers. */
export const MAX_AUDIT_PAGE = 200;

/** `GET /audit?pipeline=&limit=`: the newest records (of `pipeline`, and the global ones that concern it). */
export const AuditQuerySchema = z
  .object({
    pipeline: PipelineIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(50),
  })
  .strict();
export type AuditQuery = z.input<typeof AuditQuerySchema>;

/** `GET /audit` answer: newest first; `complete: false` when the read stopped at its bound (older records may match). */
export const AuditResponseSchema = z.object({ records: z.array(AuditRecordSchema), complete: z.boolean() });
export type AuditResponse = z.infer<typeof AuditResponseSchema>;

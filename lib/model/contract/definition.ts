/**
 * Definition-change records (issue #10, Audit): every deploy that changes a pipeline's definition is an
 * audit record (`DEPLOY`) saying what changed, from which definition, and from which commit.
 *
 * The boundary: each pipeline stack holds one CloudFormation custom resource (`Custom::PhiDefinition`)
 * whose properties are the definition's summary (`DefinitionSummary`, compact: a short hash per job and
 * trigger, the schedules as people read them) and where it came from (`DeploySource`: git commit, author,
 * whether the work tree was dirty), each a JSON string (CloudFormation hands a custom resource every
 * scalar as a string; one JSON string each arrives as written). CloudFormation invokes the platform's
 * definition recorder with them on each create, update and delete of that resource, which happens
 * whenever the properties change: a deploy that changes nothing invokes nothing.
 *
 * The recorder keeps one pointer item per pipeline (`recordKeys.definition`): the last definition it
 * recorded. Only when a deploy's hash differs from the pointer's (or there is none) does it write, in one
 * transaction conditional on the pointer it read, the new pointer and the audit record with the
 * difference (`definitionChange`). A redeploy of the same definition (a new commit that leaves it as it
 * was, or CloudFormation repeating a request) writes nothing; a rollback writes the change back, as it is
 * one. Pure: schemas, constants and the difference.
 */
import { z } from 'zod';
import { JobIdSchema, PipelineIdSchema } from '../pipeline.ts';
import { IsoTimeSchema } from './task.ts';

/** The custom resource type of a pipeline's definition record. */
export const DEFINITION_RESOURCE_TYPE = 'Custom::PhiDefinition';

/** A short content hash (first 8 hex digits of a SHA-256): enough to tell a job's configuration changed. */
export const ShortHashSchema = z.string().regex(/^[0-9a-f]{8}$/);

/** The definition's own hash: the plan's `definitionVersion` (first 16 hex digits of a SHA-256). */
export const DefinitionHashSchema = z.string().regex(/^[0-9a-f]{16}$/);

/**
 * Bytes the per-job hashes of one summary may take (as JSON). Past this (about 1,000 jobs with 40-letter
 * ids, 2,500 with ids of `j0001`'s length) the summary keeps only their count and one digest of them all:
 * CloudFormation hands an update the old properties and the new (Lambda takes 256 KB an asynchronous
 * event) and a template is at most 1 MB, so what grows with the jobs is bounded.
 */
export const MAX_JOB_HASHES_BYTES = 48 * 1024;

/** The most names a change lists of each kind (jobs added, removed, changed…); its counts say how many in all. */
export const MAX_LISTED_CHANGES = 50;

/** The longest a schedule's description may be in a summary or a record. */
export const MAX_SCHEDULE_TEXT = 300;

/** What a pipeline's definition is, compact enough to be a custom resource property and to diff. */
export const DefinitionSummarySchema = z
  .object({
    pipelineId: PipelineIdSchema,
    /** The plan's `definitionVersion`: changes whenever the definition does. */
    hash: DefinitionHashSchema,
    /** The definition's own version label, when it has one. */
    version: z.string().max(200).optional(),
    /** Each job's id → the short hash of its resolved configuration; absent past `MAX_JOB_HASHES_BYTES`. */
    jobs: z.record(JobIdSchema, ShortHashSchema).optional(),
    jobCount: z.number().int().min(0),
    /** The short hash of every job's configuration together: whether the jobs changed when they are not listed. */
    jobsDigest: ShortHashSchema,
    /** Each schedule as people read it: `default: cron: 0 6 * * 1-5 (Europe/Paris)`, with its dates, state and parameters. */
    schedules: z.array(z.string().max(MAX_SCHEDULE_TEXT)),
    /** Each trigger's id → the short hash of its compiled configuration. */
    triggers: z.record(z.string(), ShortHashSchema),
    /** The short hash of the rest (description, start rules, run parameters, alarms, datasets provided). */
    settings: ShortHashSchema,
    /** Each handler file (relative to the definition) → the short hash of its bundled code: a change of code alone is a change. */
    code: z.record(z.string(), ShortHashSchema).optional(),
  });
export type DefinitionSummary = z.infer<typeof DefinitionSummarySchema>;

/**
 * Where a deploy's definitions came from, read at synth: the git commit, its author, and whether the
 * work tree had uncommitted changes (then the commit does not describe what was deployed). Each is
 * absent when unknown (no git, not a repository); CI systems without a `.git` set `PHI_DEPLOY_COMMIT`
 * and `PHI_DEPLOY_AUTHOR` instead (`infra/source.ts`).
 */
export const DeploySourceSchema = z
  .object({
    commit: z.string().min(1).max(100).optional(),
    author: z.string().min(1).max(300).optional(),
    dirty: z.boolean().optional(),
  })
  .strict();
export type DeploySource = z.infer<typeof DeploySourceSchema>;

/** The custom resource's properties (`ServiceToken` aside): the pipeline, its summary and its source, each a string. */
export const DEFINITION_PROPERTIES = { pipelineId: 'PipelineId', summary: 'Summary', source: 'Source' } as const;

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

/** The properties as CloudFormation hands them to the recorder (its own `ServiceToken`, and any it adds, ignored). */
export const DefinitionPropertiesSchema = z
  .object({
    [DEFINITION_PROPERTIES.pipelineId]: PipelineIdSchema,
    [DEFINITION_PROPERTIES.summary]: jsonOf(DefinitionSummarySchema),
    [DEFINITION_PROPERTIES.source]: jsonOf(DeploySourceSchema).optional(),
  })
  .refine((p) => p[DEFINITION_PROPERTIES.summary].pipelineId === p[DEFINITION_PROPERTIES.pipelineId], { message: 'the summary is of another pipeline' });

/**
 * The pointer item: the last definition recorded for a pipeline. No TTL: it is what the next deploy is
 * compared with. Read leniently (its summary too): fields another version of Phi wrote are left aside,
 * so a pointer never blocks a deploy.
 */
export const DefinitionPointerSchema = z
  .object({
    summary: DefinitionSummarySchema,
    /** When it was recorded. */
    at: IsoTimeSchema,
    /** The CloudFormation request that recorded it: the next write is conditional on it. */
    requestId: z.string().min(1),
  });
export type DefinitionPointer = z.infer<typeof DefinitionPointerSchema>;

/** What a definition record says happened. */
export const DefinitionChangeKind = {
  /** No earlier record: the pipeline's first deploy (or its first since definition records began). */
  CREATED: 'CREATED',
  CHANGED: 'CHANGED',
} as const;
export type DefinitionChangeKind = (typeof DefinitionChangeKind)[keyof typeof DefinitionChangeKind];

/** Names added, removed and changed (each list at most `MAX_LISTED_CHANGES`), and how many in all. */
export const ListedChangesSchema = z
  .object({
    added: z.array(z.string()).max(MAX_LISTED_CHANGES),
    removed: z.array(z.string()).max(MAX_LISTED_CHANGES),
    changed: z.array(z.string()).max(MAX_LISTED_CHANGES),
    counts: z.object({ added: z.number().int().min(0), removed: z.number().int().min(0), changed: z.number().int().min(0) }).strict(),
    /** Too many jobs to list by name (`MAX_JOB_HASHES_BYTES`): they changed, which ones is not known. */
    unlisted: z.literal(true).optional(),
  })
  .strict();
export type ListedChanges = z.infer<typeof ListedChangesSchema>;

/** A `DEPLOY` audit record's `definition`: the change, the definitions on either side, and where the new one came from. */
export const DefinitionChangeSchema = z
  .object({
    change: z.enum(DefinitionChangeKind),
    /** The definition deployed. */
    hash: DefinitionHashSchema,
    version: z.string().max(200).optional(),
    /** The definition recorded before (absent for `CREATED` without an earlier record). */
    previousHash: DefinitionHashSchema.optional(),
    previousVersion: z.string().max(200).optional(),
    /** The CloudFormation stack that deployed it. */
    stack: z.string().min(1).max(200),
    jobCount: z.number().int().min(0),
    /** Absent when no job changed. */
    jobs: ListedChangesSchema.optional(),
    /** Absent when no trigger changed. */
    triggers: ListedChangesSchema.optional(),
    /** The handler files whose code changed (and those added or removed); absent when none did. */
    code: ListedChangesSchema.optional(),
    /** The schedules as they were and as they are, only those that differ; absent when none does. */
    schedules: z.object({ before: z.array(z.string().max(MAX_SCHEDULE_TEXT)).max(MAX_LISTED_CHANGES), after: z.array(z.string().max(MAX_SCHEDULE_TEXT)).max(MAX_LISTED_CHANGES) }).strict().optional(),
    /**
     * Something else changed: description, start rules, run parameters, alarms or datasets provided (or,
     * when nothing above differs, whatever made the hash differ: a change is never recorded empty).
     */
    settings: z.literal(true).optional(),
    ...DeploySourceSchema.shape,
  })
  .strict();
export type DefinitionChange = z.infer<typeof DefinitionChangeSchema>;

/** `before` → `after` of keyed short hashes: each list sorted, capped; absent when nothing differs. */
export function keyedChanges(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): ListedChanges | undefined {
  const added = Object.keys(after).filter((k) => !Object.hasOwn(before, k)).sort();
  const removed = Object.keys(before).filter((k) => !Object.hasOwn(after, k)).sort();
  const changed = Object.keys(after).filter((k) => Object.hasOwn(before, k) && before[k] !== after[k]).sort();
  if (added.length + removed.length + changed.length === 0) return undefined;
  const cap = (names: string[]): string[] => names.slice(0, MAX_LISTED_CHANGES);
  return { added: cap(added), removed: cap(removed), changed: cap(changed), counts: { added: added.length, removed: removed.length, changed: changed.length } };
}

/** The jobs' change: listed by name when both sides list them, else only that they changed. */
function jobChanges(before: DefinitionSummary | undefined, after: DefinitionSummary): ListedChanges | undefined {
  const unlisted = (added: number): ListedChanges => ({ added: [], removed: [], changed: [], counts: { added, removed: 0, changed: 0 }, unlisted: true });
  if (before === undefined) return after.jobs === undefined ? unlisted(after.jobCount) : keyedChanges({}, after.jobs);
  if (before.jobs !== undefined && after.jobs !== undefined) return keyedChanges(before.jobs, after.jobs);
  return before.jobsDigest === after.jobsDigest ? undefined : unlisted(0);
}

/**
 * What changed from `before` (the pointer's summary; absent: none recorded) to `after`, as a `DEPLOY`
 * record's `definition`. `CREATED` lists every job and trigger as added and every schedule as after.
 */
export function definitionChange(before: DefinitionSummary | undefined, after: DefinitionSummary, context: { readonly stack: string; readonly source?: DeploySource }): DefinitionChange {
  const jobs = jobChanges(before, after);
  const triggers = keyedChanges(before?.triggers ?? {}, after.triggers);
  // Listed for a change only: a creation's code is all new.
  const code = before !== undefined ? keyedChanges(before.code ?? {}, after.code ?? {}) : undefined;
  const was = new Set(before?.schedules ?? []);
  const is = new Set(after.schedules);
  const schedulesBefore = [...was].filter((s) => !is.has(s));
  const schedulesAfter = [...is].filter((s) => !was.has(s));
  const cap = (list: string[]): string[] => list.slice(0, MAX_LISTED_CHANGES);
  const listed = jobs !== undefined || triggers !== undefined || code !== undefined || schedulesBefore.length + schedulesAfter.length > 0;
  const settings = before !== undefined && (before.settings !== after.settings || !listed);
  return {
    change: before === undefined ? DefinitionChangeKind.CREATED : DefinitionChangeKind.CHANGED,
    hash: after.hash,
    ...(after.version !== undefined ? { version: after.version } : {}),
    ...(before !== undefined ? { previousHash: before.hash } : {}),
    ...(before?.version !== undefined ? { previousVersion: before.version } : {}),
    stack: context.stack,
    jobCount: after.jobCount,
    ...(jobs !== undefined ? { jobs } : {}),
    ...(triggers !== undefined ? { triggers } : {}),
    ...(code !== undefined ? { code } : {}),
    ...(schedulesBefore.length + schedulesAfter.length > 0 ? { schedules: { before: cap(schedulesBefore), after: cap(schedulesAfter) } } : {}),
    ...(settings ? { settings: true as const } : {}),
    ...context.source,
  };
}

/**
 * The definition recorder: the function behind each pipeline stack's `Custom::PhiDefinition` resource
 * (`infra/constructs/pipeline.ts`), which CloudFormation invokes directly (no provider framework, so no
 * function of CDK's own beside it) on each create, update and delete of that resource, and which answers
 * CloudFormation itself, with a PUT to the request's `ResponseURL`.
 *
 * What it records, and why this way (`lib/model/contract/definition.ts`): the pipeline's pointer (the last
 * definition recorded) is compared with the deploy's summary; only a different hash (or no pointer) writes,
 * in one transaction conditional on the pointer read, the new pointer and a `DEPLOY` audit record with
 * the difference. The same hash writes nothing: a deploy whose properties changed only in their commit, a
 * request CloudFormation or Lambda repeats. A deletion of the resource records nothing (a rollback of the
 * update that created it deletes it too, the pipeline still deployed).
 *
 * It always answers, and answers once it is done: a create or an update it could not record answers
 * FAILED with why, and the deploy rolls back (no definition deployed without its record, as no pause
 * changes without its own); a delete always answers SUCCESS (a stack's deletion is never held up by its
 * record; a failure is logged). Only when the answer itself cannot be sent does it throw, so that Lambda
 * invokes it again (recording is idempotent); CloudFormation gives up on the resource after its
 * `ServiceTimeout` otherwise.
 */
import { z } from 'zod';
import {
  AuditAction,
  DEFINITION_PROPERTIES,
  DefinitionPropertiesSchema,
  definitionChange,
  type AuditRecord,
  type DefinitionChange,
  type DefinitionSummary,
} from '../../lib/model/contract/index.ts';
import { canonicalJson } from '../../lib/model/canonical.ts';
import { describeError, PhiError } from '../../lib/model/errors.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import type { RecordStore } from '../shared/records/store.ts';
import { newAuditId } from './pauses.ts';

export class DefinitionRecordError extends PhiError {
  constructor(
    override readonly code: 'DEPLOY_001_INVALID_PROPERTIES' | 'DEPLOY_002_CONTENDED' | 'DEPLOY_003_NOT_ANSWERED' | 'DEPLOY_004_TOO_SLOW',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A CloudFormation custom resource request, as much of it as the recorder reads (CloudFormation may add fields). */
export const CloudFormationRequestSchema = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  ResponseURL: z.url(),
  StackId: z.string().min(1),
  RequestId: z.string().min(1),
  LogicalResourceId: z.string().min(1),
  /** Absent on a create: the answer names it. */
  PhysicalResourceId: z.string().min(1).optional(),
  ResourceProperties: z.record(z.string(), z.unknown()),
});
export type CloudFormationRequest = z.infer<typeof CloudFormationRequestSchema>;

/** What the recorder answers CloudFormation (its response object; 4 KB in all). */
export interface CloudFormationResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
}

/** What the recorder needs of the records table. */
export type DefinitionStore = Pick<RecordStore, 'getDefinitionPointer' | 'recordDefinition'>;

export interface DefinitionRecorderDeps {
  readonly store: DefinitionStore;
  readonly log: Logger;
  readonly now?: () => Date;
  /** How the answer is sent (a PUT to the presigned `ResponseURL`). @default the global fetch */
  readonly fetch?: (url: string, init: { method: 'PUT'; body: Uint8Array }) => Promise<Pick<Response, 'ok' | 'status'>>;
  /** How long the recording may take before it is answered FAILED, leaving the answer time within the function's timeout. @default RECORDING_DEADLINE_MS */
  readonly deadlineMs?: number;
}

/** Rounds of read, compare, write when another request wrote the pointer between the read and the write. */
export const RECORDING_ROUNDS = 3;
/** The recording's deadline: the function's timeout (`infra/constructs/platform.ts`) is 60 s; the answer has the rest. */
export const RECORDING_DEADLINE_MS = 45_000;
/** CloudFormation shows a failure's reason; the whole answer is at most 4 KB. */
const MAX_REASON = 1000;

/** The stack's name, from its id (`arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`). */
export const stackNameOf = (stackId: string): string => /:stack\/([^/]+)\//.exec(stackId)?.[1] ?? stackId;

/** The resource's physical id: one per pipeline, never changed by an update (a new one would make CloudFormation delete the old). */
export const definitionResourceId = (pipelineId: string): string => `phi-definition-${pipelineId}`;

/** What a request led to: the record written, or none (and why not, for the log). */
export type RecordingOutcome = { readonly recorded: DefinitionChange } | { readonly unchanged: string };

/**
 * Records the definition a create or an update deploys: the difference from the pointer, written with
 * the new pointer, unless the hash is the pointer's. Repeated when another request wrote the pointer
 * between the read and the write.
 */
export async function recordDeployed(request: CloudFormationRequest, deps: DefinitionRecorderDeps): Promise<RecordingOutcome> {
  const properties = parseProperties(request);
  const summary = properties[DEFINITION_PROPERTIES.summary];
  const source = properties[DEFINITION_PROPERTIES.source];
  const stack = stackNameOf(request.StackId);
  for (let round = 0; round < RECORDING_ROUNDS; round++) {
    const pointer = await deps.store.getDefinitionPointer(summary.pipelineId);
    const last = pointer?.summary;
    if (last !== undefined && sameDefinition(last, summary)) return { unchanged: `definition ${summary.hash} is the one recorded at ${pointer!.at}` };
    const change = definitionChange(last, summary, { stack, ...(source !== undefined ? { source } : {}) });
    const at = (deps.now ?? (() => new Date()))().toISOString();
    const written = await deps.store.recordDefinition(summary.pipelineId, { summary, at, requestId: request.RequestId }, pointer, deployRecord(summary.pipelineId, stack, at, change));
    if (written) return { recorded: change };
  }
  throw new DefinitionRecordError('DEPLOY_002_CONTENDED', `the definition pointer of ${summary.pipelineId} changed under each of ${RECORDING_ROUNDS} writes`);
}

/**
 * Whether two summaries describe the same definition: compared whole, the plan's hash apart. The hash is
 * of the definition as written (a handler's path as given, absolute ones too), while the summary is of
 * what it resolves to (handler paths relative to the definition, upstreams resolved across the
 * deployment, defaults filled in): a deploy from another checkout is no change, and a change the hash
 * does not see (a dataset's provider moved to another pipeline) is one.
 */
export const sameDefinition = (a: DefinitionSummary, b: DefinitionSummary): boolean => canonicalJson({ ...a, hash: '' }) === canonicalJson({ ...b, hash: '' });

function parseProperties(request: CloudFormationRequest): z.infer<typeof DefinitionPropertiesSchema> {
  const parsed = DefinitionPropertiesSchema.safeParse(request.ResourceProperties);
  if (!parsed.success) throw new DefinitionRecordError('DEPLOY_001_INVALID_PROPERTIES', `the ${request.LogicalResourceId} resource's properties are not a definition summary: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The audit record: by CloudFormation (who ran the deploy is not in the request), the commit's author in `definition.author`. */
const deployRecord = (pipeline: string, stack: string, at: string, definition: DefinitionChange): AuditRecord =>
  ({ id: newAuditId(), action: AuditAction.DEPLOY, pipeline, by: `cloudformation:${stack}`, at, definition });

/**
 * Handles one request and answers it: SUCCESS once recorded (or when there was nothing to record), FAILED
 * with why for a create or update that could not be; a delete is always SUCCESS, recording nothing. Throws only when the
 * answer could not be sent. A value that is not a request at all is logged and dropped: there is no
 * ResponseURL to answer.
 */
export async function handleDefinitionRequest(event: unknown, deps: DefinitionRecorderDeps): Promise<CloudFormationResponse | undefined> {
  const parsed = CloudFormationRequestSchema.safeParse(event);
  if (!parsed.success) {
    deps.log.error('not a CloudFormation custom resource request: dropped', { issues: z.prettifyError(parsed.error) });
    return undefined;
  }
  const request = parsed.data;
  const pipelineId = request.ResourceProperties[DEFINITION_PROPERTIES.pipelineId];
  const log = deps.log.child({ ...(typeof pipelineId === 'string' ? { pipelineId } : {}), requestType: request.RequestType, requestId: request.RequestId, stack: stackNameOf(request.StackId) });
  const base = {
    PhysicalResourceId: request.PhysicalResourceId ?? definitionResourceId(typeof pipelineId === 'string' ? pipelineId : request.LogicalResourceId),
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
  };
  let response: CloudFormationResponse;
  try {
    // A deletion records nothing: CloudFormation deletes the resource also when it rolls back the update
    // that created it, or when its logical id changes, while the pipeline stays deployed.
    const work = request.RequestType === 'Delete' ? Promise.resolve<RecordingOutcome>({ unchanged: 'a deletion of the resource records nothing' }) : recordDeployed(request, deps);
    const outcome = await within(work, deps.deadlineMs ?? RECORDING_DEADLINE_MS);
    if ('recorded' in outcome) log.info('definition recorded', { definition: outcome.recorded });
    else log.info('nothing to record', { why: outcome.unchanged });
    response = { Status: 'SUCCESS', ...base };
  } catch (err) {
    const reason = `Phi could not record the definition: ${describeError(err)}`.slice(0, MAX_REASON);
    // A deploy does not go on without its record (a deletion records nothing, so it never gets here).
    log.error('definition not recorded; the deploy fails', { error: describeError(err) });
    response = { Status: 'FAILED', Reason: reason, ...base };
  }
  await answer(request.ResponseURL, response, deps);
  return response;
}

/** `work`, or a failure once `ms` have passed (the work may still finish: its write is conditional, a repeat writes nothing). */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DefinitionRecordError('DEPLOY_004_TOO_SLOW', `recording took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The PUT to the presigned ResponseURL: a body of bytes, so that no Content-Type is sent (the URL is
 * signed without one; fetch would add `text/plain` to a string body).
 */
async function answer(url: string, response: CloudFormationResponse, deps: DefinitionRecorderDeps): Promise<void> {
  const send = deps.fetch ?? ((to, init) => fetch(to, init));
  const answered = await send(url, { method: 'PUT', body: new TextEncoder().encode(JSON.stringify(response)) });
  if (!answered.ok) throw new DefinitionRecordError('DEPLOY_003_NOT_ANSWERED', `CloudFormation's response URL answered ${answered.status} to the ${response.Status} answer`);
}

/** A store whose every call fails with `err`: the function could not build its own, and answers each request FAILED with why. */
const unavailable = (err: unknown): DefinitionStore => ({
  getDefinitionPointer: () => Promise.reject(err),
  recordDefinition: () => Promise.reject(err),
});

let lambdaStore: DefinitionStore | undefined;
/** The Lambda entry. */
export async function handler(event: unknown): Promise<void> {
  const log = createLogger({ component: 'definition-recorder' });
  let store: DefinitionStore;
  try {
    store = lambdaStore ??= recordStoreFromEnv();
  } catch (err) {
    store = unavailable(err);
  }
  await handleDefinitionRequest(event, { store, log });
}

/**
 * Definition-change records (issue #10, Audit): the summary a plan deploys (`definitionSummary`), the
 * change between two summaries (`definitionChange`), the definition recorder answering CloudFormation's
 * custom resource requests against the records table (the real store over the fake DynamoDB: the
 * pointer, the `DEPLOY` audit record, the PUT to the ResponseURL on success and on failure), where a
 * deploy came from (`infra/source.ts`), and how `phi audit` shows the records.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  definitionResourceId,
  handleDefinitionRequest,
  handler,
  stackNameOf,
  type CloudFormationRequest,
  type CloudFormationResponse,
  type DefinitionRecorderDeps,
  type DefinitionStore,
} from '../../functions/control/definition-recorder.ts';
import {
  AuditAction,
  AuditRecordSchema,
  DefinitionChangeKind,
  definitionChange,
  MAX_JOB_HASHES_BYTES,
  MAX_LISTED_CHANGES,
  type AuditRecord,
  type DefinitionSummary,
} from '../../lib/model/contract/index.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { definitionSummary, scheduleText } from '../../lib/plan/definition-summary.ts';
import { handlerCode } from '../../infra/handler-code.ts';
import type { PipelinePlan } from '../../lib/plan/types.ts';
import { definitionText, formatAudit } from '../../lib/cli/pause.ts';
import { deploySource, gitSource, sourceReader } from '../../infra/source.ts';
import { FakeDynamo, recordStoreOver } from './support/fake-dynamo.ts';
import { captureLogs, clock } from './support/memory-store.ts';
import { removeDefinitionDirs, writeDefinitionDir } from './support/temp-definitions.ts';

afterAll(removeDefinitionDirs);
afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

const NOW = new Date('2026-11-22T12:00:00Z');
const PIPELINE = 'daily-sales';
const STACK_ID = `arn:aws:cloudformation:us-east-1:123456789012:stack/Phi-${PIPELINE}/5b1c6f20-c8a1-11f0-9f1b-0a1b2c3d4e5f`;
const RESPONSE_URL = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation?X-Amz-Signature=abc';

/** A definition of `daily-sales`: `extract → transform → load`, plus what each test changes. */
const definition = (overrides: Record<string, unknown> = {}, jobs: Record<string, unknown> = {}) => ({
  id: PIPELINE,
  version: '1.0',
  schedule: { cron: '0 3 * * *', timezone: 'UTC' },
  jobs: {
    extract: { handler: './h/x.ts' },
    transform: { handler: './h/x.ts', dependsOn: ['extract'] },
    load: { handler: './h/x.ts', dependsOn: ['transform'] },
    ...jobs,
  },
  ...overrides,
});

async function planOf(value: object, dir?: string): Promise<PipelinePlan> {
  const where = dir ?? writeDefinitionDir({ handlers: ['h/x.ts'] });
  writeFileSync(path.join(where, 'p.ts'), `export default ${JSON.stringify(value)};\n`);
  const result = await planDefinitions(where, NOW);
  expect(result.problems).toEqual([]);
  return result.plan.pipelines[0]!;
}
const summaryOf = async (value: object): Promise<DefinitionSummary> => definitionSummary(await planOf(value));

describe('definitionSummary: what a deploy hands the recorder', () => {
  it('is the plan’s hash and version, a short hash per job, the schedules as people read them, a hash of the rest', async () => {
    const plan = await planOf(definition());
    const summary = definitionSummary(plan);
    expect(summary).toMatchObject({ pipelineId: PIPELINE, hash: plan.definitionVersion, version: '1.0', jobCount: 3, schedules: ['default: cron: 0 3 * * * (UTC)'], triggers: {} });
    expect(Object.keys(summary.jobs!).sort()).toEqual(['extract', 'load', 'transform']);
    for (const hash of [...Object.values(summary.jobs!), summary.jobsDigest, summary.settings]) expect(hash).toMatch(/^[0-9a-f]{8}$/);
  });

  it('is the same for the same definitions in another directory (a handler’s path counts relative to its definition)', async () => {
    expect(await summaryOf(definition())).toEqual(await summaryOf(definition()));
  });

  it('hashes each handler file’s bundled code: the same code in another directory alike, a change of the file or of a module it imports not', async () => {
    const dirOf = (helper: string): string => {
      const dir = writeDefinitionDir({ handlers: [] });
      mkdirSync(path.join(dir, 'h'), { recursive: true });
      writeFileSync(path.join(dir, 'h', 'util.ts'), `export const rows = () => ${helper};\n`);
      writeFileSync(path.join(dir, 'h', 'x.ts'), "import type { TaskHandler } from 'phi/runtime';\nimport { rows } from './util.ts';\nexport const handler: TaskHandler = async () => ({ rows: rows() });\n");
      return dir;
    };
    const codeOf = async (dir: string) => handlerCode(await planOf(definition(), dir));
    const a = await codeOf(dirOf('1'));
    expect(Object.keys(a)).toEqual(['h/x.ts']);
    expect(await codeOf(dirOf('1'))).toEqual(a);
    expect((await codeOf(dirOf('2')))['h/x.ts']).not.toBe(a['h/x.ts']);
    const plan = await planOf(definition(), dirOf('1'));
    expect(definitionSummary(plan, handlerCode(plan)).code).toEqual(a);
    expect(definitionSummary(plan)).not.toHaveProperty('code');
  });

  it('changes only the hash of the job whose configuration changed; a pipeline parameter changes every job’s', async () => {
    const before = await summaryOf(definition());
    const timeout = await summaryOf(definition({}, { transform: { handler: './h/x.ts', dependsOn: ['extract'], timeoutSeconds: 120 } }));
    expect(Object.entries(timeout.jobs!).filter(([id, hash]) => before.jobs![id] !== hash).map(([id]) => id)).toEqual(['transform']);
    const parameters = await summaryOf(definition({ parameters: { region: 'eu' } }));
    expect(Object.entries(parameters.jobs!).filter(([id, hash]) => before.jobs![id] !== hash).map(([id]) => id).sort()).toEqual(['extract', 'load', 'transform']);
    // Another job’s new upstream moves the others’ layers, not their hashes.
    const added = await summaryOf(definition({}, { check: { handler: './h/x.ts' }, extract: { handler: './h/x.ts', dependsOn: ['check'] } }));
    expect(added.jobs!.load).toBe(before.jobs!.load);
    expect(added.jobs!.extract).not.toBe(before.jobs!.extract);
  });

  it('describes a schedule with its dates and state', async () => {
    const plan = await planOf(definition({
      schedule: undefined,
      runParameters: undefined,
      schedules: [{ id: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Paris', startDate: '2026-01-01T00:00:00Z', enabled: false }],
    }));
    expect(plan.schedules.map(scheduleText)).toEqual(['nightly: cron: 0 2 * * * (Europe/Paris), from 2026-01-01T00:00:00Z, disabled']);
  });

  it(`keeps only the jobs’ count and digest past ${MAX_JOB_HASHES_BYTES} bytes of job hashes`, async () => {
    const id = (i: number): string => `job-${String(i).padStart(5, '0')}`.padEnd(40, 'x');
    const jobs = Object.fromEntries(Array.from({ length: 1_500 }, (_, i) => [id(i), { handler: './h/x.ts' }]));
    const summary = await summaryOf({ id: PIPELINE, jobs });
    expect(summary.jobs).toBeUndefined();
    expect(summary).toMatchObject({ jobCount: 1_500, jobsDigest: expect.stringMatching(/^[0-9a-f]{8}$/) });
  });
});

describe('definitionChange: what changed between two summaries', () => {
  const summary = (over: Partial<DefinitionSummary> = {}): DefinitionSummary => ({
    pipelineId: PIPELINE,
    hash: '1111111111111111',
    version: '1.0',
    jobs: { extract: 'aaaaaaaa', transform: 'bbbbbbbb', load: 'cccccccc' },
    jobCount: 3,
    jobsDigest: '0000000a',
    schedules: ['default: cron: 0 3 * * * (UTC)'],
    triggers: {},
    settings: 'eeeeeeee',
    ...over,
  });
  const context = { stack: `Phi-${PIPELINE}` };

  it('CREATED without a summary before: every job added, every schedule after, no previous hash', () => {
    expect(definitionChange(undefined, summary(), { ...context, source: { commit: 'abc123', author: 'Alice <alice@example.com>', dirty: true } })).toEqual({
      change: DefinitionChangeKind.CREATED,
      hash: '1111111111111111',
      version: '1.0',
      stack: `Phi-${PIPELINE}`,
      jobCount: 3,
      jobs: { added: ['extract', 'load', 'transform'], removed: [], changed: [], counts: { added: 3, removed: 0, changed: 0 } },
      schedules: { before: [], after: ['default: cron: 0 3 * * * (UTC)'] },
      commit: 'abc123',
      author: 'Alice <alice@example.com>',
      dirty: true,
    });
  });

  it('CHANGED: jobs added, removed and changed (sorted), the schedules that differ, triggers, the previous hash and version', () => {
    const after = summary({
      hash: '2222222222222222',
      version: '1.1',
      jobs: { extract: 'aaaaaaaa', transform: 'bbbbbbb2', publish: 'dddddddd', archive: 'ffffffff' },
      jobCount: 4,
      jobsDigest: '0000000b',
      schedules: ['default: cron: 0 4 * * * (UTC)', 'weekly: cron: 0 5 * * 1 (UTC)'],
      triggers: { orders: '12345678' },
    });
    expect(definitionChange(summary(), after, context)).toEqual({
      change: DefinitionChangeKind.CHANGED,
      hash: '2222222222222222',
      version: '1.1',
      previousHash: '1111111111111111',
      previousVersion: '1.0',
      stack: `Phi-${PIPELINE}`,
      jobCount: 4,
      jobs: { added: ['archive', 'publish'], removed: ['load'], changed: ['transform'], counts: { added: 2, removed: 1, changed: 1 } },
      triggers: { added: ['orders'], removed: [], changed: [], counts: { added: 1, removed: 0, changed: 0 } },
      schedules: { before: ['default: cron: 0 3 * * * (UTC)'], after: ['default: cron: 0 4 * * * (UTC)', 'weekly: cron: 0 5 * * 1 (UTC)'] },
    });
  });

  it('says nothing of what did not change, and flags the other settings when they did', () => {
    const change = definitionChange(summary(), summary({ hash: '2222222222222222', settings: 'eeeeeee2' }), context);
    expect(change).not.toHaveProperty('jobs');
    expect(change).not.toHaveProperty('schedules');
    expect(change).not.toHaveProperty('triggers');
    expect(change.settings).toBe(true);
  });

  it('is never empty: a hash that changed with nothing listed is a change of the other settings', () => {
    expect(definitionChange(summary(), summary({ hash: '2222222222222222' }), context).settings).toBe(true);
    expect(definitionChange(summary(), summary({ hash: '2222222222222222', jobs: { extract: 'aaaaaaa2', transform: 'bbbbbbbb', load: 'cccccccc' } }), context)).not.toHaveProperty('settings');
  });

  it(`lists at most ${MAX_LISTED_CHANGES} names of each kind, and counts them all`, () => {
    const many = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`j${String(i).padStart(3, '0')}`, 'aaaaaaaa']));
    const change = definitionChange(summary(), summary({ hash: '2222222222222222', jobs: many, jobCount: 120 }), context);
    expect(change.jobs!.added).toHaveLength(MAX_LISTED_CHANGES);
    expect(change.jobs!.added[0]).toBe('j000');
    expect(change.jobs!.counts).toEqual({ added: 120, removed: 3, changed: 0 });
    expect(AuditRecordSchema.safeParse({ id: 'x', action: AuditAction.DEPLOY, pipeline: PIPELINE, by: 'cloudformation:s', at: NOW.toISOString(), definition: change }).success).toBe(true);
  });

  it('says the jobs changed without naming them when a side does not list them, by their digest', () => {
    const unlisted = { jobs: undefined, jobCount: 5000 };
    expect(definitionChange(summary(), summary({ hash: '2222222222222222', ...unlisted, jobsDigest: '0000000c' }), context).jobs).toEqual({ added: [], removed: [], changed: [], counts: { added: 0, removed: 0, changed: 0 }, unlisted: true });
    expect(definitionChange(summary({ ...unlisted }), summary({ hash: '2222222222222222', ...unlisted }), context)).not.toHaveProperty('jobs');
    expect(definitionChange(undefined, summary(unlisted), context).jobs).toMatchObject({ counts: { added: 5000 }, unlisted: true });
  });
});

/** The recorder over the real store and a fake DynamoDB table, and every answer it PUT. */
function recorder(instants: string[] = ['2026-11-22T12:00:00.000Z', '2026-11-23T09:30:00.000Z', '2026-11-24T08:00:00.000Z', '2026-11-25T07:00:00.000Z']) {
  const dynamo = new FakeDynamo(50);
  const store = recordStoreOver(dynamo);
  const { log, lines } = captureLogs({ component: 'definition-recorder' });
  const answers: { url: string; body: CloudFormationResponse; init: Record<string, unknown> }[] = [];
  const fetch = vi.fn(async (url: string, init: { method: 'PUT'; body: Uint8Array }) => {
    answers.push({ url, body: JSON.parse(new TextDecoder().decode(init.body)) as CloudFormationResponse, init });
    return { ok: true, status: 200 };
  });
  const deps: DefinitionRecorderDeps = { store, log, fetch, now: clock(...instants) };
  const audit = async (): Promise<AuditRecord[]> => (await store.listAudit({ pipeline: PIPELINE, limit: 50 }, '2026-11-30T00:00:00.000Z')).records;
  return { dynamo, store, deps, lines, answers, fetch, audit };
}

let requests = 0;
/** A CloudFormation request for the definition record of `summary` (and `source`). */
function request(type: 'Create' | 'Update' | 'Delete', summary: DefinitionSummary, source?: object, over: Partial<CloudFormationRequest> = {}): CloudFormationRequest {
  requests++;
  return {
    RequestType: type,
    ResponseURL: RESPONSE_URL,
    StackId: STACK_ID,
    RequestId: `request-${requests}`,
    LogicalResourceId: 'PipelineDefinitionRecord221264AD',
    ...(type === 'Create' ? {} : { PhysicalResourceId: definitionResourceId(PIPELINE) }),
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:PhiPlatform-DefinitionRecorder', ServiceTimeout: '300', PipelineId: summary.pipelineId, Summary: JSON.stringify(summary), ...(source ? { Source: JSON.stringify(source) } : {}) },
    ...over,
  };
}

describe('the definition recorder', () => {
  const first = () => summaryOf(definition());
  // The redeploy the e2e test makes: a job added, another changed, the schedule moved.
  const second = () => summaryOf(definition({ version: '1.1', schedule: { cron: '0 4 * * *', timezone: 'UTC' } }, { transform: { handler: './h/x.ts', dependsOn: ['extract'], memoryMb: 1024 }, publish: { handler: './h/x.ts', dependsOn: ['load'] } }));

  it('records a first deploy as CREATED, with its commit, in one DEPLOY audit record and the pointer, and answers SUCCESS', async () => {
    const r = recorder();
    const v1 = await first();
    const answer = await handleDefinitionRequest(request('Create', v1, { commit: 'c0ffee', author: 'Alice <alice@example.com>', dirty: false }), r.deps);
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `phi-definition-${PIPELINE}`, StackId: STACK_ID, LogicalResourceId: 'PipelineDefinitionRecord221264AD' });
    expect(r.answers).toHaveLength(1);
    expect(r.answers[0]!.url).toBe(RESPONSE_URL);
    expect(r.answers[0]!.body).toEqual(answer);
    const records = await r.audit();
    expect(records).toEqual([{
      id: expect.any(String),
      action: AuditAction.DEPLOY,
      pipeline: PIPELINE,
      by: `cloudformation:Phi-${PIPELINE}`,
      at: '2026-11-22T12:00:00.000Z',
      definition: expect.objectContaining({ change: 'CREATED', hash: v1.hash, version: '1.0', stack: `Phi-${PIPELINE}`, jobCount: 3, commit: 'c0ffee', author: 'Alice <alice@example.com>', dirty: false }),
    }]);
    expect(records[0]!.definition).not.toHaveProperty('previousHash');
  });

  it('keeps the pointer in a partition of its own, without TTL; the record in the audit log’s month, with it', async () => {
    const r = recorder();
    await handleDefinitionRequest(request('Create', await first()), r.deps);
    const pointer = r.dynamo.table.find((i) => i.pk === `DEFINITION#${PIPELINE}`);
    expect(pointer).toMatchObject({ sk: 'CURRENT', kind: 'definition', at: '2026-11-22T12:00:00.000Z', summary: { pipelineId: PIPELINE } });
    expect(pointer).not.toHaveProperty('expiresAt');
    const record = r.dynamo.table.find((i) => i.pk === 'AUDIT#2026-11');
    expect(record).toMatchObject({ kind: 'audit', action: 'DEPLOY', expiresAt: expect.any(Number) });
  });

  it('writes nothing for a redeploy of the same definition (a new commit only), and answers SUCCESS', async () => {
    const r = recorder();
    const v1 = await first();
    await handleDefinitionRequest(request('Create', v1, { commit: 'c0ffee' }), r.deps);
    const writes = r.dynamo.sent.filter((c) => c.command === 'TransactWriteCommand').length;
    const answer = await handleDefinitionRequest(request('Update', v1, { commit: 'decade' }, { OldResourceProperties: {} } as Partial<CloudFormationRequest>), r.deps);
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `phi-definition-${PIPELINE}` });
    expect(r.dynamo.sent.filter((c) => c.command === 'TransactWriteCommand')).toHaveLength(writes);
    expect(await r.audit()).toHaveLength(1);
    expect(r.lines.at(-1)).toMatchObject({ message: 'nothing to record' });
  });

  it('records a changed redeploy once: the previous hash, the job added, the job changed, the schedule moved', async () => {
    const r = recorder();
    const [v1, v2] = [await first(), await second()];
    await handleDefinitionRequest(request('Create', v1), r.deps);
    const update = request('Update', v2, { commit: 'beef01', author: 'Bob <bob@example.com>', dirty: true });
    expect(await handleDefinitionRequest(update, r.deps)).toMatchObject({ Status: 'SUCCESS' });
    // CloudFormation (or Lambda) repeating the same request writes nothing more.
    expect(await handleDefinitionRequest(update, r.deps)).toMatchObject({ Status: 'SUCCESS' });
    const records = await r.audit();
    expect(records).toHaveLength(2);
    expect(records[0]!.definition).toEqual({
      change: 'CHANGED',
      hash: v2.hash,
      version: '1.1',
      previousHash: v1.hash,
      previousVersion: '1.0',
      stack: `Phi-${PIPELINE}`,
      jobCount: 4,
      jobs: { added: ['publish'], removed: [], changed: ['transform'], counts: { added: 1, removed: 0, changed: 1 } },
      schedules: { before: ['default: cron: 0 3 * * * (UTC)'], after: ['default: cron: 0 4 * * * (UTC)'] },
      commit: 'beef01',
      author: 'Bob <bob@example.com>',
      dirty: true,
    });
    expect(records[1]!.definition!.change).toBe('CREATED');
  });

  it('records a rollback as the change back it is', async () => {
    const r = recorder();
    const [v1, v2] = [await first(), await second()];
    await handleDefinitionRequest(request('Create', v1), r.deps);
    await handleDefinitionRequest(request('Update', v2), r.deps);
    await handleDefinitionRequest(request('Update', v1), r.deps);
    const [back] = await r.audit();
    expect(back!.definition).toMatchObject({ change: 'CHANGED', hash: v1.hash, previousHash: v2.hash, jobs: { removed: ['publish'], changed: ['transform'] } });
  });

  it('records nothing for a deletion of the resource (a rollback of the update that created it deletes it too), and answers SUCCESS', async () => {
    const r = recorder();
    const v1 = await first();
    await handleDefinitionRequest(request('Create', v1), r.deps);
    expect(await handleDefinitionRequest(request('Delete', v1), r.deps)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `phi-definition-${PIPELINE}` });
    expect((await r.audit()).map((a) => a.definition!.change)).toEqual(['CREATED']);
    // Created again (the rollback undone by the next deploy): the same definition, nothing new.
    await handleDefinitionRequest(request('Create', v1), r.deps);
    expect((await r.audit()).map((a) => a.definition!.change)).toEqual(['CREATED']);
  });

  it('compares what the definition resolves to, not the hash of how it is written: another checkout’s hash is no change, a change the hash does not see is one', async () => {
    const r = recorder();
    const v1 = await first();
    await handleDefinitionRequest(request('Create', v1), r.deps);
    // A handler given by an absolute path hashes differently from another directory; the summary is the same.
    await handleDefinitionRequest(request('Update', { ...v1, hash: 'abcdefabcdefabcd' }), r.deps);
    expect(await r.audit()).toHaveLength(1);
    // A dataset's provider moved to another pipeline: the start rules (settings) differ, the definition as written does not.
    await handleDefinitionRequest(request('Update', { ...v1, settings: '0badc0de' }), r.deps);
    const [changed] = await r.audit();
    expect(changed!.definition).toMatchObject({ change: 'CHANGED', hash: v1.hash, previousHash: v1.hash, settings: true });
  });

  it('records a change of handler code alone, naming the file, and nothing for the same code deployed again', async () => {
    const r = recorder();
    const v1 = { ...(await first()), code: { 'h/x.ts': '11111111' } };
    await handleDefinitionRequest(request('Create', v1), r.deps);
    await handleDefinitionRequest(request('Update', { ...v1, code: { 'h/x.ts': '22222222' } }), r.deps);
    await handleDefinitionRequest(request('Update', { ...v1, code: { 'h/x.ts': '22222222' } }, { commit: 'other' }), r.deps);
    const records = await r.audit();
    expect(records).toHaveLength(2);
    expect(records[0]!.definition).toMatchObject({ change: 'CHANGED', hash: v1.hash, previousHash: v1.hash, code: { added: [], removed: [], changed: ['h/x.ts'], counts: { added: 0, removed: 0, changed: 1 } } });
    expect(records[0]!.definition).not.toHaveProperty('settings');
    expect(definitionText(records[0]!.definition!)).toContain('code +0 -0 ~1 (~h/x.ts)');
  });

  it('reads again when another request wrote the pointer between its read and its write, and writes nothing for the same definition', async () => {
    const r = recorder();
    const v1 = await first();
    let raced = false;
    const store: DefinitionStore = {
      getDefinitionPointer: (id) => r.store.getDefinitionPointer(id),
      recordDefinition: async (id, pointer, expected, audit) => {
        if (!raced) {
          raced = true;
          await r.store.recordDefinition(id, { ...pointer, requestId: 'the-other-request' }, expected, { ...audit, id: 'other' });
        }
        return r.store.recordDefinition(id, pointer, expected, audit);
      },
    };
    expect(await handleDefinitionRequest(request('Create', v1), { ...r.deps, store })).toMatchObject({ Status: 'SUCCESS' });
    expect(await r.audit()).toHaveLength(1);
    expect(r.dynamo.table.find((i) => i.pk === `DEFINITION#${PIPELINE}`)).toMatchObject({ requestId: 'the-other-request' });
  });

  it('answers a create or an update it could not record FAILED, with why: the deploy rolls back', async () => {
    const r = recorder();
    r.dynamo.failures.push(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    const answer = await handleDefinitionRequest(request('Create', await first()), r.deps);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('ProvisionedThroughputExceededException: Rate exceeded'), PhysicalResourceId: `phi-definition-${PIPELINE}` });
    expect(r.answers.map((a) => a.body.Status)).toEqual(['FAILED']);
    expect(await r.audit()).toEqual([]);
    expect(r.lines.at(-1)).toMatchObject({ level: 'ERROR', message: 'definition not recorded; the deploy fails', pipelineId: PIPELINE, requestType: 'Create' });
  });

  it('answers properties that are no summary FAILED (DEPLOY_001), naming the resource', async () => {
    const r = recorder();
    const bad = request('Create', await first());
    const answer = await handleDefinitionRequest({ ...bad, ResourceProperties: { ...bad.ResourceProperties, Summary: '{"hash":"nope"}' } }, r.deps);
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/DEPLOY_001|properties are not a definition summary/) });
  });

  it('answers a deletion SUCCESS without reading or writing the records (a deletion is never held up by them)', async () => {
    const r = recorder();
    const v1 = await first();
    await handleDefinitionRequest(request('Create', v1), r.deps);
    const calls = r.dynamo.sent.length;
    r.dynamo.failures.push(new Error('network down'));
    expect(await handleDefinitionRequest(request('Delete', v1), r.deps)).toMatchObject({ Status: 'SUCCESS' });
    expect(r.dynamo.sent).toHaveLength(calls);
  });

  it('answers FAILED when the recording outlasts its deadline, so CloudFormation is never left waiting', async () => {
    const r = recorder();
    const stuck: DefinitionStore = { getDefinitionPointer: () => new Promise(() => {}), recordDefinition: () => new Promise(() => {}) };
    const answer = await handleDefinitionRequest(request('Create', await first()), { ...r.deps, store: stuck, deadlineMs: 20 });
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('longer than 20 ms') });
    expect(r.answers).toHaveLength(1);
  });

  it('sends its answer as bytes, so no Content-Type goes with the PUT to the presigned URL', async () => {
    const r = recorder();
    await handleDefinitionRequest(request('Create', await first()), r.deps);
    expect(r.fetch).toHaveBeenCalledWith(RESPONSE_URL, { method: 'PUT', body: expect.any(Uint8Array) });
    expect(r.answers[0]!.init).not.toHaveProperty('headers');
  });

  it('throws when the answer itself cannot be sent (Lambda invokes it again; the recording is idempotent)', async () => {
    const r = recorder();
    const v1 = await first();
    const refused = { ...r.deps, fetch: async () => ({ ok: false, status: 403 }) };
    await expect(handleDefinitionRequest(request('Create', v1), refused)).rejects.toMatchObject({ code: 'DEPLOY_003_NOT_ANSWERED' });
    const again = request('Create', v1);
    expect(await handleDefinitionRequest(again, r.deps)).toMatchObject({ Status: 'SUCCESS' });
    expect(await r.audit()).toHaveLength(1);
  });

  it('drops what is not a CloudFormation request (no ResponseURL to answer), logging it', async () => {
    const r = recorder();
    expect(await handleDefinitionRequest({ hello: 'world' }, r.deps)).toBeUndefined();
    expect(r.fetch).not.toHaveBeenCalled();
    expect(r.lines).toEqual([expect.objectContaining({ level: 'ERROR', message: 'not a CloudFormation custom resource request: dropped' })]);
  });

  it('answers FAILED from the Lambda entry when the function has no table to record into', async () => {
    vi.stubEnv('PHI_TABLE_NAME', '');
    const answers: CloudFormationResponse[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: { body: Uint8Array }) => {
      answers.push(JSON.parse(new TextDecoder().decode(init.body)) as CloudFormationResponse);
      return { ok: true, status: 200 };
    });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await handler(request('Create', await first()));
    expect(answers).toEqual([expect.objectContaining({ Status: 'FAILED', Reason: expect.stringContaining('PHI_TABLE_NAME') })]);
    vi.mocked(process.stdout.write).mockRestore();
  });

  it('names the stack from its id', () => {
    expect(stackNameOf(STACK_ID)).toBe(`Phi-${PIPELINE}`);
    expect(stackNameOf('not-an-arn')).toBe('not-an-arn');
  });
});

describe('where a deploy came from', () => {
  const git = (dir: string, ...args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Alice', GIT_AUTHOR_EMAIL: 'alice@example.com', GIT_COMMITTER_NAME: 'Alice', GIT_COMMITTER_EMAIL: 'alice@example.com' } }).trim();

  it('reads the commit, its author and whether the work tree is dirty from the repository holding the definitions', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phi-source-'));
    expect(gitSource(dir)).toEqual({});
    git(dir, 'init', '--quiet');
    // A repository without a commit says nothing either.
    expect(gitSource(dir)).toEqual({});
    writeFileSync(path.join(dir, 'p.ts'), 'export default {};\n');
    git(dir, 'add', '.');
    git(dir, 'commit', '--quiet', '-m', 'first');
    const commit = git(dir, 'rev-parse', 'HEAD');
    expect(gitSource(dir)).toEqual({ commit, author: 'Alice <alice@example.com>', dirty: false });
    writeFileSync(path.join(dir, 'p.ts'), 'export default { changed: true };\n');
    expect(gitSource(dir)).toEqual({ commit, author: 'Alice <alice@example.com>', dirty: true });
  });

  it('takes PHI_DEPLOY_COMMIT and PHI_DEPLOY_AUTHOR (and PHI_DEPLOY_DIRTY) instead of git, never mixing the two', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phi-source-'));
    expect(deploySource(dir, { PHI_DEPLOY_COMMIT: '1234abcd', PHI_DEPLOY_AUTHOR: 'ci-bot' })).toEqual({ commit: '1234abcd', author: 'ci-bot' });
    expect(deploySource(dir, { PHI_DEPLOY_COMMIT: '1234abcd', PHI_DEPLOY_DIRTY: 'true' })).toEqual({ commit: '1234abcd', dirty: true });
    expect(deploySource(dir, {})).toEqual({});
  });

  it('asks once per directory', () => {
    const read = sourceReader({ PHI_DEPLOY_COMMIT: 'abc' });
    const dir = mkdtempSync(path.join(tmpdir(), 'phi-source-'));
    expect(read(dir)).toBe(read(dir));
  });
});

describe('phi audit: DEPLOY records', () => {
  const at = '2026-11-23T09:30:00.000Z';
  const deploy = (definition: AuditRecord['definition']): AuditRecord => ({ id: 'a1', action: AuditAction.DEPLOY, pipeline: PIPELINE, by: `cloudformation:Phi-${PIPELINE}`, at, definition });

  it('shows a change: the hashes short, previous first, +added -removed ~changed with the names, the schedule, the commit', () => {
    const text = definitionText({
      change: 'CHANGED', hash: '2222222222222222', version: '1.1', previousHash: '1111111111111111', previousVersion: '1.0', stack: `Phi-${PIPELINE}`, jobCount: 4,
      jobs: { added: ['publish'], removed: [], changed: ['transform'], counts: { added: 1, removed: 0, changed: 1 } },
      schedules: { before: ['default: cron: 0 3 * * * (UTC)'], after: ['default: cron: 0 4 * * * (UTC)'] },
      commit: '0f664df1a2b3c4d5e6f708192a3b4c5d6e7f8091', author: 'Bob <bob@example.com>', dirty: true,
    });
    expect(text).toBe('11111111 (version 1.0) -> 22222222 (version 1.1); jobs +1 -0 ~1 (+publish, ~transform); schedules default: cron: 0 3 * * * (UTC) -> default: cron: 0 4 * * * (UTC); commit 0f664df1a2b3 (dirty) by Bob <bob@example.com>');
  });

  it('shows a creation with its job count, and more changed than listed with …', () => {
    expect(definitionText({ change: 'CREATED', hash: '1111111111111111', stack: 's', jobCount: 3 })).toBe('created 11111111, 3 jobs');
    expect(definitionText({ change: 'CREATED', hash: '1111111111111111', version: '1', stack: 's', jobCount: 1, schedules: { before: [], after: ['default: rate: 1 hour (UTC)'] } }))
      .toBe('created 11111111 (version 1), 1 job; schedules default: rate: 1 hour (UTC)');
    expect(definitionText({ change: 'CHANGED', hash: '2222222222222222', previousHash: '1111111111111111', stack: 's', jobCount: 60, jobs: { added: ['a'], removed: [], changed: [], counts: { added: 60, removed: 0, changed: 0 } }, settings: true }))
      .toBe('11111111 -> 22222222; jobs +60 -0 ~0 (+a, …); other settings changed');
  });

  it('puts it on the audit log’s line, after who (CloudFormation, for the stack)', () => {
    const line = formatAudit({ records: [deploy({ change: 'CREATED', hash: '1111111111111111', stack: `Phi-${PIPELINE}`, jobCount: 3, commit: 'abc' })], complete: true });
    expect(line).toBe(`${at}  DEPLOY  ${PIPELINE.padEnd(20)}  cloudformation:Phi-${PIPELINE}  created 11111111, 3 jobs; commit abc`);
  });
});

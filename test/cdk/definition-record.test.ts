/**
 * The definition records on the synthesized templates (issue #10, Audit): one `Custom::PhiDefinition`
 * per pipeline stack, whose service token is the platform's definition recorder itself (no provider
 * framework: no other function in the pipeline stacks), whose properties are the plan's summary and the
 * source the app read, recorded after the state machine; and the recorder's least-privilege role (the
 * records table's definition pointers and audit log, with GetItem and PutItem only). cdk-nag runs over
 * all of it in `checks.test.ts`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { DEFINITION_RESOURCE_TYPE, DefinitionSummarySchema, DeploySourceSchema, RECORD_ACTIONS } from '../../lib/model/contract/index.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import { definitionSummary } from '../../lib/plan/definition-summary.ts';
import { handlerCode } from '../../infra/handler-code.ts';
import type { Plan } from '../../lib/plan/types.ts';

const DEFINITIONS = path.resolve(__dirname, '../../definitions');
const NOW = new Date('2026-11-22T12:00:00Z');
const SOURCE = { commit: '0f664df1a2b3c4d5e6f708192a3b4c5d6e7f8091', author: 'Alice <alice@example.com>', dirty: false };

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

let plan: Plan;
let platform: Template;
const pipelines = new Map<string, Template>();

beforeAll(async () => {
  const result = await planDefinitions(DEFINITIONS, NOW);
  expect(result.problems).toEqual([]);
  plan = result.plan;
  const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), plan, { source: (p) => (p.id === 'market-data' ? SOURCE : undefined) });
  platform = Template.fromStack(stacks.platform);
  stacks.pipelines.forEach((stack, i) => pipelines.set(plan.pipelines[i]!.id, Template.fromStack(stack)));
});

const recordOf = (template: Template): [string, Resource] => {
  const records = Object.entries(template.findResources(DEFINITION_RESOURCE_TYPE) as Record<string, Resource>);
  expect(records).toHaveLength(1);
  return records[0]!;
};

/** The platform's definition recorder: its logical id, its role's logical id and the statements of that role's policies. */
function recorder(): { id: string; role: string; statements: Statement[] } {
  const functions = Object.entries(platform.findResources('AWS::Lambda::Function') as Record<string, Resource>).filter(([, f]) => /definition/.test(String(f.Properties.Description)));
  expect(functions).toHaveLength(1);
  const [id, fn] = functions[0]!;
  const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const statements = Object.values(platform.findResources('AWS::IAM::Policy') as Record<string, Resource>)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return { id, role, statements };
}

describe('each pipeline stack', () => {
  it('holds one Custom::PhiDefinition invoking the platform’s definition recorder directly, with a 5-minute service timeout', () => {
    const { id } = recorder();
    for (const [pipelineId, template] of pipelines) {
      const [, record] = recordOf(template);
      expect(record.Properties.ServiceToken, pipelineId).toEqual({ 'Fn::ImportValue': expect.stringMatching(new RegExp(`^PhiPlatform:ExportsOutputFnGetAtt${id}Arn`)) });
      expect(record.Properties.ServiceTimeout).toBe('300');
      expect(record.Properties.PipelineId).toBe(pipelineId);
      // No provider framework: the stack's only functions are the jobs'.
      expect(Object.values(template.findResources('AWS::Lambda::Function')).every((f) => String(f.Properties.FunctionName).startsWith(`phi-${pipelineId}_`))).toBe(true);
    }
  });

  it('hands it the plan’s summary as one JSON string, the summary the recorder parses', () => {
    for (const p of plan.pipelines) {
      const [, record] = recordOf(pipelines.get(p.id)!);
      const summary = DefinitionSummarySchema.parse(JSON.parse(String(record.Properties.Summary)));
      expect(summary).toEqual(definitionSummary(p, handlerCode(p)));
      expect(Object.keys(summary.code ?? {}).length).toBeGreaterThan(0);
      expect(summary).toMatchObject({ pipelineId: p.id, hash: p.definitionVersion, jobCount: p.jobs.length });
      expect(Object.keys(summary.jobs!).sort()).toEqual(p.jobs.map((j) => j.id).sort());
      expect(summary.schedules).toHaveLength(p.schedules.length);
    }
  });

  it('says where the definition came from when the app knows (git at synth), and nothing otherwise', () => {
    const [, withSource] = recordOf(pipelines.get('market-data')!);
    expect(DeploySourceSchema.parse(JSON.parse(String(withSource.Properties.Source)))).toEqual(SOURCE);
    const [, without] = recordOf(pipelines.get('etl-fanout')!);
    expect(without.Properties).not.toHaveProperty('Source');
  });

  it('is recorded after the state machine and the schedules are in place (a deploy failing on them records nothing)', () => {
    for (const [pipelineId, template] of pipelines) {
      const [, record] = recordOf(template);
      const stateMachine = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
      const schedules = Object.keys(template.findResources('AWS::Scheduler::Schedule'));
      expect(record.DependsOn, pipelineId).toEqual(expect.arrayContaining([...stateMachine, ...schedules]));
    }
  });
});

describe('the definition recorder', () => {
  it('may only read and put the records table’s definition pointers and audit log items (dynamodb:LeadingKeys), nothing else of it', () => {
    const dynamo = recorder().statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect([dynamo[0]!.Action].flat().sort()).toEqual([...RECORD_ACTIONS.definitions].sort());
    expect(dynamo[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^PlatformRecords/), 'Arn'] });
    expect(dynamo[0]!.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['DEFINITION#*', 'AUDIT#*'] } });
  });

  it('has no other permission than its own logs and X-Ray traces: no queue, no state machine, no event bus', () => {
    const actions = recorder().statements.flatMap((s) => [s.Action].flat()).filter((a) => !a.startsWith('dynamodb:')).sort();
    expect(actions).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('is invoked by CloudFormation with the deployer’s rights: no resource policy opens it to anyone', () => {
    const { id } = recorder();
    const permissions = Object.values(platform.findResources('AWS::Lambda::Permission') as Record<string, Resource>).filter((p) => JSON.stringify(p.Properties.FunctionName).includes(id));
    expect(permissions).toEqual([]);
  });

  it('has a 60-second timeout (the recording has 45 of them, the answer the rest), the records table in its environment, and its ARN as an output', () => {
    const fn = platform.findResources('AWS::Lambda::Function')[recorder().id] as Resource;
    expect(fn.Properties.Timeout).toBe(60);
    expect(Object.keys((fn.Properties.Environment as { Variables: object }).Variables).sort()).toEqual(['PHI_RETENTION_DAYS', 'PHI_TABLE_NAME']);
    platform.hasOutput('DefinitionRecorderArn', { Value: { 'Fn::GetAtt': [recorder().id, 'Arn'] } });
  });
});

describe('the summary’s size', () => {
  /** The template of a generated pipeline of `jobs` jobs with ids `idLength` letters long. */
  async function generated(jobs: number, idLength: number): Promise<{ summaryBytes: number; templateBytes: number; listed: boolean }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'phi-cdk-summary-'));
    mkdirSync(path.join(dir, 'h'));
    writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = async () => ({});\n');
    const id = (i: number): string => `j${String(i).padStart(idLength - 1, '0')}`;
    const definition = { id: 'generated', jobs: Object.fromEntries(Array.from({ length: jobs }, (_, i) => [id(i), { handler: './h/x.ts', ...(i > 0 ? { dependsOn: [id(i - 1)] } : {}) }])) };
    writeFileSync(path.join(dir, 'p.ts'), `export default ${JSON.stringify(definition)};\n`);
    const result = await planDefinitions(dir, NOW);
    expect(result.problems).toEqual([]);
    const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), result.plan, { source: () => SOURCE });
    const template = Template.fromStack(stacks.pipelines[0]!);
    const [, record] = recordOf(template);
    const summary = String(record.Properties.Summary);
    return { summaryBytes: Buffer.byteLength(summary), templateBytes: JSON.stringify(template.toJSON()).length, listed: DefinitionSummarySchema.parse(JSON.parse(summary)).jobs !== undefined };
  }

  it('lists a 1,000-job pipeline’s jobs in a few tens of KB, far under an asynchronous event’s 256 KB with the old properties beside it', async () => {
    const { summaryBytes, templateBytes, listed } = await generated(1_000, 5);
    expect(listed).toBe(true);
    expect(summaryBytes).toBeLessThan(32 * 1024);
    expect(templateBytes).toBeLessThan(512 * 1024);
  }, 120_000);

  it('keeps only the count and one digest of the jobs when they would not fit (2,000 jobs with 40-letter ids)', async () => {
    const { summaryBytes, listed } = await generated(2_000, 40);
    expect(listed).toBe(false);
    expect(summaryBytes).toBeLessThan(1024);
  }, 120_000);
});

/**
 * Webhook triggers (issue #9) in the stacks: the pipeline's stack holds one generated Secrets Manager
 * secret per webhook trigger (`phi/<pipeline>/<trigger>`, an output each), counted by the plan; the
 * platform's control API has one route without IAM auth, `POST /webhooks/{pipelineId}/{triggerId}`,
 * integrated with a function of its own that may read those secrets (by name, enabled triggers only),
 * write the records and start the webhook pipelines' executions, and nothing else; without webhook
 * triggers there is neither route nor function; cdk-nag finds nothing unacknowledged.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { checked, planOfFiles } from './support.ts';
import { RECORD_ACTIONS } from '../../lib/model/contract/index.ts';
import type { Plan, PipelinePlan } from '../../lib/plan/types.ts';

const NOW = new Date('2026-11-22T12:00:00Z');
const TRIGGERS = [
  { type: 'webhook', id: 'git-push', toleranceSeconds: 120, debounceSeconds: 60 },
  { type: 'webhook', id: 'paused', enabled: false },
  { type: 'event', id: 'orders', pattern: { source: ['my.app'] } },
];

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

const planOf = (files: Record<string, string>): Promise<Plan> => planOfFiles(files, NOW);

let plan: Plan;
let hooks: PipelinePlan;
let pipeline: Template;
let platform: Template;
let platformResources: Resources;

beforeAll(async () => {
  plan = await planOf({
    'hooks.ts': `export default { id: 'hooks', triggers: ${JSON.stringify(TRIGGERS)}, jobs: { a: { handler: './h/x.ts' } } };\n`,
    'plain.ts': `export default { id: 'plain', schedule: { rate: '1 hour' }, jobs: { a: { handler: './h/x.ts' } } };\n`,
  });
  hooks = plan.pipelines.find((p) => p.id === 'hooks')!;
  const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), plan);
  pipeline = Template.fromStack(stacks.pipelines.find((s) => s.stackName === 'Phi-hooks')!);
  platform = Template.fromStack(stacks.platform);
  platformResources = platform.toJSON().Resources as Resources;
}, 120_000);

/** The logical id of the platform's webhook function, and the statements of the policies on its role. */
function webhookFunction(): { id: string; statements: { Action: string | string[]; Resource: unknown }[] } {
  const [id, fn] = Object.entries(platform.findResources('AWS::Lambda::Function')).find(([, r]) => String(r.Properties.Description).startsWith('Phi: webhook triggers'))!;
  const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const statements = Object.values(platform.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
  return { id, statements };
}
const actionsOf = (s: { Action: string | string[] }): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('a pipeline with webhook triggers, in its own stack', () => {
  it('holds one generated secret per webhook trigger, enabled or not, named phi/<pipeline>/<trigger>, no value in the template', () => {
    const secrets = Object.values(pipeline.findResources('AWS::SecretsManager::Secret'));
    expect(secrets.map((s) => s.Properties.Name).sort()).toStrictEqual(['phi/hooks/git-push', 'phi/hooks/paused']);
    for (const s of secrets) {
      expect(s.Properties.SecretString).toBeUndefined();
      expect(s.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false });
      expect(s.DeletionPolicy).toBe('Delete');
    }
  });

  it('outputs each secret’s ARN, and deploys no EventBridge rule for a webhook (only the event trigger’s)', () => {
    const outputs = pipeline.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).filter((k) => k.startsWith('WebhookSecret')).sort()).toStrictEqual(['WebhookSecretGitPush', 'WebhookSecretPaused']);
    expect(Object.values(pipeline.findResources('AWS::Events::Rule')).map((r) => r.Properties.Name)).toStrictEqual(['phi-hooks_orders']);
  });

  it('holds exactly as many resources as the plan estimated', () => {
    expect(Object.keys(pipeline.toJSON().Resources as object)).toHaveLength(hooks.estimates.stackResources);
  });
});

describe('the platform of a deployment with webhook triggers', () => {
  it('authorizes every method of the control API with IAM but POST /webhooks/{pipelineId}/{triggerId}, which has none', () => {
    const paths = new Map(Object.entries(platformResources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties.PathPart as string]));
    const methods = Object.values(platformResources).filter((r) => r.Type === 'AWS::ApiGateway::Method');
    const open = methods.filter((m) => m.Properties.AuthorizationType !== 'AWS_IAM');
    expect(open).toHaveLength(1);
    expect(open[0]!.Properties).toMatchObject({ HttpMethod: 'POST', AuthorizationType: 'NONE' });
    expect(paths.get((open[0]!.Properties.ResourceId as { Ref: string }).Ref)).toBe('{triggerId}');
    expect([...paths.values()]).toEqual(expect.arrayContaining(['webhooks', '{pipelineId}', '{triggerId}']));
    expect(methods.length).toBeGreaterThan(10);
  });

  it('integrates the webhook route with a function of its own, told the enabled webhook triggers and their tolerance and debounce', () => {
    const { id } = webhookFunction();
    const open = Object.values(platform.findResources('AWS::ApiGateway::Method')).find((m) => m.Properties.AuthorizationType === 'NONE')!;
    expect(JSON.stringify(open.Properties.Integration)).toContain(id);
    const fn = platform.findResources('AWS::Lambda::Function')[id]!;
    const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(JSON.parse(env.PHI_WEBHOOKS!)).toStrictEqual({ hooks: { 'git-push': { toleranceSeconds: 120, debounceSeconds: 60 } } });
    expect(JSON.parse(env.PHI_PIPELINES!)).toEqual(expect.arrayContaining(['hooks']));
  });

  it('lets that function read only the enabled webhook triggers’ secrets, by name, write the records and start the webhook pipelines’ executions: nothing else', () => {
    const { statements } = webhookFunction();
    const secretStatements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secretStatements.flatMap(actionsOf)).toStrictEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secretStatements.map((s) => s.Resource))).toContain(':secret:phi/hooks/git-push-??????');
    expect(JSON.stringify(secretStatements.map((s) => s.Resource))).not.toContain('paused');
    const start = statements.filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(JSON.stringify(start.map((s) => s.Resource))).toContain(':stateMachine:phi-hooks');
    expect(JSON.stringify(start.map((s) => s.Resource))).not.toContain('phi-plain');
    const actions = new Set(statements.flatMap(actionsOf));
    expect([...actions].sort()).toStrictEqual([...new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments', 'secretsmanager:GetSecretValue', 'states:StartExecution', ...RECORD_ACTIONS.trigger])].sort());
  });

  it('gives no other function of the platform any Secrets Manager action', () => {
    const { id } = webhookFunction();
    const role = (platform.findResources('AWS::Lambda::Function')[id]!.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const others = Object.values(platform.findResources('AWS::IAM::Policy')).filter((p) => !(p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role));
    expect(JSON.stringify(others)).not.toContain('secretsmanager:');
    expect(JSON.stringify(Object.values(platform.findResources('AWS::IAM::ManagedPolicy')))).not.toContain('secretsmanager:');
  });

  it('outputs the webhooks’ base URL', () => {
    expect(Object.keys(platform.toJSON().Outputs as object)).toContain('WebhooksUrl');
  });
});

describe('a deployment without webhook triggers', () => {
  it('has no webhook route and no webhook function', async () => {
    const without = await planOf({ 'plain.ts': `export default { id: 'plain', triggers: [{ type: 'event', pattern: { source: ['a'] } }], jobs: { a: { handler: './h/x.ts' } } };\n` });
    const template = Template.fromStack(buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), without).platform);
    expect(Object.values(template.findResources('AWS::ApiGateway::Method')).every((m) => m.Properties.AuthorizationType === 'AWS_IAM')).toBe(true);
    expect(JSON.stringify(template.findResources('AWS::ApiGateway::Resource'))).not.toContain('webhooks');
    expect(Object.values(template.findResources('AWS::Lambda::Function')).some((f) => String(f.Properties.Description).startsWith('Phi: webhook'))).toBe(false);
  }, 120_000);
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged; the route without authorization (APIG4) and the secrets’ rotation (SMG4) are acknowledged on the constructs that cause them', () => {
    const { findings, at } = checked(plan);
    expect(findings).toEqual([]);
    const acknowledged = ['AwsSolutions-APIG4', 'AwsSolutions-SMG4'].flatMap((rule) => (at.get(rule) ?? []).map((where) => `${rule} at ${where}`));
    expect(acknowledged.sort()).toStrictEqual([
      'AwsSolutions-APIG4 at PhiPlatform/Platform/Api/Default/webhooks/{pipelineId}/{triggerId}/POST',
      'AwsSolutions-SMG4 at Phi-hooks/Pipeline/WebhookSecret-git-push',
      'AwsSolutions-SMG4 at Phi-hooks/Pipeline/WebhookSecret-paused',
    ]);
  }, 120_000);
});

/**
 * A pipeline's message triggers (issue #9) in its stack: per trigger without a queue of the user's, an
 * encrypted, TLS-only queue named phi-<pipeline>_<trigger> with its dead-letter queue (5 receives) and
 * an alarm on it; per trigger an event source mapping to the platform's trigger function reporting
 * failed messages one by one (disabled for a disabled trigger); one policy letting the trigger
 * function's role work through exactly those queues, which the mappings wait for; the platform routes
 * each enabled trigger's queue to its pipeline; the estimate counts every resource; cdk-nag finds nothing.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { checked, planOfFiles } from './support.ts';
import { MESSAGE_TRIGGERS_ENV } from '../../lib/model/contract/messages.ts';
import type { Plan, PipelinePlan } from '../../lib/plan/types.ts';

const NOW = new Date('2026-11-22T12:00:00Z');
const USER_QUEUE = 'arn:aws:sqs:us-east-1:123456789012:partner-feed';
const TRIGGERS = [
  { type: 'message', id: 'orders' },
  { type: 'message', id: 'bulk', batchSize: 10, batchWindowSeconds: 20 },
  { type: 'message', id: 'partner', queueArn: USER_QUEUE },
  { type: 'message', id: 'later', enabled: false },
  { type: 'event', id: 'batches', pattern: { source: ['my.app'] } },
];

let plan: Plan;
let pipeline: Template;
let platform: Template;
let ingest: PipelinePlan;

beforeAll(async () => {
  plan = await planOfFiles({ 'p.ts': `export default { id: 'ingest', triggers: ${JSON.stringify(TRIGGERS)}, jobs: { a: { handler: './h/x.ts' } } };\n` }, NOW);
  ingest = plan.pipelines[0]!;
  const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), plan);
  pipeline = Template.fromStack(stacks.pipelines[0]!);
  platform = Template.fromStack(stacks.platform);
}, 120_000);

/** The logical id of the pipeline stack's queue named `name`. */
const queueId = (name: string): string => Object.entries(pipeline.findResources('AWS::SQS::Queue')).find(([, q]) => q.Properties.QueueName === name)![0];

describe('a pipeline with message triggers', () => {
  it('creates, per trigger without a queue of the user’s (disabled ones too), a queue and its dead-letter queue, encrypted and kept 14 days, the queue hiding a message six times the trigger function’s timeout and giving up after 5 receives', () => {
    const names = Object.values(pipeline.findResources('AWS::SQS::Queue')).map((q) => q.Properties.QueueName).sort();
    expect(names).toStrictEqual(['phi-ingest_bulk', 'phi-ingest_bulk-dlq', 'phi-ingest_later', 'phi-ingest_later-dlq', 'phi-ingest_orders', 'phi-ingest_orders-dlq']);
    pipeline.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'phi-ingest_orders',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      MessageRetentionPeriod: 14 * 86_400,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [queueId('phi-ingest_orders-dlq'), 'Arn'] }, maxReceiveCount: 5 },
    });
    pipeline.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'phi-ingest_orders-dlq', SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400, RedrivePolicy: Match.absent() });
  });

  it('refuses requests without TLS on every queue it creates', () => {
    const policies = Object.values(pipeline.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(6);
    for (const p of policies) {
      expect(p.Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    }
  });

  it('maps each queue to the platform’s trigger function with ReportBatchItemFailures, its batch size and window; a disabled trigger’s mapping disabled', () => {
    const mappings = Object.values(pipeline.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(4);
    for (const m of mappings) {
      expect(m.Properties.FunctionResponseTypes).toStrictEqual(['ReportBatchItemFailures']);
      expect(JSON.stringify(m.Properties.FunctionName)).toContain('ScheduleTrigger');
      expect(m.DependsOn).toContainEqual(expect.stringMatching(/MessageQueues/));
    }
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [queueId('phi-ingest_orders'), 'Arn'] }, BatchSize: 1, Enabled: true, MaximumBatchingWindowInSeconds: Match.absent() });
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [queueId('phi-ingest_bulk'), 'Arn'] }, BatchSize: 10, MaximumBatchingWindowInSeconds: 20 });
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: USER_QUEUE, BatchSize: 1, Enabled: true });
    pipeline.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [queueId('phi-ingest_later'), 'Arn'] }, Enabled: false });
  });

  it('lets the trigger function’s role receive, delete, hide and read the attributes of exactly these queues, and nothing else', () => {
    const policies = Object.values(pipeline.findResources('AWS::IAM::Policy')).filter((p) => p.Properties.PolicyName === 'phi-message-queues-ingest');
    expect(policies).toHaveLength(1);
    const [policy] = policies;
    expect(JSON.stringify(policy!.Properties.Roles)).toContain('ScheduleTrigger');
    const statements = policy!.Properties.PolicyDocument.Statement as { Action: string[]; Resource: unknown[] }[];
    expect(statements).toHaveLength(1);
    expect([...statements[0]!.Action].sort()).toStrictEqual(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage']);
    expect(statements[0]!.Resource).toStrictEqual([
      { 'Fn::GetAtt': [queueId('phi-ingest_orders'), 'Arn'] },
      { 'Fn::GetAtt': [queueId('phi-ingest_bulk'), 'Arn'] },
      USER_QUEUE,
      { 'Fn::GetAtt': [queueId('phi-ingest_later'), 'Arn'] },
    ]);
  });

  it('alarms while a message waits in a dead-letter queue, and outputs each created queue’s URL', () => {
    const alarms = Object.values(pipeline.findResources('AWS::CloudWatch::Alarm')).filter((a) => String(a.Properties.AlarmDescription).includes('dead-letter queue'));
    expect(alarms).toHaveLength(3);
    expect(JSON.stringify(alarms[0]!.Properties.AlarmActions)).toContain('Alarms');
    const outputs = pipeline.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).filter((k) => k.startsWith('MessageQueueUrl')).sort()).toStrictEqual(['MessageQueueUrlBulk', 'MessageQueueUrlLater', 'MessageQueueUrlOrders']);
    expect(outputs.MessageQueueUrlOrders!.Value).toStrictEqual({ Ref: queueId('phi-ingest_orders') });
  });

  it('deploys a rule for the event trigger only', () => {
    expect(Object.values(pipeline.findResources('AWS::Events::Rule')).map((r) => r.Properties.Name)).toStrictEqual(['phi-ingest_batches']);
  });

  it('tells the platform’s trigger function which pipeline and trigger each enabled trigger’s queue belongs to', () => {
    const fn = Object.values(platform.findResources('AWS::Lambda::Function')).find((f) => JSON.stringify(f.Properties.Environment?.Variables?.[MESSAGE_TRIGGERS_ENV] ?? null) !== 'null');
    expect(fn).toBeDefined();
    const routes = JSON.stringify(fn!.Properties.Environment.Variables[MESSAGE_TRIGGERS_ENV]);
    for (const part of ['phi-ingest_orders', 'phi-ingest_bulk', USER_QUEUE, '\\"t\\":\\"partner\\"', ':sqs:']) expect(routes).toContain(part);
    expect(routes).not.toContain('later');
    expect(fn!.Properties.Timeout).toBe(30);
  });

  it('holds exactly as many resources as the plan estimated', () => {
    expect(Object.keys(pipeline.toJSON().Resources as object)).toHaveLength(ingest.estimates.stackResources);
  });

  it('passes cdk-nag with nothing unacknowledged', () => {
    expect(checked(plan).findings).toEqual([]);
  });
});

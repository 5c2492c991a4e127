/**
 * CDK assertions on the synthesized templates of the shipped examples: the constructs render the plan,
 * and only the plan, into the resources the design names, with least-privilege permissions.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_ENV, HealthConfigSchema, RECORD_ACTIONS } from '../../lib/model/contract/index.ts';
import { buildApp } from '../../infra/app.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import type { Plan, PipelinePlan } from '../../lib/plan/types.ts';

const DEFINITIONS = path.resolve(__dirname, '../../definitions');

let plan: Plan;
let app: App;
let platform: Template;
const pipelines = new Map<string, Template>();
const planOf = (id: string): PipelinePlan => plan.pipelines.find((p) => p.id === id)!;

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The statements of the policies attached to a role (by its logical id). */
function statementsOfRole(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The role (logical id) of the one function whose description matches. */
function roleOfFunction(template: Template, description: RegExp): string {
  const matching = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => description.test(String(f.Properties.Description)));
  expect(matching).toHaveLength(1);
  return (matching[0]!.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

const dynamoActions = (statements: readonly Statement[]): string[] =>
  [...new Set(statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('dynamodb:')))].sort();

beforeAll(async () => {
  const result = await planDefinitions(DEFINITIONS, new Date('2026-11-22T12:00:00Z'));
  expect(result.problems).toEqual([]);
  plan = result.plan;
  // Bundling is esbuild's job and covered by the e2e deploy; here the templates are what is asserted.
  app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = buildApp(app, plan);
  platform = Template.fromStack(stacks.platform);
  stacks.pipelines.forEach((stack, i) => pipelines.set(plan.pipelines[i]!.id, Template.fromStack(stack)));
});

describe('platform stack', () => {
  it('keeps run and attempt records in one on-demand table with TTL and a history index', () => {
    platform.resourceCountIs('AWS::DynamoDB::Table', 1);
    platform.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'history', KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }] })],
    });
  });

  it('keeps dead letters for 7 days, one per job of a run (FIFO, deduplicated per message group), and alarms as soon as one waits', () => {
    platform.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 7 * 24 * 3600,
      SqsManagedSseEnabled: true,
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
    });
    platform.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('sends both queue alarms (dead letters, failed deliveries) to one TLS-only SNS topic that people subscribe to', () => {
    const topics = Object.keys(platform.findResources('AWS::SNS::Topic'));
    expect(topics).toHaveLength(1);
    const alarms = Object.values(platform.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topics[0] }]);
    platform.hasResourceProperties('AWS::SNS::TopicPolicy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
    platform.hasOutput('AlarmTopicArn', {});
  });

  it('serves the control API with IAM auth on every method', () => {
    const methods = platform.findResources('AWS::ApiGateway::Method');
    const verbs = Object.values(methods).map((m) => [m.Properties.HttpMethod, m.Properties.AuthorizationType]);
    expect(verbs.sort()).toEqual([...Array.from({ length: 9 }, () => ['GET', 'AWS_IAM']), ...Array.from({ length: 10 }, () => ['POST', 'AWS_IAM'])]);
    // POST and GET /pipelines/{id}/runs, GET /pipelines/{id}/durations, GET /runs/{runId}, POST /runs/{runId}/cancel|retry, GET /runs/{runId}/logs,
    // GET /dead-letters, GET /dead-letters/{messageId}, POST /dead-letters/{messageId}/retry, POST /dead-letters/retry, POST /dead-letters/purge, GET /health,
    // POST /pipelines/{id}/pause|resume, GET /pipelines/{id}/paused, POST /pause, POST /resume, GET /audit
    expect(Object.values(platform.findResources('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart).sort()).toEqual(['audit', 'cancel', 'dead-letters', 'durations', 'health', 'logs', 'pause', 'pause', 'paused', 'pipelines', 'purge', 'resume', 'resume', 'retry', 'retry', 'retry', 'runs', 'runs', '{id}', '{messageId}', '{runId}']);
  });

  it('logs who called which route of the control API and how it ended, traces it, and logs the gateway’s errors without bodies', () => {
    const stage = Object.values(platform.findResources('AWS::ApiGateway::Stage'))[0]!.Properties;
    const format = JSON.parse(stage.AccessLogSetting.Format as string) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', caller: '$context.identity.caller', user: '$context.identity.user', httpMethod: '$context.httpMethod', resourcePath: '$context.resourcePath', status: '$context.status' });
    expect(JSON.stringify(stage.AccessLogSetting.DestinationArn)).toMatch(/PlatformApiAccessLogs/);
    expect(stage.TracingEnabled).toBe(true);
    expect(stage.MethodSettings).toEqual([expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false })]);
    platform.resourceCountIs('AWS::ApiGateway::Account', 1);
  });

  it('draws one dashboard of every pipeline’s runs by status, durations, dead letters and schedule lateness', () => {
    const [dashboard] = Object.values(platform.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const metric of ['RunsSucceeded', 'RunsFailed', 'RunsCancelled', 'RunsSkipped', 'RunDuration', 'JobDuration', 'DeadLetters', 'JobRetries', 'ScheduleLateness', 'ApproximateNumberOfMessagesVisible']) expect(body).toContain(metric);
    expect(body).toContain('SEARCH(');
  });

  it('keeps the asynchronous invocations the recorder and the schedule trigger keep failing in the failed-deliveries queue, for the sweeper', () => {
    const queue = Object.keys(platform.findResources('AWS::SQS::Queue')).find((id) => id.includes('FailedDeliveries'))!;
    for (const description of [/records run starts/, /pipeline schedule/]) {
      const fn = Object.values(platform.findResources('AWS::Lambda::Function')).find((f) => description.test(String(f.Properties.Description)))!;
      expect(fn.Properties.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [queue, 'Arn'] } });
    }
  });

  it('traces every function and every state machine with X-Ray', () => {
    for (const template of [platform, ...pipelines.values()]) {
      for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      for (const machine of Object.values(template.findResources('AWS::StepFunctions::StateMachine'))) expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    }
  });

  it('keep large outputs in an encrypted, TLS-only, private bucket whose objects expire with the records, with its access logged', () => {
    platform.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ Id: 'expire-with-the-records', ExpirationInDays: 90, Status: 'Enabled' }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('OutputsAccessLogs') }, LogFilePrefix: 'outputs/' },
    });
    // A pipeline's job functions read and write objects under outputs/<that pipeline>/ only, through one managed policy a pipeline.
    for (const p of plan.pipelines) {
      platform.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        PolicyDocument: { Statement: [Match.objectLike({ Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('PlatformOutputs'), 'Arn'] }, `/outputs/${p.id}/*`]] } })] },
      });
      const template = pipelines.get(p.id)!;
      for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
        const role = template.findResources('AWS::IAM::Role')[(fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]]!;
        expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toMatch(new RegExp(`PlatformJobOutputsPolicy${p.id.replace(/-/g, '')}`));
      }
    }
    platform.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('closes the run record of any Phi execution that is aborted, times out or fails', () => {
    platform.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ prefix: Match.anyValue() }] },
      },
      // delivered again for a day, then kept in the failed-deliveries queue for the sweeper
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('FailedDeliveries'), 'Arn'] } } })],
    });
  });

  it('keeps failed deliveries for the sweeper, alarms while one waits, and sweeps every 15 minutes', () => {
    platform.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 86_400, SqsManagedSseEnabled: true });
    platform.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmDescription: Match.stringLikeRegexp('waits for the sweeper'), Threshold: 1 });
    platform.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('Sweeper'), 'Arn'] } })] });
    // a schedule's delivery that keeps failing goes to the same queue
    pipelines.get('market-data')!.hasResourceProperties('AWS::Scheduler::Schedule', { Target: Match.objectLike({ DeadLetterConfig: { Arn: Match.anyValue() } }) });
  });

  it('lets the control functions (trigger, API, sweeper) start executions of the deployment’s own state machines only, by their exact ARNs', () => {
    const policies = Object.values(platform.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const starting = statements.filter((s) => [s.Action].flat().includes('states:StartExecution'));
    expect(starting).toHaveLength(3);
    const machines = plan.pipelines.map((p) => `:stateMachine:phi-${p.id}"`);
    for (const s of starting) {
      const text = JSON.stringify(s.Resource);
      for (const machine of machines) expect(text).toContain(machine);
      expect([s.Resource].flat()).toHaveLength(machines.length);
    }
    // No Step Functions action on a name pattern any other state machine could match.
    const states = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('states:')));
    expect(JSON.stringify(states.map((s) => s.Resource))).not.toMatch(/stateMachine:phi-\*|execution:phi-\*/);
  });

  it('grants table actions on the table alone (the history index only to the functions that read history: the API, the sweeper, and the trigger for upstream pipelines\' latest runs), and queues only SendMessage', () => {
    const roles = { recorder: /records run starts/, trigger: /pipeline schedule/, api: /control API/, sweeper: /closes runs/ };
    for (const [name, description] of Object.entries(roles)) {
      const statements = statementsOfRole(platform, roleOfFunction(platform, description));
      const table = JSON.stringify(statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:'))).map((s) => s.Resource));
      expect({ name, index: table.includes('/index/') }).toEqual({ name, index: name !== 'recorder' });
      expect(table).not.toContain('/index/*');
      const sqsActions = [...new Set(statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('sqs:')))].sort();
      const receives = { sweeper: ['sqs:DeleteMessage', 'sqs:ReceiveMessage', 'sqs:SendMessage'], api: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SendMessage'] } as Record<string, string[]>;
      expect({ name, sqsActions }).toEqual({ name, sqsActions: receives[name] ?? ['sqs:SendMessage'] });
    }
    for (const [id, template] of pipelines) {
      const all = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
      expect({ id, index: JSON.stringify(all.map((s) => s.Resource)).includes('/index/') }).toEqual({ id, index: false });
      expect({ id, sqs: [...new Set(all.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('sqs:')))] }).toEqual({ id, sqs: ['sqs:SendMessage'] });
    }
  });

  it('lets the control API receive, hide and delete messages of the dead-letter queue only (its dead-letter routes), and nothing else of any queue', () => {
    const statements = statementsOfRole(platform, roleOfFunction(platform, /control API/));
    const receiving = statements.filter((s) => [s.Action].flat().some((a) => a === 'sqs:ReceiveMessage'));
    expect(receiving).toHaveLength(1);
    expect([receiving[0]!.Action].flat().sort()).toEqual(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']);
    const queues = Object.entries(platform.findResources('AWS::SQS::Queue'));
    const dlq = queues.find(([, q]) => q.Properties.FifoQueue === true)![0];
    expect(receiving[0]!.Resource).toEqual({ 'Fn::GetAtt': [dlq, 'Arn'] });
    platform.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('control API'), Environment: { Variables: Match.objectLike({ PHI_DLQ_URL: Match.anyValue() }) } });
  });

  it('lets the control API read the dead-letter queue\'s depth (GET /health) with sqs:GetQueueAttributes on that queue alone, and hands it each pipeline\'s schedules and data age', () => {
    const statements = statementsOfRole(platform, roleOfFunction(platform, /control API/));
    const depth = statements.filter((s) => [s.Action].flat().includes('sqs:GetQueueAttributes'));
    expect(depth).toHaveLength(1);
    expect([depth[0]!.Action].flat()).toEqual(['sqs:GetQueueAttributes']);
    const dlq = Object.entries(platform.findResources('AWS::SQS::Queue')).find(([, q]) => q.Properties.FifoQueue === true)![0];
    expect(depth[0]!.Resource).toEqual({ 'Fn::GetAtt': [dlq, 'Arn'] });
    const api = Object.values(platform.findResources('AWS::Lambda::Function')).find((f) => /control API/.test(String(f.Properties.Description)))!;
    const health = HealthConfigSchema.parse(JSON.parse(String(api.Properties.Environment.Variables[HEALTH_ENV])));
    expect(health['market-data']?.schedules).toEqual([{ id: 'default', cron: '0 19 * * 1-5', timezone: 'America/New_York' }]);
    // Only the control API needs it.
    for (const fn of Object.values(platform.findResources('AWS::Lambda::Function'))) if (fn !== api) expect(fn.Properties.Environment?.Variables?.[HEALTH_ENV]).toBeUndefined();
  });

  it('throttles the control API at its stage, and ships viewer, operator and admin policies whose routes grow with the role', () => {
    platform.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'v1', MethodSettings: [Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 })] });
    const policies = Object.values(platform.findResources('AWS::IAM::ManagedPolicy'));
    const routes = (description: RegExp): string[] => {
      const policy = policies.find((p) => description.test(String(p.Properties.Description)))!;
      const statements = policy.Properties.PolicyDocument.Statement as Statement[];
      expect(statements.flatMap((s) => [s.Action].flat())).toEqual(['execute-api:Invoke']);
      return statements.flatMap((s) => [s.Resource].flat()).map((r) => JSON.stringify(r).replace(/.*\/v1\//, '').replace(/"\]\]\}$/, '')).sort();
    };
    const reads = ['GET/audit', 'GET/health', 'GET/pipelines/*/durations', 'GET/pipelines/*/paused', 'GET/pipelines/*/runs', 'GET/runs/*'];
    expect(routes(/^Phi viewer/)).toEqual(reads);
    // Operators list, show and retry dead letters (a listing receives them: not a viewer's call); only the
    // admin policy (every route) purges them. Operators also pause and resume (one pipeline, or all);
    // viewers read the pause state and the audit log.
    expect(routes(/^Phi operator/)).toEqual([...reads, 'GET/dead-letters', 'GET/dead-letters/*', 'POST/dead-letters/*/retry', 'POST/dead-letters/retry', 'POST/pause', 'POST/pipelines/*/pause', 'POST/pipelines/*/resume', 'POST/pipelines/*/runs', 'POST/resume', 'POST/runs/*/cancel', 'POST/runs/*/retry'].sort());
    expect(routes(/^Phi operator/).some((r) => r.includes('purge'))).toBe(false);
    expect(routes(/^Phi admin/)).toEqual(['*/*']);
    for (const output of ['ViewerPolicyArn', 'OperatorPolicyArn', 'AdminPolicyArn']) platform.hasOutput(output, {});
  });

  it('serves pause, resume, the pause state and the audit log, IAM-authorized, through the control function', () => {
    const resources = platform.findResources('AWS::ApiGateway::Resource');
    const pathOf = (id: string): string => {
      const r = resources[id];
      if (r === undefined) return '';
      const parent = r.Properties.ParentId;
      return `${typeof parent === 'object' && 'Ref' in parent && resources[parent.Ref] ? pathOf(parent.Ref) : ''}/${r.Properties.PathPart}`;
    };
    const methods = Object.values(platform.findResources('AWS::ApiGateway::Method')).map((m) => ({ method: m.Properties.HttpMethod, auth: m.Properties.AuthorizationType, path: m.Properties.ResourceId?.Ref ? pathOf(m.Properties.ResourceId.Ref) : '/' }));
    for (const [method, route] of [['POST', '/pipelines/{id}/pause'], ['POST', '/pipelines/{id}/resume'], ['GET', '/pipelines/{id}/paused'], ['POST', '/pause'], ['POST', '/resume'], ['GET', '/audit']]) {
      expect(methods).toContainEqual({ method, auth: 'AWS_IAM', path: route });
    }
  });

  it('grants the recorder, the trigger and the control API exactly the table actions their records need', () => {
    expect(dynamoActions(statementsOfRole(platform, roleOfFunction(platform, /records run starts/)))).toStrictEqual([...RECORD_ACTIONS.recorder].sort());
    expect(dynamoActions(statementsOfRole(platform, roleOfFunction(platform, /schedule trigger|pipeline schedule/)))).toStrictEqual([...RECORD_ACTIONS.trigger].sort());
    expect(dynamoActions(statementsOfRole(platform, roleOfFunction(platform, /control API/)))).toStrictEqual([...RECORD_ACTIONS.control].sort());
    // None of them scans the table or writes in batches.
    const all = Object.values(platform.findResources('AWS::IAM::Policy')).flatMap((p) => dynamoActions(p.Properties.PolicyDocument.Statement as Statement[]));
    expect(all.filter((a) => a.includes('Scan') || a.includes('Batch'))).toStrictEqual([]);
  });

  it('tells the control API which pipelines are deployed', () => {
    platform.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('control API'),
      Runtime: 'nodejs24.x',
      Environment: { Variables: Match.objectLike({ PHI_PIPELINES: JSON.stringify(plan.pipelines.map((p) => p.id)) }) },
    });
  });

  it('lets the functions that close runs (recorder, control API, sweeper) put run events on the default event bus only, and nothing else of EventBridge', () => {
    const defaultBus = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] };
    const roles = { recorder: /records run starts/, trigger: /pipeline schedule/, api: /control API/, sweeper: /closes runs/ };
    for (const [name, description] of Object.entries(roles)) {
      const putting = statementsOfRole(platform, roleOfFunction(platform, description)).filter((s) => [s.Action].flat().some((a) => a.startsWith('events:')));
      if (name === 'trigger') expect({ name, putting }).toEqual({ name, putting: [] });
      else expect({ name, putting: putting.map((s) => ({ Action: s.Action, Resource: s.Resource })) }).toEqual({ name, putting: [{ Action: 'events:PutEvents', Resource: defaultBus }] });
    }
  });
});

describe('pipeline stacks', () => {
  it('log the state machines’ errors without the states’ data (run parameters, outputs)', () => {
    for (const template of pipelines.values()) template.hasResourceProperties('AWS::StepFunctions::StateMachine', { LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: false } });
  });

  it('deploy the state machine definition the plan wrote, with function ARNs substituted', () => {
    for (const p of plan.pipelines) {
      const template = pipelines.get(p.id)!;
      const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
      expect(machine!.Properties.StateMachineName).toBe(`phi-${p.id}`);
      expect(machine!.Properties.StateMachineType).toBe('STANDARD');
      expect(JSON.parse(machine!.Properties.DefinitionString as string)).toStrictEqual(p.stateMachine.definition);
      expect(Object.keys(machine!.Properties.DefinitionSubstitutions as object).sort()).toEqual(Object.keys(p.stateMachine.substitutions).sort());
    }
  });

  it('give each of the plan’s functions its own Lambda, with its timeout and memory, shared by its jobs', () => {
    for (const p of plan.pipelines) {
      const template = pipelines.get(p.id)!;
      template.resourceCountIs('AWS::Lambda::Function', p.functions.length);
      for (const fn of p.functions) {
        template.hasResourceProperties('AWS::Lambda::Function', {
          Runtime: 'nodejs24.x',
          Timeout: fn.timeoutSeconds,
          MemorySize: fn.memoryMb,
          Description: Match.stringLikeRegexp(fn.jobs.length === 1 ? `job ${fn.jobs[0]}` : `${fn.jobs.length} jobs`),
          Environment: { Variables: Match.objectLike({ PHI_TABLE_NAME: Match.anyValue(), PHI_DLQ_URL: Match.anyValue(), PHI_RETENTION_DAYS: '90' }) },
        });
      }
    }
    // etl-fanout's three transforms share one function
    expect(planOf('etl-fanout').functions.map((f) => f.jobs.length)).toStrictEqual([1, 1, 3]);
  });

  it('let the state machine write only its pipeline’s runs’ records, start only its own child executions, and the job functions wake only its tasks', () => {
    const template = pipelines.get('etl-fanout')!;
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const roleRef = (machine!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = statementsOfRole(template, roleRef);
    const byAction = (action: string) => statements.filter((st) => [st.Action].flat().includes(action)).map((st) => JSON.stringify(st.Resource));
    expect(byAction('dynamodb:UpdateItem').join()).toMatch(/PlatformRecords/);
    expect(statements.find((st) => [st.Action].flat().includes('dynamodb:UpdateItem'))!.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#etl-fanout_*'] } });
    expect(byAction('states:StartExecution').join()).toMatch(/stateMachine:phi-etl-fanout"/);
    expect(byAction('states:DescribeExecution').join()).toMatch(/execution:phi-etl-fanout\/\*/);
    const roles = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => (f.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
    for (const role of roles) {
      const send = statementsOfRole(template, role).filter((st) => [st.Action].flat().includes('states:SendTaskSuccess'));
      expect(JSON.stringify(send.map((st) => st.Resource))).toMatch(/stateMachine:phi-etl-fanout"/);
    }
  });

  it('name the platform roles’ job-list policy after its pipeline, so one pipeline’s deploy never replaces another’s', () => {
    const names = [...pipelines.values()].flatMap((template) =>
      Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) => JSON.stringify(policy.Properties.Roles).includes('PlatformRecorderServiceRole')).map((policy) => policy.Properties.PolicyName as string),
    );
    expect(names.sort()).toEqual(plan.pipelines.map((p) => `phi-job-list-${p.id}`).sort());
  });

  it('deploy the run’s job list as an object of its own, which only the state machine and the platform’s recorder, control API and sweeper may read', () => {
    for (const p of plan.pipelines) {
      const template = pipelines.get(p.id)!;
      const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
      const key = (machine!.Properties.DefinitionSubstitutions as Record<string, unknown>).JobListKey as string;
      // a content-addressed file asset holding the plan's job list
      expect(key).toMatch(/^[0-9a-f]{64}\.json$/);
      expect(JSON.parse(readFileSync(path.join(app.outdir, `asset.${key}`), 'utf8'))).toStrictEqual(p.stateMachine.jobList);
      const readers = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
        (policy.Properties.PolicyDocument.Statement as Statement[]).some((st) => [st.Action].flat().includes('s3:GetObject') && JSON.stringify(st.Resource).includes(key)),
      );
      const roles = readers.flatMap((policy) => policy.Properties.Roles as unknown[]).map((role) => JSON.stringify(role));
      const roleRef = (machine!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      expect(roles.filter((role) => role.includes(roleRef))).toHaveLength(1);
      for (const fn of ['Recorder', 'ControlApi', 'Sweeper']) expect(roles.filter((role) => role.includes(`Platform${fn}ServiceRole`))).toHaveLength(1);
      expect(roles).toHaveLength(4);
      for (const policy of readers) {
        for (const st of policy.Properties.PolicyDocument.Statement as Statement[]) {
          if ([st.Action].flat().includes('s3:GetObject')) expect(JSON.stringify(st.Resource)).toMatch(new RegExp(`/${key}"\\]`));
        }
      }
    }
  });

  it('schedule market-data on weekdays at 19:00 New York time through the schedule trigger', () => {
    pipelines.get('market-data')!.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 19 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'America/New_York',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      // The one-schedule form is the schedule `default`; the trigger names its runs as before.
      Target: Match.objectLike({ Input: JSON.stringify({ pipelineId: 'market-data', scheduleId: 'default', scheduledTime: '<aws.scheduler.scheduled-time>' }) }),
    });
    const [schedule] = Object.values(pipelines.get('market-data')!.findResources('AWS::Scheduler::Schedule'));
    expect(schedule?.Properties).not.toHaveProperty('StartDate');
    expect(schedule?.Properties).not.toHaveProperty('EndDate');
    pipelines.get('failure-drill')!.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('let the state machine invoke only its own job functions (by their names, which no other pipeline’s match) and the recorder', () => {
    const template = pipelines.get('etl-fanout')!;
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const roleRef = (machine!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))!;
    const invoke = (policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown[] }[]).filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    const text = JSON.stringify(invoke.flatMap((s) => [s.Resource].flat()));
    const imported = new Set([...text.matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1]));
    expect([...imported]).toEqual([expect.stringMatching(/Recorder/)]);
    // The job functions by the one name pattern that only this pipeline's functions have.
    expect(text).toContain(':function:phi-etl-fanout_*"');
    expect(text.match(/:function:/g)).toHaveLength(1);
    const names = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.FunctionName);
    expect(names.sort()).toEqual(planOf('etl-fanout').functions.map((f) => `phi-etl-fanout_${f.key}`).sort());
  });

  it('give each job function exactly the records actions of the runtime, the dead-letter send and the token release, and nothing else', () => {
    for (const p of plan.pipelines) {
      const template = pipelines.get(p.id)!;
      const jobRoles = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => (f.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
      expect(jobRoles).toHaveLength(p.functions.length);
      for (const role of jobRoles) {
        const statements = statementsOfRole(template, role);
        const dynamo = [...new Set(statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('dynamodb:')))].sort();
        const others = [...new Set(statements.flatMap((s) => [s.Action].flat()).filter((a) => !a.startsWith('dynamodb:')))].sort();
        expect({ pipeline: p.id, role, dynamo }).toStrictEqual({ pipeline: p.id, role, dynamo: [...RECORD_ACTIONS.runtime].sort() });
        expect({ pipeline: p.id, role, others }).toStrictEqual({ pipeline: p.id, role, others: ['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage', 'states:SendTaskSuccess', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'] });
        // large outputs: through the platform's one job-outputs policy
        expect(JSON.stringify(template.findResources('AWS::IAM::Role')[role]!.Properties.ManagedPolicyArns)).toMatch(/PlatformJobOutputsPolicy/);
        // on the records table (imported from the platform stack), not its index, and only on the items of its own pipeline's runs
        const dynamoStatements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
        expect(JSON.stringify(dynamoStatements.map((s) => s.Resource))).toMatch(/PlatformRecords/);
        for (const statement of dynamoStatements) expect(statement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`RUN#${p.id}_*`] } });
      }
    }
  });

  it('give every function (jobs and platform) a role without AWS managed policies, writing logs to its own log group only (the control API also reads the job functions\' groups, for phi logs)', () => {
    for (const template of [platform, ...pipelines.values()]) {
      const roles = template.findResources('AWS::IAM::Role');
      for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
        const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        expect(JSON.stringify(roles[roleId]!.Properties.ManagedPolicyArns ?? [])).not.toContain('iam::aws:policy');
        const logs = statementsOfRole(template, roleId).filter((s) => [s.Action].flat().some((a) => a.startsWith('logs:')));
        const group = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        const writes = logs.filter((s) => [s.Action].flat().some((a) => a === 'logs:PutLogEvents'));
        expect(writes.flatMap((s) => [s.Action].flat()).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
        expect(JSON.stringify(writes.map((s) => s.Resource))).toContain(group);
        const reads = logs.filter((s) => !writes.includes(s)).flatMap((s) => [s.Action].flat()).sort();
        expect(reads).toEqual(String(fn.Properties.Description).includes('control API') ? ['logs:FilterLogEvents'] : []);
      }
    }
  });

  it('alarm on the seed’s four rules for market-data (failed run, stale data, error rate, long run), each notifying the platform’s alarm topic', () => {
    const alarms = Object.values(pipelines.get('market-data')!.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms).toHaveLength(4);
    const byDescription = (text: RegExp) => alarms.find((a) => text.test(String(a.AlarmDescription)))!;
    const dims = [{ Name: 'pipeline', Value: 'market-data' }];
    expect(byDescription(/a run failed/)).toMatchObject({ Namespace: 'Phi', MetricName: 'RunsFailed', Dimensions: dims, Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    // No success in 72 hours: three periods of a day, missing data breaching.
    expect(byDescription(/no run succeeded for 72 hours/)).toMatchObject({ MetricName: 'RunsSucceeded', Dimensions: dims, Period: 86_400, EvaluationPeriods: 3, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    expect(byDescription(/longer than 120 minutes/)).toMatchObject({ MetricName: 'RunDuration', Statistic: 'Maximum', Threshold: 7_200_000, ComparisonOperator: 'GreaterThanThreshold' });
    const rate = byDescription(/10% of jobs failed within 60 minutes/);
    expect(rate).toMatchObject({ MetricName: 'JobFailure', Statistic: 'Average', Period: 3_600, Threshold: 0.1, ComparisonOperator: 'GreaterThanThreshold' });
    for (const alarm of alarms) expect(JSON.stringify(alarm.AlarmActions)).toMatch(/PlatformAlarms/);
    // Other pipelines keep the default: a failed run only.
    expect(Object.values(pipelines.get('etl-fanout')!.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.MetricName)).toEqual(['RunsFailed']);
  });

  it('hold exactly as many resources as the plan estimated', () => {
    for (const p of plan.pipelines) {
      const count = Object.keys(pipelines.get(p.id)!.toJSON().Resources as object).length;
      expect({ pipeline: p.id, resources: count }).toEqual({ pipeline: p.id, resources: p.estimates.stackResources });
    }
  });
});

describe('a job named like a Phi part', () => {
  it('gets its own function ARN in the state machine, not the recorder’s', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'phi-cdk-'));
    mkdirSync(path.join(dir, 'h'));
    writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = () => ({});\n');
    writeFileSync(path.join(dir, 'p.ts'), "export default { id: 'named', jobs: { recorder: { handler: './h/x.ts' }, failed: { handler: './h/x.ts', dependsOn: ['recorder'] } } };\n");
    const result = await planDefinitions(dir, new Date('2026-11-22T12:00:00Z'));
    expect(result.problems).toEqual([]);
    const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), result.plan);
    const template = Template.fromStack(stacks.pipelines[0]!);
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const substitutions = machine!.Properties.DefinitionSubstitutions as Record<string, unknown>;
    const jobFunctions = Object.keys(template.findResources('AWS::Lambda::Function'));
    // The jobs "failed" and "recorder" share one function, in this stack.
    expect(jobFunctions).toHaveLength(1);
    expect(JSON.stringify(substitutions.JobFunctionArn_f0)).toContain(jobFunctions[0]!);
    expect(JSON.stringify(substitutions.RecorderFunctionArn)).toContain('Fn::ImportValue');
  });
});

describe('the CDK app on definitions with problems', () => {
  it('prints the problem list phi validate prints, exits 1 and synthesizes nothing: no stack trace', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'phi-cdk-bad-'));
    writeFileSync(path.join(dir, 'bad.ts'), "export default { id: 'bad', jobs: { a: { handler: './nope.ts', dependsOn: ['ghost'] } } };\n");
    const root = path.resolve(__dirname, '../..');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], { cwd: root, env: { ...process.env, PHI_DEFINITIONS_DIR: dir, CDK_OUTDIR: path.join(dir, 'out') }, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('✗ 2 problem(s):');
    expect(run.stderr).toContain('DEP_001_MISSING_UPSTREAM');
    expect(run.stderr).toContain('DEF_002_HANDLER_NOT_FOUND  bad / job a  at jobs.a.handler');
    expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });
});

describe('a pipeline with several schedules', () => {
  /** Synthesizes one pipeline with `schedules`, planned at `now`: its template and its plan. */
  async function synthesize(schedules: readonly object[], now: Date, extra = ''): Promise<{ template: Template; plan: PipelinePlan }> {
    const { mkdtempSync, writeFileSync, mkdirSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'phi-cdk-schedules-'));
    mkdirSync(path.join(dir, 'h'));
    writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = async () => ({});\n');
    writeFileSync(
      path.join(dir, 'p.ts'),
      `import { z } from 'phi';\nexport default { id: 'reports', ${extra} schedules: ${JSON.stringify(schedules)}, jobs: { a: { handler: './h/x.ts' } } };\n`,
    );
    const result = await planDefinitions(dir, now);
    expect(result.problems).toEqual([]);
    const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), result.plan);
    return { template: Template.fromStack(stacks.pipelines[0]!), plan: result.plan.pipelines[0]! };
  }

  const NOW = new Date('2026-11-22T12:00:00Z');
  let template: Template;
  let reports: PipelinePlan;
  beforeAll(async () => {
    ({ template, plan: reports } = await synthesize(
      [
        { id: 'daily', cron: '0 6 * * *', timezone: 'Europe/Paris', parameters: { mode: 'daily' } },
        { id: 'weekly', cron: '0 7 * * 1', timezone: 'Europe/Paris', startDate: '2027-01-04T00:00:00+01:00', endDate: '2027-12-31T00:00:00Z', parameters: { mode: 'weekly', lookbackDays: 7 } },
        { id: 'paused', rate: '1 hour', enabled: false },
        { id: 'over', cron: '0 0 * * *', startDate: '2026-01-01T00:00:00Z', endDate: '2026-06-30T00:00:00Z' },
        { id: 'hourly', rate: '1 hour', startDate: '2026-11-01T00:30:00Z' },
      ],
      NOW,
      "runParameters: z.object({ mode: z.enum(['daily', 'weekly']).default('daily'), lookbackDays: z.number().int().optional() }),",
    ));
  });

  const scheduleNamed = (id: string): Record<string, unknown> => {
    const found = Object.values(template.findResources('AWS::Scheduler::Schedule')).filter((r) => JSON.parse(String((r.Properties.Target as { Input: string }).Input)).scheduleId === id);
    expect(found).toHaveLength(1);
    return found[0]!.Properties as Record<string, unknown>;
  };

  it('deploys one Scheduler schedule per schedule, each naming its schedule id and carrying its run parameters in its input', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 5);
    expect(JSON.parse(String((scheduleNamed('daily').Target as { Input: string }).Input))).toStrictEqual({ pipelineId: 'reports', scheduleId: 'daily', scheduledTime: '<aws.scheduler.scheduled-time>', parameters: { mode: 'daily' } });
    expect(JSON.parse(String((scheduleNamed('weekly').Target as { Input: string }).Input))).toStrictEqual({ pipelineId: 'reports', scheduleId: 'weekly', scheduledTime: '<aws.scheduler.scheduled-time>', parameters: { mode: 'weekly', lookbackDays: 7 } });
    expect(JSON.parse(String((scheduleNamed('paused').Target as { Input: string }).Input))).toStrictEqual({ pipelineId: 'reports', scheduleId: 'paused', scheduledTime: '<aws.scheduler.scheduled-time>' });
    expect(scheduleNamed('daily')).toMatchObject({ ScheduleExpression: 'cron(0 6 * * ? *)', ScheduleExpressionTimezone: 'Europe/Paris', Description: 'Phi reports daily: cron: 0 6 * * *' });
  });

  it('sets StartDate and EndDate still to come as UTC instants, and State from enabled', () => {
    expect(scheduleNamed('weekly')).toMatchObject({ State: 'ENABLED', StartDate: '2027-01-03T23:00:00Z', EndDate: '2027-12-31T00:00:00Z' });
    expect(scheduleNamed('daily')).toMatchObject({ State: 'ENABLED' });
    expect(scheduleNamed('daily')).not.toHaveProperty('StartDate');
    expect(scheduleNamed('paused')).toMatchObject({ State: 'DISABLED', ScheduleExpression: 'rate(1 hour)' });
  });

  it('deploys a schedule whose end date has passed DISABLED, without the dates Scheduler would refuse', () => {
    const over = scheduleNamed('over');
    expect(over).toMatchObject({ State: 'DISABLED' });
    expect(over).not.toHaveProperty('StartDate');
    expect(over).not.toHaveProperty('EndDate');
  });

  it('leaves a start date already past out (Scheduler refuses a past StartDate)', () => {
    expect(scheduleNamed('hourly')).toMatchObject({ State: 'ENABLED', ScheduleExpression: 'rate(1 hour)' });
    expect(scheduleNamed('hourly')).not.toHaveProperty('StartDate');
  });

  it('lets one role, which only invokes the schedule trigger and keeps failed deliveries, deliver every schedule', () => {
    template.resourceCountIs('AWS::IAM::Role', 1 + 1 + 1); // the state machine's, the job function's and the schedules'
    const roles = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((r) => JSON.stringify((r.Properties.Target as { RoleArn: unknown }).RoleArn));
    expect(new Set(roles).size).toBe(1);
    const roleId = (JSON.parse(roles[0]!) as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    expect(statementsOfRole(template, roleId).flatMap((st) => [st.Action].flat()).sort()).toStrictEqual(['lambda:InvokeFunction', 'sqs:SendMessage']);
  });

  it('holds exactly as many resources as the plan estimated', () => {
    expect(Object.keys(template.toJSON().Resources as object)).toHaveLength(reports.estimates.stackResources);
  });
});

describe('generated pipelines of several sizes and shapes', () => {
  /** A pipeline of `jobs` jobs over `functions` distinct functions (other timeouts), job i waiting on up to `fanIn` jobs before it. */
  async function synthesized(jobs: number, functions: number, fanIn: number, schedules: number, alarms: object = {}): Promise<{ estimate: number; resources: number; templateBytes: number }> {
    const { mkdtempSync, writeFileSync, mkdirSync } = await import('node:fs');
    const os = await import('node:os');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'phi-cdk-gen-'));
    mkdirSync(path.join(dir, 'h'));
    writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = async () => ({});\n');
    const id = (i: number): string => `j${String(i).padStart(4, '0')}`;
    const definition = {
      id: 'generated',
      alarms,
      ...(schedules === 1 ? { schedule: { cron: '0 6 * * 1-5', timezone: 'Europe/Paris' } } : {}),
      ...(schedules > 1 ? { schedules: Array.from({ length: schedules }, (_, i) => ({ id: `s${i}`, cron: `${i % 60} 6 * * 1-5`, timezone: 'Europe/Paris', ...(i % 2 === 1 ? { enabled: false } : {}) })) } : {}),
      jobs: Object.fromEntries(Array.from({ length: jobs }, (_, i) => [id(i), { handler: './h/x.ts', timeoutSeconds: 1 + (i % functions), ...(i > 0 && fanIn > 0 ? { dependsOn: Array.from({ length: Math.min(i, fanIn) }, (_, k) => id(i - 1 - k)) } : {}) }])),
    };
    writeFileSync(path.join(dir, 'p.ts'), `export default ${JSON.stringify(definition)};\n`);
    const result = await planDefinitions(dir, new Date('2026-11-22T12:00:00Z'));
    expect(result.problems).toEqual([]);
    const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), result.plan);
    const template = Template.fromStack(stacks.pipelines[0]!).toJSON();
    return { estimate: result.plan.pipelines[0]!.estimates.stackResources, resources: Object.keys(template.Resources as object).length, templateBytes: JSON.stringify(template).length };
  }

  it.each([
    ['123 functions and two alarms (a failed run, a long run), no schedule: 500 resources, at the limit', 123, 123, 0, 0, { maxDurationMinutes: 60 }],
    ['1,000 jobs with 3,000 edges over 5 functions', 1_000, 5, 3, 0, {}],
    ['40 jobs of one function in a chain, scheduled, with every alarm', 40, 1, 1, 1, { maxDurationMinutes: 60, maxDataAgeHours: 30, errorRate: { threshold: 0.2 } }],
    ['40 jobs of one function in a chain, with 12 schedules (half disabled)', 40, 1, 1, 12, {}],
  ])('synthesize exactly as many resources as the plan estimated, in a template far under 1 MB: %s', async (_what, jobs, functions, fanIn, schedules, alarms) => {
    const { estimate, resources, templateBytes } = await synthesized(jobs, functions, fanIn, schedules, alarms);
    expect(resources).toBe(estimate);
    expect(resources).toBeLessThanOrEqual(500);
    expect(templateBytes).toBeLessThan(512 * 1024);
  }, 120_000);
});

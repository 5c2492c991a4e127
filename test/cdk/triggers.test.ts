/**
 * A pipeline's triggers (issue #9) in its stack: one EventBridge rule per enabled trigger on the default
 * bus, invoking the platform's trigger function with the pipeline, the trigger and the whole event,
 * retried for a day and then kept in the failed-deliveries queue (which the platform lets the
 * pipeline's rules, by name, send to); the estimate counts them; cdk-nag finds nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { addPhiChecks } from '../../infra/constructs/checks.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import type { Plan, PipelinePlan } from '../../lib/plan/types.ts';

const NOW = new Date('2026-11-22T12:00:00Z');
const TRIGGERS = [
  { type: 'event', id: 'orders', pattern: { source: ['my.app'], 'detail-type': ['Order Placed'], detail: { total: [{ numeric: ['>', 0] }] } } },
  { type: 'dataArrival', id: 'landing', bucket: 'raw-data', prefix: 'in/', suffix: '.csv', debounceSeconds: 300 },
  { type: 'dataArrival', bucket: 'raw-data', enabled: false },
];

let plan: Plan;
let pipeline: Template;
let platform: Template;
let ingest: PipelinePlan;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phi-cdk-triggers-'));
  mkdirSync(path.join(dir, 'h'));
  writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = async () => ({});\n');
  writeFileSync(path.join(dir, 'p.ts'), `export default { id: 'ingest', triggers: ${JSON.stringify(TRIGGERS)}, jobs: { a: { handler: './h/x.ts' } } };\n`);
  const result = await planDefinitions(dir, NOW);
  expect(result.problems).toEqual([]);
  plan = result.plan;
  ingest = plan.pipelines[0]!;
  const stacks = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), plan);
  pipeline = Template.fromStack(stacks.pipelines[0]!);
  platform = Template.fromStack(stacks.platform);
}, 120_000);

describe('a pipeline with triggers', () => {
  it('deploys one rule per enabled trigger on the default bus, named phi-<pipeline>_<trigger>, with the plan’s pattern', () => {
    const rules = pipeline.findResources('AWS::Events::Rule');
    expect(Object.values(rules).map((r) => r.Properties.Name).sort()).toStrictEqual(['phi-ingest_landing', 'phi-ingest_orders']);
    pipeline.hasResourceProperties('AWS::Events::Rule', { Name: 'phi-ingest_orders', State: 'ENABLED', EventBusName: Match.absent(), EventPattern: TRIGGERS[0]!.pattern });
    pipeline.hasResourceProperties('AWS::Events::Rule', {
      Name: 'phi-ingest_landing',
      EventPattern: { source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: ['raw-data'] }, object: { key: [{ wildcard: 'in/*.csv' }] } } },
    });
  });

  it('targets the platform’s trigger function with the pipeline, the trigger and the whole event, retried for a day, then kept in the failed-deliveries queue', () => {
    const rule = Object.values(pipeline.findResources('AWS::Events::Rule')).find((r) => r.Properties.Name === 'phi-ingest_landing')!;
    const [target] = rule.Properties.Targets as Record<string, unknown>[];
    expect(JSON.stringify(target!.Arn)).toContain('ScheduleTrigger');
    expect(target!.RetryPolicy).toStrictEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 });
    expect(JSON.stringify((target!.DeadLetterConfig as { Arn: unknown }).Arn)).toContain('FailedDeliveries');
    const template = (target!.InputTransformer as { InputTemplate: string }).InputTemplate;
    expect(template).toBe('{"pipelineId":"ingest","triggerId":"landing","triggerType":"dataArrival","debounceSeconds":300,"event":<aws.events.event.json>}');
  });

  it('lets EventBridge invoke the trigger function from each rule (one permission per rule, by its ARN)', () => {
    const permissions = Object.values(pipeline.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(2);
    for (const p of permissions) {
      expect(p.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' });
      expect(JSON.stringify(p.Properties.SourceArn)).toMatch(/Trigger(orders|landing)/);
    }
  });

  it('lets the pipelines’ trigger rules, by name, keep failed deliveries in the platform’s queue', () => {
    const policies = Object.values(platform.findResources('AWS::SQS::QueuePolicy'));
    const statement = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as { Sid?: string; Condition?: unknown; Principal?: unknown }[]).find((s) => s.Sid === 'PhiTriggerRules');
    expect(statement?.Principal).toStrictEqual({ Service: 'events.amazonaws.com' });
    expect(JSON.stringify(statement?.Condition)).toContain(':rule/phi-ingest_*');
  });

  it('holds exactly as many resources as the plan estimated', () => {
    expect(Object.keys(pipeline.toJSON().Resources as object)).toHaveLength(ingest.estimates.stackResources);
  });

  it('passes cdk-nag with nothing unacknowledged', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'phi-nag-triggers-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    addPhiChecks(app);
    buildApp(app, plan);
    let report: unknown;
    try {
      app.synth();
    } catch (err) {
      report = readFileSync(path.join(outdir, 'validation-report.json'), 'utf8');
      throw new Error(`cdk-nag findings: ${String(report).slice(0, 4000)} (${String(err)})`);
    }
  });
});

/**
 * Cross-pipeline dependencies (issue #9) in the stacks: one rule per upstream pipeline on the default
 * bus, matching that pipeline's `Phi Run Ended` events in the required states and invoking the trigger
 * function with the dependency (named as one of the pipeline's rules, so the failed-deliveries queue
 * takes its failures); the waiting runs' timeouts as one-time schedules (a role Scheduler assumes,
 * which may invoke the trigger only; CreateSchedule on `phi-wait-*` and PassRole of that role only, for
 * the functions that start runs); cdk-nag finds nothing unacknowledged.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { checked, planOfFiles } from './support.ts';
import type { Plan } from '../../lib/plan/types.ts';

const NOW = new Date('2026-11-23T12:00:00Z');

function chainPlan(): Promise<Plan> {
  const pipeline = (id: string, rest: object): string => `export default ${JSON.stringify({ id, ...rest, jobs: { a: { handler: './h/x.ts' } } })};\n`;
  return planOfFiles({
    'daily.ts': pipeline('daily', { schedule: { cron: '0 19 * * *' }, provides: ['prices'] }),
    'weekly.ts': pipeline('weekly', { schedule: { cron: '0 20 * * 0' }, requires: [{ dataset: 'prices', maxAgeHours: 26 }] }),
    'report.ts': pipeline('report', { after: [{ pipeline: 'weekly', on: 'COMPLETION' }] }),
  }, NOW);
}

let plan: Plan;
let stacks: Record<string, Template>;
let platform: Template;
beforeAll(async () => {
  plan = await chainPlan();
  const built = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), plan);
  stacks = Object.fromEntries(built.pipelines.map((s, i) => [plan.pipelines[i]!.id, Template.fromStack(s)]));
  platform = Template.fromStack(built.platform);
}, 120_000);

describe('a pipeline that depends on others', () => {
  it('has one rule per upstream, matching its runs’ ends in the required states, invoking the trigger with the dependency and the event', () => {
    expect(Object.keys(stacks.daily!.findResources('AWS::Events::Rule'))).toEqual([]);
    stacks.weekly!.hasResourceProperties('AWS::Events::Rule', {
      Name: Match.stringLikeRegexp('^phi-weekly_after_[0-9a-f]{10}$'),
      EventPattern: { source: ['phi'], 'detail-type': ['Phi Run Ended'], detail: { pipelineId: ['daily'], status: ['SUCCEEDED'] } },
      Targets: [Match.objectLike({ InputTransformer: { InputTemplate: '{"pipelineId":"weekly","upstream":"daily","mode":"gate","on":"SUCCESS","event":<aws.events.event.json>}' }, RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 } })],
    });
    stacks.report!.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { pipelineId: ['weekly'], status: ['SUCCEEDED', 'FAILED', 'CANCELLED'] } },
      Targets: [Match.objectLike({ InputTransformer: { InputTemplate: '{"pipelineId":"report","upstream":"weekly","mode":"trigger","on":"COMPLETION","event":<aws.events.event.json>}' } })],
    });
    stacks.report!.resourceCountIs('AWS::Lambda::Permission', 1);
  });

  it('counts the rule and its permission in the stack estimate', () => {
    const [daily, weekly] = ['daily', 'weekly'].map((id) => plan.pipelines.find((p) => p.id === id)!);
    expect(weekly!.estimates.stackResources).toBe(daily!.estimates.stackResources + 2);
  });

  it('lets the functions that start runs schedule a waiting run’s timeout (phi-wait-* only) with a role that may only invoke the trigger', () => {
    const roles = platform.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })] } } });
    expect(Object.keys(roles)).toHaveLength(1);
    const policies = Object.values(platform.findResources('AWS::IAM::Policy')).map((p) => JSON.stringify(p.Properties.PolicyDocument));
    const creators = policies.filter((p) => p.includes('scheduler:CreateSchedule'));
    expect(creators).toHaveLength(3);
    for (const p of creators) {
      expect(p).toContain('schedule/default/phi-wait-*');
      expect(p).toContain('"iam:PassedToService":"scheduler.amazonaws.com"');
    }
    const fns = Object.values(platform.findResources('AWS::Lambda::Function')).filter((f) => JSON.stringify(f.Properties.Environment ?? {}).includes('PHI_WAIT_CHECK_ROLE_ARN'));
    expect(fns).toHaveLength(3);
  });

  it('passes cdk-nag with nothing unacknowledged', () => {
    expect(checked(plan).findings).toEqual([]);
  }, 120_000);
});

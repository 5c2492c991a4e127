/**
 * cdk-nag (AWS Solutions and Serverless packs) on what Phi synthesizes: the shipped examples and a
 * generated pipeline pass with nothing unacknowledged, every acknowledgement says why, and the checks
 * really run (a construct that breaks a rule stops synthesis).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checked } from './support.ts';
import { addPhiChecks } from '../../infra/constructs/checks.ts';
import { grantOn } from '../../infra/constructs/grants.ts';
import { planDefinitions } from '../../lib/load/load.ts';
import type { Plan } from '../../lib/plan/types.ts';

const DEFINITIONS = path.resolve(__dirname, '../../definitions');
const NOW = new Date('2026-11-22T12:00:00Z');

/** A pipeline of 30 jobs over 3 functions, scheduled, with fan-in: the shapes the examples may not cover. */
async function generatedPlan(): Promise<Plan> {
  const dir = mkdtempSync(path.join(tmpdir(), 'phi-nag-gen-'));
  mkdirSync(path.join(dir, 'h'));
  writeFileSync(path.join(dir, 'h', 'x.ts'), 'export const handler = async () => ({});\n');
  const id = (i: number): string => `j${i}`;
  const jobs = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [id(i), { handler: './h/x.ts', timeoutSeconds: 10 + (i % 3), ...(i > 1 ? { dependsOn: [id(i - 1), id(i - 2)] } : {}) }]));
  writeFileSync(path.join(dir, 'p.ts'), `export default ${JSON.stringify({ id: 'generated', schedule: { rate: '1 hour' }, jobs })};\n`);
  const result = await planDefinitions(dir, NOW);
  expect(result.problems).toEqual([]);
  return result.plan;
}

let shipped: ReturnType<typeof checked>;
beforeAll(async () => {
  const result = await planDefinitions(DEFINITIONS, NOW);
  expect(result.problems).toEqual([]);
  shipped = checked(result.plan);
}, 120_000);

describe('cdk-nag on what Phi deploys', () => {
  it('finds nothing unacknowledged in the shipped examples’ stacks (AWS Solutions and Serverless packs)', () => {
    expect(shipped.findings).toEqual([]);
  });

  it('finds nothing unacknowledged in a generated, scheduled pipeline with fan-in', async () => {
    expect(checked(await generatedPlan()).findings).toEqual([]);
  }, 120_000);

  it('acknowledges only these rules, each with its reason in the code', () => {
    for (const [id, reasons] of shipped.acknowledged) for (const reason of reasons) expect(reason.length, id).toBeGreaterThan(40);
    // Wildcards are acknowledged one resource at a time; the rules are what is asserted here.
    const rules = [...new Set([...shipped.acknowledged.keys()].map((id) => id.replace(/\[.*\]$/, '')))].sort();
    expect(rules).toEqual([
      'AwsSolutions-APIG2',
      'AwsSolutions-APIG3',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
      'AwsSolutions-S1',
      'AwsSolutions-SF1',
      'AwsSolutions-SQS3',
      'Serverless-EventBusDLQ',
      'Serverless-LambdaDLQ',
      'Serverless-SQSRedrivePolicy',
    ]);
  });

  it('stops synthesis on a finding nobody acknowledged', () => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'phi-nag-bad-')) });
    addPhiChecks(app);
    new sqs.Queue(new Stack(app, 'Careless'), 'Plain');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4/);
  });

  it('refuses a wildcard grant that does not say why its names are unknown', () => {
    const stack = new Stack(new App(), 'Grants');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => grantOn(role, ['states:DescribeExecution'], ['arn:aws:states:eu-west-1:123456789012:execution:phi-x:*'])).toThrow(expect.objectContaining({ code: 'CDK_001_UNEXPLAINED_WILDCARD' }));
    grantOn(role, ['states:DescribeExecution'], ['arn:aws:states:eu-west-1:123456789012:execution:phi-x:*'], 'runs are named by their run id, unknown at deploy time');
  });
});

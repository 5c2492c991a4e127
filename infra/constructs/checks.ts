/**
 * The compliance checks every Phi app runs at synth (cdk-nag's AWS Solutions and Serverless packs) and
 * the one way Phi acknowledges a rule it breaks on purpose: in code, on the construct concerned, with
 * its reason. Synthesis fails on any finding left unacknowledged.
 */
import { Stack, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
// The function cdk-nag names a wildcard finding with, so an acknowledgement matches it exactly.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/** Runs both packs on everything `app` synthesizes. */
export function addPhiChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}

/** Acknowledges `rules` (cdk-nag ids, e.g. `AwsSolutions-SQS3`) on `scope` and everything below it. */
export function acknowledge(scope: IConstruct, rules: readonly string[], reason: string): void {
  for (const id of rules) Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges the wildcard finding (`AwsSolutions-IAM5`) of each of `resources` that holds a `*`, on
 * `scope` (the role or policy whose statement names them): the finding names the resource, so any
 * other wildcard on the same role is still reported.
 */
export function acknowledgeWildcards(scope: IConstruct, resources: readonly string[], reason: string): void {
  const stack = Stack.of(scope);
  const findings = resources.filter((r) => r.includes('*')).map((r) => `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(r))}]`);
  acknowledge(scope, findings, reason);
}

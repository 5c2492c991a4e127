/**
 * What a deployment needs on MiniStack with AUTH=true that it does not need on AWS, applied after each
 * local deploy (`deployLocal` runs this file as a script: `node --import tsx lib/local/adapt.ts <endpoint>`).
 * Only where the emulator enforces IAM; each adaptation stands for a difference of the emulator, not
 * for a grant Phi lacks:
 *
 *  1. Task tokens: MiniStack authorizes `states:SendTaskSuccess` (and SendTaskFailure, SendTaskHeartbeat)
 *     against `*`, since the request names only the token; AWS authorizes it against the token's state
 *     machine, which is what Phi grants. A role holding one of these actions also gets it on `*`.
 *  2. TLS-only resource policies: the emulator speaks plain HTTP, so `aws:SecureTransport` is false on
 *     every call and the `Deny … when aws:SecureTransport is false` statements of Phi's buckets and queues
 *     (`enforceSSL`) would refuse everything. Those statements (and only those) are taken out.
 *     (The CDK bootstrap bucket's, likewise, by the template `deployLocal` bootstraps with.)
 */
import { ListStackResourcesCommand, ListStacksCommand, CloudFormationClient, type StackResourceSummary } from '@aws-sdk/client-cloudformation';
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pathToFileURL } from 'node:url';
import { PLATFORM_STACK } from '../model/names.ts';
import { enforcesAuth } from './emulator.ts';
import { asList, inlinePolicies, putInlinePolicy, roleNames, type PolicyStatement } from './iam.ts';

export const TOKEN_ACTIONS = ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'] as const;
/** The inline policy adaptation 1 adds to a role. */
export const TASK_TOKEN_POLICY = 'phi-emulator-task-tokens';

const isPhiStack = (name: string): boolean => name === PLATFORM_STACK || name.startsWith('Phi-');
const isPhiRole = (name: string): boolean => name.startsWith(`${PLATFORM_STACK}-`) || name.startsWith('Phi-');

/** A statement that denies everything not sent over TLS (CDK's `enforceSSL`). */
export const isTlsOnly = (s: PolicyStatement): boolean =>
  s.Effect === 'Deny' && Object.entries(s.Condition ?? {}).some(([op, keys]) => op === 'Bool' && Object.entries(keys).some(([k, v]) => k.toLowerCase() === 'aws:securetransport' && String(v) === 'false'));

/** Adaptation 1: every Phi role holding a task-token action gets it on `*`. Answers the roles changed. */
export async function allowTaskTokensEverywhere(endpoint: string): Promise<string[]> {
  const changed: string[] = [];
  await Promise.all((await roleNames(endpoint)).filter(isPhiRole).map(async (role) => {
    const held = new Set<string>();
    for (const policy of await inlinePolicies(endpoint, role)) {
      if (policy.name === TASK_TOKEN_POLICY) continue;
      for (const s of policy.statements) if (s.Effect === 'Allow') for (const a of asList(s.Action)) if ((TOKEN_ACTIONS as readonly string[]).includes(a)) held.add(a);
    }
    if (held.size === 0) return;
    await putInlinePolicy(endpoint, role, TASK_TOKEN_POLICY, [{ Effect: 'Allow', Action: [...held].sort(), Resource: '*' }]);
    changed.push(role);
  }));
  return changed.sort();
}

async function phiResources(endpoint: string, type: string): Promise<StackResourceSummary[]> {
  const cfn = new CloudFormationClient({ endpoint });
  const stacks: string[] = [];
  let token: string | undefined;
  do {
    const page = await cfn.send(new ListStacksCommand({ ...(token ? { NextToken: token } : {}) }));
    stacks.push(...(page.StackSummaries ?? []).filter((s) => s.StackStatus !== 'DELETE_COMPLETE' && isPhiStack(s.StackName ?? '')).map((s) => s.StackName!));
    token = page.NextToken;
  } while (token);
  const found: StackResourceSummary[] = [];
  for (const stack of stacks) {
    let next: string | undefined;
    do {
      const page = await cfn.send(new ListStackResourcesCommand({ StackName: stack, ...(next ? { NextToken: next } : {}) }));
      found.push(...(page.StackResourceSummaries ?? []).filter((r) => r.ResourceType === type && r.PhysicalResourceId));
      next = page.NextToken;
    } while (next);
  }
  return found;
}

/**
 * These calls are themselves refused by the statements they take out (an explicit deny binds the root
 * key too), unless they say they came over TLS: MiniStack takes `X-Forwarded-Proto: https` from a proxy
 * in front of it as `aws:SecureTransport`.
 */
function overTls<T extends S3Client | SQSClient>(client: T): T {
  (client.middlewareStack as S3Client['middlewareStack']).add((next) => async (args) => {
    (args.request as { headers: Record<string, string> }).headers['x-forwarded-proto'] = 'https';
    return next(args);
  }, { step: 'build', name: 'phiEmulatorOverTls' });
  return client;
}

/** Adaptation 2: the TLS-only statements out of Phi's bucket and queue policies. Answers what changed. */
export async function dropTlsOnlyStatements(endpoint: string): Promise<string[]> {
  const changed: string[] = [];
  const s3 = overTls(new S3Client({ endpoint, forcePathStyle: true }));
  for (const bucket of (await phiResources(endpoint, 'AWS::S3::Bucket')).map((r) => r.PhysicalResourceId!)) {
    const policy = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket })).then((p) => p.Policy, (err: Error) => {
      if (err.name === 'NoSuchBucketPolicy') return undefined;
      throw err;
    });
    if (!policy) continue;
    const document = JSON.parse(policy) as { Statement: PolicyStatement | PolicyStatement[] };
    const kept = asList(document.Statement).filter((s) => !isTlsOnly(s));
    if (kept.length === asList(document.Statement).length) continue;
    if (kept.length) await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ ...document, Statement: kept }) }));
    else await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    changed.push(`s3://${bucket}`);
  }
  const sqs = overTls(new SQSClient({ endpoint, useQueueUrlAsEndpoint: false }));
  for (const queueUrl of (await phiResources(endpoint, 'AWS::SQS::Queue')).map((r) => r.PhysicalResourceId!)) {
    const policy = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['Policy'] }))).Attributes?.Policy;
    if (!policy) continue;
    const document = JSON.parse(policy) as { Statement: PolicyStatement | PolicyStatement[] };
    const kept = asList(document.Statement).filter((s) => !isTlsOnly(s));
    if (kept.length === asList(document.Statement).length) continue;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: kept.length ? JSON.stringify({ ...document, Statement: kept }) : '' } }));
    changed.push(queueUrl);
  }
  return changed;
}

/** Both adaptations, where the emulator enforces IAM. */
export async function adaptToEmulator(endpoint: string): Promise<{ roles: string[]; policies: string[] }> {
  if (!(await enforcesAuth(endpoint))) return { roles: [], policies: [] };
  const [roles, policies] = await Promise.all([allowTaskTokensEverywhere(endpoint), dropTlsOnlyStatements(endpoint)]);
  return { roles, policies };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const endpoint = process.argv[2] ?? process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566';
  adaptToEmulator(endpoint).then(
    ({ roles, policies }) => console.log(`adapted to the emulator: ${roles.length} roles given their task-token actions on *, TLS-only statements taken out of ${policies.length} resource policies`),
    (err: unknown) => {
      console.error(`could not adapt the deployment to the emulator: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}

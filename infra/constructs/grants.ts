/**
 * Grants as narrow as Phi's code needs: the records table itself (its history index only for those who
 * read history), a queue's `SendMessage` only (no attribute reads), Step Functions actions on the
 * deployment's own state machines and executions by name. CDK's own `table.grant` would add every
 * index, and `grantSendMessages` the queue's attribute reads.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PhiError } from '../../lib/model/errors.ts';
import { acknowledgeWildcards } from './checks.ts';
import { RECORD_KEYS, runIdPrefix, runPartition } from '../../lib/model/contract/index.ts';
import { stateMachineName } from '../../lib/model/names.ts';

/**
 * `actions` on the records table's items, and on its history index when `history` is read. With
 * `pipeline`, only on the items of that pipeline's runs (`dynamodb:LeadingKeys`: a run's partition
 * key starts with its pipeline's id), so code running for one pipeline cannot touch another's records;
 * with `partitions`, only on the items whose partition key starts with one of these prefixes.
 */
export function grantRecords(grantee: iam.IGrantable, table: dynamodb.ITable, actions: readonly string[], options: { history?: boolean; pipeline?: string; partitions?: readonly string[] } = {}): void {
  const resources = [table.tableArn, ...(options.history ? [`${table.tableArn}/index/${RECORD_KEYS.historyIndex}`] : [])];
  const prefixes = [...(options.pipeline === undefined ? [] : [runPartition(runIdPrefix(options.pipeline))]), ...(options.partitions ?? [])];
  const conditions = prefixes.length === 0 ? undefined : { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) } };
  iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: resources, ...(conditions ? { conditions } : {}) });
}

/** Sending to `queue`, and nothing else of it. */
export function grantSend(grantee: iam.IGrantable, queue: sqs.IQueue): void {
  iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
}

/** Reading how many messages wait in `queue` (`sqs:GetQueueAttributes`), and nothing else of it: the health check's dead-letter depth. */
export function grantQueueDepth(grantee: iam.IGrantable, queue: sqs.IQueue): void {
  iam.Grant.addToPrincipal({ grantee, actions: ['sqs:GetQueueAttributes'], resourceArns: [queue.queueArn] });
}

/** Working through `queue`'s messages: receive, hide or show again, delete; nothing else of it (no send, no attributes, no purge). */
export function grantReceive(grantee: iam.IGrantable, queue: sqs.IQueue): void {
  iam.Grant.addToPrincipal({ grantee, actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'], resourceArns: [queue.queueArn] });
}

/** The ARNs of the deployment's pipelines' state machines, their runs' executions and their jobs' child executions. */
export function pipelineArns(scope: Construct, pipelineIds: readonly string[]): { stateMachines: string[]; executions: string[]; taskTokens: string[] } {
  const stack = Stack.of(scope);
  const arn = (resource: string, resourceName: string): string => stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return {
    stateMachines: pipelineIds.map((id) => arn('stateMachine', stateMachineName(id))),
    // A run's execution is `<machine>:<runId>`; a job's, a child of the jobs' Map, `<machine>/<map>:<id>`.
    executions: pipelineIds.flatMap((id) => [arn('execution', `${stateMachineName(id)}:*`), arn('execution', `${stateMachineName(id)}/*`)]),
    // A job's task token belongs to the Map's child state machine, `<machine>/<map>`; the run's own, to the machine.
    taskTokens: pipelineIds.flatMap((id) => [arn('stateMachine', stateMachineName(id)), arn('stateMachine', `${stateMachineName(id)}/*`)]),
  };
}

/**
 * `actions` on `resources`, unless there are none (a platform without pipelines yet). A resource with a
 * wildcard needs `wildcard`: why its names cannot be known at deploy time (acknowledged on the role for
 * cdk-nag with that reason, and only for those resources).
 */
export function grantOn(grantee: iam.IGrantable, actions: readonly string[], resources: readonly string[], wildcard?: string): void {
  if (resources.length === 0) return;
  iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [...resources] });
  if (!resources.some((r) => r.includes('*'))) return;
  if (wildcard === undefined) throw new PhiError('CDK_001_UNEXPLAINED_WILDCARD', `a grant of ${actions.join(', ')} on a wildcard resource must say why its names are unknown at deploy time`);
  const role = grantee.grantPrincipal;
  if (!Construct.isConstruct(role)) throw new PhiError('CDK_001_UNEXPLAINED_WILDCARD', 'a wildcard grant is acknowledged on the grantee\'s role, which must be a construct of the app');
  acknowledgeWildcards(role, resources, wildcard);
}

/** Why a grant names the state machines whose task tokens it sends with a wildcard. */
export const TASK_TOKENS_WILDCARD = 'a job waits in a child execution of the jobs\' Distributed Map, whose state machine is <machine>/<map>; the ARN is bounded by the pipeline\'s state machine name';

/** Why a grant names a run's executions with a wildcard. */
export const EXECUTIONS_WILDCARD = 'a run\'s execution is named by its run id and a job\'s child execution by Step Functions, both unknown at deploy time; the ARN is bounded by the state machine\'s name';

/** The account's default event bus in the stack's region (`arn:…:events:<region>:<account>:event-bus/default`). */
export function defaultEventBusArn(scope: Construct): string {
  return Stack.of(scope).formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

/** `events:PutEvents` on the default event bus only: where Phi publishes its run events (`Phi Run Started` / `Phi Run Ended`). */
export function grantPutRunEvents(grantee: iam.IGrantable, scope: Construct): void {
  grantOn(grantee, ['events:PutEvents'], [defaultEventBusArn(scope)]);
}

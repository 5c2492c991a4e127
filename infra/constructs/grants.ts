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
import type { Construct } from 'constructs';
import { RECORD_KEYS } from '../../lib/model/contract/index.ts';
import { stateMachineName } from '../../lib/model/names.ts';

/** `actions` on the records table's items, and on its history index when `history` is read. */
export function grantRecords(grantee: iam.IGrantable, table: dynamodb.ITable, actions: readonly string[], options: { history?: boolean } = {}): void {
  iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [table.tableArn, ...(options.history ? [`${table.tableArn}/index/${RECORD_KEYS.historyIndex}`] : [])] });
}

/** Sending to `queue`, and nothing else of it. */
export function grantSend(grantee: iam.IGrantable, queue: sqs.IQueue): void {
  iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
}

/** The ARNs of the deployment's pipelines' state machines, their runs' executions and their jobs' child executions. */
export function pipelineArns(scope: Construct, pipelineIds: readonly string[]): { stateMachines: string[]; executions: string[] } {
  const stack = Stack.of(scope);
  const arn = (resource: string, resourceName: string): string => stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return {
    stateMachines: pipelineIds.map((id) => arn('stateMachine', stateMachineName(id))),
    // A run's execution is `<machine>:<runId>`; a job's, a child of the jobs' Map, `<machine>/<map>:<id>`.
    executions: pipelineIds.flatMap((id) => [arn('execution', `${stateMachineName(id)}:*`), arn('execution', `${stateMachineName(id)}/*`)]),
  };
}

/** `actions` on `resources`, unless there are none (a platform without pipelines yet). */
export function grantOn(grantee: iam.IGrantable, actions: readonly string[], resources: readonly string[]): void {
  if (resources.length > 0) iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [...resources] });
}

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './checks.ts';
import { functionLogGroupName } from '../../lib/model/names.ts';

/** The project root: where `functions/` and `tsconfig.json` live. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const functionEntry = (relative: string): string => path.join(PROJECT_ROOT, 'functions', relative);

/**
 * The platform's trigger function's timeout. A queue a message trigger reads hides a message it hands
 * over for longer (AWS refuses the mapping otherwise): Phi's own queues six times as long, as AWS advises.
 */
export const TRIGGER_TIMEOUT = Duration.seconds(30);

export interface PhiFunctionProps {
  /** Absolute path of the entry file (see `functionEntry`). */
  readonly entry: string;
  /** The function's description in the Lambda console (256 characters at most). */
  readonly description: string;
  /** Environment variables (4 KB in all). */
  readonly environment: Record<string, string>;
  /**
   * How long one invocation may run.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB (Lambda scales CPU with it).
   * @default 256
   */
  readonly memoryMb?: number;
  /**
   * Extra esbuild arguments, e.g. the alias binding a job's handler.
   * @default - none
   */
  readonly esbuildArgs?: Record<string, string>;
  /**
   * Constants the bundler defines (esbuild `define`), e.g. the switch of Phi's own fault-injection tests.
   * @default - none
   */
  readonly define?: Record<string, string>;
  /**
   * The function's name.
   * @default - one CloudFormation generates
   */
  readonly functionName?: string;
  /** How long the function's log group keeps its lines. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log group when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Where an asynchronous invocation that still fails after Lambda's own retries goes (`queue`), or why
   * the function has no such place (`none`: e.g. it is only ever invoked synchronously, and its caller
   * sees the failure).
   */
  readonly asyncFailures: { readonly queue: sqs.IQueue } | { readonly none: string };
}

/**
 * A Node.js function as every Phi function is built: bundled by the local esbuild (never Docker),
 * with its dependencies inside the bundle (the pinned SDK, not the runtime's), its own log group, a
 * role that may write to that log group only (not the account-wide AWS managed basic-execution policy),
 * X-Ray tracing, and a queue for asynchronous invocations that keep failing (or the reason it has none).
 */
export function phiFunction(scope: Construct, id: string, props: PhiFunctionProps): NodejsFunction {
  // A named function's log group has Lambda's own name for it, so its lines are found by the function's name (`phi logs`).
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: props.logRetention, removalPolicy: props.removalPolicy, ...(props.functionName ? { logGroupName: functionLogGroupName(props.functionName) } : {}) });
  const role = new iam.Role(scope, `${id}ServiceRole`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  iam.Grant.addToPrincipal({ grantee: role, actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resourceArns: [`${logGroup.logGroupArn}`] });
  acknowledge(role, ['AwsSolutions-IAM5[Resource::*]'], 'X-Ray\'s PutTraceSegments and PutTelemetryRecords, which Lambda adds for active tracing, accept no resource-level permissions');
  const asyncFailures = props.asyncFailures;
  const fn = new NodejsFunction(scope, id, {
    role,
    entry: props.entry,
    handler: 'handler',
    description: props.description,
    ...(props.functionName ? { functionName: props.functionName } : {}),
    runtime: lambda.Runtime.NODEJS_24_X,
    tracing: lambda.Tracing.ACTIVE,
    ...('queue' in asyncFailures ? { deadLetterQueue: asyncFailures.queue } : {}),
    architecture: lambda.Architecture.X86_64,
    timeout: props.timeout ?? Duration.seconds(30),
    memorySize: props.memoryMb ?? 256,
    environment: props.environment,
    logGroup,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    projectRoot: PROJECT_ROOT,
    bundling: {
      forceDockerBundling: false,
      externalModules: [],
      target: 'node22',
      tsconfig: path.join(PROJECT_ROOT, 'tsconfig.json'),
      ...(props.esbuildArgs ? { esbuildArgs: props.esbuildArgs } : {}),
      ...(props.define ? { define: props.define } : {}),
    },
  });
  if ('none' in asyncFailures) acknowledge(fn, ['Serverless-LambdaDLQ'], asyncFailures.none);
  return fn;
}

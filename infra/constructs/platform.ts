/**
 * The shared platform: the records table, the dead-letter queue and its alarm, the recorder the state
 * machines call, the schedule trigger, and the control API. One per deployment.
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { RECORD_ACTIONS, RECORD_KEYS } from '../../lib/model/contract/index.ts';
import { stateMachineName } from '../../lib/model/names.ts';
import { functionEntry, phiFunction } from './function.ts';
import { grantOn, grantRecords, grantSend, pipelineArns } from './grants.ts';
import type { IPhiPlatform } from './pipeline.ts';

export interface PhiPlatformProps {
  /**
   * Ids of the pipelines deployed beside this platform: the control API and the schedule trigger start
   * runs of these only (their state machines are named by `stateMachineName`).
   */
  readonly pipelineIds: readonly string[];
  /**
   * Days run and attempt records are kept (DynamoDB TTL).
   * @default 90
   */
  readonly recordRetentionDays?: number;
  /**
   * What happens to the table and log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Requests a second the control API serves in steady state (API Gateway stage throttling).
   * @default 20
   */
  readonly apiRateLimit?: number;
  /** See `apiRateLimit`. @default 40 */
  readonly apiBurstLimit?: number;
}

/** The control API's one stage. */
const API_STAGE = 'v1';

/** Spec Rule 15: dead letters are kept 7 days (168 hours). */
export const DEAD_LETTER_RETENTION = Duration.days(7);

export class PhiPlatform extends Construct implements IPhiPlatform {
  /** Run and attempt records, and dead-letter claims (layout: `lib/model/contract/storage.ts`). */
  readonly table: dynamodb.Table;
  /** Job outputs too large for their attempt record (encrypted, TLS only, expiring with the records). */
  readonly outputsBucket: s3.Bucket;
  /** One message per permanently failed job (`DeadLetterMessage`). */
  readonly deadLetterQueue: sqs.Queue;
  /** In alarm while a dead letter waits. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Where Phi's alarms go: subscribe an email address or an HTTPS endpoint (output `AlarmTopicArn`). */
  readonly alarmTopic: sns.Topic;
  /** Deliveries that failed at the edges (a schedule's run start, an execution's status change): the sweeper takes them. */
  readonly deliveriesQueue: sqs.Queue;
  /** In alarm while a failed delivery waits for the sweeper. */
  readonly deliveriesAlarm: cloudwatch.Alarm;
  /** Closes what could stay open for ever: runs whose execution ended or never started, failed deliveries. */
  readonly sweeper: NodejsFunction;
  /** Records run starts, job failures (with their dead letter) and run ends; closes runs that end otherwise. */
  readonly recorder: NodejsFunction;
  /** Starts one run per scheduled time. */
  readonly scheduleTrigger: NodejsFunction;
  /** The control API's function. */
  readonly apiHandler: NodejsFunction;
  /** The control API: IAM-signed requests only. */
  readonly api: apigateway.RestApi;
  /**
   * Managed policies for the people and systems that use the control API (attach one to a role, user or
   * group): `viewer` reads runs and durations, `operator` also starts and cancels runs, `admin` may
   * call every route of the API.
   */
  readonly accessPolicies: { readonly viewer: iam.ManagedPolicy; readonly operator: iam.ManagedPolicy; readonly admin: iam.ManagedPolicy };
  readonly recordRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;

  /** The recorder, the control API and the sweeper read a run's graph from its pipeline's job list. */
  get jobListReaders(): readonly iam.IRole[] {
    return [this.recorder.role!, this.apiHandler.role!, this.sweeper.role!];
  }

  constructor(scope: Construct, id: string, props: PhiPlatformProps) {
    super(scope, id);
    this.recordRetentionDays = props.recordRetentionDays ?? 90;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const stack = Stack.of(this);
    const logRetention = logs.RetentionDays.ONE_MONTH;
    // Pipeline stacks name their state machines deterministically, so the platform needs no reference to them.
    // Step Functions actions are granted on the deployment's own state machines and executions, by name.
    const pipelines = pipelineArns(this, props.pipelineIds);
    const stateMachineArnPrefix = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: stateMachineName(''), arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    this.table = new dynamodb.Table(this, 'Records', {
      partitionKey: { name: RECORD_KEYS.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: RECORD_KEYS.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: RECORD_KEYS.ttl,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: this.removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: RECORD_KEYS.historyIndex,
      partitionKey: { name: RECORD_KEYS.historyPartition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: RECORD_KEYS.historySort, type: dynamodb.AttributeType.STRING },
    });

    this.outputsBucket = new s3.Bucket(this, 'Outputs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ id: 'expire-with-the-records', expiration: Duration.days(this.recordRetentionDays) }],
      removalPolicy: this.removalPolicy,
    });

    // FIFO, deduplicated per job of a run (the sender's MessageDeduplicationId): a second copy after a
    // send whose outcome was unknown is dropped; one message group per letter keeps none waiting on another.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      fifo: true,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      retentionPeriod: DEAD_LETTER_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    // Not encrypted with the AWS-managed SNS key: CloudWatch alarms cannot publish to a topic under it, and
    // an alarm says only which queue waits (no record data).
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: 'Phi alarms', enforceSSL: true });
    /** In alarm, notifying the topic, from the minute a message waits in `queue`. */
    const whileWaiting = (id: string, queue: sqs.IQueue, alarmDescription: string): cloudwatch.Alarm => {
      const alarm = new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
      return alarm;
    };
    this.deadLetterAlarm = whileWaiting('DeadLettersWaiting', this.deadLetterQueue, 'Phi: at least one permanently failed job is waiting in the dead-letter queue');

    this.deliveriesQueue = new sqs.Queue(this, 'FailedDeliveries', { retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
    this.deliveriesAlarm = whileWaiting('FailedDeliveriesWaiting', this.deliveriesQueue, 'Phi: a schedule delivery or an execution status change failed and waits for the sweeper');

    const records = {
      PHI_TABLE_NAME: this.table.tableName,
      PHI_RETENTION_DAYS: String(this.recordRetentionDays),
    };
    const common = { logRetention, removalPolicy: this.removalPolicy };

    this.recorder = phiFunction(this, 'Recorder', {
      ...common,
      entry: functionEntry('control/recorder.ts'),
      description: 'Phi: records run starts, job failures (with their dead letter) and run ends',
      environment: { ...records, PHI_DLQ_URL: this.deadLetterQueue.queueUrl },
    });
    grantRecords(this.recorder, this.table, RECORD_ACTIONS.recorder);
    grantSend(this.recorder, this.deadLetterQueue);
    // It releases the dependents of a job it closes in the job function's place.
    grantOn(this.recorder, ['states:SendTaskSuccess'], pipelines.stateMachines);
    // An execution that ends without its own last step (aborted, timed out) still closes its run record.
    new events.Rule(this, 'ExecutionEnded', {
      description: 'Phi: close the run record of an execution that ended outside its own recorder steps',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: events.Match.prefix(stateMachineArnPrefix),
        },
      },
      // Delivered again for up to a day; what still fails waits in the deliveries queue for the sweeper.
      targets: [new targets.LambdaFunction(this.recorder, { retryAttempts: 185, maxEventAge: Duration.hours(24), deadLetterQueue: this.deliveriesQueue })],
    });

    const triggerEnv = {
      ...records,
      PHI_PIPELINES: JSON.stringify(props.pipelineIds),
      PHI_STATE_MACHINE_ARN_PREFIX: stateMachineArnPrefix,
    };

    this.scheduleTrigger = phiFunction(this, 'ScheduleTrigger', {
      ...common,
      entry: functionEntry('control/trigger.ts'),
      description: 'Phi: starts the run of a pipeline schedule, once per scheduled time',
      environment: triggerEnv,
    });
    this.apiHandler = phiFunction(this, 'ControlApi', {
      ...common,
      entry: functionEntry('control/api.ts'),
      description: 'Phi: control API (start, read and cancel runs)',
      environment: { ...triggerEnv, PHI_DLQ_URL: this.deadLetterQueue.queueUrl },
    });
    // Cancelling stops executions (a run's, or a job's own child execution) and releases the cancelled jobs' dependents.
    grantOn(this.apiHandler, ['states:StopExecution'], pipelines.executions);
    grantOn(this.apiHandler, ['states:SendTaskSuccess'], pipelines.stateMachines);
    grantSend(this.apiHandler, this.deadLetterQueue);
    grantRecords(this.scheduleTrigger, this.table, RECORD_ACTIONS.trigger);
    grantRecords(this.apiHandler, this.table, RECORD_ACTIONS.control, { history: true });
    for (const fn of [this.scheduleTrigger, this.apiHandler]) grantOn(fn, ['states:StartExecution'], pipelines.stateMachines);

    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Phi control API',
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      // Throttled at the stage: a runaway caller cannot start runs faster than this.
      deployOptions: { stageName: API_STAGE, throttlingRateLimit: props.apiRateLimit ?? 20, throttlingBurstLimit: props.apiBurstLimit ?? 40 },
      cloudWatchRole: false,
    });
    const integration = new apigateway.LambdaIntegration(this.apiHandler);
    const pipeline = this.api.root.addResource('pipelines').addResource('{id}');
    pipeline.addResource('runs').addMethod('POST', integration);
    pipeline.addResource('durations').addMethod('GET', integration);
    const run = this.api.root.addResource('runs').addResource('{runId}');
    run.addMethod('GET', integration);
    run.addResource('cancel').addMethod('POST', integration);

    const invoke = (routes: readonly (readonly [string, string])[]): iam.PolicyStatement =>
      new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: routes.map(([method, route]) => this.api.arnForExecuteApi(method, route, API_STAGE)) });
    const reads = [['GET', '/runs/*'], ['GET', '/pipelines/*/durations']] as const;
    const writes = [['POST', '/pipelines/*/runs'], ['POST', '/runs/*/cancel']] as const;
    this.accessPolicies = {
      viewer: new iam.ManagedPolicy(this, 'ViewerPolicy', { description: 'Phi viewer: read runs and durations through the control API', statements: [invoke(reads)] }),
      operator: new iam.ManagedPolicy(this, 'OperatorPolicy', { description: 'Phi operator: read, start and cancel runs through the control API', statements: [invoke([...reads, ...writes])] }),
      admin: new iam.ManagedPolicy(this, 'AdminPolicy', { description: 'Phi admin: every route of the control API', statements: [invoke([['*', '/*']])] }),
    };

    this.sweeper = phiFunction(this, 'Sweeper', {
      ...common,
      entry: functionEntry('control/sweeper.ts'),
      description: 'Phi: closes runs whose execution ended or never started, and handles failed deliveries',
      timeout: Duration.minutes(5),
      environment: { ...triggerEnv, PHI_DLQ_URL: this.deadLetterQueue.queueUrl, PHI_DELIVERIES_URL: this.deliveriesQueue.queueUrl },
    });
    grantRecords(this.sweeper, this.table, RECORD_ACTIONS.control, { history: true });
    grantOn(this.sweeper, ['states:StartExecution', 'states:SendTaskSuccess'], pipelines.stateMachines);
    grantOn(this.sweeper, ['states:DescribeExecution'], pipelines.executions);
    // It takes the failed deliveries one by one: receive, then delete what it handled.
    iam.Grant.addToPrincipal({ grantee: this.sweeper, actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resourceArns: [this.deliveriesQueue.queueArn] });
    grantSend(this.sweeper, this.deadLetterQueue);
    new events.Rule(this, 'Sweep', {
      description: 'Phi: the sweeper, every 15 minutes',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(this.sweeper, { retryAttempts: 2 })],
    });

    new CfnOutput(stack, 'ApiUrl', { value: this.api.url, description: 'Phi control API (IAM-signed requests)' });
    new CfnOutput(stack, 'ApiId', { value: this.api.restApiId });
    new CfnOutput(stack, 'TableName', { value: this.table.tableName });
    new CfnOutput(stack, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(stack, 'OutputsBucketName', { value: this.outputsBucket.bucketName });
    new CfnOutput(stack, 'ScheduleTriggerArn', { value: this.scheduleTrigger.functionArn });
    new CfnOutput(stack, 'RecorderArn', { value: this.recorder.functionArn });
    new CfnOutput(stack, 'SweeperArn', { value: this.sweeper.functionArn });
    new CfnOutput(stack, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Phi alarms: subscribe an email address or an HTTPS endpoint' });
    for (const [role, policy] of Object.entries(this.accessPolicies)) new CfnOutput(stack, `${role[0]!.toUpperCase()}${role.slice(1)}PolicyArn`, { value: policy.managedPolicyArn, description: `Phi ${role}: attach to who may use the control API as ${role}` });
    new CfnOutput(stack, 'FailedDeliveriesQueueUrl', { value: this.deliveriesQueue.queueUrl });
  }
}

/**
 * The shared platform: the records table, the dead-letter queue and its alarm, the recorder the state
 * machines call, the schedule trigger, and the control API. One per deployment.
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PhiError } from '../../lib/model/errors.ts';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
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
import { auditPartition, DEFINITION_PARTITION_PREFIX, RECORD_ACTIONS, RECORD_KEYS, START_RULES_ENV, type StartRules, type WebhookRoute } from '../../lib/model/contract/index.ts';
import { WAIT_CHECK_ENV, WAIT_CHECK_PREFIX } from '../../lib/model/contract/start.ts';
import { HEALTH_ENV, type HealthConfig } from '../../lib/model/contract/health.ts';
import { METRIC_DIMENSIONS, METRICS_NAMESPACE, type MetricName } from '../../lib/model/contract/metrics.ts';
import { functionLogGroupName, jobFunctionName, stateMachineName, triggerRuleName } from '../../lib/model/names.ts';
import { RUN_PARAMETERS_ENV, type JsonSchema } from '../../lib/model/run-parameters.ts';
import { MESSAGE_TRIGGERS_ENV } from '../../lib/model/contract/messages.ts';
import { messageTriggerRoutes, type CompiledTrigger } from '../../lib/plan/triggers.ts';
import { acknowledge, acknowledgeWildcards } from './checks.ts';
import { webhookRoute } from './webhooks.ts';
import { functionEntry, phiFunction, TRIGGER_TIMEOUT } from './function.ts';
import { alarmWhileWaiting } from './queue-alarm.ts';
import { EXECUTIONS_WILDCARD, TASK_TOKENS_WILDCARD, grantOn, grantPutRunEvents, grantQueueDepth, grantReceive, grantRecords, grantSend, pipelineArns } from './grants.ts';
import type { IPhiPlatform } from './pipeline.ts';

export interface PhiPlatformProps {
  /**
   * Ids of the pipelines deployed beside this platform: the control API and the schedule trigger start
   * runs of these only (their state machines are named by `stateMachineName`).
   */
  readonly pipelineIds: readonly string[];
  /**
   * Pipeline id → the JSON Schema of what its runs may set (its plan's `runParameters`): the control
   * API, the schedule trigger and the sweeper check each run's parameters with it and fill in its
   * defaults. A pipeline without one takes no run parameters. Carried in their environment.
   * @default {} (no run takes parameters)
   */
  readonly runParameters?: Readonly<Record<string, JsonSchema>>;
  /**
   * Pipeline id → when its runs may start (its plan's `startRules`: execution windows, lateness, active
   * runs): the control API, the schedule trigger and the sweeper decide every start with them. A
   * pipeline without them has the defaults. Carried in their environment.
   * @default {} (every pipeline has the defaults)
   */
  readonly startRules?: Readonly<Record<string, StartRules>>;
  /**
   * Whether any pipeline has runs that wait (upstream pipelines, a deferred window) or a trigger with a
   * batch window: then whatever starts runs may create one-time schedules (`phi-wait-*`) that invoke the
   * trigger function later. @default false
   */
  readonly oneTimeSchedules?: boolean;
  /**
   * Pipeline id → its enabled schedules and `alarms.maxDataAgeHours` (`lib/plan/health.ts`): the control
   * API's `GET /health` tells next fire times and data freshness with them. Carried in its environment.
   * @default {} (no next fire times, freshness unknown)
   */
  readonly health?: HealthConfig;
  /**
   * Pipeline id → its plan's triggers: the trigger function finds the pipeline and trigger of an SQS
   * message by the queue it came from (its enabled message triggers'; a queue Phi creates is named by
   * `messageQueueName`). Carried in its environment.
   * @default {} (no message triggers)
   */
  readonly triggers?: Readonly<Record<string, readonly CompiledTrigger[]>>;
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
  /**
   * Pipeline id → trigger id → the route of each enabled webhook trigger (`webhookRoutes` of its plan's
   * triggers): the control API's `POST /webhooks/{pipelineId}/{triggerId}` (no IAM auth) and the function
   * behind it, which reads those triggers' secrets by name (`phi/<pipeline>/<trigger>`, in the
   * pipelines' stacks). Carried in its environment.
   * @default {} (no webhook route, no webhook function)
   */
  readonly webhooks?: Readonly<Record<string, Readonly<Record<string, WebhookRoute>>>>;
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
  /**
   * Records each deploy that changes a pipeline's definition in the audit log (`DEPLOY`): the function
   * behind each pipeline stack's `Custom::PhiDefinition` resource, which CloudFormation invokes itself.
   */
  readonly definitionRecorder: NodejsFunction;
  /** The control API's function. */
  readonly apiHandler: NodejsFunction;
  /** The webhook triggers' function (`POST /webhooks/{pipelineId}/{triggerId}`), when the deployment has any. */
  readonly webhookHandler?: NodejsFunction;
  /** The control API: IAM-signed requests only. */
  readonly api: apigateway.RestApi;
  /** The control API's access log: one JSON line a request, with the caller's IAM identity. */
  readonly apiAccessLogs: logs.LogGroup;
  /** Attached to the roles of a pipeline's job functions: that pipeline's large outputs, written and read back by its dependents. */
  readonly jobOutputsPolicy: (pipelineId: string) => iam.IManagedPolicy;
  /**
   * Managed policies for the people and systems that use the control API (attach one to a role, user or
   * group): `viewer` reads runs, history, durations, health, pause state and the audit log; `operator`
   * also starts and cancels runs, lists, shows and retries dead letters, pauses and resumes; `admin` may
   * call every route of the API (purging dead letters too).
   */
  readonly accessPolicies: { readonly viewer: iam.ManagedPolicy; readonly operator: iam.ManagedPolicy; readonly admin: iam.ManagedPolicy };
  readonly recordRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  /** The deployment's CloudWatch dashboard: runs by status, job durations, dead letters, schedule lateness. */
  readonly dashboard: cloudwatch.Dashboard;

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

    const privateBucket = { encryption: s3.BucketEncryption.S3_MANAGED, enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, removalPolicy: this.removalPolicy };
    // Who read or wrote which output, kept as long as the outputs themselves.
    const accessLogs = new s3.Bucket(this, 'OutputsAccessLogs', {
      ...privateBucket,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-with-the-records', expiration: Duration.days(this.recordRetentionDays) }],
    });
    acknowledge(accessLogs, ['AwsSolutions-S1'], 'the access-log bucket of the outputs bucket: logging its own access would log the logging');
    this.outputsBucket = new s3.Bucket(this, 'Outputs', {
      ...privateBucket,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'outputs/',
      lifecycleRules: [{ id: 'expire-with-the-records', expiration: Duration.days(this.recordRetentionDays) }],
    });
    // One policy a pipeline, over its own outputs only (`outputs/<pipeline>/…`): a handler cannot read or
    // replace another pipeline's outputs, which that pipeline's dependents would load.
    const outputsPolicies = new Map(props.pipelineIds.map((pipelineId) => {
      const objects = this.outputsBucket.arnForObjects(`outputs/${pipelineId}/*`);
      const policy = new iam.ManagedPolicy(this, `JobOutputsPolicy-${pipelineId}`, {
        description: `Phi ${pipelineId} job functions: write and read back the pipeline's large job outputs (no listing, no deleting)`,
        statements: [new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [objects] })],
      });
      acknowledgeWildcards(policy, [objects], 'an output object is named by its run, job and attempt, unknown at deploy time; the ARN is bounded by the pipeline\'s own outputs prefix');
      return [pipelineId, policy] as const;
    }));
    this.jobOutputsPolicy = (pipelineId: string): iam.IManagedPolicy => {
      const policy = outputsPolicies.get(pipelineId);
      if (!policy) throw new PhiError('CDK_002_UNKNOWN_PIPELINE', `pipeline ${pipelineId} is not one of the platform's pipelineIds`);
      return policy;
    };

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
    acknowledge(this.deadLetterQueue, ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'], 'the dead-letter queue itself: its letters wait for an operator for 7 days (spec Rule 15), with an alarm');
    // Not encrypted with the AWS-managed SNS key: CloudWatch alarms cannot publish to a topic under it, and
    // an alarm says only which queue waits (no record data).
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: 'Phi alarms', enforceSSL: true });
    const whileWaiting = (id: string, queue: sqs.IQueue, alarmDescription: string): cloudwatch.Alarm => alarmWhileWaiting(this, id, queue, alarmDescription, this.alarmTopic);
    this.deadLetterAlarm = whileWaiting('DeadLettersWaiting', this.deadLetterQueue, 'Phi: at least one permanently failed job is waiting in the dead-letter queue');

    this.deliveriesQueue = new sqs.Queue(this, 'FailedDeliveries', { retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
    acknowledge(this.deliveriesQueue, ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'], 'the dead-letter queue of the schedules, the status-change rule and the asynchronous invocations: the sweeper takes its messages, and one it cannot handle stays, with an alarm');
    // The pipelines' trigger rules (in their own stacks, named by `triggerRuleName`) keep what they
    // cannot deliver here; allowed by name, so the platform never refers to a pipeline stack.
    if (props.pipelineIds.length > 0) {
      this.deliveriesQueue.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'PhiTriggerRules',
        actions: ['sqs:SendMessage'],
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        resources: [this.deliveriesQueue.queueArn],
        conditions: { ArnLike: { 'aws:SourceArn': props.pipelineIds.map((id) => stack.formatArn({ service: 'events', resource: 'rule', resourceName: triggerRuleName(id, '*') })) } },
      }));
    }
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
      // A status change it keeps failing to record waits for the sweeper, as one EventBridge could not deliver does.
      asyncFailures: { queue: this.deliveriesQueue },
    });
    grantRecords(this.recorder, this.table, RECORD_ACTIONS.recorder);
    grantSend(this.recorder, this.deadLetterQueue);
    // It releases the dependents of a job it closes in the job function's place.
    grantOn(this.recorder, ['states:SendTaskSuccess'], pipelines.taskTokens, TASK_TOKENS_WILDCARD);
    // Every run's start and end, as events on the default bus (the API's cancels and the sweeper's closes too).
    grantPutRunEvents(this.recorder, this);
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

    // Each pipeline stack's definition record: CloudFormation invokes it (asynchronously, with the deployer's
    // rights, so no resource policy) and it answers CloudFormation itself. Its pointers and the audit log only.
    this.definitionRecorder = phiFunction(this, 'DefinitionRecorder', {
      ...common,
      entry: functionEntry('control/definition-recorder.ts'),
      description: 'Phi: records each deploy that changes a pipeline definition in the audit log (a CloudFormation custom resource)',
      // The recording has 45 s; the answer to CloudFormation the rest.
      timeout: Duration.seconds(60),
      environment: records,
      asyncFailures: { none: 'CloudFormation invokes it and waits for its answer, which it sends even when it fails; an invocation that never answers fails the resource at its ServiceTimeout, and the deploy rolls back: nothing is left to redrive' },
    });
    grantRecords(this.definitionRecorder, this.table, RECORD_ACTIONS.definitions, { partitions: [DEFINITION_PARTITION_PREFIX, auditPartition('')] });

    const triggerEnv = {
      ...records,
      PHI_PIPELINES: JSON.stringify(props.pipelineIds),
      PHI_STATE_MACHINE_ARN_PREFIX: stateMachineArnPrefix,
      [RUN_PARAMETERS_ENV]: JSON.stringify(props.runParameters ?? {}),
      [START_RULES_ENV]: JSON.stringify(props.startRules ?? {}),
    };

    // The message triggers' queues (the ARN of one Phi creates, from its name): a message's pipeline and trigger.
    const messageRoutes = Object.entries(props.triggers ?? {}).flatMap(([pipelineId, triggers]) =>
      messageTriggerRoutes(pipelineId, triggers, (queueName) => stack.formatArn({ service: 'sqs', resource: queueName, arnFormat: ArnFormat.NO_RESOURCE_NAME })),
    );
    this.scheduleTrigger = phiFunction(this, 'ScheduleTrigger', {
      ...common,
      entry: functionEntry('control/trigger-lambda.ts'),
      description: 'Phi: starts the run of a pipeline schedule, once per scheduled time',
      timeout: TRIGGER_TIMEOUT,
      environment: { ...triggerEnv, ...(messageRoutes.length > 0 ? { [MESSAGE_TRIGGERS_ENV]: stack.toJsonString(messageRoutes) } : {}) },
      // Scheduler invokes it asynchronously: a scheduled time it keeps failing to start waits for the sweeper.
      asyncFailures: { queue: this.deliveriesQueue },
    });
    this.apiHandler = phiFunction(this, 'ControlApi', {
      ...common,
      entry: functionEntry('control/api.ts'),
      description: 'Phi: control API (start, read and cancel runs)',
      environment: { ...triggerEnv, PHI_DLQ_URL: this.deadLetterQueue.queueUrl, [HEALTH_ENV]: JSON.stringify(props.health ?? {}) },
      asyncFailures: { none: 'API Gateway invokes it synchronously: the caller gets the failure as a coded 5xx' },
    });
    // Cancelling stops executions (a run's, or a job's own child execution) and releases the cancelled jobs' dependents.
    grantOn(this.apiHandler, ['states:StopExecution'], pipelines.executions, EXECUTIONS_WILDCARD);
    grantOn(this.apiHandler, ['states:SendTaskSuccess'], pipelines.taskTokens, TASK_TOKENS_WILDCARD);
    grantSend(this.apiHandler, this.deadLetterQueue);
    // The dead-letter routes: scan (receive, show again), and delete a letter once its retry started or it is purged.
    grantReceive(this.apiHandler, this.deadLetterQueue);
    // GET /health: how many dead letters wait.
    grantQueueDepth(this.apiHandler, this.deadLetterQueue);
    grantPutRunEvents(this.apiHandler, this);
    grantRecords(this.scheduleTrigger, this.table, RECORD_ACTIONS.trigger, { history: true });
    grantRecords(this.apiHandler, this.table, RECORD_ACTIONS.control, { history: true });
    for (const fn of [this.scheduleTrigger, this.apiHandler]) grantOn(fn, ['states:StartExecution'], pipelines.stateMachines);

    this.apiAccessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: this.removalPolicy });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Phi control API',
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      deployOptions: {
        stageName: API_STAGE,
        // Throttled at the stage: a runaway caller cannot start runs faster than this.
        throttlingRateLimit: props.apiRateLimit ?? 20,
        throttlingBurstLimit: props.apiBurstLimit ?? 40,
        // Who called what, and how it ended: one JSON line a request, with the caller's IAM identity.
        accessLogDestination: new apigateway.LogGroupLogDestination(this.apiAccessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({ caller: true, httpMethod: true, ip: true, protocol: true, requestTime: true, resourcePath: true, responseLength: true, status: true, user: true }),
        // The gateway's own errors (authorization, throttling), without request or response bodies.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
      },
      // API Gateway writes logs through one role per account and region; kept when the stack goes, since
      // other APIs of the account may log through it too.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(this.api, ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]'], 'the policy AWS documents for the account\'s API Gateway logging role, which writes the access and error logs of every API of the account');
    acknowledge(this.api, ['AwsSolutions-COG4'], 'every method but the webhook route (acknowledged on its own, ./webhooks.ts) is authorized by IAM (SigV4-signed requests, scoped by the viewer, operator and admin policies), not by Cognito user pools');
    acknowledge(this.api, ['AwsSolutions-APIG2'], 'the control function validates every request against the same zod schemas and answers 400 with a stable code and each issue\'s path; a gateway model would answer first, with neither');
    acknowledge(this.api, ['AwsSolutions-APIG3'], 'signed requests only, throttled at the stage; a web ACL (priced per month and per request) is the deployment\'s choice: associate one with the stage');
    const integration = new apigateway.LambdaIntegration(this.apiHandler);
    const pipeline = this.api.root.addResource('pipelines').addResource('{id}');
    const runs = pipeline.addResource('runs');
    runs.addMethod('POST', integration);
    // The pipeline's history (phi history).
    runs.addMethod('GET', integration);
    pipeline.addResource('durations').addMethod('GET', integration);
    const run = this.api.root.addResource('runs').addResource('{runId}');
    run.addMethod('GET', integration);
    run.addResource('cancel').addMethod('POST', integration);
    // Retrying an ended run (phi retry [--from-failed]).
    run.addResource('retry').addMethod('POST', integration);
    run.addResource('logs').addMethod('GET', integration);
    // GET /runs/{runId}/logs: the job functions' log groups of the deployment's pipelines, read by their names.
    const logGroups = (name: string): string => stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    grantOn(this.apiHandler, ['logs:FilterLogEvents'], props.pipelineIds.map((id) => logGroups(`${functionLogGroupName(jobFunctionName(id, ''))}*`)), 'a pipeline\'s job functions are named by its id and a key the plan gives them (phi-<pipeline>_f<n>): the ARN is bounded by the pipeline\'s prefix');
    // The dead-letter queue (phi dlq): list, show, retry one or all, purge.
    const deadLetters = this.api.root.addResource('dead-letters');
    deadLetters.addMethod('GET', integration);
    deadLetters.addResource('retry').addMethod('POST', integration);
    deadLetters.addResource('purge').addMethod('POST', integration);
    const deadLetter = deadLetters.addResource('{messageId}');
    deadLetter.addMethod('GET', integration);
    deadLetter.addResource('retry').addMethod('POST', integration);
    // Pause and resume without a deploy (phi pause|resume: one pipeline, or all), its state, and the audit log (phi audit).
    pipeline.addResource('pause').addMethod('POST', integration);
    pipeline.addResource('resume').addMethod('POST', integration);
    pipeline.addResource('paused').addMethod('GET', integration);
    this.api.root.addResource('pause').addMethod('POST', integration);
    this.api.root.addResource('resume').addMethod('POST', integration);
    this.api.root.addResource('audit').addMethod('GET', integration);
    const auditReads = [['GET', '/pipelines/*/paused'], ['GET', '/audit']] as const;
    const pauseWrites = [['POST', '/pipelines/*/pause'], ['POST', '/pipelines/*/resume'], ['POST', '/pause'], ['POST', '/resume']] as const;
    // The deployment's health (phi health).
    this.api.root.addResource('health').addMethod('GET', integration);
    // Webhook triggers (issue #9): POST /webhooks/{pipelineId}/{triggerId}, the one route without IAM auth,
    // authenticated by each request's HMAC signature in a function of its own.
    const webhookHandler = webhookRoute(this, { api: this.api, routes: props.webhooks ?? {}, environment: triggerEnv, table: this.table, ...common });
    if (webhookHandler !== undefined) this.webhookHandler = webhookHandler;

    const reads = [...auditReads, ['GET', '/runs/*'], ['GET', '/pipelines/*/durations'], ['GET', '/pipelines/*/runs'], ['GET', '/health']] as const;
    // Listing or showing dead letters receives them (hidden from others while the scan lasts): an operator's
    // call, so a viewer polling cannot keep the letters from the operators who retry them.
    const writes = [...pauseWrites, ['POST', '/pipelines/*/runs'], ['POST', '/runs/*/cancel'], ['POST', '/runs/*/retry'], ['GET', '/dead-letters'], ['GET', '/dead-letters/*'], ['POST', '/dead-letters/*/retry'], ['POST', '/dead-letters/retry']] as const;
    const accessPolicy = (id: string, description: string, routes: readonly (readonly [string, string])[]): iam.ManagedPolicy => {
      const resources = routes.map(([method, route]) => this.api.arnForExecuteApi(method, route, API_STAGE));
      const policy = new iam.ManagedPolicy(this, id, { description, statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources })] });
      acknowledgeWildcards(policy, resources, 'a route\'s path parameter ({id}, {runId}, {messageId}) matches any pipeline, run or dead letter: the policy scopes methods and routes of this API\'s one stage');
      return policy;
    };
    this.accessPolicies = {
      viewer: accessPolicy('ViewerPolicy', 'Phi viewer: read runs, history, durations, health, pause state and the audit log through the control API', reads),
      operator: accessPolicy('OperatorPolicy', 'Phi operator: what viewers read; start, cancel and retry runs; list, show and retry dead letters; pause and resume pipelines through the control API', [...reads, ...writes]),
      // Every route, the dead-letter purge included.
      admin: accessPolicy('AdminPolicy', 'Phi admin: every route of the control API', [['*', '/*']]),
    };

    this.sweeper = phiFunction(this, 'Sweeper', {
      ...common,
      entry: functionEntry('control/sweeper.ts'),
      description: 'Phi: closes runs whose execution ended or never started, and handles failed deliveries',
      timeout: Duration.minutes(5),
      environment: { ...triggerEnv, PHI_DLQ_URL: this.deadLetterQueue.queueUrl, PHI_DELIVERIES_URL: this.deliveriesQueue.queueUrl },
      asyncFailures: { none: 'a sweep carries no data and a failed one is repeated by the next, 15 minutes later' },
    });
    grantRecords(this.sweeper, this.table, RECORD_ACTIONS.control, { history: true });

    // Runs that wait for their upstream pipelines or their window: each one's timeout is a one-time schedule (named
    // phi-wait-…, deleted once fired) that invokes the trigger function. Whatever starts runs may create one.
    if (props.oneTimeSchedules) {
      const waitRole = new iam.Role(this, 'WaitCheckRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'), description: 'Phi: the timeouts of runs waiting for their upstream pipelines invoke the trigger function' });
      grantOn(waitRole, ['lambda:InvokeFunction'], [this.scheduleTrigger.functionArn]);
      const waitSchedules = stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `default/${WAIT_CHECK_PREFIX}*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
      const starters = [this.apiHandler, this.sweeper, ...(this.webhookHandler ? [this.webhookHandler] : [])];
      for (const fn of [this.scheduleTrigger, ...starters]) {
        grantOn(fn, ['scheduler:CreateSchedule'], [waitSchedules], `a waiting run's timeout is a one-time schedule named after the run and its time (${WAIT_CHECK_PREFIX}<hash>), unknown at deploy time; the ARN is bounded by that prefix in the default group`);
        iam.Grant.addToPrincipal({ grantee: fn, actions: ['iam:PassRole'], resourceArns: [waitRole.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } } });
        fn.addEnvironment(WAIT_CHECK_ENV.role, waitRole.roleArn);
      }
      // The trigger function targets itself with the ARN it is invoked under (its own ARN here would be a circular reference).
      for (const fn of starters) fn.addEnvironment(WAIT_CHECK_ENV.target, this.scheduleTrigger.functionArn);
    }
    grantOn(this.sweeper, ['states:StartExecution'], pipelines.stateMachines);
    grantOn(this.sweeper, ['states:SendTaskSuccess'], pipelines.taskTokens, TASK_TOKENS_WILDCARD);
    grantOn(this.sweeper, ['states:DescribeExecution'], pipelines.executions, EXECUTIONS_WILDCARD);
    // It takes the failed deliveries one by one: receive, then delete what it handled.
    iam.Grant.addToPrincipal({ grantee: this.sweeper, actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resourceArns: [this.deliveriesQueue.queueArn] });
    grantSend(this.sweeper, this.deadLetterQueue);
    grantPutRunEvents(this.sweeper, this);
    const sweep = new events.Rule(this, 'Sweep', {
      description: 'Phi: the sweeper, every 15 minutes',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(this.sweeper, { retryAttempts: 2 })],
    });
    acknowledge(sweep, ['Serverless-EventBusDLQ'], 'a sweep carries no data and a failed one is repeated by the next, 15 minutes later');

    this.dashboard = operationsDashboard(this, this.deadLetterQueue);

    new CfnOutput(stack, 'ApiUrl', { value: this.api.url, description: 'Phi control API (IAM-signed requests)' });
    new CfnOutput(stack, 'ApiId', { value: this.api.restApiId });
    new CfnOutput(stack, 'TableName', { value: this.table.tableName });
    new CfnOutput(stack, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(stack, 'OutputsBucketName', { value: this.outputsBucket.bucketName });
    new CfnOutput(stack, 'ScheduleTriggerArn', { value: this.scheduleTrigger.functionArn });
    new CfnOutput(stack, 'RecorderArn', { value: this.recorder.functionArn });
    new CfnOutput(stack, 'SweeperArn', { value: this.sweeper.functionArn });
    new CfnOutput(stack, 'DefinitionRecorderArn', { value: this.definitionRecorder.functionArn, description: 'Phi: the service token of a pipeline stack\'s definition record (Custom::PhiDefinition)' });
    new CfnOutput(stack, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Phi alarms: subscribe an email address or an HTTPS endpoint' });
    for (const [role, policy] of Object.entries(this.accessPolicies)) new CfnOutput(stack, `${role[0]!.toUpperCase()}${role.slice(1)}PolicyArn`, { value: policy.managedPolicyArn, description: `Phi ${role}: attach to who may use the control API as ${role}` });
    new CfnOutput(stack, 'FailedDeliveriesQueueUrl', { value: this.deliveriesQueue.queueUrl });
  }
}

/**
 * One dashboard for the deployment, every pipeline on it (CloudWatch SEARCH expressions over the `Phi`
 * namespace, so pipelines added later appear without a change here).
 */
function operationsDashboard(scope: Construct, deadLetters: sqs.IQueue): cloudwatch.Dashboard {
  const search = (dimensions: string, metric: MetricName, statistic: string, label: string): cloudwatch.MathExpression =>
    new cloudwatch.MathExpression({ expression: `SEARCH('{${METRICS_NAMESPACE},${dimensions}} MetricName="${metric}"', '${statistic}', 300)`, usingMetrics: {}, label, period: Duration.minutes(5) });
  const byPipeline = (metric: MetricName, statistic: string): cloudwatch.MathExpression => search(METRIC_DIMENSIONS.pipeline, metric, statistic, metric);
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(1) });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Runs by status (per pipeline)', width: 12, left: (['RunsSucceeded', 'RunsFailed', 'RunsCancelled', 'RunsSkipped'] as const).map((m) => byPipeline(m, 'Sum')) }),
    new cloudwatch.GraphWidget({ title: 'Run duration, p95 (ms)', width: 12, left: [byPipeline('RunDuration', 'p95')], right: [byPipeline('RunQueueTime', 'p95')] }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Job duration, p95 (ms, per pipeline and job)', width: 12, left: [search(`${METRIC_DIMENSIONS.pipeline},${METRIC_DIMENSIONS.job}`, 'JobDuration', 'p95', 'JobDuration')] }),
    new cloudwatch.GraphWidget({
      title: 'Dead letters and retries',
      width: 12,
      left: [deadLetters.metricApproximateNumberOfMessagesVisible({ label: 'dead letters waiting', statistic: 'Maximum', period: Duration.minutes(5) })],
      right: [byPipeline('DeadLetters', 'Sum'), byPipeline('JobRetries', 'Sum')],
    }),
  );
  dashboard.addWidgets(new cloudwatch.GraphWidget({ title: 'Schedule lateness, max (s)', width: 24, left: [byPipeline('ScheduleLateness', 'Maximum')] }));
  return dashboard;
}

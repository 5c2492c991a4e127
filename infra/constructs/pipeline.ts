/**
 * One pipeline, rendered from its plan: its job functions (the task runtime around a handler file,
 * shared by the jobs that use it), the Standard state machine the plan wrote, and the schedules. No
 * decisions here: every value comes from the `PipelinePlan`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArnFormat, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEFINITION_PROPERTIES, DEFINITION_RESOURCE_TYPE, RECORD_ACTIONS, RUN_EVENT_SOURCE, RunEventDetailType, RunStatus, type DeploySource } from '../../lib/model/contract/index.ts';
import { PhiError } from '../../lib/model/errors.ts';
import { jobFunctionName, messageDeadLetterQueueName, messageQueueName, triggerRuleName } from '../../lib/model/names.ts';
import type { PipelinePlan } from '../../lib/plan/types.ts';
import { definitionSummary } from '../../lib/plan/definition-summary.ts';
import { handlerCode } from '../handler-code.ts';
import { METRIC_DIMENSIONS, METRICS_NAMESPACE, type MetricName } from '../../lib/model/contract/metrics.ts';
import { stalenessWindow } from '../../lib/plan/alarms.ts';
import { acknowledge } from './checks.ts';
import { functionEntry, phiFunction, PROJECT_ROOT, TRIGGER_TIMEOUT } from './function.ts';
import { alarmWhileWaiting } from './queue-alarm.ts';
import { EXECUTIONS_WILDCARD, grantOn, grantRecords, grantSend, TASK_TOKENS_WILDCARD } from './grants.ts';
import { webhookSecrets } from './webhooks.ts';

/** Where the pipelines' manifests are written at synth, for the bundler to read. */
const MANIFEST_DIR = path.join(PROJECT_ROOT, '.phi', 'manifests');

/**
 * What a pipeline needs of the shared platform. `PhiPlatform` is one; so is a set of resources a user
 * imports into an app of their own (`Table.fromTableName`, `Function.fromFunctionArn`, …).
 */
export interface IPhiPlatform {
  /** The records table the job runtime writes its attempts to. */
  readonly table: dynamodb.ITable;
  /** Where job outputs too large for their attempt record are kept. */
  readonly outputsBucket: s3.IBucket;
  /** The job functions' access to `outputsBucket`: write their outputs, read their upstreams'. */
  readonly jobOutputsPolicy: (pipelineId: string) => iam.IManagedPolicy;
  /** Where a job that fails for good leaves its dead letter. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The recorder the state machine calls at the run's start and end, and for a job its function could not close. */
  readonly recorder: lambda.IFunction;
  /** The function the pipeline's schedules and trigger rules invoke to start a run. */
  readonly scheduleTrigger: lambda.IFunction;
  /**
   * The service token of the pipeline's definition record (`Custom::PhiDefinition`): the function that
   * writes a `DEPLOY` audit record whenever a deploy changes the definition (`PhiPlatform`'s; imported,
   * its ARN is the platform stack's output `DefinitionRecorderArn`).
   */
  readonly definitionRecorder: lambda.IFunction;
  /**
   * Where a schedule's or a trigger rule's delivery that keeps failing goes, for the sweeper to start
   * its run. Its resource policy must let EventBridge send from the rules named `triggerRuleName(<pipeline>, '*')`.
   */
  readonly deliveriesQueue: sqs.IQueue;
  /** The roles of the platform functions that read a run's graph from its job list: the recorder, the control API, the sweeper. */
  readonly jobListReaders: readonly iam.IRole[];
  /** Days a record is kept (DynamoDB TTL); the job runtime stamps its attempts with it. */
  readonly recordRetentionDays: number;
  /** What happens to log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Where the pipeline's alarms go. */
  readonly alarmTopic: sns.ITopic;
}

export interface PhiPipelineProps {
  /**
   * The pipeline's plan, from `compilePlan` (or `phi plan --json`): the jobs, the state machine
   * definition and its substitutions, the schedules.
   */
  readonly plan: PipelinePlan;
  /** The platform the pipeline records into and is started by. */
  readonly platform: IPhiPlatform;
  /**
   * How long the job functions' and the state machine's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Whether the state machine's logs carry the states' input and output (run parameters, outputs).
   * @default false: errors are logged without the data they were about
   */
  readonly logExecutionData?: boolean;
  /**
   * Compiles the job functions with Phi's own fault-injection switch (a run's `__phiFaults` parameter
   * fails store calls), for Phi's end-to-end tests on an emulator. Never in production.
   * @default false
   */
  readonly faultInjection?: boolean;
  /**
   * Where the definition came from (git commit, author, dirty work tree), kept in its `DEPLOY` audit
   * records; the app reads it at synth (`infra/source.ts`).
   * @default - none: the records say nothing of a commit
   */
  readonly source?: DeploySource;
}

/** How long CloudFormation waits for the definition recorder's answer (it answers within its 60-s timeout, or not at all). */
export const DEFINITION_RECORD_TIMEOUT = Duration.minutes(5);

export class PhiPipeline extends Construct {
  /** The Standard state machine that runs the pipeline: one execution per run, named by the run id. */
  readonly stateMachine: sfn.StateMachine;
  /** The job functions, by their key in the plan (`f0`, `f1`, …): one per handler file, memory and timeout. */
  readonly jobFunctions: ReadonlyMap<string, NodejsFunction>;
  /** The pipeline's EventBridge Scheduler schedules, one per plan schedule in its order (none for a pipeline started only by hand). */
  readonly schedules: readonly scheduler.CfnSchedule[];
  /** The pipeline's CloudWatch alarms (see `AlarmsSchema`), each notifying the platform's alarm topic. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The run's job list (each enabled job, its function, its upstreams), deployed as a file asset. */
  readonly jobList: s3assets.Asset;
  /** The pipeline's trigger rules on the default event bus, one per enabled event or dataArrival trigger of the plan, in its order. */
  readonly triggerRules: readonly events.CfnRule[];
  /** Its dependencies' rules on the default event bus, one per upstream pipeline (matching that pipeline's `Phi Run Ended` events in the required states), in the plan's order. */
  readonly upstreamRules: readonly events.CfnRule[];
  /** The pipeline's message triggers, one per plan message trigger in its order (enabled or not). */
  readonly messageTriggers: readonly PhiMessageTrigger[];
  /** The signing secrets of the pipeline's webhook triggers (`phi/<pipeline>/<trigger>`), one per plan webhook trigger in its order (enabled or not); their route is the platform's. */
  readonly webhookSecrets: readonly secretsmanager.Secret[];
  /** The definition's record: on each deploy that changes its summary, and on the stack's deletion, the platform's definition recorder writes the `DEPLOY` audit record. */
  readonly definitionRecord: CustomResource;

  constructor(scope: Construct, id: string, props: PhiPipelineProps) {
    super(scope, id);
    const { plan, platform } = props;
    const common = { logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: platform.removalPolicy };

    // What every job function knows of the pipeline, bundled into each of them.
    const manifestFile = path.join(MANIFEST_DIR, `${plan.id}-${plan.definitionVersion}.json`);
    mkdirSync(MANIFEST_DIR, { recursive: true });
    writeFileSync(manifestFile, JSON.stringify(plan.manifest));
    // The run's job list, an object of its own: the jobs' Map reads its items from it, and the
    // platform's recorder, control API and sweeper its graph (a content-addressed asset, never rewritten).
    const jobListFile = path.join(MANIFEST_DIR, `${plan.id}-${plan.definitionVersion}.jobs.json`);
    writeFileSync(jobListFile, JSON.stringify(plan.stateMachine.jobList));
    this.jobList = new s3assets.Asset(this, 'JobList', { path: jobListFile });

    const functions = new Map<string, NodejsFunction>();
    for (const fnPlan of plan.functions) {
      const handler = path.relative(PROJECT_ROOT, fnPlan.handlerPath);
      const fn = phiFunction(this, `Jobs-${fnPlan.key}`, {
        ...common,
        entry: functionEntry('runtime/lambda.ts'),
        // Named, so one statement lets the state machine invoke them all, whatever their number.
        functionName: jobFunctionName(plan.id, fnPlan.key),
        description: `Phi ${plan.id}: ${handler} for ${fnPlan.jobs.length === 1 ? `job ${fnPlan.jobs[0]}` : `${fnPlan.jobs.length} jobs`}`.slice(0, 256),
        timeout: Duration.seconds(fnPlan.timeoutSeconds),
        memoryMb: fnPlan.memoryMb,
        environment: {
          PHI_TABLE_NAME: platform.table.tableName,
          PHI_RETENTION_DAYS: String(platform.recordRetentionDays),
          PHI_DLQ_URL: platform.deadLetterQueue.queueUrl,
          PHI_OUTPUTS_BUCKET: platform.outputsBucket.bucketName,
        },
        // The one runtime entry, bound to these jobs' handler file and to the pipeline's manifest.
        esbuildArgs: { '--alias:phi-user-handler': fnPlan.handlerPath, '--alias:phi-pipeline-manifest': manifestFile },
        ...(props.faultInjection ? { define: { PHI_FAULT_INJECTION: 'true' } } : {}),
        asyncFailures: { none: 'the state machine invokes it synchronously and handles its failure: retries, then the job\'s dead letter' },
      });
      // Only its own pipeline's runs: a handler cannot overwrite another pipeline's records or pre-claim its dead letters.
      grantRecords(fn, platform.table, RECORD_ACTIONS.runtime, { pipeline: plan.id });
      grantSend(fn, platform.deadLetterQueue);
      // Its jobs' large outputs, written and read back by their dependents: no listing, no deleting.
      fn.role!.addManagedPolicy(platform.jobOutputsPolicy(plan.id));
      functions.set(fnPlan.key, fn);
    }
    this.jobFunctions = functions;

    const substitutions: Record<string, string> = {};
    for (const [key, target] of Object.entries(plan.stateMachine.substitutions)) {
      substitutions[key] =
        'recorder' in target ? platform.recorder.functionArn
        : 'table' in target ? platform.table.tableName
        : 'jobList' in target ? (target.jobList === 'bucket' ? this.jobList.s3BucketName : this.jobList.s3ObjectKey)
        : functions.get(target.function)!.functionArn;
    }
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: plan.stateMachine.name,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(plan.stateMachine.definition)),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'ExecutionLogs', { retention: common.logRetention, removalPolicy: common.removalPolicy }),
        level: sfn.LogLevel.ERROR,
        includeExecutionData: props.logExecutionData ?? false,
      },
    });
    acknowledge(this.stateMachine, ['AwsSolutions-SF1'], 'the records table keeps every run\'s and job\'s status, attempts and timing; the log keeps errors (about ten lines a job at level ALL, a cost that grows with every run)');
    acknowledge(this.stateMachine.role, ['AwsSolutions-IAM5[Resource::*]'], 'CloudWatch Logs\' log-delivery actions and X-Ray\'s PutTraceSegments, which Step Functions needs for its logs and traces, accept no resource-level permissions');
    // The definition is a string, so its task permissions are granted here: the Lambda calls, the gate's
    // own DynamoDB write, and the Distributed Map's child executions of this very state machine.
    // One statement for the job functions (a grant per function would outgrow the role's inline policy
    // past about 60 functions, and CDK would add managed policies the plan does not count).
    const stack = Stack.of(this);
    grantOn(this.stateMachine, ['lambda:InvokeFunction'], [
      platform.recorder.functionArn,
      stack.formatArn({ service: 'lambda', resource: 'function', resourceName: jobFunctionName(plan.id, '*'), arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ], 'the pipeline\'s job functions, named phi-<pipeline>_<key> (no other pipeline\'s match): one statement whatever their number, since an inline policy has a size limit');
    grantRecords(this.stateMachine, platform.table, RECORD_ACTIONS.stateMachine, { pipeline: plan.id });
    // The job list: read by the jobs' Map, and by the platform functions that need a run's graph
    // (granted here, by the stack that owns the object, on that object only).
    const readJobList = new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.jobList.bucket.arnForObjects(this.jobList.s3ObjectKey)] });
    this.stateMachine.addToRolePolicy(readJobList);
    // Named per pipeline: the platform roles hold one such inline policy for every pipeline stack, and
    // CDK's generated name (from the construct's path, the same in every pipeline stack) would make each
    // deploy replace the previous pipeline's.
    new iam.Policy(this, 'JobListReaders', { policyName: `phi-job-list-${plan.id}`, roles: [...platform.jobListReaders], statements: [readJobList] });
    const ownArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: plan.stateMachine.name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const childExecutions = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${plan.stateMachine.name}/*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [ownArn] }));
    grantOn(this.stateMachine, ['states:DescribeExecution', 'states:StopExecution'], [childExecutions], EXECUTIONS_WILDCARD);
    // Job functions wake the jobs they release (SendTaskSuccess on the tokens of this state machine's executions).
    for (const fn of functions.values()) {
      grantOn(fn, ['states:SendTaskSuccess'], [ownArn, `${ownArn}/*`], TASK_TOKENS_WILDCARD);
    }

    // One role for the pipeline's schedules: each may invoke the trigger and keep a failed delivery.
    const scheduleRole = plan.schedules.length === 0 ? undefined : new iam.Role(this, 'ScheduleRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com') });
    if (scheduleRole) {
      grantOn(scheduleRole, ['lambda:InvokeFunction'], [platform.scheduleTrigger.functionArn]);
      grantSend(scheduleRole, platform.deliveriesQueue);
    }
    this.schedules = scheduleRole === undefined ? [] : plan.schedules.map((schedule) => {
      // The trigger names the run after the schedule and the scheduled time, so a repeated delivery
      // starts no second run; the schedule's parameters are the run's.
      const input = { pipelineId: plan.id, scheduleId: schedule.id, scheduledTime: '<aws.scheduler.scheduled-time>', ...(schedule.parameters !== undefined ? { parameters: schedule.parameters } : {}) };
      // Named after its id, so adding, removing or reordering schedules leaves the others as they are.
      return new scheduler.CfnSchedule(this, `Schedule-${schedule.id}`, {
        // Scheduler keeps at most 512 characters of description.
        description: `Phi ${plan.id} ${schedule.id}: ${schedule.source}`.slice(0, 512),
        scheduleExpression: schedule.expression,
        scheduleExpressionTimezone: schedule.timezone,
        flexibleTimeWindow: { mode: 'OFF' },
        state: schedule.state,
        ...(schedule.deploy.startDate !== undefined ? { startDate: schedule.deploy.startDate } : {}),
        ...(schedule.deploy.endDate !== undefined ? { endDate: schedule.deploy.endDate } : {}),
        target: {
          arn: platform.scheduleTrigger.functionArn,
          roleArn: scheduleRole.roleArn,
          input: JSON.stringify(input),
          retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 },
          // A delivery still failing after an hour is kept, not dropped: the sweeper starts its run.
          deadLetterConfig: { arn: platform.deliveriesQueue.queueArn },
        },
      });
    });

    // One rule per enabled trigger with a pattern, on the default bus, invoking the trigger function
    // with the pipeline, the trigger and the whole event (the trigger names the run after the trigger
    // and the event id, so a repeated delivery starts no second run).
    this.triggerRules = plan.triggers.filter((t) => t.enabled && t.pattern !== undefined).map((trigger) =>
      invokeTriggerRule(this, `Trigger-${trigger.id}`, platform, {
        name: triggerRuleName(plan.id, trigger.id),
        description: `Phi ${plan.id} trigger ${trigger.id} (${trigger.type})`,
        pattern: trigger.pattern!,
        input: `{"pipelineId":${JSON.stringify(plan.id)},"triggerId":${JSON.stringify(trigger.id)},"triggerType":${JSON.stringify(trigger.type)},${trigger.debounceSeconds !== undefined ? `"debounceSeconds":${trigger.debounceSeconds},` : ''}${trigger.batchWindowSeconds !== undefined ? `"batchWindowSeconds":${trigger.batchWindowSeconds},` : ''}"event":<aws.events.event.json>}`,
      }),
    );

    // One rule per upstream pipeline: its runs' ends in the required states (Phi's own run events)
    // invoke the trigger function, which starts a run of this pipeline (a `trigger` dependency) and
    // evaluates its runs waiting for their upstreams again. Named `<pipeline>_after_<hash>` (`_` is in
    // no trigger id), so the platform's failed-deliveries policy allows it as one of this pipeline's rules.
    // A pipeline that queues the runs beyond its limit has one on its own runs' ends: each end starts the oldest queued run.
    const ownEnds = plan.startRules?.queueIfRunning ? [{ pipeline: plan.id, on: 'COMPLETION' as const, mode: 'gate' as const }] : [];
    this.upstreamRules = [...(plan.startRules?.upstreams ?? []), ...ownEnds].map((upstream) => {
      const ruleId = `after_${createHash('sha256').update(upstream.pipeline).digest('hex').slice(0, 10)}`;
      return invokeTriggerRule(this, `After-${upstream.pipeline}`, platform, {
        name: triggerRuleName(plan.id, ruleId),
        description: upstream.pipeline === plan.id ? `Phi ${plan.id}: its queued runs, when a run ends` : `Phi ${plan.id} after ${upstream.pipeline} (${upstream.on}, ${upstream.mode})`,
        pattern: {
          source: [RUN_EVENT_SOURCE],
          'detail-type': [RunEventDetailType.ENDED],
          detail: { pipelineId: [upstream.pipeline], status: upstream.on === 'COMPLETION' ? [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED] : [RunStatus.SUCCEEDED] },
        },
        input: `{"pipelineId":${JSON.stringify(plan.id)},"upstream":${JSON.stringify(upstream.pipeline)},"mode":${JSON.stringify(upstream.mode)},"on":${JSON.stringify(upstream.on)},"event":<aws.events.event.json>}`,
      });
    });

    this.messageTriggers = deployMessageTriggers(this, plan, platform);
    this.webhookSecrets = webhookSecrets(this, plan);

    this.alarms = pipelineAlarms(this, plan.id, plan.alarms, platform.alarmTopic);
    // Last: it depends on everything else of the pipeline, so a deploy that fails anywhere rolls back before it is recorded.
    this.definitionRecord = definitionRecord(this, plan, platform, props.source, [...this.node.children]);
  }
}

/**
 * The definition's record (issue #10, Audit): a custom resource whose service token is the platform's
 * definition recorder itself (no provider framework, so no functions of CDK's own in each stack), and
 * whose properties are the definition's summary and source. CloudFormation invokes the recorder only when
 * they change (a deploy that changes nothing in the stack invokes nothing), and on the stack's deletion.
 * It comes after every other resource of the pipeline, so a deploy that fails on any of them rolls back
 * before anything is recorded. Its physical id never changes, so
 * an update is never a replacement (whose cleanup would be a delete).
 */
function definitionRecord(scope: Construct, plan: PipelinePlan, platform: IPhiPlatform, source: DeploySource | undefined, after: readonly Construct[]): CustomResource {
  const record = new CustomResource(scope, 'DefinitionRecord', {
    serviceToken: platform.definitionRecorder.functionArn,
    resourceType: DEFINITION_RESOURCE_TYPE,
    serviceTimeout: DEFINITION_RECORD_TIMEOUT,
    properties: {
      [DEFINITION_PROPERTIES.pipelineId]: plan.id,
      [DEFINITION_PROPERTIES.summary]: JSON.stringify(definitionSummary(plan, handlerCode(plan))),
      ...(source !== undefined && Object.keys(source).length > 0 ? { [DEFINITION_PROPERTIES.source]: JSON.stringify(source) } : {}),
    },
  });
  record.node.addDependency(...after);
  return record;
}

/** A message trigger as deployed: the mapping that hands its queue's messages to the trigger function, and the queues Phi created for it (none for the user's queue). */
export interface PhiMessageTrigger {
  readonly triggerId: string;
  readonly mapping: lambda.EventSourceMapping;
  /** The queue Phi created (`messageQueueName`); its URL is the stack output `MessageQueueUrl<Trigger>`. */
  readonly queue?: sqs.Queue;
  /** Where a message of `queue` goes once its run could not be started in `MESSAGE_MAX_RECEIVES` deliveries. */
  readonly deadLetterQueue?: sqs.Queue;
}

/** Deliveries of a message whose run could not be started before its queue moves it to its dead-letter queue (AWS advises at least 5 behind a Lambda mapping). */
export const MESSAGE_MAX_RECEIVES = 5;

/** `message-in` → `MessageIn`: a trigger id as part of an output's name (letters and digits only). */
const pascal = (id: string): string => id.split('-').map((part) => `${part[0]!.toUpperCase()}${part.slice(1)}`).join('');

/**
 * The pipeline's message triggers: per trigger without a `queueArn`, a queue (SSE, TLS only, messages
 * hidden six times the trigger function's timeout while it works on them) with its dead-letter queue
 * and an alarm while a message waits there; per trigger, an event source mapping from its queue to the
 * platform's trigger function, reporting failed messages one by one (`ReportBatchItemFailures`), so
 * only the messages whose run could not be started come back; a disabled trigger's mapping is
 * disabled, its messages wait. The trigger function's role may work through exactly these queues: one
 * policy in this stack, attached to that role (as the job list readers' is: a grant on the role itself
 * would put this stack's queues in the platform stack), which the mappings wait for, since AWS checks
 * the role when a mapping is created.
 */
/**
 * A rule on the default bus that invokes the trigger function with `input` (an input template; the
 * event as `<aws.events.event.json>`) for each event matching `pattern`, delivered again for up to a
 * day and then kept in the failed-deliveries queue for the sweeper. Written as CloudFormation's own
 * rule and permission: CDK's Lambda target would add the failed-deliveries statement to the platform's
 * queue policy, naming this stack's rule from the platform stack (a cycle); the platform allows every
 * rule of the pipeline by name (`triggerRuleName(<pipeline>, '*')`) instead.
 */
function invokeTriggerRule(scope: Construct, id: string, platform: IPhiPlatform, rule: { name: string; description: string; pattern: object; input: string }): events.CfnRule {
  const created = new events.CfnRule(scope, id, {
    name: rule.name,
    description: rule.description,
    eventPattern: rule.pattern,
    state: 'ENABLED',
    targets: [{
      id: 'Trigger',
      arn: platform.scheduleTrigger.functionArn,
      inputTransformer: { inputTemplate: rule.input },
      retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 },
      deadLetterConfig: { arn: platform.deliveriesQueue.queueArn },
    }],
  });
  new lambda.CfnPermission(scope, `${id}-Invoke`, {
    action: 'lambda:InvokeFunction',
    functionName: platform.scheduleTrigger.functionArn,
    principal: 'events.amazonaws.com',
    sourceArn: created.attrArn,
  });
  return created;
}

function deployMessageTriggers(scope: Construct, plan: PipelinePlan, platform: IPhiPlatform): PhiMessageTrigger[] {
  const triggers = plan.triggers.flatMap((t) => (t.message === undefined ? [] : [{ ...t, message: t.message }]));
  if (triggers.length === 0) return [];
  const role = platform.scheduleTrigger.role;
  if (role === undefined) throw new PhiError('CDK_003_NO_TRIGGER_ROLE', `pipeline ${plan.id} has message triggers, but the platform's trigger function has no role to let read their queues`);
  const queueArns: string[] = [];
  const deployed = triggers.map((trigger): PhiMessageTrigger => {
    const { message } = trigger;
    let queues: { queue: sqs.Queue; deadLetterQueue: sqs.Queue } | undefined;
    let queueArn = message.queueArn;
    if (queueArn === undefined) {
      // Removed with the stack, as the platform's own queues are (a named queue kept behind would stop the trigger being deployed again).
      const owned = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) };
      const deadLetterQueue = new sqs.Queue(scope, `Messages-${trigger.id}-DeadLetters`, { ...owned, queueName: messageDeadLetterQueueName(plan.id, trigger.id) });
      acknowledge(deadLetterQueue, ['Serverless-SQSRedrivePolicy'], 'the dead-letter queue of a message trigger\'s queue: a message whose run could not be started in 5 deliveries waits here for 14 days, with an alarm, to be moved back by SQS\'s redrive');
      const queue = new sqs.Queue(scope, `Messages-${trigger.id}`, {
        ...owned,
        queueName: messageQueueName(plan.id, trigger.id),
        visibilityTimeout: Duration.seconds(TRIGGER_TIMEOUT.toSeconds() * 6),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MESSAGE_MAX_RECEIVES },
      });
      alarmWhileWaiting(scope, `Messages-${trigger.id}-DeadLettersWaiting`, deadLetterQueue, `Phi ${plan.id}: a message for trigger ${trigger.id} waits in its dead-letter queue (its run could not be started in ${MESSAGE_MAX_RECEIVES} deliveries)`, platform.alarmTopic);
      new CfnOutput(scope, `Messages-${trigger.id}-Url`, { value: queue.queueUrl, description: `Phi ${plan.id}: send messages here to start runs (trigger ${trigger.id})` }).overrideLogicalId(`MessageQueueUrl${pascal(trigger.id)}`);
      queues = { queue, deadLetterQueue };
      queueArn = queue.queueArn;
    }
    queueArns.push(queueArn);
    const mapping = new lambda.EventSourceMapping(scope, `Messages-${trigger.id}-Mapping`, {
      target: platform.scheduleTrigger,
      eventSourceArn: queueArn,
      batchSize: message.batchSize,
      ...(message.batchWindowSeconds !== undefined ? { maxBatchingWindow: Duration.seconds(message.batchWindowSeconds) } : {}),
      reportBatchItemFailures: true,
      enabled: trigger.enabled,
    });
    acknowledge(mapping, ['Serverless-LambdaEventSourceMappingDestination'], 'an SQS mapping takes no on-failure destination (AWS has them for streams and Kafka): a message whose run could not be started goes back to its queue, and from there to the queue\'s dead-letter queue');
    return { triggerId: trigger.id, mapping, ...queues };
  });
  const policy = new iam.Policy(scope, 'MessageQueues', {
    // Named per pipeline: the trigger function's role holds one such policy for every pipeline stack with message triggers.
    policyName: `phi-message-queues-${plan.id}`,
    roles: [role],
    statements: [new iam.PolicyStatement({ actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: queueArns })],
  });
  for (const { mapping } of deployed) mapping.node.addDependency(policy);
  return deployed;
}

/**
 * The pipeline's alarms on its metrics (dimension `pipeline`), each notifying `topic`: a run failed, a
 * run took too long, no run succeeded for too long (missing data breaches: no success is the point),
 * failed jobs over ended jobs above a threshold.
 */
function pipelineAlarms(scope: Construct, pipelineId: string, alarms: PipelinePlan['alarms'], topic: sns.ITopic): cloudwatch.Alarm[] {
  const metric = (name: MetricName, statistic: string, period: Duration): cloudwatch.Metric =>
    new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { [METRIC_DIMENSIONS.pipeline]: pipelineId }, statistic, period });
  const made: cloudwatch.Alarm[] = [];
  const alarm = (id: string, props: Omit<cloudwatch.AlarmProps, 'evaluationPeriods'> & { evaluationPeriods?: number }): void => {
    const created = new cloudwatch.Alarm(scope, id, { evaluationPeriods: 1, ...props });
    created.addAlarmAction(new cloudwatchActions.SnsAction(topic));
    made.push(created);
  };
  const atOnce = Duration.minutes(5);
  if (alarms.runFailed) {
    alarm('RunFailed', { alarmDescription: `Phi ${pipelineId}: a run failed`, metric: metric('RunsFailed', 'Sum', atOnce), threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
  }
  if (alarms.maxDurationMinutes !== undefined) {
    alarm('RunTooLong', { alarmDescription: `Phi ${pipelineId}: a run took longer than ${alarms.maxDurationMinutes} minutes`, metric: metric('RunDuration', 'Maximum', atOnce), threshold: alarms.maxDurationMinutes * 60_000, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
  }
  if (alarms.maxDataAgeHours !== undefined) {
    const { periodMinutes, evaluationPeriods } = stalenessWindow(alarms.maxDataAgeHours);
    alarm('DataStale', { alarmDescription: `Phi ${pipelineId}: no run succeeded for ${alarms.maxDataAgeHours} hours`, metric: metric('RunsSucceeded', 'Sum', Duration.minutes(periodMinutes)), evaluationPeriods, threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.BREACHING });
  }
  if (alarms.errorRate !== undefined) {
    // The average of one 0/1 sample per ended job is failed jobs over ended jobs (a plain metric: no
    // metric math, which not every CloudWatch implementation alarms on).
    const rate = metric('JobFailure', 'Average', Duration.minutes(alarms.errorRate.windowMinutes));
    alarm('ErrorRate', { alarmDescription: `Phi ${pipelineId}: more than ${alarms.errorRate.threshold * 100}% of jobs failed within ${alarms.errorRate.windowMinutes} minutes`, metric: rate, threshold: alarms.errorRate.threshold, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
  }
  return made;
}

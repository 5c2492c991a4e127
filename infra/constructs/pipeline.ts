/**
 * One pipeline, rendered from its plan: a function per enabled job (the task runtime around the job's
 * handler), the Standard state machine the plan wrote, and the schedule. No decisions here: every
 * value comes from the `PipelinePlan`.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { RECORD_ACTIONS } from '../../lib/model/contract/index.ts';
import type { PipelinePlan } from '../../lib/plan/types.ts';
import { functionEntry, phiFunction } from './function.ts';

/**
 * What a pipeline needs of the shared platform. `PhiPlatform` is one; so is a set of resources a user
 * imports into an app of their own (`Table.fromTableName`, `Function.fromFunctionArn`, …).
 */
export interface IPhiPlatform {
  /** The records table the job runtime writes its attempts to. */
  readonly table: dynamodb.ITable;
  /** The recorder the state machine calls at the run's start, at each job's final failure and at the run's end. */
  readonly recorder: lambda.IFunction;
  /** The function the pipeline's schedules invoke to start a run. */
  readonly scheduleTrigger: lambda.IFunction;
  /** Days a record is kept (DynamoDB TTL); the job runtime stamps its attempts with it. */
  readonly recordRetentionDays: number;
  /** What happens to log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
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
}

export class PhiPipeline extends Construct {
  /** The Standard state machine that runs the pipeline: one execution per run, named by the run id. */
  readonly stateMachine: sfn.StateMachine;
  /** The function of each enabled job, by job id. */
  readonly jobFunctions: ReadonlyMap<string, NodejsFunction>;
  /** The pipeline's EventBridge Scheduler schedules (none for a pipeline started only by hand). */
  readonly schedules: readonly scheduler.CfnSchedule[];

  constructor(scope: Construct, id: string, props: PhiPipelineProps) {
    super(scope, id);
    const { plan, platform } = props;
    const common = { logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: platform.removalPolicy };

    const functions = new Map<string, NodejsFunction>();
    for (const job of plan.jobs.filter((j) => j.enabled)) {
      const fn = phiFunction(this, `Job-${job.id}`, {
        ...common,
        entry: functionEntry('runtime/lambda.ts'),
        description: `Phi ${plan.id}/${job.id}${job.description ? `: ${job.description}` : ''}`.slice(0, 256),
        timeout: Duration.seconds(job.timeoutSeconds),
        memoryMb: job.memoryMb,
        environment: {
          PHI_JOB: JSON.stringify(job.runtime),
          PHI_TABLE_NAME: platform.table.tableName,
          PHI_RETENTION_DAYS: String(platform.recordRetentionDays),
        },
        // The one runtime entry, bound to this job's handler file.
        esbuildArgs: { '--alias:phi-user-handler': job.handlerPath },
      });
      platform.table.grant(fn, ...RECORD_ACTIONS.runtime);
      functions.set(job.id, fn);
    }
    this.jobFunctions = functions;

    const substitutions: Record<string, string> = {};
    for (const [key, target] of Object.entries(plan.stateMachine.substitutions)) {
      substitutions[key] = 'recorder' in target ? platform.recorder.functionArn : functions.get(target.jobId)!.functionArn;
    }
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: plan.stateMachine.name,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(plan.stateMachine.definition)),
      definitionSubstitutions: substitutions,
      logs: {
        destination: new logs.LogGroup(this, 'ExecutionLogs', { retention: common.logRetention, removalPolicy: common.removalPolicy }),
        level: sfn.LogLevel.ERROR,
        includeExecutionData: true,
      },
    });
    // The definition is a string, so its task permissions are granted here.
    for (const fn of [...functions.values(), platform.recorder]) fn.grantInvoke(this.stateMachine);

    this.schedules = plan.schedules.map((schedule, i) => {
      const role = new iam.Role(this, `ScheduleRole${i}`, { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com') });
      platform.scheduleTrigger.grantInvoke(role);
      return new scheduler.CfnSchedule(this, `Schedule${i}`, {
        description: `Phi ${plan.id}: ${schedule.source}`,
        scheduleExpression: schedule.expression,
        scheduleExpressionTimezone: schedule.timezone,
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: platform.scheduleTrigger.functionArn,
          roleArn: role.roleArn,
          // The trigger names the run after the scheduled time, so a repeated delivery starts no second run.
          input: JSON.stringify({ pipelineId: plan.id, scheduledTime: '<aws.scheduler.scheduled-time>' }),
          retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 },
        },
      });
    });
  }
}

/**
 * Renders a pipeline into an Amazon States Language document. Everything about the state machine is
 * decided here, from the plan; the CDK construct only substitutes ARNs and the table's name for the
 * `${...}` placeholders listed in `substitutions`.
 *
 * Shape (one run, one execution):
 *   Record run started → Jobs (Distributed Map: one child execution per job, all at once, its items
 *   read from the job list in S3) → Record run finished → Succeed, or Fail when a job failed
 * The job list (each job, its function, its upstreams) is an object of its own, deployed with the
 * state machine: it is never passed between states, so neither the definition nor a state's payload
 * grows with the number of jobs.
 * A job's iteration (its child execution):
 *   Has upstream? ─no─→ Run attempt ─ok─→ (end)
 *        └yes→ Wait for upstream (its task token stored in the job's state item; released when the
 *              last of its upstreams ends, by whoever ended it) → Run attempt
 *   Run attempt ─error→ Attempt failed (the job's function decides: retry after a delay, or close
 *   the job for good) → Back off → Run attempt, or (end)
 * So a job starts as soon as its own upstreams have ended, never waiting for a layer, and a failure
 * ends only its own job: its dependents decide for themselves (skip, or run after a COMPLETION edge).
 * Every failure path ends the iteration normally, so one job never cancels another.
 * @see https://states-language.net/spec.html
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
 */
import { JOB_STATE_ATTRIBUTES, KEY_PREFIX, RunStatus, type JobItem } from '../model/contract/index.ts';
import type { AslState, AslStateMachine, FunctionPlan, ResolvedJob, SubstitutionTarget } from './types.ts';

export const RECORDER_ARN_KEY = 'RecorderFunctionArn';
export const TABLE_NAME_KEY = 'RecordsTableName';
/** The substitution keys of where the job list is: its bucket and its object key. */
export const JOB_LIST_BUCKET_KEY = 'JobListBucket';
export const JOB_LIST_OBJECT_KEY = 'JobListKey';
/** The substitution key for a job function's ARN. */
export const functionArnKey = (functionKey: string): string => `JobFunctionArn_${functionKey}`;

const placeholder = (key: string): string => `\${${key}}`;

/**
 * Retries for Phi's own Lambda calls (the recorder, a job function deciding on a failure): throttling
 * and service errors pass, and 31 s of them outlast a dead-letter claim's 20 s lease.
 */
const SERVICE_RETRY = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 5 }];
/** Errors of a Lambda invocation that happen before the handler runs: retried without spending an attempt. */
const LAMBDA_SERVICE_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

/** Seconds an invocation may take beyond the handler's own timeout before Step Functions gives up on it. */
export const TASK_TIMEOUT_MARGIN_SECONDS = 30;

/** The most child executions a Distributed Map runs at once: every job of a run must be able to wait at the same time. */
export const MAX_JOBS_PER_RUN = 10_000;

export const stateNames = {
  recordStarted: 'Record run started',
  jobs: 'Jobs',
  recordFinished: 'Record run finished',
  recordMapFailed: 'Record run failed',
  outcome: 'Run outcome',
  runSucceeded: 'Run succeeded',
  runCancelled: 'Run cancelled',
  runFailed: 'Run failed',
  hasUpstream: 'Has upstream?',
  waitForUpstream: 'Wait for upstream',
  runAttempt: 'Run attempt',
  attemptFailed: 'Attempt failed',
  retry: 'Retry?',
  backOff: 'Back off',
  backOffThenDecide: 'Back off, then decide again',
  jobDone: 'Job done',
  abandon: 'Abandon job',
} as const;

function lambdaTask(functionName: Record<string, string>, payload: Record<string, unknown>, extra: Record<string, unknown>): AslState {
  return { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { ...functionName, Payload: payload }, ...extra };
}

const recorderTask = (payload: Record<string, unknown>, extra: Record<string, unknown>): AslState =>
  lambdaTask({ FunctionName: placeholder(RECORDER_ARN_KEY) }, payload, { Retry: SERVICE_RETRY, ...extra });

/** The job function of this iteration, by its index in the run's list of functions. */
const JOB_FUNCTION = { 'FunctionName.$': 'States.ArrayGetItem($.functions, $.job.f)' };

const jobPayload = (action: 'run' | 'failed', extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  action,
  'run.$': '$.run',
  'jobId.$': '$.job.id',
  'attempt.$': '$.next.attempt',
  'executionArn.$': '$.executionArn',
  'taskExecutionArn.$': '$$.Execution.Id',
  ...extra,
});

/** The states of one job's iteration. */
export function jobIteration(runTimeoutSeconds: number): { StartAt: string; States: Record<string, AslState> } {
  const n = stateNames;
  return {
    StartAt: n.hasUpstream,
    States: {
      [n.hasUpstream]: {
        Type: 'Choice',
        Choices: [{ Variable: '$.job.up', NumericGreaterThan: 0, Next: n.waitForUpstream }],
        Default: n.runAttempt,
      },
      // Stores this iteration's task token in the job's state item unless every upstream has ended
      // already (then the condition fails and the job runs at once). Whoever ends the last upstream
      // marks the item ready and, finding the token, releases it: exactly one of the two happens.
      [n.waitForUpstream]: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken',
        Parameters: {
          TableName: placeholder(TABLE_NAME_KEY),
          Key: {
            pk: { 'S.$': `States.Format('${KEY_PREFIX.run}{}', $.run.runId)` },
            sk: { 'S.$': `States.Format('${KEY_PREFIX.jobState}{}', $.job.id)` },
          },
          UpdateExpression: 'SET #token = :token',
          ConditionExpression: 'attribute_not_exists(#ready)',
          ExpressionAttributeNames: { '#token': JOB_STATE_ATTRIBUTES.token, '#ready': JOB_STATE_ATTRIBUTES.ready },
          ExpressionAttributeValues: { ':token': { 'S.$': '$$.Task.Token' } },
        },
        ResultPath: null,
        Retry: [{ ErrorEquals: ['DynamoDb.ProvisionedThroughputExceededException', 'DynamoDb.ThrottlingException', 'DynamoDb.InternalServerErrorException', 'DynamoDb.RequestLimitExceeded'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 6 }],
        Catch: [
          { ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'], ResultPath: null, Next: n.runAttempt },
          { ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: n.abandon },
        ],
        Next: n.runAttempt,
      },
      [n.runAttempt]: lambdaTask(JOB_FUNCTION, jobPayload('run'), {
        TimeoutSeconds: runTimeoutSeconds,
        // The iteration's output is kept by the Map: keep it to the job's status.
        ResultSelector: { 'status.$': '$.Payload.status' },
        ResultPath: '$.result',
        OutputPath: '$.result',
        Retry: [{ ErrorEquals: LAMBDA_SERVICE_ERRORS, IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 }],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: n.attemptFailed }],
        End: true,
      }),
      [n.attemptFailed]: lambdaTask(JOB_FUNCTION, jobPayload('failed', { 'caught.$': '$.caught', 'infraTries.$': '$.next.infraTries' }), {
        ResultSelector: { 'retry.$': '$.Payload.retry', 'again.$': '$.Payload.again', 'delaySeconds.$': '$.Payload.delaySeconds', 'attempt.$': '$.Payload.attempt', 'infraTries.$': '$.Payload.infraTries' },
        ResultPath: '$.next',
        Retry: SERVICE_RETRY,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.abandoned', Next: n.abandon }],
        Next: n.retry,
      }),
      [n.retry]: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.next.retry', BooleanEquals: true, Next: n.backOff },
          // Phi's storage failed while closing the attempt: the same failure is handed back after a while.
          { Variable: '$.next.again', BooleanEquals: true, Next: n.backOffThenDecide },
        ],
        Default: n.jobDone,
      },
      [n.backOff]: { Type: 'Wait', SecondsPath: '$.next.delaySeconds', Next: n.runAttempt },
      [n.backOffThenDecide]: { Type: 'Wait', SecondsPath: '$.next.delaySeconds', Next: n.attemptFailed },
      [n.abandon]: recorderTask(
        { action: 'jobAbandoned', 'run.$': '$.run', 'jobId.$': '$.job.id', 'attempt.$': '$.next.attempt', 'caught.$': '$.caught', 'executionArn.$': '$.executionArn' },
        { ResultPath: null, Next: n.jobDone },
      ),
      [n.jobDone]: { Type: 'Succeed', OutputPath: '$.next' },
    },
  };
}

export interface AslInput {
  readonly pipelineId: string;
  readonly definitionVersion: string;
  /** Enabled jobs. */
  readonly jobs: readonly ResolvedJob[];
  readonly functions: readonly FunctionPlan[];
  /** The execution's timeout: beyond it Step Functions ends the run (and its record is closed). */
  readonly timeoutSeconds: number;
}

export function renderStateMachine(input: AslInput): { definition: AslStateMachine; substitutions: Record<string, SubstitutionTarget>; items: JobItem[] } {
  const n = stateNames;
  const functionIndex = new Map(input.functions.map((fn, i) => [fn.key, i]));
  const items: JobItem[] = input.jobs.map((job) => ({ id: job.id, f: functionIndex.get(job.function ?? '') ?? 0, up: job.dependsOn.length, d: [...job.dependsOn] }));
  const jobList = { Bucket: placeholder(JOB_LIST_BUCKET_KEY), Key: placeholder(JOB_LIST_OBJECT_KEY) };
  const runTimeoutSeconds = Math.max(0, ...input.functions.map((fn) => fn.timeoutSeconds)) + TASK_TIMEOUT_MARGIN_SECONDS;

  const states: Record<string, AslState> = {
    [n.recordStarted]: recorderTask(
      { action: 'runStarted', 'run.$': '$', definitionVersion: input.definitionVersion, jobList: { bucket: jobList.Bucket, key: jobList.Key }, 'executionArn.$': '$$.Execution.Id' },
      // The recorder answers with the validated run input; the jobs' functions are the plan's.
      {
        ResultSelector: { 'run.$': '$.Payload', functions: input.functions.map((fn) => placeholder(functionArnKey(fn.key))) },
        ResultPath: '$',
        Next: n.jobs,
      },
    ),
    [n.jobs]: {
      Type: 'Map',
      Label: 'Jobs',
      ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: jobList },
      ItemSelector: {
        'run.$': '$.run',
        'job.$': '$$.Map.Item.Value',
        'functions.$': '$.functions',
        'executionArn.$': '$$.Execution.Id',
        next: { retry: false, again: false, delaySeconds: 0, attempt: 1, infraTries: 0 },
      },
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, ...jobIteration(runTimeoutSeconds) },
      // Every job waits at the same time; a job iteration never fails, but should one, the others go on.
      MaxConcurrency: Math.max(1, Math.min(items.length, MAX_JOBS_PER_RUN)),
      ToleratedFailurePercentage: 100,
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: n.recordMapFailed }],
      Next: n.recordFinished,
    },
    [n.recordFinished]: recorderTask(
      { action: 'runFinished', 'run.$': '$.run', 'executionArn.$': '$$.Execution.Id' },
      { ResultSelector: { 'status.$': '$.Payload.status' }, ResultPath: '$.outcome', Next: n.outcome },
    ),
    [n.recordMapFailed]: recorderTask(
      { action: 'runFinished', 'run.$': '$.run', 'caught.$': '$.caught', 'executionArn.$': '$$.Execution.Id' },
      { ResultSelector: { 'status.$': '$.Payload.status' }, ResultPath: '$.outcome', Next: n.outcome },
    ),
    [n.outcome]: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.outcome.status', StringEquals: RunStatus.SUCCEEDED, Next: n.runSucceeded },
        { Variable: '$.outcome.status', StringEquals: RunStatus.CANCELLED, Next: n.runCancelled },
      ],
      Default: n.runFailed,
    },
    [n.runSucceeded]: { Type: 'Succeed' },
    [n.runCancelled]: { Type: 'Fail', Error: 'PhiRunCancelled', Cause: `a run of pipeline ${input.pipelineId} was cancelled` },
    [n.runFailed]: { Type: 'Fail', Error: 'PhiRunFailed', Cause: `a job of pipeline ${input.pipelineId} failed` },
  };

  const substitutions: Record<string, SubstitutionTarget> = {
    [RECORDER_ARN_KEY]: { recorder: true },
    [TABLE_NAME_KEY]: { table: true },
    [JOB_LIST_BUCKET_KEY]: { jobList: 'bucket' },
    [JOB_LIST_OBJECT_KEY]: { jobList: 'key' },
  };
  for (const fn of input.functions) substitutions[functionArnKey(fn.key)] = { function: fn.key };
  return {
    definition: { Comment: `Phi pipeline ${input.pipelineId} (definition ${input.definitionVersion})`, StartAt: n.recordStarted, TimeoutSeconds: input.timeoutSeconds, States: states },
    substitutions,
    items,
  };
}

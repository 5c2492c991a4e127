/**
 * Renders a pipeline into an Amazon States Language document. Everything about the state machine is
 * decided here, from the plan; the CDK construct only substitutes function ARNs for the
 * `${...}` placeholders listed in `substitutions`.
 *
 * Shape (one run):
 *   Record run started → Layer 1 (Parallel: one branch per job) → … → Layer n → Record run succeeded
 *   any layer failing → Record run failed → Run failed
 * A job's branch: `<job>: run` (Retry per its policy) → `<job>: check` (a returned permanent failure)
 * → `<job>: succeeded`; a permanent failure, or Catch after retries, → `<job>: record failure`
 * (records, DLQ) → `<job>: failed`. Job ids hold no `:` or space, so job states never share a name
 * with each other or with the run's own states. The branch is self-contained so a later scheduler
 * (exact DAG) can place it anywhere.
 * @see https://states-language.net/spec.html
 */
import { JOB_FAILED_ERROR_NAME, JobStatus, RunStatus } from '../model/contract/index.ts';
import type { AslState, AslStateMachine, ResolvedJob, SubstitutionTarget } from './types.ts';

export const RECORDER_ARN_KEY = 'RecorderFunctionArn';

/** The substitution key for a job's function ARN: by position, since job ids may differ only in `-`/`_`. */
export function jobFunctionKey(index: number): string {
  return `JobFunctionArn${index}`;
}

const placeholder = (key: string): string => `\${${key}}`;

/** Retries for Phi's own recorder calls: Lambda throttling and service errors are passing. */
const RECORDER_RETRY = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 }];

/** Seconds an invocation may take beyond the handler's own timeout before Step Functions gives up on it. */
export const TASK_TIMEOUT_MARGIN_SECONDS = 30;

export const stateNames = {
  recordStarted: 'Record run started',
  recordSucceeded: 'Record run succeeded',
  recordFailed: 'Record run failed',
  runFailed: 'Run failed',
  layer: (n: number) => `Layer ${n + 1}`,
  run: (job: string) => `${job}: run`,
  check: (job: string) => `${job}: check`,
  succeeded: (job: string) => `${job}: succeeded`,
  recordFailure: (job: string) => `${job}: record failure`,
  fail: (job: string) => `${job}: failed`,
};

function recorderTask(payload: Record<string, unknown>, extra: Record<string, unknown>): AslState {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: placeholder(RECORDER_ARN_KEY), Payload: payload },
    Retry: RECORDER_RETRY,
    ...extra,
  };
}

/** The states of one job's branch, starting at `<job>: run`. */
export function jobBranch(job: ResolvedJob, functionKey: string): { StartAt: string; States: Record<string, AslState> } {
  const names = {
    run: stateNames.run(job.id),
    check: stateNames.check(job.id),
    succeeded: stateNames.succeeded(job.id),
    recordFailure: stateNames.recordFailure(job.id),
    fail: stateNames.fail(job.id),
  };
  const { retry } = job;
  return {
    StartAt: names.run,
    States: {
      [names.run]: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: placeholder(functionKey),
          Payload: {
            'run.$': '$.run',
            jobId: job.id,
            'retryCount.$': '$$.State.RetryCount',
            'executionArn.$': '$$.Execution.Id',
          },
        },
        TimeoutSeconds: job.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS,
        ResultSelector: { 'result.$': '$.Payload' },
        ResultPath: '$.job',
        // Only transient failures are thrown (permanent ones are returned), so every error that reaches
        // here is retryable: the job's own transient errors, timeouts, and Lambda service errors.
        ...(retry.maxAttempts > 1
          ? {
              Retry: [
                {
                  ErrorEquals: ['States.ALL'],
                  IntervalSeconds: retry.initialDelaySeconds,
                  BackoffRate: retry.backoffMultiplier,
                  MaxDelaySeconds: retry.maxDelaySeconds,
                  JitterStrategy: retry.jitter,
                  MaxAttempts: retry.maxAttempts - 1,
                },
              ],
            }
          : {}),
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.job', Next: names.recordFailure }],
        Next: names.check,
      },
      [names.check]: {
        Type: 'Choice',
        Choices: [{ Variable: '$.job.result.status', StringEquals: JobStatus.FAILED, Next: names.recordFailure }],
        Default: names.succeeded,
      },
      [names.succeeded]: { Type: 'Succeed' },
      [names.recordFailure]: recorderTask(
        {
          action: 'jobFailed',
          'run.$': '$.run',
          jobId: job.id,
          maxAttempts: retry.maxAttempts,
          'outcome.$': '$.job',
          'executionArn.$': '$$.Execution.Id',
        },
        { ResultPath: null, Next: names.fail },
      ),
      [names.fail]: { Type: 'Fail', Error: JOB_FAILED_ERROR_NAME, Cause: `job ${job.id} failed` },
    },
  };
}

export interface AslInput {
  readonly pipelineId: string;
  readonly definitionVersion: string;
  /** Enabled jobs, in the order their function keys are numbered. */
  readonly jobs: readonly ResolvedJob[];
  readonly layers: readonly (readonly string[])[];
}

export function renderStateMachine(input: AslInput): { definition: AslStateMachine; substitutions: Record<string, SubstitutionTarget> } {
  const keyOf = new Map(input.jobs.map((job, i) => [job.id, jobFunctionKey(i)]));
  const byId = new Map(input.jobs.map((job) => [job.id, job]));
  const graph = Object.fromEntries(input.jobs.map((job) => [job.id, [...job.dependsOn]]));
  const states: Record<string, AslState> = {};

  states[stateNames.recordStarted] = recorderTask(
    {
      action: 'runStarted',
      'run.$': '$',
      definitionVersion: input.definitionVersion,
      graph,
      'executionArn.$': '$$.Execution.Id',
    },
    // The recorder answers with the validated run input: the state from here on is `{ run }`.
    { ResultSelector: { 'run.$': '$.Payload' }, ResultPath: '$', Next: input.layers.length > 0 ? stateNames.layer(0) : stateNames.recordSucceeded },
  );

  input.layers.forEach((layer, n) => {
    states[stateNames.layer(n)] = {
      Type: 'Parallel',
      Branches: layer.map((id) => jobBranch(byId.get(id)!, keyOf.get(id)!)),
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: stateNames.recordFailed }],
      Next: n + 1 < input.layers.length ? stateNames.layer(n + 1) : stateNames.recordSucceeded,
    };
  });

  states[stateNames.recordSucceeded] = recorderTask(
    { action: 'runFinished', status: RunStatus.SUCCEEDED, 'run.$': '$.run', 'executionArn.$': '$$.Execution.Id' },
    { ResultPath: null, End: true },
  );
  states[stateNames.recordFailed] = recorderTask(
    {
      action: 'runFinished',
      status: RunStatus.FAILED,
      'run.$': '$.run',
      'caught.$': '$.failure',
      'executionArn.$': '$$.Execution.Id',
    },
    { ResultPath: null, Next: stateNames.runFailed },
  );
  states[stateNames.runFailed] = { Type: 'Fail', Error: 'PhiRunFailed', Cause: `a job of pipeline ${input.pipelineId} failed` };

  const substitutions: Record<string, SubstitutionTarget> = { [RECORDER_ARN_KEY]: { recorder: true } };
  input.jobs.forEach((job, i) => (substitutions[jobFunctionKey(i)] = { jobId: job.id }));
  return {
    definition: { Comment: `Phi pipeline ${input.pipelineId} (definition ${input.definitionVersion})`, StartAt: stateNames.recordStarted, States: states },
    substitutions,
  };
}

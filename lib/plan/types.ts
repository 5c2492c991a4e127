/** The plan's types: what the compiler produces and the CDK constructs render. */
import type { JobItem, PipelineManifest, ResolvedDependency, ResolvedRetry } from '../model/contract/index.ts';
import type { Parameters } from '../model/pipeline.ts';
import type { JsonSchema } from '../model/run-parameters.ts';
import type { StartRules } from '../model/contract/start.ts';
import type { CompiledSchedule } from './schedule/index.ts';
import type { ResolvedAlarms } from './alarms.ts';
import type { CompiledTrigger } from './triggers.ts';

export type { ResolvedRetry } from '../model/contract/index.ts';

/** A state of the subset of ASL Phi writes. */
export type AslState = Readonly<Record<string, unknown>> & { readonly Type: string };
export interface AslStateMachine {
  readonly Comment: string;
  readonly StartAt: string;
  readonly TimeoutSeconds?: number;
  readonly States: Readonly<Record<string, AslState>>;
}

/** What a placeholder in the definition stands for: the recorder's ARN, a job function's ARN, or the records table's name. */
export type SubstitutionTarget = { readonly recorder: true } | { readonly function: string } | { readonly table: true } | { readonly jobList: 'bucket' | 'key' };

/** A job with every default applied and its handler path resolved. */
export interface ResolvedJob {
  readonly id: string;
  readonly description?: string;
  /** The ids of the jobs it waits for. */
  readonly dependsOn: readonly string[];
  /** How it waits for each of them (same order as `dependsOn`). */
  readonly dependencies: readonly ResolvedDependency[];
  /** Absolute path of the handler file. */
  readonly handlerPath: string;
  /** Pipeline parameters merged with the job's: `{ ...pipeline, ...job }`. */
  readonly parameters: Parameters;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly retry: ResolvedRetry;
  readonly enabled: boolean;
  /** 0-based execution layer (disabled jobs: -1); for people only: no job ever waits for a layer. */
  readonly layer: number;
  /** The key of the function that runs it (disabled jobs have none). */
  readonly function?: string;
}

/**
 * One Lambda function of the pipeline: every enabled job with the same handler file, memory and
 * timeout shares one, so a pipeline's stack grows with its distinct handlers, not with its jobs.
 */
export interface FunctionPlan {
  /** `f0`, `f1`, …: the same for the same definitions. */
  readonly key: string;
  readonly handlerPath: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** The jobs it runs. */
  readonly jobs: readonly string[];
}

export interface PlanEstimates {
  /** Bytes of the state machine definition (Step Functions' limit: 1,048,576). */
  readonly definitionBytes: number;
  /**
   * History events (limit 25,000 per execution): of the run's own execution, and of one job's child
   * execution (each job runs in a child execution of the jobs' Distributed Map) where it succeeds
   * first time and where it uses every attempt (the largest over the jobs).
   */
  readonly historyEvents: { readonly run: number; readonly perJob: { readonly expected: number; readonly worstCase: number } };
  /** State transitions when every job succeeds first time (the Standard workflow price unit): in all, and per job on average. */
  readonly stateTransitions: { readonly perRun: number; readonly perJob: number };
  /** The largest state payload of a run, with run parameters at their limit (Step Functions' limit: 262,144). */
  readonly payloadBytes: number;
  /** The largest a run's record can grow, its per-job summary included (DynamoDB's item limit: 409,600). */
  readonly runRecordBytes: number;
  /** CloudFormation resources of the pipeline's stack (limit: 500). */
  readonly stackResources: number;
  /** Sum of the attempt timeouts along the critical path, in seconds. */
  readonly criticalPathSeconds: number;
  /**
   * The longest a run can take, in seconds: along the heaviest chain, every job using every attempt to
   * its timeout with the longest retry delays between. The execution times out a while after it, so no
   * run can stay RUNNING for ever; `phi run --wait` waits this long by default.
   */
  readonly worstCaseRunSeconds: number;
}

export interface PipelinePlan {
  readonly id: string;
  readonly description?: string;
  readonly version?: string;
  /** SHA-256 (first 16 hex digits) of the validated definition: changes whenever the definition does. */
  readonly definitionVersion: string;
  /** The definition file it came from. */
  readonly file: string;
  /** Its schedules (`schedules`, or `schedule` as id `default`), each deployed as one Scheduler schedule. */
  readonly schedules: readonly CompiledSchedule[];
  /** Its triggers (`triggers`), each deployed, when enabled, as one EventBridge rule on the default bus. */
  readonly triggers: readonly CompiledTrigger[];
  /** Its CloudWatch alarms, defaults filled in (a run failed: on; the rest: off). */
  readonly alarms: ResolvedAlarms;
  /**
   * What a run may set: the JSON Schema (draft 2020-12) of the definition's `runParameters`, which the
   * deployment checks every run's parameters with (and fills in its defaults). Absent: a run sets none.
   */
  readonly runParameters?: JsonSchema;
  /** The datasets it provides (its own `provides` and its enabled jobs'), each once; absent when none. */
  readonly provides?: readonly string[];
  /** When runs may start (execution windows, tolerance and lateness, active runs), defaults left out. Absent: every default. */
  readonly startRules?: StartRules;
  readonly jobs: readonly ResolvedJob[];
  /** The job functions: one per distinct (handler, memory, timeout) among the enabled jobs. */
  readonly functions: readonly FunctionPlan[];
  /** What the job functions know of the pipeline (bundled into each of them). */
  readonly manifest: PipelineManifest;
  readonly layers: readonly (readonly string[])[];
  readonly criticalPath: readonly string[];
  readonly estimates: PlanEstimates;
  readonly stateMachine: {
    readonly name: string;
    readonly definition: AslStateMachine;
    /** Placeholder key in the definition → what goes there (an ARN, the table's name, where the job list is). */
    readonly substitutions: Readonly<Record<string, SubstitutionTarget>>;
    /** The run's job list, deployed as an object of its own (see `lib/model/contract/job-list.ts`). */
    readonly jobList: readonly JobItem[];
  };
}

export interface Plan {
  readonly generatedAt: string;
  /** Which fire times each schedule lists (`next`): `count` of them after `from`. */
  readonly fireTimes: { readonly from: string; readonly count: number };
  readonly pipelines: readonly PipelinePlan[];
}

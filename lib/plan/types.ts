/** The plan's types: what the compiler produces and the CDK constructs render. */
import type { JobRuntimeConfig } from '../model/contract/index.ts';
import type { JitterStrategy, Parameters } from '../model/pipeline.ts';
import type { CompiledSchedule } from './schedule/index.ts';

/** A state of the subset of ASL Phi writes. */
export type AslState = Readonly<Record<string, unknown>> & { readonly Type: string };
export interface AslStateMachine {
  readonly Comment: string;
  readonly StartAt: string;
  readonly TimeoutSeconds?: number;
  readonly States: Readonly<Record<string, AslState>>;
}

/** Whose function ARN a placeholder stands for: the platform's recorder, or one job's. */
export type SubstitutionTarget = { readonly recorder: true } | { readonly jobId: string };

/** A retry policy with every default applied. */
export interface ResolvedRetry {
  readonly maxAttempts: number;
  readonly initialDelaySeconds: number;
  readonly backoffMultiplier: number;
  readonly maxDelaySeconds: number;
  readonly jitter: JitterStrategy;
  readonly retryableErrors: readonly string[];
  readonly nonRetryableErrors: readonly string[];
}

/** A job with every default applied and its handler path resolved. */
export interface ResolvedJob {
  readonly id: string;
  readonly description?: string;
  readonly dependsOn: readonly string[];
  /** Absolute path of the handler file. */
  readonly handlerPath: string;
  /** Pipeline parameters merged with the job's: `{ ...pipeline, ...job }`. */
  readonly parameters: Parameters;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly retry: ResolvedRetry;
  readonly enabled: boolean;
  /** 0-based execution layer (disabled jobs: -1). */
  readonly layer: number;
  /** What the job's function knows of its job at run time. */
  readonly runtime: JobRuntimeConfig;
}

export interface PlanEstimates {
  /** Bytes of the state machine definition (Step Functions' limit: 1,048,576). */
  readonly definitionBytes: number;
  /** History events of a run where every job succeeds first time, and where every job uses every attempt. */
  readonly historyEvents: { readonly expected: number; readonly worstCase: number };
  /** State transitions of a run where every job succeeds first time (the Standard workflow price unit). */
  readonly stateTransitions: number;
  /** CloudFormation resources of the pipeline's stack (limit: 500). */
  readonly stackResources: number;
  /** Sum of the attempt timeouts along the critical path, in seconds. */
  readonly criticalPathSeconds: number;
}

export interface PipelinePlan {
  readonly id: string;
  readonly description?: string;
  readonly version?: string;
  /** SHA-256 (first 16 hex digits) of the validated definition: changes whenever the definition does. */
  readonly definitionVersion: string;
  /** The definition file it came from. */
  readonly file: string;
  readonly schedules: readonly CompiledSchedule[];
  readonly jobs: readonly ResolvedJob[];
  readonly layers: readonly (readonly string[])[];
  readonly criticalPath: readonly string[];
  readonly estimates: PlanEstimates;
  readonly stateMachine: {
    readonly name: string;
    readonly definition: AslStateMachine;
    /** Placeholder key in the definition → whose function ARN goes there. */
    readonly substitutions: Readonly<Record<string, SubstitutionTarget>>;
  };
}

export interface Plan {
  readonly generatedAt: string;
  readonly pipelines: readonly PipelinePlan[];
}

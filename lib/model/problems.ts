/**
 * Problems are data: every rejected definition is described by one `Problem` with a stable code, the
 * pipeline and job it belongs to, the field path, a message and a hint. Validation collects them all
 * instead of stopping at the first (see `phi validate`).
 */
import { PhiError } from './errors.ts';

/** Stable problem codes. The prefix names the area, the number never changes meaning. */
export const ProblemCode = {
  /** A field does not match the definition schema (zod issue). */
  DEF_001_INVALID_FIELD: 'DEF_001_INVALID_FIELD',
  /** A job's `handler` file does not exist relative to its definition file. */
  DEF_002_HANDLER_NOT_FOUND: 'DEF_002_HANDLER_NOT_FOUND',
  /** A definition file could not be imported or has no default export. */
  DEF_003_LOAD_FAILED: 'DEF_003_LOAD_FAILED',
  /** Two definition files declare the same pipeline id. */
  DEF_004_DUPLICATE_PIPELINE: 'DEF_004_DUPLICATE_PIPELINE',
  /** Every job of the pipeline is disabled: a run would run nothing and still succeed. */
  DEF_005_NO_ENABLED_JOBS: 'DEF_005_NO_ENABLED_JOBS',
  /** A job's handler file lies outside the project of its definition (the directory holding its package.json). */
  DEF_006_HANDLER_OUTSIDE_PROJECT: 'DEF_006_HANDLER_OUTSIDE_PROJECT',
  /** A job's handler file does not load, or exports no `handler` function. */
  DEF_007_HANDLER_NOT_EXPORTED: 'DEF_007_HANDLER_NOT_EXPORTED',
  /**
   * `runParameters` cannot become a JSON Schema the deployment enforces as written: a transform, a
   * refinement, a custom or non-JSON type (date, bigint, …), a string format without a pattern.
   */
  DEF_008_RUN_PARAMETERS_UNREPRESENTABLE: 'DEF_008_RUN_PARAMETERS_UNREPRESENTABLE',
  /**
   * `runParameters` contradicts the rest of the definition: a pipeline or job parameter value it refuses,
   * a default that would always hide a pipeline or job parameter's value, or a schedule whose runs
   * (started with its `parameters`, or none) it refuses.
   */
  DEF_009_RUN_PARAMETERS_CONFLICT: 'DEF_009_RUN_PARAMETERS_CONFLICT',
  /** A job depends on a job id the pipeline does not declare. */
  DEP_001_MISSING_UPSTREAM: 'DEP_001_MISSING_UPSTREAM',
  /** The dependency graph has a cycle; `cyclePath` lists it, first job repeated at the end. */
  DEP_002_CYCLE_DETECTED: 'DEP_002_CYCLE_DETECTED',
  /** An enabled job depends on a disabled one, which never runs. */
  DEP_003_DISABLED_UPSTREAM: 'DEP_003_DISABLED_UPSTREAM',
  /** A dependency's condition does not parse, is missing on `DATA_READY`, or is given on another type. */
  DEP_004_INVALID_CONDITION: 'DEP_004_INVALID_CONDITION',
  /** A job lists the same upstream job twice. */
  DEP_005_DUPLICATE_DEPENDENCY: 'DEP_005_DUPLICATE_DEPENDENCY',
  /** `after` names a pipeline the deployment does not have. */
  DEP_006_UNKNOWN_PIPELINE: 'DEP_006_UNKNOWN_PIPELINE',
  /** `requires` names a dataset no pipeline of the deployment provides. */
  DEP_007_NO_PROVIDER: 'DEP_007_NO_PROVIDER',
  /** `requires` names a dataset two or more pipelines provide: which one it waits for is not decided. */
  DEP_008_AMBIGUOUS_PROVIDER: 'DEP_008_AMBIGUOUS_PROVIDER',
  /** Pipelines depend on each other (`after`, `requires`) in a cycle; `cyclePath` lists it, first pipeline repeated at the end. */
  DEP_009_PIPELINE_CYCLE: 'DEP_009_PIPELINE_CYCLE',
  /** One upstream pipeline is named twice (`after`, or `after` and `requires`) with different settings. */
  DEP_010_UPSTREAM_CONFLICT: 'DEP_010_UPSTREAM_CONFLICT',
  /** A cron expression is not valid Unix cron. */
  SCHED_001_INVALID_CRON: 'SCHED_001_INVALID_CRON',
  /** A timezone is not an IANA timezone name. */
  SCHED_002_INVALID_TIMEZONE: 'SCHED_002_INVALID_TIMEZONE',
  /** A valid schedule that EventBridge Scheduler cannot express exactly. */
  SCHED_003_UNSUPPORTED: 'SCHED_003_UNSUPPORTED',
  /** A pipeline's schedules cannot be deployed together: `schedule` and `schedules` both, or two schedules with the same id. */
  SCHED_004_SCHEDULE_CONFLICT: 'SCHED_004_SCHEDULE_CONFLICT',
  /** A schedule's `endDate` is not after its `startDate`, or a one-off `at` schedule has either (Scheduler ignores them there). */
  SCHED_005_INVALID_DATES: 'SCHED_005_INVALID_DATES',
  /** The compiled state machine definition exceeds Step Functions' 1 MB limit. */
  LIMIT_001_DEFINITION_SIZE: 'LIMIT_001_DEFINITION_SIZE',
  /** A run could exceed Step Functions' 25,000 execution history events. */
  LIMIT_002_HISTORY_EVENTS: 'LIMIT_002_HISTORY_EVENTS',
  /** The pipeline's stack would exceed CloudFormation's 500 resources. */
  LIMIT_003_STACK_RESOURCES: 'LIMIT_003_STACK_RESOURCES',
  /** A job's merged parameters are too large to keep in every attempt record. */
  LIMIT_004_JOB_CONFIG_SIZE: 'LIMIT_004_JOB_CONFIG_SIZE',
  /** A run would pass more than Step Functions' 256 KiB between states. */
  LIMIT_005_STATE_PAYLOAD: 'LIMIT_005_STATE_PAYLOAD',
  /** More jobs than a run can wait on at once (a Distributed Map's 10,000 child executions). */
  LIMIT_006_JOBS_PER_RUN: 'LIMIT_006_JOBS_PER_RUN',
  /** A run's record, with its per-job summary, could exceed DynamoDB's 400 KB item. */
  LIMIT_007_RUN_RECORD_SIZE: 'LIMIT_007_RUN_RECORD_SIZE',
  /** The deployment's run-parameter schemas, together, would not fit the environment of the functions that start runs (Lambda's 4 KB). */
  LIMIT_008_RUN_PARAMETERS_SIZE: 'LIMIT_008_RUN_PARAMETERS_SIZE',
  /** An execution window is not one: a time that is not `HH:MM`, an end equal to its start, an unknown or repeated day, no window at all, or no timezone to read it in. */
  RULE_001_INVALID_WINDOW: 'RULE_001_INVALID_WINDOW',
  /** A start rule Phi does not support (none since `outsideWindow: 'defer'` is; kept so the code never means something else). */
  RULE_002_UNSUPPORTED: 'RULE_002_UNSUPPORTED',
  /** `maxLatenessSeconds` below `toleranceSeconds`: a delivery would be skipped before it was even late. */
  RULE_003_INVALID_LATENESS: 'RULE_003_INVALID_LATENESS',
  /** `concurrency` contradicts itself (`maxActiveRuns` with `whenRunning: 'allow'`). */
  RULE_004_INVALID_CONCURRENCY: 'RULE_004_INVALID_CONCURRENCY',
  /** Catch-up on a pipeline without an enabled schedule, or on a rate schedule without a `startDate` (its past fire times are unknown). */
  RULE_005_INVALID_CATCHUP: 'RULE_005_INVALID_CATCHUP',
  /** An event trigger's `pattern` is not an EventBridge event pattern (leaves are arrays of values or of the documented matchers). */
  TRIG_001_INVALID_PATTERN: 'TRIG_001_INVALID_PATTERN',
  /**
   * Two triggers of a pipeline have the same id, `runParameters` declares the `event` parameter its
   * triggers set, or two message triggers of the deployment read the same queue.
   */
  TRIG_002_TRIGGER_CONFLICT: 'TRIG_002_TRIGGER_CONFLICT',
  /** A trigger option Phi does not support yet (`batchWindowSeconds`). */
  TRIG_003_UNSUPPORTED: 'TRIG_003_UNSUPPORTED',
  /**
   * A message trigger's options contradict what an SQS queue does: `debounceSeconds` (a queue keeps
   * every message until its run starts; dropping some is not its job), or `batchWindowSeconds` without
   * `batchSize` above 1 or above SQS's 300 seconds.
   */
  TRIG_004_INVALID_MESSAGE_TRIGGER: 'TRIG_004_INVALID_MESSAGE_TRIGGER',
} as const;
export type ProblemCode = (typeof ProblemCode)[keyof typeof ProblemCode];

export interface Problem {
  readonly code: ProblemCode;
  /** The pipeline id, when known (a file that fails to load has none). */
  readonly pipeline?: string;
  /** The job id, when the problem belongs to one job. */
  readonly job?: string;
  /** The definition file, when known. */
  readonly file?: string;
  /** Field path inside the pipeline definition, e.g. `jobs.build.retry.maxAttempts`. */
  readonly path: string;
  readonly message: string;
  readonly hint: string;
  /** For `DEP_002_CYCLE_DETECTED` (jobs) and `DEP_009_PIPELINE_CYCLE` (pipelines): the cycle, the first repeated at the end. */
  readonly cyclePath?: readonly string[];
}

/** Renders a zod-style path (`['jobs', 'a', 'dependsOn', 0]`) as `jobs.a.dependsOn[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Thrown where a caller needs an exception instead of a list (the CDK app, the CLI's plan). */
/** The problem list people read (`phi validate`, and `cdk synth` on definitions with problems). */
export function formatProblems(problems: readonly Problem[]): string {
  const lines = [`✗ ${problems.length} problem(s):`];
  for (const p of problems) {
    const where = [p.pipeline ?? p.file, p.job ? `job ${p.job}` : undefined].filter(Boolean).join(' / ');
    lines.push(`  ${p.code}  ${where}${p.path ? `  at ${p.path}` : ''}`);
    lines.push(`      ${p.message}`);
    if (p.cyclePath) lines.push(`      cycle: ${p.cyclePath.join(' → ')}`);
    lines.push(`      hint: ${p.hint}`);
  }
  return lines.join('\n');
}

export class PhiValidationError extends PhiError {
  constructor(readonly problems: readonly Problem[]) {
    super(
      'DEF_000_INVALID_DEFINITIONS',
      `${problems.length} problem(s) in the definitions:\n` +
        problems.map((p) => `  ${p.code} ${p.pipeline ?? p.file ?? ''} ${p.path}: ${p.message}`).join('\n'),
    );
  }
}

/** Names Phi gives deployed things: deterministic, so every part can find the others without references. */

/** The platform stack: table, dead letters, control API. */
export const PLATFORM_STACK = 'PhiPlatform';

/** A pipeline's stack. */
export const pipelineStackName = (pipelineId: string): string => `Phi-${pipelineId}`;

/** A pipeline's state machine: the control API derives its ARN from this. */
export const stateMachineName = (pipelineId: string): string => `phi-${pipelineId}`;

/**
 * A pipeline's job function (`key` as in the plan: `f0`, `f1`, …). The `_` cannot occur in a pipeline id,
 * so `jobFunctionName(p, '*')` matches this pipeline's functions and no other pipeline's.
 */
export const jobFunctionName = (pipelineId: string, key: string): string => `phi-${pipelineId}_${key}`;

/** A function's log group, as Lambda names it by default: the job functions' are found by it (`phi logs`). */
export const functionLogGroupName = (functionName: string): string => `/aws/lambda/${functionName}`;

/** A run's execution ARN: its state machine's ARN, as an execution, named by the run id. */
export const executionArnFor = (stateMachineArn: string, runId: string): string => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;

/**
 * A pipeline's trigger rule (EventBridge, 64 characters at most: a pipeline id of 40, a trigger id of
 * 19). The `_` cannot occur in a pipeline id, so `triggerRuleName(p, '*')` matches this pipeline's rules only.
 */
export const triggerRuleName = (pipelineId: string, triggerId: string): string => `phi-${pipelineId}_${triggerId}`;

/**
 * A webhook trigger's signing secret in Secrets Manager (`phi/<pipeline>/<trigger>`): the pipeline's
 * stack creates it under this name, and the platform's webhook function reads it (and is granted it) by
 * this name, so neither stack refers to the other.
 */
export const webhookSecretName = (pipelineId: string, triggerId: string): string => `phi/${pipelineId}/${triggerId}`;

/**
 * The queue Phi creates for a message trigger without a `queueArn` (SQS: 80 characters at most of
 * letters, digits, `-` and `_`; this is 64 at most), and its dead-letter queue (`…-dlq`). The `_` cannot
 * occur in a pipeline id, so no two pipelines' triggers share a name.
 */
export const messageQueueName = (pipelineId: string, triggerId: string): string => `phi-${pipelineId}_${triggerId}`;
export const messageDeadLetterQueueName = (pipelineId: string, triggerId: string): string => `${messageQueueName(pipelineId, triggerId)}-dlq`;

/**
 * The Lambda entry every job's function is built from. The bundler binds `phi-user-handler` to the
 * job's own handler file (see the pipeline construct), so one entry serves every job.
 */
import { handler as userHandler } from 'phi-user-handler';
import { ErrorCategory, ExecErrorCode, JobRuntimeConfigSchema, JobStatus, TaskPayloadSchema, type TaskResult } from '../../lib/model/contract/index.ts';
import { createLogger } from '../shared/log.ts';
import { recordStoreFromEnv } from '../shared/records/env.ts';
import { runTask } from './core.ts';

const config = JobRuntimeConfigSchema.parse(JSON.parse(process.env.PHI_JOB ?? '{}'));
const store = recordStoreFromEnv();
const log = createLogger({ component: 'task-runtime' });

export async function handler(event: unknown): Promise<TaskResult> {
  const payload = TaskPayloadSchema.safeParse(event);
  const problem = !payload.success ? payload.error.message : payload.data.jobId !== config.jobId ? `payload for job ${payload.data.jobId} reached job ${config.jobId}'s function` : undefined;
  if (problem !== undefined || !payload.success) {
    // A malformed or misrouted payload is a compiler/runtime mismatch: retrying cannot mend it.
    log.error('invalid task payload', { pipelineId: config.pipelineId, jobId: config.jobId, problem });
    return { status: JobStatus.FAILED, attempt: 1, error: { code: ExecErrorCode.TASK_FAILED, message: `invalid task payload: ${problem}`, category: ErrorCategory.PERMANENT } };
  }
  return runTask(config, payload.data, userHandler, { store, log });
}

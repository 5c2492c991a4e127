/** One error hierarchy: every error Phi throws is a `PhiError` with a stable code, its class's own name. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PhiTaskError } from '../../functions/runtime/core.ts';
import { JobError, PermanentError, TransientError } from '../../functions/runtime/index.ts';
import { IdempotencyConflictError, UnknownPipelineError } from '../../functions/control/trigger.ts';
import { RecordError } from '../../functions/shared/records/store.ts';
import { recordStoreFromEnv } from '../../functions/shared/records/env.ts';
import { ApiError, ClientError, ClientErrorCode } from '../../lib/client/errors.ts';
import { EmulatorError, EmulatorErrorCode } from '../../lib/local/emulator.ts';
import { ConfigurationError, PhiError } from '../../lib/model/errors.ts';
import { PhiValidationError, ProblemCode } from '../../lib/model/problems.ts';
import { ErrorCategory, RunStatus, TriggerType } from '../../lib/model/contract/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = { runId: 'k-1', pipelineId: 'p', status: RunStatus.PENDING, trigger: TriggerType.API, parameters: {}, queuedAt: '2026-01-01T00:00:00Z', transitions: [], idempotencyKey: 'key' };

describe('PhiError', () => {
  it.each([
    [new PhiValidationError([{ code: ProblemCode.DEP_001_MISSING_UPSTREAM, path: 'jobs.a.dependsOn[0]', message: 'm', hint: 'h' }]), 'PhiValidationError', 'DEF_000_INVALID_DEFINITIONS'],
    [new RecordError('REC_001_NOT_FOUND', 'run x has no record'), 'RecordError', 'REC_001_NOT_FOUND'],
    [new UnknownPipelineError('nope'), 'UnknownPipelineError', 'API_003_PIPELINE_NOT_FOUND'],
    [new IdempotencyConflictError(run), 'IdempotencyConflictError', 'API_005_IDEMPOTENCY_CONFLICT'],
    [new ApiError(404, 'API_004_RUN_NOT_FOUND', 'no run', {}), 'ApiError', 'API_004_RUN_NOT_FOUND'],
    [new ClientError(ClientErrorCode.WAIT_TIMEOUT, 'still running'), 'ClientError', 'CLI_002_WAIT_TIMEOUT'],
    [new EmulatorError(EmulatorErrorCode.START_FAILED, 'no'), 'EmulatorError', 'EMU_003_START_FAILED'],
    [new ConfigurationError('PHI_TABLE_NAME'), 'ConfigurationError', 'CFG_001_MISSING_SETTING'],
    [new PhiTaskError({ code: 'RATE_LIMITED', message: 'slow down', category: ErrorCategory.TRANSIENT }), 'PhiTaskError', 'RATE_LIMITED'],
    [new TransientError('RATE_LIMITED', 'slow down'), 'TransientError', 'RATE_LIMITED'],
    [new PermanentError('BAD_INPUT', 'no'), 'PermanentError', 'BAD_INPUT'],
    [new JobError('FEED_EMPTY', 'nothing yet'), 'JobError', 'FEED_EMPTY'],
  ])('%s is a PhiError named %s with code %s', (error, name, code) => {
    expect(error).toBeInstanceOf(PhiError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
  });

  it('is what a Lambda function throws when its environment lacks a setting, naming the variable', () => {
    expect(() => recordStoreFromEnv({})).toThrow(expect.objectContaining({ code: 'CFG_001_MISSING_SETTING', message: expect.stringContaining('PHI_TABLE_NAME') }));
  });

  it('is the only error class Phi defines or throws: no bare Error in lib/, infra/ or functions/', () => {
    const sources = (dir: string): string[] =>
      readdirSync(path.join(ROOT, dir)).flatMap((name) => {
        const rel = path.join(dir, name);
        return statSync(path.join(ROOT, rel)).isDirectory() ? sources(rel) : rel.endsWith('.ts') ? [rel] : [];
      });
    const offenders = ['lib', 'infra', 'functions'].flatMap(sources).filter((file) => file !== path.join('lib', 'model', 'errors.ts')).filter((file) => /new Error\(|extends Error\b/.test(readFileSync(path.join(ROOT, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

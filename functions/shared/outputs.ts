/**
 * Large outputs: a job's outputs over `MAX_INLINE_OUTPUTS_BYTES` are kept as an object of the platform's
 * outputs bucket (encrypted, TLS only, expiring with the records), and read back for its dependents.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { JobAttemptRecord } from '../../lib/model/contract/index.ts';
import { ConfigurationError } from '../../lib/model/errors.ts';

export type OutputsRef = NonNullable<JobAttemptRecord['outputsRef']>;

export interface OutputStore {
  /** Stores an attempt's outputs (their JSON) and answers where. */
  put(key: string, json: string): Promise<OutputsRef>;
  /** The JSON stored at `ref`. */
  get(ref: OutputsRef): Promise<string>;
}

/** The object key of an attempt's outputs. */
export const outputsKey = (record: Pick<JobAttemptRecord, 'pipelineId' | 'runId' | 'jobId' | 'attempt'>): string =>
  `outputs/${record.pipelineId}/${record.runId}/${record.jobId}/${record.attempt}.json`;

/** The outputs bucket of the deployment (`PHI_OUTPUTS_BUCKET`). */
export function outputStoreFromEnv(env: NodeJS.ProcessEnv = process.env): OutputStore {
  const bucket = env.PHI_OUTPUTS_BUCKET;
  if (!bucket) throw new ConfigurationError('PHI_OUTPUTS_BUCKET');
  // Path-style addressing works against AWS and every emulator alike.
  const s3 = new S3Client({ forcePathStyle: true });
  return {
    put: async (key, json) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: json, ContentType: 'application/json' }));
      return { bucket, key, bytes: Buffer.byteLength(json) };
    },
    get: async (ref) => {
      const out = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    },
  };
}

/** The record store of a Lambda function, from the environment the constructs give it. */
import { ConfigurationError } from '../../../lib/model/errors.ts';
import { RecordStore } from './store.ts';

/** Days records are kept when `PHI_RETENTION_DAYS` is not set: the platform construct's default. */
const DEFAULT_RETENTION_DAYS = 90;

export function recordStoreFromEnv(env: NodeJS.ProcessEnv = process.env): RecordStore {
  const tableName = env.PHI_TABLE_NAME;
  if (!tableName) throw new ConfigurationError('PHI_TABLE_NAME');
  return new RecordStore({ tableName, retentionDays: Number(env.PHI_RETENTION_DAYS ?? DEFAULT_RETENTION_DAYS) });
}

/**
 * The wire contract between the compiled state machine, the Lambda functions and the records: what a
 * state machine passes to a job and to the recorder, what a job answers, what is stored in DynamoDB,
 * what the dead-letter queue and the control API carry. The plan compiler writes ASL that produces
 * these shapes; `functions/` parses them with these schemas at every boundary. Pure: schemas and
 * constants only, one file per boundary.
 */
export * from './status.ts';
export * from './task.ts';
export * from './job-list.ts';
export * from './recorder.ts';
export * from './records.ts';
export * from './dead-letter.ts';
export * from './api.ts';
export * from './storage.ts';
export * from './start.ts';
export * from './run-events.ts';
export * from './metrics.ts';
export * from './audit.ts';
export * from './definition.ts';
export * from './health.ts';
export * from './webhook.ts';

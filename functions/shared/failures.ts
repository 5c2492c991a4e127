/**
 * What a caught failure says: Step Functions hands on `{ Error, Cause }`, where a Lambda error's Cause
 * is `{"errorType","errorMessage",...}` and the task runtime's own errors carry their `ErrorInfo` as the
 * message. Read the same whatever name the error reached Step Functions under (an emulator may report
 * every Node.js error as `Runtime.HandlerError`).
 */
import { ErrorCategory, ErrorInfoSchema, ExecErrorCode, type CaughtError, type ErrorInfo } from '../../lib/model/contract/index.ts';

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Errors outside the handler (a timeout, a crash, a Lambda service error) are transient: they are retried. */
export function errorFromCaught(caught: CaughtError): ErrorInfo {
  const { Error: name, Cause: cause = '' } = caught;
  const lambdaError = tryJson(cause) as { errorMessage?: unknown } | undefined;
  const info = ErrorInfoSchema.safeParse(tryJson(typeof lambdaError?.errorMessage === 'string' ? lambdaError.errorMessage : ''));
  if (info.success) return info.data;
  if (name === 'States.Timeout' || name === 'Sandbox.Timedout' || (typeof lambdaError?.errorMessage === 'string' && /Task timed out/.test(lambdaError.errorMessage))) {
    return { code: ExecErrorCode.TIMEOUT, message: `the attempt timed out (${name})`, category: ErrorCategory.TRANSIENT };
  }
  const message = typeof lambdaError?.errorMessage === 'string' ? lambdaError.errorMessage : cause;
  return { code: ExecErrorCode.TASK_FAILED, message: `${name}: ${message}`.slice(0, 2000), category: ErrorCategory.TRANSIENT };
}

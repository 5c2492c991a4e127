/**
 * One error hierarchy for everything Phi throws: a `PhiError` carries a stable `code` (the same kind of
 * code a `Problem` carries), so a caller can branch on the code and a person can look it up. Each area
 * (load, plan, records, trigger, client, CLI, emulator, task runtime) throws a subclass that names
 * itself and keeps its domain data (the problems, the existing run, the HTTP status).
 */
export class PhiError extends Error {
  constructor(
    /** Stable: the prefix names the area, the number never changes meaning. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A Lambda function or a tool started without an environment variable it needs. */
export class ConfigurationError extends PhiError {
  constructor(variable: string, hint = 'the CDK constructs set it; set it yourself when running the code outside them') {
    super('CFG_001_MISSING_SETTING', `${variable} is not set: ${hint}`);
  }
}

/** What a caught value says, for a log line or a record: `Name: message` for an error, its text otherwise. */
export const describeError = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

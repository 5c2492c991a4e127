/** What a client of a deployment throws. */
import { IssuesBodySchema, type ApiIssue } from '../model/contract/index.ts';
import { PhiError } from '../model/errors.ts';

export const ClientErrorCode = {
  /** The platform stack is not deployed where the credentials and region point. */
  NOT_DEPLOYED: 'CLI_001_NOT_DEPLOYED',
  /** A run was still not terminal when the wait ran out. */
  WAIT_TIMEOUT: 'CLI_002_WAIT_TIMEOUT',
  /** A dead letter that was waited for did not arrive. */
  NO_DEAD_LETTER: 'CLI_003_NO_DEAD_LETTER',
  /** The API answered an error without Phi's error body (API Gateway's own refusals). */
  HTTP_ERROR: 'CLI_004_HTTP_ERROR',
} as const;

export class ClientError extends PhiError {}

/** The control API answered an error: its HTTP status, its stable code and the whole body. */
export class ApiError extends PhiError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(code, `${status} ${code}: ${message}`);
  }

  /** What a 400 lists as wrong (`API_002_INVALID_REQUEST`, `API_011_INVALID_PARAMETERS`): where, and why; none for other answers. */
  get issues(): readonly ApiIssue[] {
    const parsed = IssuesBodySchema.safeParse(this.body);
    return parsed.success ? parsed.data.error.issues : [];
  }
}

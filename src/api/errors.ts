/** API errors: one JSON shape, `{"error":{"code","message","details"}}`, with the fitting HTTP status. */
import { isGarrisonError } from '../errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const NOT_FOUND = /_not_found$|^noproc$/;
/** The request is valid but the thing it names is not in a state that allows it. */
const CONFLICT = new Set([
  'agent_exists',
  'agent_running',
  'agent_running_elsewhere',
  'agent_paused',
  'invalid_state',
  'workflow_conflict',
  'workflow_finished',
  'workflow_invalid_state',
  'task_cancelled',
  'lease_lost',
]);
/** Values that pass the schema but name nothing this node knows. */
const UNPROCESSABLE = new Set(['invalid_input', 'missing_field', 'workflow_unknown']);
const UNAVAILABLE = new Set(['store_busy', 'store_unavailable', 'store_closed', 'engine_stopped']);
const retryLater = { 'retry-after': '1' };

/** The HTTP status and body for any error; internal details of unknown errors are not leaked. */
export function toHttpError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isGarrisonError(error)) {
    const code = error.code;
    if (UNPROCESSABLE.has(code) || code.startsWith('invalid_'))
      return new ApiError(422, code, error.message, error.details);
    if (NOT_FOUND.test(code)) return new ApiError(404, code, error.message, error.details);
    if (CONFLICT.has(code)) return new ApiError(409, code, error.message, error.details);
    if (code === 'resource_exhausted' || code === 'queue_full')
      return new ApiError(429, code, error.message, error.details, retryLater);
    if (UNAVAILABLE.has(code) || error.retryable)
      return new ApiError(503, code, error.message, error.details, retryLater);
    return new ApiError(500, code, error.message, error.details);
  }
  return new ApiError(500, 'internal_error', 'the server failed to handle the request');
}

export function errorBody(e: ApiError): string {
  return JSON.stringify({
    error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) },
  });
}

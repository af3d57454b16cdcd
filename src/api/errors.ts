/** API errors: one JSON shape, `{"error":{"code","message","details"}}`, with the fitting HTTP status. */
import { isGarrisonError } from '../errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const NOT_FOUND = /_not_found$|^noproc$/;
const CONFLICT = new Set([
  'agent_exists',
  'agent_running',
  'agent_running_elsewhere',
  'invalid_state',
  'workflow_conflict',
  'task_cancelled',
  'lease_lost',
  'agent_paused',
]);
const UNAVAILABLE = new Set([
  'store_busy',
  'store_unavailable',
  'store_closed',
  'engine_stopped',
  'queue_full',
]);

/** The HTTP status and body for any error; internal details of unknown errors are not leaked. */
export function toHttpError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isGarrisonError(error)) {
    const code = error.code;
    if (code === 'invalid_input' || code.startsWith('invalid_') || code === 'missing_field')
      return new ApiError(422, code, error.message, error.details);
    if (NOT_FOUND.test(code)) return new ApiError(404, code, error.message, error.details);
    if (CONFLICT.has(code)) return new ApiError(409, code, error.message, error.details);
    if (code === 'resource_exhausted' || code === 'queue_full')
      return new ApiError(429, code, error.message, error.details, { 'retry-after': '1' });
    if (UNAVAILABLE.has(code) || error.retryable)
      return new ApiError(503, code, error.message, error.details, { 'retry-after': '1' });
    return new ApiError(500, code, error.message, error.details);
  }
  return new ApiError(500, 'internal_error', 'the server failed to handle the request');
}

export function errorBody(e: ApiError): string {
  return JSON.stringify({
    error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) },
  });
}

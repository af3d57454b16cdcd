/**
 * API errors: one JSON shape, `{"error":{"code","message","details"}}`, with the fitting HTTP status. A
 * failure the API cannot name (500) says nothing of itself: its body is `internal_error` with a request
 * id, and the detail (which may hold paths, SQL or engine codes) goes only to the log under that id.
 * A store the client may retry on (503) is said in the same way: its code, a generic message and a
 * request id; the store's own message goes to the log.
 */
import { isGarrisonError } from '../errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
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
  // Capability-wide rounds (POST /v1/coordination/consensus, /barriers).
  'no_participants',
  'not_a_participant',
  'not_a_voter',
  'duplicate_vote',
  'proposal_closed',
  'proposal_exists',
  'barrier_full',
  'barrier_exists',
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
    if (code === 'resource_exhausted' || code === 'queue_full' || code === 'signal_limit')
      return new ApiError(429, code, error.message, error.details, retryLater);
    if (UNAVAILABLE.has(code) || error.retryable) return unavailableError(code, error);
  }
  return internalError(error);
}

/** A failure with nothing the client may see: the error is kept as `cause`, for the log only. */
export const internalError = (cause: unknown): ApiError =>
  new ApiError(500, 'internal_error', 'internal error', undefined, {}, cause);

/** Errors whose detail is for the log only (their body carries a request id instead). */
const concealed = new WeakSet<ApiError>();

/** Whether `e`'s cause is logged under a request id rather than shown. */
export const isConcealed = (e: ApiError): boolean => e.status === 500 || concealed.has(e);

/**
 * A 503 the client may retry, with a generic message: `cause` (the store's error, whose message may
 * hold paths) is kept for the log only; `details` are the caller's own, safe to show.
 */
export function unavailableError(
  code: string,
  cause: unknown,
  message = 'temporarily unavailable; retry later',
  details?: unknown,
): ApiError {
  const e = new ApiError(503, code, message, details, retryLater, cause);
  concealed.add(e);
  return e;
}

export function errorBody(e: ApiError, requestId?: string): string {
  if (requestId !== undefined && e.status !== 500)
    return JSON.stringify({
      error: {
        code: e.code,
        message: e.message,
        ...(e.details === undefined ? {} : { details: e.details }),
        requestId,
      },
    });
  if (e.status === 500) return JSON.stringify({ error: { code: e.code, message: e.message, requestId } });
  return JSON.stringify({
    error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) },
  });
}

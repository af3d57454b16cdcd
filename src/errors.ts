/**
 * The base of every error Garrison returns at a boundary. Each has a stable `code` (a discriminant that
 * callers switch on), a `retryable` flag, and keeps its `cause`.
 */
export class GarrisonError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** True when `e` is a Garrison error, optionally of the given code. */
export function isGarrisonError(e: unknown, code?: string): e is GarrisonError {
  return e instanceof GarrisonError && (code === undefined || e.code === code);
}

/** Input that failed validation at a boundary; nothing was written. */
export class ValidationError extends GarrisonError {
  constructor(message: string, details?: Record<string, unknown>, cause?: unknown) {
    super('invalid_input', message, { details, cause });
  }
}

/**
 * An error that another attempt cannot fix (bad data, a refused request): thrown by an action or a step,
 * it is never retried, whatever attempts remain. Any other error thrown by an agent's action is retried
 * by its queue while attempts remain. `code` defaults to `permanent_error`.
 */
export class PermanentError extends GarrisonError {
  constructor(
    message: string,
    options: { code?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(options.code ?? 'permanent_error', message, { ...options, retryable: false });
  }
}

/** True when `e` is a `PermanentError` (never retried). */
export function isPermanentError(e: unknown): e is PermanentError {
  return e instanceof PermanentError;
}

/** Turns a zod issue list into one readable line: "path.to.field: message; other: message". */
export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * Marks of the classes whose instances cross from an application's code into the engine (errors thrown
 * by actions and steps). Two copies of the package can meet in one process — a globally installed CLI
 * running an app that imports its own — and a plain `instanceof` would then take a `PermanentError` of
 * the app's copy for a foreign error (retried, or crashing the agent that ran it).
 */
const GARRISON_ERROR = Symbol.for('garrison.error');
const PERMANENT_ERROR = Symbol.for('garrison.permanent_error');

function marked(value: unknown, mark: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[mark] === true;
}

/** `instanceof` for `cls` by its mark, so that it holds across copies; plain for its subclasses. */
export function markedInstance(cls: object, self: object, mark: symbol, value: unknown): boolean {
  return self === cls ? marked(value, mark) : Function.prototype[Symbol.hasInstance].call(self, value);
}

/**
 * The base of every error Garrison returns at a boundary. Each has a stable `code` (a discriminant that
 * callers switch on), a `retryable` flag, and keeps its `cause`.
 */
export class GarrisonError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return markedInstance(GarrisonError, this, GARRISON_ERROR, value);
  }

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
    Object.defineProperty(this, GARRISON_ERROR, { value: true });
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
  static override [Symbol.hasInstance](value: unknown): boolean {
    return markedInstance(PermanentError, this, PERMANENT_ERROR, value);
  }

  constructor(
    message: string,
    options: { code?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(options.code ?? 'permanent_error', message, { ...options, retryable: false });
    Object.defineProperty(this, PERMANENT_ERROR, { value: true });
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

/**
 * The typed errors of the resilience primitives. Each has a stable `code`; `retryable` says whether trying
 * the same thing again later can succeed.
 */
import { GarrisonError } from '../errors.js';
import { describeError, type CircuitOpenReason } from '../telemetry/index.js';

/** Error codes raised by breakers, retries and rate limiters. */
export const ResilienceErrorCode = {
  /** The breaker is open (or its half-open probes are all taken): the call was not made. Retryable. */
  circuitOpen: 'circuit_open',
  /** The call ran longer than the breaker's `callTimeoutMs`; it counted as a failure. Retryable. */
  breakerTimeout: 'breaker_timeout',
  /** The error was marked permanent by wrapping it in `PermanentError`; it is never retried. */
  permanent: 'permanent_failure',
  /** The caller's signal aborted the retry loop (during a wait or before an attempt). */
  retryAborted: 'retry_aborted',
  /** The retry budget allowed no more retries in its window; the last error is the `cause`. */
  retryBudgetExhausted: 'retry_budget_exhausted',
} as const;
export type ResilienceErrorCode = (typeof ResilienceErrorCode)[keyof typeof ResilienceErrorCode];

/** The breaker refused the call without running it. */
export class CircuitOpenError extends GarrisonError {
  declare readonly code: 'circuit_open';
  /** The breaker's service name. */
  readonly service: string;
  /** `open`: the breaker is open; `probe_limit`: it is half-open and every probe slot is taken. */
  readonly reason: CircuitOpenReason;
  /** How long until the breaker lets a probe through, in ms (0 when unknown, e.g. a probe is running). */
  readonly retryAfterMs: number;

  constructor(service: string, reason: CircuitOpenReason, retryAfterMs: number) {
    super(
      ResilienceErrorCode.circuitOpen,
      reason === 'open'
        ? `the circuit breaker for ${service} is open; calls are refused for another ${retryAfterMs} ms`
        : `the circuit breaker for ${service} is half-open and all its probe slots are in use`,
      { retryable: true, details: { service, reason, retryAfterMs } },
    );
    this.service = service;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The call outlived the breaker's call timeout. The call's AbortSignal was aborted with this error. */
export class BreakerTimeoutError extends GarrisonError {
  declare readonly code: 'breaker_timeout';
  readonly service: string;
  /** The timeout that elapsed, in ms. */
  readonly timeoutMs: number;

  constructor(service: string, timeoutMs: number) {
    super(
      ResilienceErrorCode.breakerTimeout,
      `the call to ${service} did not finish within ${timeoutMs} ms`,
      {
        retryable: true,
        details: { service, timeoutMs },
      },
    );
    this.service = service;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Marks an error as permanent: `retry` never retries it and rethrows this wrapper (the original error is
 * its `cause`). Keeping the wrapper means an enclosing retry loop does not retry it either.
 */
export class PermanentError extends GarrisonError {
  declare readonly code: 'permanent_failure';
  constructor(cause: unknown, message?: string) {
    super(ResilienceErrorCode.permanent, message ?? `permanent failure: ${describeError(cause)}`, {
      cause,
      retryable: false,
    });
  }
}

/** The retry loop was aborted by the caller's signal. `cause` is the last attempt's error, if any. */
export class RetryAbortedError extends GarrisonError {
  declare readonly code: 'retry_aborted';
  /** Attempts made before the abort. */
  readonly attempts: number;
  /** The signal's reason. */
  readonly reason: unknown;

  constructor(operation: string, attempts: number, reason: unknown, lastError: unknown) {
    super(ResilienceErrorCode.retryAborted, `${operation} was aborted after ${attempts} attempt(s)`, {
      cause: lastError ?? reason,
      retryable: false,
      details: { operation, attempts },
    });
    this.attempts = attempts;
    this.reason = reason;
  }
}

/** The retry budget denied a retry; the last attempt's error is the `cause`. */
export class RetryBudgetExhaustedError extends GarrisonError {
  declare readonly code: 'retry_budget_exhausted';
  readonly attempts: number;

  constructor(operation: string, budget: string, attempts: number, lastError: unknown) {
    super(
      ResilienceErrorCode.retryBudgetExhausted,
      `${operation} was not retried: the retry budget ${budget} is exhausted (after ${attempts} attempt(s): ` +
        `${describeError(lastError)})`,
      { cause: lastError, retryable: true, details: { operation, budget, attempts } },
    );
    this.attempts = attempts;
  }
}

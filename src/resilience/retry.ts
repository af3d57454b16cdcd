/**
 * The retry loop: calls `fn`, and after a retryable failure waits (through the injected clock) as the
 * policy says and calls again, until it succeeds, the policy's attempts run out, the error is permanent,
 * the budget says no, or the caller aborts.
 */
import { isGarrisonError } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { CircuitOpenError, PermanentError, RetryAbortedError, RetryBudgetExhaustedError } from './errors.js';
import {
  describeError,
  emitTo,
  errorCode,
  type EventSink,
  type ResilienceEvents,
  type RetryGiveUpReason,
} from '../telemetry/index.js';
import type { RetryBudget } from './retry-budget.js';
import type { RetryPolicy } from './retry-policies.js';
import { sleep } from './sleep.js';

/** What a retry loop does when a call is refused by an open circuit breaker. */
export type CircuitOpenHandling = 'fail' | 'wait';

export interface RetryOptions {
  /** Time source for the waits. Default the system clock. */
  readonly clock?: Clock;
  /** Aborts the loop: an ongoing wait ends at once and the loop rejects with `retry_aborted`. */
  readonly signal?: AbortSignal;
  /** A shared retry budget; when it denies a retry the loop rejects with `retry_budget_exhausted`. */
  readonly budget?: RetryBudget;
  /** A name for events. Default `retry`. */
  readonly operation?: string;
  /** Where `retry.scheduled` and `retry.gave_up` go. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
  /**
   * `circuit_open` rejections from a breaker inside the loop. `fail` (default): give up at once with the
   * `circuit_open` error — the breaker already knows the service is down, retrying only adds noise.
   * `wait`: count it as an attempt and wait for the later of the policy's delay and the breaker's
   * `retryAfterMs`, then try again (the attempt limit still applies).
   */
  readonly onCircuitOpen?: CircuitOpenHandling;
}

/** What `fn` is told about the attempt it runs. */
export interface AttemptContext {
  /** 1 for the first call, 2 for the first retry, … */
  readonly attempt: number;
  /** The caller's signal (never aborted when the caller gave none). */
  readonly signal: AbortSignal;
}

/**
 * Whether an error is worth retrying by default: not a `PermanentError`; a `GarrisonError` only when it
 * says `retryable: true`; any other thrown value yes (it carries no verdict of its own).
 */
export function isRetryableError(error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  if (isGarrisonError(error)) return error.retryable;
  return true;
}

const neverAborted = new AbortController().signal;

/**
 * Runs `fn` under `policy`. Resolves with the first success. Otherwise rejects with the last attempt's
 * error as thrown (a `PermanentError` stays wrapped), with `retry_budget_exhausted` when the budget denied
 * a retry, or with `retry_aborted` when `signal` aborted.
 */
export async function retry<T>(
  fn: (context: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const signal = options.signal ?? neverAborted;
  const operation = options.operation ?? 'retry';
  const isRetryable = policy.isRetryable ?? isRetryableError;
  const giveUp = (attempts: number, reason: RetryGiveUpReason, error: unknown) => {
    emitTo(options.events, 'retry.gave_up', {
      operation,
      attempts,
      reason,
      errorCode: errorCode(error),
      error: describeError(error),
    });
  };
  options.budget?.recordCall();
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) {
      giveUp(attempt - 1, 'aborted', signal.reason);
      throw new RetryAbortedError(operation, attempt - 1, signal.reason, lastError);
    }
    try {
      return await fn({ attempt, signal });
    } catch (error) {
      lastError = error;
    }
    const error = lastError;
    const circuitOpen = error instanceof CircuitOpenError;
    if (circuitOpen && options.onCircuitOpen !== 'wait') {
      giveUp(attempt, 'circuit_open', error);
      throw error;
    }
    if (error instanceof PermanentError || (!circuitOpen && !isRetryable(error))) {
      giveUp(attempt, 'not_retryable', error);
      throw error;
    }
    if (attempt >= policy.maxAttempts) {
      giveUp(attempt, 'exhausted', error);
      throw error;
    }
    if (options.budget !== undefined && !options.budget.tryRetry()) {
      giveUp(attempt, 'budget_exhausted', error);
      throw new RetryBudgetExhaustedError(operation, options.budget.name, attempt, error);
    }
    let delayMs = Math.max(0, policy.delayMs(attempt, error));
    if (circuitOpen) delayMs = Math.max(delayMs, error.retryAfterMs);
    emitTo(options.events, 'retry.scheduled', {
      operation,
      attempt,
      delayMs,
      errorCode: errorCode(error),
      error: describeError(error),
    });
    await sleep(clock, delayMs, signal, (reason) => {
      giveUp(attempt, 'aborted', reason);
      return new RetryAbortedError(operation, attempt, reason, error);
    });
  }
}

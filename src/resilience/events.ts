/**
 * The events the resilience primitives emit, and the sink they emit them to. The telemetry layer's bus is
 * such a sink (it sits above this layer, so this layer only names the shape it needs).
 */
import type { BreakerState, BreakerTransitionReason } from './breaker-state.js';
import type { CircuitOpenReason } from './errors.js';

/** Why a retry loop stopped without a result. */
export type RetryGiveUpReason =
  'exhausted' | 'not_retryable' | 'circuit_open' | 'budget_exhausted' | 'aborted';

/** Why a cache entry left the cache other than by `delete`/`clear`. */
export type CacheEvictionReason = 'capacity' | 'expired';

/** Why a cache lookup missed. */
export type CacheMissReason = 'absent' | 'expired';

/** Event name → payload for everything in `src/resilience`. Times are UNIX epoch ms. */
export interface ResilienceEvents {
  /** A breaker changed state. */
  'breaker.transition': {
    readonly service: string;
    readonly from: BreakerState;
    readonly to: BreakerState;
    readonly reason: BreakerTransitionReason;
    /** Consecutive failures counted when the breaker opened (0 otherwise). */
    readonly failures: number;
    readonly at: number;
  };
  /** A breaker refused a call without running it. */
  'breaker.rejected': {
    readonly service: string;
    readonly reason: CircuitOpenReason;
    readonly retryAfterMs: number;
  };
  /** A call outlived its breaker's call timeout. */
  'breaker.timeout': { readonly service: string; readonly timeoutMs: number };
  /** A rate limiter refused an acquire. */
  'ratelimit.denied': {
    readonly limiter: string;
    readonly key: string;
    /** Tokens asked for. */
    readonly requested: number;
    /** Whole tokens left in the bucket. */
    readonly remaining: number;
    /** Wait until enough tokens for this request have refilled, in ms. */
    readonly retryAfterMs: number;
  };
  /** An attempt failed and another is scheduled after `delayMs`. */
  'retry.scheduled': {
    readonly operation: string;
    /** The attempt that failed (1 = the first call). */
    readonly attempt: number;
    readonly delayMs: number;
    readonly errorCode: string | undefined;
    readonly error: string;
  };
  /** A retry loop stopped without a result. */
  'retry.gave_up': {
    readonly operation: string;
    readonly attempts: number;
    readonly reason: RetryGiveUpReason;
    readonly errorCode: string | undefined;
    readonly error: string;
  };
  /** A retry budget went from healthy to exhausted (emitted once per exhaustion, not per denial). */
  'retry.budget_exhausted': {
    readonly budget: string;
    readonly calls: number;
    readonly retries: number;
    readonly allowedRetries: number;
  };
  'cache.hit': { readonly cache: string; readonly key: string };
  'cache.miss': { readonly cache: string; readonly key: string; readonly reason: CacheMissReason };
  'cache.evict': { readonly cache: string; readonly key: string; readonly reason: CacheEvictionReason };
}

/**
 * Where events go. `emit` must not throw (the telemetry bus never does); if it does, the error is reported
 * as a process warning and the primitive carries on.
 */
export interface EventSink<M extends object> {
  // Method syntax on purpose: a bus over a larger event map is then accepted as a sink of a smaller one.
  emit<K extends keyof M & string>(name: K, payload: M[K]): void;
}

/** Emits through `sink` when one is set, never letting a faulty sink break the caller. */
export function emitTo<M extends object, K extends keyof M & string>(
  sink: EventSink<M> | undefined,
  name: K,
  payload: M[K],
): void {
  if (sink === undefined) return;
  try {
    sink.emit(name, payload);
  } catch (error) {
    // A primitive must keep working when its observer is broken; the failure is still made visible.
    process.emitWarning(`an event sink threw while handling ${name}: ${String(error)}`, {
      type: 'GarrisonEventSinkWarning',
      detail: error instanceof Error ? error.stack : undefined,
    });
  }
}

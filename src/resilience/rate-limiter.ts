/**
 * An in-memory token bucket per key. Every decision is synchronous and complete before it returns, so
 * concurrent callers in one process can never be granted more than the bucket holds.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { emitTo, type EventSink, type ResilienceEvents } from '../telemetry/index.js';
import {
  assertKey,
  assertRequest,
  bucketSettingsSchema,
  fullAt,
  refilled,
  TOKEN_EPSILON,
  waitFor,
  wholeTokens,
  type BucketStatus,
  type RateDecision,
  type TokenBucketSettings,
} from './token-bucket.js';
import { parseOptions } from './validate.js';

export interface RateLimiterOptions extends TokenBucketSettings {
  /** A name for events and stats. Default `rate_limiter`. */
  readonly name?: string;
  /** Time source. Default the system clock. */
  readonly clock?: Clock;
  /** Where `ratelimit.denied` events go. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

export interface RateLimiterStats {
  readonly name: string;
  /** Buckets currently held (for the store-backed limiter: rows in the store under this name). */
  readonly keys: number;
  /** Acquires granted since creation (store-backed: by this instance). */
  readonly allowed: number;
  /** Acquires refused since creation (store-backed: by this instance). */
  readonly denied: number;
}

/** What both limiters offer; the in-memory one answers synchronously, the store-backed one asynchronously. */
export interface RateLimiter {
  readonly name: string;
  /** Takes `n` tokens (default 1) from `key`'s bucket when it holds them. */
  tryAcquire(key: string, n?: number): RateDecision;
  status(key: string): BucketStatus;
  stats(): RateLimiterStats;
  /**
   * Removes buckets idle for at least `olderThanMs` that have refilled completely — dropping a full bucket
   * changes no future decision, so cleanup never grants extra tokens. Returns how many were removed.
   */
  cleanup(olderThanMs: number): number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const optionsSchema = bucketSettingsSchema.extend({ name: z.string().min(1).default('rate_limiter') });

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const parsed = parseOptions(optionsSchema, options, 'rate limiter options');
  const settings: TokenBucketSettings = parsed;
  const name = parsed.name;
  const clock = options.clock ?? systemClock;
  const events = options.events;
  const buckets = new Map<string, Bucket>();
  let allowed = 0;
  let denied = 0;

  const current = (key: string, now: number): number => {
    const bucket = buckets.get(key);
    return bucket === undefined
      ? settings.capacity
      : refilled(settings, bucket.tokens, bucket.updatedAt, now);
  };

  return {
    name,
    tryAcquire(key, n = 1) {
      assertKey(name, key);
      assertRequest(settings, name, n);
      const now = clock.now();
      const tokens = current(key, now);
      if (tokens + TOKEN_EPSILON >= n) {
        const left = tokens - n;
        buckets.set(key, { tokens: left, updatedAt: now });
        allowed++;
        return {
          allowed: true,
          remaining: wholeTokens(left),
          resetAtMs: fullAt(settings, left, now),
          retryAfterMs: 0,
        };
      }
      buckets.set(key, { tokens, updatedAt: now });
      denied++;
      const decision = {
        allowed: false,
        remaining: wholeTokens(tokens),
        resetAtMs: fullAt(settings, tokens, now),
        retryAfterMs: waitFor(settings, tokens, n),
      };
      emitTo(events, 'ratelimit.denied', {
        limiter: name,
        key,
        requested: n,
        remaining: decision.remaining,
        retryAfterMs: decision.retryAfterMs,
      });
      return decision;
    },
    status(key) {
      assertKey(name, key);
      const now = clock.now();
      const tokens = current(key, now);
      return {
        key,
        remaining: wholeTokens(tokens),
        capacity: settings.capacity,
        resetAtMs: fullAt(settings, tokens, now),
      };
    },
    stats() {
      return { name, keys: buckets.size, allowed, denied };
    },
    cleanup(olderThanMs) {
      if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
        throw new ValidationError(`rate limiter ${name}: olderThanMs must be a non-negative number of ms`);
      }
      const now = clock.now();
      let removed = 0;
      for (const [key, bucket] of buckets) {
        const idle = now - bucket.updatedAt >= olderThanMs;
        if (
          idle &&
          refilled(settings, bucket.tokens, bucket.updatedAt, now) + TOKEN_EPSILON >= settings.capacity
        ) {
          buckets.delete(key);
          removed++;
        }
      }
      return removed;
    },
  };
}

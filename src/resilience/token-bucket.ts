/**
 * Token bucket arithmetic, shared by the in-memory and the store-backed limiter so both decide exactly
 * alike. A bucket holds up to `capacity` tokens and gains `refillPerSecond` tokens per second; an acquire
 * of n tokens succeeds when n are there and takes them.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';

export interface TokenBucketSettings {
  /** Most tokens a bucket holds (the largest burst). A new bucket starts full. */
  readonly capacity: number;
  /** Tokens added per second, continuously. */
  readonly refillPerSecond: number;
}

/** The answer to an acquire. Times are UNIX epoch ms. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Whole tokens left after this acquire. */
  readonly remaining: number;
  /** When the bucket will be full again if nothing else is taken. */
  readonly resetAtMs: number;
  /** How long until a request of the same size could succeed, in ms (0 when allowed). */
  readonly retryAfterMs: number;
}

/** A bucket's state without taking anything. Times are UNIX epoch ms. */
export interface BucketStatus {
  readonly key: string;
  /** Whole tokens available now. */
  readonly remaining: number;
  readonly capacity: number;
  /** When the bucket will be full. Equal to now when it is full. */
  readonly resetAtMs: number;
}

export const bucketSettingsSchema = z.object({
  capacity: z.number().int().min(1),
  refillPerSecond: z.number().positive().finite(),
});

// Floating-point refill can leave 0.9999999 where 1 is meant; this much is treated as a whole token.
export const TOKEN_EPSILON = 1e-9;

/** Tokens in a bucket that held `tokens` at `updatedAt`, as of `now` (never more than capacity). */
export function refilled(
  settings: TokenBucketSettings,
  tokens: number,
  updatedAt: number,
  now: number,
): number {
  const elapsed = Math.max(0, now - updatedAt);
  return Math.min(settings.capacity, tokens + (elapsed * settings.refillPerSecond) / 1000);
}

export function wholeTokens(tokens: number): number {
  return Math.max(0, Math.floor(tokens + TOKEN_EPSILON));
}

/** When a bucket holding `tokens` at `now` will be full. */
export function fullAt(settings: TokenBucketSettings, tokens: number, now: number): number {
  const missing = settings.capacity - tokens;
  if (missing <= TOKEN_EPSILON) return now;
  return now + Math.ceil((missing * 1000) / settings.refillPerSecond);
}

/** How long until a bucket holding `tokens` has `n`, in ms. */
export function waitFor(settings: TokenBucketSettings, tokens: number, n: number): number {
  const missing = n - tokens;
  if (missing <= TOKEN_EPSILON) return 0;
  return Math.ceil((missing * 1000) / settings.refillPerSecond);
}

/** Rejects a token count that is not a positive integer or can never fit in the bucket. */
export function assertRequest(settings: TokenBucketSettings, limiter: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ValidationError(
      `rate limiter ${limiter}: tokens requested must be a positive integer, got ${n}`,
    );
  }
  if (n > settings.capacity) {
    throw new ValidationError(
      `rate limiter ${limiter}: ${n} tokens requested but a bucket holds at most ${settings.capacity}; ` +
        'such a request could never succeed',
    );
  }
}

export function assertKey(limiter: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw new ValidationError(`rate limiter ${limiter}: the key must be a non-empty string`);
  }
}

/**
 * Retry policies: how many attempts, and how long to wait before each retry. Plain objects, so a custom
 * policy is just another object with the same two members.
 */
import { z } from 'zod';
import { parseOptions } from './validate.js';

import type { RandomSource } from '../telemetry/index.js';

export interface RetryPolicy {
  /** What kind of policy this is, for logs and events. */
  readonly kind: string;
  /** Attempts in all, the first call included. 1 means never retry. */
  readonly maxAttempts: number;
  /** The wait before retry number `retry` (1 = before the second attempt), in ms, given the error that failed. */
  delayMs(retry: number, error: unknown): number;
  /** Overrides which errors are retried (default: see `isRetryableError`). */
  readonly isRetryable?: (error: unknown) => boolean;
}

/** How exponential delays are randomized, so that many clients failing together do not retry together. */
export type Jitter = 'none' | 'full' | 'equal';

export interface ExponentialBackoffOptions {
  /** Attempts in all, the first call included. Default 5. */
  readonly maxAttempts?: number;
  /** The delay before the first retry, before jitter, in ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Each retry's delay is the previous one times this. Default 2. */
  readonly multiplier?: number;
  /** The largest delay, before jitter, in ms. Default 30000. */
  readonly maxDelayMs?: number;
  /**
   * `full` (default): a uniform random delay in [0, d]. `equal`: d/2 plus a uniform random part in
   * [0, d/2]. `none`: exactly d.
   */
  readonly jitter?: Jitter;
  /** The random source for jitter. Default `Math.random`. */
  readonly random?: RandomSource;
  readonly isRetryable?: (error: unknown) => boolean;
}

const attempts = z.number().int().min(1);
const delay = z.number().int().min(0);

const exponentialSchema = z
  .object({
    maxAttempts: attempts.default(5),
    initialDelayMs: delay.default(100),
    multiplier: z.number().min(1).finite().default(2),
    maxDelayMs: delay.default(30_000),
    jitter: z.enum(['none', 'full', 'equal']).default('full'),
  })
  .refine((o) => o.maxDelayMs >= o.initialDelayMs, { message: 'maxDelayMs must be at least initialDelayMs' });

/** Delays initialDelayMs × multiplier^(retry−1), capped at maxDelayMs, then jittered. */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): RetryPolicy {
  const o = parseOptions(exponentialSchema, options, 'exponential backoff options');
  const random = options.random ?? Math.random;
  return {
    kind: 'exponential',
    maxAttempts: o.maxAttempts,
    isRetryable: options.isRetryable,
    delayMs(retry) {
      const base = Math.min(o.maxDelayMs, o.initialDelayMs * Math.pow(o.multiplier, Math.max(0, retry - 1)));
      if (o.jitter === 'none') return Math.round(base);
      if (o.jitter === 'full') return Math.round(random() * base);
      return Math.round(base / 2 + (random() * base) / 2);
    },
  };
}

export interface FixedDelayOptions {
  /** Attempts in all, the first call included. Default 3. */
  readonly maxAttempts?: number;
  /** The wait before every retry, in ms. Default 1000. */
  readonly delayMs?: number;
  readonly isRetryable?: (error: unknown) => boolean;
}

/** The same delay before every retry. */
export function fixedDelay(options: FixedDelayOptions = {}): RetryPolicy {
  const o = parseOptions(
    z.object({ maxAttempts: attempts.default(3), delayMs: delay.default(1000) }),
    options,
    'fixed delay options',
  );
  return {
    kind: 'fixed',
    maxAttempts: o.maxAttempts,
    isRetryable: options.isRetryable,
    delayMs: () => o.delayMs,
  };
}

export interface ImmediateOptions {
  /** Attempts in all, the first call included. Default 3. */
  readonly maxAttempts?: number;
  readonly isRetryable?: (error: unknown) => boolean;
}

/** Retries at once (a zero delay; the next attempt still runs in a later tick). */
export function immediate(options: ImmediateOptions = {}): RetryPolicy {
  const o = parseOptions(z.object({ maxAttempts: attempts.default(3) }), options, 'immediate retry options');
  return {
    kind: 'immediate',
    maxAttempts: o.maxAttempts,
    isRetryable: options.isRetryable,
    delayMs: () => 0,
  };
}

export interface LinearBackoffOptions {
  /** Attempts in all, the first call included. Default 5. */
  readonly maxAttempts?: number;
  /** The delay before the first retry, in ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Added to the delay for each further retry, in ms. Default 100. */
  readonly incrementMs?: number;
  /** The largest delay, in ms. Default 30000. */
  readonly maxDelayMs?: number;
  readonly isRetryable?: (error: unknown) => boolean;
}

/** Delays initialDelayMs + incrementMs × (retry−1), capped at maxDelayMs. */
export function linearBackoff(options: LinearBackoffOptions = {}): RetryPolicy {
  const o = parseOptions(
    z.object({
      maxAttempts: attempts.default(5),
      initialDelayMs: delay.default(100),
      incrementMs: delay.default(100),
      maxDelayMs: delay.default(30_000),
    }),
    options,
    'linear backoff options',
  );
  return {
    kind: 'linear',
    maxAttempts: o.maxAttempts,
    isRetryable: options.isRetryable,
    delayMs: (retry) => Math.min(o.maxDelayMs, o.initialDelayMs + o.incrementMs * Math.max(0, retry - 1)),
  };
}

export interface CustomPolicyOptions {
  /** Attempts in all, the first call included. */
  readonly maxAttempts: number;
  /** The wait before retry number `retry` (1-based), in ms; negative values count as 0. */
  readonly delayMs: (retry: number, error: unknown) => number;
  readonly isRetryable?: (error: unknown) => boolean;
}

/** Any delay function. */
export function customPolicy(options: CustomPolicyOptions): RetryPolicy {
  const o = parseOptions(
    z.object({
      maxAttempts: attempts,
      delayMs: z.custom<CustomPolicyOptions['delayMs']>((v) => typeof v === 'function', 'must be a function'),
    }),
    options,
    'custom retry policy options',
  );
  return {
    kind: 'custom',
    maxAttempts: o.maxAttempts,
    isRetryable: options.isRetryable,
    delayMs: (retry, error) => Math.max(0, options.delayMs(retry, error)),
  };
}

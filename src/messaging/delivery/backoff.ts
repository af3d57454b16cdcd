import { z } from 'zod';

export const backoffSchema = z
  .object({
    initialMs: z.number().int().min(0).optional(),
    factor: z.number().min(1).optional(),
    maxMs: z.number().int().min(0).optional(),
    jitter: z.number().min(0).max(1).optional(),
  })
  .strict();

/** How long a failed message waits before it is delivered again. */
export interface BackoffPolicy {
  /** Delay after the first failed attempt, in ms. Default 1000. */
  readonly initialMs?: number;
  /** Each further failure multiplies the delay by this. Default 2. */
  readonly factor?: number;
  /** The longest delay, in ms. Default 300000 (5 minutes). */
  readonly maxMs?: number;
  /**
   * Spread, as a fraction of the delay, taken off at random so that many failing messages do not all
   * come back at the same instant. 0 makes delays exact. Default 0.1.
   */
  readonly jitter?: number;
}

/**
 * The delay before attempt `failedAttempts + 1`:
 * `min(maxMs, initialMs * factor^(failedAttempts - 1)) * (1 - jitter * random())`.
 */
export function backoffDelay(policy: BackoffPolicy, failedAttempts: number, random: () => number): number {
  const initial = policy.initialMs ?? 1000;
  const factor = policy.factor ?? 2;
  const max = policy.maxMs ?? 300_000;
  const jitter = policy.jitter ?? 0.1;
  const exponent = Math.max(0, failedAttempts - 1);
  const raw = Math.min(max, initial * Math.pow(factor, exponent));
  return Math.max(0, Math.round(raw * (1 - jitter * random())));
}

/**
 * Samplers decide whether one occurrence of something noisy is recorded: always, never, a random ratio, or
 * at most N per second. Randomness and time are injected so tests replay them exactly.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';

/** A source of uniform random numbers in [0, 1). Tests pass a fixed sequence to replay decisions. */
export type RandomSource = () => number;

export interface Sampler {
  /** What kind of sampler this is, for diagnostics. */
  readonly kind: string;
  /** True when this occurrence is to be recorded. A plain function, so it can be passed around unbound. */
  readonly sample: () => boolean;
}

/** Records everything. */
export function alwaysSample(): Sampler {
  return { kind: 'always', sample: () => true };
}

/** Records nothing. */
export function neverSample(): Sampler {
  return { kind: 'never', sample: () => false };
}

/** Records each occurrence with probability `ratio` (0…1), drawing from `random` (default `Math.random`). */
export function ratioSampler(ratio: number, random: RandomSource = Math.random): Sampler {
  const parsed = z.number().min(0).max(1).safeParse(ratio);
  if (!parsed.success)
    throw new ValidationError(`invalid sampling ratio: ${describeIssues(parsed.error.issues)}`);
  return { kind: 'ratio', sample: () => ratio > 0 && (ratio >= 1 || random() < ratio) };
}

/**
 * Records at most `limit` occurrences in any 1000 ms span (a sliding window, so never `limit`+1 across a
 * second boundary), reading time from `clock`.
 */
export function perSecondSampler(limit: number, clock: Clock = systemClock): Sampler {
  const parsed = z.number().int().min(1).safeParse(limit);
  if (!parsed.success)
    throw new ValidationError(`invalid per-second limit: ${describeIssues(parsed.error.issues)}`);
  // The times of the last `limit` recorded occurrences, oldest first; a ring buffer, so memory is fixed.
  const times = new Array<number>(limit).fill(-Infinity);
  let oldest = 0;
  return {
    kind: 'per_second',
    sample: () => {
      const now = clock.now();
      if (now - (times[oldest] ?? -Infinity) < 1000) return false;
      times[oldest] = now;
      oldest = (oldest + 1) % limit;
      return true;
    },
  };
}

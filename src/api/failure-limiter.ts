/**
 * Limits wrong tokens per client address: a token bucket per address (`burst` at once, `perMinute` back),
 * kept in a map of at most `maxAddresses` entries in least-recently-failed order. Each failure costs O(1):
 * the address moves to the end of the map, and past the cap the oldest entry is dropped (an address
 * forgotten that way only gets a fresh bucket — it is never locked out by anyone else's failures).
 * Successes are never counted or refused here.
 */
import type { Clock } from '../runtime/index.js';

export interface FailureLimiter {
  /** Records one failure of `address`: 0 when it is within its allowance, else ms until the next one. */
  fail(address: string): number;
  /** Addresses remembered (at most `maxAddresses`). */
  readonly size: number;
}

export interface FailureLimiterOptions {
  readonly burst: number;
  readonly perMinute: number;
  readonly maxAddresses: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createFailureLimiter(o: FailureLimiterOptions, clock: Pick<Clock, 'now'>): FailureLimiter {
  const buckets = new Map<string, Bucket>();
  const perMs = o.perMinute / 60_000;
  return {
    fail(address) {
      const now = clock.now();
      const known = buckets.get(address);
      const bucket = known ?? { tokens: o.burst, at: now };
      bucket.tokens = Math.min(o.burst, bucket.tokens + (now - bucket.at) * perMs);
      bucket.at = now;
      if (known !== undefined) buckets.delete(address); // re-inserted last: Map order is recency
      buckets.set(address, bucket);
      if (buckets.size > o.maxAddresses) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - bucket.tokens) / perMs);
    },
    get size() {
      return buckets.size;
    },
  };
}

/**
 * The wrong-token limiter on its own: a bucket per address on the injected clock, and a table of
 * addresses that never grows past its cap (the least recently failed address is forgotten first).
 */
import { describe, expect, it } from 'vitest';
import { createFailureLimiter } from '../../src/api/failure-limiter.js';
import { VirtualClock } from '../../src/runtime/index.js';

describe('the failed-token limiter', () => {
  it('allows a burst of failures per address, then answers the wait until the next one', async () => {
    const clock = new VirtualClock();
    const limiter = createFailureLimiter({ burst: 2, perMinute: 6, maxAddresses: 10 }, clock);
    expect([limiter.fail('a'), limiter.fail('a')]).toEqual([0, 0]);
    expect(limiter.fail('a')).toBe(10_000);
    expect(limiter.fail('b')).toBe(0); // another address has its own bucket
    await clock.advance(10_000);
    expect(limiter.fail('a')).toBe(0);
    expect(limiter.fail('a')).toBeGreaterThan(0);
  });

  it('remembers at most maxAddresses, forgetting the least recently failed one first', () => {
    const clock = new VirtualClock();
    const limiter = createFailureLimiter({ burst: 1, perMinute: 1, maxAddresses: 1000 }, clock);
    expect(limiter.fail('kept')).toBe(0);
    for (let i = 0; i < 50_000; i++) {
      limiter.fail(`client-${i}`);
      if (i % 500 === 0) expect(limiter.fail('kept')).toBeGreaterThan(0); // refreshed: still locked
      expect(limiter.size).toBeLessThanOrEqual(1000);
    }
    expect(limiter.size).toBe(1000);
    expect(limiter.fail('kept')).toBeGreaterThan(0);
    expect(limiter.fail('client-0')).toBe(0); // long forgotten: a fresh bucket
  });
});

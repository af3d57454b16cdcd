import { describe, expect, it } from 'vitest';
import { isGarrisonError } from '../../src/errors.js';
import { createRateLimiter } from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/clock.js';
import { createEventBus, type ResilienceEvents } from '../../src/telemetry/index.js';

function setup(capacity: number, refillPerSecond: number) {
  const clock = new VirtualClock();
  const bus = createEventBus({ clock });
  const denials: Array<ResilienceEvents['ratelimit.denied']> = [];
  bus.on('ratelimit.denied', (e) => {
    denials.push(e.payload);
  });
  const limiter = createRateLimiter({ name: 'api', capacity, refillPerSecond, clock, events: bus });
  return { clock, limiter, denials };
}

describe('in-memory RateLimiter (token bucket)', () => {
  it('grants a full bucket at once, then exactly one token per refill interval', async () => {
    const { clock, limiter } = setup(5, 2); // one token every 500 ms
    const burst = Array.from({ length: 8 }, () => limiter.tryAcquire('k').allowed);
    expect(burst.filter(Boolean)).toHaveLength(5);
    await clock.advance(499);
    expect(limiter.tryAcquire('k').allowed).toBe(false);
    await clock.advance(1);
    expect(limiter.tryAcquire('k').allowed).toBe(true);
    expect(limiter.tryAcquire('k').allowed).toBe(false);
  });

  it('grants exactly the capacity to many concurrent callers', async () => {
    const { limiter } = setup(50, 1);
    const results = await Promise.all(
      Array.from({ length: 500 }, () => Promise.resolve().then(() => limiter.tryAcquire('shared'))),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    expect(limiter.stats()).toMatchObject({ allowed: 50, denied: 450, keys: 1 });
  });

  it('keeps one bucket per key', () => {
    const { limiter } = setup(1, 1);
    expect(limiter.tryAcquire('alice').allowed).toBe(true);
    expect(limiter.tryAcquire('alice').allowed).toBe(false);
    expect(limiter.tryAcquire('bob').allowed).toBe(true);
  });

  it('reports remaining tokens, when the bucket is full again, and when to retry', async () => {
    const { clock, limiter, denials } = setup(10, 5); // 200 ms per token
    const start = clock.now();
    expect(limiter.tryAcquire('k', 4)).toEqual({
      allowed: true,
      remaining: 6,
      resetAtMs: start + 800,
      retryAfterMs: 0,
    });
    expect(limiter.tryAcquire('k', 7)).toEqual({
      allowed: false,
      remaining: 6,
      resetAtMs: start + 800,
      retryAfterMs: 200,
    });
    expect(denials).toEqual([{ limiter: 'api', key: 'k', requested: 7, remaining: 6, retryAfterMs: 200 }]);
    await clock.advance(200);
    expect(limiter.status('k')).toEqual({ key: 'k', remaining: 7, capacity: 10, resetAtMs: start + 800 });
    expect(limiter.tryAcquire('k', 7).allowed).toBe(true);
    expect(limiter.status('never-used')).toEqual({
      key: 'never-used',
      remaining: 10,
      capacity: 10,
      resetAtMs: clock.now(),
    });
  });

  it('never holds more than its capacity however long it was idle', async () => {
    const { clock, limiter } = setup(3, 100);
    limiter.tryAcquire('k', 3);
    await clock.advance(3_600_000);
    expect(limiter.status('k').remaining).toBe(3);
    expect([1, 2, 3, 4].map(() => limiter.tryAcquire('k').allowed)).toEqual([true, true, true, false]);
  });

  it('refills fractional rates without losing a token to rounding', async () => {
    const { clock, limiter } = setup(1, 3); // 333.33… ms per token
    let granted = 0;
    for (let step = 0; step < 3000; step++) {
      if (limiter.tryAcquire('k').allowed) granted++;
      await clock.advance(1);
    }
    // The full bucket's token at 0 ms, then one at every third of a second: 333⅓, 666⅔, 1000, … 2666⅔ ms.
    expect(granted).toBe(9);
  });

  it('cleanup removes idle buckets that have refilled, and keeps ones that have not', async () => {
    const { clock, limiter } = setup(10, 1);
    limiter.tryAcquire('idle', 1);
    limiter.tryAcquire('drained', 10);
    await clock.advance(5_000);
    expect(limiter.cleanup(5_000)).toBe(1); // 'idle' is full again; 'drained' still lacks 5 tokens
    expect(limiter.stats().keys).toBe(1);
    expect(limiter.status('drained').remaining).toBe(5);
    await clock.advance(5_000);
    expect(limiter.cleanup(5_000)).toBe(1);
    expect(limiter.stats().keys).toBe(0);
  });

  it('rejects requests that could never succeed and bad options with invalid_input', () => {
    const { limiter } = setup(5, 1);
    expect(() => limiter.tryAcquire('k', 6)).toThrow(/at most 5/);
    expect(() => limiter.tryAcquire('k', 0)).toThrow(/positive integer/);
    expect(() => limiter.tryAcquire('', 1)).toThrow(/key/);
    expect(() => createRateLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(/capacity/);
    let error: unknown;
    try {
      createRateLimiter({ capacity: 1, refillPerSecond: -1 });
    } catch (e) {
      error = e;
    }
    expect(isGarrisonError(error, 'invalid_input')).toBe(true);
  });
});

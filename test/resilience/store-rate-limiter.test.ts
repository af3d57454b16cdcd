import { afterEach, describe, expect, it } from 'vitest';
import { createStoreRateLimiter } from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/clock.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createEventBus, type ResilienceEvents } from '../../src/telemetry/index.js';
import { adapters } from '../support/stores.js';

describe.each(adapters)('store-backed RateLimiter on $name', (adapter) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  const open = async (url?: string) => {
    const store = url === undefined ? await adapter.open() : await openStore(url);
    stores.push(store);
    return store;
  };

  it('grants exactly the capacity to many concurrent callers', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const limiter = createStoreRateLimiter(store, { name: 'api', capacity: 25, refillPerSecond: 1, clock });
    const results = await Promise.all(Array.from({ length: 200 }, () => limiter.tryAcquire('shared')));
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
    expect(await limiter.stats()).toEqual({ name: 'api', keys: 1, allowed: 25, denied: 175 });
    expect((await limiter.status('shared')).remaining).toBe(0);
  });

  it('shares one bucket between two store connections (two nodes) and stays exact', async () => {
    const url = adapter.freshUrl();
    const first = await open(url);
    const second = await open(url);
    const clock = new VirtualClock();
    const settings = { name: 'shared', capacity: 40, refillPerSecond: 1, clock };
    const a = createStoreRateLimiter(first, settings);
    const b = createStoreRateLimiter(second, settings);
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? a : b).tryAcquire('tenant-1')),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(40);
    const statsA = await a.stats();
    const statsB = await b.stats();
    expect(statsA.allowed + statsB.allowed).toBe(40);
    expect(statsA.denied + statsB.denied).toBe(110);
  });

  it('refills over time exactly like the in-memory bucket', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const limiter = createStoreRateLimiter(store, { name: 'api', capacity: 10, refillPerSecond: 5, clock });
    const start = clock.now();
    expect(await limiter.tryAcquire('k', 4)).toEqual({
      allowed: true,
      remaining: 6,
      resetAtMs: start + 800,
      retryAfterMs: 0,
    });
    expect(await limiter.tryAcquire('k', 7)).toEqual({
      allowed: false,
      remaining: 6,
      resetAtMs: start + 800,
      retryAfterMs: 200,
    });
    await clock.advance(200);
    expect(await limiter.status('k')).toEqual({
      key: 'k',
      remaining: 7,
      capacity: 10,
      resetAtMs: start + 800,
    });
    expect((await limiter.tryAcquire('k', 7)).allowed).toBe(true);
    await clock.advance(3_600_000);
    expect((await limiter.status('k')).remaining).toBe(10);
  });

  it('emits ratelimit.denied with the key and the wait', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const bus = createEventBus({ clock });
    const denials: Array<ResilienceEvents['ratelimit.denied']> = [];
    bus.on('ratelimit.*', (e) => {
      denials.push(e.payload);
    });
    const limiter = createStoreRateLimiter(store, {
      name: 'api',
      capacity: 1,
      refillPerSecond: 2,
      clock,
      events: bus,
    });
    await limiter.tryAcquire('k');
    await limiter.tryAcquire('k');
    expect(denials).toEqual([{ limiter: 'api', key: 'k', requested: 1, remaining: 0, retryAfterMs: 500 }]);
  });

  it('keeps limiters with different names apart', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const one = createStoreRateLimiter(store, { name: 'one', capacity: 1, refillPerSecond: 1, clock });
    const two = createStoreRateLimiter(store, { name: 'two', capacity: 1, refillPerSecond: 1, clock });
    expect((await one.tryAcquire('k')).allowed).toBe(true);
    expect((await two.tryAcquire('k')).allowed).toBe(true);
    expect((await one.tryAcquire('k')).allowed).toBe(false);
  });

  it('cleanup deletes only idle buckets that have refilled completely', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const limiter = createStoreRateLimiter(store, { name: 'api', capacity: 10, refillPerSecond: 1, clock });
    await limiter.tryAcquire('idle', 1);
    await limiter.tryAcquire('drained', 10);
    await clock.advance(5_000);
    expect(await limiter.cleanup(5_000)).toBe(1);
    expect((await limiter.stats()).keys).toBe(1);
    expect((await limiter.status('drained')).remaining).toBe(5);
    await clock.advance(5_000);
    expect(await limiter.cleanup(5_000)).toBe(1);
    expect((await limiter.stats()).keys).toBe(0);
  });

  it('never lets a bucket go back in time when a node with a slower clock acquires', async () => {
    const store = await open();
    const ahead = new VirtualClock(Date.UTC(2026, 0, 1, 0, 0, 10));
    const behind = new VirtualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const settings = { name: 'api', capacity: 2, refillPerSecond: 1 };
    const fast = createStoreRateLimiter(store, { ...settings, clock: ahead });
    const slow = createStoreRateLimiter(store, { ...settings, clock: behind });
    expect((await fast.tryAcquire('k', 2)).allowed).toBe(true);
    // Ten seconds "earlier" by its own clock: no refill is credited, so the bucket stays empty.
    expect((await slow.tryAcquire('k')).allowed).toBe(false);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/clock.js';
import { createEventBus, type BusEvent, type ResilienceEvents } from '../../src/telemetry/index.js';

function setup(options: { maxEntries?: number; ttlMs?: number } = {}) {
  const clock = new VirtualClock();
  const bus = createEventBus({ clock });
  const events: Array<BusEvent<ResilienceEvents, `cache.${string}` & keyof ResilienceEvents>> = [];
  bus.on('cache.*', (e) => {
    events.push(e);
  });
  const cache = new LruCache<string, number>({ name: 'profiles', clock, events: bus, ...options });
  const seen = () =>
    events.map((e) => [
      e.name.slice('cache.'.length),
      e.payload.key,
      'reason' in e.payload ? e.payload.reason : '',
    ]);
  return { clock, cache, events, seen };
}

describe('LruCache', () => {
  it('evicts the least recently used entry, where a get counts as a use', () => {
    const { cache, seen } = setup({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2).set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the most recently used; b the least
    cache.set('d', 4);
    expect(cache.keys()).toEqual(['c', 'a', 'd']);
    expect(cache.has('b')).toBe(false);
    expect(seen()).toEqual([
      ['hit', 'a', ''],
      ['evict', 'b', 'capacity'],
    ]);
  });

  it('setting an existing key replaces it and makes it most recently used without evicting', () => {
    const { cache } = setup({ maxEntries: 2 });
    cache.set('a', 1).set('b', 2).set('a', 10);
    expect(cache.keys()).toEqual(['b', 'a']);
    expect(cache.get('a')).toBe(10);
    expect(cache.stats().evictions.capacity).toBe(0);
  });

  it('misses with reason absent for unknown keys and expired for entries past their TTL', async () => {
    const { cache, clock, seen } = setup({ ttlMs: 1000 });
    cache.set('a', 1);
    expect(cache.get('missing')).toBeUndefined();
    await clock.advance(999);
    expect(cache.get('a')).toBe(1);
    await clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(seen()).toEqual([
      ['miss', 'missing', 'absent'],
      ['hit', 'a', ''],
      ['miss', 'a', 'expired'],
      ['evict', 'a', 'expired'],
    ]);
    expect(cache.stats()).toMatchObject({
      hits: 1,
      misses: { absent: 1, expired: 1 },
      evictions: { expired: 1 },
    });
  });

  it('a hit does not extend the TTL; a per-entry TTL overrides the default', async () => {
    const { cache, clock } = setup({ ttlMs: 1000 });
    cache.set('short', 1, { ttlMs: 10 });
    cache.set('default', 2);
    await clock.advance(500);
    expect(cache.get('default')).toBe(2);
    expect(cache.has('short')).toBe(false);
    await clock.advance(500);
    expect(cache.get('default')).toBeUndefined();
  });

  it('without a TTL entries never expire', async () => {
    const { cache, clock } = setup();
    cache.set('a', 1);
    await clock.advance(365 * 24 * 3_600_000);
    expect(cache.get('a')).toBe(1);
  });

  it('prune evicts every expired entry at once', async () => {
    const { cache, clock } = setup({ ttlMs: 100 });
    cache.set('a', 1).set('b', 2);
    await clock.advance(50);
    cache.set('c', 3);
    await clock.advance(50);
    expect(cache.prune()).toBe(2);
    expect(cache.keys()).toEqual(['c']);
  });

  it('delete and clear are not evictions', () => {
    const { cache, events } = setup();
    cache.set('a', 1).set('b', 2);
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(events).toEqual([]);
  });

  it('never holds more than maxEntries', () => {
    const { cache } = setup({ maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(100);
    expect(cache.keys()[0]).toBe('k9900');
    expect(cache.stats().evictions.capacity).toBe(9900);
  });

  it('evicts exactly like a reference LRU under any mix of get, set, delete, clear and prune', () => {
    const key = fc.integer({ min: 0, max: 12 }).map(String);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key }),
      fc.record({ kind: fc.constant('clear' as const) }),
      fc.record({ kind: fc.constant('prune' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 300 }), (maxEntries, ops) => {
        const cache = new LruCache<string, number>({ maxEntries, clock: new VirtualClock() });
        // The model: keys from least to most recently used.
        let model: Array<[string, number]> = [];
        for (const o of ops) {
          if (o.kind === 'get') {
            const found = model.find(([k]) => k === o.key);
            expect(cache.get(o.key)).toBe(found?.[1]);
            if (found !== undefined) model = [...model.filter(([k]) => k !== o.key), found];
          } else if (o.kind === 'set') {
            cache.set(o.key, o.value);
            model = [...model.filter(([k]) => k !== o.key), [o.key, o.value]];
            if (model.length > maxEntries) model = model.slice(model.length - maxEntries);
          } else if (o.kind === 'delete') {
            expect(cache.delete(o.key)).toBe(model.some(([k]) => k === o.key));
            model = model.filter(([k]) => k !== o.key);
          } else if (o.kind === 'clear') {
            cache.clear();
            model = [];
          } else {
            expect(cache.prune()).toBe(0);
          }
          expect(cache.keys()).toEqual(model.map(([k]) => k));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects bad options with invalid_input', () => {
    expect(() => new LruCache({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new LruCache({ ttlMs: -5 })).toThrow(/ttlMs/);
    expect(() => new LruCache<string, number>().set('a', 1, { ttlMs: 0 })).toThrow(/ttlMs/);
  });
});

import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/clock.js';
import {
  alwaysSample,
  createDeduper,
  neverSample,
  perSecondSampler,
  ratioSampler,
} from '../../src/telemetry/index.js';

const take = (n: number, f: () => boolean) => Array.from({ length: n }, f);

describe('samplers', () => {
  it('always and never do what they say', () => {
    expect(take(3, alwaysSample().sample)).toEqual([true, true, true]);
    expect(take(3, neverSample().sample)).toEqual([false, false, false]);
  });

  it('ratio keeps an occurrence when the injected random draw is below the ratio', () => {
    const draws = [0.05, 0.3, 0.24, 0.25, 0.9];
    let i = 0;
    const sampler = ratioSampler(0.25, () => draws[i++] ?? 1);
    expect(take(5, sampler.sample)).toEqual([true, false, true, false, false]);
    expect(take(2, ratioSampler(0).sample)).toEqual([false, false]);
    expect(take(2, ratioSampler(1).sample)).toEqual([true, true]);
    expect(() => ratioSampler(1.5)).toThrow(/ratio/);
  });

  it('per-second keeps at most N in any 1000 ms span, also across a second boundary', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 900));
    const sampler = perSecondSampler(3, clock);
    expect(take(5, sampler.sample)).toEqual([true, true, true, false, false]);
    await clock.advance(200); // a new calendar second, but not a new 1000 ms span
    expect(sampler.sample()).toBe(false);
    await clock.advance(800); // 1000 ms after the first three
    expect(take(4, sampler.sample)).toEqual([true, true, true, false]);
  });
});

describe('deduper', () => {
  it('lets the first occurrence of a key through once per interval and counts the ones held back', async () => {
    const clock = new VirtualClock();
    const dedupe = createDeduper({ intervalMs: 60_000, clock });
    expect(dedupe.check('disk full')).toEqual({ emit: true, suppressed: 0 });
    expect(dedupe.check('disk full').emit).toBe(false);
    expect(dedupe.check('disk full').emit).toBe(false);
    expect(dedupe.check('other').emit).toBe(true);
    await clock.advance(60_000);
    expect(dedupe.check('disk full')).toEqual({ emit: true, suppressed: 2 });
    expect(dedupe.check('disk full').emit).toBe(false);
  });

  it('remembers at most maxKeys keys, forgetting the least recently seen', () => {
    const clock = new VirtualClock();
    const dedupe = createDeduper({ intervalMs: 60_000, clock, maxKeys: 2 });
    dedupe.check('a');
    dedupe.check('b');
    dedupe.check('a'); // a is now the most recently seen
    dedupe.check('c'); // forgets b
    expect(dedupe.check('a').emit).toBe(false);
    expect(dedupe.check('b').emit).toBe(true);
  });
});

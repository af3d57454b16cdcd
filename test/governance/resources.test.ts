import { describe, expect, it } from 'vitest';
import {
  RESOURCE_KINDS,
  ResourceExhaustedError,
  createResourceManager,
  defaultLimits,
  type ResourceToken,
} from '../../src/governance/index.js';
import { isGarrisonError } from '../../src/errors.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { harness, recordEvents } from './support.js';

const idle = {
  init: () => null,
  handleCall: (_m: unknown, _f: unknown, s: null) => ({ reply: s, state: s }),
};

describe('resource manager: limits and tokens', () => {
  it('has a default limit for every kind, sized for a small machine', () => {
    const limits = defaultLimits();
    expect(Object.keys(limits).sort()).toEqual([...RESOURCE_KINDS].sort());
    expect(limits.heap_bytes).toBeLessThanOrEqual(384 * 1024 * 1024);
    expect(limits).toMatchObject({
      rss_bytes: 768 * 1024 * 1024,
      processes: 20_000,
      agents: 500,
      leases: 256,
      mailbox_messages: 100_000,
      store_connections: 10,
    });
    const resources = createResourceManager({ limits: { agents: 3 }, gauges: { heap_bytes: () => 0 } });
    expect(resources.limits.agents).toBe(3);
    expect(resources.limits.leases).toBe(256);
  });

  it('rejects bad options and bad requests with invalid_input, changing nothing', () => {
    expect(() => createResourceManager({ limits: { agents: 0 } })).toThrow(/agents/);
    expect(() => createResourceManager({ alertRatio: 1.5 })).toThrow(/alertRatio/);
    expect(() => createResourceManager({ limits: { widgets: 3 } as never })).toThrow(/widgets/);
    const resources = createResourceManager({ limits: { agents: 3 } });
    expect(() => resources.acquire('agents', { amount: 0 })).toThrow(/amount/);
    expect(() => resources.acquire('widgets' as never)).toThrow(/unknown resource kind/);
    expect(resources.usage('agents')).toMatchObject({ current: 0, tokens: 0 });
  });

  it('acquire past a limit fails with resource_exhausted naming the limit, usage and request', () => {
    const resources = createResourceManager({ limits: { agents: 2 } });
    resources.acquire('agents');
    resources.acquire('agents');
    let caught: unknown;
    try {
      resources.acquire('agents', { label: 'a3' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ResourceExhaustedError);
    expect(isGarrisonError(caught, 'resource_exhausted')).toBe(true);
    expect(caught).toMatchObject({ kind: 'agents', limit: 2, current: 2, requested: 1, retryable: true });
    expect((caught as Error).message).toBe('resource limit agents reached: 2 in use, 1 requested, limit 2');
    expect(resources.usage('agents')).toMatchObject({ current: 2, tokens: 2 });
    expect(resources.stats()).toMatchObject({ acquired: 2, refused: 1 });
  });

  it('tryAcquire returns the refusal as a value; amounts count against the limit', () => {
    const resources = createResourceManager({ limits: { leases: 10 } });
    const first = resources.tryAcquire('leases', { amount: 8 });
    expect(first.ok).toBe(true);
    const second = resources.tryAcquire('leases', { amount: 3 });
    expect(second).toMatchObject({
      ok: false,
      error: { code: 'resource_exhausted', current: 8, requested: 3 },
    });
    expect(resources.tryAcquire('leases', { amount: 2 }).ok).toBe(true);
  });

  it('release gives the share back once; a second release is a no-op', () => {
    const resources = createResourceManager({ limits: { store_connections: 1 } });
    const token = resources.acquire('store_connections');
    expect(() => resources.acquire('store_connections')).toThrow(ResourceExhaustedError);
    expect(resources.release(token)).toBe(true);
    expect(resources.release(token)).toBe(false);
    expect(resources.usage('store_connections')).toMatchObject({ current: 0, tokens: 0, peak: 1 });
    expect(resources.acquire('store_connections').kind).toBe('store_connections');
  });

  it('a token from another manager is not released here', () => {
    const a = createResourceManager({ limits: { agents: 1 } });
    const b = createResourceManager({ limits: { agents: 1 } });
    const token = a.acquire('agents');
    const forged: ResourceToken = { ...b.acquire('agents') };
    expect(a.release(forged)).toBe(false);
    expect(a.usage('agents').current).toBe(1);
    expect(a.release(token)).toBe(true);
  });

  it('usage is the gauge plus the tokens; guard refuses without taking anything', () => {
    let heap = 90;
    const resources = createResourceManager({
      limits: { heap_bytes: 100 },
      gauges: { heap_bytes: () => heap },
      gaugeTtlMs: 0,
    });
    resources.guard('heap_bytes', 10);
    expect(() => resources.guard('heap_bytes', 11)).toThrow(/heap_bytes reached: 90 in use, 11 requested/);
    resources.acquire('heap_bytes', { amount: 5 });
    expect(resources.usage('heap_bytes')).toMatchObject({ measured: 90, held: 5, current: 95 });
    heap = 40;
    expect(resources.usage('heap_bytes')).toMatchObject({ measured: 40, current: 45 });
    expect(resources.stats().tokens).toBe(1);
  });

  it('a gauge is read again only after gaugeTtlMs on the clock', async () => {
    const clock = new VirtualClock();
    let reads = 0;
    const resources = createResourceManager({
      clock,
      gaugeTtlMs: 1000,
      gauges: { rss_bytes: () => ++reads * 10 },
    });
    expect(resources.usage('rss_bytes').measured).toBe(10);
    expect(resources.usage('rss_bytes').measured).toBe(10);
    await clock.advance(999);
    expect(resources.usage('rss_bytes').measured).toBe(10);
    await clock.advance(1);
    expect(resources.usage('rss_bytes').measured).toBe(20);
  });
});

describe('resource manager: alerts', () => {
  it('alerts once when usage reaches 90% of a limit and recovers below it less the hysteresis', () => {
    const events = recordEvents();
    const resources = createResourceManager({ limits: { leases: 100 }, events });
    resources.acquire('leases', { amount: 80 });
    const b = resources.acquire('leases', { amount: 1 });
    const c = resources.acquire('leases', { amount: 8 });
    expect(events.of('resource.alert')).toEqual([]);
    resources.acquire('leases', { amount: 1 });
    expect(events.of('resource.alert')).toEqual([
      { kind: 'leases', current: 90, limit: 100, ratio: 0.9, threshold: 0.9 },
    ]);
    expect(resources.alerts().map((u) => u.kind)).toEqual(['leases']);
    // Between 85% and 90% it keeps alerting, and back at 90% it does not alert again: no flapping.
    resources.release(b);
    expect(resources.usage('leases')).toMatchObject({ current: 89, alerting: true });
    resources.acquire('leases', { amount: 1 });
    expect(events.of('resource.alert')).toHaveLength(1);
    expect(events.of('resource.recovered')).toEqual([]);
    resources.release(c);
    expect(events.of('resource.recovered')).toEqual([{ kind: 'leases', current: 82, limit: 100 }]);
    expect(resources.alerts()).toEqual([]);
  });

  it('alerts on a measured kind when its usage is next read', () => {
    const events = recordEvents();
    let rss = 10;
    const resources = createResourceManager({
      limits: { rss_bytes: 100 },
      gauges: { rss_bytes: () => rss },
      gaugeTtlMs: 0,
      alertRatio: 0.8,
      events,
    });
    expect(resources.usage('rss_bytes').alerting).toBe(false);
    rss = 85;
    expect(resources.usage('rss_bytes')).toMatchObject({ alerting: true, ratio: 0.85 });
    expect(events.of('resource.alert')).toEqual([
      { kind: 'rss_bytes', current: 85, limit: 100, ratio: 0.85, threshold: 0.8 },
    ]);
  });

  it('refusals are reported once per kind per interval, with the number held back', async () => {
    const clock = new VirtualClock();
    const events = recordEvents();
    const resources = createResourceManager({
      clock,
      limits: { agents: 1 },
      refusedEventIntervalMs: 10_000,
      events,
    });
    resources.acquire('agents');
    for (let i = 0; i < 5; i++) expect(resources.tryAcquire('agents').ok).toBe(false);
    expect(events.of('resource.refused')).toEqual([
      { kind: 'agents', current: 1, limit: 1, requested: 1, suppressed: 0 },
    ]);
    await clock.advance(10_000);
    expect(resources.tryAcquire('agents').ok).toBe(false);
    expect(events.of('resource.refused')[1]).toMatchObject({ suppressed: 4 });
    expect(resources.stats().refused).toBe(6);
  });
});

describe('resource manager: tokens held by processes', () => {
  it('a process that crashes gives its tokens back, and no monitor is left', async () => {
    const { runtime, clock } = harness();
    const resources = createResourceManager({ runtime, limits: { agents: 2, leases: 10 } });
    const crasher = {
      init: () => null,
      handleCast(): never {
        throw new Error('boom');
      },
    };
    const pid = await runtime.spawn(crasher, undefined);
    resources.acquire('agents', { owner: pid, label: 'a1' });
    resources.acquire('leases', { owner: pid, amount: 4 });
    expect(resources.tokensOf(pid)).toHaveLength(2);
    expect(resources.stats()).toMatchObject({ tokens: 2, owners: 1 });
    expect(runtime.monitorCount).toBe(1); // one monitor per owner, not per token

    await runtime.cast(pid, 'crash');
    await clock.advance(0);
    expect(runtime.isAlive(pid)).toBe(false);
    expect(resources.usage('agents').current).toBe(0);
    expect(resources.usage('leases').current).toBe(0);
    expect(resources.stats()).toMatchObject({ tokens: 0, owners: 0, releasedOnExit: 2 });
    expect(runtime.checkMonitorLeaks(0)).toEqual([]);
    expect(runtime.monitorCount).toBe(0);
  });

  it('a killed process (no terminate) gives its tokens back too', async () => {
    const { runtime } = harness();
    const resources = createResourceManager({ runtime, limits: { agents: 1 } });
    const pid = await runtime.spawn(idle, undefined);
    resources.acquire('agents', { owner: pid });
    expect(() => resources.acquire('agents')).toThrow(ResourceExhaustedError);
    runtime.kill(pid);
    expect(resources.usage('agents').current).toBe(0);
    expect(resources.acquire('agents')).toMatchObject({ kind: 'agents' });
    expect(runtime.monitorCount).toBe(0);
  });

  it('releasing an owner’s last token releases its monitor', async () => {
    const { runtime } = harness();
    const resources = createResourceManager({ runtime });
    const pid = await runtime.spawn(idle, undefined);
    const a = resources.acquire('agents', { owner: pid });
    const b = resources.acquire('leases', { owner: pid });
    resources.release(a);
    expect(runtime.monitorCount).toBe(1);
    resources.release(b);
    expect(runtime.monitorCount).toBe(0);
    expect(runtime.checkMonitorLeaks(0)).toEqual([]);
    await runtime.stop(pid);
    expect(resources.stats()).toMatchObject({ released: 2, releasedOnExit: 0 });
  });

  it('many processes come and go: nothing leaks', async () => {
    const { runtime } = harness();
    const resources = createResourceManager({ runtime, limits: { agents: 10 } });
    for (let round = 0; round < 20; round++) {
      const pids = await Promise.all(Array.from({ length: 10 }, () => runtime.spawn(idle, undefined)));
      for (const pid of pids) resources.acquire('agents', { owner: pid });
      expect(() => resources.acquire('agents')).toThrow(ResourceExhaustedError);
      for (const pid of pids) {
        if (round % 2 === 0) runtime.kill(pid);
        else await runtime.stop(pid);
      }
    }
    expect(resources.stats()).toMatchObject({ tokens: 0, owners: 0, acquired: 200, releasedOnExit: 200 });
    expect(runtime.monitorCount).toBe(0);
    expect(runtime.processCount).toBe(0);
  });

  it('a dead owner is refused with noproc; an owner needs the runtime', async () => {
    const { runtime } = harness();
    const resources = createResourceManager({ runtime });
    const pid = await runtime.spawn(idle, undefined);
    await runtime.stop(pid);
    expect(() => resources.acquire('agents', { owner: pid })).toThrow(
      expect.objectContaining({ code: 'noproc' }),
    );
    const without = createResourceManager();
    const live = await runtime.spawn(idle, undefined);
    expect(() => without.acquire('agents', { owner: live })).toThrow(
      /needs the resource manager to be given the runtime/,
    );
    expect(resources.stats().tokens).toBe(0);
    expect(runtime.monitorCount).toBe(0);
  });

  it('close releases every token and every monitor', async () => {
    const { runtime } = harness();
    const resources = createResourceManager({ runtime });
    const pids = await Promise.all([runtime.spawn(idle, undefined), runtime.spawn(idle, undefined)]);
    for (const pid of pids) resources.acquire('agents', { owner: pid });
    resources.acquire('store_connections');
    resources.close();
    expect(resources.stats()).toMatchObject({ tokens: 0, owners: 0, released: 3 });
    expect(runtime.monitorCount).toBe(0);
  });

  it('withToken releases the token when the work fails and keeps it when it succeeds', async () => {
    const resources = createResourceManager({ limits: { agents: 1 } });
    await expect(
      resources.withToken('agents', { label: 'a1' }, async () => {
        throw new Error('registration failed');
      }),
    ).rejects.toThrow('registration failed');
    expect(resources.usage('agents').current).toBe(0);
    const id = await resources.withToken('agents', { label: 'a1' }, async (token) => token.label);
    expect(id).toBe('a1');
    expect(resources.usage('agents').current).toBe(1);
    await expect(resources.withToken('agents', undefined, async () => 'never')).rejects.toBeInstanceOf(
      ResourceExhaustedError,
    );
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  createHealthChecks,
  createResourceManager,
  migrationsCurrentCheck,
  queueProgressCheck,
  resourcesCheck,
  schedulerRunningCheck,
  storeReachableCheck,
  type QueueProgress,
} from '../../src/governance/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import type { Store, StoreStatus } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';

describe.each(adapters)('store checks on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close().catch(() => undefined);
    store = undefined;
  });

  it('a migrated, open store is reachable and current', async () => {
    store = await adapter.open();
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register(storeReachableCheck(store));
    health.register(migrationsCurrentCheck(store));
    const summary = await health.run();
    expect(summary.status).toBe('healthy');
    const migrations = summary.checks.find((c) => c.name === 'migrations');
    const status = await store.status();
    expect(migrations?.details).toEqual({ version: status.latest, latest: status.latest, pending: [] });
  });

  it('a closed store is unreachable: the system is unhealthy, naming the check', async () => {
    store = await adapter.open();
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register(storeReachableCheck(store));
    await store.close();
    const summary = await health.run();
    expect(summary.status).toBe('unhealthy');
    expect(summary.reasons[0]).toMatch(/^store: /);
  });
});

describe('migration check', () => {
  const withStatus = (s: Partial<StoreStatus>) => ({
    status: async (): Promise<StoreStatus> => ({
      dialect: 'sqlite',
      location: 'test',
      version: 10,
      latest: 10,
      pending: [],
      ...s,
    }),
  });

  it('pending migrations are unhealthy, naming them', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register(migrationsCurrentCheck(withStatus({ version: 9, latest: 11, pending: [10, 11] })));
    expect((await health.run()).reasons).toEqual(['migrations: migrations pending: 10, 11']);
  });

  it('a database newer than the code is unhealthy', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register(migrationsCurrentCheck(withStatus({ version: 12, latest: 10 })));
    expect((await health.run()).reasons).toEqual([
      'migrations: the database is at migration 12, newer than this code (10)',
    ]);
  });
});

describe('scheduler check', () => {
  it('is unhealthy while the scheduler is not running', async () => {
    let running = true;
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register(schedulerRunningCheck({ isRunning: async () => running }));
    expect((await health.run()).status).toBe('healthy');
    running = false;
    expect((await health.run()).reasons).toEqual(['scheduler: the scheduler is not running']);
  });
});

describe('queue progress check', () => {
  it('a queue with ready work whose completions stop advancing is unhealthy after stallAfterMs', async () => {
    const clock = new VirtualClock();
    let progress: QueueProgress = { ready: 5, completed: 0 };
    const health = createHealthChecks({ clock });
    health.register(
      queueProgressCheck({ queue: 'emails', progress: () => progress, stallAfterMs: 60_000, clock }),
    );
    expect((await health.run()).status).toBe('healthy'); // the baseline
    await clock.advance(30_000);
    progress = { ready: 5, completed: 3 };
    expect((await health.run()).status).toBe('healthy'); // it moved
    await clock.advance(59_999);
    expect((await health.run()).status).toBe('healthy');
    await clock.advance(1);
    const stalled = await health.run();
    expect(stalled.status).toBe('unhealthy');
    expect(stalled.reasons).toEqual([
      'queue:emails: queue emails is stalled: 5 ready, no completion for 60000 ms',
    ]);
    expect(stalled.checks[0]?.details).toEqual({ ready: 5, completed: 3, stalledMs: 60_000 });
    progress = { ready: 4, completed: 4 };
    expect((await health.run()).status).toBe('healthy');
  });

  it('a queue with nothing ready is never stalled, however long nothing completes', async () => {
    const clock = new VirtualClock();
    let progress: QueueProgress = { ready: 0, completed: 7 };
    const health = createHealthChecks({ clock });
    health.register(queueProgressCheck({ queue: 'q', progress: () => progress, stallAfterMs: 1000, clock }));
    await health.run();
    await clock.advance(10_000);
    expect((await health.run()).status).toBe('healthy');
    // Work arrives now: the stall clock starts from the last idle observation.
    progress = { ready: 2, completed: 7 };
    expect((await health.run()).status).toBe('healthy');
    await clock.advance(1000);
    expect((await health.run()).status).toBe('unhealthy');
  });

  it('rejects a bad configuration', () => {
    expect(() => queueProgressCheck({ queue: '', progress: () => ({ ready: 0, completed: 0 }) })).toThrow(
      /queue/,
    );
    expect(() =>
      queueProgressCheck({ queue: 'q', progress: () => ({ ready: 0, completed: 0 }), stallAfterMs: 0 }),
    ).toThrow(/stallAfterMs/);
  });
});

describe('resources check', () => {
  it('is degraded near a limit and unhealthy past one, naming the kinds', async () => {
    let rss = 10;
    const resources = createResourceManager({
      limits: { agents: 10, rss_bytes: 100 },
      gauges: { rss_bytes: () => rss, heap_bytes: () => 0 },
      gaugeTtlMs: 0,
    });
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register(resourcesCheck(resources));
    expect((await health.run()).status).toBe('healthy');
    for (let i = 0; i < 9; i++) resources.acquire('agents');
    expect(await health.run()).toMatchObject({
      status: 'degraded',
      reasons: ['resources: near the limit: agents at 90% (9 of 10)'],
    });
    rss = 120;
    expect(await health.run()).toMatchObject({
      status: 'unhealthy',
      reasons: ['resources: over the limit: rss_bytes at 120% (120 of 100)'],
    });
  });
});

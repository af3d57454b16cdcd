/**
 * Maintenance through the scheduler. The scheduler knows nothing of what it maintains (it must not import
 * the resilience layer): the test, like the node, hands it the rate limiter's cleanup.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createStoreRateLimiter } from '../../src/resilience/index.js';
import { VirtualClock, createRuntime, type Runtime } from '../../src/runtime/index.js';
import { createScheduler, maintenanceTimerId, type SchedulerManager } from '../../src/scheduler/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { advanceAndDrain } from './support.js';

const MINUTE = 60_000;

describe.each(adapters)('maintenance jobs on $name', (adapter) => {
  const open: Array<{ scheduler: SchedulerManager; store: Store; rt: Runtime }> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.scheduler.shutdown();
      await o.store.close();
    }
  });

  async function node(clock: VirtualClock, url: string, nodeId: string) {
    const store = await openStore(url);
    const rt = createRuntime({ clock });
    const scheduler = createScheduler({ store, clock, runtime: rt, nodeId });
    open.push({ scheduler, store, rt });
    return { store, scheduler };
  }

  const advance = (clock: VirtualClock, ms: number) =>
    advanceAndDrain(
      clock,
      open.map((o) => o.scheduler),
      ms,
    );

  it('a maintenance job prunes the store rate limiter’s idle buckets every interval', async () => {
    const clock = new VirtualClock();
    const { store, scheduler } = await node(clock, adapter.freshUrl(), 'node-a');
    const limiter = createStoreRateLimiter(store, { name: 'api', capacity: 5, refillPerSecond: 1, clock });
    const pruned: number[] = [];
    await scheduler.maintain('rate-buckets', MINUTE, async () => {
      pruned.push(await limiter.cleanup(10 * MINUTE));
    });
    await scheduler.start();

    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5']) await limiter.tryAcquire(key);
    await advance(clock, 5 * MINUTE);
    await limiter.tryAcquire('k6');
    await advance(clock, 4 * MINUTE);
    expect((await limiter.stats()).keys).toBe(6);
    await advance(clock, MINUTE); // the buckets of minute 0 are ten minutes idle
    expect((await limiter.stats()).keys).toBe(1);
    await advance(clock, 5 * MINUTE);
    expect((await limiter.stats()).keys).toBe(0);
    expect(pruned).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 1]);
    const timer = await scheduler.durable.get(maintenanceTimerId('rate-buckets'));
    expect(timer).toMatchObject({ kind: 'interval', intervalMs: MINUTE, firedCount: 15 });
  });

  it('a job registered by two nodes runs once per interval, and its schedule is kept across restarts', async () => {
    const clock = new VirtualClock();
    const url = adapter.freshUrl();
    const runs: string[] = [];
    const a = await node(clock, url, 'node-a');
    const b = await node(clock, url, 'node-b');
    await a.scheduler.maintain('compact', MINUTE, () => {
      runs.push('a');
    });
    await advance(clock, 30_000);
    // A second node joining half-way does not move the schedule.
    const info = await b.scheduler.maintain('compact', MINUTE, () => {
      runs.push('b');
    });
    expect(info.dueAt).toBe(clock.now() + 30_000);
    await a.scheduler.start();
    await b.scheduler.start();
    await advance(clock, 10 * MINUTE - 30_000);
    expect(runs).toHaveLength(10);
    expect((await a.scheduler.durable.get(maintenanceTimerId('compact')))?.firedCount).toBe(10);

    // A restarted node registering the job again keeps its schedule and count.
    const before = await a.scheduler.durable.get(maintenanceTimerId('compact'));
    const restarted = await node(clock, url, 'node-a');
    const kept = await restarted.scheduler.maintain('compact', MINUTE, () => undefined);
    expect(kept).toEqual(before);
    // A changed interval rewrites it.
    const other = await node(clock, url, 'node-c');
    const changed = await other.scheduler.maintain('compact', 2 * MINUTE, () => undefined);
    expect(changed).toMatchObject({ intervalMs: 2 * MINUTE, dueAt: clock.now() + 2 * MINUTE });
    await expect(a.scheduler.maintain('compact', MINUTE, () => undefined)).rejects.toMatchObject({
      code: 'timer_topic_taken',
    });
  });

  it('bad maintenance jobs are refused and nothing is scheduled', async () => {
    const clock = new VirtualClock();
    const { scheduler } = await node(clock, adapter.freshUrl(), 'node-a');
    await expect(scheduler.maintain('', MINUTE, () => undefined)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(scheduler.maintain('Has Spaces', MINUTE, () => undefined)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(scheduler.maintain('x', 0.5, () => undefined)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(scheduler.maintain('x', MINUTE, 'not a function' as never)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await scheduler.durable.list()).toEqual([]);
  });
});

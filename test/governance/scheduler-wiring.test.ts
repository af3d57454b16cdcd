/**
 * The sensors and the scheduler check wired to the node's real scheduler: a sensor's tick is one
 * `every` timer owned by its process, and it dies with that process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createHealthChecks,
  schedulerRunningCheck,
  sensorProcessName,
  startSensor,
} from '../../src/governance/index.js';
import { createScheduler, type SchedulerManager } from '../../src/scheduler/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { harness } from './support.js';

describe.each(adapters)('governance with the scheduler on $name', (adapter) => {
  let store: Store | undefined;
  let scheduler: SchedulerManager | undefined;
  afterEach(async () => {
    await scheduler?.shutdown();
    await store?.close();
    scheduler = undefined;
    store = undefined;
  });

  it('a sensor ticks through the scheduler, and its timer and monitor go with its process', async () => {
    store = await adapter.open();
    const { runtime, clock } = harness();
    scheduler = createScheduler({ store, runtime, nodeId: 'n1' });
    let n = 0;
    const sensor = await startSensor(runtime, {
      sensor: { name: 'count', sample: () => ({ n: ++n }) },
      scheduler,
      intervalMs: 1000,
    });
    const pid = runtime.whereis(sensorProcessName('count'));
    expect(scheduler.list({ owner: pid })).toHaveLength(1);
    await clock.advance(3000);
    expect(await sensor.snapshot()).toMatchObject({ samples: 3, latest: { n: 3 } });

    runtime.kill(sensorProcessName('count'));
    expect(scheduler.stats()).toMatchObject({ processTimers: 0, ownerMonitors: 0 });
    expect(runtime.monitorCount).toBe(0);
    await clock.advance(3000);
    expect(n).toBe(3);
  });

  it('the scheduler check reports the scheduler’s state', async () => {
    store = await adapter.open();
    const { runtime, clock } = harness();
    scheduler = createScheduler({ store, runtime, nodeId: 'n1' });
    const health = createHealthChecks({ clock });
    health.register(schedulerRunningCheck(scheduler));
    expect((await health.run()).reasons).toEqual(['scheduler: the scheduler is not running (idle)']);
    await scheduler.start();
    expect((await health.run()).status).toBe('healthy');
    await scheduler.shutdown();
    expect((await health.run()).reasons).toEqual(['scheduler: the scheduler is not running (stopped)']);
  });
});

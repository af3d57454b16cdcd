import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/runtime/clock.js';
import { openStore, type Store } from '../../../src/store/index.js';
import {
  createQueueClient,
  createWorker,
  defineQueue,
  type ClaimedTask,
  type QueueClient,
  type QueueDefinition,
  type Worker,
} from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { eventually, gate } from './support.js';

describe.each(adapters)('task queue limits ($name)', (adapter) => {
  let url: string;
  let stores: Store[];
  let clock: VirtualClock;
  let client: QueueClient;
  let workers: Worker[];

  beforeEach(async () => {
    url = adapter.freshUrl();
    // Two handles on one database: on PostgreSQL two pools, as two processes would have.
    stores = [await openStore(url), await openStore(url)];
    clock = new VirtualClock();
    client = createQueueClient({ store: stores[0]!, clock });
    workers = [];
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.stop({ timeoutMs: 0 })));
    for (const s of stores) await s.close();
  });

  /** Two workers, one per store handle, each allowed far more than the queue's limit. */
  function twoWorkers(queue: QueueDefinition, handler: (t: ClaimedTask) => Promise<void>): Worker[] {
    workers = stores.map((store, i) =>
      createWorker({ store, clock, queues: queue, concurrency: 10, workerId: `w${i}`, handler }),
    );
    return workers;
  }

  it('a queue concurrency limit holds across workers on separate connections', async () => {
    const q = defineQueue({ name: 'limited', concurrency: 3 });
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    twoWorkers(q, async () => {
      running++;
      most = Math.max(most, running);
      const g = gate();
      gates.push(g.open);
      await g.promise;
      running--;
    });
    await client.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ queue: q, payload: i })));
    for (const w of workers) await w.start();
    await eventually(() => running === 3, 'three run');
    let released = 0;
    while (released < 12) {
      await eventually(() => gates.length > released, 'another task starts once one finishes');
      gates[released++]!();
    }
    await eventually(() => workers.reduce((n, w) => n + w.counters.completed, 0) === 12, 'all complete');
    expect(most).toBe(3);
    // Both workers took part (SQLite wakes only the workers of the handle that enqueued or completed).
    if (adapter.name === 'postgres') expect(workers.every((w) => w.counters.completed > 0)).toBe(true);
  });

  it('a per-group concurrency limit runs one task per group at a time, groups in parallel', async () => {
    const q = defineQueue({ name: 'per-tenant', groupConcurrency: 1 });
    const runningByGroup = new Map<string, number>();
    let mostInOneGroup = 0;
    let mostOverall = 0;
    const gates: Array<() => void> = [];
    twoWorkers(q, async (t) => {
      const g = t.groupKey ?? '';
      runningByGroup.set(g, (runningByGroup.get(g) ?? 0) + 1);
      mostInOneGroup = Math.max(mostInOneGroup, runningByGroup.get(g)!);
      mostOverall = Math.max(
        mostOverall,
        [...runningByGroup.values()].reduce((a, b) => a + b, 0),
      );
      const open = gate();
      gates.push(open.open);
      await open.promise;
      runningByGroup.set(g, runningByGroup.get(g)! - 1);
    });
    const items = [];
    for (const group of ['a', 'b', 'c'])
      for (let i = 0; i < 3; i++) items.push({ queue: q, payload: i, groupKey: group });
    await client.enqueueMany(items);
    for (const w of workers) await w.start();
    await eventually(() => gates.length === 3, 'one task of each group runs');
    let released = 0;
    while (released < 9) {
      await eventually(() => gates.length > released, 'the next task starts');
      gates[released++]!();
    }
    await eventually(() => workers.reduce((n, w) => n + w.counters.completed, 0) === 9, 'all complete');
    expect(mostInOneGroup).toBe(1);
    expect(mostOverall).toBe(3);
  });

  it('a queue rate limit starts no more than its tokens allow, refilling over time', async () => {
    const q = defineQueue({ name: 'rated', rateLimit: { limit: 2, intervalMs: 1000 } });
    const started: number[] = [];
    twoWorkers(q, async () => {
      started.push(clock.now());
    });
    await client.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ queue: q, payload: i })));
    for (const w of workers) await w.start();
    await eventually(() => started.length === 2, 'a burst of two');
    // Idle workers wait for the next token: 1000 ms / 2 = one every 500 ms.
    await clock.advance(500);
    await eventually(() => started.length === 3, 'one more after half an interval');
    await clock.advance(500);
    await eventually(() => started.length === 4, 'and another');
    await clock.advance(1000);
    await eventually(() => started.length === 6, 'two more after a whole interval');
    expect(started.filter((t) => t === started[0]).length).toBe(2);
  });

  it('a per-group rate limit throttles each group on its own', async () => {
    const q = defineQueue({ name: 'rated-groups', groupRateLimit: { limit: 1, intervalMs: 1000 } });
    const started: string[] = [];
    twoWorkers(q, async (t) => {
      started.push(t.groupKey ?? '');
    });
    const items = [];
    for (const group of ['a', 'b'])
      for (let i = 0; i < 2; i++) items.push({ queue: q, payload: i, groupKey: group });
    await client.enqueueMany(items);
    for (const w of workers) await w.start();
    await eventually(() => started.length === 2, 'one task per group');
    expect([...started].sort()).toEqual(['a', 'b']);
    await clock.advance(1000);
    await eventually(() => started.length === 4, 'the second of each group after an interval');
  });

  it('claims by hand respect the limits too', async () => {
    const q = defineQueue({ name: 'manual', concurrency: 2 });
    await client.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ queue: q, payload: i })));
    const first = await client.claim(q, { limit: 5 });
    expect(first).toHaveLength(2);
    expect(await client.claim(q, { limit: 5 })).toHaveLength(0);
    await client.complete(first[0]!);
    expect(await client.claim(q, { limit: 5 })).toHaveLength(1);
  });
});

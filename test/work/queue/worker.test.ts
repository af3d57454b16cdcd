import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { VirtualClock } from '../../../src/runtime/clock.js';
import type { Store } from '../../../src/store/index.js';
import {
  createQueueClient,
  createWorker,
  defineQueue,
  isQueueError,
  type ClaimedTask,
  type QueueClient,
  type Worker,
  type WorkerOptions,
} from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { countTasks, eventually, gate, nextIdle } from './support.js';

describe.each(adapters)('task queue worker ($name)', (adapter) => {
  let store: Store;
  let clock: VirtualClock;
  let client: QueueClient;
  const workers: Array<Worker<never>> = [];

  const worker = <P>(options: Omit<WorkerOptions<P>, 'store' | 'clock'>): Worker<P> => {
    const w = createWorker<P>({ store, clock, ...options });
    workers.push(w);
    return w;
  };

  beforeEach(async () => {
    store = await adapter.open();
    clock = new VirtualClock();
    client = createQueueClient({ store, clock });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop({ timeoutMs: 0 })));
    await store.close();
  });

  it('runs every queued task once and deletes it when completed', async () => {
    const seen: number[] = [];
    await client.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ queue: 'work', payload: i })));
    const w = worker({
      queues: 'work',
      concurrency: 8,
      batchSize: 50,
      handler: (t: ClaimedTask<number>) => void seen.push(t.payload),
    });
    await w.start();
    await eventually(() => w.counters.completed === 300, 'all 300 complete');
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(w.counters).toMatchObject({ claimed: 300, started: 300, completed: 300, failed: 0, leaseLost: 0 });
    expect(await countTasks(store)).toBe(0);
  });

  it('never runs more handlers at once than its concurrency', async () => {
    let running = 0;
    let most = 0;
    const release = gate();
    await client.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ queue: 'c', payload: i })));
    const w = worker({
      queues: 'c',
      concurrency: 3,
      handler: async () => {
        running++;
        most = Math.max(most, running);
        await release.promise;
        running--;
      },
    });
    await w.start();
    await eventually(() => running === 3, 'three handlers run');
    release.open();
    await eventually(() => w.counters.completed === 20, 'all complete');
    expect(most).toBe(3);
  });

  it('an idle worker is woken by an enqueue at once, without waiting for its poll', async () => {
    const done: string[] = [];
    const w = worker({
      queues: 'wake',
      pollIntervalMs: 3_600_000,
      handler: (t: ClaimedTask<string>) => void done.push(t.payload),
    });
    const idle = nextIdle(w);
    await w.start();
    await idle;
    // A second client, so the task goes through the store and the wake-up channel, not a hand-off.
    const other = createQueueClient({ store, clock, localHandoff: false });
    await other.enqueue('wake', 'now');
    await eventually(() => done.length === 1, 'the task runs without the clock moving');
    await other.enqueueMany([{ queue: 'wake', payload: 'bulk' }]);
    await eventually(() => done.length === 2, 'a bulk enqueue wakes it too');
  });

  it('hands a task enqueued in the same process straight to an idle worker, leased in the enqueue', async () => {
    const started = gate();
    let seen: ClaimedTask | undefined;
    const w = worker({
      queues: 'local',
      workerId: 'local-worker',
      handler: async (t: ClaimedTask, ctx) => {
        seen = t;
        started.open();
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      },
    });
    const idle = nextIdle(w);
    await w.start();
    await idle;
    const enqueued = await client.enqueue('local', { n: 1 });
    expect(enqueued.state).toBe('running');
    await started.promise;
    expect(seen).toMatchObject({ id: enqueued.id, attempt: 1, token: 1, payload: { n: 1 } });
    expect(await client.getTask(enqueued.id)).toMatchObject({
      state: 'running',
      leasedBy: 'local-worker',
      token: 1,
    });
  });

  it('runs a delayed task when its time comes', async () => {
    const done: string[] = [];
    const w = worker({ queues: 'later', handler: (t: ClaimedTask<string>) => void done.push(t.payload) });
    const idle = nextIdle(w);
    await w.start();
    await idle;
    await client.enqueue('later', 'in-five-seconds', { delayMs: 5000 });
    await clock.advance(4000);
    expect(done).toEqual([]);
    await clock.advance(1000);
    await eventually(() => done.length === 1, 'the delayed task runs');
  });

  it('works several queues with one worker, each with its own schema', async () => {
    const a = defineQueue({ name: 'qa', schema: z.object({ a: z.number() }) });
    const b = defineQueue({ name: 'qb', schema: z.object({ b: z.string() }) });
    const seen: string[] = [];
    await client.enqueue(a, { a: 1 });
    await client.enqueue(b, { b: 'x' });
    const w = worker({ queues: [a, b], handler: (t: ClaimedTask) => void seen.push(t.queue) });
    await w.start();
    await eventually(() => seen.length === 2, 'both queues are worked');
    expect(seen.sort()).toEqual(['qa', 'qb']);
  });

  it('reports what it does through events and counters', async () => {
    const events: string[] = [];
    const w = worker({
      queues: 'ev',
      handler: (t: ClaimedTask<string>) => {
        if (t.payload === 'bad') throw new Error('boom');
      },
    });
    for (const name of ['claimed', 'completed', 'failed', 'dead'] as const)
      w.on(name, () => events.push(name));
    await client.enqueue('ev', 'good');
    await client.enqueue('ev', 'bad', { maxAttempts: 1 });
    await w.start();
    await eventually(() => w.counters.completed === 1 && w.counters.dead === 1, 'one completes, one dies');
    expect(events.filter((e) => e === 'completed')).toHaveLength(1);
    expect(events.filter((e) => e === 'failed')).toHaveLength(1);
    expect(events.filter((e) => e === 'dead')).toHaveLength(1);
    expect(w.counters).toMatchObject({ claimed: 2, completed: 1, failed: 1, dead: 1, retried: 0 });
  });

  it('a graceful stop gives unstarted tasks back, waits for running handlers and commits their completions', async () => {
    const release = gate();
    const started: number[] = [];
    await client.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ queue: 'stop', payload: i })));
    const w = worker({
      queues: 'stop',
      concurrency: 2,
      batchSize: 10,
      handler: async (t: ClaimedTask<number>) => {
        started.push(t.id);
        await release.promise;
      },
    });
    await w.start();
    await eventually(() => started.length === 2 && w.holding === 10, 'two run, eight are buffered');
    const stopping = w.stop();
    await eventually(
      async () => (await countTasks(store, 'queued')) === 8,
      'the buffered tasks go back to the queue',
    );
    expect(w.state).toBe('stopping');
    release.open();
    await stopping;
    expect(w.state).toBe('stopped');
    expect(w.counters).toMatchObject({ completed: 2, released: 8 });
    const left = await client.listTasks({ queue: 'stop' });
    expect(left).toHaveLength(8);
    // A given-back task did not use up an attempt.
    expect(left.every((t) => t.state === 'queued' && t.attempts === 0 && t.leaseUntil === null)).toBe(true);
  });

  it('a stop past its deadline aborts running handlers and gives their tasks back', async () => {
    const reasons: unknown[] = [];
    await client.enqueue('stuck', 'forever');
    const w = worker({
      queues: 'stuck',
      handler: (_t, ctx) =>
        new Promise<void>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    await w.start();
    await eventually(() => w.counters.started === 1, 'the handler starts');
    const stopping = w.stop({ timeoutMs: 5000 });
    await clock.advance(4999);
    expect(reasons).toEqual([]);
    await clock.advance(1);
    await stopping;
    expect(isQueueError(reasons[0], 'worker_stopped')).toBe(true);
    const [task] = await client.listTasks({ queue: 'stuck' });
    expect(task).toMatchObject({ state: 'queued', attempts: 1, leaseUntil: null });
    // Another worker picks it up at once.
    expect(await client.claim('stuck')).toHaveLength(1);
  });

  it('a stopped worker claims nothing more', async () => {
    const w = worker({ queues: 'after', handler: () => undefined });
    await w.start();
    await w.stop();
    await client.enqueue('after', 1);
    await clock.advance(60_000);
    expect(await countTasks(store, 'queued')).toBe(1);
    await expect(w.start()).rejects.toMatchObject({ code: 'worker_stopped' });
  });

  it('invalid worker options are refused', () => {
    expect(() => createWorker({ store, queues: 'q', concurrency: 0, handler: () => undefined })).toThrow(
      /concurrency/,
    );
    expect(() => createWorker({ store, queues: [], handler: () => undefined })).toThrow(/at least one queue/);
    expect(() => createWorker({ store, queues: ['q', 'q'], handler: () => undefined })).toThrow(/twice/);
  });
});

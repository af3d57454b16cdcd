import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/runtime/clock.js';
import type { Store } from '../../../src/store/index.js';
import {
  createQueueClient,
  createWorker,
  defineQueue,
  PermanentTaskError,
  type QueueClient,
  type Worker,
  type WorkerEvents,
} from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { countTasks, eventually } from './support.js';

describe.each(adapters)('task retries and dead letters ($name)', (adapter) => {
  let store: Store;
  let clock: VirtualClock;
  let client: QueueClient;
  let worker: Worker | undefined;

  // No jitter: random() = 0.5 scales every delay by exactly 1.
  const flaky = defineQueue({
    name: 'flaky',
    maxAttempts: 3,
    backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.5 },
  });

  beforeEach(async () => {
    store = await adapter.open();
    clock = new VirtualClock();
    client = createQueueClient({ store, clock, queues: [flaky] });
  });
  afterEach(async () => {
    await worker?.stop({ timeoutMs: 0 });
    worker = undefined;
    await store.close();
  });

  it('retries a failing task with exponential backoff, then sends it to the dead letters', async () => {
    const failures: Array<WorkerEvents['failed']> = [];
    const dead: Array<WorkerEvents['dead']> = [];
    worker = createWorker({
      store,
      clock,
      queues: flaky,
      random: () => 0.5,
      handler: (t) => {
        throw new Error(`attempt ${t.attempt} failed`);
      },
    });
    worker.on('failed', (e) => failures.push(e));
    worker.on('dead', (e) => dead.push(e));
    const { id } = await client.enqueue(flaky, { job: 1 });
    const t0 = clock.now();
    await worker.start();

    await eventually(() => failures.length === 1, 'the first attempt fails');
    expect(failures[0]!.retryAt).toBe(t0 + 1000);
    expect(await client.getTask(id)).toMatchObject({
      state: 'queued',
      attempts: 1,
      runAt: t0 + 1000,
      lastError: 'Error: attempt 1 failed',
    });

    await clock.advance(999);
    expect(failures).toHaveLength(1);
    await clock.advance(1);
    await eventually(() => failures.length === 2, 'the second attempt fails after 1 s');
    expect(failures[1]!.retryAt).toBe(t0 + 1000 + 2000);

    await clock.advance(2000);
    await eventually(() => dead.length === 1, 'the third attempt fails and the task dies');
    expect(failures[2]!.retryAt).toBeUndefined();
    expect(await client.getTask(id)).toMatchObject({
      state: 'dead',
      attempts: 3,
      lastError: 'Error: attempt 3 failed',
    });
    expect(worker.counters).toMatchObject({ failed: 3, retried: 2, dead: 1, completed: 0 });
  });

  it('jitter spreads retry delays within the configured band', () => {
    const delays = [0, 0.25, 0.5, 0.75, 0.999].map((r) => flaky.retryDelay(3, () => r));
    // attempt 3 → 1000 × 2² = 4000 ms, ±50 %
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(6000);
    expect(new Set(delays).size).toBe(5);
    expect(flaky.retryDelay(30, () => 0.5)).toBe(60_000);
  });

  it('a permanent error sends the task to the dead letters at once', async () => {
    worker = createWorker({
      store,
      clock,
      queues: flaky,
      handler: () => {
        throw new PermanentTaskError('the input can never work');
      },
    });
    const { id } = await client.enqueue(flaky, {});
    await worker.start();
    await eventually(() => worker!.counters.dead === 1, 'the task dies');
    expect(await client.getTask(id)).toMatchObject({ state: 'dead', attempts: 1 });
  });

  it('dead letters can be listed, retried with their attempts reset, and purged', async () => {
    let failing = true;
    const done: number[] = [];
    worker = createWorker({
      store,
      clock,
      queues: 'dlq',
      handler: (t) => {
        if (failing) throw new Error('down');
        done.push(t.id);
      },
    });
    const tasks = await client.enqueueMany(
      [1, 2, 3].map((payload) => ({ queue: 'dlq', payload, maxAttempts: 1 })),
    );
    await worker.start();
    await eventually(() => worker!.counters.dead === 3, 'all three die');

    const dead = await client.listDead({ queue: 'dlq' });
    expect(dead.map((t) => t.id)).toEqual(tasks.map((t) => t.id));
    expect(dead.every((t) => t.state === 'dead' && t.lastError === 'Error: down')).toBe(true);
    expect(await client.listDead({ queue: 'dlq', limit: 1, afterId: tasks[0]!.id })).toHaveLength(1);

    failing = false;
    expect(await client.retryDead({ ids: [tasks[0]!.id, tasks[1]!.id] })).toBe(2);
    await eventually(() => done.length === 2, 'the retried tasks run again');
    expect(done.sort()).toEqual([tasks[0]!.id, tasks[1]!.id]);

    expect(await client.purgeDead({ queue: 'dlq' })).toBe(1);
    expect(await countTasks(store)).toBe(0);
  });

  it('retrying all dead letters of a queue resets their attempts', async () => {
    const { id } = await client.enqueue('dead-q', 1, { maxAttempts: 1 });
    const [t] = await client.claim('dead-q');
    expect(await client.fail(t!, new Error('x'))).toBe('dead');
    expect(await client.retryDead({ queue: 'dead-q' })).toBe(1);
    expect(await client.getTask(id)).toMatchObject({
      state: 'queued',
      attempts: 0,
      runAt: clock.now(),
      finishedAt: null,
    });
  });

  it('purging dead letters by age keeps the recent ones', async () => {
    await client.enqueue('age', 'old', { maxAttempts: 1 });
    const [old] = await client.claim('age');
    await client.fail(old!, new Error('x'));
    await clock.advance(10_000);
    await client.enqueue('age', 'new', { maxAttempts: 1 });
    const [recent] = await client.claim('age');
    await client.fail(recent!, new Error('x'));
    expect(await client.purgeDead({ queue: 'age', olderThanMs: 5000 })).toBe(1);
    expect((await client.listDead({ queue: 'age' })).map((t) => t.payload)).toEqual(['new']);
  });

  it('a queue that keeps completed tasks keeps them until the retention purge', async () => {
    const audit = defineQueue({ name: 'audit', keepCompleted: true });
    worker = createWorker({ store, clock, queues: audit, workerId: 'W', handler: () => undefined });
    const { id } = await client.enqueue(audit, { n: 1 });
    await worker.start();
    await eventually(() => worker!.counters.completed === 1, 'the task completes');
    expect(await client.getTask(id)).toMatchObject({
      state: 'completed',
      finishedAt: clock.now(),
      leasedBy: 'W',
    });
    expect(await client.purgeFinished({ queue: 'audit', olderThanMs: 60_000 })).toBe(0);
    await clock.advance(60_001);
    expect(await client.purgeFinished({ queue: 'audit', olderThanMs: 60_000 })).toBe(1);
    expect(await client.getTask(id)).toBeUndefined();
  });

  it('a completed task with an idempotency key is kept, so the key goes on deduplicating', async () => {
    const first = await client.enqueue('once', 'a', { idempotencyKey: 'k' });
    const [t] = await client.claim('once');
    await client.complete(t!);
    expect(await client.getTask(first.id)).toMatchObject({ state: 'completed' });
    expect(await client.enqueue('once', 'b', { idempotencyKey: 'k' })).toEqual({
      id: first.id,
      queue: 'once',
      state: 'completed',
      created: false,
    });
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/runtime/clock.js';
import type { Store } from '../../../src/store/index.js';
import {
  createQueueClient,
  createWorker,
  isQueueError,
  type QueueClient,
  type Worker,
} from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { eventually, nextIdle } from './support.js';

describe.each(adapters)('task cancellation ($name)', (adapter) => {
  let store: Store;
  let clock: VirtualClock;
  let client: QueueClient;
  let worker: Worker | undefined;

  beforeEach(async () => {
    store = await adapter.open();
    clock = new VirtualClock();
    client = createQueueClient({ store, clock });
  });
  afterEach(async () => {
    await worker?.stop({ timeoutMs: 0 });
    worker = undefined;
    await store.close();
  });

  it('a cancelled queued task never runs', async () => {
    const ran: number[] = [];
    const { id } = await client.enqueue('q', 'x');
    expect(await client.cancel(id)).toBe('cancelled');
    worker = createWorker({ store, clock, queues: 'q', handler: (t) => void ran.push(t.id) });
    const idle = nextIdle(worker);
    await worker.start();
    await idle;
    expect(ran).toEqual([]);
    expect(await client.getTask(id)).toMatchObject({ state: 'cancelled', finishedAt: clock.now() });
  });

  it("cancelling a running task aborts its handler's signal and records nothing more for it", async () => {
    const reasons: unknown[] = [];
    worker = createWorker({
      store,
      clock,
      queues: 'q',
      handler: (_t, ctx) =>
        new Promise<void>((resolve) => {
          // A handler that ignores the reason and returns normally: its completion must not count.
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve();
          });
        }),
    });
    const { id } = await client.enqueue('q', 'x');
    await worker.start();
    await eventually(() => worker!.counters.started === 1, 'the handler starts');
    expect(await client.cancel(id)).toBe('cancelled');
    await eventually(() => reasons.length === 1, 'the handler is aborted');
    expect(isQueueError(reasons[0], 'task_cancelled')).toBe(true);
    await eventually(() => worker!.holding === 0, 'the worker lets go of the task');
    expect(worker.counters).toMatchObject({ cancelled: 1, completed: 0, leaseLost: 0 });
    expect(await client.getTask(id)).toMatchObject({ state: 'cancelled' });
  });

  it('a worker that missed the cancel wake-up learns of it at its next renewal', async () => {
    const reasons: unknown[] = [];
    // This worker listens on another store handle for the same database, so the wake-up sent by a
    // SQLite store does not reach it (SQLite wake-ups are in-process per handle); renewal must catch it.
    const other = adapter.name === 'sqlite' ? store : await adapter.open();
    worker = createWorker({
      store,
      clock,
      queues: 'q',
      leaseMs: 3000,
      handler: (_t, ctx) =>
        new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve();
          }),
        ),
    });
    await client.enqueue('q', 'x');
    await worker.start();
    await eventually(() => worker!.counters.started === 1, 'the handler starts');
    // Cancel behind the worker's back, without any wake-up.
    await store.transaction((tx) =>
      tx.execute(`UPDATE garrison_tasks SET state = 'cancelled' WHERE queue = 'q'`),
    );
    await clock.advance(1000);
    await eventually(() => reasons.length === 1, 'the renewal finds the task cancelled');
    expect(isQueueError(reasons[0], 'task_cancelled')).toBe(true);
    expect(worker.counters).toMatchObject({ cancelled: 1, leaseLost: 0 });
    if (other !== store) await other.close();
  });

  it('a finished task cannot be cancelled, and an unknown id is reported', async () => {
    const { id } = await client.enqueue('q', 'x', { maxAttempts: 1 });
    const [t] = await client.claim('q');
    await client.fail(t!, new Error('x'));
    expect(await client.cancel(id)).toBe('dead');
    await expect(client.cancel(987654)).rejects.toMatchObject({ code: 'task_not_found' });
  });

  it('the handler of a cancelled task cannot complete it', async () => {
    const { id } = await client.enqueue('q', 'x');
    const [t] = await client.claim('q');
    await client.cancel(id);
    await expect(client.complete(t!)).rejects.toMatchObject({ code: 'task_cancelled' });
    expect((await client.stats('q')).leaseLost).toBe(0);
  });
});

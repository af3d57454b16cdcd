import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/runtime/clock.js';
import type { Store } from '../../../src/store/index.js';
import {
  createQueueClient,
  createWorker,
  isQueueError,
  LeaseLostError,
  type QueueClient,
  type WorkerEvents,
} from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { eventually, gate, nextIdle } from './support.js';

describe.each(adapters)('task leases and fencing ($name)', (adapter) => {
  let store: Store;
  let clock: VirtualClock;
  let client: QueueClient;

  beforeEach(async () => {
    store = await adapter.open();
    clock = new VirtualClock();
    client = createQueueClient({ store, clock });
  });
  afterEach(async () => {
    await store.close();
  });

  it('a claim leases the task with a new fencing token and counts the attempt', async () => {
    const { id } = await client.enqueue('q', 'x');
    const [task] = await client.claim('q', { leaseMs: 1000, workerId: 'A' });
    expect(task).toMatchObject({ id, attempt: 1, token: 1 });
    expect(await client.getTask(id)).toMatchObject({
      state: 'running',
      leasedBy: 'A',
      leaseUntil: clock.now() + 1000,
      attempts: 1,
      token: 1,
    });
    expect(await client.claim('q', { workerId: 'B' })).toEqual([]);
  });

  it('an expired lease is taken over by the next claim with a higher token', async () => {
    const { id } = await client.enqueue('q', 'x');
    const [a] = await client.claim('q', { leaseMs: 1000, workerId: 'A' });
    await clock.advance(999);
    expect(await client.claim('q', { workerId: 'B' })).toEqual([]);
    await clock.advance(2);
    const [b] = await client.claim('q', { leaseMs: 1000, workerId: 'B' });
    expect(b).toMatchObject({ id, attempt: 2 });
    expect(b!.token).toBeGreaterThan(a!.token);
    const task = await client.getTask(id);
    expect(task).toMatchObject({ state: 'running', leasedBy: 'B' });
    expect(task?.lastError).toMatch(/lease of attempt 1 held by A expired/);
  });

  it('a late completion after a takeover is rejected with lease_lost and counted in the store', async () => {
    const { id } = await client.enqueue('q', 'x');
    const [a] = await client.claim('q', { leaseMs: 1000, workerId: 'A' });
    await clock.advance(1001);
    const [b] = await client.claim('q', { leaseMs: 1000, workerId: 'B' });

    const late = await client.complete(a!).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(LeaseLostError);
    expect(isQueueError(late, 'lease_lost')).toBe(true);
    await expect(client.fail(a!, new Error('late failure'))).rejects.toMatchObject({ code: 'lease_lost' });
    await expect(client.renew(a!)).rejects.toMatchObject({ code: 'lease_lost' });
    expect(await client.getTask(id)).toMatchObject({ state: 'running', leasedBy: 'B', token: b!.token });
    expect((await client.stats('q')).leaseLost).toBe(3);

    await client.complete(b!);
    expect(await client.getTask(id)).toBeUndefined();
  });

  it('a completion after the lease expired but before any takeover is still accepted', async () => {
    const { id } = await client.enqueue('q', 'x');
    const [a] = await client.claim('q', { leaseMs: 1000 });
    await clock.advance(5000);
    await client.complete(a!);
    expect(await client.getTask(id)).toBeUndefined();
  });

  it('renewing a lease keeps other claimers away past its first expiry', async () => {
    await client.enqueue('q', 'x');
    const [a] = await client.claim('q', { leaseMs: 1000, workerId: 'A' });
    await clock.advance(800);
    await client.renew(a!, 1000);
    await clock.advance(800);
    expect(await client.claim('q', { workerId: 'B' })).toEqual([]);
  });

  it('an expired lease on the last attempt sends the task to the dead letters', async () => {
    const { id } = await client.enqueue('q', 'x', { maxAttempts: 1 });
    await client.claim('q', { leaseMs: 1000, workerId: 'A' });
    await clock.advance(1001);
    expect(await client.claim('q', { workerId: 'B' })).toEqual([]);
    expect(await client.getTask(id)).toMatchObject({ state: 'dead', attempts: 1 });
  });

  it('a worker whose lease was taken over has its completion rejected, counted and reported', async () => {
    // Worker A's clock never moves: it never renews, like a process paused past its lease.
    const slow = gate();
    const aStarted = gate();
    const a = createWorker({
      store,
      clock: new VirtualClock(clock.now()),
      queues: 'q',
      leaseMs: 1000,
      workerId: 'A',
      handler: async () => {
        aStarted.open();
        await slow.promise;
      },
    });
    const lost: Array<WorkerEvents['leaseLost']> = [];
    a.on('leaseLost', (e) => lost.push(e));
    const { id } = await client.enqueue('q', 'x');
    await a.start();
    await aStarted.promise;

    const bClock = new VirtualClock(clock.now());
    const done: number[] = [];
    const b = createWorker({
      store,
      clock: bClock,
      queues: 'q',
      leaseMs: 1000,
      workerId: 'B',
      handler: () => {},
    });
    b.on('completed', (e) => done.push(e.task.token));
    const bIdle = nextIdle(b);
    await b.start();
    await bIdle;
    await bClock.advance(1100);
    await eventually(() => done.length === 1, 'B completes the task it took over');

    slow.open();
    await eventually(() => lost.length === 1, 'A learns its lease was lost');
    expect(lost[0]!.task.id).toBe(id);
    expect(lost[0]!.error.code).toBe('lease_lost');
    expect(a.counters).toMatchObject({ completed: 0, leaseLost: 1 });
    expect(b.counters).toMatchObject({ completed: 1 });
    await eventually(
      async () => (await client.stats('q')).leaseLost === 1,
      'the loss is counted in the store',
    );
    await a.stop();
    await b.stop();
  });

  it("a worker's heartbeat renews every held lease so no one takes them over", async () => {
    const hold = gate();
    const started: number[] = [];
    const a = createWorker({
      store,
      clock,
      queues: 'q',
      leaseMs: 3000,
      concurrency: 2,
      workerId: 'A',
      handler: async (t) => {
        started.push(t.id);
        await hold.promise;
      },
    });
    await client.enqueueMany([1, 2].map((payload) => ({ queue: 'q', payload })));
    await a.start();
    await eventually(() => started.length === 2, 'both tasks start');
    for (let i = 0; i < 5; i++) {
      await clock.advance(1000);
      await eventually(
        async () => (await client.listTasks({ queue: 'q' })).every((t) => t.leaseUntil! > clock.now() + 1000),
        'leases renewed',
      );
    }
    expect(await client.claim('q', { workerId: 'B', limit: 5 })).toEqual([]);
    hold.open();
    await eventually(() => a.counters.completed === 2, 'both complete');
    await a.stop();
  });

  it("a running handler's signal aborts with lease_lost when a renewal finds the lease gone", async () => {
    const aborted: unknown[] = [];
    const a = createWorker({
      store,
      clock,
      queues: 'q',
      leaseMs: 3000,
      workerId: 'A',
      handler: (_t, ctx) =>
        new Promise<void>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.push(ctx.signal.reason);
            resolve();
          });
        }),
    });
    await client.enqueue('q', 'x');
    await a.start();
    await eventually(() => a.counters.started === 1, 'the task starts');
    // Another claimer takes the task over behind A's back (its clock is far ahead).
    const ahead = createQueueClient({ store, clock: new VirtualClock(clock.now() + 60_000) });
    expect(await ahead.claim('q', { workerId: 'B' })).toHaveLength(1);
    await clock.advance(1000);
    await eventually(() => aborted.length === 1, 'the handler is aborted');
    expect(isQueueError(aborted[0], 'lease_lost')).toBe(true);
    await eventually(() => a.counters.leaseLost === 1, 'the loss is counted');
    await a.stop();
  });
});

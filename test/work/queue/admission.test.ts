import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResourceExhaustedError } from '../../../src/governance/index.js';
import { VirtualClock } from '../../../src/runtime/clock.js';
import type { Store } from '../../../src/store/index.js';
import {
  admitEnqueues,
  createQueueClient,
  defineQueue,
  QueueFullError,
  type QueueClient,
} from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { countTasks } from './support.js';

describe.each(adapters)('enqueue admission ($name)', (adapter) => {
  let store: Store;
  let clock: VirtualClock;
  let client: QueueClient;

  beforeEach(async () => {
    store = await adapter.open();
    clock = new VirtualClock();
    client = createQueueClient({ store, clock, localHandoff: false });
  });
  afterEach(async () => {
    await store.close();
  });

  it('refuses an enqueue past maxQueued waiting tasks with queue_full, retryable, and writes nothing', async () => {
    const admitted = admitEnqueues(client, { store, clock, maxQueued: 3 });
    for (let i = 0; i < 3; i++) await admitted.enqueue('mail', { i });
    const refused = await admitted.enqueue('mail', { i: 3 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(refused).toMatchObject({
      code: 'queue_full',
      retryable: true,
      details: { queue: 'mail', limit: 3, waiting: 3 },
    });
    expect(await countTasks(store)).toBe(3);
    // Another queue has its own bound; the plain client has none.
    await admitted.enqueue('other', {});
    await client.enqueue('mail', { i: 4 });
    expect(await countTasks(store)).toBe(5);
  });

  it('admits again once tasks have left the queue and the count is stale', async () => {
    const admitted = admitEnqueues(client, { store, clock, maxQueued: 2, depthTtlMs: 200 });
    await admitted.enqueue('mail', {});
    await admitted.enqueue('mail', {});
    await expect(admitted.enqueue('mail', {})).rejects.toMatchObject({ code: 'queue_full' });
    const [claimed] = await client.claim('mail');
    await client.complete(claimed!);
    // The last count is reused for depthTtlMs: still full.
    await expect(admitted.enqueue('mail', {})).rejects.toMatchObject({ code: 'queue_full' });
    await clock.advance(200);
    // Stale: the old reading would refuse, so the enqueue waits for the fresh count, which admits it.
    await expect(admitted.enqueue('mail', {})).resolves.toMatchObject({ created: true });
    await expect(admitted.enqueue('mail', {})).rejects.toMatchObject({ code: 'queue_full' });
    expect(await countTasks(store, 'queued')).toBe(2);
  });

  it('counts every task of a bulk enqueue against its own queue, and refuses the whole batch past a bound', async () => {
    const admitted = admitEnqueues(client, { store, clock, maxQueued: 3, depthTtlMs: 0 });
    const mail = defineQueue({ name: 'mail' });
    await admitted.enqueueMany([
      { queue: mail, payload: 1 },
      { queue: 'mail', payload: 2 },
      { queue: 'sms', payload: 3 },
    ]);
    await expect(
      admitted.enqueueMany([
        { queue: 'sms', payload: 4 },
        { queue: 'mail', payload: 5 },
        { queue: 'mail', payload: 6 },
      ]),
    ).rejects.toMatchObject({ code: 'queue_full', details: { queue: 'mail', waiting: 2 } });
    expect(await countTasks(store)).toBe(3);
  });

  it('counts afresh inside the caller transaction', async () => {
    const admitted = admitEnqueues(client, { store, clock, maxQueued: 2 });
    await admitted.enqueue('mail', {});
    const refused = await store
      .transaction(async (tx) => {
        await client.enqueue('mail', {}, { tx });
        await admitted.enqueue('mail', {}, { tx });
      })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'queue_full', details: { waiting: 2 } });
    expect(await countTasks(store)).toBe(1);
  });

  it('refuses with the guard error while the guard throws, trusting a pass for guardTtlMs', async () => {
    let full = false;
    let checks = 0;
    const admitted = admitEnqueues(client, {
      store,
      clock,
      guardTtlMs: 100,
      guard: () => {
        checks++;
        if (full) throw new ResourceExhaustedError('heap_bytes', 100, 101, 0);
      },
    });
    await admitted.enqueue('mail', {});
    full = true;
    await admitted.enqueue('mail', {}); // the pass of the first enqueue is trusted for 100 ms
    expect(checks).toBe(1);
    await clock.advance(100);
    await expect(admitted.enqueue('mail', {})).rejects.toMatchObject({ code: 'resource_exhausted' });
    await expect(admitted.enqueueMany([{ queue: 'mail', payload: 1 }])).rejects.toMatchObject({
      code: 'resource_exhausted',
    });
    expect(checks).toBe(3);
    full = false;
    await admitted.enqueue('mail', {});
    expect(await countTasks(store)).toBe(3);
  });

  it('validates its options', () => {
    expect(() => admitEnqueues(client, { store, maxQueued: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
  });
});

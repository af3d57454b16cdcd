import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isGarrisonError } from '../../../src/errors.js';
import { VirtualClock } from '../../../src/runtime/clock.js';
import type { Store } from '../../../src/store/index.js';
import { createQueueClient, defineQueue, type QueueClient } from '../../../src/work/index.js';
import { adapters } from '../../support/stores.js';
import { countTasks } from './support.js';

describe.each(adapters)('task queue enqueue ($name)', (adapter) => {
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

  it('stores an enqueued task as queued with its options', async () => {
    const enqueued = await client.enqueue(
      'mail',
      { to: 'a@example.com' },
      { priority: 3, maxAttempts: 7, groupKey: 'tenant-1' },
    );
    expect(enqueued).toMatchObject({ queue: 'mail', state: 'queued', created: true });
    const task = await client.getTask(enqueued.id);
    expect(task).toMatchObject({
      id: enqueued.id,
      queue: 'mail',
      state: 'queued',
      payload: { to: 'a@example.com' },
      priority: 3,
      maxAttempts: 7,
      attempts: 0,
      token: 0,
      groupKey: 'tenant-1',
      idempotencyKey: null,
      runAt: clock.now(),
      createdAt: clock.now(),
      leaseUntil: null,
    });
  });

  it('keeps payloads of every JSON shape intact', async () => {
    const payloads = [null, 0, 'text', [1, 'two', { three: 3 }], { nested: { deep: [true, false, null] } }];
    const ids = [];
    for (const p of payloads) ids.push((await client.enqueue('shapes', p)).id);
    ids.push(
      ...(await client.enqueueMany(payloads.map((payload) => ({ queue: 'shapes', payload })))).map(
        (r) => r.id,
      ),
    );
    const stored = await Promise.all(ids.map((id) => client.getTask(id)));
    expect(stored.map((t) => t?.payload)).toEqual([...payloads, ...payloads]);
  });

  it('bulk-enqueues thousands of tasks in one call, answering in input order', async () => {
    const items = Array.from({ length: 2500 }, (_, i) => ({ queue: 'bulk', payload: { i } }));
    const results = await client.enqueueMany(items);
    expect(results).toHaveLength(2500);
    expect(new Set(results.map((r) => r.id)).size).toBe(2500);
    const sample = await Promise.all([0, 999, 1000, 2499].map((i) => client.getTask(results[i]!.id)));
    expect(sample.map((t) => (t?.payload as { i: number }).i)).toEqual([0, 999, 1000, 2499]);
    expect(await countTasks(store, 'queued')).toBe(2500);
  });

  it('a bulk enqueue is all or nothing: one invalid task and nothing is written', async () => {
    const orders = defineQueue({ name: 'orders', schema: z.object({ sku: z.string() }) });
    const items = [
      { queue: orders, payload: { sku: 'a' } },
      { queue: orders, payload: { sku: 42 } },
    ];
    await expect(client.enqueueMany(items)).rejects.toMatchObject({ code: 'invalid_input' });
    expect(await countTasks(store)).toBe(0);
  });

  it('a second enqueue with the same idempotency key returns the first task', async () => {
    const first = await client.enqueue('charge', { amount: 5 }, { idempotencyKey: 'order-17' });
    const second = await client.enqueue('charge', { amount: 999 }, { idempotencyKey: 'order-17' });
    expect(second).toEqual({ id: first.id, queue: 'charge', state: 'queued', created: false });
    expect(await countTasks(store)).toBe(1);
    expect((await client.getTask(first.id))?.payload).toEqual({ amount: 5 });
    // The same key on another queue is another task.
    const other = await client.enqueue('refund', { amount: 5 }, { idempotencyKey: 'order-17' });
    expect(other.created).toBe(true);
  });

  it('idempotency keys deduplicate within one bulk enqueue and against existing tasks', async () => {
    const existing = await client.enqueue('sync', { n: 0 }, { idempotencyKey: 'k0' });
    const results = await client.enqueueMany([
      { queue: 'sync', payload: { n: 1 }, idempotencyKey: 'k0' },
      { queue: 'sync', payload: { n: 2 }, idempotencyKey: 'k1' },
      { queue: 'sync', payload: { n: 3 } },
      { queue: 'sync', payload: { n: 4 }, idempotencyKey: 'k1' },
    ]);
    expect(results.map((r) => r.created)).toEqual([false, true, true, false]);
    expect(results[0]!.id).toBe(existing.id);
    expect(results[3]!.id).toBe(results[1]!.id);
    expect(await countTasks(store)).toBe(3);
  });

  it('idempotency keys may hold any characters', async () => {
    const key = "a\"b\\c,{d} NULL 'e'";
    const first = await client.enqueue('odd', 1, { idempotencyKey: key });
    const [again] = await client.enqueueMany([{ queue: 'odd', payload: 2, idempotencyKey: key }]);
    expect(again).toMatchObject({ id: first.id, created: false });
    expect((await client.getTask(first.id))?.idempotencyKey).toBe(key);
  });

  it('claims higher priorities first, then earlier run times, then enqueue order', async () => {
    await client.enqueue('p', 'low-1');
    await client.enqueue('p', 'high', { priority: 10 });
    await client.enqueue('p', 'low-2');
    await client.enqueue('p', 'mid', { priority: 5 });
    await client.enqueue('p', 'early-low', { runAt: clock.now() - 1000 });
    const claimed = await client.claim<string>('p', { limit: 10 });
    expect(claimed.map((t) => t.payload)).toEqual(['high', 'mid', 'early-low', 'low-1', 'low-2']);
  });

  it('a delayed task is not claimed before its time', async () => {
    const delayed = await client.enqueue('later', 'x', { delayMs: 5000 });
    const at = await client.enqueue('later', 'y', { runAt: clock.now() + 10_000 });
    expect(await client.claim('later', { limit: 10 })).toEqual([]);
    await clock.advance(5000);
    expect((await client.claim('later', { limit: 10 })).map((t) => t.id)).toEqual([delayed.id]);
    await clock.advance(5000);
    expect((await client.claim('later', { limit: 10 })).map((t) => t.id)).toEqual([at.id]);
  });

  it('an invalid payload is refused with a readable error and nothing is written', async () => {
    const mail = defineQueue({
      name: 'mail',
      schema: z.object({ to: z.email(), subject: z.string().min(1) }),
    });
    const error: unknown = await client
      .enqueue(mail, { to: 'not an address', subject: '' })
      .catch((e: unknown) => e);
    expect(isGarrisonError(error, 'invalid_input')).toBe(true);
    expect((error as Error).message).toMatch(/queue "mail".*to:.*subject:/);
    expect(await countTasks(store)).toBe(0);
  });

  it('the schema transforms the payload before it is stored', async () => {
    const q = defineQueue({ name: 'trim', schema: z.object({ name: z.string().trim() }) });
    const { id } = await client.enqueue(q, { name: '  Ada  ' });
    expect((await client.getTask(id))?.payload).toEqual({ name: 'Ada' });
  });

  it('invalid enqueue options are refused', async () => {
    await expect(client.enqueue('q', 1, { priority: 1.5 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(client.enqueue('q', 1, { runAt: 1, delayMs: 1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(client.enqueue('q', 1, { maxAttempts: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(client.enqueue('bad name!', 1)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(client.enqueue('q', { big: 10n })).rejects.toMatchObject({ code: 'invalid_input' });
    expect(await countTasks(store)).toBe(0);
  });

  it('an enqueue inside a caller transaction commits or rolls back with it', async () => {
    await expect(
      store.transaction(async (tx) => {
        await client.enqueue('tx', 'lost', { tx });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await countTasks(store)).toBe(0);
    const kept = await store.transaction((tx) => client.enqueue('tx', 'kept', { tx }));
    expect((await client.getTask(kept.id))?.payload).toBe('kept');
  });

  it('an invalid queue definition is refused', () => {
    expect(() => defineQueue({ name: 'q', concurrency: 0 })).toThrow(/concurrency/);
    expect(() => defineQueue({ name: '', maxAttempts: 3 })).toThrow(/name/);
  });
});

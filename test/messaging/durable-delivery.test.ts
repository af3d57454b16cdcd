import { afterEach, describe, expect, it } from 'vitest';
import { createDurableDelivery, type DeliveredMessage } from '../../src/messaging/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import {
  createEffects,
  effects,
  events,
  messageRows,
  nextEvent,
  openFixture,
  until,
  type Fixture,
} from './helpers.js';

describe.each(adapters)('durable delivery on $name', (adapter) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  async function fixture(options?: Parameters<typeof openFixture>[1]): Promise<Fixture> {
    const f = await openFixture(adapter, options);
    open.push(f.store, f.delivery);
    return f;
  }

  it('a sent message survives closing and reopening the store before delivery', async () => {
    const url = adapter.freshUrl();
    const first = await openStore(url);
    const clock = new VirtualClock();
    const sender = createDurableDelivery({ store: first, clock });
    const { id } = await sender.send('agent-a', { task: 'report' }, { from: 'agent-b' });
    await first.close();

    const store = await openStore(url);
    await createEffects(store);
    const delivery = createDurableDelivery({ store, clock });
    open.push(store, delivery);
    const received: DeliveredMessage[] = [];
    const delivered = nextEvent(delivery, 'delivered');
    await delivery.startConsumer('agent-a', async (m, tx) => {
      received.push(m);
      await tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [m.id, 'handled']);
    });
    await delivered;
    expect(received).toMatchObject([
      { id, body: { task: 'report' }, sender: 'agent-b', attempt: 1, redelivered: false },
    ]);
    expect(await effects(store)).toEqual([{ message_id: id, note: 'handled' }]);
    expect(await messageRows(store, 'agent-a')).toEqual([]);
  });

  it('send resolves only after the message is committed to the store', async () => {
    const { store, delivery } = await fixture();
    const { id, duplicate } = await delivery.send('agent-a', { n: 1 });
    expect(duplicate).toBe(false);
    expect(await messageRows(store, 'agent-a')).toMatchObject([{ id, status: 'pending', attempts: 0 }]);
  });

  it('a send wakes an idle consumer at once, without the clock moving', async () => {
    const { clock, delivery } = await fixture();
    const start = clock.now();
    const bodies: unknown[] = [];
    await delivery.startConsumer('agent-a', (m) => {
      bodies.push(m.body);
    });
    const delivered = nextEvent(delivery, 'delivered');
    await delivery.send('agent-a', { n: 1 });
    await delivered;
    expect(bodies).toEqual([{ n: 1 }]);
    expect(clock.now()).toBe(start);
  });

  it("delivers a recipient's fresh messages in the order they were sent", async () => {
    const { delivery } = await fixture();
    for (let n = 0; n < 8; n++) await delivery.send('agent-a', { n });
    await delivery.send('agent-b', { n: 99 });
    const bodies: unknown[] = [];
    const all = events(delivery, 'delivered', 8);
    await delivery.startConsumer('agent-a', (m) => {
      bodies.push(m.body);
    });
    await all;
    expect(bodies).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ n })));
    expect(await delivery.depth('agent-b')).toEqual({ pending: 1, leased: 0, dead: 0 });
  });

  it('a handler that throws gets the message again after exponential backoff', async () => {
    const { store, clock, delivery } = await fixture();
    const t0 = clock.now();
    const attempts: Array<{ attempt: number; at: number; lastError: string | undefined }> = [];
    await delivery.startConsumer(
      'agent-a',
      (m) => {
        attempts.push({ attempt: m.attempt, at: clock.now(), lastError: m.lastError?.message });
        if (m.attempt < 3) throw new Error(`attempt ${m.attempt} failed`);
      },
      { backoff: { initialMs: 1000, factor: 2 } },
    );
    const failed = nextEvent(delivery, 'failed');
    const { id } = await delivery.send('agent-a', { n: 1 });
    expect(await failed).toMatchObject({
      id,
      attempt: 1,
      retryAt: t0 + 1000,
      error: { message: 'attempt 1 failed' },
    });
    // Back in the mailbox, not claimable before its retry time; the consumer's one timer is set for it.
    expect(await messageRows(store, 'agent-a')).toMatchObject([
      { id, status: 'pending', attempts: 1, available_at: t0 + 1000 },
    ]);
    await until(() => clock.nextDueAt() === t0 + 1000, 'the retry timer');

    const secondFailure = nextEvent(delivery, 'failed');
    await clock.advanceTo(t0 + 1000);
    expect(await secondFailure).toMatchObject({ attempt: 2, retryAt: t0 + 1000 + 2000 });
    await until(() => clock.nextDueAt() === t0 + 3000, 'the second retry timer');

    const delivered = nextEvent(delivery, 'delivered');
    await clock.advanceTo(t0 + 3000);
    expect(await delivered).toMatchObject({ id, attempt: 3 });
    expect(attempts).toEqual([
      { attempt: 1, at: t0, lastError: undefined },
      { attempt: 2, at: t0 + 1000, lastError: 'attempt 1 failed' },
      { attempt: 3, at: t0 + 3000, lastError: 'attempt 2 failed' },
    ]);
    expect(delivery.stats()).toMatchObject({
      sent: 1,
      delivered: 1,
      failed: 2,
      redelivered: 2,
      deadLettered: 0,
    });
  });

  it('after maxAttempts a failing message is in the dead-letter queue with its last error', async () => {
    const { store, clock, delivery } = await fixture();
    const t0 = clock.now();
    await delivery.startConsumer(
      'agent-a',
      (m) => {
        throw new Error(`attempt ${m.attempt} failed`);
      },
      { backoff: { initialMs: 100, factor: 2 } },
    );
    const dead = nextEvent(delivery, 'dead_lettered');
    const { id } = await delivery.send('agent-a', { n: 1 }, { maxAttempts: 3 });
    await until(() => clock.nextDueAt() === t0 + 100, 'the first retry timer');
    await clock.advanceTo(t0 + 100);
    await until(() => clock.nextDueAt() === t0 + 300, 'the second retry timer');
    await clock.advanceTo(t0 + 300);
    expect(await dead).toMatchObject({
      id,
      recipient: 'agent-a',
      attempts: 3,
      error: { message: 'attempt 3 failed' },
    });

    const letters = await delivery.deadLetters.list({ recipient: 'agent-a' });
    expect(letters).toMatchObject([
      {
        id,
        recipient: 'agent-a',
        body: { n: 1 },
        attempts: 3,
        maxAttempts: 3,
        lastError: { name: 'Error', message: 'attempt 3 failed' },
      },
    ]);
    expect(letters[0]?.deadAt).toBe(t0 + 300);
    expect(await delivery.depth('agent-a')).toEqual({ pending: 0, leased: 0, dead: 1 });
    expect(await messageRows(store, 'agent-a')).toMatchObject([{ id, status: 'dead' }]);
    expect(delivery.stats()).toMatchObject({ failed: 3, redelivered: 2, deadLettered: 1, delivered: 0 });
  });

  it('a handler that writes state and then fails leaves neither the write nor the ack', async () => {
    const { store, clock, delivery } = await fixture();
    let fail = true;
    await delivery.startConsumer(
      'agent-a',
      async (m, tx) => {
        await tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [
          m.id,
          `attempt ${m.attempt}`,
        ]);
        if (fail) throw new Error('failed after writing');
      },
      { backoff: { initialMs: 1000 } },
    );
    const failed = nextEvent(delivery, 'failed');
    const { id } = await delivery.send('agent-a', { n: 1 });
    await failed;
    expect(await effects(store)).toEqual([]);
    expect(await messageRows(store, 'agent-a')).toMatchObject([{ id, status: 'pending', attempts: 1 }]);

    fail = false;
    const delivered = nextEvent(delivery, 'delivered');
    await clock.advance(1000);
    await delivered;
    expect(await effects(store)).toEqual([{ message_id: id, note: 'attempt 2' }]);
    expect(await messageRows(store, 'agent-a')).toEqual([]);
  });

  it("a handler's sendInTx sends only if the handler's transaction commits", async () => {
    const { store, clock, delivery } = await fixture();
    let fail = true;
    await delivery.startConsumer(
      'agent-a',
      async (m, tx) => {
        await delivery.sendInTx(tx, 'agent-b', { replyTo: m.id, attempt: m.attempt });
        if (fail) throw new Error('no');
      },
      { backoff: { initialMs: 10 } },
    );
    const failed = nextEvent(delivery, 'failed');
    await delivery.send('agent-a', { n: 1 });
    await failed;
    expect(await messageRows(store, 'agent-b')).toEqual([]);
    fail = false;
    const delivered = nextEvent(delivery, 'delivered');
    await clock.advance(10);
    await delivered;
    const replies: unknown[] = [];
    const replied = nextEvent(delivery, 'delivered', (e) => e.recipient === 'agent-b');
    await delivery.startConsumer('agent-b', (m) => {
      replies.push(m.body);
    });
    await replied;
    expect(replies).toMatchObject([{ attempt: 2 }]);
  });

  it('sendInTx in a transaction that rolls back leaves no message', async () => {
    const { store, delivery } = await fixture();
    await expect(
      store.transaction(async (tx) => {
        await delivery.sendInTx(tx, 'agent-a', { n: 1 });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await store.transaction((tx) => delivery.sendInTx(tx, 'agent-a', { n: 2 }));
    expect(await messageRows(store, 'agent-a')).toHaveLength(1);
    expect(delivery.stats().sent).toBe(1);
  });

  it('an idempotent send stores one message per key and recipient, and remembers the key after delivery', async () => {
    const { store, clock, delivery } = await fixture({ idempotencyRetentionMs: 60_000 });
    const first = await delivery.send('agent-a', { n: 1 }, { idempotencyKey: 'order-7' });
    const again = await delivery.send('agent-a', { n: 2 }, { idempotencyKey: 'order-7' });
    expect(again).toEqual({ id: first.id, duplicate: true });
    const otherRecipient = await delivery.send('agent-b', { n: 3 }, { idempotencyKey: 'order-7' });
    expect(otherRecipient.duplicate).toBe(false);

    const bodies: unknown[] = [];
    const delivered = nextEvent(delivery, 'delivered');
    await delivery.startConsumer('agent-a', (m) => {
      bodies.push(m.body);
    });
    await delivered;
    expect(bodies).toEqual([{ n: 1 }]);
    // Acknowledged and gone, yet still a duplicate within the retention period.
    expect(await delivery.send('agent-a', { n: 4 }, { idempotencyKey: 'order-7' })).toEqual({
      id: first.id,
      duplicate: true,
    });
    expect(await messageRows(store, 'agent-a')).toEqual([]);

    await clock.advance(60_001);
    const later = nextEvent(delivery, 'delivered');
    const fresh = await delivery.send('agent-a', { n: 5 }, { idempotencyKey: 'order-7' });
    expect(fresh.duplicate).toBe(false);
    expect(fresh.id).not.toBe(first.id);
    await later;
    expect(bodies).toEqual([{ n: 1 }, { n: 5 }]);
    expect(delivery.stats()).toMatchObject({ sent: 3, duplicates: 2 });
  });

  it('concurrent sends with one idempotency key store exactly one message', async () => {
    const { store, delivery } = await fixture();
    const receipts = await Promise.all(
      Array.from({ length: 20 }, (_, n) => delivery.send('agent-a', { n }, { idempotencyKey: 'same' })),
    );
    expect(receipts.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(receipts.map((r) => r.id)).size).toBe(1);
    expect(await messageRows(store, 'agent-a')).toHaveLength(1);
  });

  it('pruning forgets only idempotency keys older than the retention period', async () => {
    const { clock, delivery } = await fixture({ idempotencyRetentionMs: 1000 });
    await delivery.send('agent-a', { n: 1 }, { idempotencyKey: 'old' });
    await clock.advance(1001);
    await delivery.send('agent-a', { n: 2 }, { idempotencyKey: 'new' });
    expect(await delivery.pruneIdempotencyKeys()).toBe(1);
    expect((await delivery.send('agent-a', { n: 3 }, { idempotencyKey: 'new' })).duplicate).toBe(true);
  });

  it('a delayed message is not delivered before its time, and an idle consumer holds one timer', async () => {
    const { clock, delivery } = await fixture();
    const t0 = clock.now();
    await delivery.startConsumer('agent-a', () => undefined, { recheckMs: 0 });
    for (const delayMs of [5000, 2000, 9000]) await delivery.send('agent-a', { delayMs }, { delayMs });
    await until(() => clock.nextDueAt() === t0 + 2000, 'the consumer timer for the first due message');
    expect(clock.pendingTimers).toBe(1);
    expect(delivery.stats().delivered).toBe(0);

    const first = nextEvent(delivery, 'delivered');
    await clock.advanceTo(t0 + 2000);
    await first;
    await until(() => clock.nextDueAt() === t0 + 5000, 'the timer for the next message');
    expect(clock.pendingTimers).toBe(1);
    expect(delivery.stats().delivered).toBe(1);
  });

  it('an unprocessable message or one that fails the schema is dead-lettered without retries', async () => {
    const { delivery } = await fixture();
    const { UnprocessableMessageError } = await import('../../src/messaging/index.js');
    const { z } = await import('zod');
    const seen: number[] = [];
    await delivery.startConsumer(
      'agent-a',
      (m) => {
        seen.push(m.body.n);
        if (m.body.n === 1) throw new UnprocessableMessageError('order 1 does not exist');
      },
      { schema: z.object({ n: z.number() }) },
    );
    const dead = events(delivery, 'dead_lettered', 2);
    await delivery.send('agent-a', { n: 1 }, { maxAttempts: 5 });
    await delivery.send('agent-a', { n: 'two' }, { maxAttempts: 5 });
    await dead;
    expect(seen).toEqual([1]);
    const letters = await delivery.deadLetters.list();
    expect(letters.map((l) => [l.attempts, l.lastError?.code])).toEqual([
      [1, 'message_unprocessable'],
      [1, 'message_unprocessable'],
    ]);
    expect(letters[1]?.lastError?.message).toMatch(/does not match the consumer's schema: n: /);
  });

  it('rejects a bad recipient, a non-JSON body and bad options, writing nothing', async () => {
    const { store, delivery } = await fixture();
    await expect(delivery.send('', { n: 1 })).rejects.toMatchObject({
      code: 'invalid_input',
      message: /recipient/,
    });
    await expect(delivery.send('agent-a', { f: () => 1 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(delivery.send('agent-a', 1, { maxAttempts: 0 })).rejects.toMatchObject({
      code: 'invalid_input',
      message: /maxAttempts/,
    });
    await expect(delivery.send('agent-a', 1, { delay: 5 } as never)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(
      delivery.startConsumer('agent-a', () => undefined, { concurrency: 0 }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await messageRows(store, 'agent-a')).toEqual([]);
  });

  it('stopping a consumer lets its handler finish and takes no more messages', async () => {
    const { delivery } = await fixture();
    const consumer = await delivery.startConsumer('agent-a', () => undefined);
    const delivered = nextEvent(delivery, 'delivered');
    await delivery.send('agent-a', { n: 1 });
    await delivered;
    await consumer.stop();
    await delivery.send('agent-a', { n: 2 });
    expect(await delivery.depth('agent-a')).toEqual({ pending: 1, leased: 0, dead: 0 });
    expect(delivery.stats().delivered).toBe(1);
  });

  it('sendMany puts the message in every mailbox or in none', async () => {
    const { store, delivery } = await fixture();
    const receipts = await delivery.sendMany(['agent-a', 'agent-b', 'agent-c'], { alert: 'disk' });
    expect(receipts.map((r) => r.duplicate)).toEqual([false, false, false]);
    for (const r of ['agent-a', 'agent-b', 'agent-c']) expect(await messageRows(store, r)).toHaveLength(1);

    await expect(
      store.transaction(async (tx) => {
        await delivery.sendManyInTx(tx, ['agent-d', 'agent-e'], { alert: 'cpu' });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await expect(delivery.sendMany(['agent-d', ''], { alert: 'cpu' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(delivery.sendMany(['agent-d', 'agent-d'], 1)).rejects.toMatchObject({ message: /repeat/ });
    expect(await messageRows(store, 'agent-d')).toEqual([]);
    expect(await messageRows(store, 'agent-e')).toEqual([]);
  });

  it('reports delivered, redelivered and dead-lettered messages to the telemetry sink', async () => {
    const emitted: Array<[string, unknown]> = [];
    const { clock, delivery } = await fixture({
      telemetry: { emit: (name, payload) => void emitted.push([name, payload]) },
    });
    await delivery.startConsumer(
      'agent-a',
      (m) => {
        if (m.body === 'bad' || m.attempt === 1) throw new Error('no');
      },
      { backoff: { initialMs: 10 } },
    );
    const dead = nextEvent(delivery, 'dead_lettered');
    const ok = nextEvent(delivery, 'delivered');
    const { id: good } = await delivery.send('agent-a', 'good', { maxAttempts: 2 });
    const { id: bad } = await delivery.send('agent-a', 'bad', { maxAttempts: 2 });
    await until(() => delivery.stats().failed === 2, 'both first attempts to fail');
    await clock.advance(10);
    await Promise.all([dead, ok]);
    expect(emitted).toEqual(
      expect.arrayContaining([
        ['delivery.redelivered', { messageId: String(good), attempt: 2 }],
        ['delivery.delivered', { messageId: String(good), attempt: 2 }],
        ['delivery.redelivered', { messageId: String(bad), attempt: 2 }],
        ['delivery.dead_lettered', { messageId: String(bad), attempts: 2, reason: 'no' }],
      ]),
    );
    expect(emitted).toHaveLength(4);
  });
});

/**
 * A consumer process killed with SIGKILL in the middle of handling a message: its transaction (the
 * handler's effect and the ack) never commits, and once its lease has run out the message is delivered
 * again and acknowledged exactly once, with the handler's effect recorded once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDurableDelivery, type DeliveredMessage } from '../../src/messaging/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { createEffects, effects, startFixture, messageRows, nextEvent } from './helpers.js';

/** Starts the crash fixture and resolves with the child once it prints that it is handling. */
function startDoomedConsumer(url: string, clockStart: number, visibilityMs: number) {
  const child = startFixture('crash-consumer.ts', [url, clockStart, visibilityMs]);
  const handling = child.waitFor(/handling \d+ \d+/, 'stdout').then((line) => line[0]);
  const exited = child.exited.then((exit) => exit.signal);
  return { child: child.process, handling, exited };
}

describe.each(adapters)('a consumer killed while handling, on $name', (adapter) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  it('after restart the message is delivered again and acked once, its effect recorded once', async () => {
    const url = adapter.freshUrl();
    const clockStart = Date.UTC(2026, 0, 1);
    const visibilityMs = 10_000;
    const setup = await openStore(url);
    await createEffects(setup);
    const { id } = await createDurableDelivery({ store: setup, clock: new VirtualClock(clockStart) }).send(
      'worker',
      { job: 'invoice-42' },
    );
    await setup.close();

    const doomed = startDoomedConsumer(url, clockStart, visibilityMs);
    expect(await doomed.handling).toBe(`handling ${id} 1`);
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');

    // The restarted consumer's clock is past the dead consumer's lease.
    const store = await openStore(url);
    const clock = new VirtualClock(clockStart + visibilityMs);
    const delivery = createDurableDelivery({ store, clock, nodeId: 'restarted' });
    open.push(store, delivery);
    expect(await effects(store)).toEqual([]);
    expect(await messageRows(store, 'worker')).toMatchObject([{ id, status: 'pending', attempts: 1 }]);

    const received: DeliveredMessage[] = [];
    const delivered = nextEvent(delivery, 'delivered');
    await delivery.startConsumer('worker', async (m, tx) => {
      received.push(m);
      await tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [m.id, 'restarted process']);
    });
    expect(await delivered).toMatchObject({ id, attempt: 2 });
    expect(received).toMatchObject([{ id, body: { job: 'invoice-42' }, attempt: 2, redelivered: true }]);
    expect(await effects(store)).toEqual([{ message_id: id, note: 'restarted process' }]);
    expect(await messageRows(store, 'worker')).toEqual([]);
    expect(delivery.stats()).toMatchObject({ delivered: 1, redelivered: 1, failed: 0, deadLettered: 0 });
  });

  it('a consumer killed on the last attempt leaves the message in the dead-letter queue, not lost', async () => {
    const url = adapter.freshUrl();
    const clockStart = Date.UTC(2026, 0, 1);
    const setup = await openStore(url);
    await createEffects(setup);
    const { id } = await createDurableDelivery({ store: setup, clock: new VirtualClock(clockStart) }).send(
      'worker',
      { job: 'once-only' },
      { maxAttempts: 1 },
    );
    await setup.close();

    const doomed = startDoomedConsumer(url, clockStart, 5000);
    await doomed.handling;
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const store = await openStore(url);
    const delivery = createDurableDelivery({ store, clock: new VirtualClock(clockStart + 5000) });
    open.push(store, delivery);
    const dead = nextEvent(delivery, 'dead_lettered');
    let handled = 0;
    await delivery.startConsumer('worker', () => {
      handled++;
    });
    expect(await dead).toMatchObject({ id, attempts: 1, error: { code: 'lease_expired' } });
    expect(handled).toBe(0);
    expect(await delivery.deadLetters.list()).toMatchObject([
      { id, body: { job: 'once-only' }, attempts: 1, lastError: { code: 'lease_expired' } },
    ]);
    expect(await effects(store)).toEqual([]);
  });
});

/**
 * The durable `dead_letter` policy of supervised send, on both store adapters: a send that failed for
 * good is a row in the same dead-letter queue as durable delivery's (`deadLetters.list/retry/purge` see
 * it), filed under the process's durable mailbox `process:<name>`. Retrying it puts it in that mailbox,
 * and the name's relay delivers it to the process, which acknowledges it by replying.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDurableDelivery,
  createSupervisedSender,
  isDurableEnvelope,
  type DurableEnvelope,
} from '../../src/messaging/index.js';
import { fixedDelay } from '../../src/resilience/index.js';
import { createRuntime, type Behaviour, type CallResult } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { effects, messageRows, nextEvent, openFixture } from './helpers.js';

/** A process that records each durable envelope's effect through the envelope's transaction. */
function billing(received: DurableEnvelope[]): Behaviour<null, void> {
  return {
    init: () => null,
    async handleCall(msg: unknown, _from, state): Promise<CallResult<null>> {
      if (!isDurableEnvelope(msg)) return { reply: 'plain', state };
      received.push(msg);
      await msg.tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [
        msg.messageId,
        'billing',
      ]);
      return { reply: 'ok', state };
    },
  };
}

describe.each(adapters)("onError 'dead_letter' on $name", (adapter) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  async function setup() {
    const f = await openFixture(adapter);
    open.push(f.store, f.delivery);
    const runtime = createRuntime({ clock: f.clock });
    open.push({ close: () => runtime.shutdown() });
    const sender = createSupervisedSender({ runtime, clock: f.clock, delivery: f.delivery });
    return { ...f, runtime, sender };
  }

  it('records the failed message durably in the dead-letter queue, with its error and attempts', async () => {
    const f = await setup();
    const sending = f.sender.send(
      'billing',
      { invoice: 42 },
      {
        retry: fixedDelay({ maxAttempts: 2, delayMs: 100 }),
        onError: 'dead_letter',
        from: 'orders',
      },
    );
    await f.clock.runAll();
    const result = await sending;
    expect(result).toMatchObject({ ok: false, attempts: 2, error: { code: 'noproc' } });
    if (result.ok || result.deadLetterId === undefined) throw new Error('expected a dead letter');
    const id = result.deadLetterId;

    // Another store handle sees the committed row through the ordinary dead-letter API.
    const other = await openStore(f.url);
    open.push(other);
    const letters = createDurableDelivery({ store: other, clock: f.clock }).deadLetters;
    expect(await letters.list()).toMatchObject([
      {
        id,
        recipient: 'process:billing',
        sender: 'orders',
        body: { invoice: 42 },
        attempts: 2,
        lastError: { code: 'noproc' },
      },
    ]);
    expect(await letters.count({ recipient: 'process:billing' })).toBe(1);
  });

  it('a dead-lettered send, retried from the queue, reaches the process through its relay and is acked once', async () => {
    const f = await setup();
    const result = await f.sender.send('billing', { invoice: 7 }, { onError: 'dead_letter' });
    if (result.ok || result.deadLetterId === undefined) throw new Error('expected a dead letter');
    const id = result.deadLetterId;

    const received: DurableEnvelope[] = [];
    await f.runtime.spawn(billing(received), undefined, { name: 'billing' });
    await f.sender.startRelay('billing', { timeoutMs: 1000, visibilityMs: 10_000 });
    expect(received).toEqual([]); // a dead letter waits until someone retries it

    const delivered = nextEvent(f.delivery, 'delivered', (e) => e.id === id);
    await f.delivery.deadLetters.retry(id);
    expect(await delivered).toMatchObject({ id, recipient: 'process:billing', attempt: 1 });
    expect(received).toMatchObject([{ messageId: id, attempt: 1, redelivered: false, body: { invoice: 7 } }]);
    expect(await effects(f.store)).toEqual([{ message_id: id, note: 'billing' }]);
    expect(await messageRows(f.store, 'process:billing')).toEqual([]);
    expect(await f.delivery.deadLetters.count()).toBe(0);
  });

  it('purging a dead-lettered send deletes it for good', async () => {
    const f = await setup();
    const result = await f.sender.send('billing', { invoice: 9 }, { onError: 'dead_letter' });
    if (result.ok || result.deadLetterId === undefined) throw new Error('expected a dead letter');
    await f.delivery.deadLetters.purge(result.deadLetterId);
    expect(await f.delivery.deadLetters.count()).toBe(0);
    expect(await messageRows(f.store, 'process:billing')).toEqual([]);
  });

  it('a send to a pid, or with a message that is not JSON, is refused before anything is sent or stored', async () => {
    const f = await setup();
    const received: DurableEnvelope[] = [];
    let plainCalls = 0;
    const pid = await f.runtime.spawn(
      {
        init: () => null,
        handleCall: (_m: unknown, _from, state: null) => {
          plainCalls++;
          return { reply: 'ok', state };
        },
      },
      undefined,
      { name: 'billing' },
    );
    await expect(f.sender.send(pid, { invoice: 1 }, { onError: 'dead_letter' })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('pid') as unknown,
    });
    await expect(
      f.sender.send('billing', { when: new Date() }, { onError: 'dead_letter' }),
    ).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('JSON') as unknown });
    expect(plainCalls).toBe(0);
    expect(received).toEqual([]);
    expect(await f.delivery.deadLetters.count()).toBe(0);
  });

  it('a successful send stores nothing', async () => {
    const f = await setup();
    await f.runtime.spawn(billing([]), undefined, { name: 'billing' });
    await expect(f.sender.send('billing', { invoice: 3 }, { onError: 'dead_letter' })).resolves.toEqual({
      ok: true,
      reply: 'plain',
      attempts: 1,
    });
    expect(await f.delivery.deadLetters.count()).toBe(0);
    expect(await messageRows(f.store, 'process:billing')).toEqual([]);
  });
});

/**
 * An at-least-once broadcast survives a crash: the node delivering it is killed with SIGKILL while one
 * target is handling its copy. The copy that was acknowledged stays acknowledged (its effect recorded
 * once); the copy in flight was never acknowledged, its effect rolled back with its transaction, and the
 * restarted node delivers it once the dead node's lease has run out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDurableDelivery,
  createSupervisedSender,
  isDurableEnvelope,
  type DurableEnvelope,
} from '../../src/messaging/index.js';
import { VirtualClock, createRuntime, type Behaviour } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { createEffects, effects, startFixture, messageRows, nextEvent } from './helpers.js';

/** Starts the doomed node; resolves `ready` once `b` acked and `a` is handling its copy. */
function startDoomedNode(url: string, clockStart: number, visibilityMs: number) {
  const child = startFixture('broadcast-relay.ts', [url, clockStart, visibilityMs]);
  const ready = Promise.all([
    child.waitFor(/acked b \d+/, 'stdout'),
    child.waitFor(/handling a \d+ \d+/, 'stdout'),
  ]).then(([acked, handling]) => ({ acked: acked[0], handling: handling[0] }));
  const exited = child.exited.then((exit) => exit.signal);
  return { child: child.process, ready, exited };
}

describe.each(adapters)('an at-least-once broadcast across a SIGKILL, on $name', (adapter) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  it('at-least-once: after the crash the unacked copy is delivered again and acked once; the acked one is not redelivered', async () => {
    const url = adapter.freshUrl();
    const clockStart = Date.UTC(2026, 0, 1);
    const visibilityMs = 10_000;

    // The broadcast is committed by one node...
    const setup = await openStore(url);
    await createEffects(setup);
    const setupClock = new VirtualClock(clockStart);
    const broadcaster = createSupervisedSender({
      runtime: createRuntime({ clock: setupClock }),
      delivery: createDurableDelivery({ store: setup, clock: setupClock }),
    });
    const { messages } = await broadcaster.broadcast(
      ['a', 'b'],
      { credit: 10 },
      { semantics: 'at_least_once' },
    );
    const [a, b] = messages.map((m) => m.messageId);
    await setup.close();

    // ...delivered by another, killed while `a` handles its copy.
    const doomed = startDoomedNode(url, clockStart, visibilityMs);
    expect(await doomed.ready).toEqual({ acked: `acked b ${b}`, handling: `handling a ${a} 1` });
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');

    // The restarted node's clock is past the dead node's lease.
    const store = await openStore(url);
    const clock = new VirtualClock(clockStart + visibilityMs);
    const runtime = createRuntime({ clock });
    const delivery = createDurableDelivery({ store, clock, nodeId: 'restarted' });
    open.push(store, delivery, { close: () => runtime.shutdown() });
    expect(await effects(store)).toEqual([{ message_id: b, note: 'b doomed' }]);
    expect(await messageRows(store, 'process:a')).toMatchObject([{ id: a, status: 'pending', attempts: 1 }]);
    expect(await messageRows(store, 'process:b')).toEqual([]);

    const received: DurableEnvelope[] = [];
    const account: Behaviour<string, string> = {
      init: (name) => name,
      async handleCall(msg: unknown, _from, name) {
        if (!isDurableEnvelope(msg)) return { reply: 'plain', state: name };
        received.push(msg);
        await msg.tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [
          msg.messageId,
          `${name} restarted`,
        ]);
        return { reply: 'ack', state: name };
      },
    };
    await runtime.spawn(account, 'a', { name: 'a' });
    await runtime.spawn(account, 'b', { name: 'b' });
    const sender = createSupervisedSender({ runtime, delivery });
    const delivered = nextEvent(delivery, 'delivered', (e) => e.id === a);
    await sender.startRelay('a', { timeoutMs: 1000, visibilityMs });
    await sender.startRelay('b', { timeoutMs: 1000, visibilityMs });
    expect(await delivered).toMatchObject({ attempt: 2 });
    expect(received).toMatchObject([{ messageId: a, attempt: 2, redelivered: true, body: { credit: 10 } }]);
    expect(await effects(store)).toEqual([
      { message_id: a, note: 'a restarted' },
      { message_id: b, note: 'b doomed' },
    ]);
    expect(await messageRows(store, 'process:a')).toEqual([]);
    expect(delivery.stats()).toMatchObject({ delivered: 1, redelivered: 1, deadLettered: 0 });
  });
});

/**
 * The at-least-once broadcast on both store adapters: one durable row per target in the process's
 * mailbox `process:<name>`, all committed in one transaction before the broadcast resolves; each row is
 * delivered to its process by the name's relay and acknowledged by the process's reply, whose writes
 * through the envelope's transaction commit with the ack. Failed deliveries come back with backoff;
 * after the last attempt they are dead letters that can be retried.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSupervisedSender,
  isDurableEnvelope,
  refuseDelivery,
  type DurableEnvelope,
} from '../../src/messaging/index.js';
import {
  createRuntime,
  Supervisor,
  type Behaviour,
  type CallResult,
  type Runtime,
} from '../../src/runtime/index.js';
import { adapters } from '../support/stores.js';
import { effects, events, messageRows, nextEvent, openFixture } from './helpers.js';

interface Inbox {
  /** Envelopes each process got, by process name. */
  readonly received: Record<string, DurableEnvelope[]>;
  /** Deliveries to crash on (after writing their effect), by process name. */
  readonly crashes: Record<string, number>;
  /** How each process answers, by name: acknowledge, or refuse (for a while or for good). */
  readonly answer: Record<string, 'ack' | 'refuse' | 'refuse_for_good'>;
}

/** A process that writes its effect through the envelope's transaction, then crashes, refuses or acks. */
function account(inbox: Inbox): Behaviour<string, string> {
  return {
    init: (name) => name,
    async handleCall(msg: unknown, _from, name): Promise<CallResult<string>> {
      if (!isDurableEnvelope(msg)) return { reply: 'plain', state: name };
      (inbox.received[name] ??= []).push(msg);
      await msg.tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [msg.messageId, name]);
      if ((inbox.crashes[name] ?? 0) > 0) {
        inbox.crashes[name] = (inbox.crashes[name] ?? 0) - 1;
        throw new Error(`${name} crashed on message ${msg.messageId}`);
      }
      const answer = inbox.answer[name] ?? 'ack';
      if (answer === 'refuse') return { reply: refuseDelivery('not now'), state: name };
      if (answer === 'refuse_for_good')
        return { reply: refuseDelivery('never', { permanent: true }), state: name };
      return { reply: 'ack', state: name };
    },
  };
}

describe.each(adapters)('at-least-once broadcast on $name', (adapter) => {
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
    const inbox: Inbox = { received: {}, crashes: {}, answer: {} };
    const spawn = (name: string) => runtime.spawn(account(inbox), name, { name });
    const relay = (name: string) =>
      sender.startRelay(name, {
        timeoutMs: 1000,
        visibilityMs: 10_000,
        backoff: { initialMs: 1000, factor: 2, jitter: 0 },
        recheckMs: 0,
      });
    return { ...f, runtime, sender, inbox, spawn, relay };
  }

  /** A supervisor restarting each named account. */
  function supervise(runtime: Runtime, inbox: Inbox, names: string[]) {
    return Supervisor.start(runtime, {
      id: 'accounts',
      maxRestarts: 10,
      children: names.map((name) => ({
        id: name,
        start: (o) => runtime.spawn(account(inbox), name, { ...o, name }),
      })),
    });
  }

  it("at-least-once: every target's copy is a durable row, all committed before the broadcast resolves", async () => {
    const f = await setup();
    const result = await f.sender.broadcast(
      ['a', 'b'],
      { credit: 5 },
      {
        semantics: 'at_least_once',
        from: 'treasury',
      },
    );
    expect(result).toMatchObject({
      semantics: 'at_least_once',
      ok: true,
      messages: [
        { target: 'a', duplicate: false },
        { target: 'b', duplicate: false },
      ],
    });
    const [a, b] = result.messages;
    expect(await messageRows(f.store, 'process:a')).toMatchObject([
      { id: a?.messageId, status: 'pending', attempts: 0 },
    ]);
    expect(await messageRows(f.store, 'process:b')).toMatchObject([
      { id: b?.messageId, status: 'pending', attempts: 0 },
    ]);
    // Nothing has reached a process: delivery is the relays' job.
    expect(f.inbox.received).toEqual({});
  });

  it('at-least-once: each relay delivers its copy, and the reply acks it together with the process’s writes', async () => {
    const f = await setup();
    await f.spawn('a');
    await f.spawn('b');
    await f.relay('a');
    await f.relay('b');
    const delivered = events(f.delivery, 'delivered', 2);
    const { messages } = await f.sender.broadcast(['a', 'b'], { credit: 5 }, { semantics: 'at_least_once' });
    await delivered;
    const [a, b] = messages;
    expect(f.inbox.received.a).toMatchObject([{ messageId: a?.messageId, attempt: 1, body: { credit: 5 } }]);
    expect(f.inbox.received.b).toMatchObject([{ messageId: b?.messageId, attempt: 1, body: { credit: 5 } }]);
    expect(await effects(f.store)).toEqual(
      [
        { message_id: a?.messageId, note: 'a' },
        { message_id: b?.messageId, note: 'b' },
      ].sort((x, y) => x.note.localeCompare(y.note)),
    );
    expect(await messageRows(f.store, 'process:a')).toEqual([]);
    expect(await messageRows(f.store, 'process:b')).toEqual([]);
  });

  it('at-least-once: a target that crashes on the first delivery gets the message again after backoff and acks it once', async () => {
    const f = await setup();
    f.inbox.crashes.a = 1;
    await supervise(f.runtime, f.inbox, ['a', 'b']);
    const firstPid = f.runtime.whereis('a');
    await f.relay('a');
    await f.relay('b');
    const failed = nextEvent(f.delivery, 'failed');
    const bDelivered = nextEvent(f.delivery, 'delivered', (e) => e.recipient === 'process:b');
    const { messages } = await f.sender.broadcast(['a', 'b'], { credit: 1 }, { semantics: 'at_least_once' });
    const aId = messages[0]?.messageId;
    expect(await failed).toMatchObject({
      id: aId,
      recipient: 'process:a',
      attempt: 1,
      error: { code: 'process_exited' },
      retryAt: f.clock.now() + 1000,
    });
    await bDelivered;
    // The crashed attempt's write rolled back with its transaction.
    expect((await effects(f.store)).filter((e) => e.note === 'a')).toEqual([]);
    expect(await messageRows(f.store, 'process:a')).toMatchObject([
      { id: aId, status: 'pending', attempts: 1 },
    ]);

    const redelivered = nextEvent(f.delivery, 'delivered', (e) => e.id === aId);
    await f.clock.advance(1000);
    expect(await redelivered).toMatchObject({ attempt: 2 });
    expect(f.runtime.whereis('a')).not.toBe(firstPid); // the supervisor's new process acked it
    expect(f.inbox.received.a).toMatchObject([
      { messageId: aId, attempt: 1, redelivered: false },
      { messageId: aId, attempt: 2, redelivered: true },
    ]);
    expect(await effects(f.store)).toEqual([
      { message_id: aId, note: 'a' },
      { message_id: messages[1]?.messageId, note: 'b' },
    ]);
    expect(await messageRows(f.store, 'process:a')).toEqual([]);
  });

  it('at-least-once: a target that is not running keeps its copy in the store until it runs', async () => {
    const f = await setup();
    await f.relay('late');
    const failed = nextEvent(f.delivery, 'failed');
    const { messages } = await f.sender.broadcast(['late'], { credit: 2 }, { semantics: 'at_least_once' });
    const id = messages[0]?.messageId;
    expect(await failed).toMatchObject({ id, attempt: 1, error: { code: 'noproc' } });
    await f.spawn('late');
    const delivered = nextEvent(f.delivery, 'delivered', (e) => e.id === id);
    await f.clock.advance(1000);
    expect(await delivered).toMatchObject({ attempt: 2 });
    expect(await effects(f.store)).toEqual([{ message_id: id, note: 'late' }]);
  });

  it('at-least-once: after its last attempt a copy is dead-lettered, and retrying it delivers it', async () => {
    const f = await setup();
    await f.relay('a');
    const dead = nextEvent(f.delivery, 'dead_lettered');
    const { messages } = await f.sender.broadcast(
      ['a'],
      { credit: 3 },
      {
        semantics: 'at_least_once',
        maxAttempts: 1,
      },
    );
    const id = messages[0]?.messageId ?? 0;
    expect(await dead).toMatchObject({ id, recipient: 'process:a', attempts: 1, error: { code: 'noproc' } });
    expect(await f.delivery.deadLetters.list()).toMatchObject([
      { id, recipient: 'process:a', body: { credit: 3 } },
    ]);

    await f.spawn('a');
    const delivered = nextEvent(f.delivery, 'delivered', (e) => e.id === id);
    await f.delivery.deadLetters.retry(id);
    await delivered;
    expect(await effects(f.store)).toEqual([{ message_id: id, note: 'a' }]);
    expect(await f.delivery.deadLetters.count()).toBe(0);
  });

  it('a process that refuses a delivery has its writes rolled back and gets it again; a permanent refusal dead-letters it', async () => {
    const f = await setup();
    f.inbox.answer.a = 'refuse';
    f.inbox.answer.b = 'refuse_for_good';
    await f.spawn('a');
    await f.spawn('b');
    await f.relay('a');
    await f.relay('b');
    const refusedA = nextEvent(f.delivery, 'failed', (e) => e.recipient === 'process:a');
    const deadB = nextEvent(f.delivery, 'dead_lettered', (e) => e.recipient === 'process:b');
    const { messages } = await f.sender.broadcast(['a', 'b'], { credit: 4 }, { semantics: 'at_least_once' });
    expect(await refusedA).toMatchObject({
      attempt: 1,
      error: { code: 'delivery_refused' },
      retryAt: expect.any(Number) as unknown,
    });
    expect(await deadB).toMatchObject({ attempts: 1, error: { code: 'message_unprocessable' } });
    expect(await effects(f.store)).toEqual([]);

    f.inbox.answer.a = 'ack';
    const delivered = nextEvent(f.delivery, 'delivered', (e) => e.recipient === 'process:a');
    await f.clock.advance(1000);
    expect(await delivered).toMatchObject({ id: messages[0]?.messageId, attempt: 2 });
    expect(await effects(f.store)).toEqual([{ message_id: messages[0]?.messageId, note: 'a' }]);
  });

  it('a repeated broadcast with the same idempotency key stores nothing more', async () => {
    const f = await setup();
    const first = await f.sender.broadcast(
      ['a', 'b'],
      { credit: 6 },
      { semantics: 'at_least_once', idempotencyKey: 'payday-1' },
    );
    const again = await f.sender.broadcast(
      ['a', 'b'],
      { credit: 6 },
      { semantics: 'at_least_once', idempotencyKey: 'payday-1' },
    );
    expect(again.messages).toEqual(first.messages.map((m) => ({ ...m, duplicate: true })));
    expect(await messageRows(f.store, 'process:a')).toHaveLength(1);
    expect(await messageRows(f.store, 'process:b')).toHaveLength(1);
  });

  it('at-least-once: pids, messages that are not JSON and bad relay options are refused, and nothing is stored', async () => {
    const f = await setup();
    const pid = await f.spawn('a');
    await expect(
      f.sender.broadcast([pid as unknown as string], { credit: 1 }, { semantics: 'at_least_once' }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('pid') as unknown,
    });
    await expect(
      f.sender.broadcast(['a', 'b'], { credit: () => 1 }, { semantics: 'at_least_once' }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(f.sender.startRelay('a', { timeoutMs: 10_000, visibilityMs: 5000 })).rejects.toThrow(
      /below visibilityMs/,
    );
    expect(await messageRows(f.store, 'process:a')).toEqual([]);
    expect(await messageRows(f.store, 'process:b')).toEqual([]);
  });
});

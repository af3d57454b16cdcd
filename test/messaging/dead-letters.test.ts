import { afterEach, describe, expect, it } from 'vitest';
import { adapters } from '../support/stores.js';
import { events, nextEvent, openFixture, type Fixture } from './helpers.js';

describe.each(adapters)('the dead-letter queue on $name', (adapter) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  async function fixture(): Promise<Fixture> {
    const f = await openFixture(adapter);
    open.push(f.store, f.delivery);
    return f;
  }

  /** Sends messages that fail on their only attempt, so each lands in the queue. */
  async function deadLetter(f: Fixture, recipient: string, bodies: unknown[]): Promise<number[]> {
    const consumer = await f.delivery.startConsumer(recipient, (m) => {
      throw new Error(`cannot handle ${JSON.stringify(m.body)}`);
    });
    const dead = events(f.delivery, 'dead_lettered', bodies.length);
    const ids: number[] = [];
    for (const body of bodies) ids.push((await f.delivery.send(recipient, body, { maxAttempts: 1 })).id);
    await dead;
    await consumer.stop();
    return ids;
  }

  it('lists dead letters oldest first, filtered by recipient, with paging and counts', async () => {
    const f = await fixture();
    const a = await deadLetter(f, 'agent-a', [{ n: 1 }, { n: 2 }]);
    const b = await deadLetter(f, 'agent-b', [{ n: 3 }]);
    const { deadLetters } = f.delivery;
    expect((await deadLetters.list()).map((l) => l.id)).toEqual([...a, ...b]);
    expect(await deadLetters.list({ recipient: 'agent-a' })).toMatchObject([
      {
        id: a[0],
        recipient: 'agent-a',
        body: { n: 1 },
        attempts: 1,
        lastError: { message: 'cannot handle {"n":1}' },
      },
      {
        id: a[1],
        recipient: 'agent-a',
        body: { n: 2 },
        attempts: 1,
        lastError: { message: 'cannot handle {"n":2}' },
      },
    ]);
    expect((await deadLetters.list({ limit: 1, afterId: a[0] })).map((l) => l.id)).toEqual([a[1]]);
    expect(await deadLetters.count()).toBe(3);
    expect(await deadLetters.count({ recipient: 'agent-b' })).toBe(1);
    expect(await deadLetters.get(b[0] ?? 0)).toMatchObject({ recipient: 'agent-b', body: { n: 3 } });
  });

  it('retrying one dead letter puts it back in the mailbox with its attempts reset', async () => {
    const f = await fixture();
    const [id] = await deadLetter(f, 'agent-a', [{ n: 1 }]);
    await f.delivery.deadLetters.retry(id ?? 0);
    expect(await f.delivery.depth('agent-a')).toEqual({ pending: 1, leased: 0, dead: 0 });

    const seen: Array<{ attempt: number; lastError: string | undefined }> = [];
    const delivered = nextEvent(f.delivery, 'delivered');
    await f.delivery.startConsumer('agent-a', (m) => {
      seen.push({ attempt: m.attempt, lastError: m.lastError?.message });
    });
    expect(await delivered).toMatchObject({ id, attempt: 1 });
    expect(seen).toEqual([{ attempt: 1, lastError: 'cannot handle {"n":1}' }]);
    expect(await f.delivery.deadLetters.count()).toBe(0);
  });

  it('retrying all dead letters of a recipient wakes its consumer for each', async () => {
    const f = await fixture();
    await deadLetter(f, 'agent-a', [{ n: 1 }, { n: 2 }]);
    await deadLetter(f, 'agent-b', [{ n: 3 }]);
    const delivered = events(f.delivery, 'delivered', 2);
    const bodies: unknown[] = [];
    await f.delivery.startConsumer('agent-a', (m) => {
      bodies.push(m.body);
    });
    expect(await f.delivery.deadLetters.retryAll({ recipient: 'agent-a' })).toBe(2);
    await delivered;
    expect(bodies).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await f.delivery.deadLetters.list()).map((l) => l.recipient)).toEqual(['agent-b']);
  });

  it('purges one dead letter, those matching a filter, or all', async () => {
    const f = await fixture();
    const a = await deadLetter(f, 'agent-a', [{ n: 1 }, { n: 2 }]);
    await deadLetter(f, 'agent-b', [{ n: 3 }]);
    await f.clock.advance(1000);
    await deadLetter(f, 'agent-c', [{ n: 4 }, { n: 5 }]);
    const { deadLetters } = f.delivery;

    await deadLetters.purge(a[0] ?? 0);
    expect(await deadLetters.count()).toBe(4);
    expect(await deadLetters.purgeAll({ recipient: 'agent-a' })).toBe(1);
    expect(await deadLetters.purgeAll({ deadBefore: f.clock.now() })).toBe(1);
    expect((await deadLetters.list()).map((l) => l.recipient)).toEqual(['agent-c', 'agent-c']);
    expect(await deadLetters.purgeAll()).toBe(2);
    expect(await deadLetters.count()).toBe(0);
  });

  it('retry, purge and get of an id that is not a dead letter fail with dead_letter_not_found', async () => {
    const f = await fixture();
    const { id: pending } = await f.delivery.send('agent-a', { n: 1 });
    const { deadLetters } = f.delivery;
    await expect(deadLetters.retry(pending)).rejects.toMatchObject({ code: 'dead_letter_not_found' });
    await expect(deadLetters.purge(pending)).rejects.toMatchObject({ code: 'dead_letter_not_found' });
    await expect(deadLetters.get(123456)).rejects.toMatchObject({ code: 'dead_letter_not_found' });
    await expect(deadLetters.retry(-1)).rejects.toMatchObject({ code: 'invalid_input' });
    expect(await f.delivery.depth('agent-a')).toEqual({ pending: 1, leased: 0, dead: 0 });
  });

  it('records a message that failed elsewhere straight into the queue, also inside a transaction', async () => {
    const f = await fixture();
    const recorded = nextEvent(f.delivery, 'dead_lettered');
    const id = await f.delivery.deadLetters.record({
      recipient: 'agent-a',
      body: { op: 'ping' },
      error: new Error('call timed out'),
      attempts: 3,
    });
    expect(await recorded).toMatchObject({ id, recipient: 'agent-a', attempts: 3, consumerId: null });
    await expect(
      f.store.transaction(async (tx) => {
        await f.delivery.deadLetters.record({ recipient: 'agent-a', body: 1, error: 'x' }, tx);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await f.delivery.deadLetters.list()).toMatchObject([
      { id, body: { op: 'ping' }, attempts: 3, lastError: { message: 'call timed out' } },
    ]);
  });
});

/**
 * Several nodes consuming one recipient's mailbox on PostgreSQL: claims use FOR UPDATE SKIP LOCKED under
 * a lease with a fencing token, so no two consumers hold the same message at once, and a consumer whose
 * lease has passed to another cannot acknowledge (its transaction, effects included, rolls back).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDurableDelivery, type DurableDelivery } from '../../src/messaging/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { postgresAdapter } from '../support/stores.js';
import { claimMessages } from '../../src/messaging/delivery/message-sql.js';
import { createEffects, deferred, effects, events, nextEvent, until } from './helpers.js';

describe('consumers on several PostgreSQL nodes', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  async function nodes(
    count: number,
  ): Promise<{ clock: VirtualClock; stores: Store[]; deliveries: DurableDelivery[] }> {
    const url = postgresAdapter.freshUrl();
    const clock = new VirtualClock();
    const stores: Store[] = [];
    const deliveries: DurableDelivery[] = [];
    for (let i = 0; i < count; i++) {
      const store = await openStore(url);
      if (i === 0) await createEffects(store);
      const delivery = createDurableDelivery({ store, clock, nodeId: `node-${i}`, random: () => 0 });
      open.push(store, delivery);
      stores.push(store);
      deliveries.push(delivery);
    }
    return { clock, stores, deliveries };
  }

  it('two consumers on PostgreSQL never both hold the same message lease', async () => {
    const { stores, deliveries } = await nodes(2);
    const held = new Map<number, string>();
    const overlaps: string[] = [];
    const total = 60;
    const all = new Promise<void>((resolve) => {
      let n = 0;
      for (const d of deliveries) {
        d.on('delivered', () => {
          if (++n === total) resolve();
        });
      }
    });
    for (const [i, delivery] of deliveries.entries()) {
      await delivery.startConsumer(
        'shared',
        async (m, tx) => {
          const holder = held.get(m.id);
          if (holder !== undefined) overlaps.push(`message ${m.id} held by ${holder} and node-${i}`);
          held.set(m.id, `node-${i}`);
          await tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [m.id, `node-${i}`]);
          held.delete(m.id);
        },
        { concurrency: 4 },
      );
    }
    const [first] = deliveries;
    for (let n = 0; n < total; n++) await first?.send('shared', { n });
    await all;

    expect(overlaps).toEqual([]);
    const rows = await effects(stores[0] as Store);
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.message_id)).size).toBe(total);
    const stats = deliveries.map((d) => d.stats());
    expect(stats.reduce((sum, s) => sum + s.delivered, 0)).toBe(total);
    expect(stats.reduce((sum, s) => sum + s.redelivered + s.leaseLost, 0)).toBe(0);
  });

  it('concurrent claims from two nodes take disjoint sets of messages', async () => {
    const { clock, stores, deliveries } = await nodes(2);
    const total = 200;
    for (let n = 0; n < total; n++) await deliveries[0]?.send('shared', { n });
    const claimedBy = new Map<number, number>();
    let doubles = 0;
    const claimer = async (node: number) => {
      const store = stores[node] as Store;
      for (;;) {
        const now = clock.now();
        const { claimed } = await store.write((tx) =>
          claimMessages(tx, {
            recipient: 'shared',
            now,
            leaseUntil: now + 30_000,
            owner: `node-${node}`,
            limit: 5,
          }),
        );
        if (claimed.length === 0) return;
        for (const m of claimed) {
          if (claimedBy.has(m.id)) doubles++;
          claimedBy.set(m.id, node);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, i) => claimer(i % 2)));
    expect(doubles).toBe(0);
    expect(claimedBy.size).toBe(total);
    expect(new Set(claimedBy.values())).toEqual(new Set([0, 1]));
  });

  it('a consumer whose lease ran out cannot acknowledge: the new holder handles the message once', async () => {
    const { clock, stores, deliveries } = await nodes(2);
    const [slowNode, otherNode] = deliveries as [DurableDelivery, DurableDelivery];
    const started = deferred();
    const release = deferred();
    await slowNode.startConsumer(
      'shared',
      async (m, tx) => {
        await tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [m.id, 'slow node']);
        started.resolve();
        await release.promise;
      },
      { visibilityMs: 1000 },
    );
    const { id } = await slowNode.send('shared', { n: 1 });
    await started.promise;

    await otherNode.startConsumer(
      'shared',
      async (m, tx) => {
        await tx.execute('INSERT INTO effects (message_id, note) VALUES ($1, $2)', [
          m.id,
          `other node, attempt ${m.attempt}`,
        ]);
      },
      { visibilityMs: 1000 },
    );
    const taken = nextEvent(otherNode, 'delivered');
    // The other node looks again when the slow node's lease ends.
    await until(
      () => clock.nextDueAt() !== undefined && (clock.nextDueAt() ?? 0) <= clock.now() + 1000,
      'the lease-end timer',
    );
    await clock.advance(1000);
    expect(await taken).toMatchObject({ id, attempt: 2 });

    const lost = nextEvent(slowNode, 'lease_lost');
    release.resolve();
    expect(await lost).toMatchObject({ id, attempt: 1 });
    expect(await effects(stores[0] as Store)).toEqual([{ message_id: id, note: 'other node, attempt 2' }]);
    expect(slowNode.stats()).toMatchObject({ delivered: 0, leaseLost: 1, failed: 0 });
  });

  it('a message sent on one node wakes a consumer on another node through NOTIFY', async () => {
    const { clock, deliveries } = await nodes(2);
    const [sender, receiver] = deliveries as [DurableDelivery, DurableDelivery];
    const start = clock.now();
    const got = events(receiver, 'delivered', 1);
    await receiver.startConsumer('remote', () => undefined, { recheckMs: 0 });
    await sender.send('remote', { n: 1 });
    expect(await got).toHaveLength(1);
    expect(clock.now()).toBe(start);
  });
});

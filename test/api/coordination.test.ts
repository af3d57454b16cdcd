/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/** `/v1/coordination/*`: locks, leaders and pools as the store holds them, paged by name. */
import { afterEach, describe, expect, it } from 'vitest';
import { createCoordinationPrimitives, type CoordinationPrimitives } from '../../src/coordination/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

const DAY = 86_400_000;

describe.each(adapters)('coordination routes on $name', (adapter) => {
  let h: Harness | undefined;
  let c: CoordinationPrimitives | undefined;
  afterEach(async () => {
    await c?.close();
    await h?.close();
    c = undefined;
    h = undefined;
  });

  async function seeded(): Promise<Harness> {
    const x = await startHarness(adapter);
    h = x;
    c = createCoordinationPrimitives({ store: x.store, clock: x.clock, nodeId: 'n1' });
    for (const name of ['a-lock', 'b-lock', 'c-lock'])
      await c.locks.acquire(name, { holder: 'me', ttlMs: DAY });
    // An expired lock is not held any more: not listed.
    await c.locks.acquire('gone', { holder: 'old', ttlMs: 1 });
    await c.leaders.campaign('workers', 'alice', { ttlMs: DAY });
    await c.pools.create('gpu', { items: ['g0', 'g1'] });
    await c.pools.checkOut('gpu', { holder: 'job-1', ttlMs: DAY });
    await c.pools.checkOut('gpu', { holder: 'job-2', ttlMs: DAY });
    void c.pools
      .checkOut('gpu', { holder: 'job-3', ttlMs: DAY, waitMs: DAY, requestId: 'r3' })
      .catch(() => undefined);
    for (let i = 0; i < 2000 && (await c.pools.status('gpu')).waiters.length === 0; i++)
      await new Promise((resolve) => setImmediate(resolve));
    await x.clock.advance(1);
    return x;
  }

  it('lists live locks page by page, leaders, and pools with items, holders and waiters', async () => {
    const x = await seeded();
    const first = await call(x.url, 'GET', '/v1/coordination/locks?limit=2');
    expect(first.status).toBe(200);
    expect((first.json.locks as Array<{ name: string }>).map((l) => l.name)).toEqual(['a-lock', 'b-lock']);
    expect(first.json.locks[0]).toMatchObject({ holder: 'me', fence: 1 });
    const next = await call(x.url, 'GET', `/v1/coordination/locks?limit=2&cursor=${first.json.nextCursor}`);
    expect(next.json).toMatchObject({ locks: [{ name: 'c-lock' }], nextCursor: null });

    const leaders = await call(x.url, 'GET', '/v1/coordination/leaders');
    expect(leaders.json).toMatchObject({
      leaders: [{ group: 'workers', leader: 'alice', term: 1 }],
      nextCursor: null,
    });

    const pools = await call(x.url, 'GET', '/v1/coordination/pools');
    expect(pools.status).toBe(200);
    expect(pools.json).toMatchObject({
      pools: [
        {
          name: 'gpu',
          size: 2,
          available: 0,
          items: [
            { item: 'g0', holder: 'job-1', fence: 1 },
            { item: 'g1', holder: 'job-2', fence: 1 },
          ],
          waiters: [{ requestId: 'r3', holder: 'job-3' }],
        },
      ],
      nextCursor: null,
    });
  });

  it('a bad limit or cursor is refused with 422 invalid_input', async () => {
    const x = await seeded();
    for (const path of [
      '/v1/coordination/locks?limit=0',
      '/v1/coordination/pools?cursor=%25%25',
      '/v1/coordination/leaders?x=1',
    ]) {
      const reply = await call(x.url, 'GET', path);
      expect([reply.status, reply.json.error.code], path).toEqual([422, 'invalid_input']);
    }
  });
});

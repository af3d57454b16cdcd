import { afterEach, describe, expect, it } from 'vitest';
import type { PoolLease } from '../../../src/coordination/index.js';
import { adapters } from '../../support/stores.js';
import { drive, rejectionOf, Scenes, turn, until } from './support.js';

const DAY = 86_400_000;

describe.each(adapters)('resource pools on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('checks items out one holder each, in item order, and back in; a pool created again with the same items is the same pool', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const created = await a.pools.create('gpus', { items: ['g0', 'g1'] });
    expect(created).toMatchObject({ name: 'gpus', size: 2, available: 2, waiters: [] });
    expect(await a.pools.create('gpus', { items: ['g0', 'g1'] })).toMatchObject({ size: 2 });

    const first = await a.pools.checkOut('gpus', { holder: 'alice', ttlMs: DAY });
    const second = await a.pools.checkOut('gpus', { holder: 'bob', ttlMs: DAY });
    expect(first).toMatchObject({ kind: 'pool', pool: 'gpus', item: 'g0', holder: 'alice', fence: 1 });
    expect(second).toMatchObject({ item: 'g1', holder: 'bob', fence: 1 });
    expect(await a.pools.tryCheckOut('gpus', { holder: 'carol', ttlMs: DAY })).toBeUndefined();
    expect(await a.pools.status('gpus')).toMatchObject({
      available: 0,
      items: [
        { item: 'g0', holder: 'alice', fence: 1 },
        { item: 'g1', holder: 'bob', fence: 1 },
      ],
      waiters: [],
    });

    await a.pools.checkIn(first);
    expect(await a.pools.holds(first)).toBe(false);
    expect(await a.pools.holds(second)).toBe(true);
    const again = await a.pools.checkOut('gpus', { holder: 'carol', ttlMs: DAY });
    expect(again).toMatchObject({ item: 'g0', holder: 'carol', fence: 2 });

    const counted = await a.pools.create('licences', { count: 3 });
    expect(counted.items.map((i) => i.item)).toEqual(['0', '1', '2']);
  });

  it('one holder per item across nodes: 18 concurrent check-outs of 3 items on two store connections never share an item', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    await a.pools.create('shared', { count: 3 });
    const inside = new Map<string, string>();
    const overlaps: string[] = [];
    const served: string[] = [];
    const worker = async (node: typeof a, holder: string) => {
      const lease = await node.pools.checkOut('shared', { holder, ttlMs: DAY, waitMs: DAY });
      const other = inside.get(lease.item);
      if (other !== undefined) overlaps.push(`${holder} got item ${lease.item} while ${other} held it`);
      inside.set(lease.item, holder);
      served.push(holder);
      // Real I/O while holding: others get every chance to slip in.
      await node.pools.status('shared');
      await turn();
      inside.delete(lease.item);
      await node.pools.checkIn(lease);
    };
    const workers = Array.from({ length: 18 }, (_, i) => worker(i % 2 === 0 ? a : b, `w${i}`));
    await drive(scene.clock, Promise.all(workers));
    expect(overlaps).toEqual([]);
    expect(new Set(served).size).toBe(18);
    const status = await a.pools.status('shared');
    expect(status).toMatchObject({ available: 3, waiters: [] });
    // Every check-out raised its item's fence by one.
    expect(status.items.reduce((sum, i) => sum + i.fence, 0)).toBe(18);
  });

  it('bad input gets a specific error with a stable code and changes nothing', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.pools.create('db', { count: 1 });

    const unknown = await rejectionOf(a.pools.checkOut('nope', { holder: 'x', ttlMs: 1000 }));
    expect(unknown).toMatchObject({ code: 'pool_not_found', message: 'no pool is named "nope"' });
    expect(await rejectionOf(a.pools.status('nope'))).toMatchObject({ code: 'pool_not_found' });

    const badName = await rejectionOf(a.pools.create('has/slash', { count: 1 }));
    expect(badName.code).toBe('invalid_input');
    expect(badName.message).toMatch(/^invalid pool name: a pool name is letters, digits/);
    const negative = await rejectionOf(a.pools.create('neg', { count: -2 }));
    expect(negative.code).toBe('invalid_input');
    expect(negative.message).toMatch(/^invalid pool options: count: /);
    expect((await rejectionOf(a.pools.create('both', { count: 1, items: ['a'] }))).message).toMatch(
      /give either items or count/,
    );
    expect((await rejectionOf(a.pools.create('dup', { items: ['a', 'a'] }))).message).toMatch(
      /items must be distinct/,
    );
    const exists = await rejectionOf(a.pools.create('db', { count: 2 }));
    expect(exists).toMatchObject({ code: 'pool_exists' });
    const badWait = await rejectionOf(a.pools.checkOut('db', { holder: 'x', ttlMs: 1000, waitMs: -1 }));
    expect(badWait.code).toBe('invalid_input');

    const pools = await scene.store.query<{ name: string }>(
      'SELECT name FROM garrison_coord_pools ORDER BY name',
    );
    expect(pools.map((p) => p.name)).toEqual(['db']);
    expect(await a.pools.status('db')).toMatchObject({ size: 1, available: 1, waiters: [] });
  });

  it('waiters get returned items first come, first served, each as soon as the item is checked in', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    await a.pools.create('conn', { items: ['c'] });
    const held = await a.pools.checkOut('conn', { holder: 'h0', ttlMs: DAY });
    const order: string[] = [];
    const waits: Array<Promise<PoolLease>> = [];
    for (const [i, node] of [a, b, a, b].entries()) {
      const holder = `w${i + 1}`;
      waits.push(
        node.pools.checkOut('conn', { holder, ttlMs: DAY, waitMs: DAY, requestId: holder }).then((lease) => {
          order.push(lease.holder);
          return lease;
        }),
      );
      // Each request is in the queue before the next one comes.
      await until(
        async () => (await a.pools.status('conn')).waiters.length === i + 1,
        `${holder} waits in the queue`,
      );
    }
    expect((await a.pools.status('conn')).waiters.map((w) => w.requestId)).toEqual(['w1', 'w2', 'w3', 'w4']);

    let lease = held;
    for (let i = 0; i < 4; i++) {
      await a.pools.checkIn(lease);
      lease = await drive(scene.clock, waits[i] as Promise<PoolLease>);
      expect(lease).toMatchObject({ holder: `w${i + 1}`, item: 'c', fence: i + 2 });
    }
    expect(order).toEqual(['w1', 'w2', 'w3', 'w4']);
    expect(await a.pools.status('conn')).toMatchObject({ waiters: [], items: [{ holder: 'w4' }] });
  });

  it('a waiter times out with pool_timeout and leaves the queue; the next returned item goes to the one behind it', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.pools.create('slots', { count: 1 });
    const held = await a.pools.checkOut('slots', { holder: 'h', ttlMs: DAY });
    const short = a.pools.checkOut('slots', {
      holder: 'short',
      ttlMs: DAY,
      waitMs: 5000,
      requestId: 'short',
    });
    await until(async () => (await a.pools.status('slots')).waiters.length === 1, 'short waits');
    const long = a.pools.checkOut('slots', { holder: 'long', ttlMs: DAY, waitMs: DAY, requestId: 'long' });
    await until(async () => (await a.pools.status('slots')).waiters.length === 2, 'long waits');

    const start = scene.clock.now();
    const timeout = await drive(scene.clock, rejectionOf(short));
    expect(timeout).toMatchObject({
      code: 'pool_timeout',
      details: { name: 'slots', waitMs: 5000, requestId: 'short' },
    });
    expect(scene.clock.now()).toBeGreaterThanOrEqual(start + 5000);
    expect((await a.pools.status('slots')).waiters.map((w) => w.requestId)).toEqual(['long']);

    await a.pools.checkIn(held);
    expect(await drive(scene.clock, long)).toMatchObject({ holder: 'long', fence: 2 });
  });

  it('a check-in or renewal with a stale token (the lease expired and the item went to another) is refused and changes nothing', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.pools.create('lic', { count: 1 });
    const stale = await a.pools.checkOut('lic', { holder: 'late', ttlMs: 1000 });
    await scene.clock.advance(1000);
    const fresh = await a.pools.checkOut('lic', { holder: 'next', ttlMs: DAY });
    expect(fresh).toMatchObject({ fence: 2, holder: 'next' });

    const refused = await rejectionOf(a.pools.checkIn(stale));
    expect(refused).toMatchObject({ code: 'pool_item_lost', details: { pool: 'lic', item: '0', fence: 1 } });
    expect((await rejectionOf(a.pools.renew(stale))).code).toBe('pool_item_lost');
    expect(await a.pools.status('lic')).toMatchObject({ items: [{ holder: 'next', fence: 2 }] });
    // A forged lease with the current fence but another token is refused the same.
    expect((await rejectionOf(a.pools.checkIn({ ...fresh, token: 'forged' }))).code).toBe('pool_item_lost');
    expect(await a.pools.holds(fresh)).toBe(true);
    await a.pools.checkIn(fresh);
    expect(await a.pools.status('lic')).toMatchObject({ available: 1 });
  });

  it('an item held by a process returns when the process exits, and the waiter gets it without the clock moving', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.pools.create('gpu', { count: 1 });
    const pid = await scene.spawnIdle();
    const held = await a.pools.checkOut('gpu', { holder: pid, ttlMs: DAY });
    expect(held.holder).toBe(`node-a/${pid.toString()}`);
    const waiting = a.pools.checkOut('gpu', { holder: 'next', ttlMs: DAY, waitMs: DAY });
    await until(async () => (await a.pools.status('gpu')).waiters.length === 1, 'next waits');
    const before = scene.clock.now();
    scene.runtime.exit(pid, 'kill');
    expect(await waiting).toMatchObject({ holder: 'next', fence: 2 });
    expect(scene.clock.now()).toBe(before);
    expect(a.stats().releasedOnExit).toBe(1);
  });

  it('a waiting request survives its node: an item returned meanwhile is granted to it, and its node picks it up by request id after the restart', async () => {
    const scene = await scenes.create(adapter);
    const owner = scene.node('node-a');
    await owner.pools.create('db', { count: 1 });
    const held = await owner.pools.checkOut('db', { holder: 'h', ttlMs: DAY });
    const b = scene.node('node-b', { store: await scene.openStore() });
    const waiting = rejectionOf(
      b.pools.checkOut('db', { holder: 'job-7', ttlMs: DAY, waitMs: DAY, requestId: 'req-7' }),
    );
    await until(async () => (await owner.pools.status('db')).waiters.length === 1, 'req-7 waits');
    await b.close(); // node-b stops: its wait ends, its request stays
    expect((await waiting).code).toBe('coordination_closed');
    const behind = owner.pools.checkOut('db', {
      holder: 'other',
      ttlMs: DAY,
      waitMs: DAY,
      requestId: 'later',
    });
    await until(async () => (await owner.pools.status('db')).waiters.length === 2, 'later waits');

    await owner.pools.checkIn(held);
    expect((await owner.pools.status('db')).waiters).toMatchObject([
      { requestId: 'req-7', granted: '0' },
      { requestId: 'later', granted: undefined },
    ]);
    const restarted = scene.node('node-b', { store: await scene.openStore() });
    // Its start-up recovery keeps a request held by a name (only an earlier life's processes are gone).
    expect(await restarted.recover()).toBe(0);
    expect((await restarted.pools.status('db')).waiters).toHaveLength(2);
    const resumed = await restarted.pools.checkOut('db', {
      holder: 'job-7',
      ttlMs: DAY,
      waitMs: DAY,
      requestId: 'req-7',
    });
    expect(resumed).toMatchObject({ holder: 'job-7', item: '0', fence: 2 });
    await restarted.pools.checkIn(resumed);
    expect(await drive(scene.clock, behind)).toMatchObject({ holder: 'other', fence: 3 });
  });

  it('an item granted to a request nobody resumes returns when its lease ends, and the request leaves the queue', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.pools.create('db', { count: 1 });
    const held = await a.pools.checkOut('db', { holder: 'h', ttlMs: DAY });
    const gone = scene.node('node-gone', { store: await scene.openStore() });
    const abandoned = rejectionOf(
      gone.pools.checkOut('db', { holder: 'lost', ttlMs: 2000, waitMs: 10_000, requestId: 'lost' }),
    );
    await until(async () => (await a.pools.status('db')).waiters.length === 1, 'lost waits');
    await gone.close();
    await abandoned;
    await a.pools.checkIn(held); // granted to the absent request
    const next = a.pools.checkOut('db', { holder: 'next', ttlMs: DAY, waitMs: DAY });
    const grantedAt = scene.clock.now();
    const got = await drive(scene.clock, next);
    expect(got).toMatchObject({ holder: 'next', fence: 3 });
    expect(scene.clock.now()).toBeGreaterThanOrEqual(grantedAt + 2000);
    expect((await a.pools.status('db')).waiters).toEqual([]);
  });

  it("recover takes the waiting requests of the node's earlier processes out of the queue; a named request stays", async () => {
    const scene = await scenes.create(adapter);
    const setup = scene.node('setup');
    await setup.pools.create('db', { count: 1 });
    await setup.pools.checkOut('db', { holder: 'h', ttlMs: DAY });
    const earlier = scene.node('node-a', { store: await scene.openStore() });
    const pid = await scene.spawnIdle();
    const byProcess = rejectionOf(earlier.pools.checkOut('db', { holder: pid, ttlMs: DAY, waitMs: DAY }));
    const byName = rejectionOf(
      earlier.pools.checkOut('db', { holder: 'job', ttlMs: DAY, waitMs: DAY, requestId: 'named' }),
    );
    await until(async () => (await setup.pools.status('db')).waiters.length === 2, 'both wait');
    await earlier.close();
    expect((await byProcess).code).toBe('coordination_closed');
    expect((await byName).code).toBe('coordination_closed');

    const again = scene.node('node-a', { store: await scene.openStore() });
    await again.recover();
    expect((await setup.pools.status('db')).waiters.map((w) => w.requestId)).toEqual(['named']);
  });

  it('a pool with an item out cannot be removed; once every item is in, it goes with its queue', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.pools.create('tmp', { count: 2 });
    const lease = await a.pools.checkOut('tmp', { holder: 'x', ttlMs: DAY });
    expect(await rejectionOf(a.pools.remove('tmp'))).toMatchObject({
      code: 'pool_in_use',
      details: { held: 1 },
    });
    await a.pools.checkIn(lease);
    expect(await a.pools.remove('tmp')).toBe(true);
    expect(await a.pools.remove('tmp')).toBe(false);
    expect((await rejectionOf(a.pools.status('tmp'))).code).toBe('pool_not_found');
    await turn();
  });
});

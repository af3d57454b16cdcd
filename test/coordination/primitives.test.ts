import { afterEach, describe, expect, it } from 'vitest';
import {
  Barriers,
  Consensus,
  createLocks,
  LeaderElection,
  type LockToken,
} from '../../src/coordination/index.js';
import { createRuntime, VirtualClock, type Behaviour } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';

const idle: Behaviour<null, null> = { init: () => null };

describe.each(adapters)('coordination primitives on $name', (adapter) => {
  const open: Store[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  async function twoHandles(): Promise<[Store, Store]> {
    const url = adapter.freshUrl();
    const a = await openStore(url);
    const b = await openStore(url, { migrate: false });
    open.push(a, b);
    return [a, b];
  }

  it('a lock has one holder at a time, even with many acquirers on two connections', async () => {
    const [a, b] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const locks = [createLocks({ store: a, clock }), createLocks({ store: b, clock })];
    const holders: string[] = [];
    let inside = 0;
    let overlap = 0;
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const locksOf = locks[i % 2]!;
        for (;;) {
          const token = await locksOf.tryAcquire('res', { holder: `w${i}`, ttlMs: 60_000 });
          if (token === undefined) {
            await new Promise((r) => setImmediate(r));
            continue;
          }
          inside += 1;
          if (inside > 1) overlap += 1;
          holders.push(token.holder);
          await new Promise((r) => setImmediate(r));
          inside -= 1;
          await locksOf.release(token);
          return;
        }
      }),
    );
    expect(overlap).toBe(0);
    expect(new Set(holders).size).toBe(12);
  });

  it('an expired lease is taken over with a higher fence; the old token can neither renew nor release', async () => {
    const [store] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const locks = createLocks({ store, clock });
    const first = (await locks.tryAcquire('job', { holder: 'a', ttlMs: 1000 })) as LockToken;
    expect(await locks.tryAcquire('job', { holder: 'b', ttlMs: 1000 })).toBeUndefined();
    await expect(locks.acquire('job', { holder: 'b', ttlMs: 1000 })).rejects.toMatchObject({
      code: 'lock_timeout',
    });
    await clock.advance(1000);
    const second = (await locks.tryAcquire('job', { holder: 'b', ttlMs: 1000 })) as LockToken;
    expect(second.fence).toBeGreaterThan(first.fence);
    await expect(locks.renew(first, 1000)).rejects.toMatchObject({ code: 'lock_lost' });
    await expect(locks.release(first)).rejects.toMatchObject({ code: 'lock_lost' });
    expect(await locks.holderOf('job')).toMatchObject({ holder: 'b', fence: second.fence });
    expect(await locks.isHeld(second)).toBe(true);
  });

  it('a waiting acquire gets the lock when it is released', async () => {
    const [store] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const locks = createLocks({ store, clock, retryMs: 10 });
    const first = (await locks.tryAcquire('q', { holder: 'a', ttlMs: 60_000 })) as LockToken;
    const waiting = locks.acquire('q', { holder: 'b', ttlMs: 60_000, waitMs: 5_000 });
    await locks.release(first);
    for (let i = 0; i < 50 && clock.pendingTimers > 0; i++) await clock.advance(10);
    expect((await waiting).holder).toBe('b');
  });

  it('the death of the owning process releases its lock in a committed transaction', async () => {
    const [store] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const runtime = createRuntime({ clock });
    const locks = createLocks({ store, clock, runtime });
    const owner = await runtime.spawn(idle, null);
    await locks.tryAcquire('held', { holder: 'p', ttlMs: 60_000, owner });
    runtime.kill(owner);
    for (let i = 0; i < 200 && (await locks.holderOf('held')) !== undefined; i++)
      await new Promise((r) => setImmediate(r));
    expect(await locks.holderOf('held')).toBeUndefined();
    expect(runtime.checkMonitorLeaks(0)).toEqual([]);
    await runtime.shutdown();
  });

  it('leader election: one leader per term across two connections; a lapsed term lets another lead', async () => {
    const [a, b] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const ea = new LeaderElection(createLocks({ store: a, clock }));
    const eb = new LeaderElection(createLocks({ store: b, clock }));
    const results = await Promise.all([
      ea.campaign('cron', 'node-a', { ttlMs: 1000 }),
      eb.campaign('cron', 'node-b', { ttlMs: 1000 }),
      ea.campaign('cron', 'node-c', { ttlMs: 1000 }),
    ]);
    const won = results.filter((r) => r !== undefined);
    expect(won).toHaveLength(1);
    const term = won[0]!.term;
    await clock.advance(1000);
    const next = await eb.campaign('cron', 'node-b', { ttlMs: 1000 });
    expect(next?.term).toBeGreaterThan(term);
    expect(await ea.leader('cron')).toEqual({ leader: 'node-b', term: next?.term });
    await expect(ea.renew(won[0]!.token, 1000)).rejects.toMatchObject({ code: 'lock_lost' });
  });

  it('a barrier opens when every party has arrived, arrivals survive a restart, and waiting times out', async () => {
    const [store, other] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const barriers = new Barriers(store, clock, 10);
    await barriers.create('sync', 3);
    await barriers.create('sync', 3); // idempotent
    await expect(barriers.create('sync', 4)).rejects.toMatchObject({ code: 'barrier_conflict' });
    await barriers.arrive('sync', 'a');
    await barriers.arrive('sync', 'a');
    const timedOut = barriers.wait('sync', { timeoutMs: 100 }).catch((e: unknown) => e);
    for (let i = 0; i < 20; i++) await clock.advance(10);
    expect(await timedOut).toMatchObject({ code: 'barrier_timeout' });

    // The first handle goes away (its process restarted); the arrivals are in the store.
    await store.close();
    open.splice(open.indexOf(store), 1);
    const again = new Barriers(other, clock, 10);
    expect((await again.state('sync')).arrived).toEqual(['a']);
    await again.arrive('sync', 'b');
    expect((await again.arrive('sync', 'c')).open).toBe(true);
    expect((await again.wait('sync', { timeoutMs: 100 })).arrived).toEqual(['a', 'b', 'c']);
    await expect(again.arrive('nope', 'x')).rejects.toMatchObject({ code: 'barrier_not_found' });
  });

  it('consensus: decided at quorum, one vote per voter, closed after, timed out at the deadline', async () => {
    const [a, b] = await twoHandles();
    const clock = new VirtualClock(1_000);
    const ca = new Consensus(a, clock);
    const cb = new Consensus(b, clock);
    const p = await ca.propose('deploy', { options: ['yes', 'no'], quorum: 2, timeoutMs: 5000, id: 'p1' });
    expect(p.status).toBe('open');
    await ca.vote('p1', 'v1', 'yes');
    await expect(cb.vote('p1', 'v1', 'no')).rejects.toMatchObject({ code: 'already_voted' });
    await expect(cb.vote('p1', 'v2', 'maybe')).rejects.toMatchObject({ code: 'invalid_input' });
    const decided = await cb.vote('p1', 'v2', 'yes');
    expect(decided).toMatchObject({ status: 'decided', decision: 'yes', tally: { yes: 2, no: 0 } });
    await expect(ca.vote('p1', 'v3', 'no')).rejects.toMatchObject({ code: 'proposal_closed' });

    await ca.propose('other', { options: ['a', 'b'], quorum: 3, timeoutMs: 1000, id: 'p2' });
    await ca.vote('p2', 'v1', 'a');
    await clock.advance(1000);
    expect((await cb.get('p2')).status).toBe('timeout');
    await expect(ca.vote('p2', 'v2', 'a')).rejects.toMatchObject({ code: 'proposal_closed' });
    await expect(ca.get('absent')).rejects.toMatchObject({ code: 'proposal_not_found' });
  });
});

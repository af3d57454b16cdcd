import { afterEach, describe, expect, it } from 'vitest';
import type { CoordinationPrimitives, LockLease } from '../../../src/coordination/index.js';
import { adapters } from '../../support/stores.js';
import { drive, leaseRow, rejectionOf, Scenes, turn, until } from './support.js';

const DAY = 86_400_000;

describe.each(adapters)('locks on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('one holder at a time: 24 concurrent acquirers on two store connections never overlap, fences rise in entry order', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const inside = new Set<string>();
    const entries: Array<{ holder: string; fence: number }> = [];
    const overlaps: string[] = [];

    const worker = async (node: CoordinationPrimitives, holder: string) => {
      const lease = await node.locks.acquire('shared', { holder, ttlMs: DAY, waitMs: DAY });
      if (inside.size > 0) overlaps.push(`${holder} entered while ${[...inside].join(', ')} held the lock`);
      inside.add(holder);
      entries.push({ holder, fence: lease.fence });
      // Real I/O inside the critical section: others get every chance to slip in.
      await node.locks.isHeld('shared');
      await turn();
      inside.delete(holder);
      await node.locks.release(lease);
    };
    const workers = Array.from({ length: 24 }, (_, i) =>
      worker(i % 2 === 0 ? a : b, `${i % 2 === 0 ? 'a' : 'b'}-${i}`),
    );
    await drive(scene.clock, Promise.all(workers));

    expect(overlaps).toEqual([]);
    expect(entries).toHaveLength(24);
    expect(new Set(entries.map((e) => e.holder)).size).toBe(24);
    expect(entries.map((e) => e.fence)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(await leaseRow(scene.store, 'lock', 'shared')).toEqual({ holder: null, fence: 24 });
  });

  it('a waiter is woken by the release without the clock moving (wake-up, not polling)', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    // PostgreSQL: the waiter is another node on its own connections (LISTEN/NOTIFY); SQLite wakes the
    // waiters of its own store.
    const b = adapter.name === 'postgres' ? scene.node('node-b', { store: await scene.openStore() }) : a;
    const held = await a.locks.acquire('job', { holder: 'first', ttlMs: DAY });
    let got: LockLease | undefined;
    const waiting = b.locks
      .acquire('job', { holder: 'second', ttlMs: DAY, waitMs: DAY })
      .then((l) => (got = l));
    for (let i = 0; i < 50; i++) await turn();
    expect(got).toBeUndefined();
    const before = scene.clock.now();
    await a.locks.release(held);
    await waiting;
    expect(scene.clock.now()).toBe(before);
    expect(got).toMatchObject({ name: 'job', holder: 'second', fence: 2 });
  });

  it('an expired lease is taken over with a greater fence; the old token can neither renew nor release (lock_lost)', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const old = await a.locks.acquire('res', { holder: 'slow', ttlMs: 1000 });
    expect(await b.locks.tryAcquire('res', { holder: 'eager', ttlMs: 1000 })).toBeUndefined();
    await scene.clock.advance(1000);
    expect(await a.locks.isHeld('res')).toBe(false);
    expect(await a.locks.holds(old)).toBe(false);
    const taken = await b.locks.acquire('res', { holder: 'eager', ttlMs: 1000 });
    expect(taken.fence).toBeGreaterThan(old.fence);

    const renew = await rejectionOf(a.locks.renew(old));
    expect(renew.code).toBe('lock_lost');
    const release = await rejectionOf(a.locks.release(old));
    expect(release.code).toBe('lock_lost');
    expect(await b.locks.status('res')).toMatchObject({ holder: 'eager', fence: taken.fence });
    expect(await b.locks.holds(taken)).toBe(true);
  });

  it('a renewed lease is not taken over, and renewing after expiry is refused', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    let lease = await a.locks.acquire('res', { holder: 'h', ttlMs: 1000 });
    for (let i = 0; i < 5; i++) {
      await scene.clock.advance(900);
      lease = await a.locks.renew(lease);
      expect(await a.locks.tryAcquire('res', { holder: 'other', ttlMs: 1000 })).toBeUndefined();
    }
    expect(lease.expiresAt).toBe(scene.clock.now() + 1000);
    expect(lease.fence).toBe(1);
    await scene.clock.advance(1000);
    expect((await rejectionOf(a.locks.renew(lease))).code).toBe('lock_lost');
  });

  it('acquire gives up after waitMs with lock_timeout, and a waiter takes the lock when the holder’s lease expires', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const first = await a.locks.acquire('res', { holder: 'h', ttlMs: 5000 });
    expect((await rejectionOf(a.locks.acquire('res', { holder: 'x', ttlMs: 10 }))).code).toBe('lock_timeout');
    const timeout = await rejectionOf(
      drive(scene.clock, a.locks.acquire('res', { holder: 'x', ttlMs: 10, waitMs: 1000 })),
    );
    expect(timeout).toMatchObject({ code: 'lock_timeout', retryable: true, details: { holder: 'h' } });

    const waited = await drive(
      scene.clock,
      a.locks.acquire('res', { holder: 'y', ttlMs: 10, waitMs: 60_000 }),
    );
    expect(waited).toMatchObject({ holder: 'y', fence: 2 });
    expect(waited.acquiredAt).toBeGreaterThanOrEqual(first.expiresAt);
  });

  it('a holder process that dies releases its locks in a committed transaction, and a waiting node gets the lock', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const otherStore = await scene.openStore();
    const b = scene.node('node-b', { store: otherStore });
    const pid = await scene.spawnIdle();
    const one = await a.locks.acquire('one', { holder: pid, ttlMs: DAY });
    await a.locks.acquire('two', { holder: pid, ttlMs: DAY });
    expect(one.holder).toBe(`node-a/${pid.toString()}`);
    expect(a.stats().holdingProcesses).toBe(1);
    expect(scene.runtime.monitorCount).toBe(1);

    const waiting = b.locks.acquire('one', { holder: 'next', ttlMs: DAY, waitMs: DAY });
    scene.runtime.kill(pid);
    await a.idle();
    // Committed: another connection sees both locks free at once, long before the leases would end.
    expect(await leaseRow(otherStore, 'lock', 'two')).toEqual({ holder: null, fence: 1 });
    const next = await drive(scene.clock, waiting);
    expect(next).toMatchObject({ holder: 'next', fence: 2 });
    expect(a.stats()).toMatchObject({ holdingProcesses: 0, releasedOnExit: 2 });
    expect(scene.runtime.monitorCount).toBe(0);
    expect(scene.errors).toEqual([]);
  });

  it('a process that releases its last lock is no longer monitored; its later exit frees nothing', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const pid = await scene.spawnIdle();
    const lease = await a.locks.acquire('one', { holder: pid, ttlMs: DAY });
    await a.locks.release(lease);
    expect(scene.runtime.monitorCount).toBe(0);
    const other = await a.locks.acquire('one', { holder: 'someone', ttlMs: DAY });
    scene.runtime.kill(pid);
    await a.idle();
    expect(await a.locks.holds(other)).toBe(true);
    expect(a.stats().releasedOnExit).toBe(0);
  });

  it('a dead process cannot take a lock (noproc), and a process holder needs a runtime (invalid_input)', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const pid = await scene.spawnIdle();
    scene.runtime.kill(pid);
    expect((await rejectionOf(a.locks.acquire('one', { holder: pid, ttlMs: 1000 }))).code).toBe('noproc');
    const bare = scene.node('node-x', { runtime: undefined });
    const live = await scene.spawnIdle();
    expect((await rejectionOf(bare.locks.acquire('one', { holder: live, ttlMs: 1000 }))).code).toBe(
      'invalid_input',
    );
    expect(await leaseRow(scene.store, 'lock', 'one')).toBeUndefined();
  });

  it('recover frees the leases of processes of an earlier boot of this node, and only those', async () => {
    const scene = await scenes.create(adapter);
    const before = scene.node('node-a');
    const pid = await scene.spawnIdle();
    await before.locks.acquire('of-process', { holder: pid, ttlMs: DAY });
    await before.locks.acquire('of-name', { holder: 'named', ttlMs: DAY });
    await before.close(); // the node "crashes": nobody watches the process any more
    const elsewhere = scene.node('node-b');
    const pidB = await scene.spawnIdle();
    await elsewhere.locks.acquire('of-b', { holder: pidB, ttlMs: DAY });

    const after = scene.node('node-a');
    expect(await after.recover()).toBe(1);
    expect(await after.locks.isHeld('of-process')).toBe(false);
    expect(await after.locks.isHeld('of-name')).toBe(true);
    expect(await after.locks.isHeld('of-b')).toBe(true);
    expect(await after.recover()).toBe(0);
  });

  it('a lock survives a restart: its holder and fence are read back from the store', async () => {
    const scene = await scenes.create(adapter);
    const lease = await scene.node('node-a').locks.acquire('res', { holder: 'h', ttlMs: 10_000 });
    const again = await scene.openStore();
    const b = scene.node('node-b', { store: again });
    expect(await b.locks.status('res')).toEqual({
      name: 'res',
      holder: 'h',
      fence: 1,
      acquiredAt: lease.acquiredAt,
      expiresAt: lease.expiresAt,
    });
    await b.locks.release(lease);
    expect((await b.locks.acquire('res', { holder: 'i', ttlMs: 10 })).fence).toBe(2);
  });

  it('close ends every wait with coordination_closed and leaves the leases in the store', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const lease = await a.locks.acquire('res', { holder: 'h', ttlMs: DAY });
    await a.barriers.create('b', 2);
    const waits = [
      a.locks.acquire('res', { holder: 'w', ttlMs: DAY, waitMs: DAY }),
      a.barriers.wait('b', { timeoutMs: DAY }),
    ];
    await until(() => a.stats().waiting === 2, 'both callers wait');
    await a.close();
    for (const w of waits) expect((await rejectionOf(w)).code).toBe('coordination_closed');
    expect((await rejectionOf(a.locks.acquire('res', { holder: 'w', ttlMs: 1, waitMs: 1 }))).code).toBe(
      'coordination_closed',
    );
    expect(await scene.node('node-b').locks.holds(lease)).toBe(true);
  });

  it('bad input is refused with invalid_input and changes nothing', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const bad: Array<() => Promise<unknown>> = [
      () => a.locks.acquire('', { holder: 'h', ttlMs: 10 }),
      () => a.locks.acquire('x', { holder: '', ttlMs: 10 }),
      () => a.locks.acquire('x', { holder: 'h', ttlMs: 0 }),
      () => a.locks.acquire('x', { holder: 'h', ttlMs: 1.5 }),
      () => a.locks.acquire('x', { holder: 'h', ttlMs: 10, waitMs: -1 }),
      () => a.locks.acquire('x', { holder: 'h', ttlMs: 10, extra: 1 } as never),
      () => a.locks.renew({ name: 'x' } as never),
      () => a.locks.release({ kind: 'leader', name: 'x', token: 't', fence: 1, ttlMs: 1 } as never),
    ];
    for (const p of bad) expect((await rejectionOf(p())).code).toBe('invalid_input');
    expect(await leaseRow(scene.store, 'lock', 'x')).toBeUndefined();
    expect(() => scene.node('', {})).toThrow(/nodeId/);
  });
});

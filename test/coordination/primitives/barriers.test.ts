import { afterEach, describe, expect, it } from 'vitest';
import type { BarrierStatus } from '../../../src/coordination/index.js';
import { openStore } from '../../../src/store/index.js';
import { createCoordinationPrimitives } from '../../../src/coordination/index.js';
import { adapters } from '../../support/stores.js';
import { drive, rejectionOf, Scenes, turn } from './support.js';

describe.each(adapters)('barriers on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('opens when every party has arrived; arriving twice counts once', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    expect(await a.barriers.create('start', 3)).toMatchObject({ parties: 3, arrived: 0, released: false });
    expect(await a.barriers.arrive('start', 'p1')).toMatchObject({
      arrived: 1,
      counted: true,
      released: false,
    });
    expect(await a.barriers.arrive('start', 'p1')).toMatchObject({
      arrived: 1,
      counted: false,
      released: false,
    });
    let opened: BarrierStatus | undefined;
    const waiting = a.barriers.wait('start', { timeoutMs: 60_000 }).then((s) => (opened = s));
    await a.barriers.arrive('start', 'p2');
    for (let i = 0; i < 20; i++) await turn();
    expect(opened).toBeUndefined();
    const last = await a.barriers.arrive('start', 'p3');
    expect(last).toMatchObject({ arrived: 3, counted: true, released: true, releasedAt: scene.clock.now() });
    await waiting;
    expect(opened).toMatchObject({ released: true, arrived: 3 });
    expect(await a.barriers.arrive('start', 'p2')).toMatchObject({ counted: false, released: true });
    expect((await a.barriers.arrivals('start')).map((x) => x.participant)).toEqual(['p1', 'p2', 'p3']);
  });

  it('arrivals survive a restart: the parties still missing after it open the barrier for a waiter', async () => {
    const scene = await scenes.create(adapter);
    const before = await openStore(scene.url);
    const node = createCoordinationPrimitives({ store: before, clock: scene.clock, nodeId: 'node-a' });
    await node.barriers.create('phase-2', 4);
    await node.barriers.arrive('phase-2', 'w1');
    await node.barriers.arrive('phase-2', 'w2');
    await node.close();
    await before.close(); // the node stops; nothing of the barrier was in its memory

    const after = scene.node('node-a', { store: await scene.openStore() });
    expect(await after.barriers.status('phase-2')).toMatchObject({ parties: 4, arrived: 2, released: false });
    const waiting = after.barriers.wait('phase-2', { timeoutMs: 60_000 });
    expect(await after.barriers.arrive('phase-2', 'w1')).toMatchObject({ counted: false, arrived: 2 });
    await after.barriers.arrive('phase-2', 'w3');
    await after.barriers.arrive('phase-2', 'w4');
    expect(await drive(scene.clock, waiting)).toMatchObject({ released: true, arrived: 4 });
  });

  it('wait gives up with barrier_timeout when the parties do not all arrive in time (virtual clock)', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.barriers.create('b', 2);
    await a.barriers.arrive('b', 'only');
    const error = await rejectionOf(drive(scene.clock, a.barriers.wait('b', { timeoutMs: 5000 })));
    expect(error).toMatchObject({
      code: 'barrier_timeout',
      retryable: true,
      details: { name: 'b', timeoutMs: 5000, arrived: 1, parties: 2 },
    });
    expect(a.stats().waiting).toBe(0);
    expect(await a.barriers.status('b')).toMatchObject({ arrived: 1, released: false });
  });

  it('concurrent arrivals on two connections: each counted once, the barrier opens exactly once and wakes waiters on both', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    await a.barriers.create('meet', 10);
    const waiters = [
      a.barriers.wait('meet', { timeoutMs: 600_000 }),
      b.barriers.wait('meet', { timeoutMs: 600_000 }),
    ];
    const arrivals = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).barriers.arrive('meet', `p${i}`)),
    );
    expect(arrivals.every((x) => x.counted)).toBe(true);
    expect(arrivals.map((x) => x.arrived).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    expect(arrivals.filter((x) => x.released && x.arrived === 10)).toHaveLength(1);
    const opened = await drive(scene.clock, Promise.all(waiters));
    expect(opened.map((s) => s.arrived)).toEqual([10, 10]);
  });

  it('create again with the same parties is a no-op; with others barrier_exists; a new participant after opening is barrier_full; unknown names barrier_not_found', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const created = await a.barriers.create('b', 1);
    expect(await a.barriers.create('b', 1)).toEqual(created);
    expect(await rejectionOf(a.barriers.create('b', 2))).toMatchObject({
      code: 'barrier_exists',
      details: { parties: 1, requested: 2 },
    });
    await a.barriers.arrive('b', 'first');
    expect((await rejectionOf(a.barriers.arrive('b', 'late'))).code).toBe('barrier_full');
    expect((await a.barriers.arrivals('b')).map((x) => x.participant)).toEqual(['first']);
    for (const p of [
      () => a.barriers.arrive('nope', 'x'),
      () => a.barriers.wait('nope', { timeoutMs: 10 }),
      () => a.barriers.status('nope'),
    ]) {
      expect((await rejectionOf(p())).code).toBe('barrier_not_found');
    }
    expect(await a.barriers.remove('b')).toBe(true);
    expect(await a.barriers.remove('b')).toBe(false);
    expect(await a.barriers.create('b', 2)).toMatchObject({ parties: 2, arrived: 0 });
  });

  it('bad input is refused with invalid_input and changes nothing', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    for (const p of [
      () => a.barriers.create('', 2),
      () => a.barriers.create('b', 0),
      () => a.barriers.create('b', 1.5),
      () => a.barriers.arrive('b', ''),
      () => a.barriers.wait('b', { timeoutMs: -5 }),
    ]) {
      expect((await rejectionOf(p())).code).toBe('invalid_input');
    }
    expect((await rejectionOf(a.barriers.status('b'))).code).toBe('barrier_not_found');
  });
});

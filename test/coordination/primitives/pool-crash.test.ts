/**
 * The process holding a pool item really dies: its node is killed with SIGKILL, so no monitor can check
 * the item in. A waiter on another node gets it when the item's lease expires — or at once when the
 * dead node comes back under its id and recovers.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repositoryRoot, spawnScript } from '../../support/child.js';
import { adapters } from '../../support/stores.js';
import { drive, Scenes, until } from './support.js';

describe.each(adapters)('a pool item holder killed with SIGKILL on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  async function crashedScene() {
    const scene = await scenes.create(adapter);
    await scene.node('setup').pools.create('gpu', { count: 1 });
    const script = join(repositoryRoot, 'test', 'coordination', 'primitives', 'pool-crash-child.ts');
    // stdin keeps the child alive until it is killed.
    const child = spawnScript(script, [scene.url, scene.clock.now()], { stdin: true });
    await child.waitFor('ready\n', 'stdout');
    expect((await child.kill()).signal).toBe('SIGKILL');
    return scene;
  }

  it('the item returns to the pool when its lease expires and the next waiter gets it', async () => {
    const scene = await crashedScene();
    const b = scene.node('node-b', { store: await scene.openStore() });
    expect(await b.pools.status('gpu')).toMatchObject({
      available: 0,
      items: [{ item: '0', fence: 1, holder: expect.stringMatching(/^node-a\//) as unknown }],
    });
    const start = scene.clock.now();
    const first = b.pools.checkOut('gpu', { holder: 'first', ttlMs: 60_000, waitMs: 120_000 });
    await until(async () => (await b.pools.status('gpu')).waiters.length === 1, 'first waits');
    const second = b.pools.checkOut('gpu', { holder: 'second', ttlMs: 60_000, waitMs: 120_000 });
    await until(async () => (await b.pools.status('gpu')).waiters.length === 2, 'second waits');

    const lease = await drive(scene.clock, first);
    expect(lease).toMatchObject({ holder: 'first', item: '0', fence: 2 });
    expect(lease.acquiredAt).toBeGreaterThanOrEqual(start + 30_000);
    await b.pools.checkIn(lease);
    expect(await drive(scene.clock, second)).toMatchObject({ holder: 'second', fence: 3 });
  });

  it('when the node comes back under its id, recover returns the item at once to the waiter', async () => {
    const scene = await crashedScene();
    // One store for both: SQLite wakes the waiters of its own store (PostgreSQL would wake any node's).
    const store = await scene.openStore();
    const b = scene.node('node-b', { store });
    const waiting = b.pools.checkOut('gpu', { holder: 'waiter', ttlMs: 60_000, waitMs: 120_000 });
    await until(async () => (await b.pools.status('gpu')).waiters.length === 1, 'the waiter waits');
    const again = scene.node('node-a', { store });
    const before = scene.clock.now();
    expect(await again.recover()).toBe(1);
    expect(await drive(scene.clock, waiting)).toMatchObject({ holder: 'waiter', fence: 2 });
    expect(scene.clock.now()).toBe(before);
  });
});

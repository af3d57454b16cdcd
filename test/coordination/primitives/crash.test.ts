/**
 * A whole node killed with SIGKILL while it holds a lock and a leadership through one of its processes:
 * no monitor can free them, so they are taken over when their leases expire — or at once when the node
 * comes back with the same id and calls `recover`. Its barrier arrival and its vote were committed and
 * stay.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repositoryRoot, spawnScript } from '../../support/child.js';
import { adapters } from '../../support/stores.js';
import { drive, Scenes } from './support.js';

/** Runs the crash child on `url` until it reports "ready", then kills it with SIGKILL. */
async function killReadyChild(url: string, start: number): Promise<void> {
  const script = join(repositoryRoot, 'test', 'coordination', 'primitives', 'crash-child.ts');
  // stdin keeps the child alive until it is killed.
  const child = spawnScript(script, [url, start], { stdin: true });
  await child.waitFor('ready\n', 'stdout');
  expect((await child.kill()).signal).toBe('SIGKILL');
}

describe.each(adapters)('a node killed with SIGKILL on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  async function crashedScene() {
    const scene = await scenes.create(adapter);
    const setup = scene.node('setup');
    await setup.barriers.create('phase', 2);
    await setup.consensus.propose('ship', {
      id: 'p-1',
      options: ['yes', 'no'],
      voters: ['v1', 'v2'],
      timeoutMs: 600_000,
    });
    await killReadyChild(scene.url, scene.clock.now());
    return scene;
  }

  it('its lock and leadership are taken over when their leases expire, with a greater fence and term; its arrival and vote stay', async () => {
    const scene = await crashedScene();
    const b = scene.node('node-b', { store: await scene.openStore() });
    expect(await b.locks.status('job')).toMatchObject({
      fence: 1,
      holder: expect.stringMatching(/^node-a\//) as unknown,
    });
    expect(await b.leaders.leader('workers')).toMatchObject({ term: 1 });
    expect(await b.barriers.status('phase')).toMatchObject({ arrived: 1, released: false });
    expect((await b.consensus.result('p-1')).votes).toMatchObject([{ voter: 'v1', choice: 'yes' }]);

    const lock = b.locks.acquire('job', { holder: 'b', ttlMs: 30_000, waitMs: 60_000 });
    const leadership = b.leaders.campaign('workers', 'b', { ttlMs: 30_000, waitMs: 60_000 });
    const start = scene.clock.now();
    const [taken, elected] = await drive(scene.clock, Promise.all([lock, leadership]));
    expect(taken).toMatchObject({ holder: 'b', fence: 2 });
    expect(taken.acquiredAt).toBeGreaterThanOrEqual(start + 30_000);
    expect(elected).toMatchObject({ elected: true, lease: { term: 2 } });

    await b.barriers.arrive('phase', 'b');
    expect(await b.barriers.status('phase')).toMatchObject({ arrived: 2, released: true });
    expect(await b.consensus.vote('p-1', 'v2', 'yes')).toMatchObject({ status: 'decided', decision: 'yes' });
  });

  it('when the node comes back under its id, recover frees them at once', async () => {
    const scene = await crashedScene();
    const again = scene.node('node-a', { store: await scene.openStore() });
    expect(await again.locks.isHeld('job')).toBe(true);
    const before = scene.clock.now();
    expect(await again.recover()).toBe(2);
    expect(await again.locks.acquire('job', { holder: 'restarted', ttlMs: 1000 })).toMatchObject({
      fence: 2,
    });
    expect(await again.leaders.campaign('workers', 'restarted', { ttlMs: 1000 })).toMatchObject({
      elected: true,
      lease: { term: 2 },
    });
    expect(scene.clock.now()).toBe(before);
  });
});

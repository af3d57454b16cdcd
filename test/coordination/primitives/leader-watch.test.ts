import { afterEach, describe, expect, it } from 'vitest';
import type { LeaderChange } from '../../../src/coordination/index.js';
import { adapters } from '../../support/stores.js';
import { drive, rejectionOf, Scenes, until } from './support.js';

describe.each(adapters)('a leader watch on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('fires on every change of leader — a resignation, a new term, an expiry — and not on renewals', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    // PostgreSQL: the watcher is another node on its own connections (the commit's NOTIFY wakes it).
    const watcher =
      adapter.name === 'postgres' ? scene.node('node-b', { store: await scene.openStore() }) : a;
    const first = await a.leaders.campaign('workers', 'alice', { ttlMs: 10_000 });
    if (!first.elected) throw new Error('alice should lead');
    const changes: LeaderChange[] = [];
    const watch = await watcher.leaders.watch('workers', (change) => changes.push(change));
    expect(watch.initial).toMatchObject({ leader: 'alice', term: 1 });

    await a.leaders.renew(first.lease);
    await a.leaders.resign(first.lease);
    await until(() => changes.length === 1, 'the resignation is seen');
    expect(changes[0]).toMatchObject({
      group: 'workers',
      leader: undefined,
      previous: { leader: 'alice', term: 1 },
    });

    await a.leaders.campaign('workers', 'bob', { ttlMs: 10_000 });
    await until(() => changes.length === 2, 'the new term is seen');
    expect(changes[1]).toMatchObject({ leader: { leader: 'bob', term: 2 }, previous: undefined });

    // Nobody renews: the watch wakes at the lease's end by the clock.
    await drive(
      scene.clock,
      until(() => changes.length === 3, 'the expiry is seen'),
    );
    expect(changes[2]).toMatchObject({ leader: undefined, previous: { leader: 'bob', term: 2 } });

    watch.stop();
    await a.leaders.campaign('workers', 'carol', { ttlMs: 10_000 });
    await a.leaders.leader('workers');
    expect(changes).toHaveLength(3);
  });

  it('refuses a bad group name or listener with invalid_input', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    expect((await rejectionOf(a.leaders.watch('', () => undefined))).code).toBe('invalid_input');
    expect((await rejectionOf(a.leaders.watch('g', 'nope' as unknown as () => void))).code).toBe(
      'invalid_input',
    );
  });
});

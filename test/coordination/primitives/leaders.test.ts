import { afterEach, describe, expect, it } from 'vitest';
import type { CampaignResult, CoordinationPrimitives, LeaderLease } from '../../../src/coordination/index.js';
import { adapters } from '../../support/stores.js';
import { drive, rejectionOf, Scenes, turn } from './support.js';

const DAY = 86_400_000;

describe.each(adapters)('leader election on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('competing candidates on two connections: exactly one leader per term, and terms only grow', async () => {
    const scene = await scenes.create(adapter);
    const nodes = [scene.node('node-a'), scene.node('node-b', { store: await scene.openStore() })];
    const terms: Array<{ term: number; leader: string }> = [];
    for (let round = 0; round < 6; round++) {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (nodes[i % 2] as CoordinationPrimitives).leaders.campaign('cron', `c${i}`, { ttlMs: DAY }),
        ),
      );
      const elected = results.filter((r): r is Extract<CampaignResult, { elected: true }> => r.elected);
      expect(elected, `round ${round}`).toHaveLength(1);
      const lease = (elected[0] as { lease: LeaderLease }).lease;
      terms.push({ term: lease.term, leader: lease.holder });
      for (const r of results) {
        if (!r.elected) expect(r.leader).toMatchObject({ leader: lease.holder, term: lease.term });
      }
      expect(await nodes[1]!.leaders.leader('cron')).toMatchObject({
        leader: lease.holder,
        term: lease.term,
      });
      await nodes[0]!.leaders.resign(lease);
    }
    expect(terms.map((t) => t.term)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('candidates waiting on two connections lead one after another, each in its own term', async () => {
    const scene = await scenes.create(adapter);
    const nodes = [scene.node('node-a'), scene.node('node-b', { store: await scene.openStore() })];
    let leading: string | undefined;
    const overlaps: string[] = [];
    const held: Array<{ candidate: string; term: number }> = [];
    const candidate = async (i: number) => {
      const node = nodes[i % 2] as CoordinationPrimitives;
      const result = await node.leaders.campaign('group', `c${i}`, { ttlMs: DAY, waitMs: DAY });
      if (!result.elected) throw new Error(`c${i} was not elected`);
      if (leading !== undefined) overlaps.push(`c${i} leads while ${leading} does`);
      leading = `c${i}`;
      held.push({ candidate: `c${i}`, term: result.lease.term });
      expect(await node.leaders.isLeader(result.lease)).toBe(true);
      await turn();
      leading = undefined;
      await node.leaders.resign(result.lease);
    };
    await drive(scene.clock, Promise.all(Array.from({ length: 10 }, (_, i) => candidate(i))));
    expect(overlaps).toEqual([]);
    expect(held.map((h) => h.term)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(new Set(held.map((h) => h.candidate)).size).toBe(10);
  });

  it('the leadership is lost when its lease is not renewed: no leader after the ttl, renew refused, the next campaign is the next term', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const first = await a.leaders.campaign('g', 'alpha', { ttlMs: 1000 });
    if (!first.elected) throw new Error('alpha was not elected');
    let lease = first.lease;
    // Renewed in time, it keeps its term.
    for (let i = 0; i < 3; i++) {
      await scene.clock.advance(800);
      lease = await a.leaders.renew(lease);
      expect(await a.leaders.campaign('g', 'beta', { ttlMs: 1000 })).toMatchObject({
        elected: false,
        leader: { leader: 'alpha', term: 1 },
      });
    }
    await scene.clock.advance(1000);
    expect(await a.leaders.leader('g')).toBeUndefined();
    expect(await a.leaders.isLeader(lease)).toBe(false);
    const lost = await rejectionOf(a.leaders.renew(lease));
    expect(lost).toMatchObject({ code: 'leadership_lost', details: { group: 'g', term: 1 } });
    const next = await a.leaders.campaign('g', 'beta', { ttlMs: 1000 });
    expect(next).toMatchObject({ elected: true, lease: { group: 'g', term: 2, holder: 'beta' } });
    expect((await rejectionOf(a.leaders.resign(lease))).code).toBe('leadership_lost');
  });

  it('a candidate that leads is not elected again: its campaign names it as the leader of the same term', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    await a.leaders.campaign('g', 'alpha', { ttlMs: 1000 });
    const again = await a.leaders.campaign('g', 'alpha', { ttlMs: 1000 });
    expect(again).toMatchObject({ elected: false, leader: { leader: 'alpha', term: 1 } });
  });

  it('the leader process dies: a candidate waiting on another connection becomes leader of the next term', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const pid = await scene.spawnIdle();
    const first = await a.leaders.campaign('g', pid, { ttlMs: DAY });
    expect(first).toMatchObject({ elected: true, lease: { term: 1, holder: `node-a/${pid.toString()}` } });
    const waiting = b.leaders.campaign('g', 'standby', { ttlMs: DAY, waitMs: DAY });
    for (let i = 0; i < 20; i++) await turn();
    scene.runtime.kill(pid);
    const next = await drive(scene.clock, waiting);
    expect(next).toMatchObject({ elected: true, lease: { term: 2, holder: 'standby' } });
    expect(await a.leaders.leader('g')).toMatchObject({ leader: 'standby', term: 2 });
  });

  it('resign wakes a waiting campaign; a campaign that waits in vain names the leader', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const first = await a.leaders.campaign('g', 'alpha', { ttlMs: DAY });
    if (!first.elected) throw new Error('alpha was not elected');
    const vain = await drive(scene.clock, a.leaders.campaign('g', 'beta', { ttlMs: DAY, waitMs: 500 }));
    expect(vain).toMatchObject({ elected: false, leader: { leader: 'alpha', term: 1 } });
    const waiting = a.leaders.campaign('g', 'gamma', { ttlMs: DAY, waitMs: DAY });
    for (let i = 0; i < 20; i++) await turn();
    const before = scene.clock.now();
    await a.leaders.resign(first.lease);
    expect(await waiting).toMatchObject({ elected: true, lease: { term: 2, holder: 'gamma' } });
    expect(scene.clock.now()).toBe(before);
  });

  it('bad input is refused with invalid_input', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    for (const p of [
      () => a.leaders.campaign('', 'c', { ttlMs: 10 }),
      () => a.leaders.campaign('g', '', { ttlMs: 10 }),
      () => a.leaders.campaign('g', 'c', { ttlMs: -1 }),
      () => a.leaders.campaign('g', 'c', {} as never),
      () => a.leaders.renew({ kind: 'lock', name: 'g', token: 't', fence: 1, ttlMs: 10 } as never),
    ]) {
      expect((await rejectionOf(p())).code).toBe('invalid_input');
    }
    expect(await a.leaders.leader('g')).toBeUndefined();
  });
});

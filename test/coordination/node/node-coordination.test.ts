/**
 * The primitives as part of a node: `node.coordination` is the node's one instance, on its store, clock
 * and runtime, and its start-up frees what processes of the node's earlier life held.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCoordinationPrimitives, type LeaderChange } from '../../../src/coordination/index.js';
import { startNode, type GarrisonNode } from '../../../src/node/index.js';
import { createRuntime, VirtualClock } from '../../../src/runtime/index.js';
import type { Store } from '../../../src/store/index.js';
import { adapters } from '../../support/stores.js';
import { until } from '../primitives/support.js';

const DAY = 86_400_000;

describe.each(adapters)('node.coordination on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await store?.close();
    node = undefined;
    store = undefined;
  });

  it('exposes locks, leaders (with a watch), barriers, consensus and pools, held by the node’s processes', async () => {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    node = await startNode({ store, clock, nodeName: 'n1' });
    const c = node.coordination;
    expect(c.nodeId).toBe('n1');

    const pid = await node.runtime.spawn({ init: () => null }, undefined);
    const lock = await c.locks.acquire('job', { holder: pid, ttlMs: DAY });
    expect(lock).toMatchObject({ holder: `n1/${pid.toString()}`, fence: 1 });

    const changes: LeaderChange[] = [];
    const watch = await c.leaders.watch('workers', (change) => changes.push(change));
    expect(await c.leaders.campaign('workers', pid, { ttlMs: DAY })).toMatchObject({ elected: true });
    await until(() => changes.length === 1, 'the watch sees the election');
    expect(changes[0]).toMatchObject({ leader: { term: 1 }, previous: undefined });

    await c.barriers.create('phase', 1);
    expect(await c.barriers.arrive('phase', 'me')).toMatchObject({ released: true });
    const proposal = await c.consensus.propose('ship', { options: ['yes'], voters: ['v'], timeoutMs: DAY });
    expect(await c.consensus.vote(proposal.id, 'v', 'yes')).toMatchObject({ status: 'decided' });
    await c.pools.create('gpu', { count: 1 });
    expect(await c.pools.checkOut('gpu', { holder: pid, ttlMs: DAY })).toMatchObject({ item: '0' });

    // The process's exit frees its lock, leadership and pool item (monitored by the node's primitives).
    node.runtime.exit(pid, 'kill');
    await until(async () => (await c.pools.status('gpu')).available === 1, 'the item is back');
    await until(() => changes.length === 2, 'the watch sees the leader go');
    expect(await c.locks.isHeld('job')).toBe(false);
    watch.stop();
  });

  it('start-up recovery frees the locks, leaderships and pool items of processes of the node’s earlier life', async () => {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    // The earlier life: primitives of node "n1" whose processes hold a lock and an item, then vanish
    // without releasing anything (as a killed node would).
    const runtime = createRuntime({ clock });
    const earlier = createCoordinationPrimitives({ store, clock, runtime, nodeId: 'n1' });
    await earlier.pools.create('gpu', { count: 1 });
    const pid = await runtime.spawn({ init: () => null }, undefined);
    await earlier.locks.acquire('job', { holder: pid, ttlMs: DAY });
    await earlier.pools.checkOut('gpu', { holder: pid, ttlMs: DAY });
    await earlier.close(); // stops watching the process: its exit frees nothing
    await runtime.shutdown();
    expect(await earlier.locks.isHeld('job')).toBe(true);

    node = await startNode({ store, clock, nodeName: 'n1' });
    expect(clock.now()).toBe(1_000_000);
    expect(await node.coordination.locks.isHeld('job')).toBe(false);
    expect(await node.coordination.pools.status('gpu')).toMatchObject({
      available: 1,
      items: [{ fence: 1 }],
    });
    expect(await node.coordination.pools.checkOut('gpu', { holder: 'new', ttlMs: DAY })).toMatchObject({
      fence: 2,
    });
  });
});

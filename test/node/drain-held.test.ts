/**
 * `heldByNode`, the check behind "nothing is left leased by a drained node", and `releaseNodeLeases`, the
 * drain's hand-back of coordination leases: exact about whose leases it counts (node names with LIKE
 * wildcards, other letter cases, longer names ending the same way), live leases only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentQueueName } from '../../src/agents/index.js';
import { createCoordinationPrimitives, releaseNodeLeases } from '../../src/coordination/index.js';
import { countHeld, heldByNode } from '../../src/node/index.js';
import { createRuntime, VirtualClock } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

describe.each(adapters)('what a node holds, on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it("counts the live task leases of the node's agents only, whatever other node names look like", async () => {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    const queues = createQueueClient({ store, clock });
    const lease = async (agent: string, node: string, until: number) => {
      const task = await queues.enqueue(agentQueueName(agent), { action: 'work', input: {} });
      await store!.execute(
        "UPDATE garrison_tasks SET state = 'running', leased_by = $2, lease_until = $3 WHERE id = $1",
        [task.id, `agent:${agent}@${node}`, until],
      );
      return task.id;
    };
    const mine = await lease('a1', 'n_1', 2_000_000);
    await lease('a2', 'nX1', 2_000_000); // `_` is a LIKE wildcard: must not match
    await lease('a3', 'N_1', 2_000_000); // another letter case is another node
    await lease('a4', 'an_1', 2_000_000); // a longer name ending the same way
    await lease('a5', 'n_1', 999_999); // expired: taken over by anyone already
    await queues.enqueue(agentQueueName('a6'), { action: 'work', input: {} }); // queued, leased by nobody

    const held = await heldByNode(store, 'n_1', clock.now());
    expect(held.tasks).toEqual([mine]);
    expect(countHeld(held)).toBe(1);
  });

  it("releaseNodeLeases frees the locks and leaderships of the node's processes, and another holder takes them at once", async () => {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    const runtime = createRuntime({ clock });
    const mine = createCoordinationPrimitives({ store, clock, nodeId: 'n1', runtime });
    const theirs = createCoordinationPrimitives({ store, clock, nodeId: 'n2', runtime });
    const pid = await runtime.spawn({ init: () => ({}) }, undefined);
    await mine.locks.acquire('l', { holder: pid, ttlMs: 600_000 });
    await mine.leaders.campaign('g', pid, { ttlMs: 600_000 });
    await theirs.locks.acquire('other', { holder: pid, ttlMs: 600_000 });
    expect((await heldByNode(store, 'n1', clock.now())).coordinationLeases).toEqual(['leader:g', 'lock:l']);

    // The node stopped watching its processes (its runtime is going): only the release frees them.
    await mine.close();
    expect(await releaseNodeLeases(store, 'n1')).toEqual(['leader:g', 'lock:l']);
    expect(await heldByNode(store, 'n1', clock.now())).toMatchObject({ coordinationLeases: [] });
    expect((await heldByNode(store, 'n2', clock.now())).coordinationLeases).toEqual(['lock:other']);
    expect(await theirs.locks.tryAcquire('l', { holder: 'n2', ttlMs: 1000 })).toBeDefined();
    expect((await theirs.leaders.campaign('g', 'n2', { ttlMs: 1000 })).elected).toBe(true);
    expect(await releaseNodeLeases(store, 'n1')).toEqual([]);
    await theirs.close();
    await runtime.shutdown();
  });
});

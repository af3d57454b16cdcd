import { afterEach, describe, expect, it } from 'vitest';
import { createHealthMonitor, type HealthTransition } from '../../src/coordination/index.js';
import { heartbeat, joinCluster } from '../../src/node/membership.js';
import { createRegistry } from '../../src/registry/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';

describe.each(adapters)('health monitor on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function setup() {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    const registry = createRegistry({ store, clock });
    const alive = new Set<string>(['mine-1']);
    const seen: HealthTransition[] = [];
    const monitor = createHealthMonitor({
      store,
      registry,
      clock,
      nodeId: 'a',
      isAlive: (id) => alive.has(id),
      heartbeatMs: 1000,
      downAfterMs: 10_000,
      onTransition: (t) => seen.push(t),
    });
    await joinCluster(store, 'a', clock.now(), {});
    await joinCluster(store, 'b', clock.now(), {});
    for (const [id, node] of [
      ['mine-1', 'a'],
      ['mine-2', 'a'],
      ['theirs', 'b'],
    ] as const) {
      await registry.register({ id, capabilities: ['x'], health: 'healthy', node, resources: {} });
    }
    return { store, clock, registry, alive, seen, monitor };
  }

  it('an agent of this node without a live process is unhealthy; one that lives again is healthy', async () => {
    const { registry, alive, seen, monitor } = await setup();
    expect((await monitor.check()).map((t) => [t.agentId, t.to, t.reason])).toEqual([
      ['mine-2', 'unhealthy', 'process_gone'],
    ]);
    expect((await registry.get('mine-2')).health).toBe('unhealthy');
    alive.add('mine-2');
    await monitor.check();
    expect((await registry.get('mine-2')).health).toBe('healthy');
    expect(seen.map((t) => `${t.agentId}:${t.from}->${t.to}`)).toEqual([
      'mine-2:healthy->unhealthy',
      'mine-2:unhealthy->healthy',
    ]);
  });

  it("another node's agents go degraded when it misses beats, unhealthy when it is down, healthy when it beats again", async () => {
    const { store, clock, registry, alive, monitor } = await setup();
    alive.add('mine-2');
    await clock.advance(2500); // b missed two beats; a is the one checking
    await heartbeat(store, 'a', clock.now());
    expect((await monitor.check()).map((t) => [t.agentId, t.to])).toEqual([['theirs', 'degraded']]);
    await clock.advance(10_000);
    await heartbeat(store, 'a', clock.now());
    expect((await monitor.check()).map((t) => [t.agentId, t.to, t.reason])).toEqual([
      ['theirs', 'unhealthy', 'node_down'],
    ]);
    expect((await registry.findCapableHealthy('x')).map((a) => a.id).sort()).toEqual(['mine-1', 'mine-2']);
    await heartbeat(store, 'b', clock.now());
    expect((await monitor.check()).map((t) => [t.agentId, t.to, t.reason])).toEqual([
      ['theirs', 'healthy', 'node_up'],
    ]);
    expect((await registry.get('theirs')).metadata).toEqual({});
  });

  it('a health set by someone else (a restart marking degraded) is not overwritten while the agent lives', async () => {
    const { registry, alive, monitor } = await setup();
    alive.add('mine-2');
    await registry.update('mine-1', { health: 'degraded' });
    expect(await monitor.check()).toEqual([]);
    expect((await registry.get('mine-1')).health).toBe('degraded');
  });
});

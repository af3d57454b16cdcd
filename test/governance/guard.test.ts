/**
 * The hook other layers use to refuse work past a limit, shown with the layers it serves: an agent is
 * registered only with an `agents` token held by its process, and a process is spawned only within the
 * `processes` limit. Past a limit the request fails with `resource_exhausted`; nothing is half-done.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ResourceExhaustedError,
  createResourceManager,
  type ResourceManager,
} from '../../src/governance/index.js';
import { createRegistry, type AgentRegistry } from '../../src/registry/index.js';
import type { Behaviour, Pid, Runtime } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { harness } from './support.js';

const idle: Behaviour<null, undefined> = {
  init: () => null,
  handleCast(): never {
    throw new Error('crash');
  },
};

/** How a host registers an agent within the limit: the token is held by the agent's process. */
async function startAgent(
  runtime: Runtime,
  resources: ResourceManager,
  registry: AgentRegistry,
  id: string,
): Promise<Pid> {
  const pid = await runtime.spawn(idle, undefined);
  try {
    await resources.withToken('agents', { owner: pid, label: id }, () =>
      registry.register({
        id,
        capabilities: ['work'],
        health: 'healthy',
        node: 'n1',
        resources: {},
        process: pid.toString(),
      }),
    );
  } catch (error) {
    await runtime.stop(pid);
    throw error;
  }
  return pid;
}

describe.each(adapters)('resource guard with the registry on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('registering an agent past the agents limit is refused with resource_exhausted and the registry is unchanged', async () => {
    store = await adapter.open();
    const { runtime, clock } = harness();
    const registry = createRegistry({ store, clock });
    const resources = createResourceManager({ runtime, limits: { agents: 2 } });

    const a1 = await startAgent(runtime, resources, registry, 'a1');
    await startAgent(runtime, resources, registry, 'a2');
    const refused = startAgent(runtime, resources, registry, 'a3');
    await expect(refused).rejects.toBeInstanceOf(ResourceExhaustedError);
    await expect(refused).rejects.toMatchObject({
      code: 'resource_exhausted',
      kind: 'agents',
      limit: 2,
      current: 2,
    });
    expect((await registry.list()).map((a) => a.id)).toEqual(['a1', 'a2']);
    expect(runtime.processCount).toBe(2);

    // The agent's process dies: its token comes back (the registry entry goes through its own monitor).
    runtime.monitor(a1, () => void registry.unregisterProcess(a1.toString()), { label: 'test host' });
    await runtime.cast(a1, 'crash');
    await clock.advance(0);
    expect(resources.usage('agents').current).toBe(1);
    await startAgent(runtime, resources, registry, 'a3');
    expect((await registry.list()).map((a) => a.id)).toEqual(['a2', 'a3']);
    await runtime.shutdown();
    expect(resources.stats()).toMatchObject({ tokens: 0, owners: 0 });
    expect(runtime.monitorCount).toBe(0);
  });

  it('a registration that fails for its own reason gives the token back', async () => {
    store = await adapter.open();
    const { runtime, clock } = harness();
    const registry = createRegistry({ store, clock });
    const resources = createResourceManager({ runtime, limits: { agents: 2 } });
    await startAgent(runtime, resources, registry, 'a1');
    await expect(startAgent(runtime, resources, registry, 'a1')).rejects.toMatchObject({
      code: 'agent_exists',
    });
    expect(resources.usage('agents').current).toBe(1);
    expect(runtime.monitorCount).toBe(1);
    await runtime.shutdown();
    expect(runtime.monitorCount).toBe(0);
  });
});

describe('resource guard with the runtime', () => {
  it('spawning past the processes limit is refused before anything starts', async () => {
    const { runtime } = harness();
    const resources = createResourceManager({ runtime, limits: { processes: 3 } });
    const spawnGuarded = async () => {
      resources.guard('processes');
      return runtime.spawn(idle, undefined);
    };
    await Promise.all([spawnGuarded(), spawnGuarded()]);
    await spawnGuarded();
    await expect(spawnGuarded()).rejects.toMatchObject({
      code: 'resource_exhausted',
      kind: 'processes',
      current: 3,
    });
    expect(runtime.processCount).toBe(3);
    expect(resources.usage('processes')).toMatchObject({ measured: 3, alerting: true });
    await runtime.shutdown();
    await spawnGuarded();
    expect(runtime.processCount).toBe(1);
  });

  it('the mailbox total counts queued messages across processes', async () => {
    const { runtime } = harness();
    const gate: Behaviour<null, undefined> = {
      init: () => null,
      handleCast: (_msg, state) => new Promise<null>(() => state), // never finishes: the rest stay queued
    };
    const resources = createResourceManager({ runtime, limits: { mailbox_messages: 5 }, gaugeTtlMs: 0 });
    const a = await runtime.spawn(gate, undefined);
    const b = await runtime.spawn(gate, undefined);
    for (let i = 0; i < 3; i++) await runtime.cast(a, i);
    for (let i = 0; i < 3; i++) await runtime.cast(b, i);
    // One message of each is being handled; two wait in each mailbox.
    expect(resources.usage('mailbox_messages').measured).toBe(4);
    resources.guard('mailbox_messages');
    expect(() => resources.guard('mailbox_messages', 2)).toThrow(ResourceExhaustedError);
    runtime.kill(a);
    runtime.kill(b);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  createTaskDistributor,
  isDispatchedTask,
  type DispatchedTask,
} from '../../src/coordination/index.js';
import { createRegistry, type AgentRegistry } from '../../src/registry/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { createQueueClient, type DispatchResults, type QueueClient } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const queueOf = (id: string) => `agent:${id}`;

/** Journals outcomes the way the engine does: the first answer per step wins. */
function journal() {
  const answers = new Map<string, unknown>();
  const results: DispatchResults = {
    completeDispatched: (w, i, output) => {
      const key = `${w}:${i}`;
      if (answers.has(key)) return Promise.resolve(false);
      answers.set(key, output);
      return Promise.resolve(true);
    },
    failDispatched: (w, i, error) => results.completeDispatched(w, i, { error }),
  };
  return { answers, results };
}

describe.each(adapters)('task distributor on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function setup(agents: Array<[string, string, 'healthy' | 'degraded' | 'unhealthy']>) {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    const registry: AgentRegistry = createRegistry({ store, clock });
    const queues: QueueClient = createQueueClient({ store, clock, localHandoff: false });
    for (const [id, capability, health] of agents)
      await registry.register({ id, capabilities: [capability], health, node: 'n1', resources: {} });
    const j = journal();
    const distributor = createTaskDistributor({
      store,
      registry,
      queues,
      clock,
      queueOf,
      agentQueuePrefix: 'agent:',
      results: () => j.results,
    });
    return { store, registry, queues, distributor, ...j };
  }

  const request = (n: number, capability = 'validate') => ({
    workflowId: `wf-${n}`,
    stepIndex: 0,
    capability,
    action: 'check',
    input: { n },
    idempotencyKey: `wf-${n}:0`,
  });

  async function queued(queues: QueueClient, agent: string): Promise<DispatchedTask[]> {
    const tasks = await queues.listTasks({ queue: queueOf(agent), states: ['queued', 'running'] });
    return tasks.map((t) => t.payload).filter(isDispatchedTask);
  }

  it('routes to healthy agents with the capability, least loaded first, and never to unhealthy ones', async () => {
    const { queues, distributor } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'healthy'],
      ['v3', 'validate', 'unhealthy'],
      ['p1', 'process', 'healthy'],
    ]);
    await queues.enqueue(queueOf('v1'), { action: 'own', input: null }); // v1 is busier
    for (let n = 0; n < 5; n++) await distributor.dispatch(request(n));
    const v1 = await queued(queues, 'v1');
    const v2 = await queued(queues, 'v2');
    expect(v1.length + v2.length).toBe(5);
    expect(v2.length).toBe(3); // 0 vs 1 to start: v2 first, then they take turns
    expect(await queued(queues, 'v3')).toEqual([]);
    expect(await queued(queues, 'p1')).toEqual([]);
    expect(v2[0]?.dispatch).toMatchObject({ workflowId: 'wf-0', agentId: 'v2', route: 1 });
  });

  it('parks a step no agent can take, durably, and routes it when a capable agent registers', async () => {
    const {
      store: s,
      registry,
      queues,
      distributor,
      results,
    } = await setup([['v1', 'validate', 'unhealthy']]);
    await distributor.dispatch(request(1));
    const parked = await queues.listTasks({ queue: 'dispatch:validate', states: ['queued'] });
    expect(parked).toHaveLength(1);
    await distributor.sweep();
    expect((await queues.listTasks({ queue: 'dispatch:validate', states: ['queued'] })).length).toBe(1);

    // A new distributor (the old one crashed) finds the parked step in the store.
    const again = createTaskDistributor({
      store: s,
      registry,
      queues,
      clock: new VirtualClock(1_000_000),
      queueOf,
      agentQueuePrefix: 'agent:',
      results: () => results,
    });
    await registry.register({
      id: 'v2',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await again.sweep();
    expect((await queued(queues, 'v2')).map((t) => t.dispatch.workflowId)).toEqual(['wf-1']);
    expect(await queues.listTasks({ queue: 'dispatch:validate', states: ['queued'] })).toEqual([]);
  });

  it('moves the work of an agent that is gone to another one; the step is journaled once', async () => {
    const { registry, queues, distributor, answers } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'unhealthy'],
    ]);
    await distributor.dispatch(request(7));
    const [first] = await queued(queues, 'v1');
    expect(first).toBeDefined();
    await registry.update('v2', { health: 'healthy' });
    await registry.unregister('v1');
    await distributor.sweep();
    const [moved] = await queued(queues, 'v2');
    expect(moved?.dispatch).toMatchObject({ workflowId: 'wf-7', agentId: 'v2', route: 2 });
    expect(await queued(queues, 'v1')).toEqual([]);

    await distributor.settle(moved, { ok: true, output: 'from v2' });
    await distributor.settle(first, { ok: true, output: 'late from v1' });
    expect([...answers]).toEqual([['wf-7:0', 'from v2']]);
    expect(distributor.stats()).toMatchObject({ settled: 1, lateAnswers: 1, rerouted: 1 });
  });

  it('settle refuses a payload that is not a dispatched step', async () => {
    const { distributor } = await setup([]);
    await expect(distributor.settle({ action: 'x' }, { ok: true, output: 1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });
});

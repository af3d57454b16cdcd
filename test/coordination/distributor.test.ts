import { afterEach, describe, expect, it } from 'vitest';
import {
  createTaskDistributor,
  isDispatchedTask,
  type DispatchedTask,
  type TaskDistributor,
} from '../../src/coordination/index.js';
import { createRegistry, type AgentRegistry } from '../../src/registry/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { parseJson, type Store } from '../../src/store/index.js';
import {
  createQueueClient,
  type DispatchResults,
  type DispatchWait,
  type QueueClient,
} from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const queueOf = (id: string) => `agent:${id}`;
type Health = 'healthy' | 'degraded' | 'unhealthy';

/** Journals outcomes the way the engine does: the first answer per step wins. */
function journal() {
  const answers = new Map<string, unknown>();
  /** The last wait noted on each step (`noteDispatched`), by `<workflow id>:<step index>`. */
  const waits = new Map<string, DispatchWait>();
  const results: DispatchResults = {
    noteDispatched: (w, i, note) => {
      if ('waiting' in note) waits.set(`${w}:${i}`, note.waiting);
      return Promise.resolve(!answers.has(`${w}:${i}`));
    },
    completeDispatched: (w, i, output) => {
      const key = `${w}:${i}`;
      if (answers.has(key)) return Promise.resolve(false);
      answers.set(key, output);
      return Promise.resolve(true);
    },
    failDispatched: (w, i, error) => results.completeDispatched(w, i, { error }),
  };
  return { answers, waits, results };
}

const request = (n: number, capability = 'validate') => ({
  workflowId: `wf-${n}`,
  stepIndex: 0,
  capability,
  action: 'check',
  input: { n },
  idempotencyKey: `wf-${n}:0`,
});

/** Every live (queued or running) task of dispatched steps, with its queue. */
async function liveCopies(store: Store): Promise<Array<{ queue: string; task: DispatchedTask }>> {
  const rows = await store.query<{ queue: string; payload: unknown }>(
    "SELECT queue, payload FROM garrison_tasks WHERE state IN ('queued', 'running') ORDER BY id",
  );
  return rows
    .map((r) => ({ queue: r.queue, task: parseJson(r.payload) }))
    .filter((r): r is { queue: string; task: DispatchedTask } => isDispatchedTask(r.task));
}

/** Where each step's live copies are, by workflow id. */
async function copiesByStep(store: Store): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>();
  for (const c of await liveCopies(store)) {
    const id = c.task.dispatch.workflowId;
    by.set(id, [...(by.get(id) ?? []), c.queue]);
  }
  return by;
}

describe.each(adapters)('task distributor on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function setup(agents: Array<[string, string, Health, Record<string, number>?]>) {
    store = await adapter.open();
    const s = store;
    const clock = new VirtualClock(1_000_000);
    const registry: AgentRegistry = createRegistry({ store: s, clock });
    const queues: QueueClient = createQueueClient({ store: s, clock, localHandoff: false });
    for (const [id, capability, health, resources] of agents)
      await registry.register({
        id,
        capabilities: [capability],
        health,
        node: 'n1',
        resources: resources ?? {},
      });
    const j = journal();
    /** A distributor on this store: a second call is a new instance (the first one's process died). */
    const distributor = (over: { queues?: QueueClient; rebalance?: boolean } = {}): TaskDistributor =>
      createTaskDistributor({
        store: s,
        registry,
        queues: over.queues ?? queues,
        clock,
        queueOf,
        agentQueuePrefix: 'agent:',
        results: () => j.results,
        ...(over.rebalance === undefined ? {} : { rebalance: over.rebalance }),
      });
    return { store: s, clock, registry, queues, distributor, ...j };
  }

  async function queued(queues: QueueClient, agent: string): Promise<DispatchedTask[]> {
    const tasks = await queues.listTasks({ queue: queueOf(agent), states: ['queued', 'running'] });
    return tasks.map((t) => t.payload).filter(isDispatchedTask);
  }
  const parked = async (queues: QueueClient, capability = 'validate') =>
    queues.listTasks({ queue: `dispatch:${capability}`, states: ['queued'] });

  it('routes to healthy agents with the capability, least loaded first, and never to unhealthy or degraded ones', async () => {
    const { queues, distributor } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'healthy'],
      ['v3', 'validate', 'unhealthy'],
      ['v4', 'validate', 'degraded'],
      ['p1', 'process', 'healthy'],
    ]);
    const d = distributor();
    await queues.enqueue(queueOf('v1'), { action: 'own', input: null }); // v1 is busier
    for (let n = 0; n < 5; n++) await d.dispatch(request(n));
    const v1 = await queued(queues, 'v1');
    const v2 = await queued(queues, 'v2');
    expect(v1.length + v2.length).toBe(5);
    expect(v2.length).toBe(3); // 0 vs 1 to start: v2 first, then they take turns
    expect(await queued(queues, 'v3')).toEqual([]);
    expect(await queued(queues, 'v4')).toEqual([]);
    expect(await queued(queues, 'p1')).toEqual([]);
    expect(v2[0]?.dispatch).toMatchObject({ workflowId: 'wf-0', agentId: 'v2', route: 1 });
    expect(await parked(queues)).toEqual([]);
    // Each step's anchor did its work once the step was on an agent: completed, not cancelled.
    const anchors = await queues.listTasks({ queue: 'dispatch:validate' });
    expect(anchors.map((t) => t.state)).toEqual(Array(5).fill('completed'));
    expect(d.stats()).toMatchObject({ routed: 5, parked: 0 });
  });

  it('parks a step no agent can take, durably, and a new distributor routes it when a capable agent registers', async () => {
    const { store: s, registry, queues, distributor } = await setup([['v1', 'validate', 'unhealthy']]);
    const first = distributor();
    await first.dispatch(request(1));
    expect((await parked(queues)).map((t) => (t.payload as DispatchedTask).dispatch.agentId)).toEqual(['-']);
    await first.sweep();
    expect(await parked(queues)).toHaveLength(1); // still nobody to take it

    // The first distributor is gone; a new one finds the parked step in the store.
    const again = distributor();
    await registry.register({
      id: 'v2',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await again.sweep();
    expect((await queued(queues, 'v2')).map((t) => t.dispatch)).toEqual([
      expect.objectContaining({ workflowId: 'wf-1', agentId: 'v2', route: 1 }),
    ]);
    expect(await parked(queues)).toEqual([]);
    expect([...(await copiesByStep(s))]).toEqual([['wf-1', ['agent:v2']]]);
  });

  it('a registry change wakes the routing of parked steps: an agent turning healthy gets them', async () => {
    const { store: s, registry, queues, distributor } = await setup([['v1', 'validate', 'unhealthy']]);
    const d = distributor();
    for (let n = 0; n < 3; n++) await d.dispatch(request(n));
    expect(await parked(queues)).toHaveLength(3);
    const sweeps: Array<Promise<void>> = [];
    const unwatch = registry.watch(() => sweeps.push(d.sweep()));
    await registry.update('v1', { health: 'healthy' });
    unwatch();
    expect(sweeps.length).toBeGreaterThan(0);
    await Promise.all(sweeps);
    expect((await queued(queues, 'v1')).map((t) => t.dispatch.workflowId)).toEqual(['wf-0', 'wf-1', 'wf-2']);
    expect([...(await copiesByStep(s)).values()]).toEqual([['agent:v1'], ['agent:v1'], ['agent:v1']]);
  });

  it('a step handed off again (its workflow resumed after a restart) keeps its one task', async () => {
    const {
      store: s,
      registry,
      queues,
      distributor,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'healthy'],
    ]);
    await distributor().dispatch(request(1));
    const [where] = [...(await copiesByStep(s)).values()];
    // v1 and v2 now differ in load, so a fresh choice could pick the other one: it must not choose again.
    await queues.enqueue(queueOf(where?.[0] === 'agent:v1' ? 'v1' : 'v2'), { action: 'own', input: 1 });
    const again = distributor();
    await again.dispatch(request(1));
    await again.dispatch(request(1));
    expect([...(await copiesByStep(s))]).toEqual([['wf-1', where]]);
    expect(again.stats()).toMatchObject({ repeated: 2, routed: 0 });

    // The same for a parked step: handing it off again once an agent exists does not add a copy.
    await registry.update('v1', { health: 'unhealthy' });
    await registry.update('v2', { health: 'unhealthy' });
    await again.dispatch(request(2));
    await registry.update('v2', { health: 'healthy' });
    await again.dispatch(request(2));
    expect((await copiesByStep(s)).get('wf-2')).toEqual(['dispatch:validate']);
    await again.sweep();
    expect((await copiesByStep(s)).get('wf-2')).toEqual(['agent:v2']);
  });

  it('moves the work of an agent that is gone to another one; the step is journaled once', async () => {
    const {
      store: s,
      registry,
      queues,
      distributor,
      answers,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'unhealthy'],
    ]);
    const d = distributor();
    await d.dispatch(request(7));
    const [first] = await queued(queues, 'v1');
    expect(first).toBeDefined();
    await registry.update('v2', { health: 'healthy' });
    await registry.unregister('v1');
    await d.sweep();
    const [moved] = await queued(queues, 'v2');
    expect(moved?.dispatch).toMatchObject({ workflowId: 'wf-7', agentId: 'v2', route: 2 });
    expect([...(await copiesByStep(s))]).toEqual([['wf-7', ['agent:v2']]]);

    await d.settle(moved, { ok: true, output: 'from v2' });
    await d.settle(first, { ok: true, output: 'late from v1' });
    expect([...answers]).toEqual([['wf-7:0', 'from v2']]);
    expect(d.stats()).toMatchObject({ settled: 1, lateAnswers: 1, rerouted: 1 });
  });

  it("moves an unhealthy agent's queued steps at once, a running one when its lease expires, never its own tasks", async () => {
    const {
      store: s,
      clock,
      registry,
      queues,
      distributor,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'degraded'],
    ]);
    const d = distributor();
    await d.dispatch(request(1));
    await d.dispatch(request(2));
    await queues.enqueue(queueOf('v1'), { action: 'own', input: 'stays' });
    const [running] = await queues.claim(queueOf('v1'), { limit: 1, leaseMs: 30_000 });
    expect(running?.payload).toMatchObject({ dispatch: { workflowId: 'wf-1' } });
    // Its node went down (or it was paused): unhealthy, still registered.
    await registry.update('v1', { health: 'unhealthy' });
    await registry.update('v2', { health: 'healthy' });
    await d.sweep();
    // The queued step moved; the running one may still finish where it is.
    expect([...(await copiesByStep(s))]).toEqual([
      ['wf-1', ['agent:v1']],
      ['wf-2', ['agent:v2']],
    ]);
    await clock.advance(30_001); // nobody renewed the lease: the agent is gone with it
    await d.sweep();
    expect(await copiesByStep(s)).toEqual(
      new Map([
        ['wf-1', ['agent:v2']],
        ['wf-2', ['agent:v2']],
      ]),
    );
    expect(
      (await queues.listTasks({ queue: queueOf('v1'), states: ['queued'] })).map((t) => t.payload),
    ).toEqual([{ action: 'own', input: 'stays' }]);
    await expect(queues.complete(running!)).rejects.toMatchObject({ code: 'task_cancelled' });
    expect(d.stats()).toMatchObject({ rerouted: 2 });
  });

  it("an unregistered agent's running step moves at once: its process is gone", async () => {
    const {
      store: s,
      registry,
      queues,
      distributor,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'unhealthy'],
    ]);
    const d = distributor();
    await d.dispatch(request(1));
    const [running] = await queues.claim(queueOf('v1'), { limit: 1, leaseMs: 30_000 });
    expect(running).toBeDefined();
    await registry.unregister('v1');
    await registry.update('v2', { health: 'healthy' });
    await d.sweep();
    expect([...(await copiesByStep(s))]).toEqual([['wf-1', ['agent:v2']]]);
    await expect(queues.complete(running!)).rejects.toMatchObject({ code: 'task_cancelled' });
  });

  it("parks a dead agent's step when no other agent can take it, and routes it when one can", async () => {
    const { store: s, registry, queues, distributor } = await setup([['v1', 'validate', 'healthy']]);
    const d = distributor();
    await d.dispatch(request(3));
    await registry.unregister('v1');
    await d.sweep();
    expect([...(await copiesByStep(s))]).toEqual([['wf-3', ['dispatch:validate']]]);
    expect((await parked(queues))[0]?.payload).toMatchObject({ dispatch: { agentId: '-', route: 2 } });
    await registry.register({
      id: 'v9',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await d.sweep();
    expect([...(await copiesByStep(s))]).toEqual([['wf-3', ['agent:v9']]]);
    expect((await queued(queues, 'v9'))[0]?.dispatch).toMatchObject({ agentId: 'v9', route: 2 });
  });

  it('a step its agent finished is not moved when the agent goes: no second run', async () => {
    const {
      store: s,
      registry,
      queues,
      distributor,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'healthy'],
    ]);
    const d = distributor();
    await d.dispatch(request(1));
    const agent = (await queued(queues, 'v1')).length === 1 ? 'v1' : 'v2';
    const [task] = await queues.claim(queueOf(agent), { limit: 1 });
    await queues.complete(task!);
    await registry.unregister(agent);
    await d.sweep();
    expect(await copiesByStep(s)).toEqual(new Map());
    expect(d.stats().rerouted).toBe(0);
  });

  it('two distributors sweeping at once move each step exactly once', async () => {
    const {
      store: s,
      registry,
      distributor,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'unhealthy'],
      ['v3', 'validate', 'unhealthy'],
    ]);
    const d = distributor();
    for (let n = 0; n < 20; n++) await d.dispatch(request(n));
    await registry.unregister('v1');
    await registry.update('v2', { health: 'healthy' });
    await registry.update('v3', { health: 'healthy' });
    const a = distributor();
    const b = distributor();
    await Promise.all([a.sweep(), b.sweep()]);
    const by = await copiesByStep(s);
    expect(by.size).toBe(20);
    for (const copies of by.values()) expect(copies).toHaveLength(1);
    expect(a.stats().rerouted + b.stats().rerouted).toBe(20);
  });

  it('a distributor that dies in the middle of a move loses nothing: the move rolls back and a new one makes it', async () => {
    const {
      store: s,
      registry,
      queues,
      distributor,
    } = await setup([
      ['v1', 'validate', 'healthy'],
      ['v2', 'validate', 'unhealthy'],
    ]);
    await distributor().dispatch(request(5));
    await registry.unregister('v1');
    await registry.update('v2', { health: 'healthy' });
    // The process dies after cancelling the old task and before its successor is written.
    const dying: QueueClient = {
      ...queues,
      enqueue: (queue, payload, options) =>
        queue === queueOf('v2')
          ? Promise.reject(new Error('process killed'))
          : queues.enqueue(queue, payload, options),
    };
    await expect(distributor({ queues: dying }).sweep()).rejects.toThrow('process killed');
    expect([...(await copiesByStep(s))]).toEqual([['wf-5', ['agent:v1']]]);
    await distributor().sweep();
    expect([...(await copiesByStep(s))]).toEqual([['wf-5', ['agent:v2']]]);
  });

  it('routes a step that requires resources only to an agent with them free, holds them until the step ends, and parks the rest', async () => {
    const { queues, distributor, waits } = await setup([
      ['g1', 'train', 'healthy', { gpu: 1, memory_mb: 4096 }],
      ['g2', 'train', 'healthy', { gpu: 2 }],
      ['c1', 'train', 'healthy', {}],
    ]);
    const d = distributor();
    const needs = { gpu: 1 };
    for (let n = 0; n < 4; n++) await d.dispatch({ ...request(n, 'train'), requires: needs });
    const on = async (agent: string) => (await queued(queues, agent)).map((t) => t.dispatch.workflowId);
    expect((await on('g1')).length).toBe(1);
    expect((await on('g2')).length).toBe(2);
    expect(await on('c1')).toEqual([]); // least loaded, but it has no gpu
    const [waiting] = await parked(queues, 'train');
    const parkedId = (waiting!.payload as DispatchedTask).dispatch.workflowId;
    expect(waits.get(`${parkedId}:0`)).toMatchObject({ reason: 'no_capacity', capability: 'train' });
    expect(waits.get(`${parkedId}:0`)?.message).toContain('1 gpu free');
    // The held gpu is given back when a step ends: the parked step takes it.
    const [first] = await queues.claim(queueOf('g2'), { limit: 1 });
    await queues.complete(first!);
    await d.sweep();
    expect(await parked(queues, 'train')).toEqual([]);
    expect(await on('g2')).toContain(parkedId);
    expect((await on('g2')).length).toBe(2);
    // A step without requirements still goes to the least loaded agent.
    await d.dispatch(request(9, 'train'));
    expect(await on('c1')).toEqual(['wf-9']);
  });

  it('two distributors dispatching at once never give the same capacity twice', async () => {
    const { store: s, queues, distributor } = await setup([['g1', 'train', 'healthy', { gpu: 2 }]]);
    const [a, b] = [distributor(), distributor()];
    await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        (n % 2 === 0 ? a : b).dispatch({ ...request(n, 'train'), requires: { gpu: 1 } }),
      ),
    );
    expect(await queued(queues, 'g1')).toHaveLength(2);
    expect(await parked(queues, 'train')).toHaveLength(8);
    expect([...(await copiesByStep(s)).values()].every((queues) => queues.length === 1)).toBe(true);
  });

  it('rebalances queued steps from a busy agent to idle ones of the capability, never a started step, each step once', async () => {
    const { store: s, registry, queues, distributor } = await setup([['w1', 'validate', 'healthy']]);
    const d = distributor();
    for (let n = 0; n < 12; n++) await d.dispatch(request(n));
    expect(await queued(queues, 'w1')).toHaveLength(12);
    const [started] = await queues.claim(queueOf('w1'), { limit: 1, leaseMs: 30_000 });
    for (const id of ['w2', 'w3', 'w4'])
      await registry.register({
        id,
        capabilities: ['validate'],
        health: 'healthy',
        node: 'n1',
        resources: {},
      });
    await registry.register({
      id: 'x1',
      capabilities: ['other'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await d.sweep();
    const counts = await Promise.all(
      ['w1', 'w2', 'w3', 'w4'].map(async (a) => (await queued(queues, a)).length),
    );
    expect(counts).toEqual([3, 3, 3, 3]);
    expect(await queued(queues, 'x1')).toEqual([]);
    expect(d.stats().rebalanced).toBe(9);
    // The started step stays with its agent; the oldest waiting ones too (it runs them next).
    expect((await queued(queues, 'w1')).map((t) => t.dispatch.workflowId)).toEqual(['wf-0', 'wf-1', 'wf-2']);
    expect(started?.payload).toMatchObject({ dispatch: { workflowId: 'wf-0' } });
    const moved = await queued(queues, 'w2');
    expect(moved.every((t) => t.dispatch.route === 2 && t.dispatch.agentId === 'w2')).toBe(true);
    const copies = await copiesByStep(s);
    expect(copies.size).toBe(12);
    expect([...copies.values()].every((queues) => queues.length === 1)).toBe(true);
    // Balanced: a second sweep moves nothing.
    await d.sweep();
    expect(d.stats().rebalanced).toBe(9);
  });

  it('does not rebalance when turned off, nor below the threshold, nor to an agent without the resources', async () => {
    const { registry, queues, distributor } = await setup([['w1', 'train', 'healthy', { gpu: 4 }]]);
    const off = distributor({ rebalance: false });
    for (let n = 0; n < 4; n++) await off.dispatch({ ...request(n, 'train'), requires: { gpu: 1 } });
    await registry.register({
      id: 'w2',
      capabilities: ['train'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await registry.register({
      id: 'w3',
      capabilities: ['train'],
      health: 'healthy',
      node: 'n1',
      resources: { gpu: 1 },
    });
    await off.sweep();
    expect(await queued(queues, 'w1')).toHaveLength(4);
    const on = distributor();
    await on.sweep();
    // w3 has one gpu: one step moves there. w2 has none: w1 keeps the rest, though it holds three more.
    expect(await queued(queues, 'w3')).toHaveLength(1);
    expect(await queued(queues, 'w2')).toEqual([]);
    expect(await queued(queues, 'w1')).toHaveLength(3);
  });

  it('rejects bad input and writes nothing: a malformed request, a payload that is not a step, a bad outcome', async () => {
    const { store: s, distributor, answers } = await setup([['v1', 'validate', 'healthy']]);
    const d = distributor();
    await expect(d.dispatch({ ...request(1), capability: 'no spaces' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(d.dispatch({ ...request(1), stepIndex: -1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(d.dispatch({ ...request(1), requires: { gpu: -1 } })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(d.dispatch({ ...request(1), requires: { 'no spaces': 1 } })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await liveCopies(s)).toEqual([]);
    await expect(d.settle({ action: 'x' }, { ok: true, output: 1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await d.dispatch(request(2));
    const [task] = (await liveCopies(s)).map((c) => c.task);
    await expect(d.settle(task, { ok: 'yes' } as never)).rejects.toMatchObject({ code: 'invalid_input' });
    expect(answers.size).toBe(0);
    expect(() =>
      createTaskDistributor({
        store: s,
        registry: createRegistry({ store: s }),
        queues: createQueueClient({ store: s }),
        clock: new VirtualClock(0),
        queueOf,
        agentQueuePrefix: '',
        results: () => journal().results,
      }),
    ).toThrow(expect.objectContaining({ code: 'invalid_input' }) as Error);
  });
});

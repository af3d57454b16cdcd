/**
 * The metrics collector: totals, successes, failures, average durations of workflows and steps, tasks
 * distributed — read from the store, so a restart of anything changes no figure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMetricsCollector,
  readCoordinationSnapshot,
  type CoordinationSnapshot,
  type MetricsCollectorOptions,
} from '../../src/coordination/index.js';
import { Supervisor } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/index.js';
import { createMetrics } from '../../src/telemetry/index.js';
import {
  createLocalDispatcher,
  createQueueClient,
  createWorkflowEngine,
  defineQueue,
  defineWorkflow,
} from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { deferred, rejectionOf, Scenes, until, type Scene } from './support.js';

/** Everything but the time it was taken. */
function figures(snapshot: CoordinationSnapshot): Omit<CoordinationSnapshot, 'at'> {
  const { at: _at, ...rest } = snapshot;
  return rest;
}

/**
 * A known history: a dispatched step and a failing run finish at once; then two runs whose middle step
 * takes 500 ms (of the virtual clock); one run of a workflow no node here executes stays pending; three
 * tasks wait in a queue.
 */
async function history(scene: Scene) {
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const entered = new Set<string>();
  const timed = defineWorkflow('timed', async (ctx, n: number) => {
    const a = await ctx.step('a', async () => n);
    const b = await ctx.step('b', async () => {
      entered.add(ctx.workflowId);
      await gates.get(ctx.workflowId)?.promise;
      return a + 1;
    });
    return ctx.step('c', async () => b * 10);
  });
  const failing = defineWorkflow('failing', async (ctx) => {
    await ctx.step('fine', async () => 1);
    await ctx.step('boom', async () => {
      throw new Error('boom');
    });
  });
  const dispatching = defineWorkflow('dispatching', async (ctx, n: number) =>
    ctx.dispatch<number>('math', 'double', n),
  );
  const sup = scene.supervisor({
    workflows: [timed, failing, dispatching],
    dispatcher: createLocalDispatcher({ math: { double: async (input) => (input as number) * 2 } }),
  });
  await sup.start();
  const engine = sup.engine;
  await engine.start(dispatching, 21, { workflowId: 'd-1' });
  await engine.start(failing, null, { workflowId: 'f-1' });
  expect(await engine.result('d-1')).toBe(42);
  expect((await rejectionOf(engine.result('f-1'))).code).toBe('workflow_failed');

  await scene.clock.advance(1000);
  for (const id of ['t-1', 't-2']) {
    gates.set(id, deferred());
    await engine.start(timed, 1, { workflowId: id });
  }
  await until(() => entered.size === 2, 'both timed runs are in their middle step');
  await scene.clock.advance(500);
  for (const gate of gates.values()) gate.resolve();
  expect(await engine.result('t-1')).toBe(20);
  expect(await engine.result('t-2')).toBe(20);

  const elsewhere = defineWorkflow('elsewhere', async () => 'never here');
  const other = scene.engine({ nodeId: 'node-other', autoExecute: false }).register(elsewhere);
  await other.start(elsewhere, null, { workflowId: 'e-1' });
  const mail = defineQueue({ name: 'mail' });
  const queues = createQueueClient({ store: scene.store, clock: scene.clock, queues: [mail] });
  await queues.enqueueMany([1, 2, 3].map((n) => ({ queue: mail, payload: { n } })));
  return sup;
}

const expected = {
  since: undefined,
  workflows: {
    total: 5,
    pending: 1,
    running: 0,
    paused: 0,
    completed: 3,
    failed: 1,
    cancelled: 0,
    // d-1 took no time; t-1 and t-2 took 500 ms each.
    averageDurationMs: 1000 / 3,
  },
  steps: {
    total: 8,
    completed: 7,
    failed: 1,
    retrying: 0,
    // b: 500 ms after a's commit, c: at once after b's (twice); first steps are not measured.
    averageDurationMs: 250,
  },
  tasksDistributed: { total: 1, pending: 0, completed: 1, failed: 0 },
  tasks: { queued: 3, running: 0, completed: 0, dead: 0, cancelled: 0 },
};

describe.each(adapters)('MetricsCollector on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  function collector(scene: Scene, options: Partial<MetricsCollectorOptions> = {}) {
    const c = createMetricsCollector({ runtime: scene.runtime, store: scene.store, ...options });
    return c;
  }

  it('counts totals, successes, failures, average durations and tasks distributed from the store', async () => {
    const scene = await scenes.create(adapter);
    await history(scene);
    const metrics = collector(scene);
    await metrics.start();
    const snapshot = await metrics.snapshot();
    expect(snapshot).toMatchObject(expected);
    expect(snapshot.at).toBe(scene.clock.now());
    expect(snapshot.byWorkflow.timed).toMatchObject({ total: 2, completed: 2, averageDurationMs: 500 });
    expect(snapshot.byWorkflow.failing).toMatchObject({ total: 1, failed: 1, averageDurationMs: null });
    expect(snapshot.byWorkflow.elsewhere).toMatchObject({ total: 1, pending: 1 });
    expect(snapshot.byQueue).toEqual({ mail: expected.tasks });
    await metrics.stop();
  });

  it('gives the same figures after every process and the store connection restart', async () => {
    const scene = await scenes.create(adapter);
    const sup = await history(scene);
    const first = createMetricsCollector({ runtime: scene.runtime, store: scene.store });
    await first.start();
    const before = await first.snapshot();
    await first.stop();
    await sup.stop();

    const store = await openStore(scene.url);
    try {
      const again = createMetricsCollector({ runtime: scene.runtime, store, name: 'again' });
      await again.start();
      await scene.clock.advance(60_000);
      const after = await again.snapshot();
      expect(figures(after)).toEqual(figures(before));
      expect(after.at).toBe(before.at + 60_000);
      await again.stop();
      // And without any process: the same read.
      expect(figures(await readCoordinationSnapshot(store, { now: 0 }))).toEqual(figures(before));
    } finally {
      await store.close();
    }
  });

  it('a killed collector is restarted by its supervisor and answers the same figures', async () => {
    const scene = await scenes.create(adapter);
    await history(scene);
    const metrics = collector(scene);
    const tree = await Supervisor.start(scene.runtime, {
      id: 'coordination',
      children: [metrics.childSpec()],
    });
    const before = await metrics.snapshot();
    const pid = scene.runtime.whereis(metrics.name)!;
    scene.runtime.exit(pid, 'kill');
    await until(() => {
      const now = scene.runtime.whereis(metrics.name);
      return now !== undefined && now !== pid;
    }, 'the collector is restarted');
    expect(figures(await metrics.snapshot())).toEqual(figures(before));
    await tree.stop();
  });

  it('concurrent requests share one read; maxAgeMs answers a recent snapshot without reading', async () => {
    const scene = await scenes.create(adapter);
    const engine = scene.engine({ nodeId: 'n' });
    const one = defineWorkflow('one', async (ctx) => ctx.step('x', async () => 1));
    engine.register(one);
    await engine.start(one, null, { workflowId: 'o-1' });
    await engine.result('o-1');

    const shared = collector(scene, { name: 'shared' });
    await shared.start();
    const [x, y] = await Promise.all([shared.snapshot(), shared.snapshot()]);
    expect(x).toBe(y);

    const cached = collector(scene, { name: 'cached', maxAgeMs: 1000 });
    await cached.start();
    const first = await cached.snapshot();
    await engine.start(one, null, { workflowId: 'o-2' });
    await engine.result('o-2');
    expect(await cached.snapshot()).toBe(first);
    await scene.clock.advance(1001);
    const fresh = await cached.snapshot();
    expect(fresh.workflows.completed).toBe(2);
    expect(first.workflows.completed).toBe(1);
    await shared.stop();
    await cached.stop();
  });

  it('with windowMs, counts only runs and tasks created within the window', async () => {
    const scene = await scenes.create(adapter);
    await history(scene);
    await scene.clock.advance(10_000);
    const wf = defineWorkflow('late', async (ctx) => ctx.step('only', async () => 'ok'));
    const engine = createWorkflowEngine({ store: scene.store, clock: scene.clock, nodeId: 'late' });
    engine.register(wf);
    try {
      await engine.start(wf, null, { workflowId: 'late-1' });
      await engine.result('late-1');
    } finally {
      await engine.stop();
    }
    const windowed = collector(scene, { windowMs: 5000 });
    await windowed.start();
    const snapshot = await windowed.snapshot();
    expect(snapshot.since).toBe(scene.clock.now() - 5000);
    expect(snapshot.workflows).toMatchObject({ total: 1, completed: 1 });
    expect(Object.keys(snapshot.byWorkflow)).toEqual(['late']);
    expect(snapshot.steps).toMatchObject({ total: 1, completed: 1, averageDurationMs: null });
    expect(snapshot.tasks.queued).toBe(0);
    await windowed.stop();
  });

  it('refreshes Prometheus gauges from a snapshot before each scrape', async () => {
    const scene = await scenes.create(adapter);
    await history(scene);
    const metrics = createMetrics();
    const collected = collector(scene, { metrics });
    await collected.start();
    const text = await metrics.render();
    expect(text).toContain('garrison_coordination_workflows{workflow="timed",status="completed"} 2');
    expect(text).toContain('garrison_coordination_workflows{workflow="failing",status="failed"} 1');
    expect(text).toContain('garrison_coordination_workflows{workflow="elsewhere",status="pending"} 1');
    expect(text).toContain('garrison_coordination_workflow_duration_avg_seconds{workflow="timed"} 0.5');
    expect(text).toContain('garrison_coordination_step_duration_avg_seconds 0.25');
    expect(text).toContain('garrison_coordination_steps{status="failed"} 1');
    expect(text).toContain('garrison_coordination_tasks_distributed{status="completed"} 1');
    expect(text).toContain('garrison_coordination_tasks{queue="mail",state="queued"} 3');
    await collected.stop();
  });

  it('rejects bad options with a specific error, and a stopped collector fails fast', async () => {
    const scene = await scenes.create(adapter);
    expect(() => collector(scene, { maxAgeMs: -1 })).toThrow(/maxAgeMs/);
    expect(() => collector(scene, { windowMs: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    const c = collector(scene);
    await expect(c.snapshot()).rejects.toMatchObject({ code: 'noproc' });
  });
});

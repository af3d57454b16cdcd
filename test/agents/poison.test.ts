/**
 * A poison task — one that fails every attempt — never stalls its capability: it goes to the dead
 * letters after its attempts and counts once against its agent's error streak, so the agents serving
 * the capability keep working. An agent pauses itself only after several distinct tasks fail in a row;
 * then the node's health says so, with the reason, and the steps waiting on its queue move to healthy
 * agents of the capability, or wait visibly (`no_capable_agent`) when none is left.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agentQueueName, defineAction, defineAgent, errorPausedAgentsCheck } from '../../src/agents/index.js';
import { createTaskDistributor, type TaskDistributor } from '../../src/coordination/index.js';
import { PermanentError } from '../../src/errors.js';
import { createHealthChecks } from '../../src/governance/index.js';
import { createWorkflowEngine, defineWorkflow, type WorkflowEngine } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { eventually, gate, openFixture, type Fixture } from './support.js';

/** Held by `slow` tasks until the test opens it. */
let held = gate();

/**
 * `poison` throws a plain Error (retried by the queue) every time; `bad` fails for good at once; `slow`
 * fails for good once `held` opens.
 */
const worker = defineAgent({
  type: 'worker',
  capabilities: ['work'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'run',
      input: z.object({ n: z.number().int(), kind: z.enum(['good', 'poison', 'bad', 'slow']) }),
      output: z.object({ n: z.number().int(), by: z.string() }),
      run: async (ctx, { n, kind }) => {
        if (kind === 'slow') await held.promise;
        if (kind === 'poison') throw new Error(`poison task ${n}`);
        if (kind === 'bad' || kind === 'slow') throw new PermanentError(`bad task ${n}`);
        return { n, by: ctx.agentId };
      },
    }),
  ],
});

type Kind = 'good' | 'poison' | 'bad' | 'slow';

const job = defineWorkflow('job', async (ctx, input: { n: number; kind: Kind }) =>
  ctx.dispatch<{ n: number; by: string }>('work', 'run', input),
);

describe.each(adapters)('poison tasks and the automatic pause on $name', (adapter) => {
  let f: Fixture | undefined;
  let engine: WorkflowEngine | undefined;
  afterEach(async () => {
    held.open();
    await engine?.stop();
    await f?.close();
    f = undefined;
    engine = undefined;
  });

  async function setUp(): Promise<{ f: Fixture; engine: WorkflowEngine; distributor: TaskDistributor }> {
    const fixture = await openFixture(adapter, { definitions: [worker] });
    f = fixture;
    await fixture.host.shutdown(); // this test's host settles through the distributor
    const late: { engine?: WorkflowEngine } = {};
    const distributor = createTaskDistributor({
      store: fixture.store,
      registry: fixture.registry,
      queues: fixture.queues,
      clock: fixture.clock,
      queueOf: agentQueueName,
      agentQueuePrefix: agentQueueName(''),
      results: () => late.engine!,
    });
    const built = createWorkflowEngine({
      store: fixture.store,
      clock: fixture.clock,
      nodeId: 'node-a',
      dispatcher: distributor,
      recoverIntervalMs: 0,
    }).register(job);
    late.engine = built;
    engine = built;
    await fixture.reopen({ distributor });
    return { f: fixture, engine: built, distributor };
  }

  /** Starts runs one after the other, each once the one before has parked its step (so they park in order). */
  async function startParked(
    f: Fixture,
    engine: WorkflowEngine,
    inputs: ReadonlyArray<{ n: number; kind: Kind }>,
  ) {
    const parked = await f.queues.listTasks({ queue: 'dispatch:work', states: ['queued'], limit: 10 });
    const before = parked.length;
    const runs = [];
    for (const input of inputs) {
      runs.push(await engine.start(job, input));
      await eventually(
        async () =>
          (await f.queues.listTasks({ queue: 'dispatch:work', states: ['queued'], limit: 10 })).length ===
          before + runs.length,
        `step ${runs.length} parked`,
      );
    }
    return runs;
  }

  it('100 good tasks and 1 poison task: all 100 complete, the poison one is dead-lettered, no agent pauses', async () => {
    const { f, engine } = await setUp();
    await f.host.start(worker, { id: 'w1' });
    await f.host.start(worker, { id: 'w2' });
    const poison = await engine.start(job, { n: 0, kind: 'poison' });
    const good = [];
    for (let n = 1; n <= 100; n++) good.push(await engine.start(job, { n, kind: 'good' }));
    const results = await Promise.all(good.map((r) => r.result()));
    expect(results.map((r) => r.n)).toEqual(good.map((_, i) => i + 1));

    // The poison task's retries come after the queue's backoff (seconds): the clock moves on while no
    // task runs (a running task's lease is 30 s, never outlived), until its last attempt failed.
    const failed = async () =>
      (await f.host.get('w1')).counters.failed + (await f.host.get('w2')).counters.failed;
    const idle = async () => (await f.queues.listTasks({ states: ['running'], limit: 10 })).length === 0;
    for (let attempt = 1; attempt <= 5; attempt++) {
      await eventually(
        async () => (await failed()) >= attempt && (await idle()),
        `attempt ${attempt} failed`,
      );
      if (attempt === 5) break;
      for (let i = 0; i < 10 && (await failed()) === attempt; i++) {
        if (await idle()) await f.clock.advance(20_000);
        await eventually(
          async () => (await failed()) > attempt || (await idle()),
          `attempt ${attempt + 1} started or still waits`,
        );
      }
    }
    await eventually(async () => (await f.queues.listDead({ limit: 10 })).length === 1, 'dead-lettered');
    const letters = await f.queues.listDead({ limit: 10 });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ attempts: 5, maxAttempts: 5 });
    expect(letters[0]!.queue).toMatch(/^agent:w[12]$/);
    expect(letters[0]!.lastError).toMatch(/poison task 0/);
    expect(await poison.result().catch((e: unknown) => (e as { code: string }).code)).toBe('workflow_failed');

    // Five failed attempts, one failed task: the capability never stalled.
    expect(f.events.of('agent.paused')).toEqual([]);
    for (const id of ['w1', 'w2']) {
      const info = await f.host.get(id);
      expect(info.status).not.toBe('paused');
      expect(info.counters.consecutiveErrors).toBeLessThanOrEqual(1);
      expect((await f.registry.get(id)).health).toBe('healthy');
    }
    expect(await failed()).toBe(5);
    // It still takes work.
    expect((await (await engine.start(job, { n: 101, kind: 'good' })).result()).n).toBe(101);
  });

  it('distinct tasks failing in a row pause the agent with a health warning; its waiting steps move on', async () => {
    const { f, engine, distributor } = await setUp();
    const health = createHealthChecks({ clock: f.clock });
    health.register(errorPausedAgentsCheck(f.store));
    expect((await health.run()).status).toBe('healthy');

    // Nobody serves `work` yet: every step parks, in the order dispatched.
    const bad = await startParked(f, engine, [
      { n: 1, kind: 'bad' },
      { n: 2, kind: 'bad' },
    ]);
    const good = await startParked(
      f,
      engine,
      [3, 4, 5].map((n) => ({ n, kind: 'good' as const })),
    );
    await f.host.start(worker, { id: 'w1', maxConsecutiveErrors: 2 });
    await distributor.sweep();
    for (const r of bad)
      expect(await r.result().catch((e: unknown) => (e as { code: string }).code)).toBe('workflow_failed');
    await eventually(async () => (await f.host.get('w1')).status === 'paused', 'w1 paused itself');
    expect(await f.host.get('w1')).toMatchObject({
      pauseReason: 'consecutive_errors',
      counters: { failed: 2, consecutiveErrors: 2 },
    });
    expect((await f.queues.listDead({ limit: 10 })).map((t) => t.queue)).toEqual(['agent:w1', 'agent:w1']);

    const summary = await health.run();
    expect(summary.status).toBe('degraded');
    expect(summary.reasons[0]).toMatch(
      /^agents: agent w1 paused itself after 2 tasks failed in a row \(last: action_failed: .*bad task 2\)/,
    );

    // No other agent has the capability: the good steps leave w1's queue and wait, saying why.
    await eventually(async () => {
      await distributor.sweep();
      return (
        (await f.queues.listTasks({ queue: 'dispatch:work', states: ['queued'], limit: 10 })).length === 3
      );
    }, 'the stranded steps parked');
    for (const r of good) {
      const [step] = await engine.steps(r.workflowId);
      expect(step?.waiting).toMatchObject({ reason: 'no_capable_agent', capability: 'work' });
    }

    // A healthy agent of the capability takes them.
    await f.host.start(worker, { id: 'w2' });
    await distributor.sweep();
    const done = await Promise.all(good.map((r) => r.result()));
    expect(done).toEqual([3, 4, 5].map((n) => ({ n, by: 'w2' })));

    // Resumed by an operator: healthy again, the streak from zero.
    await f.host.resume('w1');
    expect((await health.run()).status).toBe('healthy');
    expect((await f.host.get('w1')).counters.consecutiveErrors).toBe(0);
  });

  it('the steps waiting on an agent that paused itself move to a healthy agent of the capability', async () => {
    const { f, engine, distributor } = await setUp();
    held = gate();
    // Parked first, then all routed to w1, the only agent: one slow failing task, one failing, three good.
    const runs = await startParked(f, engine, [
      { n: 1, kind: 'slow' },
      { n: 2, kind: 'bad' },
    ]);
    const good = await startParked(
      f,
      engine,
      [3, 4, 5].map((n) => ({ n, kind: 'good' as const })),
    );
    await f.host.start(worker, { id: 'w1', maxConsecutiveErrors: 2 });
    await distributor.sweep();
    await eventually(async () => (await f.host.get('w1')).queue.queued === 4, 'w1 holds the rest');
    // A healthy agent of the capability is there before w1 pauses itself.
    await f.host.start(worker, { id: 'w2' });
    held.open();
    for (const r of runs)
      expect(await r.result().catch((e: unknown) => (e as { code: string }).code)).toBe('workflow_failed');
    await eventually(async () => (await f.host.get('w1')).status === 'paused', 'w1 paused itself');
    await distributor.sweep();
    const done = await Promise.all(good.map((r) => r.result()));
    expect(done).toEqual([3, 4, 5].map((n) => ({ n, by: 'w2' })));
    // Moved straight to w2: parked only at dispatch, before any agent served `work`.
    expect(distributor.stats()).toMatchObject({ rerouted: 3, parked: 5 });
    expect((await f.host.get('w1')).queue.queued).toBe(0);
  });
});

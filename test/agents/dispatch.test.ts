/**
 * Work dispatched by workflows (the untyped, deprecated form `ctx.dispatch(capability, action, input)`;
 * typed-dispatch.test.ts has the typed one) is routed by the task
 * distributor to a healthy agent with the capability, runs there as a task of the agent's own queue, and
 * its outcome is settled back into the workflow's journal — success and failure, on both adapters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agentQueueName, defineAction, defineAgent } from '../../src/agents/index.js';
import { createTaskDistributor, type TaskDistributor } from '../../src/coordination/index.js';
import { isGarrisonError, PermanentError } from '../../src/errors.js';
import { createWorkflowEngine, defineWorkflow, type WorkflowEngine } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { counterAgent, eventually, gate, newJournal, openFixture, type Fixture } from './support.js';

const checker = defineAgent({
  type: 'checker',
  capabilities: ['validation'],
  state: z.object({ checked: z.number().int() }),
  initialState: { checked: 0 },
  actions: [
    defineAction({
      name: 'check',
      input: z.object({ amount: z.number() }),
      output: z.object({ valid: z.boolean(), by: z.string() }),
      run: (ctx, { amount }) => {
        if (amount < 0) throw new PermanentError(`a negative amount (${amount})`);
        return { valid: amount < 1000, by: ctx.agentId };
      },
    }),
  ],
});

const order = defineWorkflow('order', async (ctx, input: { amount: number }) => {
  const check = await ctx.dispatch<{ valid: boolean }>('validation', 'check', { amount: input.amount });
  const counted = await ctx.dispatch('counting', 'increment', { by: 1 });
  return { check, counted };
});

/** Trainers offer one gpu each; a training step needs one, and waits for the test to let it finish. */
const training = { running: 0, most: 0, gate: gate() };
const trainer = defineAgent({
  type: 'trainer',
  capabilities: ['training'],
  resources: { gpu: 1, memory_mb: 2048 },
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'train',
      input: z.object({ n: z.number() }),
      output: z.object({ by: z.string() }),
      run: async (ctx) => {
        training.most = Math.max(training.most, ++training.running);
        await training.gate.promise;
        training.running -= 1;
        return { by: ctx.agentId };
      },
    }),
  ],
});
const train = defineWorkflow('train', (ctx, input: { n: number }) =>
  ctx.dispatch(trainer.action('train'), input, { requires: { gpu: 1 } }),
);

describe.each(adapters)('workflow steps dispatched to agents on $name', (adapter) => {
  let f: Fixture | undefined;
  let engine: WorkflowEngine | undefined;
  afterEach(async () => {
    await engine?.stop();
    await f?.close();
    f = undefined;
    engine = undefined;
  });

  async function setUp(): Promise<{ f: Fixture; engine: WorkflowEngine; distributor: TaskDistributor }> {
    const fixture = await openFixture(adapter);
    f = fixture;
    await fixture.host.shutdown(); // this test's host settles through the distributor
    // The distributor journals outcomes into the engine, which is built after it.
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
    }).register(order, train);
    late.engine = built;
    engine = built;
    const host = await fixture.reopen({ distributor });
    await host.start(checker, { id: 'checker-1' });
    await host.start(counterAgent(newJournal()), { id: 'counter-1' });
    return { f: fixture, engine: built, distributor };
  }

  it("a workflow's ctx.dispatch runs on an agent with the capability and the result is journaled", async () => {
    const { f, engine, distributor } = await setUp();
    const run = await engine.start(order, { amount: 40 });
    expect(await run.result()).toEqual({ check: { valid: true, by: 'checker-1' }, counted: { count: 1 } });
    expect((await f.host.get('checker-1')).counters.processed).toBe(1);
    expect((await f.host.get('counter-1')).state).toEqual({ count: 1, log: ['+1'] });
    expect(distributor.stats()).toMatchObject({ routed: 2, settled: 2 });
    await eventually(async () => (await f.host.get('checker-1')).queue.running === 0, 'the task completed');
  });

  it("an agent's failed action fails the dispatched step with its message; the agent counts it", async () => {
    const { f, engine } = await setUp();
    const run = await engine.start(order, { amount: -5 });
    const error = await run.result().catch((e: unknown) => e);
    expect(isGarrisonError(error, 'workflow_failed')).toBe(true);
    expect(JSON.stringify((error as { details: unknown }).details)).toContain('a negative amount (-5)');
    const info = await f.host.get('checker-1');
    expect(info.counters).toMatchObject({ processed: 0, failed: 1 });
    expect((await f.host.get('counter-1')).counters.processed).toBe(0); // the workflow stopped there
  });

  it('a step that requires resources goes only to an agent with them free; the rest wait for one to be given back', async () => {
    const { f, engine, distributor } = await setUp();
    Object.assign(training, { running: 0, most: 0, gate: gate() });
    await f.host.start(trainer, { id: 'trainer-1' });
    await f.host.start(trainer, { id: 'trainer-2' });
    expect((await f.registry.get('trainer-1')).resources).toEqual({ gpu: 1, memory_mb: 2048 });
    const runs = await Promise.all([1, 2, 3].map((n) => engine.start(train, { n })));
    await eventually(() => training.running === 2, 'two steps running, one on each gpu');
    const parked = await f.queues.listTasks({ queue: 'dispatch:training', states: ['queued'] });
    expect(parked).toHaveLength(1);
    training.gate.open();
    // The sweep (every second in a node) routes the waiting step once a gpu is free again.
    await eventually(async () => {
      await distributor.sweep();
      return (await Promise.all(runs.map(async (r) => (await r.get())?.status))).every(
        (status) => status === 'completed',
      );
    }, 'every run completed');
    expect(training.most).toBe(2);
    const by = await Promise.all(runs.map(async (r) => (await r.result()).by));
    expect(new Set(by)).toEqual(new Set(['trainer-1', 'trainer-2']));
  });

  it('rejects bad resource requirements before anything is dispatched', async () => {
    const { engine } = await setUp();
    const bad = defineWorkflow('bad-requires', (ctx) =>
      ctx.dispatch(trainer.action('train'), { n: 1 }, { requires: { gpu: -1 } }),
    );
    engine.register(bad);
    const run = await engine.start(bad, {});
    const error = await run.result().catch((e: unknown) => e);
    expect(JSON.stringify(error)).toContain('invalid ctx.dispatch options');
  });
});

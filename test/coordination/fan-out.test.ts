/**
 * Fan-out from a workflow (`ctx.dispatchAll`): one journaled step per healthy agent with the capability,
 * the participants journaled, the answers gathered with per-agent failures, a quorum that cancels the
 * rest or fails with `quorum_not_met`, and an agent that goes away counted as absent — never moved to
 * another agent. Both stores; the agents run in this process (fan-out-crash.test.ts kills nodes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agentQueueName, defineAction, defineAgent } from '../../src/agents/index.js';
import { createTaskDistributor, type TaskDistributor } from '../../src/coordination/index.js';
import { isGarrisonError, PermanentError } from '../../src/errors.js';
import { createWorkflowEngine, defineWorkflow, type WorkflowEngine } from '../../src/work/index.js';
import { eventually, gate, openFixture, type Fixture } from '../agents/support.js';
import { adapters } from '../support/stores.js';

/** Agents whose `poll` answers with their id, fails for ids listed in `failFor`, and waits for `held`. */
const control = {
  failFor: new Set<string>(),
  held: new Map<string, Promise<void>>(),
  started: [] as string[],
};

const poll = defineAction({
  name: 'poll',
  input: z.object({ question: z.string() }),
  output: z.object({ by: z.string(), answer: z.string() }),
  run: async (ctx, { question }) => {
    control.started.push(ctx.agentId);
    await control.held.get(ctx.agentId);
    if (control.failFor.has(ctx.agentId)) throw new PermanentError(`${ctx.agentId} refuses`);
    return { by: ctx.agentId, answer: `${question}!` };
  },
});
const voter = defineAgent({
  type: 'voter',
  capabilities: ['poll'],
  state: z.object({}),
  initialState: {},
  actions: [poll],
});

const all = defineWorkflow('fan.all', (ctx, input: { question: string }) =>
  ctx.dispatchAll(voter.action('poll'), { question: input.question }),
);
const some = defineWorkflow('fan.quorum', (ctx, input: { quorum: number }) =>
  ctx.dispatchAll(voter.action('poll'), { question: 'q' }, { quorum: input.quorum }),
);
const bad = defineWorkflow('fan.bad', (ctx) =>
  ctx.dispatchAll(voter.action('poll'), { question: 'q' }, { quorum: 0 }),
);

describe.each(adapters)('fan-out with gathered results on $name', (adapter) => {
  let f: Fixture | undefined;
  let engine: WorkflowEngine | undefined;
  afterEach(async () => {
    await engine?.stop();
    await f?.close();
    f = undefined;
    engine = undefined;
    control.failFor.clear();
    control.held.clear();
    control.started.length = 0;
  });

  async function setUp(agents: string[]) {
    const fixture = await openFixture(adapter);
    f = fixture;
    await fixture.host.shutdown();
    const late: { engine?: WorkflowEngine } = {};
    const distributor: TaskDistributor = createTaskDistributor({
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
    }).register(all, some, bad);
    late.engine = built;
    engine = built;
    const host = await fixture.reopen({ distributor });
    for (const id of agents) await host.start(voter, { id });
    return { f: fixture, engine: built, distributor, host };
  }

  it('gathers every healthy capable agent’s typed answer, a failure reported in its place, and journals the participants', async () => {
    const { engine } = await setUp(['v-1', 'v-2', 'v-3']);
    control.failFor.add('v-2');
    const run = await engine.start(all, { question: 'ready' });
    const results = await run.result();
    expect(results.map((r) => r.agent)).toEqual(['v-1', 'v-2', 'v-3']);
    expect(results[0]).toEqual({ agent: 'v-1', ok: true, value: { by: 'v-1', answer: 'ready!' } });
    expect(results[2]).toEqual({ agent: 'v-3', ok: true, value: { by: 'v-3', answer: 'ready!' } });
    const failed = results[1]!;
    expect(failed.ok).toBe(false);
    if (!failed.ok) expect(JSON.stringify(failed.error)).toContain('v-2 refuses');
    const steps = await engine.steps(run.workflowId);
    expect(steps[0]).toMatchObject({ name: 'poll.poll:participants', output: ['v-1', 'v-2', 'v-3'] });
    expect(steps.filter((s) => s.kind === 'dispatch').map((s) => s.name)).toEqual([
      'poll.poll@v-1',
      'poll.poll@v-2',
      'poll.poll@v-3',
    ]);
  });

  it('with a quorum, returns once it is reached and cancels the parts still running', async () => {
    const { engine, f } = await setUp(['v-1', 'v-2', 'v-3']);
    const first = gate();
    const last = gate();
    control.held.set('v-1', first.promise);
    control.held.set('v-2', first.promise);
    control.held.set('v-3', last.promise);
    const run = await engine.start(some, { quorum: 2 });
    // Every part running before any answers: v-3's is on its agent when the quorum is reached.
    await eventually(() => control.started.length === 3, 'the three parts started');
    first.open();
    const results = await run.result();
    expect(results.filter((r) => r.ok).map((r) => r.agent)).toEqual(['v-1', 'v-2']);
    const late = results.find((r) => r.agent === 'v-3');
    expect(late?.ok === false && late.error.code).toBe('dispatch_cancelled');
    last.open();
    // v-3 finishes its action; its late answer is not journaled over the cancellation.
    await eventually(async () => (await f.host.get('v-3')).counters.processed === 1, 'v-3 finished');
    const steps = await engine.steps(run.workflowId);
    expect(steps.find((s) => s.name === 'poll.poll@v-3')).toMatchObject({ status: 'failed' });
  });

  it('with a quorum, a part still queued on its agent when the quorum is reached is withdrawn and never runs', async () => {
    const { engine, f } = await setUp(['v-1', 'v-2']);
    // Registered, with no process taking its queue here: its part stays queued.
    await f.registry.register({
      id: 'v-9',
      capabilities: ['poll'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    const run = await engine.start(some, { quorum: 2 });
    const results = await run.result();
    expect(results.map((r) => [r.agent, r.ok])).toEqual([
      ['v-1', true],
      ['v-2', true],
      ['v-9', false],
    ]);
    const stats = await f.queues.stats(agentQueueName('v-9'));
    expect(stats.queued).toBe(0);
  });

  it('fails with quorum_not_met once the quorum is out of reach, naming each agent’s failure', async () => {
    const { engine } = await setUp(['v-1', 'v-2', 'v-3']);
    control.failFor.add('v-1');
    control.failFor.add('v-3');
    const run = await engine.start(some, { quorum: 2 });
    const error = await run.result().catch((e: unknown) => e);
    expect(isGarrisonError(error, 'workflow_failed')).toBe(true);
    const cause = (await engine.get(run.workflowId))?.error;
    expect(cause?.code).toBe('quorum_not_met');
    // v-2's part may have been cancelled before it answered: the quorum was out of reach either way.
    const failures = (cause?.details?.failures ?? {}) as Record<string, { message: string } | undefined>;
    expect(failures['v-1']?.message).toContain('v-1 refuses');
    expect(failures['v-3']?.message).toContain('v-3 refuses');
  });

  it('a quorum larger than the participants fails at once, and no part is handed off', async () => {
    const { engine } = await setUp(['v-1']);
    const run = await engine.start(some, { quorum: 2 });
    await run.result().catch(() => undefined);
    expect((await engine.get(run.workflowId))?.error?.code).toBe('quorum_not_met');
    expect(control.started).toEqual([]);
  });

  it('an agent that turns unhealthy before it answers counts as absent (agent_unavailable): its part moves to no other agent', async () => {
    const { engine, distributor, f } = await setUp(['v-1']);
    // Registered, with no process taking its queue here: its part waits queued on it.
    await f.registry.register({
      id: 'v-9',
      capabilities: ['poll'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    const run = await engine.start(all, { question: 'q' });
    await eventually(
      async () => (await f.queues.stats(agentQueueName('v-9'))).queued === 1,
      'the part of v-9 is on its queue',
    );
    await f.registry.update('v-9', { health: 'unhealthy' });
    await distributor.sweep();
    const results = await run.result();
    expect(results[0]).toEqual({ agent: 'v-1', ok: true, value: { by: 'v-1', answer: 'q!' } });
    expect(results[1]).toMatchObject({ agent: 'v-9', ok: false, error: { code: 'agent_unavailable' } });
    expect(distributor.stats().unavailable).toBe(1);
    expect(control.started).toEqual(['v-1']); // not moved to v-1
    expect((await f.queues.stats(agentQueueName('v-9'))).queued).toBe(0);
    // Replay: the journal answers the same, and the participants stay those of the start.
    await f.registry.update('v-9', { health: 'healthy' });
    expect((await engine.steps(run.workflowId))[0]?.output).toEqual(['v-1', 'v-9']);
  });

  it('rejects bad options before anything is journaled', async () => {
    const { engine } = await setUp(['v-1']);
    const run = await engine.start(bad, undefined);
    await run.result().catch(() => undefined);
    const failed = await engine.get(run.workflowId);
    expect(failed?.error?.code).toBe('invalid_input');
    expect(await engine.steps(run.workflowId)).toEqual([]);
  });
});

/**
 * Broadcast by capability (`host.broadcast`, and `ctx.broadcast` inside an action): every healthy agent
 * with the capability is called, its answer or its error gathered in its place; the agent broadcasting
 * from an action leaves itself out; a quorum not met, nobody to ask and bad input are typed errors. Across
 * nodes the calls go through the store (a second host on its own store connection). Both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createAgentHost,
  defineAction,
  defineAgent,
  isAgentError,
  type AgentHost,
  type BroadcastAnswer,
} from '../../src/agents/index.js';
import { isGarrisonError, PermanentError } from '../../src/errors.js';
import { createRegistry } from '../../src/registry/index.js';
import { createRuntime, systemClock, type Runtime } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/index.js';
import { openFixture, type Fixture } from './support.js';
import { adapters } from '../support/stores.js';

const refusing = new Set<string>();

const poll = defineAction({
  name: 'poll',
  input: z.object({ question: z.string() }),
  output: z.object({ by: z.string(), answer: z.string() }),
  run: (ctx, { question }) => {
    if (refusing.has(ctx.agentId)) throw new PermanentError(`${ctx.agentId} refuses`);
    return { by: ctx.agentId, answer: `${question}!` };
  },
});
const ask = defineAction({
  name: 'ask',
  input: z.object({ question: z.string() }),
  output: z.array(z.unknown()),
  run: async (ctx, { question }) => {
    if (ctx.broadcast === undefined) throw new Error('no broadcast in this context');
    return ctx.broadcast('poll', 'poll', { question }, { timeoutMs: 20_000 });
  },
});
const voter = defineAgent({
  type: 'voter',
  capabilities: ['poll'],
  state: z.object({}),
  initialState: {},
  actions: [poll, ask],
});

describe.each(adapters)('broadcast by capability on $name', (adapter) => {
  let f: Fixture | undefined;
  const extra: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of extra.splice(0).reverse()) await close();
    await f?.close();
    f = undefined;
    refusing.clear();
  });

  async function setUp(ids: string[]): Promise<AgentHost> {
    f = await openFixture(adapter);
    for (const id of ids) await f.host.start(voter, { id });
    return f.host;
  }

  it('calls every healthy agent with the capability and gathers each answer, a failure in its place', async () => {
    const host = await setUp(['v-1', 'v-2', 'v-3']);
    refusing.add('v-2');
    await f!.registry.update('v-3', { health: 'unhealthy' }); // not asked
    const answers = await host.broadcast('poll', 'poll', { question: 'ready' });
    expect(answers.map((a) => [a.agent, a.ok])).toEqual([
      ['v-1', true],
      ['v-2', false],
    ]);
    expect(answers[0]).toEqual({ agent: 'v-1', ok: true, value: { by: 'v-1', answer: 'ready!' } });
    const refused = answers[1] as Extract<BroadcastAnswer, { ok: false }>;
    expect(refused.error.code).toBe('action_failed');
    expect(refused.error.message).toContain('v-2 refuses');
  });

  it('an agent broadcasting from an action asks every other agent with the capability, not itself', async () => {
    const host = await setUp(['v-1', 'v-2', 'v-3']);
    const answers = await host.call<BroadcastAnswer[]>('v-2', 'ask', { question: 'go' });
    expect(answers).toEqual([
      { agent: 'v-1', ok: true, value: { by: 'v-1', answer: 'go!' } },
      { agent: 'v-3', ok: true, value: { by: 'v-3', answer: 'go!' } },
    ]);
  });

  it('fails with quorum_not_met when too few succeed, with no_capable_agent when nobody has the capability, and rejects bad input', async () => {
    const host = await setUp(['v-1', 'v-2']);
    refusing.add('v-1');
    const short = await host
      .broadcast('poll', 'poll', { question: 'q' }, { quorum: 2 })
      .catch((e: unknown) => e);
    expect(isAgentError(short, 'quorum_not_met')).toBe(true);
    expect((short as { details: { answers: BroadcastAnswer[] } }).details.answers).toHaveLength(2);
    expect(await host.broadcast('poll', 'poll', { question: 'q' }, { quorum: 1 })).toHaveLength(2);
    const nobody = await host.broadcast('nobody', 'poll', {}).catch((e: unknown) => e);
    expect(isAgentError(nobody, 'no_capable_agent')).toBe(true);
    const bad = await host.broadcast('poll', 'poll', {}, { quorum: 0 }).catch((e: unknown) => e);
    expect(isGarrisonError(bad, 'invalid_input')).toBe(true);
    // A bad input for the action is each agent's refusal, in its place.
    const refusedInput = await host.broadcast('poll', 'poll', { question: 7 });
    expect(refusedInput.every((a) => !a.ok && a.error.code === 'invalid_input')).toBe(true);
  });

  it('reaches an agent on another node through the store (durable request and reply)', async () => {
    const url = adapter.freshUrl();
    const node = async (nodeId: string): Promise<AgentHost> => {
      const store: Store = await openStore(url);
      const runtime: Runtime = createRuntime({ clock: systemClock });
      const host = await createAgentHost({
        store,
        runtime,
        registry: createRegistry({ store, clock: systemClock }),
        queues: createQueueClient({ store, clock: systemClock }),
        clock: systemClock,
        nodeId,
        pollIntervalMs: 20,
      });
      extra.push(async () => {
        await host.shutdown();
        await runtime.shutdown();
        await store.close();
      });
      return host;
    };
    const a = await node('node-a');
    const b = await node('node-b');
    await a.start(voter, { id: 'v-a' });
    await b.start(voter, { id: 'v-b' });
    const answers = await a.broadcast('poll', 'poll', { question: 'far' }, { timeoutMs: 60_000 });
    expect(answers).toEqual([
      { agent: 'v-a', ok: true, value: { by: 'v-a', answer: 'far!' } },
      { agent: 'v-b', ok: true, value: { by: 'v-b', answer: 'far!' } },
    ]);
  });
});

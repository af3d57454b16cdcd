/**
 * `/v1/agents` shows what each agent is doing from its state row — idle, processing, paused with its
 * reason — not the registry entry's copy, which is written at start and pause only (and says `idle`
 * while the agent works). On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAgentHost, defineAction, defineAgent, type AgentHost } from '../../src/agents/index.js';
import { createRuntime, type Runtime } from '../../src/runtime/index.js';
import { eventually, gate } from '../agents/support.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

let held = gate();

const worker = defineAgent({
  type: 'worker',
  capabilities: ['work'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'work',
      input: z.object({}),
      output: z.null(),
      run: async () => {
        await held.promise;
        return null;
      },
    }),
  ],
});

interface Listed {
  id: string;
  status: string;
  pauseReason: string | null;
  currentTask: number | null;
  metadata: { status?: string };
}

describe.each(adapters)('agent status over HTTP on $name', (adapter) => {
  let h: Harness | undefined;
  let runtime: Runtime | undefined;
  let host: AgentHost | undefined;
  afterEach(async () => {
    held.open();
    await host?.shutdown();
    await runtime?.shutdown();
    await h?.close();
    h = undefined;
    host = undefined;
    runtime = undefined;
  });

  async function setUp(): Promise<{ h: Harness; host: AgentHost }> {
    held = gate();
    const harness = await startHarness(adapter);
    h = harness;
    runtime = createRuntime({ clock: harness.clock });
    const registry = harness.context.registry as Parameters<typeof createAgentHost>[0]['registry'];
    host = await createAgentHost({
      store: harness.store,
      runtime,
      registry,
      queues: harness.queues,
      clock: harness.clock,
      nodeId: 'api-test',
    });
    await host.start(worker, { id: 'w1' });
    return { h: harness, host };
  }

  async function listed(url: string): Promise<Listed | undefined> {
    const reply = await call(url, 'GET', '/v1/agents');
    expect(reply.status).toBe(200);
    return (reply.json as { agents: Listed[] }).agents.find((a) => a.id === 'w1');
  }

  it('an agent at work is processing in /v1/agents, /v1/agents/:id and queries; paused shows its reason', async () => {
    const { h, host } = await setUp();
    expect(await listed(h.url)).toMatchObject({ status: 'idle', pauseReason: null });

    const task = await host.enqueue('w1', 'work', {});
    await eventually(async () => (await listed(h.url))?.status === 'processing', 'the agent is processing');
    // The registry's own copy still says idle: the listing reads the agent's row.
    expect((await h.context.registry.get('w1')).metadata.status).toBe('idle');
    expect(await listed(h.url)).toMatchObject({
      status: 'processing',
      currentTask: task.id,
      metadata: { status: 'processing' },
    });
    const one = await call(h.url, 'GET', '/v1/agents/w1');
    expect((one.json as { agent: Listed }).agent).toMatchObject({ status: 'processing' });
    const query = await call(h.url, 'POST', '/v1/agents/query', {
      criteria: [{ path: 'type', op: 'eq', value: 'worker' }],
    });
    expect((query.json as { agents: Listed[] }).agents).toMatchObject([{ id: 'w1', status: 'processing' }]);

    held.open();
    await eventually(async () => (await listed(h.url))?.status === 'idle', 'the agent is idle again');
    await host.pause('w1', 'maintenance window');
    expect(await listed(h.url)).toMatchObject({
      status: 'paused',
      pauseReason: 'maintenance window',
      currentTask: null,
    });
  });
});

/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/** A running node serves the API from its own parts (`startApiServer(node)` = `nodeApiContext` + server). */
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { call } from './support.js';

const echo = defineAgent({
  type: 'echo',
  capabilities: ['echo'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'say',
      input: z.object({ n: z.number() }),
      output: z.object({ n: z.number() }),
      run: (_ctx, input) => input,
    }),
  ],
});
const relay = defineWorkflow('relay', async (ctx, n: number) => {
  const got = await ctx.waitForSignal<{ add: number }>('go');
  const said = await ctx.dispatch<{ n: number }>('echo', 'say', { n: n + (got?.add ?? 0) });
  return said.n;
});

describe.each(adapters)('a node serving the HTTP API on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    await node?.stop();
    await store?.close();
    api = node = store = undefined;
  });

  it('a workflow started and signalled over HTTP is dispatched to an agent and shows in the summary', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'api-node', workflows: [relay], agents: [echo] });
    await node.agents.start(echo, { id: 'echo-1' });
    api = await startApiServer(node, { port: 0 });
    const url = api.url;
    expect(
      (await call(url, 'POST', '/v1/workflows', { name: 'relay', input: 1, workflowId: 'r-1' })).status,
    ).toBe(201);
    expect(
      (await call(url, 'POST', '/v1/workflows/r-1/signal', { name: 'go', data: { add: 41 } })).status,
    ).toBe(202);
    expect(await node.workflows.result('r-1', { timeoutMs: 30_000 })).toBe(42);
    const shown = await call(url, 'GET', '/v1/workflows/r-1');
    expect(shown.json.steps.map((s: { kind: string }) => s.kind)).toEqual(['signal', 'dispatch']);
    const summary = await call(url, 'GET', '/v1/metrics/summary');
    expect(summary.json.workflows).toMatchObject({ total: 1, completed: 1 });
    expect(summary.json.tasksDistributed).toMatchObject({ completed: 1 });
    expect(summary.json.node).toMatchObject({ id: 'api-node', distributor: expect.any(Object) as unknown });
    const agents = await call(url, 'GET', '/v1/agents?capability=echo');
    expect(agents.json.agents.map((a: { id: string }) => a.id)).toEqual(['echo-1']);
  });

  it('the node gives health, nodes and resources: /v1/health, /v1/nodes, /v1/resources, /readyz', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'api-node', agents: [echo] });
    await node.agents.start(echo, { id: 'echo-2' });
    api = await startApiServer(node, { port: 0 });
    expect((await call(api.url, 'GET', '/v1/nodes')).json.nodes[0]).toMatchObject({
      id: 'api-node',
      state: 'up',
      // what it holds that other nodes would wait for: its agent's registry entry, no leases
      holds: { agents: 1, tasks: 0, workflowRuns: 0, coordinationLeases: 0 },
    });
    expect((await call(api.url, 'GET', '/v1/health')).json.health.status).toBe('healthy');
    const resources = await call(api.url, 'GET', '/v1/resources');
    expect(resources.json.resources.map((u: { kind: string }) => u.kind)).toContain('processes');
    const ready = await call(api.url, 'GET', '/readyz');
    expect([ready.status, ready.json.health]).toEqual([200, 'healthy']);
    node.breakers.get('payments');
    expect((await call(api.url, 'GET', '/v1/breakers')).json.breakers).toHaveLength(1);
    expect((await call(api.url, 'GET', '/metrics')).text).toContain('node="api-node"');
  });

  it("a queue named __proto__ shows in the node's /v1/metrics/summary and /metrics like any other", async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'api-node' });
    await node.queues.enqueue('__proto__', 1);
    await node.queues.enqueue('plain', 2);
    api = await startApiServer(node, { port: 0 });
    const summary = await call(api.url, 'GET', '/v1/metrics/summary');
    expect(Object.keys(summary.json.byQueue as object).sort()).toEqual(['__proto__', 'plain']);
    expect(summary.json.byQueue['__proto__']).toMatchObject({ queued: 1 });
    const metrics = (await call(api.url, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/coordination_tasks\{[^}]*queue="__proto__"[^}]*state="queued"[^}]*\} 1/);
    expect(metrics).toMatch(/coordination_tasks\{[^}]*queue="plain"[^}]*state="queued"[^}]*\} 1/);
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument -- JSON responses are checked field by field */
import { request } from 'node:http';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

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
const waiter = defineWorkflow('waiter', async (ctx, n: number) => {
  const got = await ctx.waitForSignal<{ add: number }>('go');
  const said = await ctx.dispatch<{ n: number }>('echo', 'say', { n: n + (got?.add ?? 0) });
  return said.n;
});

describe.each(adapters)('HTTP API on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    await node?.stop();
    await store?.close();
    api = node = store = undefined;
  });

  async function start(options: { token?: string; bodyLimitBytes?: number } = {}) {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'api-node', workflows: [waiter], agents: [echo] });
    await node.agents.start(echo, { id: 'echo-1' });
    api = await startApiServer(node, { port: 0, ...options });
    return api.url;
  }

  async function call(
    url: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    const json: any = text.startsWith('{') ? JSON.parse(text) : text;
    return { status: res.status, json, res };
  }

  it('starts, lists, shows, signals and finishes a workflow; idempotent start by id', async () => {
    const url = await start();
    const started = await call(url, 'POST', '/v1/workflows', { name: 'waiter', input: 1, workflowId: 'w-1' });
    expect(started.status).toBe(201);
    expect(started.json).toEqual({ workflowId: 'w-1', created: true });
    expect(
      (await call(url, 'POST', '/v1/workflows', { name: 'waiter', input: 1, workflowId: 'w-1' })).status,
    ).toBe(200);
    const list = await call(url, 'GET', '/v1/workflows?name=waiter');
    expect(list.json.workflows.map((w: { id: string }) => w.id)).toEqual(['w-1']);
    expect(
      (await call(url, 'POST', '/v1/workflows/w-1/signal', { name: 'go', data: { add: 41 } })).status,
    ).toBe(202);
    const result = await node!.workflows.result('w-1', { timeoutMs: 30_000 });
    expect(result).toBe(42);
    const shown = await call(url, 'GET', '/v1/workflows/w-1');
    expect(shown.json.workflow.status).toBe('completed');
    expect(shown.json.steps.map((s: { kind: string }) => s.kind)).toEqual(['signal', 'dispatch']);
    expect((await call(url, 'GET', '/v1/workflows/absent')).json).toEqual({
      error: { code: 'workflow_not_found', message: 'no workflow run has the id absent' },
    });
  });

  it('agents, tasks, dead letters, timers, breakers, nodes, metrics and health answer', async () => {
    const url = await start();
    expect((await call(url, 'GET', '/v1/agents')).json.agents.map((a: { id: string }) => a.id)).toEqual([
      'echo-1',
    ]);
    expect((await call(url, 'GET', '/v1/agents/echo-1')).json.agent.capabilities).toEqual(['echo']);
    const q = await call(url, 'POST', '/v1/agents/query', {
      criteria: [{ path: 'capabilities', op: 'eq', value: 'echo' }],
    });
    expect([q.status, q.json.agents?.length ?? q.json]).toEqual([200, 1]);
    const task = await call(url, 'POST', '/v1/tasks', {
      queue: 'mail',
      payload: { to: 'x' },
      maxAttempts: 1,
    });
    expect(task.status).toBe(201);
    const id = task.json.task.id as number;
    expect((await call(url, 'GET', `/v1/tasks/${id}`)).json.task.state).toBe('queued');
    expect((await call(url, 'GET', '/v1/tasks?queue=mail')).json.tasks).toHaveLength(1);
    expect((await call(url, 'POST', `/v1/tasks/${id}/cancel`)).json.state).toBe('cancelled');
    expect((await call(url, 'GET', '/v1/dead-letters')).json.deadLetters).toEqual([]);
    expect((await call(url, 'POST', '/v1/dead-letters/retry', { queue: 'mail' })).json).toEqual({
      retried: 0,
    });
    expect((await call(url, 'GET', '/v1/timers')).status).toBe(200);
    node!.breakers.get('payments');
    expect(
      (await call(url, 'GET', '/v1/breakers')).json.breakers.map((b: { service: string }) => b.service),
    ).toEqual(['payments']);
    expect((await call(url, 'POST', '/v1/breakers/payments/reset')).json).toEqual({
      service: 'payments',
      reset: true,
    });
    expect((await call(url, 'GET', '/v1/nodes')).json.nodes[0]).toMatchObject({
      id: 'api-node',
      state: 'up',
    });
    expect((await call(url, 'GET', '/v1/metrics/summary')).json.telemetry).toBeDefined();
    const ready = await call(url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.stringify(ready.json)).toContain('healthy');
    const resources = await call(url, 'GET', '/v1/resources');
    expect(resources.json.resources.map((u: { kind: string }) => u.kind)).toContain('processes');
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    const metrics = await call(url, 'GET', '/metrics');
    expect(String(metrics.json)).toContain('garrison_');
  });

  it('bad input: 400 bad JSON, 415 not JSON, 422 naming the field, 404 route, 405 method; nothing written', async () => {
    const url = await start();
    expect((await call(url, 'POST', '/v1/tasks', '{nope')).json.error.code).toBe('bad_json');
    const plain = await call(url, 'POST', '/v1/tasks', 'hello', { 'content-type': 'text/plain' });
    expect([plain.status, plain.json.error.code]).toEqual([415, 'unsupported_media_type']);
    const bad = await call(url, 'POST', '/v1/tasks', { queue: '', payload: 1, priority: 1.5 });
    expect(bad.status).toBe(422);
    expect(bad.json.error.message).toContain('queue');
    expect(bad.json.error.message).toContain('priority');
    expect((await call(url, 'POST', '/v1/tasks', { queue: 'q', payload: 1, surprise: true })).status).toBe(
      422,
    );
    expect((await call(url, 'GET', '/v1/workflows?limit=0')).status).toBe(422);
    expect((await call(url, 'GET', '/v1/tasks/abc')).status).toBe(422);
    expect((await call(url, 'GET', '/v1/nothing')).status).toBe(404);
    expect((await call(url, 'DELETE', '/v1/agents')).status).toBe(405);
    expect((await call(url, 'GET', '/v1/tasks')).json.tasks).toEqual([]);
    expect(
      (await call(url, 'POST', '/v1/workflows', { name: 'no-such', input: 1 })).status,
    ).toBeGreaterThanOrEqual(400);
  });

  it('a body past the limit is refused with 413 from its Content-Length, before it is read', async () => {
    const url = await start({ bodyLimitBytes: 1024 });
    const { port } = new URL(url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/tasks',
          headers: { 'content-type': 'application/json', 'content-length': 10_000_000 },
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on('error', reject);
      req.write('{"queue":"q","payload":"'); // only the start of the promised 10 MB
    });
    expect(status).toBe(413);
    const streamed = await call(url, 'POST', '/v1/tasks', { queue: 'q', payload: 'x'.repeat(5000) });
    expect([streamed.status, streamed.json.error.code]).toEqual([413, 'body_too_large']);
  });

  it('with a token, every route but /healthz needs it', async () => {
    const url = await start({ token: 'a-long-enough-secret-token' });
    expect((await call(url, 'GET', '/v1/agents')).status).toBe(401);
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    const authed = await call(url, 'GET', '/v1/agents', undefined, {
      authorization: 'Bearer a-long-enough-secret-token',
    });
    expect(authed.status).toBe(200);
  });

  it('/openapi.json lists every route with the schemas that validate it; the dashboard is served', async () => {
    const url = await start();
    const doc = (await call(url, 'GET', '/openapi.json')).json as {
      paths: Record<string, Record<string, any>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/workflows', '/v1/workflows/{id}/signal', '/v1/tasks/{id}']),
    );
    expect(doc.paths['/v1/tasks']?.post.requestBody.content['application/json'].schema.required).toEqual([
      'queue',
      'payload',
    ]);
    const page = await call(url, 'GET', '/');
    expect(page.res.headers.get('content-type')).toContain('text/html');
    expect(String(page.json)).toContain('/v1/events');
    expect(String(page.json)).toContain('/v1/workflows');
  });

  it('/v1/events streams telemetry events as server-sent events', async () => {
    const url = await start();
    const res = await fetch(`${url}/v1/events`);
    const reader = res.body!.getReader();
    let text = '';
    node!.events.emit('workflow.finished', {
      workflowId: 'x',
      name: 'n',
      status: 'completed',
      durationMs: 1,
    } as never);
    while (!text.includes('event: workflow.finished')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('event: workflow.finished');
    await reader.cancel();
  });
});

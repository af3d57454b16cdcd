/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/**
 * An operator's `POST /v1/agents/:id/pause|resume|stop`: admin tokens only, 404 for an unknown agent
 * (nothing written), idempotent (200 with `changed: false`), each request an audit event naming the
 * token; the host that runs the agent follows the change. On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createAgentHost,
  defineAction,
  defineAgent,
  listAuditEvents,
  type AgentHost,
} from '../../src/agents/index.js';
import { createApiToken } from '../../src/api/index.js';
import { createRuntime, type Runtime } from '../../src/runtime/index.js';
import { eventually } from '../agents/support.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

const admin = createApiToken();
const reader = createApiToken();
const as = (token: string) => ({ authorization: `Bearer ${token}` });

const worker = defineAgent({
  type: 'worker',
  capabilities: ['work'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'work', input: z.object({}), output: z.null(), run: () => null })],
});

describe.each(adapters)('agent control over HTTP on $name', (adapter) => {
  let h: Harness | undefined;
  let runtime: Runtime | undefined;
  let host: AgentHost | undefined;
  afterEach(async () => {
    await host?.shutdown();
    await runtime?.shutdown();
    await h?.close();
    h = undefined;
    host = undefined;
    runtime = undefined;
  });

  async function setUp(): Promise<{ h: Harness; host: AgentHost }> {
    const harness = await startHarness(adapter, {
      auth: {
        tokens: [
          { token: admin.token, scope: 'admin', name: 'ops' },
          { token: reader.token, scope: 'read', name: 'viewer' },
        ],
      },
    });
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

  it('pause and resume: audited with the token, idempotent, followed by the host and the registry', async () => {
    const { h, host } = await setUp();
    const paused = await call(
      h.url,
      'POST',
      '/v1/agents/w1/pause',
      { reason: 'maintenance' },
      as(admin.token),
    );
    expect(paused.status).toBe(200);
    expect(paused.json.agent).toMatchObject({
      agentId: 'w1',
      operation: 'pause',
      changed: true,
      status: 'paused',
      pauseReason: 'maintenance',
    });
    await eventually(async () => (await host.get('w1')).status === 'paused', 'the host follows');
    const entry = await call(h.url, 'GET', '/v1/agents/w1', undefined, as(reader.token));
    expect(entry.json.agent).toMatchObject({
      health: 'unhealthy',
      status: 'paused',
      pauseReason: 'maintenance',
    });
    await expect(host.enqueue('w1', 'work', {})).rejects.toMatchObject({ code: 'agent_paused' });

    // Asked again: nothing changes, the answer says so, and the request is on the trail all the same.
    const again = await call(h.url, 'POST', '/v1/agents/w1/pause', undefined, as(admin.token));
    expect([again.status, again.json.agent.changed, again.json.agent.pauseReason]).toEqual([
      200,
      false,
      'maintenance',
    ]);

    const resumed = await call(h.url, 'POST', '/v1/agents/w1/resume', undefined, as(admin.token));
    expect(resumed.json.agent).toMatchObject({ changed: true, status: 'idle', pauseReason: null });
    const task = await host.enqueue('w1', 'work', {});
    await eventually(async () => (await h.queues.getTask(task.id)) === undefined, 'it works again');

    const trail = await listAuditEvents(h.store, { target: 'w1' });
    // The trail over HTTP, for a read token: the same events, newest first.
    const read = await call(h.url, 'GET', '/v1/audit-events?target=w1&limit=10', undefined, as(reader.token));
    expect(read.status).toBe(200);
    expect(read.json.events).toEqual(JSON.parse(JSON.stringify(trail)));
    const none = await call(h.url, 'GET', '/v1/audit-events?target=nobody', undefined, as(reader.token));
    expect(none.json.events).toEqual([]);
    expect(trail.map((e) => [e.actor, e.action, e.details])).toEqual([
      ['api:ops', 'agent.resume', { changed: true }],
      ['api:ops', 'agent.pause', { changed: false, reason: 'manual' }],
      ['api:ops', 'agent.pause', { changed: true, reason: 'maintenance' }],
    ]);
  });

  it('stop: the host ends the agent, its registry entry goes; stopping again changes nothing', async () => {
    const { h, host } = await setUp();
    const stopped = await call(h.url, 'POST', '/v1/agents/w1/stop', undefined, as(admin.token));
    expect(stopped.json.agent).toMatchObject({ changed: true, lifecycle: 'stopped' });
    await eventually(async () => !(await host.get('w1')).running, 'the host stopped it');
    expect((await host.get('w1')).lifecycle).toBe('stopped');
    const gone = await call(h.url, 'GET', '/v1/agents/w1', undefined, as(reader.token));
    expect([gone.status, gone.json.error.code]).toEqual([404, 'agent_not_found']);
    const again = await call(h.url, 'POST', '/v1/agents/w1/stop', undefined, as(admin.token));
    expect([again.status, again.json.agent.changed]).toEqual([200, false]);
    expect((await listAuditEvents(h.store)).map((e) => [e.action, e.details.changed])).toEqual([
      ['agent.stop', false],
      ['agent.stop', true],
    ]);
  });

  it('a read token is refused (403), an unknown agent is 404 agent_not_found, a bad reason is 422: nothing written', async () => {
    const { h, host } = await setUp();
    for (const op of ['pause', 'resume', 'stop']) {
      const refused = await call(h.url, 'POST', `/v1/agents/w1/${op}`, undefined, as(reader.token));
      expect([refused.status, refused.json.error.code], op).toEqual([403, 'forbidden']);
      const anonymous = await call(h.url, 'POST', `/v1/agents/w1/${op}`);
      expect(anonymous.status, op).toBe(401);
      const unknown = await call(h.url, 'POST', `/v1/agents/nobody/${op}`, undefined, as(admin.token));
      expect([unknown.status, unknown.json.error.code], op).toEqual([404, 'agent_not_found']);
    }
    const bad = await call(h.url, 'POST', '/v1/agents/w1/pause', { reason: '' }, as(admin.token));
    expect([bad.status, bad.json.error.code]).toEqual([422, 'invalid_input']);
    const extra = await call(h.url, 'POST', '/v1/agents/w1/resume', { force: true }, as(admin.token));
    expect([extra.status, extra.json.error.code]).toEqual([422, 'invalid_input']);
    expect(await listAuditEvents(h.store)).toEqual([]);
    expect((await host.get('w1')).status).toBe('idle');
  });

  it('the OpenAPI document lists the three routes with their 404', async () => {
    const { h } = await setUp();
    const doc = await call(h.url, 'GET', '/openapi.json', undefined, as(reader.token));
    for (const op of ['pause', 'resume', 'stop']) {
      const entry = doc.json.paths[`/v1/agents/{id}/${op}`]?.post as
        { responses: Record<string, unknown> } | undefined;
      expect(Object.keys(entry?.responses ?? {}), op).toContain('404');
    }
    expect(doc.json.paths['/v1/agents/{id}/pause'].post.requestBody).toBeDefined();
  });
});

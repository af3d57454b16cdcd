/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/**
 * `/v1/agents/:id/schedules`: a node's agent's schedules listed over HTTP, and changed with an admin
 * token only — run now, pause, resume, update (everyMs or cron), delete — each audited with the token's
 * name; an unknown schedule is 404 and a bad cron 422, nothing written. On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction, defineAgent, listAuditEvents } from '../../src/agents/index.js';
import { createApiToken, startApiServer, type ApiServer } from '../../src/api/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { call } from './support.js';

const admin = createApiToken();
const reader = createApiToken();
const as = (token: string) => ({ authorization: `Bearer ${token}` });

const reporter = defineAgent({
  type: 'reporter',
  capabilities: ['reports'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'report', input: z.object({}), output: z.null(), run: () => null })],
  schedules: [{ name: 'hourly', everyMs: 3_600_000, action: 'report' }],
});

describe.each(adapters)('agent schedules over HTTP on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    await node?.stop();
    await store?.close();
    api = node = store = undefined;
  });

  it('lists, runs, pauses, resumes, updates and deletes a schedule; read tokens only read; each change audited', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'api-sched', agents: [reporter] });
    await node.agents.start(reporter, { id: 'r1' });
    api = await startApiServer(node, {
      port: 0,
      auth: {
        tokens: [
          { token: admin.token, scope: 'admin', name: 'ops' },
          { token: reader.token, scope: 'read', name: 'viewer' },
        ],
      },
    });
    const url = api.url;
    const path = '/v1/agents/r1/schedules';
    const listed = await call(url, 'GET', path, undefined, as(reader.token));
    expect(listed.status).toBe(200);
    expect(listed.json.schedules).toEqual([
      expect.objectContaining({ name: 'hourly', action: 'report', everyMs: 3_600_000, state: 'active' }),
    ]);

    const refused = await call(url, 'POST', `${path}/hourly/pause`, undefined, as(reader.token));
    expect([refused.status, refused.json.error.code]).toEqual([403, 'forbidden']);

    const paused = await call(url, 'POST', `${path}/hourly/pause`, undefined, as(admin.token));
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ changed: true, schedule: { state: 'paused', nextRunAt: null } });

    const updated = await call(url, 'POST', `${path}/hourly/update`, { cron: '15 2 * * *' }, as(admin.token));
    expect(updated.status).toBe(200);
    expect(updated.json.schedule).toMatchObject({ cron: '15 2 * * *', everyMs: null, state: 'paused' });

    const ran = await call(url, 'POST', `${path}/hourly/run`, undefined, as(admin.token));
    expect(ran.status).toBe(200);
    expect(ran.json.taskId).toEqual(expect.any(Number));

    const resumed = await call(url, 'POST', `${path}/hourly/resume`, undefined, as(admin.token));
    expect(resumed.json).toMatchObject({ changed: true, schedule: { state: 'active' } });

    const badCron = await call(url, 'POST', `${path}/hourly/update`, { cron: '99 * * * *' }, as(admin.token));
    expect([badCron.status, badCron.json.error.code]).toEqual([422, 'invalid_input']);
    expect(badCron.json.error.message).toMatch(/invalid cron pattern "99 \* \* \* \*"/);
    const both = await call(
      url,
      'POST',
      `${path}/hourly/update`,
      { everyMs: 5, cron: '* * * * *' },
      as(admin.token),
    );
    expect([both.status, both.json.error.code]).toEqual([422, 'invalid_input']);
    const unknown = await call(url, 'POST', `${path}/weekly/pause`, undefined, as(admin.token));
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'schedule_not_found']);
    expect(unknown.json.error.message).toBe('agent r1 has no schedule named weekly (its schedules: hourly)');
    const ghost = await call(url, 'GET', '/v1/agents/ghost/schedules', undefined, as(reader.token));
    expect([ghost.status, ghost.json.error.code]).toEqual([404, 'agent_not_found']);
    // Nothing of the refused requests was written: the schedule is as the last change left it.
    expect((await call(url, 'GET', path, undefined, as(reader.token))).json.schedules).toEqual([
      expect.objectContaining({ cron: '15 2 * * *', state: 'active' }),
    ]);

    const removed = await call(url, 'DELETE', `${path}/hourly`, undefined, as(admin.token));
    expect([removed.status, removed.json.schedule]).toEqual([200, null]);
    expect((await call(url, 'GET', path, undefined, as(reader.token))).json.schedules).toEqual([]);

    const trail = await listAuditEvents(store, { target: 'r1' });
    expect(trail.map((e) => [e.action, e.actor]).reverse()).toEqual([
      ['agent.schedule.pause', 'api:ops'],
      ['agent.schedule.update', 'api:ops'],
      ['agent.schedule.run', 'api:ops'],
      ['agent.schedule.resume', 'api:ops'],
      ['agent.schedule.remove', 'api:ops'],
    ]);
  });
});

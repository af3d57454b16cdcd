/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/** Every route with valid input, over real HTTP, on both stores. */
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

describe.each(adapters)('HTTP API routes on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('agents: list with filters, query with the registry criteria, get one', async () => {
    h = await startHarness(adapter);
    const registry = createRegistry({ store: h.store, clock: h.clock });
    await registry.register({
      id: 'v-1',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await registry.register({
      id: 'p-1',
      capabilities: ['process'],
      health: 'degraded',
      node: 'n2',
      resources: { memory: 512 },
    });
    const all = await call(h.url, 'GET', '/v1/agents');
    expect([all.status, all.json.agents.map((a: { id: string }) => a.id)]).toEqual([200, ['p-1', 'v-1']]);
    const healthy = await call(h.url, 'GET', '/v1/agents?health=healthy&capability=validate');
    expect(healthy.json.agents.map((a: { id: string }) => a.id)).toEqual(['v-1']);
    const query = await call(h.url, 'POST', '/v1/agents/query', {
      criteria: [
        { path: 'resources.memory', op: 'gte', value: 256 },
        { path: 'node', op: 'in', value: ['n1', 'n2'] },
      ],
    });
    expect([query.status, query.json.agents.map((a: { id: string }) => a.id)]).toEqual([200, ['p-1']]);
    const one = await call(h.url, 'GET', '/v1/agents/v-1');
    expect(one.json.agent).toMatchObject({ id: 'v-1', capabilities: ['validate'], health: 'healthy' });
  });

  it('workflows: start (201, then 200 for the same id), list with filters, signal, get with its steps', async () => {
    h = await startHarness(adapter);
    const started = await call(h.url, 'POST', '/v1/workflows', {
      name: 'waiter',
      input: 1,
      workflowId: 'w-1',
    });
    expect([started.status, started.json]).toEqual([201, { workflowId: 'w-1', created: true }]);
    const again = await call(h.url, 'POST', '/v1/workflows', { name: 'waiter', input: 1, workflowId: 'w-1' });
    expect([again.status, again.json.created]).toEqual([200, false]);
    const failed = await call(h.url, 'POST', '/v1/workflows', { name: 'failing', workflowId: 'f-1' });
    expect(failed.status).toBe(201);
    await expect(h.workflows.result('f-1')).rejects.toMatchObject({ code: 'workflow_failed' });

    const signal = await call(h.url, 'POST', '/v1/workflows/w-1/signal', { name: 'go', data: { add: 41 } });
    expect([signal.status, signal.json]).toEqual([202, { workflowId: 'w-1', signal: 'go', sent: true }]);
    expect(await h.workflows.result('w-1')).toBe(42);

    const byName = await call(h.url, 'GET', '/v1/workflows?name=waiter');
    expect(byName.json.workflows.map((w: { id: string }) => w.id)).toEqual(['w-1']);
    const byStatus = await call(h.url, 'GET', '/v1/workflows?status=failed,cancelled&limit=10');
    expect(byStatus.json.workflows.map((w: { id: string }) => w.id)).toEqual(['f-1']);
    const shown = await call(h.url, 'GET', '/v1/workflows/w-1');
    expect(shown.json.workflow).toMatchObject({ id: 'w-1', status: 'completed', output: 42 });
    expect(shown.json.steps.map((s: { kind: string; status: string }) => [s.kind, s.status])).toEqual([
      ['signal', 'completed'],
      ['step', 'completed'],
    ]);
    const failedRun = await call(h.url, 'GET', '/v1/workflows/f-1');
    expect(failedRun.json.steps[0]).toMatchObject({ name: 'boom', status: 'failed', attempts: 1 });
  });

  it('workflows: pause, resume and cancel a waiting run', async () => {
    h = await startHarness(adapter);
    await call(h.url, 'POST', '/v1/workflows', { name: 'waiter', input: 0, workflowId: 'w-2' });
    const paused = await call(h.url, 'POST', '/v1/workflows/w-2/pause');
    // A waiting run pauses at once or at its next boundary: either way the pause is recorded.
    expect(paused.status).toBe(200);
    expect(paused.json.workflow.status === 'paused' || paused.json.workflow.control === 'pause').toBe(true);
    const resumed = await call(h.url, 'POST', '/v1/workflows/w-2/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.json.workflow.status).not.toBe('paused');
    const cancelled = await call(h.url, 'POST', '/v1/workflows/w-2/cancel');
    expect(cancelled.status).toBe(200);
    await expect(h.workflows.result('w-2')).rejects.toMatchObject({ code: 'workflow_cancelled' });
    expect((await call(h.url, 'GET', '/v1/workflows/w-2')).json.workflow.status).toBe('cancelled');
  });

  it('tasks: enqueue (201), list by queue and state, get, cancel', async () => {
    h = await startHarness(adapter);
    const first = await call(h.url, 'POST', '/v1/tasks', {
      queue: 'mail',
      payload: { to: 'a' },
      priority: 5,
      maxAttempts: 2,
      idempotencyKey: 'mail-a',
    });
    expect(first.status).toBe(201);
    const id = first.json.task.id as number;
    const same = await call(h.url, 'POST', '/v1/tasks', {
      queue: 'mail',
      payload: { to: 'a' },
      idempotencyKey: 'mail-a',
    });
    expect(same.json.task.id).toBe(id);
    await call(h.url, 'POST', '/v1/tasks', { queue: 'other', payload: 1, delayMs: 60_000 });
    const got = await call(h.url, 'GET', `/v1/tasks/${id}`);
    expect(got.json.task).toMatchObject({
      id,
      queue: 'mail',
      state: 'queued',
      priority: 5,
      payload: { to: 'a' },
    });
    expect((await call(h.url, 'GET', '/v1/tasks?queue=mail')).json.tasks).toHaveLength(1);
    expect((await call(h.url, 'GET', '/v1/tasks?state=queued,running&limit=10')).json.tasks).toHaveLength(2);
    const cancelled = await call(h.url, 'POST', `/v1/tasks/${id}/cancel`);
    expect([cancelled.status, cancelled.json]).toEqual([200, { id, state: 'cancelled' }]);
    expect((await call(h.url, 'GET', '/v1/tasks?state=cancelled')).json.tasks).toHaveLength(1);
  });

  it('dead letters: list, retry by id, purge by queue', async () => {
    h = await startHarness(adapter);
    const dead = async () => {
      await h!.queues.enqueue('jobs', { n: 1 }, { maxAttempts: 1 });
      const [task] = await h!.queues.claim('jobs');
      expect(await h!.queues.fail(task!, new Error('no luck'))).toBe('dead');
      return task!.id;
    };
    const id = await dead();
    const listed = await call(h.url, 'GET', '/v1/dead-letters?queue=jobs');
    expect(
      listed.json.deadLetters.map((t: { id: number; lastError: string }) => [t.id, t.lastError]),
    ).toEqual([[id, 'Error: no luck']]);
    const retried = await call(h.url, 'POST', '/v1/dead-letters/retry', { ids: [id] });
    expect([retried.status, retried.json]).toEqual([200, { retried: 1 }]);
    expect((await h.queues.getTask(id))?.state).toBe('queued');
    await h.queues.cancel(id);
    await dead();
    const purged = await call(h.url, 'POST', '/v1/dead-letters/purge', { queue: 'jobs' });
    expect(purged.json).toEqual({ purged: 1 });
    expect((await call(h.url, 'GET', '/v1/dead-letters')).json.deadLetters).toEqual([]);
  });

  it('timers, breakers (list, reset), metrics summary, health, nodes, Prometheus metrics', async () => {
    h = await startHarness(adapter);
    await h.timers.schedule({ id: 'daily', topic: 'report', cron: '0 6 * * *' });
    await h.timers.schedule({ id: 'soon', topic: 'ping', delayMs: 1000, owner: 'agent-1' });
    const timers = await call(h.url, 'GET', '/v1/timers');
    expect(timers.json.timers.map((t: { id: string }) => t.id)).toEqual(['soon', 'daily']);
    expect((await call(h.url, 'GET', '/v1/timers?owner=agent-1')).json.timers).toHaveLength(1);

    const breaker = h.breakers.get('payments');
    await expect(breaker.call(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    const breakers = await call(h.url, 'GET', '/v1/breakers');
    expect(breakers.json.breakers).toMatchObject([{ service: 'payments', state: 'closed', failures: 1 }]);
    const reset = await call(h.url, 'POST', '/v1/breakers/payments/reset');
    expect([reset.status, reset.json]).toEqual([200, { service: 'payments', reset: true }]);
    expect(h.breakers.list()[0]?.failures).toBe(0);

    await call(h.url, 'POST', '/v1/workflows', { name: 'typed', input: 2, workflowId: 't-1' });
    expect(await h.workflows.result('t-1')).toBe(4);
    await call(h.url, 'POST', '/v1/tasks', { queue: 'mail', payload: 1 });
    const summary = await call(h.url, 'GET', '/v1/metrics/summary');
    expect(summary.json.workflows).toMatchObject({ total: 1, completed: 1, failed: 0 });
    expect(summary.json.byQueue.mail).toMatchObject({ queued: 1 });
    expect(typeof summary.json.telemetry).toBe('object');

    const health = await call(h.url, 'GET', '/v1/health');
    expect(health.json.health.status).toBe('healthy');
    expect(health.json.health.checks.map((c: { name: string }) => c.name)).toEqual(['store', 'migrations']);
    expect((await call(h.url, 'GET', '/v1/nodes')).json).toEqual({ nodes: [] });
    const metrics = await call(h.url, 'GET', '/metrics');
    expect([metrics.status, metrics.headers.get('content-type')]).toEqual([
      200,
      expect.stringContaining('text/plain'),
    ]);
    expect(metrics.text).toContain('garrison_processes_spawned_total');
  });

  it('/healthz answers while the process lives; /readyz checks the store, migrations and health', async () => {
    h = await startHarness(adapter);
    expect(await call(h.url, 'GET', '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    const ready = await call(h.url, 'GET', '/readyz');
    expect([ready.status, ready.json.ready, ready.json.store.pending, ready.json.health]).toEqual([
      200,
      true,
      [],
      'healthy',
    ]);
    h.health.register({ name: 'disk', check: () => ({ status: 'unhealthy', reason: 'full' }) });
    const unhealthy = await call(h.url, 'GET', '/readyz');
    expect([unhealthy.status, unhealthy.json.error.code, unhealthy.headers.get('retry-after')]).toEqual([
      503,
      'not_ready',
      '1',
    ]);
    expect(unhealthy.json.error.details.reasons).toEqual(['disk: full']);
    await h.store.close();
    const down = await call(h.url, 'GET', '/readyz');
    expect([down.status, down.json.error.message]).toEqual([503, 'the store does not answer']);
    expect((await call(h.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('/readyz is 503 while migrations are pending', async () => {
    h = await startHarness(adapter, {}, { migrate: false });
    const res = await call(h.url, 'GET', '/readyz');
    expect([res.status, res.json.error.message]).toEqual([503, 'migrations are pending']);
    expect(res.json.error.details.migrations.pending.length).toBeGreaterThan(0);
  });
});

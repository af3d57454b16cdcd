/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- JSON replies are checked field by field */
/**
 * A running node reports what happens in it: tasks, workflow runs and timers move their Prometheus
 * series on `/metrics`; registry and scheduler changes reach its event bus; a retry budget denying
 * retries and monitors piling up on a process show in its health (`/v1/health`) with the reason.
 */
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { defineApp, startApp, type RunningApp } from '../../src/app/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { PermanentError } from '../../src/resilience/index.js';
import type { MonitorRef } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { defineQueue, defineWorkflow, type ClaimedTask } from '../../src/work/index.js';
import { eventually } from '../agents/support.js';
import { call } from '../api/support.js';
import { adapters } from '../support/stores.js';

const worker = defineAgent({
  type: 'metered',
  capabilities: ['metered'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'work',
      input: z.object({ mode: z.enum(['ok', 'flaky', 'permanent']) }),
      output: z.object({ ok: z.boolean() }),
      run: (ctx, input) => {
        // A plain error is taken as transient (the queue retries it); a permanent one is not.
        if (input.mode === 'flaky' && ctx.task?.attempt === 1) throw new Error('not yet');
        if (input.mode === 'permanent') throw new PermanentError(new Error('refused on purpose'));
        return { ok: true };
      },
    }),
  ],
});
const twice = defineWorkflow('twice', (ctx, n: number) => ctx.step('double', () => Promise.resolve(n * 2)));
const broken = defineWorkflow('broken', async (ctx, _n: number) => {
  await ctx.step('boom', () => Promise.reject(new Error('boom')));
});

/** The value of one series of the text exposition (0 when it is not there yet). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const found = new Map(
      body.split(',').map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at), pair.slice(at + 2, -1)] as const;
      }),
    );
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe.each(adapters)('a node reporting its work and its health on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    await node?.stop();
    await store?.close();
    api = node = store = undefined;
  });

  const metrics = async () => {
    const reply = await call(api!.url, 'GET', '/metrics');
    expect(reply.status).toBe(200);
    return reply.text;
  };

  it('tasks, workflow runs and timers move their series on /metrics; registry and timer events reach the bus', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'metered', agents: [worker], workflows: [twice, broken] });
    api = await startApiServer(node, { port: 0 });
    const seen: string[] = [];
    node.events.on('registry.*', ({ name }) => {
      seen.push(name);
    });
    node.events.on('scheduler.*', ({ name }) => {
      seen.push(name);
    });
    const queue = 'agent:m-1';
    const before = await metrics();

    await node.agents.start(worker, { id: 'm-1' });
    await node.agents.enqueue('m-1', 'work', { mode: 'ok' });
    await node.agents.enqueue('m-1', 'work', { mode: 'flaky' });
    await node.agents.enqueue('m-1', 'work', { mode: 'permanent' });
    await node.workflows.start(twice, 21, { workflowId: 'w-ok' });
    await node.workflows.start(broken, 1, { workflowId: 'w-failed' });
    expect(await node.workflows.result('w-ok', { timeoutMs: 30_000 })).toBe(42);
    await expect(node.workflows.result('w-failed', { timeoutMs: 30_000 })).rejects.toThrow(/boom/);
    await node.timers.schedule({ id: 'later', topic: 'nobody.listens', delayMs: 3_600_000 });
    let after = '';
    await eventually(async () => {
      after = await metrics();
      return (
        sample(after, 'garrison_tasks_total', { queue, outcome: 'dead_lettered' }) >= 1 &&
        sample(after, 'garrison_tasks_total', { queue, outcome: 'completed' }) >= 2 &&
        sample(after, 'garrison_workflows_total', { outcome: 'failed' }) >= 1 &&
        sample(after, 'garrison_timers_active', { kind: 'durable' }) >
          sample(before, 'garrison_timers_active', { kind: 'durable' })
      );
    }, 'the series of the work done');
    for (const [name, labels] of [
      ['garrison_tasks_total', { queue, outcome: 'completed' }],
      ['garrison_tasks_total', { queue, outcome: 'retried' }],
      ['garrison_tasks_total', { queue, outcome: 'dead_lettered' }],
      ['garrison_workflows_total', { outcome: 'completed' }],
      ['garrison_workflows_total', { outcome: 'failed' }],
      ['garrison_task_duration_seconds_count', { queue }],
      ['garrison_workflow_duration_seconds_count', {}],
      ['garrison_timers_active', { kind: 'durable' }],
    ] as const)
      expect(sample(after, name, labels), `${name} ${JSON.stringify(labels)}`).toBeGreaterThan(
        sample(before, name, labels),
      );
    // The node's own process timers (heartbeat, sweeps) are counted too.
    expect(sample(after, 'garrison_timers_active', { kind: 'process' })).toBeGreaterThan(0);

    expect(await node.timers.cancel('later')).toBe(true);
    await node.agents.stop('m-1');
    await eventually(() => seen.includes('registry.agent_unregistered'), 'the unregistration event');
    expect(seen).toEqual(
      expect.arrayContaining([
        'registry.agent_registered',
        'registry.agent_unregistered',
        'scheduler.timer_scheduled',
        'scheduler.timer_cancelled',
      ]),
    );
  });

  it("an application's queue workers move garrison_tasks_total of their queue too", async () => {
    store = await adapter.open();
    const mail = defineQueue({ name: 'mail', maxAttempts: 1, schema: z.object({ to: z.string() }) });
    const app: RunningApp = await startApp(
      defineApp({
        queues: [
          {
            queue: mail,
            handler: (task: ClaimedTask<{ to: string }>) => {
              if (task.payload.to === 'nobody') throw new Error('no such mailbox');
            },
          },
        ],
      }),
      { store, config: { nodeName: 'mailer' } },
    );
    node = app.node;
    api = await startApiServer(node, { port: 0 });
    const before = await metrics();
    await node.queues.enqueue(mail, { to: 'ops' });
    await node.queues.enqueue(mail, { to: 'nobody' });
    let after = '';
    await eventually(async () => {
      after = await metrics();
      return sample(after, 'garrison_tasks_total', { queue: 'mail', outcome: 'dead_lettered' }) >= 1;
    }, 'the dead letter counted');
    expect(sample(after, 'garrison_tasks_total', { queue: 'mail', outcome: 'completed' })).toBe(
      sample(before, 'garrison_tasks_total', { queue: 'mail', outcome: 'completed' }) + 1,
    );
    await api.close();
    api = undefined;
    await app.stop();
    node = undefined;
  });

  it('a retry budget that denies retries makes the node degraded, with the budget named and its figures', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'budgeted' });
    api = await startApiServer(node, { port: 0 });
    expect((await call(api.url, 'GET', '/v1/health')).json.health.status).toBe('healthy');
    const budget = node.retryBudgets.get('payments', { ratio: 0, minRetriesPerWindow: 1, windowMs: 600_000 });
    budget.recordCall();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    const health = (await call(api.url, 'GET', '/v1/health')).json.health;
    expect(health.status).toBe('degraded');
    expect(health.reasons).toEqual([
      'retry_budgets: retry budget payments denied 1 retries: 1 of 1 allowed for 1 calls in its window',
    ]);
    const check = health.checks.find((c: { name: string }) => c.name === 'retry_budgets');
    expect(check.details.degraded[0]).toMatchObject({ name: 'payments', status: 'degraded', denied: 1 });
  });

  it('monitors piling up on a process make the node degraded with the process named; released, it is healthy again', async () => {
    store = await adapter.open();
    node = await startNode({
      store,
      nodeName: 'leaky',
      agents: [worker],
      config: { heartbeatMs: 100, monitorLeaks: { ageMs: 0, maxPerProcess: 20 } },
    });
    api = await startApiServer(node, { port: 0 });
    await node.agents.start(worker, { id: 'watched' });
    const pid = node.agents.pidOf('watched')!;
    const leaks: string[] = [];
    node.events.on('monitor.leak', ({ payload }) => {
      leaks.push(payload.watcher);
    });
    const refs: MonitorRef[] = [];
    for (let i = 0; i < 30; i++)
      refs.push(node.runtime.monitor(pid, () => undefined, { label: 'forgotten' }));
    let health: { status: string; reasons: string[] } = { status: '', reasons: [] };
    await eventually(async () => {
      health = (await call(api!.url, 'GET', '/v1/health')).json.health;
      return health.status === 'degraded';
    }, 'the leak in the health');
    expect(health.reasons).toHaveLength(1);
    expect(health.reasons[0]).toMatch(
      new RegExp(`^monitors: monitor leak: 3\\d old monitors pile up on process ${pid.toString()}`),
    );
    expect(health.reasons[0]).toContain('forgotten');
    expect(leaks.filter((w) => w === 'forgotten')).toHaveLength(30); // each reported once, not once a tick
    for (const ref of refs) node.runtime.demonitor(ref);
    await eventually(
      async () => (await call(api!.url, 'GET', '/v1/health')).json.health.status === 'healthy',
      'healthy once the monitors are released',
    );
  });
});

/**
 * Prepares a store through the library API — nodes (up, draining, down), agents, workflow runs (one finished with a step
 * timeline, two pending), queued tasks, dead letters and durable timers — for the command line to read.
 */
import { orderWorkflow } from '../../src/cli/demo/workflows.js';
import { joinCluster, setNodeState } from '../../src/node/membership.js';
import { createRegistry } from '../../src/registry/index.js';
import { systemClock } from '../../src/runtime/index.js';
import { DurableTimers } from '../../src/scheduler/index.js';
import { openStore, parseJson, type Store } from '../../src/store/index.js';
import { createQueueClient, defineQueue } from '../../src/work/queue/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/workflow/index.js';

/** A two-step workflow run to completion in the test process, so `workflows show` has a timeline. */
const greet = defineWorkflow('test.greet', async (ctx, input: { name: string }) => {
  const hello = await ctx.step('hello', async () => `hello ${input.name}`);
  const bye = await ctx.step('bye', async () => `bye ${input.name}`);
  return { hello, bye };
});

export const orderInput = { n: 1, amountCents: 250, flaky: false };

export interface Seeded {
  readonly url: string;
  /** Queued tasks: one in `mail` (priority 5), one in `reports`. */
  readonly queued: { readonly mail: number; readonly reports: number };
  /** Dead letters: one in `mail`, one in `reports`. */
  readonly dead: { readonly mail: number; readonly reports: number };
}

export async function withStore<T>(url: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(url);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function seed(url: string): Promise<Seeded> {
  return withStore(url, async (store) => {
    // Heartbeats an hour ahead stay fresh however slowly the commands start; one an hour old is down.
    const now = Date.now();
    await joinCluster(store, 'node-a', now + 3_600_000, { health: 'healthy' });
    await joinCluster(store, 'node-b', now + 3_600_000, { health: 'degraded' });
    await setNodeState(store, 'node-b', 'draining', now + 3_600_000);
    await joinCluster(store, 'node-c', now - 3_600_000, {});

    const registry = createRegistry({ store });
    await registry.register({
      id: 'agent-v',
      type: 'demo.validator',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'node-a',
      resources: {},
    });
    await registry.register({
      id: 'agent-p',
      type: 'demo.processor',
      capabilities: ['process', 'report'],
      health: 'degraded',
      node: 'node-a',
      resources: {},
    });

    await startRuns(store, { greeting: true, orders: 2 });

    const mail = defineQueue({ name: 'mail', maxAttempts: 1 });
    const reports = defineQueue({ name: 'reports', maxAttempts: 1 });
    const queues = createQueueClient({ store, localHandoff: false, queues: [mail, reports] });
    const dead = { mail: 0, reports: 0 };
    for (const [queue, key] of [
      [mail, 'mail'],
      [reports, 'reports'],
    ] as const) {
      const task = await queues.enqueue(queue, { to: `dead-${key}` });
      const [claimed] = await queues.claim(queue, { workerId: 'seed-worker' });
      if (claimed?.id !== task.id) throw new Error('the seeded task was not claimed');
      await queues.fail(claimed, new Error(`boom in ${key}`));
      dead[key] = task.id;
    }
    const queued = {
      mail: (await queues.enqueue(mail, { to: 'ada' }, { priority: 5 })).id,
      reports: (await queues.enqueue(reports, { day: 'monday' })).id,
    };

    const timers = new DurableTimers({ store, clock: systemClock, nodeId: 'seed' });
    await timers.schedule({ id: 'tm-remind', topic: 'reminder', delayMs: 3_600_000, owner: 'agent-v' });
    await timers.schedule({ id: 'tm-hourly', topic: 'hourly', cron: '0 * * * *' });
    return { url, queued, dead };
  });
}

/**
 * Workflow runs: with `greeting`, `g-1` (test.greet) run to completion here; then `orders` pending
 * demo.order runs `o-1`, `o-2`, … that a node started by the command line executes.
 */
export async function startRuns(
  store: Store,
  o: { readonly greeting: boolean; readonly orders: number },
): Promise<void> {
  const engine = createWorkflowEngine({ store, nodeId: 'seed', autoExecute: false });
  engine.register(greet, orderWorkflow);
  try {
    if (o.greeting) {
      await engine.start(greet, { name: 'ada' }, { workflowId: 'g-1' });
      await engine.executeRun('g-1');
    }
    for (let n = 1; n <= o.orders; n++)
      await engine.start(orderWorkflow, { ...orderInput, n }, { workflowId: `o-${n}` });
  } finally {
    await engine.stop();
  }
}

/** What the commands may change, read straight from the store: equal before and after a refused command. */
export function snapshot(url: string): Promise<unknown> {
  return withStore(url, async (store) => ({
    runs: await store.query('SELECT id, status FROM garrison_workflow_runs ORDER BY id'),
    steps: await store.query('SELECT run_id, COUNT(*) AS n FROM garrison_workflow_steps GROUP BY run_id'),
    signals: await store.query('SELECT run_id, name FROM garrison_workflow_signals ORDER BY seq'),
    tasks: await store.query('SELECT id, queue, state, attempts FROM garrison_tasks ORDER BY id'),
    timers: await store.query('SELECT id, due_at FROM garrison_timers ORDER BY id'),
    agents: await store.query('SELECT id, health FROM garrison_agents ORDER BY id'),
  }));
}

/** The signals a run has been sent, with their data. */
export function signalsOf(url: string, runId: string): Promise<Array<{ name: string; data: unknown }>> {
  return withStore(url, async (store) => {
    const rows = await store.query<{ name: string; data: unknown }>(
      'SELECT name, data FROM garrison_workflow_signals WHERE run_id = $1 ORDER BY seq',
      [runId],
    );
    return rows.map((r) => ({ name: r.name, data: typeof r.data === 'string' ? parseJson(r.data) : r.data }));
  });
}

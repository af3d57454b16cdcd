/**
 * Retention (src/node/retention.ts): finished runs with their journals and signals, finished tasks and
 * dead letters older than the settings are deleted — in batches — and nothing else: runs still waiting,
 * queued tasks and recent work stay. The node's durable cron runs the purge; a setting of 0 keeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDeadLetterQueue } from '../../src/messaging/delivery/dead-letters.js';
import { startNode, type GarrisonNode, type NodeConfigInput } from '../../src/node/index.js';
import {
  purgeExpired,
  RETENTION_TIMER,
  retentionSchema,
  type RetentionReport,
} from '../../src/node/retention.js';
import { VirtualClock } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { createQueueClient, defineQueue, defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const DAY = 86_400_000;
const T0 = 1_800_000_000_000;

const done = defineWorkflow('retention.done', async (ctx, input: { n: number }) => {
  await ctx.step('one', () => Promise.resolve(input.n));
  return input.n;
});
const waits = defineWorkflow('retention.waits', async (ctx) => ctx.waitForSignal<number>('go'));
const jobs = defineQueue({ name: 'retention.jobs', schema: z.object({ n: z.number() }), maxAttempts: 1 });

async function count(store: Store, sql: string): Promise<number> {
  const rows = await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${sql}`);
  return Number(rows[0]!.n);
}

describe.each(adapters)('retention on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    // A node stops at once only with no run waiting on the virtual clock: let the waiting one finish.
    await node?.workflows.signal('still-waiting', 'go', 1).catch(() => undefined);
    await node?.workflows.result('still-waiting').catch(() => undefined);
    await node?.stop();
    await store?.close();
    node = undefined;
    store = undefined;
  });

  /** Finished and unfinished work made at `T0`: 5 completed runs, one waiting, tasks in every state. */
  async function seed(s: Store, clock: VirtualClock | undefined, config: NodeConfigInput = {}) {
    node = await startNode({
      store: s,
      ...(clock === undefined ? {} : { clock }),
      config,
      nodeName: 'r1',
      workflows: [done, waits],
    });
    // Heard from the start: with a cron every second, a purge may come before the seeding ends.
    const reports: RetentionReport[] = [];
    node.events.on('node.retention_purged', ({ payload }) => {
      reports.push(payload);
    });
    const finished = await Promise.all([1, 2, 3, 4, 5].map((n) => node!.workflows.start(done, { n })));
    for (const run of finished) await run.result();
    const waiting = await node.workflows.start(waits, {}, { workflowId: 'still-waiting' });
    await node.workflows.signal('still-waiting', 'other', 1); // a signal row of an unfinished run
    for (let i = 0; i < 2000 && (await node.workflows.get('still-waiting'))?.status !== 'waiting'; i++)
      await new Promise((r) => setTimeout(r, 5));
    const queues = createQueueClient({ store: s, ...(clock === undefined ? {} : { clock }) });
    for (let n = 0; n < 3; n++) await queues.enqueue(jobs, { n }, { idempotencyKey: `done-${n}` });
    for (const task of await queues.claim(jobs, { limit: 3 })) await queues.complete(task);
    await queues.enqueue(jobs, { n: 9 }, { idempotencyKey: 'dies' });
    const [dying] = await queues.claim(jobs, { limit: 1 });
    expect(await queues.fail(dying!, new Error('poison'))).toBe('dead');
    await queues.enqueue(jobs, { n: 10 }, { idempotencyKey: 'still-queued' });
    const letters = createDeadLetterQueue({
      store: s,
      clock: clock ?? node.clock,
      wake: () => undefined,
      onRecorded: () => undefined,
    });
    await letters.record({ recipient: 'someone', body: { hi: 1 }, error: new Error('undeliverable') });
    return { waiting, finished, reports };
  }

  it('deletes what finished before the cut-off, in batches, and keeps what waits or is recent', async () => {
    store = await adapter.open();
    const clock = new VirtualClock(T0);
    const { finished } = await seed(store, clock);
    expect(await count(store, 'garrison_workflow_runs')).toBe(6);
    expect(await count(store, 'garrison_workflow_steps')).toBeGreaterThanOrEqual(5);

    const settings = retentionSchema.parse({ batchSize: 2 });
    // Six days on, nothing is old enough.
    expect(await purgeExpired(store, settings, T0 + 6 * DAY)).toEqual({
      runs: 0,
      tasks: 0,
      deadTasks: 0,
      deadMessages: 0,
    });
    // Eight days on: everything finished goes, batch by batch (2 at a time: 5 runs take 3 batches).
    expect(await purgeExpired(store, settings, T0 + 8 * DAY)).toEqual({
      runs: 5,
      tasks: 3,
      deadTasks: 1,
      deadMessages: 1,
    });
    const left = await store.query<{ id: string; status: string }>(
      'SELECT id, status FROM garrison_workflow_runs',
    );
    expect(left).toEqual([{ id: 'still-waiting', status: 'waiting' }]);
    const steps = await store.query<{ run_id: string }>(
      'SELECT DISTINCT run_id FROM garrison_workflow_steps',
    );
    expect(steps.map((r) => r.run_id)).toEqual(['still-waiting']);
    expect(await count(store, 'garrison_workflow_signals')).toBe(1);
    const tasks = await store.query<{ idempotency_key: string; state: string }>(
      `SELECT idempotency_key, state FROM garrison_tasks WHERE queue = 'retention.jobs'`,
    );
    expect(tasks).toEqual([{ idempotency_key: 'still-queued', state: 'queued' }]);
    expect(await count(store, 'garrison_messages')).toBe(0);
    // A purged run's id is free again: starting it makes a new run.
    const again = await node!.workflows.start(done, { n: 7 }, { workflowId: finished[0]!.workflowId });
    expect(again.created).toBe(true);
    expect(await again.result()).toBe(7);
  });

  it('a setting of 0 keeps that kind forever', async () => {
    store = await adapter.open();
    const clock = new VirtualClock(T0);
    await seed(store, clock);
    const settings = retentionSchema.parse({ runsMs: 0, deadLettersMs: 0 });
    expect(await purgeExpired(store, settings, T0 + 365 * DAY)).toEqual({
      runs: 0,
      tasks: 3,
      deadTasks: 0,
      deadMessages: 0,
    });
    expect(await count(store, 'garrison_workflow_runs')).toBe(6);
  });

  it('the node runs the purge from a durable cron timer and reports it', async () => {
    store = await adapter.open();
    // The real clock: the node's cron fires every second and keeps 1 ms of everything.
    const seeded = await seed(store, undefined, {
      retention: { runsMs: 1, tasksMs: 1, deadLettersMs: 1, cron: '* * * * * *' },
    });
    const timer = await node!.timers.get(RETENTION_TIMER);
    expect(timer).toMatchObject({ topic: RETENTION_TIMER, cron: '* * * * * *', missedPolicy: 'skip' });
    const { reports } = seeded;
    const total = () => reports.reduce((n, r) => n + r.runs + r.tasks + r.deadTasks + r.deadMessages, 0);
    for (let i = 0; i < 600 && total() < 10; i++) await new Promise((r) => setTimeout(r, 50));
    expect(reports.reduce((n, r) => n + r.runs, 0)).toBe(5);
    expect(total()).toBe(10);
    const left = await store.query<{ id: string }>('SELECT id FROM garrison_workflow_runs');
    expect(left).toEqual([{ id: seeded.waiting.workflowId }]);
  });

  it('refuses bad settings with the field named', () => {
    expect(() => retentionSchema.parse({ runsMs: -1 })).toThrow(/runsMs/);
    expect(() => retentionSchema.parse({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => retentionSchema.parse({ keepEverything: true })).toThrow(/keepEverything/);
  });
});

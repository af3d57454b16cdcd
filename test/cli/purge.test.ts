/**
 * `garrison workflows purge` and `garrison tasks purge --older-than <duration>`: finished runs (with
 * their journals) and finished tasks older than the duration are deleted, nothing else; a bad duration
 * is refused and nothing changes. On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, type Store } from '../../src/store/index.js';
import {
  createQueueClient,
  createWorkflowEngine,
  defineQueue,
  defineWorkflow,
} from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

const HOUR = 3_600_000;
const flow = defineWorkflow('purge.flow', async (ctx) => ctx.step('one', () => Promise.resolve(1)));
const jobs = defineQueue({ name: 'purge.jobs', schema: z.object({ n: z.number() }), keepCompleted: true });

async function count(store: Store, table: string): Promise<number> {
  const rows = await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

describe.each(adapters)('garrison workflows|tasks purge on $name', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  it('deletes what finished longer ago than --older-than, nothing else; a bad duration changes nothing', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    opened.push(store);
    const engine = createWorkflowEngine({ store, nodeId: 'purge-test' });
    engine.register(flow);
    for (const id of ['old-1', 'old-2', 'new-1'])
      await (await engine.start(flow, {}, { workflowId: id })).result();
    await engine.stop();
    const queues = createQueueClient({ store });
    for (let n = 0; n < 3; n++) await queues.enqueue(jobs, { n });
    for (const task of await queues.claim(jobs, { limit: 3 })) await queues.complete(task);
    // Two runs and two tasks finished three hours ago.
    const past = Date.now() - 3 * HOUR;
    await store.write((tx) =>
      tx.execute(
        `UPDATE garrison_workflow_runs SET created_at = $1, finished_at = $1 WHERE id IN ('old-1', 'old-2')`,
        [past],
      ),
    );
    await store.write((tx) =>
      tx.execute(
        `UPDATE garrison_tasks SET finished_at = $1 WHERE id IN (SELECT id FROM garrison_tasks ORDER BY id LIMIT 2)`,
        [past],
      ),
    );

    const bad = await cli('workflows', 'purge', '--older-than', '3 weeks', '--store', url);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--older-than <duration>.*must be a duration such as 7d/);
    const missing = await cli('tasks', 'purge', '--store', url);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/required option '--older-than <duration>'/);
    expect(await count(store, 'garrison_workflow_runs')).toBe(3);

    const runs = await cli('workflows', 'purge', '--older-than', '2h', '--store', url, '--json');
    expect(runs.code, runs.stderr).toBe(0);
    expect(lastJson(runs.stdout)).toEqual({ purged: 2 });
    const left = await store.query<{ id: string }>('SELECT id FROM garrison_workflow_runs');
    expect(left).toEqual([{ id: 'new-1' }]);
    const journals = await store.query<{ run_id: string }>(
      'SELECT DISTINCT run_id FROM garrison_workflow_steps',
    );
    expect(journals).toEqual([{ run_id: 'new-1' }]);

    const tasks = await cli('tasks', 'purge', '--older-than', '2h', '--queue', 'purge.jobs', '--store', url);
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.stdout).toBe('2 finished tasks deleted\n');
    expect(await count(store, 'garrison_tasks')).toBe(1);
  });
});

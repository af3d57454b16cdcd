/**
 * The command line as a process on PostgreSQL (a fresh schema of the test server, named in the URL):
 * migrate, status, listings and a durable start; a refused start writes nothing; an unreachable server
 * is one line.
 */
import { describe, expect, it } from 'vitest';
import { latestMigration } from '../../src/store/index.js';
import { postgresAdapter } from '../support/stores.js';
import { seed, snapshot, withStore } from './seed.js';
import { expectOk, expectRefused, garrison, json } from './spawn.js';

const TIMEOUT = 120_000;

describe('garrison as a process on PostgreSQL', () => {
  it(
    'migrate, status, workflows, tasks, dlq and agents read a seeded schema; start is durable, a bad start writes nothing',
    async () => {
      const url = postgresAdapter.freshUrl();
      const migrated = await garrison(['migrate', '--store', url, '--json']);
      expectOk(migrated);
      const report = json<{ applied: unknown[]; status: { dialect: string; version: number } }>(migrated);
      expect(report.applied).toHaveLength(latestMigration('postgres'));
      expect(report.status).toMatchObject({ dialect: 'postgres', version: latestMigration('postgres') });

      const s = await seed(url);
      const before = await snapshot(url);
      const at = ['--store', url];
      const [status, workflows, tasks, dead, agents, badInput, unreachable] = await Promise.all([
        garrison(['status', ...at, '--json']),
        garrison(['workflows', 'list', '--status', 'pending', ...at, '--json']),
        garrison(['tasks', '--queue', 'mail', ...at, '--json']),
        garrison(['dlq', ...at]),
        garrison(['agents', '--health', 'healthy', ...at, '--json']),
        garrison(['workflows', 'start', 'two words', '--input', '{"n":1}', ...at]),
        garrison(['status', '--store', 'postgres://garrison:x@127.0.0.1:1/garrison']),
      ]);
      expectOk(status);
      expect(json(status)).toMatchObject({
        store: { dialect: 'postgres', pending: [] },
        workflows: { completed: 1, pending: 2 },
        tasks: { dead: 2, queued: 2 },
        agents: { degraded: 1, healthy: 1 },
      });
      expectOk(workflows);
      expect(json<{ workflows: Array<{ id: string }> }>(workflows).workflows.map((w) => w.id)).toEqual([
        'o-2',
        'o-1',
      ]);
      expectOk(tasks);
      expect(json<{ tasks: Array<{ id: number; state: string }> }>(tasks).tasks).toEqual([
        expect.objectContaining({ id: s.dead.mail, state: 'dead' }),
        expect.objectContaining({ id: s.queued.mail, state: 'queued' }),
      ]);
      expectOk(dead);
      expect(dead.stdout).toContain('Error: boom in reports');
      expectOk(agents);
      expect(json<{ agents: Array<{ id: string }> }>(agents).agents.map((a) => a.id)).toEqual(['agent-v']);
      // The input is checked by the node that runs the workflow; a name no workflow can have is refused here.
      expectRefused(badInput, /^garrison: invalid workflow name "two words" \[invalid_input\]$/);
      expectRefused(
        unreachable,
        /^garrison: cannot reach PostgreSQL at 127\.0\.0\.1:1.*\[store_unreachable\]$/,
      );
      expect(await snapshot(url)).toEqual(before);

      const started = await garrison([
        'workflows',
        'start',
        'demo.order',
        '--input',
        '{"n":5,"amountCents":99,"flaky":false}',
        '--id',
        'pg-5',
        ...at,
        '--json',
      ]);
      expectOk(started);
      expect(json(started)).toEqual({ workflowId: 'pg-5', created: true });
      const runs = await withStore(url, (store) =>
        store.query<{ status: string }>("SELECT status FROM garrison_workflow_runs WHERE id = 'pg-5'"),
      );
      expect(runs).toEqual([{ status: 'pending' }]);
    },
    TIMEOUT,
  );
});

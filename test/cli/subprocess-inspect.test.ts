/**
 * The inspection and admin commands run as real processes on a SQLite store seeded through the library:
 * each prints what the store holds (table rows and `--json`), and each refuses a bad argument with exit
 * code 1, one `garrison:` line and the command's usage — no stack trace, nothing written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { version } from '../../src/cli/version.js';
import { latestMigration, openStore } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/queue/index.js';
import { sqliteAdapter } from '../support/stores.js';
import { seed, snapshot, withStore, type Seeded } from './seed.js';
import { COMMANDS } from './support.js';
import { expectOk, expectRefused, garrison, json, tableRows } from './spawn.js';

const TIMEOUT = 120_000;
const LATEST = latestMigration('sqlite');

interface StatusJson {
  store: { dialect: string; version: number; latest: number; pending: number[] };
  nodes: Array<{ id: string; state: string; holds: Record<string, number> }>;
  workflows: Record<string, number>;
  tasks: Record<string, number>;
  agents: Record<string, number>;
}

describe.concurrent('garrison as a process: inspection and admin commands on SQLite', () => {
  let seeded: Seeded;
  let store: string[];
  beforeAll(async () => {
    seeded = await seed(sqliteAdapter.freshUrl());
    store = ['--store', seeded.url];
  });

  it(
    '--help lists every command, --version prints the version, an unknown command is refused',
    async () => {
      const [help, ver, unknown] = await Promise.all([
        garrison(['--help']),
        garrison(['--version']),
        garrison(['frobnicate']),
      ]);
      expectOk(help);
      const commands = [...help.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
      expect(commands).toEqual([...COMMANDS, 'help']);
      expectOk(ver);
      expect(ver.stdout).toBe(`${version}\n`);
      expectRefused(unknown, /^garrison: unknown command 'frobnicate'$/, 'garrison [options] [command]');
    },
    TIMEOUT,
  );

  it(
    'status: the schema, the nodes (up, draining, down) and the counts of work; bad arguments refused',
    async () => {
      const [text, asJson, badUrl, badOption] = await Promise.all([
        garrison(['status', ...store]),
        garrison(['status', ...store, '--json']),
        garrison(['status', '--store', 'mysql://x']),
        garrison(['status', '--nope', ...store]),
      ]);
      expectOk(asJson);
      const status = json<StatusJson>(asJson);
      expect(status.store).toMatchObject({ dialect: 'sqlite', version: LATEST, pending: [] });
      expect(status.nodes.map((n) => [n.id, n.state])).toEqual([
        ['node-a', 'up'],
        ['node-b', 'draining'],
        ['node-c', 'down'],
      ]);
      // What each node holds that others would wait for: node-a's two agents are registered on it.
      expect(status.nodes[0]?.holds).toEqual({
        tasks: 0,
        workflowRuns: 0,
        coordinationLeases: 0,
        agents: 2,
        timerClaims: 0,
      });
      expect(status.workflows).toEqual({ completed: 1, pending: 2 });
      expect(status.tasks).toEqual({ dead: 2, queued: 2 });
      expect(status.agents).toEqual({ degraded: 1, healthy: 1 });

      expectOk(text);
      const lines = text.stdout.split('\n');
      expect(lines.slice(0, 5)).toEqual([
        expect.stringMatching(/^store: sqlite .*garrison\.db$/),
        `schema version: ${LATEST} of ${LATEST}`,
        'workflows: completed 1, pending 2',
        'tasks: dead 2, queued 2',
        'agents: degraded 1, healthy 1',
      ]);
      const nodes = tableRows(lines.slice(6).join('\n'));
      expect(nodes[0]).toEqual([
        'node',
        'state',
        'heartbeat',
        'holds',
        'health',
        'processes',
        'heap MiB',
        'started',
      ]);
      expect(nodes.slice(1).map((r) => [r[0], r[1], r[3], r[4]])).toEqual([
        ['node-a', 'up', '2 agents', 'healthy'],
        ['node-b', 'draining', 'nothing', 'degraded'],
        ['node-c', 'down', 'nothing', '-'],
      ]);

      expectRefused(badUrl, /^garrison: invalid store URL "mysql:\/\/x".*\[store_url_invalid\]$/);
      expectRefused(badOption, /^garrison: unknown option '--nope'$/, 'garrison status [options]');
    },
    TIMEOUT,
  );

  it(
    'migrate: applies every migration to a new store, then finds it up to date; an extra argument changes nothing',
    async () => {
      const url = sqliteAdapter.freshUrl();
      const refused = await garrison(['migrate', 'now', '--store', url]);
      expectRefused(refused, /^garrison: too many arguments for 'migrate'/, 'garrison migrate [options]');
      const untouched = await openStore(url, { migrate: false });
      try {
        expect((await untouched.status()).version).toBe(0);
      } finally {
        await untouched.close();
      }

      const first = await garrison(['migrate', '--store', url, '--json']);
      expectOk(first);
      const report = json<{ applied: Array<{ id: number }>; status: StatusJson['store'] }>(first);
      expect(report.applied.map((m) => m.id)).toEqual(Array.from({ length: LATEST }, (_, i) => i + 1));
      expect(report.status).toMatchObject({ version: LATEST, pending: [] });
      const again = await garrison(['migrate', '--store', url]);
      expectOk(again);
      expect(again.stdout.split('\n').slice(0, 3)).toEqual([
        'The store is up to date.',
        expect.stringMatching(/^store: sqlite /),
        `schema version: ${LATEST} of ${LATEST}`,
      ]);
    },
    TIMEOUT,
  );

  it(
    'agents: the registered agents as rows and as JSON, filtered by capability; a bad health refused',
    async () => {
      const [text, byCapability, badHealth] = await Promise.all([
        garrison(['agents', ...store]),
        garrison(['agents', '--capability', 'report', ...store, '--json']),
        garrison(['agents', '--health', 'sleepy', ...store]),
      ]);
      expectOk(text);
      expect(tableRows(text.stdout).map((r) => r.slice(0, 5))).toEqual([
        ['id', 'type', 'capabilities', 'health', 'node'],
        ['agent-p', 'demo.processor', 'process,report', 'degraded', 'node-a'],
        ['agent-v', 'demo.validator', 'validate', 'healthy', 'node-a'],
      ]);
      expectOk(byCapability);
      const agents = json<{ agents: Array<Record<string, unknown>> }>(byCapability).agents;
      expect(agents).toEqual([
        expect.objectContaining({
          id: 'agent-p',
          type: 'demo.processor',
          capabilities: ['process', 'report'],
          health: 'degraded',
          node: 'node-a',
        }),
      ]);
      expectRefused(
        badHealth,
        /^garrison: option '--health <health>' argument 'sleepy' is invalid\. must be one of healthy, degraded, unhealthy/,
        'garrison agents list [options]',
      );
    },
    TIMEOUT,
  );

  it(
    'tasks and tasks show: rows, JSON and one task with its payload; bad ids and states refused',
    async () => {
      const [text, mail, shown, badState, badId] = await Promise.all([
        garrison(['tasks', ...store]),
        garrison(['tasks', 'list', '--queue', 'mail', '--state', 'queued', ...store, '--json']),
        garrison(['tasks', 'show', String(seeded.queued.mail), ...store]),
        garrison(['tasks', '--state', 'lost', ...store]),
        garrison(['tasks', 'show', 'abc', ...store]),
      ]);
      expectOk(text);
      const { dead, queued } = seeded;
      expect(tableRows(text.stdout).map((r) => r.slice(0, 6))).toEqual([
        ['id', 'queue', 'state', 'priority', 'attempts', 'leased by'],
        [String(dead.mail), 'mail', 'dead', '0', '1/1', 'seed-worker'],
        [String(dead.reports), 'reports', 'dead', '0', '1/1', 'seed-worker'],
        [String(queued.mail), 'mail', 'queued', '5', '0/1', '-'],
        [String(queued.reports), 'reports', 'queued', '0', '0/1', '-'],
      ]);
      expectOk(mail);
      expect(json<{ tasks: unknown[] }>(mail).tasks).toEqual([
        expect.objectContaining({ id: queued.mail, queue: 'mail', state: 'queued', payload: { to: 'ada' } }),
      ]);
      expectOk(shown);
      expect(shown.stdout.trim().split('\n').slice(-1)).toEqual(['payload: {"to":"ada"}']);
      expect(tableRows(shown.stdout)[1]?.slice(0, 3)).toEqual([String(queued.mail), 'mail', 'queued']);

      expectRefused(
        badState,
        /^garrison: option '--state <states>' argument 'lost' is invalid\. must be one of queued, running/,
        'garrison tasks list [options]',
      );
      expectRefused(
        badId,
        /^garrison: command-argument value 'abc' is invalid for argument 'id'\. must be a whole number/,
        'garrison tasks show [options] <id>',
      );
    },
    TIMEOUT,
  );

  it(
    'tasks cancel: cancels a queued task; an unknown id is refused and changes nothing',
    async () => {
      const seededStore = await seed(sqliteAdapter.freshUrl());
      const before = await snapshot(seededStore.url);
      const missing = await garrison(['tasks', 'cancel', '999', '--store', seededStore.url]);
      expectRefused(missing, /^garrison: no task has id 999 \[task_not_found\]$/);
      expect(await snapshot(seededStore.url)).toEqual(before);

      const id = seededStore.queued.reports;
      const cancelled = await garrison(['tasks', 'cancel', String(id), '--store', seededStore.url, '--json']);
      expectOk(cancelled);
      expect(json(cancelled)).toEqual({ id, state: 'cancelled' });
      const task = await withStore(seededStore.url, (s) =>
        createQueueClient({ store: s, localHandoff: false }).getTask(id),
      );
      expect(task?.state).toBe('cancelled');
    },
    TIMEOUT,
  );

  it(
    'timers: rows with their schedules and JSON filtered by topic; a missing option value refused',
    async () => {
      const [text, reminder, missing] = await Promise.all([
        garrison(['timers', ...store]),
        garrison(['timers', '--topic', 'reminder', ...store, '--json']),
        garrison(['timers', ...store, '--topic']),
      ]);
      expectOk(text);
      const rows = tableRows(text.stdout);
      expect(rows.map((r) => [r[0], r[1], r[2], r[3], r[5], r[6]])).toEqual([
        ['id', 'kind', 'topic', 'schedule', 'fired', 'owner'],
        ['tm-hourly', 'cron', 'hourly', '0 * * * *', '0', '-'],
        ['tm-remind', 'once', 'reminder', '-', '0', 'agent-v'],
      ]);
      expect(rows[1]?.[4]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/); // cron: due on the hour
      expectOk(reminder);
      expect(json<{ timers: unknown[] }>(reminder).timers).toEqual([
        expect.objectContaining({ id: 'tm-remind', kind: 'once', topic: 'reminder', owner: 'agent-v' }),
      ]);
      expectRefused(
        missing,
        /^garrison: option '--topic <topic>' argument missing$/,
        'garrison timers [options]',
      );
    },
    TIMEOUT,
  );

  it(
    'dlq list: dead letters with their last error, as rows and JSON by queue; a bad limit refused',
    async () => {
      const [text, reports, badLimit] = await Promise.all([
        garrison(['dlq', ...store]),
        garrison(['dlq', 'list', '--queue', 'reports', ...store, '--json']),
        garrison(['dlq', 'list', '--limit', '0', ...store]),
      ]);
      expectOk(text);
      expect(tableRows(text.stdout).map((r) => [r[0], r[1], r[2], r[7]])).toEqual([
        ['id', 'queue', 'state', 'last error'],
        [String(seeded.dead.mail), 'mail', 'dead', 'Error: boom in mail'],
        [String(seeded.dead.reports), 'reports', 'dead', 'Error: boom in reports'],
      ]);
      expectOk(reports);
      expect(json<{ deadLetters: unknown[] }>(reports).deadLetters).toEqual([
        expect.objectContaining({
          id: seeded.dead.reports,
          state: 'dead',
          payload: { to: 'dead-reports' },
          lastError: 'Error: boom in reports',
        }),
      ]);
      expectRefused(
        badLimit,
        /^garrison: option '--limit <n>' argument '0' is invalid\. must be a whole number of at least 1/,
        'garrison dlq list [options]',
      );
    },
    TIMEOUT,
  );

  it(
    'dlq retry and purge: by ids and by queue; without a filter or with a bad id, refused and nothing changes',
    async () => {
      const s = await seed(sqliteAdapter.freshUrl());
      const before = await snapshot(s.url);
      const [noFilter, badIds] = await Promise.all([
        garrison(['dlq', 'retry', '--store', s.url]),
        garrison(['dlq', 'purge', '--ids', `${s.dead.mail},zz`, '--store', s.url]),
      ]);
      expectRefused(
        noFilter,
        /^garrison: retry needs --queue <name> or --ids <1,2,…> \(or both\)$/,
        'garrison dlq retry [options]',
      );
      expectRefused(
        badIds,
        /^garrison: option '--ids <ids>' argument '\d+,zz' is invalid\. must be a whole number of at least 1, not "zz"$/,
        'garrison dlq purge [options]',
      );
      expect(await snapshot(s.url)).toEqual(before);

      const [retried, purged] = await Promise.all([
        garrison(['dlq', 'retry', '--ids', String(s.dead.mail), '--store', s.url, '--json']),
        garrison(['dlq', 'purge', '--queue', 'reports', '--store', s.url]),
      ]);
      expectOk(retried);
      expect(json(retried)).toEqual({ retried: 1 });
      expectOk(purged);
      expect(purged.stdout).toBe('1 dead letter(s) deleted\n');
      const [mail, reports] = await withStore(s.url, (st) => {
        const queues = createQueueClient({ store: st, localHandoff: false });
        return Promise.all([queues.getTask(s.dead.mail), queues.getTask(s.dead.reports)]);
      });
      expect(mail).toMatchObject({ state: 'queued', attempts: 0 });
      expect(reports).toBeUndefined();
    },
    TIMEOUT,
  );
});

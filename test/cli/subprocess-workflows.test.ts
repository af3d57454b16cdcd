/**
 * `garrison workflows` list, show, start, cancel and signal, each run as a real process on a SQLite
 * store seeded through the library: what they print matches the store, what they change is durable,
 * and a refused argument is one `garrison:` line (with the usage when commander found it) and no write.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { sqliteAdapter } from '../support/stores.js';
import { orderInput, seed, signalsOf, snapshot, withStore, type Seeded } from './seed.js';
import { expectOk, expectRefused, garrison, json, tableRows } from './spawn.js';
import { createWorkflowEngine } from '../../src/work/workflow/index.js';

const TIMEOUT = 120_000;

interface Run {
  id: string;
  name: string;
  status: string;
  input?: unknown;
}

function readRun(url: string, id: string): Promise<Run | undefined> {
  return withStore(url, async (store) => {
    const engine = createWorkflowEngine({ store, nodeId: 'test-reader', autoExecute: false });
    try {
      return await engine.get(id);
    } finally {
      await engine.stop();
    }
  });
}

describe.concurrent('garrison workflows as a process on SQLite', () => {
  let seeded: Seeded;
  let store: string[];
  beforeAll(async () => {
    seeded = await seed(sqliteAdapter.freshUrl());
    store = ['--store', seeded.url];
  });

  it(
    'list: runs newest first as rows, JSON filtered by status and name; a bad status refused',
    async () => {
      const [text, pending, byName, badStatus] = await Promise.all([
        garrison(['workflows', ...store]),
        garrison(['workflows', 'list', '--status', 'pending', ...store, '--json']),
        garrison(['workflows', 'list', '--name', 'test.greet', ...store, '--json']),
        garrison(['workflows', 'list', '--status', 'asleep', ...store]),
      ]);
      expectOk(text);
      const rows = tableRows(text.stdout);
      expect(rows[0]).toEqual(['id', 'name', 'status', 'owner', 'created', 'finished']);
      expect(rows.slice(1).map((r) => r.slice(0, 4))).toEqual([
        ['o-2', 'demo.order', 'pending', '-'],
        ['o-1', 'demo.order', 'pending', '-'],
        ['g-1', 'test.greet', 'completed', 'seed'],
      ]);
      expectOk(pending);
      const runs = json<{ workflows: Run[] }>(pending).workflows;
      expect(runs.map((r) => [r.id, r.status, r.input])).toEqual([
        ['o-2', 'pending', { ...orderInput, n: 2 }],
        ['o-1', 'pending', orderInput],
      ]);
      expectOk(byName);
      expect(json<{ workflows: Run[] }>(byName).workflows.map((r) => r.id)).toEqual(['g-1']);
      expectRefused(
        badStatus,
        /^garrison: option '--status <status>' argument 'asleep' is invalid\. must be one of pending, running/,
        'garrison workflows list [options]',
      );
    },
    TIMEOUT,
  );

  it(
    'show: a run with its step timeline as text and JSON; an unknown id refused',
    async () => {
      const [text, asJson, unknown] = await Promise.all([
        garrison(['workflows', 'show', 'g-1', ...store]),
        garrison(['workflows', 'show', 'g-1', ...store, '--json']),
        garrison(['workflows', 'show', 'absent', ...store]),
      ]);
      expectOk(text);
      const lines = text.stdout.trim().split('\n');
      expect(lines[0]).toBe('g-1  test.greet  completed');
      expect(lines[1]).toMatch(/^created \S+Z {2}finished \S+Z {2}owner seed$/);
      expect(tableRows(lines.slice(3).join('\n'))).toEqual([
        ['#', 'step', 'kind', 'status', 'attempts'],
        ['0', 'hello', 'step', 'completed', '1'],
        ['1', 'bye', 'step', 'completed', '1'],
      ]);
      expectOk(asJson);
      const shown = json<{ workflow: Run & { output: unknown }; steps: Array<Record<string, unknown>> }>(
        asJson,
      );
      expect(shown.workflow).toMatchObject({
        id: 'g-1',
        status: 'completed',
        input: { name: 'ada' },
        output: { hello: 'hello ada', bye: 'bye ada' },
      });
      expect(shown.steps.map((s) => [s.index, s.name, s.status, s.output])).toEqual([
        [0, 'hello', 'completed', 'hello ada'],
        [1, 'bye', 'completed', 'bye ada'],
      ]);
      expectRefused(unknown, /^garrison: no workflow run has the id absent \[workflow_not_found\]$/);
    },
    TIMEOUT,
  );

  it(
    'start: a durable pending run, the same id again is not a second one; bad JSON or name refused, nothing written',
    async () => {
      const s = await seed(sqliteAdapter.freshUrl());
      const at = ['--store', s.url];
      const before = await snapshot(s.url);
      const [badJson, badName] = await Promise.all([
        garrison(['workflows', 'start', 'demo.order', '--input', '{nope', ...at]),
        garrison(['workflows', 'start', 'two words', '--input', '{}', ...at]),
      ]);
      expectRefused(
        badJson,
        /^garrison: option '--input <json>' argument '\{nope' is invalid\. not valid JSON/,
        'garrison workflows start [options] <name>',
      );
      expectRefused(badName, /^garrison: invalid workflow name "two words" \[invalid_input\]$/);
      expect(await snapshot(s.url)).toEqual(before);

      const input = JSON.stringify({ ...orderInput, n: 9 });
      const started = await garrison([
        'workflows',
        'start',
        'demo.order',
        '--input',
        input,
        '--id',
        'o-9',
        ...at,
        '--json',
      ]);
      expectOk(started);
      expect(json(started)).toEqual({ workflowId: 'o-9', created: true });
      const again = await garrison([
        'workflows',
        'start',
        'demo.order',
        '--input',
        input,
        '--id',
        'o-9',
        ...at,
      ]);
      expectOk(again);
      expect(again.stdout).toBe('o-9 already exists\n');
      expect(await readRun(s.url, 'o-9')).toMatchObject({
        name: 'demo.order',
        status: 'pending',
        input: { ...orderInput, n: 9 },
      });
      const runs = await withStore(s.url, (st) =>
        st.query<{ n: number }>("SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE id = 'o-9'"),
      );
      expect(Number(runs[0]?.n)).toBe(1);
    },
    TIMEOUT,
  );

  it(
    'cancel: a pending run ends cancelled; an unknown id refused and nothing changes',
    async () => {
      const s = await seed(sqliteAdapter.freshUrl());
      const before = await snapshot(s.url);
      const unknown = await garrison(['workflows', 'cancel', 'absent', '--store', s.url]);
      expectRefused(unknown, /^garrison: no workflow run has id absent \[workflow_not_found\]$/);
      expect(await snapshot(s.url)).toEqual(before);

      const [asJson, text] = await Promise.all([
        garrison(['workflows', 'cancel', 'o-1', '--store', s.url, '--json']),
        garrison(['workflows', 'cancel', 'o-2', '--store', s.url]),
      ]);
      expectOk(asJson);
      expect(json<{ workflow: Run }>(asJson).workflow).toMatchObject({ id: 'o-1', status: 'cancelled' });
      expectOk(text);
      expect(text.stdout).toBe('o-2: cancelled\n');
      expect((await readRun(s.url, 'o-1'))?.status).toBe('cancelled');
      expect((await readRun(s.url, 'o-2'))?.status).toBe('cancelled');
    },
    TIMEOUT,
  );

  it(
    'signal: a durable signal with its data; bad data or a missing name refused, nothing sent',
    async () => {
      const s = await seed(sqliteAdapter.freshUrl());
      const before = await snapshot(s.url);
      const [badData, noName] = await Promise.all([
        garrison(['workflows', 'signal', 'o-1', 'approve', '--data', "{by:'ops'}", '--store', s.url]),
        garrison(['workflows', 'signal', 'o-1', '--store', s.url]),
      ]);
      expectRefused(
        badData,
        /^garrison: option '--data <json>' argument .* is invalid\. not valid JSON/,
        'garrison workflows signal [options] <id> <name>',
      );
      expectRefused(
        noName,
        /^garrison: missing required argument 'name'$/,
        'garrison workflows signal [options] <id> <name>',
      );
      expect(await snapshot(s.url)).toEqual(before);

      const sent = await garrison([
        'workflows',
        'signal',
        'o-1',
        'approve',
        '--data',
        '{"by":"ops"}',
        '--store',
        s.url,
        '--json',
      ]);
      expectOk(sent);
      expect(json(sent)).toEqual({ workflowId: 'o-1', signal: 'approve', sent: true });
      expect(await signalsOf(s.url, 'o-1')).toEqual([{ name: 'approve', data: { by: 'ops' } }]);
    },
    TIMEOUT,
  );
});

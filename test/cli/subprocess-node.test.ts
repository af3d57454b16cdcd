/**
 * The long-running commands as real processes: `serve` answers HTTP and stops cleanly on SIGTERM,
 * `worker` carries pending workflows to completion and drains on SIGTERM, `bench` runs its smallest
 * module, `demo` runs a small job. Each refuses a bad argument before it opens the store.
 */
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { sqliteAdapter } from '../support/stores.js';
import { startRuns, withStore } from './seed.js';
import { expectOk, expectRefused, garrison, json, start } from './spawn.js';

const TIMEOUT = 120_000;
/**
 * The demo application: the workflows and agents these commands run (`--app`). Loaded from the sources
 * through tsx by a CLI transpiled for the test run: two copies of the package in one process, as a
 * global CLI running an app with its own copy has them.
 */
const DEMO_APP = join(import.meta.dirname, '..', '..', 'src', 'cli', 'demo', 'app.ts');

/** A fresh SQLite store URL and the file it would create. */
function freshStore(): { url: string; file: string } {
  const url = sqliteAdapter.freshUrl();
  return { url, file: url.slice('sqlite:'.length) };
}

/** Polls the store (not the clock) until `done` says so; gives up after `tries` reads. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, tries = 600): Promise<T> {
  let value = await read();
  for (let i = 0; i < tries && !done(value); i++) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

function runStatuses(url: string): Promise<Record<string, string>> {
  return withStore(url, async (store) => {
    const rows = await store.query<{ id: string; status: string }>(
      'SELECT id, status FROM garrison_workflow_runs ORDER BY id',
    );
    return Object.fromEntries(rows.map((r) => [r.id, r.status]));
  });
}

describe.concurrent('garrison node commands as processes', () => {
  it(
    'serve: answers /healthz and /v1 on the port it prints, exits 0 on SIGTERM; a bad or busy port refused',
    async () => {
      const { url } = freshStore();
      await withStore(url, (store) => startRuns(store, { greeting: true, orders: 0 }));
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const busyPort = (busy.address() as AddressInfo).port;
      try {
        const serve = start([
          'serve',
          '--store',
          url,
          '--app',
          DEMO_APP,
          '--port',
          '0',
          '--agents',
          '1',
          '--name',
          'api-node',
        ]);
        const [badPort, inUse] = await Promise.all([
          garrison(['serve', '--store', url, '--port', '70000']),
          garrison(['serve', '--store', freshStore().url, '--port', String(busyPort)]),
        ]);
        expectRefused(
          badPort,
          /^garrison: option '--port <port>' argument '70000' is invalid\. must be 0 to 65535/,
          'garrison serve [options]',
        );
        // A busy port is known only once the node has started (no app: it says so first), then refused.
        expect(inUse.code).toBe(1);
        expect(inUse.stdout).toBe('');
        expect(inUse.stderr).not.toMatch(/^\s+at /m);
        expect(inUse.stderr).toMatch(/^garrison serve: no --app given/);
        expect(inUse.stderr.trimEnd().split('\n').at(-1)).toMatch(
          new RegExp(`^garrison: .*EADDRINUSE.*${busyPort}`),
        );

        const [, base] = await serve.waitFor(/API and dashboard at (http:\/\/127\.0\.0\.1:\d+)\n/);
        expect(serve.stderr()).toContain('garrison serve: node api-node,');
        const health = await fetch(`${base}/healthz`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: 'ok' });
        const run = await fetch(`${base}/v1/workflows/g-1`);
        expect(run.status).toBe(200);
        const shown = (await run.json()) as { workflow: unknown; steps: Array<{ name: string }> };
        expect(shown.workflow).toMatchObject({
          id: 'g-1',
          name: 'test.greet',
          status: 'completed',
          output: { hello: 'hello ada', bye: 'bye ada' },
        });
        expect(shown.steps.map((s) => s.name)).toEqual(['hello', 'bye']);
        const agents = (await (await fetch(`${base}/v1/agents`)).json()) as {
          agents: Array<{ node: string }>;
        };
        expect(agents.agents.map((a) => a.node)).toEqual(['api-node', 'api-node', 'api-node']);

        serve.child.kill('SIGTERM');
        const exit = await serve.exited;
        expectOk(exit);
        expect(exit.signal).toBeNull();
        await expect(fetch(`${base}/healthz`)).rejects.toThrow();
      } finally {
        busy.close();
      }
    },
    TIMEOUT,
  );

  it(
    'worker: completes the pending workflows in the store, drains on SIGTERM and exits 0; bad options refused, no store made',
    async () => {
      const { url } = freshStore();
      await withStore(url, (store) => startRuns(store, { greeting: false, orders: 3 }));
      const worker = start([
        'worker',
        '--store',
        url,
        '--app',
        DEMO_APP,
        '--name',
        'w-test',
        '--agents',
        '1',
      ]);
      const none = freshStore();
      const [noConfig, badAgents] = await Promise.all([
        garrison(['worker', '--store', none.url, '--config', '/nonexistent/garrison.json']),
        garrison(['worker', '--store', none.url, '--agents', '0']),
      ]);
      expectRefused(
        noConfig,
        /^garrison: cannot read the configuration file \/nonexistent\/garrison\.json \[invalid_input\]$/,
      );
      expectRefused(
        badAgents,
        /^garrison: option '--agents <n>' argument '0' is invalid/,
        'garrison worker [options]',
      );
      expect(existsSync(none.file)).toBe(false);

      await worker.waitFor(/garrison worker w-test running on sqlite; SIGTERM drains and stops\n/);
      const statuses = await until(
        () => runStatuses(url),
        (s) => Object.values(s).every((status) => status === 'completed'),
      );
      expect(statuses).toEqual({ 'o-1': 'completed', 'o-2': 'completed', 'o-3': 'completed' });
      worker.child.kill('SIGTERM');
      const exit = await worker.exited;
      expectOk(exit);
      expect(exit.stderr).toContain('garrison worker w-test: SIGTERM, draining');
      const node = await withStore(url, (store) =>
        store.query<{ state: string }>("SELECT state FROM garrison_nodes WHERE id = 'w-test'"),
      );
      expect(node).toEqual([{ state: 'down' }]);
    },
    TIMEOUT,
  );

  it(
    'bench --only runtime: prints each figure and the JSON of all last; an unknown module refused',
    async () => {
      const env = { DATABASE_URL: inject('databaseUrl') };
      const [bench, unknown] = await Promise.all([
        garrison(['bench', '--only', 'runtime'], { env }),
        garrison(['bench', '--only', 'runtime,warp'], { env }),
      ]);
      expectOk(bench);
      const figures = json<Record<string, Record<string, number>>>(bench);
      expect(Object.keys(figures)).toEqual(['runtime']);
      expect(figures.runtime).toMatchObject({ idleProcesses: 100_000, gcExposed: 1 });
      for (const key of ['bytesPerIdleProcess', 'callsPerSec', 'castsPerSec'])
        expect(figures.runtime?.[key]).toBeGreaterThan(0);
      expect(bench.stdout).toMatch(/^runtime\.callsPerSec: \d+/m);
      expectRefused(
        unknown,
        /^garrison: option '--only <names>' argument 'runtime,warp' is invalid\. no benchmark is named warp \(known: .*runtime.*\)$/,
        'garrison bench [options]',
      );
    },
    TIMEOUT,
  );

  it(
    'demo --workflows 4 --json: every workflow completes, each step once; bad options refused, no store made',
    async () => {
      const { url } = freshStore();
      const none = freshStore();
      const [demo, zero, crash] = await Promise.all([
        garrison(['demo', '--store', url, '--workflows', '4', '--agents', '1', '--json']),
        garrison(['demo', '--store', none.url, '--workflows', '0']),
        garrison(['demo', '--store', none.url, '--crash-at', '150%']),
      ]);
      expectOk(demo);
      const summary = json<{
        workflows: Record<string, number>;
        steps: Record<string, number>;
        fanOut: Record<string, number>;
        rateLimiter: Record<string, unknown>;
        agents: number;
        tasksPerAgent: Record<string, number>;
      }>(demo);
      expect(summary.workflows).toEqual({ total: 4, completed: 4, failed: 0, cancelled: 0, unfinished: 0 });
      expect(summary.steps).toEqual({ completed: 12, effects: 12, repeats: 0 });
      // Each order fanned its confirmation out to the one validator and gathered the answer.
      expect(summary.fanOut).toEqual({ steps: 4, answered: 4, failed: 0 });
      expect(summary.rateLimiter).toMatchObject({ name: 'demo.payments' });
      expect(summary.agents).toBe(3);
      // One validator, one processor, one reporter: each took its four effects.
      expect(Object.values(summary.tasksPerAgent)).toEqual([4, 4, 4]);
      expectRefused(
        zero,
        /^garrison: option '--workflows <n>' argument '0' is invalid\. must be a whole number of at least 1/,
        'garrison demo [options]',
      );
      expectRefused(
        crash,
        /^garrison: option '--crash-at <percent>' argument '150%' is invalid\. must be a percentage from 1% to 99%/,
        'garrison demo [options]',
      );
      expect(existsSync(none.file)).toBe(false);
    },
    TIMEOUT,
  );
});

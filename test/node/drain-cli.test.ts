/**
 * `garrison worker` itself (the real command in a child process, as users run it): SIGTERM drains the
 * node through the node runner, the process ends by itself with 0, and the store shows nothing held by
 * the node — its agents' registry entries included.
 */
import Database from 'better-sqlite3';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heldByNode, listNodes, type NodeHoldings } from '../../src/node/index.js';
import { openStore } from '../../src/store/index.js';
import { repositoryRoot as root, scratchFolder, spawnGarrison } from '../support/child.js';
import { adapters } from '../support/stores.js';

const EMPTY: NodeHoldings = {
  tasks: [],
  workflowRuns: [],
  coordinationLeases: [],
  agents: [],
  timerClaims: [],
};

function startWorker(url: string, config: string) {
  const worker = spawnGarrison(['worker', '--store', url, '--name', 'w1', '--config', config], {
    killAfterMs: 120_000,
  });
  return {
    child: worker.process,
    exited: worker.exited.then(({ code, signal }) => ({ code, signal })),
    stderr: () => worker.stderr(),
    /** Resolves once stderr contains `text`; rejects, showing its stderr, if the worker exits first. */
    printed: (text: string) => worker.waitFor(text, 'stderr').then(() => undefined),
    reap: () => worker.signal('SIGKILL'),
  };
}

/**
 * Holds the write lock a starting worker needs (SQLite) or the nodes table it registers in (PostgreSQL),
 * so that it cannot get past start-up; `blocked` resolves once the worker is stuck behind it — by then
 * it has long been watching for stop signals, which it does before it loads the rest of the CLI.
 */
async function holdStartup(url: string) {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const db = new Database(file);
    db.exec('BEGIN IMMEDIATE');
    return {
      async blocked(pid: number) {
        await until(() =>
          readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkOr(`/proc/${pid}/fd/${fd}`) === file),
        );
      },
      release() {
        if (db.open) {
          db.exec('COMMIT');
          db.close();
        }
        return Promise.resolve();
      },
    };
  }
  const schema = new URL(url).searchParams.get('schema')!;
  const client = new pg.Client({ connectionString: url.replace(/\?.*$/, '') });
  await client.connect();
  const table = `"${schema}".garrison_nodes`;
  await client.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  let released = false;
  return {
    async blocked() {
      await until(async () => {
        const r = await client.query(`SELECT 1 FROM pg_locks WHERE relation = $1::regclass AND NOT granted`, [
          table,
        ]);
        return r.rowCount !== 0;
      });
    },
    async release() {
      if (released) return;
      released = true;
      await client.query('COMMIT');
      await client.end();
    },
  };
}

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined; // the descriptor was closed meanwhile
  }
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

function configFile(): string {
  const config = join(scratchFolder('garrison-drain-cli-'), 'node.json');
  writeFileSync(
    config,
    JSON.stringify({ drainTimeoutMs: 5000, app: join(root, 'src', 'cli', 'demo', 'app.ts') }),
  );
  return config;
}

describe.each(adapters)('garrison worker drains on SIGTERM on $name', (adapter) => {
  it('SIGTERM drains the worker: it exits 0 by itself and leaves nothing held in the store', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    const worker = startWorker(url, configFile());
    try {
      await worker.printed('SIGTERM drains and stops');
      const running = await heldByNode(store, 'w1', Date.now());
      // The demo app's team (the configuration file's `app`): 2 agents of each of its 3 types, on this node.
      expect(running.agents).toHaveLength(6);

      worker.child.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      const stderr = worker.stderr();
      expect(stderr).toMatch(/w1: SIGTERM, draining \(claims nothing new; work in hand has 5000 ms\)/);
      expect(stderr).toMatch(/w1: drained, all work in hand finished/);
      expect(await heldByNode(store, 'w1', Date.now())).toEqual(EMPTY);
      const nodes = await listNodes(store, Date.now(), { heartbeatMs: 2000, downAfterMs: 15_000 });
      expect(nodes.find((n) => n.id === 'w1')?.state).toBe('down');
    } finally {
      worker.reap();
      await store.close();
    }
  }, 180_000);

  it('a SIGTERM while the worker is still starting does not kill it: it starts, drains and exits 0', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    const hold = await holdStartup(url);
    const worker = startWorker(url, configFile());
    try {
      await hold.blocked(worker.child.pid!);
      worker.child.kill('SIGTERM');
      // The signal was sent before the worker could report ready.
      expect(worker.stderr()).not.toMatch(/SIGTERM drains and stops/);
      await hold.release();
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      const stderr = worker.stderr();
      expect(stderr).toMatch(/w1: SIGTERM( during start-up)?, draining/);
      expect(stderr).toMatch(/w1: drained, all work in hand finished/);
      expect(await heldByNode(store, 'w1', Date.now())).toEqual(EMPTY);
    } finally {
      await hold.release();
      worker.reap();
      await store.close();
    }
  }, 180_000);
});

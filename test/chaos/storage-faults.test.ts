/**
 * Storage faults under a running queue: SQLite's write lock held by another process (SQLITE_BUSY), the
 * disk filling up, the database file turning read-only between two lives of a node, and PostgreSQL
 * connections terminated by the server every second or so. In each: no acknowledged work is lost, every
 * error a caller or the worker sees is a typed `GarrisonError` (never a raw driver error) — retryable
 * where the fault is passing — and the work carries on by itself once the fault ends.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, type Worker } from '../../src/work/index.js';
import { repositoryRoot } from '../support/child.js';
import { postgresAdapter, uniqueName } from '../support/stores.js';
import { expectClean, History } from './history.js';
import { drained, holdCompleted, judgeErrors, Producer, queue, startWorker } from './queue-faults.js';
import {
  between,
  Children,
  eventually,
  exited,
  kill9,
  LedgerReader,
  removeBundles,
  scaled,
  Scratch,
  sleep,
  terminate,
} from './support.js';

/** The other process of the SQLITE_BUSY fault: it takes SQLite's write lock and holds it until killed. */
const HOLD_WRITE_LOCK = join(repositoryRoot, 'test', 'support', 'fixtures', 'hold-write-lock.ts');

/** A uid and gid without privileges, for a process that must not be able to write what root could. */
function unprivileged(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * A place whose disk can be filled: a 16 MB tmpfs filled with a ballast file where this process may
 * mount one, otherwise SQLite's own limit on the database size (`PRAGMA max_page_count`) on the store's
 * writing connection.
 */
interface FullDisk {
  readonly mechanism: string;
  readonly folder: string;
  fill(store: Store): Promise<void>;
  free(store: Store): Promise<void>;
  dispose(): void;
}

function fullDisk(scratch: Scratch): FullDisk {
  const folder = scratch.folder('garrison-chaos-disk-');
  const ballast = join(folder, 'ballast');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', folder], { stdio: 'ignore' });
  } catch {
    const limit = async (store: Store, pages: number) => store.execute(`PRAGMA max_page_count = ${pages}`);
    return {
      mechanism: 'PRAGMA max_page_count',
      folder,
      async fill(store) {
        const rows = await store.transaction((tx) => tx.query<{ page_count: number }>('PRAGMA page_count'));
        await limit(store, Number(rows[0]?.page_count ?? 1));
      },
      async free(store) {
        await limit(store, 1_073_741_823);
      },
      dispose: () => undefined,
    };
  }
  return {
    mechanism: 'a full 16 MB tmpfs',
    folder,
    async fill() {
      const chunk = Buffer.alloc(64 * 1024, 1);
      mkdirSync(folder, { recursive: true });
      try {
        for (let i = 0; ; i++) writeFileSync(ballast, chunk, { flag: i === 0 ? 'w' : 'a' });
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOSPC') throw error;
      }
    },
    async free() {
      rmSync(ballast, { force: true });
    },
    dispose: () => execFileSync('umount', [folder]),
  };
}

describe('storage faults', () => {
  const children = new Children();
  const scratch = new Scratch();
  const stores: Store[] = [];
  const workers: Worker[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    await children.killAll();
    for (const w of workers.splice(0)) await w.stop({ timeoutMs: 0 });
    for (const s of stores.splice(0)) await s.close();
    for (const c of cleanups.splice(0)) c();
    scratch.cleanup();
  });
  afterAll(removeBundles);

  it(
    'SQLite: another process holds the write lock again and again: enqueues are refused with store_busy (retryable), nothing acknowledged is lost, and the queue drains once the lock is free',
    { timeout: 120_000 },
    async () => {
      const folder = scratch.folder();
      const path = join(folder, 'g.db');
      const store = await openStore(`sqlite:${path}?busy_timeout=50`);
      stores.push(store);
      const client = createQueueClient({ store, queues: [queue] });
      const history = new History('SQLITE_BUSY from another process (sqlite)');
      const errors: unknown[] = [];
      const worker = startWorker(store, history, errors);
      workers.push(worker);
      await worker.start();
      const producer = new Producer(client, history, errors);
      producer.start();
      for (let i = 0; i < scaled(3); i++) {
        await sleep(between(200, 400));
        const holder = await children.spawn(HOLD_WRITE_LOCK, [path]);
        await holder.line('locked', { timeoutMs: 20_000 });
        history.fault('write lock held by another process');
        await sleep(between(400, 700));
        await holder.kill();
      }
      await sleep(300);
      await producer.stop();
      await eventually(() => drained(client), 'the queue drains', 60_000);
      await worker.stop();
      await holdCompleted(store, history);
      judgeErrors(history, errors, ['store_busy'], true);
      history.figure('enqueues refused', producer.refused);
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(producer.refused).toBeGreaterThan(0);
      expect(report.items).toBeGreaterThan(0);
    },
  );

  it(
    'SQLite: the disk fills up and is freed again: enqueues are refused with store_full (retryable), nothing acknowledged is lost, and the queue drains once there is room',
    { timeout: 120_000 },
    async () => {
      const disk = fullDisk(scratch);
      const store = await openStore(`sqlite:${join(disk.folder, 'g.db')}`);
      cleanups.push(() => disk.dispose());
      stores.push(store);
      const client = createQueueClient({ store, queues: [queue] });
      const history = new History(`disk full (sqlite, ${disk.mechanism})`);
      const errors: unknown[] = [];
      const worker = startWorker(store, history, errors);
      workers.push(worker);
      await worker.start();
      const producer = new Producer(client, history, errors);
      producer.start();
      for (let i = 0; i < scaled(2); i++) {
        await sleep(between(300, 500));
        const before = producer.refused;
        await disk.fill(store);
        history.fault('disk full');
        await eventually(() => producer.refused > before, 'an enqueue is refused', 20_000);
        await sleep(between(300, 500));
        await disk.free(store);
      }
      await sleep(300);
      await producer.stop();
      await eventually(() => drained(client), 'the queue drains', 60_000);
      await worker.stop();
      await holdCompleted(store, history);
      judgeErrors(history, errors, ['store_full'], true);
      history.figure('enqueues refused', producer.refused);
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(report.items).toBeGreaterThan(0);
      // The store is closed before the tmpfs goes.
      await store.close();
    },
  );

  it(
    'SQLite: the database file turns read-only between two lives of a node: the node refuses to start with store_read_only, nothing acknowledged is lost, and it finishes the work once the file is writable',
    { timeout: 120_000 },
    async () => {
      const folder = scratch.folder();
      chmodSync(folder, 0o777);
      const path = join(folder, 'g.db');
      const url = `sqlite:${path}`;
      const history = new History('read-only database file (sqlite)');
      const tasks = scaled(2000);
      const keyOf = new Map<number, string>();
      {
        const store = await openStore(url);
        const client = createQueueClient({ store, queues: [queue] });
        const keys = Array.from({ length: tasks }, (_, i) => `task-${i}`);
        for (const key of keys) history.ask(key);
        const enqueued = await client.enqueueMany(
          keys.map((key) => ({ queue, payload: { key }, idempotencyKey: key })),
        );
        enqueued.forEach((t, i) => {
          keyOf.set(t.id, keys[i]!);
          history.acknowledge(keys[i]!);
        });
        await store.close();
      }
      const writable = (mode: number) => {
        for (const name of readdirSync(folder))
          if (name.startsWith('g.db')) chmodSync(join(folder, name), mode);
      };
      writable(0o666);
      const ledger = new LedgerReader(join(folder, 'ledger.jsonl'));
      writeFileSync(ledger.path, '');
      chmodSync(ledger.path, 0o666);
      const node = () =>
        children.start('queue-consumer', [url, ledger.path, queue.name, 2000, 4, 5, 0], {}, unprivileged());

      const first = await node();
      await eventually(() => ledger.count('d') >= tasks / 4, 'a quarter of the tasks complete', 60_000);
      await kill9(first);
      history.fault('sigkill');
      writable(0o444);
      history.fault('database file read-only');
      const refused: ChildProcess = await node();
      await exited(refused);
      writable(0o666);
      const last = await node();
      await eventually(() => ledger.count('ready', last.pid) > 0, 'the node starts', 30_000);
      const store = await openStore(url);
      stores.push(store);
      const client = createQueueClient({ store, queues: [queue] });
      await eventually(() => drained(client), 'the queue drains', 60_000);
      expect(await terminate(last)).toBe(0);

      await holdCompleted(store, history);
      const lines = ledger.all();
      for (const line of lines)
        if (line.e === 'd')
          history.observe(keyOf.get(line.id as number) ?? `unknown task ${String(line.id)}`);
      const failures = lines.filter((l) => l.e === 'open-failed');
      history.figure('refusal', failures.map((f) => `${String(f.name)} ${String(f.code)}`).join(', '));
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(refused.exitCode).toBe(1);
      expect(failures).toEqual([
        expect.objectContaining({ pid: refused.pid, name: 'StoreError', code: 'store_read_only' }),
      ]);
    },
  );

  it(
    'PostgreSQL: the server terminates the store connections every second or so: every error is typed and retryable, nothing acknowledged is lost, and the queue drains once it stops',
    { timeout: 120_000 },
    async () => {
      const application = uniqueName('chaos');
      const url = new URL(postgresAdapter.freshUrl());
      url.searchParams.set('application_name', application);
      const errors: unknown[] = [];
      const store = await openStore(url.toString(), { onBackgroundError: (error) => errors.push(error) });
      stores.push(store);
      const client = createQueueClient({ store, queues: [queue] });
      const history = new History('pg_terminate_backend every ~1 s (postgres)');
      const worker = startWorker(store, history, errors);
      workers.push(worker);
      await worker.start();
      const producer = new Producer(client, history, errors);
      producer.start();
      const admin = new pg.Client({ connectionString: inject('databaseUrl') });
      await admin.connect();
      cleanups.push(() => void admin.end());
      let terminated = 0;
      for (let i = 0; i < scaled(6); i++) {
        await sleep(between(700, 1300));
        const rows = await admin.query<{ ok: boolean }>(
          'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
          [application],
        );
        terminated += rows.rows.filter((r) => r.ok).length;
        history.fault('connections terminated');
      }
      await sleep(500);
      await producer.stop();
      await eventually(() => drained(client), 'the queue drains', 60_000);
      await worker.stop();
      await holdCompleted(store, history);
      judgeErrors(history, errors, ['store_unreachable'], true);
      history.figure('connections terminated', terminated);
      history.figure('enqueues refused', producer.refused);
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(terminated).toBeGreaterThan(0);
    },
  );
});

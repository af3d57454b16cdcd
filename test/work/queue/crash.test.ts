/**
 * Real processes, real signals. Worker processes are killed with SIGKILL in the middle of their work
 * and restarted; a worker is paused with SIGSTOP past its lease. Every claim is recorded with its fencing
 * token in a ledger, and the ledger and the store are checked afterwards.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { createQueueClient, defineQueue } from '../../../src/work/index.js';
import { repositoryRoot, scratchFolder, spawnScript, type Child } from '../../support/child.js';
import { adapters } from '../../support/stores.js';
import { eventually } from './support.js';

interface Entry {
  readonly e: 'ready' | 'start' | 'end' | 'done' | 'leaseLost' | 'error';
  readonly pid: number;
  readonly t: number;
  readonly id?: number;
  readonly token?: number;
  readonly message?: string;
}

function readLedger(path: string): Entry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Entry);
}

function spawnWorker(
  url: string,
  ledger: string,
  queue: string,
  leaseMs: number,
  concurrency: number,
  mode: string,
): Child {
  const script = join(repositoryRoot, 'test', 'work', 'queue', 'fixtures', 'worker-process.ts');
  return spawnScript(script, [url, ledger, queue, leaseMs, concurrency, mode], { echo: 'worker' });
}

/**
 * A worker started ahead of time: it loads and waits, and opens the store and claims only when released.
 * On a busy machine a start takes seconds while the other workers keep working; the test pays it before
 * the work begins, so the kills keep pace with the work however slow start-up is.
 */
interface GatedWorker {
  readonly child: Child;
  readonly loaded: Promise<unknown>;
  release(): void;
}

function spawnGated(
  url: string,
  ledger: string,
  queue: string,
  leaseMs: number,
  concurrency: number,
): GatedWorker {
  const script = join(repositoryRoot, 'test', 'work', 'queue', 'fixtures', 'worker-process.ts');
  const args = [url, ledger, queue, leaseMs, concurrency, 'work', 'gated'];
  const child = spawnScript(script, args, { echo: 'worker', stdin: true });
  return { child, loaded: child.line('loaded'), release: () => child.process.stdin!.write('go\n') };
}

describe.each(adapters)('task queue crash tests ($name)', (adapter) => {
  const stores: Store[] = [];
  /** A temporary folder for a ledger, removed after the test once its workers are reaped. */
  const ledgerFile = (prefix: string): string => join(scratchFolder(prefix), 'ledger.jsonl');
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  it(
    'workers killed with SIGKILL mid-work and restarted: every task completes, no two live leases overlap',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      const queue = defineQueue({ name: 'crash', keepCompleted: true });
      const client = createQueueClient({ store, queues: [queue] });
      const total = 300;
      await client.enqueueMany(Array.from({ length: total }, (_, i) => ({ queue, payload: { i } })));
      const ledger = ledgerFile('garrison-crash-');
      const leaseMs = 3000;
      const start = () => spawnGated(url, ledger, 'crash', leaseMs, 2);
      // Two steady workers and a victim killed again and again (a new process each life), all loaded
      // before any begins.
      const steady = [start(), start()];
      const victims = Array.from({ length: 5 }, start);
      await Promise.all([...steady, ...victims].map((w) => w.loaded));
      for (const w of steady) w.release();
      const killedAt = new Map<number, number>();
      const completedCount = async () => (await client.stats('crash')).completed;

      for (const gated of victims) {
        gated.release();
        const victim = gated.child;
        const pid = victim.pid;
        await victim.line('ready');
        const startsBefore = () => readLedger(ledger).filter((e) => e.e === 'start' && e.pid === pid).length;
        const wanted = 1 + Math.floor(Math.random() * 4);
        await eventually(
          async () => startsBefore() >= wanted || (await completedCount()) >= total,
          `worker ${pid} starts ${wanted} tasks`,
          6000,
        );
        if ((await completedCount()) >= total) break;
        await victim.kill();
        killedAt.set(pid, Date.now());
      }
      await eventually(async () => (await completedCount()) === total, 'every task completes', 12_000);

      const entries = readLedger(ledger);
      const tasks = await client.listTasks({ queue: 'crash', limit: 10_000 });
      expect(tasks).toHaveLength(total);
      expect(tasks.every((t) => t.state === 'completed')).toBe(true);
      expect(killedAt.size).toBeGreaterThanOrEqual(3);

      for (const task of tasks) {
        const starts = entries.filter((e) => e.e === 'start' && e.id === task.id);
        const tokens = starts.map((s) => s.token!);
        // Every claim got a token of its own; the one that completed holds the highest.
        expect(new Set(tokens).size).toBe(tokens.length);
        expect(Math.max(...tokens)).toBe(task.token);
        for (const d of entries.filter((e) => e.e === 'done' && e.id === task.id))
          expect(d.token).toBe(task.token);
        // No two processes ran the task while both held a live lease: a later run starts only after the
        // earlier one ended or its process was killed.
        const runs = starts
          .map((s) => {
            const end = entries.find((e) => e.e === 'end' && e.id === task.id && e.token === s.token);
            return { pid: s.pid, from: s.t, to: end?.t ?? killedAt.get(s.pid) ?? Infinity };
          })
          .sort((a, b) => a.from - b.from);
        for (let i = 1; i < runs.length; i++) expect(runs[i]!.from).toBeGreaterThanOrEqual(runs[i - 1]!.to);
      }
      // Tasks held by killed workers were taken over and ran again; nothing was lost.
      const rerun = tasks.filter((t) => entries.filter((e) => e.e === 'start' && e.id === t.id).length > 1);
      expect(rerun.length).toBeGreaterThanOrEqual(1);
      expect(entries.filter((e) => e.e === 'error')).toEqual([]);
    },
  );

  it(
    'a worker paused with SIGSTOP past its lease: another takes over, and the resumed worker cannot complete',
    { timeout: 120_000 },
    async () => {
      const url = adapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      const queue = defineQueue({ name: 'paused', keepCompleted: true });
      const client = createQueueClient({ store, queues: [queue] });
      const { id } = await client.enqueue(queue, { job: 1 });
      const ledger = ledgerFile('garrison-stop-');
      const child = spawnWorker(url, ledger, 'paused', 1000, 1, 'hold');
      // Start-up first (seconds on a busy machine), then the wait for the claim.
      await child.line('ready');
      await eventually(
        () => readLedger(ledger).some((e) => e.e === 'start' && e.id === id),
        'the worker starts the task',
        3000,
      );

      child.signal('SIGSTOP');
      // Past the paused worker's lease, a claim here takes the task over and completes it.
      let taken: Awaited<ReturnType<typeof client.claim>> = [];
      await eventually(
        async () => {
          taken = await client.claim(queue, { workerId: 'rescuer' });
          return taken.length === 1;
        },
        'the lease expires and the task is taken over',
        3000,
      );
      expect(taken[0]!.token).toBe(2);
      await client.complete(taken[0]!);

      writeFileSync(`${ledger}.release`, '');
      child.signal('SIGCONT');
      await eventually(
        () => readLedger(ledger).some((e) => e.e === 'leaseLost' && e.id === id),
        'the resumed worker learns its lease was lost',
        3000,
      );

      const entries = readLedger(ledger);
      expect(entries.filter((e) => e.e === 'done')).toEqual([]);
      expect(await client.getTask(id)).toMatchObject({ state: 'completed', token: 2, leasedBy: 'rescuer' });
      expect((await client.stats('paused')).leaseLost).toBe(1);
    },
  );
});

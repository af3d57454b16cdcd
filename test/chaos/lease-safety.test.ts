/**
 * Lease safety on PostgreSQL: six worker processes on one queue, killed with SIGKILL (and restarted) or
 * paused with SIGSTOP past their lease and resumed with SIGCONT, at random. The store itself is the
 * witness of every claim: a trigger records each change of a task's fencing token with the lease it
 * replaced, so a claim that took a lease still valid at the claimer's own clock is caught exactly.
 * Every claim a worker ran is one the store recorded, no token is held twice, a late completion (the
 * token moved on while the handler ran) is rejected with `lease_lost` and counted in the store, and every
 * task is completed once, by the holder of its last token.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, createWorker, defineQueue } from '../../src/work/index.js';
import { adapters, postgresAdapter } from '../support/stores.js';
import { expectClean, History } from './history.js';
import {
  allReady,
  between,
  Children,
  eventually,
  kill9,
  LedgerReader,
  removeBundles,
  scaled,
  Scratch,
  sleep,
  terminate,
} from './support.js';

const WORKERS = 6;
const TASKS = scaled(50_000);
const LEASE_MS = 1000;
/** Kills and pauses each, at least. */
const MIN_EACH = scaled(8);

/** Every change of a task's token (a claim), with the lease it replaced. */
const CLAIM_WITNESS = [
  `CREATE TABLE chaos_claims (task_id BIGINT NOT NULL, old_token INTEGER NOT NULL, new_token INTEGER NOT NULL,
     old_state TEXT NOT NULL, old_lease BIGINT, new_state TEXT NOT NULL, new_lease BIGINT, leased_by TEXT)`,
  `CREATE FUNCTION chaos_claim() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN
     INSERT INTO chaos_claims VALUES (OLD.id, OLD.token, NEW.token, OLD.state, OLD.lease_until, NEW.state,
       NEW.lease_until, NEW.leased_by);
     RETURN NULL; END $body$`,
  `CREATE TRIGGER chaos_claim AFTER UPDATE ON garrison_tasks FOR EACH ROW
     WHEN (OLD.token IS DISTINCT FROM NEW.token) EXECUTE FUNCTION chaos_claim()`,
];

describe('lease safety under SIGKILL and SIGSTOP (PostgreSQL)', () => {
  const children = new Children();
  const scratch = new Scratch();
  const stores: Store[] = [];
  afterEach(async () => {
    await children.killAll();
    for (const s of stores.splice(0)) await s.close();
    scratch.cleanup();
  });
  afterAll(removeBundles);

  it(
    `${WORKERS} workers, ${LEASE_MS} ms leases, random SIGKILL and SIGSTOP past the lease: no claim of a valid lease, no token held twice, every late completion rejected and counted`,
    { timeout: 300_000 },
    async () => {
      const url = postgresAdapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      for (const sql of CLAIM_WITNESS) await store.execute(sql);
      const queue = defineQueue({ name: 'leases', keepCompleted: true, maxAttempts: 1000 });
      const client = createQueueClient({ store, queues: [queue] });
      const history = new History(`lease safety (postgres, ${WORKERS} workers, ${LEASE_MS} ms lease)`);
      const keyOf = new Map<number, string>();
      for (let from = 0; from < TASKS; from += 5000) {
        const keys = Array.from({ length: Math.min(5000, TASKS - from) }, (_, i) => `task-${from + i}`);
        for (const key of keys) history.ask(key);
        const tasks = await client.enqueueMany(keys.map((key) => ({ queue, payload: { key } })));
        tasks.forEach((t, i) => {
          keyOf.set(t.id, keys[i]!);
          history.acknowledge(keys[i]!);
        });
      }

      const path = join(scratch.folder(), 'ledger.jsonl');
      const ledger = new LedgerReader(path);
      const start = () => children.start('queue-consumer', [url, path, queue.name, LEASE_MS, 16, 0, 1]);
      const workers: ChildProcess[] = [];
      for (let i = 0; i < WORKERS; i++) workers.push(await start());
      const remaining = async () => {
        const stats = await client.stats(queue.name);
        return stats.queued + stats.running;
      };

      // Faults while work is left, until three quarters are done and each kind struck often enough: a
      // kill (and a restart) or a pause past the lease.
      const paused = new Set<number>();
      const resumes: Array<Promise<void>> = [];
      const struck = { kill: 0, pause: 0 };
      const began = Date.now();
      for (;;) {
        const left = await remaining();
        if (left === 0 || (left <= TASKS / 4 && Math.min(struck.kill, struck.pause) >= MIN_EACH)) break;
        await sleep(between(300, 700));
        const candidates = workers.map((_, i) => i).filter((i) => !paused.has(i));
        const i = candidates[between(0, candidates.length - 1)]!;
        const kill =
          struck.kill >= MIN_EACH ? Math.random() < 0.3 : struck.pause >= MIN_EACH || Math.random() < 0.5;
        if (kill) {
          await kill9(workers[i]!);
          history.fault('sigkill');
          struck.kill++;
          workers[i] = await start();
        } else {
          const child = workers[i]!;
          child.kill('SIGSTOP');
          history.fault('sigstop past the lease');
          struck.pause++;
          paused.add(i);
          resumes.push(
            sleep(between(LEASE_MS * 1.5, LEASE_MS * 2.5)).then(() => {
              child.kill('SIGCONT');
              paused.delete(i);
            }),
          );
        }
      }
      await Promise.all(resumes);
      await eventually(async () => (await remaining()) === 0, 'every task completes', 120_000);
      history.figure('run', `${((Date.now() - began) / 1000).toFixed(1)} s`);
      await allReady(ledger, workers);
      for (const w of workers) expect(await terminate(w)).toBe(0);

      // The store's record of every claim.
      const claims = await store.query<{
        task_id: string | number;
        old_token: number;
        new_token: number;
        old_state: string;
        old_lease: string | number | null;
        new_state: string;
        new_lease: string | number | null;
      }>('SELECT * FROM chaos_claims');
      const claimed = new Set<string>();
      history.watch('claim of a valid lease');
      for (const c of claims) {
        const id = Number(c.task_id);
        claimed.add(`${id}:${c.new_token}`);
        if (c.new_state !== 'running' || c.new_lease === null) continue;
        const claimNow = Number(c.new_lease) - LEASE_MS;
        if (c.old_state === 'running' && c.old_lease !== null && Number(c.old_lease) >= claimNow)
          history.violation(
            'claim of a valid lease',
            `task ${id} token ${c.new_token}: lease until ${c.old_lease}, claimed at ${claimNow}`,
          );
      }

      const tasks = await client.listTasks({ queue: queue.name, limit: 10_000 });
      const all = [...tasks];
      while (all.length < TASKS) {
        const page = await client.listTasks({ queue: queue.name, limit: 10_000, afterId: all.at(-1)!.id });
        if (page.length === 0) break;
        all.push(...page);
      }
      const finalToken = new Map<number, number>();
      for (const t of all) {
        finalToken.set(t.id, t.token);
        if (t.state === 'completed') history.hold(keyOf.get(t.id) ?? `unknown task ${t.id}`);
      }

      // The workers' record: claims run, handler ends, acknowledged completions, lost leases.
      const lines = ledger.all();
      const runBy = new Map<string, number>();
      const ended = new Map<string, number>();
      const lostReported = new Set<string>();
      const killedAt = new Map<number, number>();
      history.watch('token held twice');
      history.watch('claim not in the store');
      history.watch('completion with a stale token');
      history.watch('late completion not rejected');
      for (const line of lines) {
        const run = `${String(line.id)}:${String(line.k)}`;
        if (line.e === 's') {
          if (runBy.has(run)) history.violation('token held twice', run);
          runBy.set(run, line.pid);
          if (!claimed.has(run)) history.violation('claim not in the store', run);
        } else if (line.e === 'x') ended.set(run, line.pid);
        else if (line.e === 'l') lostReported.add(run);
        else if (line.e === 'd') {
          const id = line.id as number;
          history.observe(keyOf.get(id) ?? `unknown task ${id}`);
          if (line.k !== finalToken.get(id)) history.violation('completion with a stale token', run);
        }
      }
      // A process gone without a graceful stop could not report what it held.
      for (const w of children.started()) if (w.signalCode === 'SIGKILL') killedAt.set(w.pid!, 1);
      let late = 0;
      for (const [run, pid] of ended) {
        const [id, token] = run.split(':').map(Number);
        if (token! >= finalToken.get(id!)!) continue;
        late++;
        if (!lostReported.has(run) && !killedAt.has(pid))
          history.violation('late completion not rejected', run);
      }
      const counted = (await client.stats(queue.name)).leaseLost;
      history.figure('claims', claims.length);
      history.figure('late completions', late);
      history.figure('lease_lost reported', lostReported.size);
      history.figure('lease_lost counted in the store', counted);
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(report.items).toBe(TASKS);
      expect(report.faultsByKind['sigstop past the lease']).toBeGreaterThanOrEqual(MIN_EACH);
      expect(report.faultsByKind.sigkill).toBeGreaterThanOrEqual(MIN_EACH);
      expect(late).toBeGreaterThan(0);
      expect(counted).toBeGreaterThanOrEqual(lostReported.size);
    },
  );
});

describe.each(adapters)('a worker that takes its own expired lease over ($name)', (adapter) => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  it('reports the older claim as lost and counts it, never as completed, even when both finish in one batch of completions', async () => {
    const real = await adapter.open();
    stores.push(real);
    // The completion batch of another task is held up while both claims of the task finish, so that
    // both fall into the next batch together.
    let slow = false;
    const held = <T>(run: () => Promise<T>): Promise<T> => {
      if (!slow) return run();
      slow = false;
      return sleep(300).then(run);
    };
    const store: Store = {
      ...real,
      dialect: real.dialect,
      capabilities: real.capabilities,
      query: (sql, params) => real.query(sql, params),
      execute: (sql, params) => real.execute(sql, params),
      transaction: (fn, options) => held(() => real.transaction(fn, options)),
      write: (fn) => held(() => real.write(fn)),
      migrate: () => real.migrate(),
      status: () => real.status(),
      notify: (channel, payload) => real.notify(channel, payload),
      listen: (channel, fn) => real.listen(channel, fn),
      tryLock: (name) => real.tryLock(name),
      close: () => real.close(),
    };
    // The worker's clock can jump ahead (as the wall clock does for a process that was paused): its
    // lease runs out with no renewal in between, and its next claim — within a poll — takes it over.
    let skew = 0;
    const clock: Clock = { now: () => Date.now() + skew, setTimer: (ms, fn) => systemClock.setTimer(ms, fn) };
    const until = async (check: () => boolean | Promise<boolean>, what: string) =>
      eventually(check, what, 20_000);
    const queue = defineQueue({ name: 'reclaimed', keepCompleted: true });
    const client = createQueueClient({ store: real, queues: [queue], localHandoff: false });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const reported: string[] = [];
    const worker = createWorker({
      store,
      clock,
      queues: queue,
      concurrency: 3,
      leaseMs: 1000,
      heartbeatMs: 1000,
      pollIntervalMs: 50,
      handler: async (task) => {
        started.push(`${task.id}:${task.token}`);
        if ((task.payload as { quick?: boolean }).quick === true) {
          slow = true;
          setTimeout(release, 100);
          return;
        }
        await gate;
      },
    });
    worker.on('completed', ({ task }) => reported.push(`completed ${task.id}:${task.token}`));
    worker.on('leaseLost', ({ task }) => reported.push(`lost ${task.id}:${task.token}`));
    await worker.start();
    const { id } = await client.enqueue(queue, { quick: false });
    await until(() => started.length === 1, 'the worker starts the task');
    skew = 1500;
    await until(() => started.length === 2, 'the worker takes its own expired lease over');
    await client.enqueue(queue, { quick: true });
    await until(async () => (await client.stats(queue.name)).completed === 2, 'both tasks complete');
    await worker.stop();
    // Every claim but the last of each task was lost, reported and counted; only the last completed.
    let older = 0;
    for (const task of await client.listTasks({ queue: queue.name })) {
      const runs = started.filter((s) => s.startsWith(`${task.id}:`));
      expect(reported.filter((r) => r.startsWith(`completed ${task.id}:`))).toEqual([
        `completed ${task.id}:${task.token}`,
      ]);
      for (const run of runs.filter((r) => r !== `${task.id}:${task.token}`)) {
        expect(reported).toContain(`lost ${run}`);
        older++;
      }
    }
    expect(started.filter((s) => s.startsWith(`${id}:`))).toEqual([`${id}:1`, `${id}:2`]);
    expect((await client.stats(queue.name)).leaseLost).toBe(older);
  });
});

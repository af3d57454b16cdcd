/**
 * The total queue (Jepsen's queue checker) on PostgreSQL: four producer processes enqueue unique tasks
 * with idempotency keys while three consumer processes work them and one consumer is killed with
 * SIGKILL about every two seconds and restarted; then a full drain. Every acknowledged enqueue must
 * complete (lost 0), nothing nobody enqueued may appear (unexpected 0), no task may be acknowledged twice,
 * and no task acknowledged by a consumer may ever be delivered again (redelivered-after-ack 0).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { postgresAdapter } from '../support/stores.js';
import { expectClean, History } from './history.js';
import {
  allReady,
  alive,
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

const PRODUCERS = 4;
const CONSUMERS = 3;
const TASKS = scaled(50_000);
/** Producers spread their tasks over about this long, so the kills land while work flows. */
const PRODUCE_MS = 10_000 * Math.max(1, TASKS / 50_000);
const LEASE_MS = 2000;

describe('total queue under SIGKILL (PostgreSQL)', () => {
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
    `${PRODUCERS} producers, ${CONSUMERS} consumers, a consumer killed about every 2 s, then a full drain: lost 0, unexpected 0, acknowledged twice 0, redelivered after ack 0`,
    { timeout: 300_000 },
    async () => {
      const url = postgresAdapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      const queue = 'total';
      const path = join(scratch.folder(), 'ledger.jsonl');
      const ledger = new LedgerReader(path);
      const history = new History('total queue (postgres, 4 producers, 3 consumers)');
      const startConsumer = () => children.start('queue-consumer', [url, path, queue, LEASE_MS, 32, 0, 0]);

      const consumers: ChildProcess[] = [];
      for (let i = 0; i < CONSUMERS; i++) consumers.push(await startConsumer());
      await eventually(
        () => ledger.all().filter((l) => l.e === 'ready').length >= CONSUMERS,
        'the consumers are ready',
        30_000,
      );
      const perProducer = Math.ceil(TASKS / PRODUCERS);
      const rate = Math.ceil(perProducer / (PRODUCE_MS / 1000));
      const producing = Date.now();
      const producers: ChildProcess[] = [];
      for (let p = 0; p < PRODUCERS; p++)
        producers.push(
          await children.start('queue-producer', [url, path, queue, `p${p}`, perProducer, 100, rate]),
        );

      // A consumer killed about every 2 s while the producers run, and started again at once.
      while (producers.some(alive)) {
        await sleep(between(1500, 2500));
        if (!producers.some(alive)) break;
        const victim = between(0, CONSUMERS - 1);
        await kill9(consumers[victim]!);
        history.fault('sigkill');
        consumers[victim] = await startConsumer();
      }
      for (const p of producers) await exited(p);
      const produced = Date.now();
      history.figure('enqueue phase', `${((produced - producing) / 1000).toFixed(1)} s`);
      expect(producers.map((p) => p.exitCode)).toEqual(producers.map(() => 0));

      // The full drain: every task completed.
      const total = PRODUCERS * perProducer;
      const count = async (completed: boolean) => {
        const rows = await store.query<{ n: number | string }>(
          `SELECT COUNT(*) AS n FROM garrison_tasks WHERE queue = $1 AND state ${completed ? '=' : '<>'} 'completed'`,
          [queue],
        );
        return Number(rows[0]?.n ?? 0);
      };
      await eventually(
        async () => (await count(true)) >= total && (await count(false)) === 0,
        'every task completes',
        120_000,
      );
      history.figure('drain after the last enqueue', `${((Date.now() - produced) / 1000).toFixed(1)} s`);
      await allReady(ledger, consumers);
      for (const c of consumers) expect(await terminate(c)).toBe(0);

      // What was asked and told (producers), observed (consumer acks) and held (the store).
      const lines = ledger.all();
      const keyOf = new Map<number, string>();
      for (const line of lines) {
        if (line.e === 'ask') for (const key of line.keys as string[]) history.ask(key);
        if (line.e === 'ack') {
          const keys = line.keys as string[];
          (line.ids as number[]).forEach((id, i) => {
            keyOf.set(id, keys[i]!);
            history.acknowledge(keys[i]!);
          });
        }
      }
      const rows = await store.query<{
        id: number | string;
        state: string;
        token: number;
        idempotency_key: string;
      }>('SELECT id, state, token, idempotency_key FROM garrison_tasks WHERE queue = $1', [queue]);
      const finalToken = new Map<number, number>();
      for (const row of rows) {
        finalToken.set(Number(row.id), Number(row.token));
        if (row.state === 'completed') history.hold(row.idempotency_key);
      }
      history.watch('redelivered after ack');
      history.watch('ack with a stale token');
      const acked = new Set<number>();
      const deliveries = new Map<number, number>();
      for (const line of lines) {
        const id = line.id as number;
        if (line.e === 's') {
          deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
          if (!keyOf.has(id)) history.observe(`unknown task ${id}`);
          if (acked.has(id)) history.violation('redelivered after ack', `task ${id} token ${String(line.k)}`);
        } else if (line.e === 'd') {
          acked.add(id);
          history.observe(keyOf.get(id) ?? `unknown task ${id}`);
          if (line.k !== finalToken.get(id))
            history.violation('ack with a stale token', `task ${id} acked with ${String(line.k)}`);
        }
      }
      const errors = lines.filter((l) => l.e === 'err');
      history.figure(
        'redelivered after a crash (allowed)',
        [...deliveries.values()].filter((n) => n > 1).length,
      );
      history.figure('acks lost to a kill', total - acked.size);
      history.figure('worker errors', errors.length);
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(report.items).toBe(total);
      expect(report.faults).toBeGreaterThanOrEqual(scaled(4));
    },
  );
});

/**
 * Ambiguous commits on PostgreSQL: a proxy between the store and the server lets a write commit and then
 * cuts the connection before the answer arrives, so the caller cannot know whether it happened. The
 * caller gets a typed, retryable error; a retry with the same idempotency key (a task's key, a workflow's
 * id) finds what the lost answer would have said — one task, one run — and an effect whose journal write
 * was cut is not done again: the journal holds its result and hands it back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isGarrisonError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import {
  createQueueClient,
  createWorker,
  createWorkflowEngine,
  defineQueue,
  defineWorkflow,
  type WorkflowEngine,
} from '../../src/work/index.js';
import { postgresAdapter } from '../support/stores.js';
import { expectClean, History } from './history.js';
import { PgProxy } from './pg-proxy.js';
import { eventually, scaled } from './support.js';

const CUTS = scaled(10);

/** The error `promise` rejects with; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail: its connection was cut');
}

/** The caller of a cut write is told: a typed error it may retry. */
function judge(history: History, error: unknown): void {
  history.watch('raw driver error');
  history.watch('error not retryable');
  if (!isGarrisonError(error)) history.violation('raw driver error', String(error));
  else if (!error.retryable) history.violation('error not retryable', `${error.code}: ${error.message}`);
}

describe('ambiguous commit (PostgreSQL)', () => {
  const proxies: PgProxy[] = [];
  const stores: Store[] = [];
  const engines: WorkflowEngine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
    for (const s of stores.splice(0)) await s.close();
    for (const p of proxies.splice(0)) await p.close();
  });

  async function throughProxy(): Promise<{ proxy: PgProxy; store: Store; direct: Store }> {
    const url = postgresAdapter.freshUrl();
    const proxy = await PgProxy.start(url);
    proxies.push(proxy);
    const direct = await openStore(url);
    const store = await openStore(proxy.via(url), { onBackgroundError: () => undefined });
    stores.push(store, direct);
    return { proxy, store, direct };
  }

  it(
    `an enqueue's connection dies after its commit, before the answer (${CUTS} times): the retry with the same idempotency key answers the task made, there is one, and it runs once`,
    { timeout: 120_000 },
    async () => {
      const { proxy, store, direct } = await throughProxy();
      const queue = defineQueue({ name: 'ambiguous' });
      const client = createQueueClient({ store, queues: [queue] });
      const history = new History(`ambiguous commit of an enqueue (postgres)`);
      history.watch('retry answered another task');
      const answered = new Map<string, number>();
      for (let i = 0; i < CUTS; i++) {
        const key = `order-${i}`;
        history.ask(key);
        const cut = proxy.cutAfter('INSERT INTO garrison_tasks');
        judge(history, await rejectionOf(client.enqueue(queue, { key }, { idempotencyKey: key })));
        await cut;
        history.fault('connection cut after commit');
        const retry = await client.enqueue(queue, { key }, { idempotencyKey: key });
        history.acknowledge(key);
        answered.set(key, retry.id);
        if (retry.created) history.violation('retry answered another task', `${key}: a new task ${retry.id}`);
      }
      const rows = await direct.query<{ id: number | string; idempotency_key: string }>(
        'SELECT id, idempotency_key FROM garrison_tasks WHERE queue = $1',
        [queue.name],
      );
      for (const row of rows) {
        history.hold(row.idempotency_key);
        if (answered.get(row.idempotency_key) !== Number(row.id))
          history.violation('retry answered another task', `${row.idempotency_key}: task ${row.id}`);
      }
      // Each task runs once.
      const worker = createWorker({
        store: direct,
        queues: queue,
        handler: (task) => history.observe((task.payload as { key: string }).key),
      });
      await worker.start();
      await eventually(
        async () => (await client.stats(queue.name)).completed === CUTS,
        'the tasks complete',
        30_000,
      );
      await worker.stop();
      history.figure('connections cut', proxy.cuts);
      const report = history.check({ evidence: 'both', duplicates: 'forbidden' });
      expectClean(report);
      expect(report.items).toBe(CUTS);
      expect(proxy.cuts).toBe(CUTS);
    },
  );

  it(
    `a workflow start's, a step's and a transaction step's writes lose their answers after the commit (${CUTS} each): the retried start answers the same run, no journaled step runs again, the transaction's write is there once`,
    { timeout: 120_000 },
    async () => {
      const { proxy, store } = await throughProxy();
      const history = new History(
        'ambiguous commit of a workflow start, a step and a transaction step (postgres)',
      );
      const effects: string[] = [];
      let cutStep: string | undefined;
      await store.execute('CREATE TABLE chaos_effects (k TEXT NOT NULL)');
      const fourSteps = defineWorkflow('four-steps', async (ctx, n: number) => {
        let total = 0;
        for (let s = 0; s < 3; s++) {
          total += await ctx.step(`step-${s}`, async (step) => {
            effects.push(step.idempotencyKey);
            history.observe(`${ctx.workflowId}:${s}`, step.idempotencyKey);
            // The journal write of this step's result is the one whose answer gets lost.
            if (step.idempotencyKey === cutStep)
              void proxy
                .cutAfter('garrison_workflow_flush')
                .then(() => history.fault('step journal write cut after commit'));
            return n + s;
          });
        }
        // A store write and its journal entry in one transaction, whose COMMIT loses its answer.
        total += await ctx.transactionStep('ledger', async (tx, step) => {
          void proxy
            .cutAfter('INSERT INTO chaos_effects', { atCommit: true })
            .then(() => history.fault('transaction step cut after commit'));
          await tx.execute('INSERT INTO chaos_effects (k) VALUES ($1)', [step.idempotencyKey]);
          return n + 3;
        });
        return total;
      });
      const engine = createWorkflowEngine({
        store,
        nodeId: 'ambiguous',
        // Runs halted by a failed journal write are recovered at the next look (every lease).
        leaseMs: 200,
        onError: () => undefined,
      });
      engines.push(engine);
      engine.register(fourSteps);
      history.watch('retried start made another run');
      history.watch('wrong result');
      for (let i = 0; i < CUTS; i++) {
        const id = `ambiguous-${i}`;
        for (let s = 0; s < 4; s++) history.ask(`${id}:${s}`);
        // The start's own write is cut: the caller is told it failed, though the run exists.
        const cut = proxy.cutAfter('garrison_workflow_flush');
        judge(history, await rejectionOf(engine.start(fourSteps, i, { workflowId: id })));
        await cut;
        history.fault('workflow start cut after commit');
        // And so is the journal write of its middle step.
        cutStep = `${id}:1`;
        const retry = await engine.start(fourSteps, i, { workflowId: id });
        if (retry.created) history.violation('retried start made another run', id);
        for (let s = 0; s < 4; s++) history.acknowledge(`${id}:${s}`);
        const output = await retry.result({ timeoutMs: 30_000 });
        if (output !== 4 * i + 6) history.violation('wrong result', `${id}: ${String(output)}`);
      }
      const journal = await store.query<{ run_id: string; idx: number }>(
        'SELECT run_id, idx FROM garrison_workflow_steps',
      );
      for (const row of journal) history.hold(`${row.run_id}:${Number(row.idx)}`);
      const ledger = await store.query<{ k: string }>('SELECT k FROM chaos_effects');
      for (const row of ledger) history.observe(row.k, row.k);
      const runs = await store.query<{ n: number | string }>(
        'SELECT COUNT(*) AS n FROM garrison_workflow_runs',
      );
      history.figure('connections cut', proxy.cuts);
      history.figure('effects', effects.length);
      const report = history.check({ evidence: 'both', duplicates: 'forbidden' });
      expectClean(report);
      expect(Number(runs[0]?.n)).toBe(CUTS);
      expect(proxy.cuts).toBe(3 * CUTS);
    },
  );
});

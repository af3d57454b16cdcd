/**
 * A queue consumer for the fault tests: a worker on one queue that appends to a ledger every start
 * (`s`), handler end (`x`, when asked for), acknowledged completion (`d`, after its commit), lost lease
 * (`l`) and loop error (`err`), each with the task id and the fencing token of the claim (`k`). A store
 * it cannot open is reported as `open-failed` with the error's class, code and retryable flag, and the
 * process exits with 1. SIGTERM stops it gracefully.
 *
 *   queue-consumer.ts <url> <ledger> <queue> <lease ms> <concurrency> <work ms max, 0: none> <log ends: 0|1>
 */
import { openStore } from '../../../src/store/index.js';
import { createWorker, defineQueue } from '../../../src/work/index.js';
import { args, ledger } from './ledger.js';

const a = args('queue-consumer.ts', [
  'url',
  'ledger',
  'queue',
  'leaseMs',
  'concurrency',
  'workMs',
  'logEnds',
]);
const log = ledger(a.ledger);
const work = Number(a.workMs);
const ends = a.logEnds === '1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// SIGTERM may come while the worker is still starting: it is stopped once it runs.
let stop: () => Promise<void> = async () => undefined;
let ready!: () => void;
const started = new Promise<void>((resolve) => (ready = resolve));
process.on('SIGTERM', () => {
  void started.then(() => stop()).then(() => process.exit(0));
});

const store = await openStore(a.url).catch((error: unknown) => {
  const e = error as { name?: string; code?: string; retryable?: boolean; message?: string };
  log({ e: 'open-failed', name: e.name, code: e.code, retryable: e.retryable, m: e.message });
  process.exit(1);
});
const queue = defineQueue({ name: a.queue, maxAttempts: 1000 });
const worker = createWorker({
  store,
  queues: queue,
  leaseMs: Number(a.leaseMs),
  concurrency: Number(a.concurrency),
  workerId: `pid-${process.pid}`,
  handler: async (task) => {
    log({ e: 's', id: task.id, k: task.token });
    if (work > 0) await sleep(Math.floor(Math.random() * work));
    if (ends) log({ e: 'x', id: task.id, k: task.token });
  },
});
worker.on('completed', ({ task }) => log({ e: 'd', id: task.id, k: task.token }));
worker.on('leaseLost', ({ task }) => log({ e: 'l', id: task.id, k: task.token }));
worker.on('error', ({ error }) => log({ e: 'err', m: String(error) }));
stop = async () => {
  await worker.stop({ timeoutMs: 2000 });
  await store.close();
};
await worker.start();
ready();
log({ e: 'ready' });

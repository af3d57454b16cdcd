/**
 * A node under overload, for `overload.test.ts`: `startNode` with its HTTP API on a free port, and a
 * queue worker in the same process doing a small fixed amount of work per task (a sleep: the node's own
 * CPU goes to the API and the store). The worker appends to a ledger each effect (`x`, when the
 * handler's work is done, with the task's idempotency key) and each acknowledged completion (`d`, after
 * its commit). Started with a small heap (`--max-old-space-size`) and `--expose-gc`.
 *
 * On stdout, one JSON line per report: `ready` (the API's URL, V8's heap limit, the node's heap
 * admission limit), `mem` every 200 ms (heapUsed, heapTotal, rss), and `gc` (the heap after a full
 * collection) for each `gc` line read on stdin — the live heap, which is what must not grow. SIGTERM
 * stops the API, the worker and the node gracefully, and the process exits with 0.
 *
 *   overload-node.ts <url> <ledger> <queue> <work ms> <concurrency> <max queued>
 */
import { createInterface } from 'node:readline';
import { getHeapStatistics } from 'node:v8';
import { startApiServer } from '../../../src/api/index.js';
import { startNode } from '../../../src/node/index.js';
import { createWorker, defineQueue } from '../../../src/work/index.js';
import { args, ledger } from './ledger.js';

const a = args('overload-node.ts', ['url', 'ledger', 'queue', 'workMs', 'concurrency', 'maxQueued']);
const log = ledger(a.ledger);
const work = Number(a.workMs);
const report = (line: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ...line, t: Date.now() })}\n`);
const memory = () => {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss };
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const node = await startNode({
  config: { store: a.url, nodeName: `overload-${process.pid}`, tasks: { maxQueued: Number(a.maxQueued) } },
});
const queue = defineQueue({ name: a.queue, maxAttempts: 1000 });
const worker = createWorker({
  store: node.store,
  queues: queue,
  concurrency: Number(a.concurrency),
  // Far longer than any pause overload can cause: a re-run here would be a lease lost to overload.
  leaseMs: 30_000,
  workerId: `pid-${process.pid}`,
  handler: async (task) => {
    await sleep(work);
    log({ e: 'x', id: task.id, key: task.idempotencyKey, k: task.token });
  },
});
worker.on('completed', ({ task }) => log({ e: 'd', id: task.id, key: task.idempotencyKey, k: task.token }));
worker.on('leaseLost', ({ task }) => log({ e: 'l', id: task.id, key: task.idempotencyKey }));
worker.on('error', ({ error }) => log({ e: 'err', m: String(error) }));
await worker.start();
const api = await startApiServer(node, { port: 0 });

const sampler = setInterval(() => report({ e: 'mem', ...memory() }), 200);
const gc = (globalThis as { gc?: () => void }).gc;
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'gc') return;
  gc?.();
  report({ e: 'gc', ...memory() });
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  clearInterval(sampler);
  void (async () => {
    await api.close();
    await worker.stop({ timeoutMs: 5000 });
    await node.stop();
    process.exit(0);
  })();
});

const heapLimit = getHeapStatistics().heap_size_limit;
report({
  e: 'ready',
  url: api.url,
  heapLimit,
  heapAdmissionLimit: node.resources.limits.heap_bytes,
  gc: gc !== undefined,
  ...memory(),
});

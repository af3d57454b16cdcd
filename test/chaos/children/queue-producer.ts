/**
 * A queue producer for the fault tests: enqueues `count` tasks in batches, each with an idempotency key
 * `<producer>-<n>`, at about `rate` tasks per second. Before each batch it appends what it asks (`ask`),
 * after it what it was told (`ack`, with the task ids in order); a batch that fails (`err`) is sent again
 * with the same keys, so it is never doubled. Appends `end` when done and exits.
 *
 *   queue-producer.ts <url> <ledger> <queue> <producer> <count> <batch> <rate per s>
 */
import { openStore } from '../../../src/store/index.js';
import { createQueueClient, defineQueue } from '../../../src/work/index.js';
import { args, ledger } from './ledger.js';

const a = args('queue-producer.ts', ['url', 'ledger', 'queue', 'producer', 'count', 'batch', 'rate']);
const log = ledger(a.ledger);
const total = Number(a.count);
const size = Number(a.batch);
const perSecond = Number(a.rate);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const store = await openStore(a.url);
const queue = defineQueue({ name: a.queue, maxAttempts: 1000 });
const client = createQueueClient({ store, queues: [queue] });
const started = Date.now();
for (let from = 0; from < total; from += size) {
  const to = Math.min(total, from + size);
  const keys = Array.from({ length: to - from }, (_, i) => `${a.producer}-${from + i}`);
  log({ e: 'ask', keys });
  for (;;) {
    try {
      const tasks = await client.enqueueMany(
        keys.map((key) => ({ queue, payload: { key }, idempotencyKey: key })),
      );
      log({ e: 'ack', keys, ids: tasks.map((t) => t.id) });
      break;
    } catch (error) {
      log({ e: 'err', m: String(error) });
      await sleep(50);
    }
  }
  // Paced: the next batch is due when the rate says so.
  const due = started + (to / perSecond) * 1000;
  if (due > Date.now()) await sleep(due - Date.now());
}
log({ e: 'end' });
await store.close();

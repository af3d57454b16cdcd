/**
 * The queue run that the storage-fault tests disturb: a producer enqueueing with idempotency keys and
 * retrying what fails, an in-process worker, and the judgement of every error the two of them saw.
 */
import { isGarrisonError } from '../../src/errors.js';
import type { Store } from '../../src/store/index.js';
import { createWorker, defineQueue, type QueueClient, type Worker } from '../../src/work/index.js';
import type { History } from './history.js';
import { sleep } from './support.js';

export const queue = defineQueue({ name: 'faults', maxAttempts: 1000 });

/**
 * Enqueues small batches of new tasks, each with an idempotency key, until stopped; a batch that fails
 * is sent again with the same keys (it can never be doubled) until it is acknowledged.
 */
export class Producer {
  private next = 0;
  private stopped = false;
  private running: Promise<void> | undefined;
  refused = 0;

  constructor(
    private readonly client: QueueClient,
    private readonly history: History,
    private readonly errors: unknown[],
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const keys = Array.from({ length: 10 }, () => `task-${this.next++}`);
      for (const key of keys) this.history.ask(key);
      for (;;) {
        try {
          await this.client.enqueueMany(
            keys.map((key) => ({ queue, payload: { key }, idempotencyKey: key })),
          );
          for (const key of keys) this.history.acknowledge(key);
          break;
        } catch (error) {
          this.errors.push(error);
          this.refused++;
          await sleep(20);
        }
      }
      await sleep(5);
    }
  }
}

/** An in-process worker whose acknowledged completions and loop errors go into the history. */
export function startWorker(store: Store, history: History, errors: unknown[]): Worker {
  const worker = createWorker({
    store,
    queues: queue,
    concurrency: 8,
    leaseMs: 2000,
    handler: () => undefined,
  });
  worker.on('completed', ({ task }) => history.observe((task.payload as { key: string }).key));
  worker.on('error', ({ error }) => errors.push(error));
  return worker;
}

/** Every task of the queue completed, by key. */
export async function holdCompleted(store: Store, history: History): Promise<void> {
  const rows = await store.query<{ idempotency_key: string; state: string }>(
    'SELECT idempotency_key, state FROM garrison_tasks WHERE queue = $1',
    [queue.name],
  );
  for (const row of rows) if (row.state === 'completed') history.hold(row.idempotency_key);
}

export async function drained(client: QueueClient): Promise<boolean> {
  const stats = await client.stats(queue.name);
  return stats.queued + stats.running === 0;
}

/** Every error seen must be typed, of an expected code, and retryable when the fault passes by itself. */
export function judgeErrors(
  history: History,
  errors: readonly unknown[],
  codes: readonly string[],
  retryable: boolean,
): void {
  history.watch('raw driver error');
  history.watch('unexpected error code');
  history.watch('error not retryable');
  for (const error of errors) {
    if (!isGarrisonError(error)) history.violation('raw driver error', String(error));
    else if (!codes.includes(error.code))
      history.violation('unexpected error code', `${error.code}: ${error.message}`);
    else if (retryable && !error.retryable)
      history.violation('error not retryable', `${error.code}: ${error.message}`);
  }
  const seen = [...new Set(errors.map((e) => (isGarrisonError(e) ? e.code : 'raw')))].join(' ');
  history.figure('errors seen', `${errors.length}${seen === '' ? '' : ` (${seen})`}`);
}

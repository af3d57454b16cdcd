/**
 * Records what handlers did: completions in batches (reported only once committed), failures one by one
 * with the queue's backoff, and a wake-up for the queue's workers when a limited queue frees a slot.
 */
import type { Clock } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import { describeError } from './client.js';
import { CompletionBatcher } from './completion-batcher.js';
import type { QueueDefinition } from './definition.js';
import { PermanentTaskError } from './errors.js';
import { toCompletion, type Held } from './held.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { queueChannel } from './local.js';
import { completeTasks, failTask } from './settle.js';
import type { WorkerCounters, WorkerEmitter } from './worker-events.js';

export interface TaskSettlerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly defs: ReadonlyMap<string, QueueDefinition>;
  readonly random: () => number;
  readonly emitter: WorkerEmitter;
  readonly counters: WorkerCounters;
  readonly leases: LeaseKeeper;
  /** Completions committed together at most. */
  readonly batchSize: number;
  readonly track: (work: Promise<unknown>) => void;
  /** Called when tasks have settled (the worker may have room again). */
  readonly onSettled: () => void;
}

export class TaskSettler {
  /** Completions waiting for (or in) their commit. */
  readonly completions: CompletionBatcher<Held>;

  constructor(private readonly d: TaskSettlerDeps) {
    this.completions = new CompletionBatcher<Held>({
      flush: (items) => completeTasks(d.store, items.map(toCompletion), d.clock.now()),
      onCommitted: (items, accepted) => this.completed(items, accepted),
      onFailed: (items, error) => this.notRecorded(items, error),
      maxBatch: d.batchSize,
      maxInflight: 2,
    });
  }

  complete(h: Held): void {
    h.phase = 'settling';
    this.completions.add(h);
  }

  /** A batch of completions committed: report the accepted ones, look into the others. */
  private completed(batch: readonly Held[], accepted: Set<number>): void {
    const lost: Held[] = [];
    const queues = new Set<string>();
    const report = this.d.emitter.has('completed');
    for (const h of batch) {
      if (h.lost) continue;
      if (!accepted.has(h.task.id)) {
        lost.push(h);
        continue;
      }
      this.d.leases.drop(h);
      this.d.counters.completed++;
      if (report) this.d.emitter.emit('completed', { task: h.task });
      queues.add(h.task.queue);
    }
    // One wake-up per queue and batch, not per task.
    for (const queue of queues) this.freed(queue);
    if (lost.length > 0) this.d.track(this.d.leases.lose(lost));
    this.d.onSettled();
  }

  /** Records a failed attempt: a retry after the queue's backoff while attempts remain, else dead. */
  fail(h: Held, error: unknown): void {
    h.phase = 'settling';
    const task = h.task;
    const def = this.d.defs.get(task.queue);
    const now = this.d.clock.now();
    const retryAt =
      error instanceof PermanentTaskError || task.attempt >= task.maxAttempts || def === undefined
        ? undefined
        : now + def.retryDelay(task.attempt, this.d.random);
    const text = describeError(error);
    this.d.track(
      failTask(this.d.store, { id: task.id, token: task.token, error: text, retryAt }, now).then(
        (ok) => {
          if (h.lost) return;
          if (!ok) return this.d.leases.lose([h]);
          this.d.leases.drop(h);
          this.d.counters.failed++;
          this.d.emitter.emit('failed', { task, error, retryAt });
          if (retryAt === undefined) {
            this.d.counters.dead++;
            this.d.emitter.emit('dead', { taskId: task.id, queue: task.queue, error: text });
          } else {
            this.d.counters.retried++;
            // This worker (and, through the channel, every other) looks again when the retry comes due.
            this.notify(task.queue, String(retryAt));
          }
          this.freed(task.queue);
          this.d.onSettled();
        },
        (e: unknown) => this.notRecorded([h], e),
      ),
    );
  }

  /** A settle could not be written: the leases will expire and the tasks will run again elsewhere. */
  private notRecorded(batch: readonly Held[], error: unknown): void {
    for (const h of batch) {
      if (h.lost) continue;
      h.lost = true;
      this.d.leases.drop(h);
    }
    this.d.emitter.emit('error', { error });
    this.d.onSettled();
  }

  /** After a task of a limited queue settles, its workers (here and elsewhere) may claim again. */
  private freed(queue: string): void {
    if (this.d.defs.get(queue)?.limited === true) this.notify(queue, '');
  }

  private notify(queue: string, payload: string): void {
    this.d.track(
      this.d.store
        .notify(queueChannel(queue), payload)
        .catch((error: unknown) => this.d.emitter.emit('error', { error })),
    );
  }
}

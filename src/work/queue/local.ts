/**
 * What the queue keeps per process: the wake-up channel names, and the workers of this process that
 * can take a task straight from an enqueue (the local hand-off).
 *
 * Hand-off: when a worker of this process is idle on a queue (its last claim found the queue empty and
 * it has a free slot), an enqueue on the same store inserts the task already leased to that worker —
 * a claim done at insert time, attempt 1 under fencing token 1, in the enqueue's own commit — and hands
 * it over once committed. The task is as durable as any other: if the process dies, the lease expires
 * and another worker takes it over. It saves the wake-up and the claim round trips, which is most of the
 * enqueue-to-start latency.
 */
import type { Store } from '../../store/index.js';
import type { ClaimedTask } from './types.js';

/** The channel that wakes the workers of `queue` (payload: the earliest run_at enqueued, UNIX epoch ms). */
export function queueChannel(queue: string): string {
  return `garrison.queue.${queue}`;
}

/** A free slot of an idle local worker, reserved for one task. */
export interface HandoffSlot {
  readonly workerId: string;
  /** The lease to insert the task with, UNIX epoch ms. */
  readonly leaseUntil: number;
  /** Hands over the committed task (leased under token 1). */
  accept(task: ClaimedTask, retain: boolean): void;
  /** Gives the slot back (the insert failed or found an existing task). */
  release(): void;
}

export interface LocalWorker {
  /** Reserves a slot for a task of `queue`, or answers undefined when not idle on it. */
  reserveHandoff(queue: string): HandoffSlot | undefined;
}

const workers = new WeakMap<Store, Set<LocalWorker>>();

export function registerLocalWorker(store: Store, worker: LocalWorker): () => void {
  let set = workers.get(store);
  if (set === undefined) {
    set = new Set();
    workers.set(store, set);
  }
  set.add(worker);
  return () => set.delete(worker);
}

/** A slot of an idle worker of this process on `queue`, if any. */
export function findHandoff(store: Store, queue: string): HandoffSlot | undefined {
  const set = workers.get(store);
  if (set === undefined) return undefined;
  for (const w of set) {
    const slot = w.reserveHandoff(queue);
    if (slot !== undefined) return slot;
  }
  return undefined;
}

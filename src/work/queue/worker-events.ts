/** What a worker reports: typed events and running totals. */
import type { LeaseLostError } from './errors.js';
import type { ClaimedTask } from './types.js';

export interface WorkerEvents {
  /** A claim leased `count` tasks to this worker. */
  claimed: { readonly count: number };
  /** A task's completion was committed. */
  completed: { readonly task: ClaimedTask };
  /** An attempt failed and was recorded; `retryAt` (UNIX epoch ms) is undefined when the task died. */
  failed: { readonly task: ClaimedTask; readonly error: unknown; readonly retryAt: number | undefined };
  /** A task went to the dead letters (attempts exhausted, a permanent error, or its lease expired on the last attempt). */
  dead: { readonly taskId: number; readonly queue: string; readonly error: string };
  /** This worker's lease on a task was taken over; its result will not be recorded. */
  leaseLost: { readonly task: ClaimedTask; readonly error: LeaseLostError };
  /** A task this worker held was cancelled. */
  cancelled: { readonly task: ClaimedTask };
  /**
   * The worker found nothing more to claim and waits: for a wake-up, or at the latest until `wakeAt`
   * (UNIX epoch ms) when it looks again on its own.
   */
  idle: { readonly wakeAt: number };
  /** A store operation of the worker's own loop failed; the worker carries on (and retries). */
  error: { readonly error: unknown };
}

export type WorkerEventName = keyof WorkerEvents;

/** Running totals since the worker was created. */
export interface WorkerCounters {
  /** Tasks leased to this worker (claims and hand-offs). */
  claimed: number;
  /** Handlers started. */
  started: number;
  /** Completions committed. */
  completed: number;
  /** Failed attempts recorded (retried or dead). */
  failed: number;
  /** Failed attempts with a retry scheduled. */
  retried: number;
  /** Tasks sent to the dead letters. */
  dead: number;
  /** Leases found taken over (at renewal or completion): results not recorded. */
  leaseLost: number;
  /** Held tasks that were cancelled. */
  cancelled: number;
  /** Leases given back unused at stop. */
  released: number;
}

export function newCounters(): WorkerCounters {
  return {
    claimed: 0,
    started: 0,
    completed: 0,
    failed: 0,
    retried: 0,
    dead: 0,
    leaseLost: 0,
    cancelled: 0,
    released: 0,
  };
}

type Listener<E extends WorkerEventName> = (event: WorkerEvents[E]) => void;

/** A small typed event emitter; a listener that throws is reported and does not stop the others. */
export class WorkerEmitter {
  private readonly listeners = new Map<WorkerEventName, Set<Listener<WorkerEventName>>>();

  on<E extends WorkerEventName>(name: E, fn: Listener<E>): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(fn as Listener<WorkerEventName>);
    return () => set.delete(fn as Listener<WorkerEventName>);
  }

  has(name: WorkerEventName): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<E extends WorkerEventName>(name: E, event: WorkerEvents[E]): void {
    const set = this.listeners.get(name);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        fn(event);
      } catch (error) {
        process.emitWarning(`a worker "${name}" listener threw: ${String(error)}`, 'GarrisonWarning');
      }
    }
  }
}

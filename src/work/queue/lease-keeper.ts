/**
 * The leases a worker holds: one heartbeat timer renews all of them with one statement; a lease found
 * gone (taken over, cancelled, finished elsewhere) aborts its handler, is counted in the store and then
 * reported; leases can be given back to the queue.
 */
import type { Clock, TimerHandle } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import { LeaseLostError, QueueError, QueueErrorCode } from './errors.js';
import { abort, leaseOf, type Held } from './held.js';
import { bumpCounter, lossReasons, releaseTasks, renewLeases } from './settle.js';
import type { ClaimedTask } from './types.js';
import type { WorkerCounters, WorkerEmitter } from './worker-events.js';

export interface LeaseKeeperDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** Lease length, in ms. */
  readonly leaseMs: number;
  /** Renewal period, in ms. */
  readonly heartbeatMs: number;
  readonly emitter: WorkerEmitter;
  readonly counters: WorkerCounters;
  /** Keeps a background store operation in view so a stop can wait for it. */
  readonly track: (work: Promise<unknown>) => void;
}

export class LeaseKeeper {
  private readonly held = new Map<number, Held>();
  private timer: TimerHandle | undefined;
  private beating = false;

  constructor(private readonly d: LeaseKeeperDeps) {}

  get size(): number {
    return this.held.size;
  }

  add(h: Held): void {
    const older = this.held.get(h.task.id);
    this.held.set(h.task.id, h);
    // This worker took its own expired lease over: the older claim's lease is lost like any other
    // (its handler is aborted, and its completion can neither be reported nor accepted).
    if (older !== undefined && !older.lost) this.d.track(this.lose([older]));
  }

  /** Lets go of a task that was settled. */
  drop(h: Held): void {
    this.forget(h);
  }

  /** Removes `h` from the held leases — not a newer claim of the same task held here. */
  private forget(h: Held): void {
    if (this.held.get(h.task.id) === h) this.held.delete(h.task.id);
  }

  running(): Held[] {
    return [...this.held.values()].filter((h) => h.phase === 'running' && !h.lost);
  }

  /** Renews every held lease each `heartbeatMs` until `stop()`. */
  start(): void {
    this.beating = true;
    this.arm();
  }

  stop(): void {
    this.beating = false;
    this.timer?.cancel();
  }

  private arm(): void {
    this.timer = this.d.clock.setTimer(this.d.heartbeatMs, () => {
      this.timer = undefined;
      this.d.track(this.beat());
    });
  }

  private async beat(): Promise<void> {
    const holding = [...this.held.values()].filter((h) => !h.lost && h.phase !== 'settling');
    if (holding.length > 0) {
      try {
        const kept = await renewLeases(
          this.d.store,
          holding.map(leaseOf),
          this.d.clock.now() + this.d.leaseMs,
        );
        const gone = holding.filter((h) => !kept.has(h.task.id) && !h.lost && h.phase !== 'settling');
        if (gone.length > 0) await this.lose(gone);
      } catch (error) {
        this.d.emitter.emit('error', { error });
      }
    }
    if (this.beating) this.arm();
  }

  /** Leases found gone: abort their handlers, count them in the store, then report them. */
  async lose(list: readonly Held[]): Promise<void> {
    for (const h of list) {
      h.lost = true;
      this.forget(h);
    }
    let reasons = new Map<number, string>();
    try {
      reasons = await lossReasons(this.d.store, list.map(leaseOf));
    } catch (error) {
      this.d.emitter.emit('error', { error });
    }
    const perQueue = new Map<string, number>();
    const losses: Array<{ task: ClaimedTask; error: LeaseLostError }> = [];
    for (const h of list) {
      const reason = reasons.get(h.task.id) ?? 'taken_over';
      if (reason === 'cancelled') {
        this.cancelled(h);
        continue;
      }
      const error = new LeaseLostError(
        h.task.id,
        h.task.token,
        reason === 'taken_over'
          ? 'it expired and another worker took the task over'
          : 'the task was finished elsewhere',
      );
      abort(h, error);
      losses.push({ task: h.task, error });
      perQueue.set(h.task.queue, (perQueue.get(h.task.queue) ?? 0) + 1);
    }
    for (const [queue, n] of perQueue) {
      await bumpCounter(this.d.store, queue, 'lease_lost', n).catch((error: unknown) =>
        this.d.emitter.emit('error', { error }),
      );
    }
    for (const loss of losses) {
      this.d.counters.leaseLost++;
      this.d.emitter.emit('leaseLost', loss);
    }
  }

  /** A wake-up on the cancel channel: the task's handler is aborted and nothing more is recorded. */
  onCancel(payload: string): void {
    const h = this.held.get(Number(payload));
    if (h === undefined || h.lost) return;
    h.lost = true;
    this.forget(h);
    this.cancelled(h);
  }

  private cancelled(h: Held): void {
    abort(h, new QueueError(QueueErrorCode.taskCancelled, `task ${h.task.id} was cancelled`));
    this.d.counters.cancelled++;
    this.d.emitter.emit('cancelled', { task: h.task });
  }

  /**
   * Gives leases back to the queue so another worker can take them at once. `unstarted` tasks never ran,
   * so their attempt is not counted.
   */
  async release(list: readonly Held[], unstarted: boolean): Promise<void> {
    if (list.length === 0) return;
    for (const h of list) {
      h.lost = true;
      this.forget(h);
    }
    try {
      const released = await releaseTasks(this.d.store, list.map(leaseOf), unstarted);
      this.d.counters.released += released.size;
    } catch (error) {
      // Not given back: the leases simply expire and the tasks are taken over then.
      this.d.emitter.emit('error', { error });
    }
  }
}

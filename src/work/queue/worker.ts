/**
 * The worker: claims tasks of its queues in batches into a small local buffer, runs them with bounded
 * concurrency, renews every held lease with one statement per heartbeat (`LeaseKeeper`), batches
 * completions (`TaskSettler`), and stops gracefully. All its timers come from the injected clock: one
 * heartbeat timer and one wake-up timer per worker, never one per task.
 */
import type { TimerHandle } from '../../runtime/clock.js';
import { watchCommits, type CommitWatch } from '../../store/commit-watch.js';
import type { Unsubscribe } from '../../store/index.js';
import { CANCEL_CHANNEL } from './admin.js';
import { inClaimOrder, nextDueAt } from './claim.js';
import type { QueueDefinition } from './definition.js';
import { QueueError, QueueErrorCode } from './errors.js';
import { abort, newHeld } from './held.js';
import { LeaseKeeper } from './lease-keeper.js';
import { queueChannel, registerLocalWorker, type HandoffSlot, type LocalWorker } from './local.js';
import { toClaimed, type ClaimRow } from './rows.js';
import { TaskSettler } from './task-settler.js';
import { TaskRunner } from './task-runner.js';
import { TaskState } from './types.js';
import { claimForWorker, recheckMs, type WorkerQueues } from './worker-claims.js';
import {
  newCounters,
  WorkerEmitter,
  type WorkerCounters,
  type WorkerEventName,
  type WorkerEvents,
} from './worker-events.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.js';

/** Where a worker is in its life. */
export type WorkerState = 'new' | 'running' | 'stopping' | 'stopped';

export class Worker<P = unknown> implements LocalWorker {
  readonly id: string;
  /** Running totals since creation. */
  readonly counters: WorkerCounters = newCounters();
  private readonly o: ResolvedWorkerOptions<P>;
  private readonly defs = new Map<string, QueueDefinition>();
  private readonly queues: WorkerQueues;
  private readonly emitter = new WorkerEmitter();
  private readonly leases: LeaseKeeper;
  private readonly settler: TaskSettler;
  private current: WorkerState = 'new';
  private readonly runner: TaskRunner<P>;
  /** Slots promised to enqueues handing a task over. */
  private reserved = 0;
  /** A claim is in flight (one at a time: a second concurrent claim on PostgreSQL would have to step
   * over every row the first one locked, and both would get slower), and the room it may fill. */
  private claiming = false;
  private claimRoom = 0;
  /** An empty claim is looking up when to look again. */
  private checkingIdle = false;
  private wantClaim = false;
  /** The last claim found fewer runnable tasks than it asked for. */
  private short = false;
  private wakeTimer: TimerHandle | undefined;
  private wakeAt = Infinity;
  private unlisteners: Unsubscribe[] = [];
  private watch: CommitWatch | undefined;
  private checkingCommit = false;
  private unregister: (() => void) | undefined;
  private readonly background = new Set<Promise<unknown>>();
  private errorStreak = 0;
  private waiters: Array<() => void> = [];
  private stopping: Promise<void> | undefined;

  constructor(options: WorkerOptions<P>) {
    this.o = resolveWorkerOptions(options);
    this.id = this.o.workerId;
    for (const q of this.o.queues) this.defs.set(q.name, q);
    this.queues = {
      plain: this.o.queues.filter((q) => !q.limited).map((q) => q.name),
      limited: this.o.queues.filter((q) => q.limited),
    };
    const { store, clock } = this.o;
    const track = (work: Promise<unknown>) => this.track(work);
    this.leases = new LeaseKeeper({
      store,
      clock,
      leaseMs: this.o.leaseMs,
      heartbeatMs: this.o.heartbeatMs,
      emitter: this.emitter,
      counters: this.counters,
      track,
    });
    this.settler = new TaskSettler({
      store,
      clock,
      defs: this.defs,
      random: this.o.random,
      emitter: this.emitter,
      counters: this.counters,
      leases: this.leases,
      batchSize: this.o.completionBatchSize,
      track,
      onSettled: () => this.pump(),
    });
    this.runner = new TaskRunner<P>({
      handler: this.o.handler,
      concurrency: this.o.concurrency,
      clock,
      workerId: this.id,
      counters: this.counters,
      settler: this.settler,
      onFinished: () => this.pump(),
    });
  }

  get state(): WorkerState {
    return this.current;
  }

  /** Tasks leased to this worker and not yet settled (buffered and running). */
  get holding(): number {
    return this.leases.size;
  }

  on<E extends WorkerEventName>(name: E, fn: (event: WorkerEvents[E]) => void): () => void {
    return this.emitter.on(name, fn);
  }

  /** Starts listening for wake-ups and claiming. Resolves once the worker listens. */
  async start(): Promise<void> {
    if (this.current !== 'new') {
      throw new QueueError(QueueErrorCode.workerStopped, `worker ${this.id} was already started`);
    }
    this.current = 'running';
    const store = this.o.store;
    try {
      for (const q of this.o.queues) {
        this.unlisteners.push(await store.listen(queueChannel(q.name), (payload) => this.onWake(payload)));
      }
      this.unlisteners.push(await store.listen(CANCEL_CHANNEL, (payload) => this.leases.onCancel(payload)));
    } catch (error) {
      this.current = 'stopped';
      await Promise.allSettled(this.unlisteners.map((u) => u()));
      throw error;
    }
    this.unregister = registerLocalWorker(store, this);
    this.watch = watchCommits(store, {
      intervalMs: this.o.changePollMs,
      timers: this.o.clock,
      onChange: () => this.onOtherCommit(),
      onError: (error) => this.emitter.emit('error', { error }),
    });
    this.leases.start();
    this.wantClaim = true;
    this.maybeClaim();
  }

  /**
   * Stops gracefully: no more claims; buffered tasks are given back at once; running handlers get up to
   * `timeoutMs` (default the `stopTimeoutMs` option, counted from this call) to finish, then their
   * signals are aborted and their leases given back; pending completions are committed. Resolves when
   * all of that is done.
   */
  stop(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.timeoutMs ?? this.o.stopTimeoutMs);
    return this.stopping;
  }

  // ---- claiming ----------------------------------------------------------------------------------

  /** Leases this worker may still take: running slots plus a buffer bounded by what a lease allows. */
  private room(): number {
    let prefetch = this.o.prefetch;
    if (this.runner.avgDurationMs > 0) {
      // Never hold more than can be started within half a lease at the measured pace.
      const startable = Math.floor((this.o.concurrency * (this.o.leaseMs / 2)) / this.runner.avgDurationMs);
      prefetch = Math.min(prefetch, Math.max(0, startable - this.o.concurrency));
    }
    return (
      this.o.concurrency +
      prefetch -
      (this.runner.buffered + this.runner.active + this.reserved + this.claimRoom)
    );
  }

  /** Starts a claim when there is room for half a batch (or for anything, when nothing is buffered). */
  private maybeClaim(): void {
    if (this.current !== 'running' || this.claiming || this.checkingIdle) return;
    if (this.short && !this.wantClaim) return;
    const room = this.room();
    if (room < (this.runner.buffered === 0 ? 1 : Math.ceil(this.o.batchSize / 2))) return;
    this.wantClaim = false;
    const limit = Math.min(this.o.batchSize, room);
    this.claiming = true;
    this.claimRoom = limit;
    void this.claimOnce(limit);
  }

  private async claimOnce(limit: number): Promise<void> {
    const now = this.o.clock.now();
    let rows: ClaimRow[] | undefined;
    try {
      rows = await claimForWorker(
        this.o.store,
        this.queues,
        { now, leaseUntil: now + this.o.leaseMs, workerId: this.id },
        limit,
        this.settler.completions,
      );
      this.errorStreak = 0;
    } catch (error) {
      this.emitter.emit('error', { error });
      this.errorStreak++;
    } finally {
      this.claiming = false;
      this.claimRoom = 0;
    }
    if (rows === undefined) {
      // The store failed: look again after a backoff, not at once.
      this.short = true;
      this.armWake(
        this.o.clock.now() + Math.min(this.o.pollIntervalMs, 50 * 2 ** Math.min(this.errorStreak, 10)),
      );
    } else {
      // Completions of handlers that finish at once wait for the next claim, which (on SQLite) commits
      // them in its own transaction.
      this.settler.completions.hold();
      try {
        const leased = this.accept(inClaimOrder(rows));
        this.runner.startBuffered();
        this.short = leased < limit;
        this.notifyWaiters();
        this.maybeClaim();
      } finally {
        this.settler.completions.release();
      }
      if (this.short && !this.claiming && !this.wantClaim && this.current === 'running')
        await this.waitIdle();
    }
    this.notifyWaiters();
    this.maybeClaim();
  }

  /** The queues look empty: arm the wake-up for the next due task (or the poll) and report idle. */
  private async waitIdle(): Promise<void> {
    this.checkingIdle = true;
    try {
      const now = this.o.clock.now();
      let at = now + this.o.pollIntervalMs;
      try {
        const due = await nextDueAt(
          this.o.store,
          this.o.queues.map((q) => q.name),
        );
        const recheck = recheckMs(this.queues.limited, this.o.pollIntervalMs);
        if (due !== undefined) at = Math.min(at, Math.max(due, now + recheck));
      } catch (error) {
        this.emitter.emit('error', { error });
      }
      if (!this.wantClaim && this.current === 'running') {
        this.armWake(at);
        this.emitter.emit('idle', { wakeAt: at });
      }
    } finally {
      this.checkingIdle = false;
    }
  }

  /** Takes claimed rows into the buffer; answers how many were leased. */
  private accept(rows: readonly ClaimRow[]): number {
    let leased = 0;
    for (const row of rows) {
      if (row.state !== TaskState.running) {
        this.counters.dead++;
        this.emitter.emit('dead', {
          taskId: Number(row.id),
          queue: row.queue,
          error: 'lease expired on the last attempt',
        });
        continue;
      }
      const h = newHeld(toClaimed(row), Number(row.retain) === 1);
      this.leases.add(h);
      this.runner.push(h);
      leased++;
    }
    if (leased > 0) {
      this.counters.claimed += leased;
      this.emitter.emit('claimed', { count: leased });
    }
    return leased;
  }

  private onWake(payload: string): void {
    if (this.current !== 'running') return;
    const runAt = Number(payload);
    if (payload !== '' && Number.isFinite(runAt) && runAt > this.o.clock.now()) {
      if (runAt < this.wakeAt) this.armWake(runAt);
      return;
    }
    this.wantClaim = true;
    this.maybeClaim();
  }

  /**
   * SQLite: another process committed (an enqueue from a client or another node, perhaps). An idle
   * worker looks whether a task of its queues is due now — a read, so that the commits of busy
   * neighbours cost no claim transaction — and claims at once when one is.
   */
  private onOtherCommit(): void {
    if (this.current !== 'running' || !this.short || this.claiming || this.checkingCommit) return;
    this.checkingCommit = true;
    const names = this.o.queues.map((q) => q.name);
    const work = nextDueAt(this.o.store, names).then(
      (due) => {
        this.checkingCommit = false;
        if (due === undefined || this.current !== 'running') return;
        if (due <= this.o.clock.now()) this.onWake('');
        else if (due < this.wakeAt) this.armWake(due);
      },
      (error: unknown) => {
        this.checkingCommit = false;
        this.emitter.emit('error', { error });
      },
    );
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  private armWake(at: number): void {
    if (this.current !== 'running') return;
    this.wakeTimer?.cancel();
    this.wakeAt = at;
    this.wakeTimer = this.o.clock.setTimer(at - this.o.clock.now(), () => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.wantClaim = true;
      this.maybeClaim();
    });
  }

  private pump(): void {
    this.runner.startBuffered();
    this.notifyWaiters();
    this.maybeClaim();
  }

  private track(work: Promise<unknown>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  // ---- local hand-off ----------------------------------------------------------------------------

  reserveHandoff(queue: string): HandoffSlot | undefined {
    if (this.current !== 'running' || !this.short || this.wantClaim || this.claiming) return undefined;
    const def = this.defs.get(queue);
    if (def === undefined || def.limited) return undefined;
    if (this.runner.active + this.runner.buffered + this.reserved >= this.o.concurrency) return undefined;
    this.reserved++;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.reserved--;
      return true;
    };
    return {
      workerId: this.id,
      leaseUntil: this.o.clock.now() + this.o.leaseMs,
      accept: (task, retain) => {
        if (!close()) return;
        const h = newHeld(task, retain);
        this.leases.add(h);
        this.counters.claimed++;
        this.emitter.emit('claimed', { count: 1 });
        this.runner.push(h);
        if (this.current === 'running') this.runner.startBuffered();
        this.notifyWaiters();
      },
      release: () => {
        if (close()) this.notifyWaiters();
      },
    };
  }

  // ---- stopping ----------------------------------------------------------------------------------

  private notifyWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when `done()` holds, re-checking whenever the worker's state moves. */
  private async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    if (this.current === 'new') {
      this.current = 'stopped';
      return;
    }
    this.current = 'stopping';
    let expired = timeoutMs <= 0;
    const deadline = expired
      ? undefined
      : this.o.clock.setTimer(timeoutMs, () => {
          expired = true;
          this.notifyWaiters();
        });
    this.unregister?.();
    this.watch?.stop();
    this.wakeTimer?.cancel();
    await Promise.allSettled(this.unlisteners.map((u) => u()));
    await this.until(() => !this.claiming && !this.checkingIdle && this.reserved === 0);

    const unstarted = this.runner.takeUnstarted();
    await this.leases.release(unstarted, true);

    await this.until(() => this.runner.active === 0 || expired);
    deadline?.cancel();
    if (this.runner.active > 0) {
      const running = this.leases.running();
      const error = new QueueError(
        QueueErrorCode.workerStopped,
        `worker ${this.id} stopped before the task finished`,
      );
      for (const h of running) abort(h, error);
      await this.leases.release(running, false);
    }
    await this.settler.completions.idle();
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    this.leases.stop();
    this.current = 'stopped';
  }
}

/** Creates a worker; call `start()` to begin. */
export function createWorker<P = unknown>(options: WorkerOptions<P>): Worker<P> {
  return new Worker(options);
}

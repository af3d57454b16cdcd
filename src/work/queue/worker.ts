/**
 * The worker: claims tasks of its queues in batches into a small local buffer, runs them with bounded
 * concurrency, renews every held lease with one statement per heartbeat, batches completions, and stops
 * gracefully. All its timers come from the injected clock: one heartbeat timer and one wake-up timer per
 * worker, never one per task.
 */
import type { TimerHandle } from '../../runtime/clock.js';
import type { Unsubscribe } from '../../store/index.js';
import { CANCEL_CHANNEL } from './admin.js';
import { claimTasks, inClaimOrder, nextDueAt } from './claim.js';
import { claimLimited } from './claim-limited.js';
import { describeError } from './client.js';
import { CompletionBatcher } from './completion-batcher.js';
import type { QueueDefinition } from './definition.js';
import { LeaseLostError, PermanentTaskError, QueueError, QueueErrorCode } from './errors.js';
import { queueChannel, registerLocalWorker, type HandoffSlot, type LocalWorker } from './local.js';
import { toClaimed, type ClaimRow } from './rows.js';
import {
  bumpCounter,
  completeTasks,
  failTask,
  lossReasons,
  releaseTasks,
  renewLeases,
  type Completion,
  type Lease,
} from './settle.js';
import { TaskState, type ClaimedTask } from './types.js';
import {
  newCounters,
  WorkerEmitter,
  type WorkerCounters,
  type WorkerEventName,
  type WorkerEvents,
} from './worker-events.js';
import {
  resolveWorkerOptions,
  type ResolvedWorkerOptions,
  type TaskContext,
  type WorkerOptions,
} from './worker-options.js';

/** Where a worker is in its life. */
export type WorkerState = 'new' | 'running' | 'stopping' | 'stopped';

/** A task this worker holds a lease on. */
interface Held {
  readonly task: ClaimedTask;
  readonly retain: boolean;
  phase: 'buffered' | 'running' | 'settling';
  /** The lease is gone (lost, cancelled, released): nothing more is written for this task. */
  lost: boolean;
  controller: AbortController | undefined;
  abortReason: unknown;
}

/** The handler's context; its AbortController is made only if the handler looks at `signal`. */
class Context implements TaskContext {
  constructor(
    private readonly held: Held,
    readonly workerId: string,
  ) {}

  get signal(): AbortSignal {
    const h = this.held;
    if (h.controller === undefined) {
      h.controller = new AbortController();
      if (h.abortReason !== undefined) h.controller.abort(h.abortReason);
    }
    return h.controller.signal;
  }
}

function toCompletion(h: Held): Completion {
  return { id: h.task.id, token: h.task.token, retain: h.retain };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function abort(h: Held, reason: unknown): void {
  if (h.abortReason !== undefined) return;
  h.abortReason = reason;
  h.controller?.abort(reason);
}

/** A shorter re-check when tasks look due but could not be claimed (locked by a concurrent claim). */
const RECHECK_MS = 25;

export class Worker<P = unknown> implements LocalWorker {
  readonly id: string;
  /** Running totals since creation. */
  readonly counters: WorkerCounters = newCounters();
  private readonly o: ResolvedWorkerOptions<P>;
  private readonly defs = new Map<string, QueueDefinition>();
  private readonly fastQueues: string[];
  private readonly limitedQueues: QueueDefinition[];
  private readonly emitter = new WorkerEmitter();
  private readonly completer: CompletionBatcher<Held>;
  private starting = false;
  private current: WorkerState = 'new';
  private readonly held = new Map<number, Held>();
  private buffer: Held[] = [];
  private bufferHead = 0;
  private active = 0;
  private reserved = 0;
  /** Claims in flight, and the room they may fill. */
  private claimsInFlight = 0;
  private claimRoom = 0;
  private readonly maxClaimsInFlight: number;
  /** An empty claim is looking up when to look again. */
  private checkingIdle = false;
  private wantClaim = false;
  /** The last claim found fewer runnable tasks than it asked for. */
  private short = false;
  private wakeTimer: TimerHandle | undefined;
  private wakeAt = Infinity;
  private heartbeatTimer: TimerHandle | undefined;
  private unlisteners: Unsubscribe[] = [];
  private unregister: (() => void) | undefined;
  private readonly settling = new Set<Promise<unknown>>();
  private avgDurationMs = 0;
  private errorStreak = 0;
  private waiters: Array<() => void> = [];
  private stopping: Promise<void> | undefined;

  constructor(options: WorkerOptions<P>) {
    this.o = resolveWorkerOptions(options);
    this.id = this.o.workerId;
    for (const q of this.o.queues) this.defs.set(q.name, q);
    this.fastQueues = this.o.queues.filter((q) => !q.limited).map((q) => q.name);
    this.limitedQueues = this.o.queues.filter((q) => q.limited);
    // One claim at a time: a second concurrent claim on PostgreSQL has to step over every row the first
    // one locked (SKIP LOCKED) and both get slower; the next claim is started as soon as the previous
    // one returns instead.
    this.maxClaimsInFlight = 1;
    const store = this.o.store;
    this.completer = new CompletionBatcher<Held>({
      flush: (items) => completeTasks(store, items.map(toCompletion), this.o.clock.now()),
      onCommitted: (items, accepted) => this.completed(items, accepted),
      onFailed: (items, error) => this.completionFailed(items, error),
      maxBatch: this.o.completionBatchSize,
      maxInflight: 2,
    });
  }

  get state(): WorkerState {
    return this.current;
  }

  /** Tasks leased to this worker and not yet settled (buffered and running). */
  get holding(): number {
    return this.held.size;
  }

  on<E extends WorkerEventName>(name: E, fn: (event: WorkerEvents[E]) => void): () => void {
    return this.emitter.on(name, fn);
  }

  /** Starts listening for wake-ups and claiming. Resolves once the worker listens. */
  async start(): Promise<void> {
    if (this.current !== 'new')
      throw new QueueError(QueueErrorCode.workerStopped, `worker ${this.id} was already started`);
    this.current = 'running';
    const store = this.o.store;
    try {
      for (const q of this.o.queues) {
        this.unlisteners.push(await store.listen(queueChannel(q.name), (payload) => this.onWake(payload)));
      }
      this.unlisteners.push(await store.listen(CANCEL_CHANNEL, (payload) => this.onCancel(payload)));
    } catch (error) {
      this.current = 'stopped';
      await Promise.allSettled(this.unlisteners.map((u) => u()));
      throw error;
    }
    this.unregister = registerLocalWorker(store, this);
    this.armHeartbeat();
    this.wantClaim = true;
    this.maybeClaim();
  }

  /**
   * Stops gracefully: no more claims; buffered tasks are given back at once; running handlers get up to
   * `timeoutMs` (default the `stopTimeoutMs` option) to finish, then their signals are aborted and their
   * leases given back; pending completions are committed. Resolves when all of that is done.
   */
  stop(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.timeoutMs ?? this.o.stopTimeoutMs);
    return this.stopping;
  }

  // ---- claiming ----------------------------------------------------------------------------------

  private buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  /** Leases this worker may still take: running slots plus a buffer bounded by what a lease allows. */
  private room(): number {
    let prefetch = this.o.prefetch;
    if (this.avgDurationMs > 0) {
      // Never hold more than can be started within half a lease at the measured pace.
      const startable = Math.floor((this.o.concurrency * (this.o.leaseMs / 2)) / this.avgDurationMs);
      prefetch = Math.min(prefetch, Math.max(0, startable - this.o.concurrency));
    }
    return this.o.concurrency + prefetch - (this.buffered() + this.active + this.reserved);
  }

  /** Starts a claim when there is room for at least half a batch (or anything, when nothing is buffered). */
  private maybeClaim(): void {
    while (this.current === 'running' && this.claimsInFlight < this.maxClaimsInFlight && !this.checkingIdle) {
      if (this.short && !this.wantClaim) return;
      const room = this.room() - this.claimRoom;
      const threshold = this.buffered() + this.claimRoom === 0 ? 1 : Math.ceil(this.o.batchSize / 2);
      if (room < threshold) return;
      this.wantClaim = false;
      const limit = Math.min(this.o.batchSize, room);
      this.claimsInFlight++;
      this.claimRoom += limit;
      void this.claimOnce(limit);
    }
  }

  private async claimOnce(limit: number): Promise<void> {
    let rows: ClaimRow[] | undefined;
    try {
      rows = await this.claimFromQueues(limit);
      this.errorStreak = 0;
    } catch (error) {
      this.emitter.emit('error', { error });
      this.errorStreak++;
    } finally {
      this.claimsInFlight--;
      this.claimRoom -= limit;
    }
    if (rows === undefined) {
      // The store failed: look again after a backoff, not at once.
      this.short = true;
      const delay = Math.min(this.o.pollIntervalMs, 50 * 2 ** Math.min(this.errorStreak, 10));
      this.armWake(this.o.clock.now() + delay);
    } else {
      // Completions of handlers that finish at once wait for the next claim, which commits them (on
      // SQLite) in its own transaction.
      this.completer.hold();
      try {
        const leased = this.accept(inClaimOrder(rows));
        this.startBuffered();
        this.short = leased < limit;
        this.notifyWaiters();
        this.maybeClaim();
      } finally {
        this.completer.release();
      }
      if (this.short && this.claimsInFlight === 0 && !this.wantClaim && this.current === 'running') {
        await this.waitIdle();
      }
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
        if (due !== undefined) at = Math.min(at, Math.max(due, now + this.recheckMs()));
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

  private async claimFromQueues(limit: number): Promise<ClaimRow[]> {
    const now = this.o.clock.now();
    const base = { now, leaseUntil: now + this.o.leaseMs, workerId: this.id };
    const store = this.o.store;
    if (this.limitedQueues.length === 0 && store.dialect === 'sqlite') {
      // One writer: the waiting completions ride along in the claim's transaction — one commit for both.
      const riding = this.completer.take();
      let accepted: Set<number> | undefined;
      try {
        const rows = await store.write(async (tx) => {
          if (riding !== undefined)
            accepted = await completeTasks(store, riding.items.map(toCompletion), now, tx);
          return claimTasks(store, { ...base, queues: this.fastQueues, limit }, tx);
        });
        riding?.committed(accepted ?? new Set());
        return rows;
      } catch (error) {
        riding?.failed(error);
        throw error;
      }
    }
    let rows: ClaimRow[] = [];
    let leased = 0;
    if (this.fastQueues.length > 0) {
      rows = await claimTasks(store, { ...base, queues: this.fastQueues, limit });
      for (const r of rows) if (r.state === TaskState.running) leased++;
    }
    for (const def of this.limitedQueues) {
      if (leased >= limit) break;
      const more = await claimLimited(store, def, { ...base, queues: [def.name], limit: limit - leased });
      for (const r of more) {
        rows.push(r);
        if (r.state === TaskState.running) leased++;
      }
    }
    return rows;
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
      const h: Held = {
        task: toClaimed(row),
        retain: Number(row.retain) === 1,
        phase: 'buffered',
        lost: false,
        controller: undefined,
        abortReason: undefined,
      };
      this.held.set(h.task.id, h);
      this.buffer.push(h);
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

  /** How soon to look again when tasks are due but none could be claimed. */
  private recheckMs(): number {
    let ms = RECHECK_MS;
    for (const def of this.limitedQueues) {
      // A limited queue frees up when a task settles (which wakes its workers) or when a token refills.
      const refill = [def.rateLimit, def.groupRateLimit]
        .filter((r) => r !== undefined)
        .map((r) => Math.ceil(r.intervalMs / r.limit));
      ms = Math.max(ms, refill.length > 0 ? Math.min(...refill) : this.o.pollIntervalMs);
    }
    return Math.min(ms, this.o.pollIntervalMs);
  }

  // ---- running -----------------------------------------------------------------------------------

  private startBuffered(): void {
    // A handler that finishes synchronously is settled inside `run`; this loop then goes on, so no call
    // recurses back in here.
    if (this.starting) return;
    this.starting = true;
    try {
      while (this.active < this.o.concurrency && this.bufferHead < this.buffer.length) {
        const h = this.buffer[this.bufferHead]!;
        this.bufferHead++;
        if (!h.lost) this.run(h);
      }
    } finally {
      this.starting = false;
    }
    if (this.bufferHead === this.buffer.length) {
      this.buffer = [];
      this.bufferHead = 0;
    } else if (this.bufferHead > 1024) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
  }

  private pump(): void {
    this.startBuffered();
    this.notifyWaiters();
    this.maybeClaim();
  }

  private run(h: Held): void {
    this.active++;
    h.phase = 'running';
    this.counters.started++;
    const started = this.o.clock.now();
    let result: unknown;
    try {
      result = this.o.handler(h.task as ClaimedTask<P>, new Context(h, this.id));
    } catch (error) {
      this.finished(h, started, false, error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        () => {
          this.finished(h, started, true, undefined);
          this.pump();
        },
        (error: unknown) => {
          this.finished(h, started, false, error);
          this.pump();
        },
      );
    } else {
      this.finished(h, started, true, undefined);
    }
  }

  private finished(h: Held, started: number, ok: boolean, error: unknown): void {
    this.active--;
    const took = this.o.clock.now() - started;
    this.avgDurationMs = this.avgDurationMs === 0 ? took : this.avgDurationMs * 0.9 + took * 0.1;
    if (h.lost) return;
    h.phase = 'settling';
    if (ok) this.completer.add(h);
    else this.fail(h, error);
  }

  /** A batch of completions committed: report the accepted ones, look into the others. */
  private completed(batch: readonly Held[], accepted: Set<number>): void {
    const lost: Held[] = [];
    const report = this.emitter.has('completed');
    for (const h of batch) {
      if (h.lost) continue;
      if (!accepted.has(h.task.id)) {
        lost.push(h);
        continue;
      }
      this.held.delete(h.task.id);
      this.counters.completed++;
      if (report) this.emitter.emit('completed', { task: h.task });
      this.settled(h.task.queue);
    }
    if (lost.length > 0) this.track(this.lose(lost));
    this.notifyWaiters();
  }

  private fail(h: Held, error: unknown): void {
    const task = h.task;
    const def = this.defs.get(task.queue);
    const now = this.o.clock.now();
    const permanent = error instanceof PermanentTaskError;
    const retryAt =
      permanent || task.attempt >= task.maxAttempts || def === undefined
        ? undefined
        : now + def.retryDelay(task.attempt, this.o.random);
    const text = describeError(error);
    this.track(
      failTask(this.o.store, { id: task.id, token: task.token, error: text, retryAt }, now).then(
        (ok) => {
          if (h.lost) return;
          if (!ok) return this.lose([h]);
          this.held.delete(task.id);
          this.counters.failed++;
          this.emitter.emit('failed', { task, error, retryAt });
          if (retryAt === undefined) {
            this.counters.dead++;
            this.emitter.emit('dead', { taskId: task.id, queue: task.queue, error: text });
          } else {
            this.counters.retried++;
            // This worker (and, through the channel, every other) looks again when the retry comes due.
            void this.o.store
              .notify(queueChannel(task.queue), String(retryAt))
              .catch((e: unknown) => this.emitter.emit('error', { error: e }));
          }
          this.settled(task.queue);
        },
        (e: unknown) => this.dropOnError(h, e),
      ),
    );
  }

  /** A settle could not be written: the lease will expire and the task will run again elsewhere. */
  private dropOnError(h: Held, error: unknown): void {
    h.lost = true;
    this.held.delete(h.task.id);
    this.emitter.emit('error', { error });
  }

  /** After a task of a limited queue settles, its workers (here and elsewhere) may claim again. */
  private settled(queue: string): void {
    if (!this.defs.get(queue)?.limited) return;
    void this.o.store
      .notify(queueChannel(queue), '')
      .catch((error: unknown) => this.emitter.emit('error', { error }));
  }

  private completionFailed(batch: readonly Held[], error: unknown): void {
    for (const h of batch) {
      if (h.lost) continue;
      h.lost = true;
      this.held.delete(h.task.id);
    }
    // Not recorded: the leases will expire and the tasks will run again elsewhere.
    this.emitter.emit('error', { error });
  }

  private track(p: Promise<unknown>): void {
    this.settling.add(p);
    void p.finally(() => this.settling.delete(p));
  }

  // ---- leases ------------------------------------------------------------------------------------

  private armHeartbeat(): void {
    this.heartbeatTimer = this.o.clock.setTimer(this.o.heartbeatMs, () => {
      this.heartbeatTimer = undefined;
      this.track(this.beat());
    });
  }

  private async beat(): Promise<void> {
    const holding = [...this.held.values()].filter((h) => !h.lost && h.phase !== 'settling');
    if (holding.length > 0) {
      try {
        const kept = await renewLeases(
          this.o.store,
          holding.map((h) => ({ id: h.task.id, token: h.task.token })),
          this.o.clock.now() + this.o.leaseMs,
        );
        const gone = holding.filter((h) => !kept.has(h.task.id) && !h.lost && h.phase !== 'settling');
        if (gone.length > 0) await this.lose(gone);
      } catch (error) {
        this.emitter.emit('error', { error });
      }
    }
    if (this.current === 'running' || this.current === 'stopping') this.armHeartbeat();
  }

  /** Leases found gone: abort their handlers, count them, and tell why. */
  private async lose(list: Held[]): Promise<void> {
    for (const h of list) {
      h.lost = true;
      this.held.delete(h.task.id);
    }
    let reasons = new Map<number, string>();
    try {
      reasons = await lossReasons(
        this.o.store,
        list.map((h): Lease => ({ id: h.task.id, token: h.task.token })),
      );
    } catch (error) {
      this.emitter.emit('error', { error });
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
    // Counted in the store first, then reported.
    for (const [queue, n] of perQueue) {
      await bumpCounter(this.o.store, queue, 'lease_lost', n).catch((error: unknown) =>
        this.emitter.emit('error', { error }),
      );
    }
    for (const loss of losses) {
      this.counters.leaseLost++;
      this.emitter.emit('leaseLost', loss);
    }
  }

  private cancelled(h: Held): void {
    abort(h, new QueueError(QueueErrorCode.taskCancelled, `task ${h.task.id} was cancelled`));
    this.counters.cancelled++;
    this.emitter.emit('cancelled', { task: h.task });
  }

  private onCancel(payload: string): void {
    const h = this.held.get(Number(payload));
    if (h === undefined || h.lost) return;
    h.lost = true;
    this.held.delete(h.task.id);
    this.cancelled(h);
  }

  // ---- local hand-off ----------------------------------------------------------------------------

  reserveHandoff(queue: string): HandoffSlot | undefined {
    if (this.current !== 'running' || !this.short || this.wantClaim || this.claimsInFlight > 0)
      return undefined;
    const def = this.defs.get(queue);
    if (def === undefined || def.limited) return undefined;
    if (this.active + this.buffered() + this.reserved >= this.o.concurrency) return undefined;
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
        const h: Held = {
          task,
          retain,
          phase: 'buffered',
          lost: false,
          controller: undefined,
          abortReason: undefined,
        };
        this.held.set(task.id, h);
        this.counters.claimed++;
        this.emitter.emit('claimed', { count: 1 });
        this.buffer.push(h);
        if (this.current === 'running') this.startBuffered();
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
    // The deadline counts from the stop request.
    let expired = timeoutMs <= 0;
    const deadline = expired
      ? undefined
      : this.o.clock.setTimer(timeoutMs, () => {
          expired = true;
          this.notifyWaiters();
        });
    this.unregister?.();
    this.wakeTimer?.cancel();
    await Promise.allSettled(this.unlisteners.map((u) => u()));
    await this.until(() => this.claimsInFlight === 0 && !this.checkingIdle && this.reserved === 0);

    const unstarted: Held[] = [];
    for (let i = this.bufferHead; i < this.buffer.length; i++) {
      const h = this.buffer[i]!;
      if (!h.lost) unstarted.push(h);
    }
    this.buffer = [];
    this.bufferHead = 0;
    await this.release(unstarted, true);

    await this.until(() => this.active === 0 || expired);
    deadline?.cancel();
    if (this.active > 0) {
      const running = [...this.held.values()].filter((h) => h.phase === 'running' && !h.lost);
      for (const h of running) {
        abort(
          h,
          new QueueError(QueueErrorCode.workerStopped, `worker ${this.id} stopped before the task finished`),
        );
      }
      await this.release(running, false);
    }
    await this.completer.idle();
    while (this.settling.size > 0) await Promise.allSettled([...this.settling]);
    this.heartbeatTimer?.cancel();
    this.current = 'stopped';
  }

  /** Gives leases back to the queue so another worker can take them at once. */
  private async release(list: Held[], unstarted: boolean): Promise<void> {
    if (list.length === 0) return;
    for (const h of list) {
      h.lost = true;
      this.held.delete(h.task.id);
    }
    try {
      const released = await releaseTasks(
        this.o.store,
        list.map((h) => ({ id: h.task.id, token: h.task.token })),
        unstarted,
      );
      this.counters.released += released.size;
    } catch (error) {
      // Not given back: the leases simply expire and the tasks are taken over then.
      this.emitter.emit('error', { error });
    }
  }
}

/** Creates a worker; call `start()` to begin. */
export function createWorker<P = unknown>(options: WorkerOptions<P>): Worker<P> {
  return new Worker(options);
}

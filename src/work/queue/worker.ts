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
  private readonly completer: CompletionBatcher<Completion>;
  private current: WorkerState = 'new';
  private readonly held = new Map<number, Held>();
  private buffer: Held[] = [];
  private bufferHead = 0;
  private active = 0;
  private reserved = 0;
  private claiming: Promise<void> | undefined;
  private wantClaim = false;
  /** The last claim found fewer runnable tasks than it asked for. */
  private short = false;
  private wakeTimer: TimerHandle | undefined;
  private wakeAt = Infinity;
  /** Set when a claim loop ends waiting; reported as `idle` once the loop has finished. */
  private idleAt: number | undefined;
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
    const store = this.o.store;
    this.completer = new CompletionBatcher<Completion>({
      flush: (items) => completeTasks(store, items, this.o.clock.now()),
      key: (c) => c.id,
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

  private maybeClaim(): void {
    if (this.current !== 'running' || this.claiming !== undefined) return;
    if (this.short && !this.wantClaim) return;
    const room = this.room();
    const threshold = this.buffered() === 0 ? 1 : Math.ceil(this.o.batchSize / 2);
    if (room < threshold) return;
    this.claiming = this.claimLoop().finally(() => {
      this.claiming = undefined;
      const idleAt = this.idleAt;
      this.idleAt = undefined;
      if (idleAt !== undefined && !this.wantClaim) this.emitter.emit('idle', { wakeAt: idleAt });
      this.notifyWaiters();
      this.maybeClaim();
    });
  }

  private async claimLoop(): Promise<void> {
    while (this.current === 'running') {
      const room = this.room();
      if (room < 1) return;
      const limit = Math.min(this.o.batchSize, room);
      this.wantClaim = false;
      let rows: ClaimRow[];
      try {
        rows = await this.claimFromQueues(limit);
        this.errorStreak = 0;
      } catch (error) {
        this.emitter.emit('error', { error });
        this.errorStreak++;
        const delay = Math.min(this.o.pollIntervalMs, 50 * 2 ** Math.min(this.errorStreak, 10));
        this.armWake(this.o.clock.now() + delay);
        return;
      }
      const leased = this.accept(inClaimOrder(rows));
      this.startBuffered();
      if (leased < limit) {
        this.short = true;
        if (this.wantClaim) continue;
        await this.armWakeFromStore();
        if (this.wantClaim) continue;
        return;
      }
      this.short = false;
      if (this.room() < Math.ceil(this.o.batchSize / 2)) return;
    }
  }

  private async claimFromQueues(limit: number): Promise<ClaimRow[]> {
    const now = this.o.clock.now();
    const base = { now, leaseUntil: now + this.o.leaseMs, workerId: this.id };
    let rows: ClaimRow[] = [];
    let leased = 0;
    if (this.fastQueues.length > 0) {
      rows = await claimTasks(this.o.store, { ...base, queues: this.fastQueues, limit });
      for (const r of rows) if (r.state === TaskState.running) leased++;
    }
    for (const def of this.limitedQueues) {
      if (leased >= limit) break;
      const more = await claimLimited(this.o.store, def, {
        ...base,
        queues: [def.name],
        limit: limit - leased,
      });
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

  private async armWakeFromStore(): Promise<void> {
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
    if (!this.wantClaim) {
      this.armWake(at);
      this.idleAt = at;
    }
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
    while (this.active < this.o.concurrency && this.bufferHead < this.buffer.length) {
      const h = this.buffer[this.bufferHead]!;
      this.bufferHead++;
      if (!h.lost) this.run(h);
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
      // Settled on a microtask, like a rejected promise, so a synchronous throw cannot recurse into pump.
      queueMicrotask(() => this.finished(h, started, false, error));
      return;
    }
    Promise.resolve(result).then(
      () => this.finished(h, started, true, undefined),
      (error: unknown) => this.finished(h, started, false, error),
    );
  }

  private finished(h: Held, started: number, ok: boolean, error: unknown): void {
    this.active--;
    const took = this.o.clock.now() - started;
    this.avgDurationMs = this.avgDurationMs === 0 ? took : this.avgDurationMs * 0.9 + took * 0.1;
    if (!h.lost) {
      h.phase = 'settling';
      if (ok) this.complete(h);
      else this.fail(h, error);
    }
    this.notifyWaiters();
    this.pump();
  }

  private complete(h: Held): void {
    const id = h.task.id;
    this.track(
      this.completer.add({ id, token: h.task.token, retain: h.retain }).then(
        (accepted) => {
          if (h.lost) return;
          if (!accepted) return this.lose([h]);
          this.held.delete(id);
          this.counters.completed++;
          this.emitter.emit('completed', { task: h.task });
          this.settled(h.task.queue);
        },
        (error: unknown) => this.dropOnError(h, error),
      ),
    );
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
    if (this.current !== 'running' || !this.short || this.wantClaim || this.claiming !== undefined)
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
    await this.until(() => this.claiming === undefined && this.reserved === 0);

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

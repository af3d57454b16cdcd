import type { Behaviour, CallResult, ProcessContext } from './behaviour.js';
import type { CallRecord } from './call.js';
import type { TimerHandle } from './clock.js';
import { Deque } from './deque.js';
import { BadMessageError, MailboxFullError } from './errors.js';
import { MonitorRecord, type MonitorRef } from './monitors.js';
import type { OverflowPolicy, SpawnOptions } from './options.js';
import type { Pid, ProcessRef } from './pid.js';
import type { ExitReason, ExitSignal } from './reasons.js';
import type { Runtime } from './runtime.js';

/** Life of a process. Numbers, so the hot path compares small integers. */
export const STARTING = 0;
export const RUNNING = 1;
export const EXITING = 2;
export const DEAD = 3;

export const CALL = 0;
export const CAST = 1;
export const INFO = 2;
type Kind = typeof CALL | typeof CAST | typeof INFO;

/** What `cast` and `send` resolve to: the message is in the mailbox, or the process's `drop` policy dropped it. */
export type CastOutcome = 'queued' | 'dropped';

// Shared settled promises: a cast that fits costs no promise allocation.
const QUEUED: Promise<CastOutcome> = Promise.resolve('queued');
const DROPPED: Promise<CastOutcome> = Promise.resolve('dropped');

export class Envelope {
  constructor(
    readonly kind: Kind,
    readonly msg: unknown,
    readonly from: CallRecord | undefined,
  ) {}
}

/** A sender waiting for room in a `block` mailbox. */
export interface BlockedSender {
  readonly env: Envelope;
  readonly resolve: (outcome: CastOutcome) => void;
  readonly reject: (error: unknown) => void;
  timer: TimerHandle | undefined;
  /** Admitted, timed out, or its call settled: skip it. */
  done: boolean;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * One process. Everything an idle process holds is a field here; queues and sets are allocated only while
 * in use, so an idle process costs a few hundred bytes. It is also the `ProcessContext` its callbacks get
 * (no per-process context object).
 */
export class Proc implements ProcessContext {
  status: number = STARTING;
  /** A drain, `init` or `terminate` owns the process; nothing else may start one. */
  busy = true;
  trapping: boolean;
  state: unknown = undefined;
  mailbox: Deque<Envelope> | undefined = undefined;
  waiters: Deque<BlockedSender> | undefined = undefined;
  links: Set<Proc> | undefined = undefined;
  monitoredBy: Set<MonitorRecord> | undefined = undefined;
  monitoring: Set<MonitorRecord> | undefined = undefined;
  dropped = 0;
  exitReason: ExitReason | undefined = undefined;
  stopRequest: ExitReason | undefined = undefined;

  constructor(
    readonly rt: Runtime,
    readonly pid: Pid,
    readonly behaviour: Behaviour<unknown, unknown>,
    readonly name: string | undefined,
    readonly parent: Pid | undefined,
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    trapping: boolean,
  ) {
    this.trapping = trapping;
  }

  // ProcessContext

  get self(): Pid {
    return this.pid;
  }

  get runtime(): Runtime {
    return this.rt;
  }

  monitor(target: ProcessRef): MonitorRef {
    return this.rt.monitor(target, this.pid);
  }

  demonitor(ref: MonitorRef): boolean {
    return this.rt.demonitor(ref);
  }

  link(target: ProcessRef): void {
    this.rt.link(this.pid, target);
  }

  unlink(target: ProcessRef): void {
    this.rt.unlink(this.pid, target);
  }

  trapExit(on: boolean): void {
    this.trapping = on;
  }

  exit(target: ProcessRef, reason: ExitSignal): void {
    this.rt.signal(target, reason, this.pid);
  }

  stop(reason: ExitReason = 'normal'): void {
    if (this.status >= EXITING) return;
    if (this.busy) this.stopRequest ??= reason;
    else this.beginExit(reason);
  }

  spawnLink<S, A>(
    behaviour: Behaviour<S, A>,
    args: A,
    options: Omit<SpawnOptions, 'link'> = {},
  ): Promise<Pid> {
    return this.rt.spawn(behaviour, args, { ...options, link: this.pid });
  }

  // Mailbox

  /** A runtime message (DOWN, EXIT, a supervisor's or pool's note to itself): never refused, never dropped. */
  deliver(msg: unknown): void {
    if (this.status >= EXITING) return;
    (this.mailbox ??= new Deque()).push(new Envelope(INFO, msg, undefined));
    this.schedule();
  }

  /** A cast or send, under the overflow policy. */
  offer(kind: typeof CAST | typeof INFO, msg: unknown, blockTimeoutMs: number): Promise<CastOutcome> {
    const box = (this.mailbox ??= new Deque());
    if (this.waiters !== undefined && box.size < this.capacity) this.admitWaiter();
    if (box.size < this.capacity && this.waiters === undefined) {
      box.push(new Envelope(kind, msg, undefined));
      this.schedule();
      return QUEUED;
    }
    if (this.overflow === 'drop') {
      this.dropped++;
      if (this.rt.observed) {
        const at = this.rt.clock.now();
        this.rt.emit({
          type: 'mailbox_drop',
          at,
          pid: this.pid,
          capacity: this.capacity,
          droppedTotal: this.dropped,
        });
      }
      return DROPPED;
    }
    this.reportOverflow(this.overflow);
    if (this.overflow === 'reject') return Promise.reject(new MailboxFullError(this.pid, this.capacity));
    return new Promise<CastOutcome>((resolve, reject) => {
      const w: BlockedSender = {
        env: new Envelope(kind, msg, undefined),
        resolve,
        reject,
        timer: undefined,
        done: false,
      };
      if (Number.isFinite(blockTimeoutMs)) {
        w.timer = this.rt.clock.setTimer(blockTimeoutMs, () => {
          if (w.done) return;
          w.done = true;
          reject(new MailboxFullError(this.pid, this.capacity, blockTimeoutMs));
        });
      }
      (this.waiters ??= new Deque()).push(w);
    });
  }

  /** A call: queued, made to wait (`block`), or failed with `mailbox_full` (calls are never dropped). */
  offerCall(msg: unknown, rec: CallRecord): void {
    const env = new Envelope(CALL, msg, rec);
    const box = (this.mailbox ??= new Deque());
    if (this.waiters !== undefined && box.size < this.capacity) this.admitWaiter();
    if (box.size < this.capacity && this.waiters === undefined) {
      box.push(env);
      this.schedule();
      return;
    }
    this.reportOverflow(this.overflow === 'block' ? 'block' : 'reject');
    if (this.overflow !== 'block') {
      rec.fail(new MailboxFullError(this.pid, this.capacity));
      return;
    }
    const w: BlockedSender = {
      env,
      resolve: () => undefined,
      reject: (e) => rec.fail(e),
      timer: undefined,
      done: false,
    };
    rec.waiter = w;
    (this.waiters ??= new Deque()).push(w);
  }

  private reportOverflow(policy: 'reject' | 'block'): void {
    if (!this.rt.observed) return;
    this.rt.emit({
      type: 'mailbox_overflow',
      at: this.rt.clock.now(),
      pid: this.pid,
      policy,
      capacity: this.capacity,
    });
  }

  schedule(): void {
    if (this.busy || this.status !== RUNNING || this.mailbox === undefined || this.mailbox.size === 0) return;
    this.busy = true;
    queueMicrotask(() => void this.drain());
  }

  private admitWaiter(): void {
    const ws = this.waiters;
    const box = this.mailbox;
    if (ws === undefined || box === undefined) return;
    while (ws.size > 0 && box.size < this.capacity) {
      const w = ws.shift() as BlockedSender;
      if (w.done) continue;
      w.done = true;
      w.timer?.cancel();
      box.push(w.env);
      w.resolve('queued');
    }
    if (ws.size === 0) this.waiters = undefined;
    this.schedule();
  }

  // The loop

  private async drain(): Promise<void> {
    while (this.status === RUNNING) {
      const env = this.mailbox?.shift();
      if (env === undefined) break;
      this.admitWaiter();
      try {
        const pending = this.dispatch(env);
        if (pending !== undefined) await pending;
      } catch (error) {
        // A crash. After `kill` the handler's outcome no longer matters: the process is gone.
        if (this.status === RUNNING) this.beginExit({ error });
        else if (this.status === EXITING) this.exitReason = { error };
      }
      if (this.stopRequest !== undefined && this.status === RUNNING) this.beginExit(this.stopRequest);
    }
    if (this.status === EXITING) {
      await this.runTerminate();
      return;
    }
    this.busy = false;
    if (this.status !== RUNNING) return;
    const box = this.mailbox;
    if (box !== undefined && box.size === 0 && this.waiters === undefined && box.allocated > 16)
      this.mailbox = undefined;
    this.schedule();
  }

  private dispatch(env: Envelope): PromiseLike<unknown> | undefined {
    const b = this.behaviour;
    if (env.kind === CALL) {
      const from = env.from as CallRecord;
      if (b.handleCall === undefined) throw new BadMessageError(this.pid, 'got a call but has no handleCall');
      const out = b.handleCall(env.msg, from, this.state, this);
      if (isThenable(out)) return out.then((r) => this.applyCall(r, from));
      this.applyCall(out, from);
      return undefined;
    }
    if (env.kind === CAST) {
      if (b.handleCast === undefined) throw new BadMessageError(this.pid, 'got a cast but has no handleCast');
      const out = b.handleCast(env.msg, this.state, this);
      if (isThenable(out)) return out.then((s) => this.applyState(s));
      this.state = out;
      return undefined;
    }
    const msg = env.msg;
    const ref = (msg as { ref?: unknown } | null)?.ref;
    if (ref instanceof MonitorRecord && ref.flushed) return undefined; // demonitored after the DOWN was queued
    if (b.handleInfo === undefined) {
      if (this.rt.observed)
        this.rt.emit({ type: 'unhandled_info', at: this.rt.clock.now(), pid: this.pid, message: msg });
      return undefined;
    }
    const out = b.handleInfo(msg, this.state, this);
    if (isThenable(out)) return out.then((s) => this.applyState(s));
    this.state = out;
    return undefined;
  }

  private applyState(state: unknown): void {
    if (this.status !== DEAD) this.state = state;
  }

  private applyCall(r: CallResult<unknown>, from: CallRecord): void {
    if (typeof r !== 'object' || r === null || !('state' in r)) {
      throw new BadMessageError(
        this.pid,
        'handleCall must return { reply, state } or { noreply: true, state }',
      );
    }
    if ('reply' in r) from.reply(r.reply);
    else if (r.noreply !== true) {
      throw new BadMessageError(
        this.pid,
        'handleCall must return { reply, state } or { noreply: true, state }',
      );
    }
    this.applyState(r.state);
  }

  // Exit

  /** Starts a graceful exit: no more messages are handled; `terminate` runs once the current handler returns. */
  beginExit(reason: ExitReason): void {
    if (this.status >= EXITING) return;
    this.status = EXITING;
    this.exitReason = reason;
    if (!this.busy) {
      this.busy = true;
      void this.runTerminate();
    }
  }

  /** Ends the process at once: no `terminate`; a running handler's outcome is ignored. */
  kill(): void {
    this.rt.finalize(this, 'killed');
  }

  async runTerminate(): Promise<void> {
    const reason = this.exitReason as ExitReason;
    if (this.behaviour.terminate !== undefined && this.status !== DEAD) {
      try {
        await this.behaviour.terminate(reason, this.state, this);
      } catch (error) {
        if (this.rt.observed)
          this.rt.emit({ type: 'terminate_failed', at: this.rt.clock.now(), pid: this.pid, error });
        else process.emitWarning(`terminate of ${this.pid.toString()} threw: ${String(error)}`);
      }
    }
    this.rt.finalize(this, reason);
  }
}

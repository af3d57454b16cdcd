import { ValidationError } from '../errors.js';
import type { Behaviour, DownMessage, ExitMessage, From } from './behaviour.js';
import { CallRecord } from './call.js';
import type { Clock } from './clock.js';
import {
  CallTimeoutError,
  InitFailedError,
  NameTakenError,
  NoProcError,
  ProcessExitedError,
  isRuntimeError,
} from './errors.js';
import type { RuntimeEventSink, MonitorInfo, RuntimeEvent } from './events.js';
import { MonitorRecord, MonitorTable, type DownWatcher, type MonitorRef } from './monitors.js';
import {
  checkTimeout,
  timeoutOption,
  parseRuntimeOptions,
  parseSpawnOptions,
  type ProcessCallOptions,
  type ProcessCastOptions,
  type ProcessStopOptions,
  type RuntimeOptions,
  type SpawnOptions,
} from './options.js';
import { Pid, type ProcessRef } from './pid.js';
import { processInfo, type ProcessInfo } from './process-info.js';
import { CAST, DEAD, EXITING, INFO, Proc, RUNNING, type CastOutcome } from './process.js';
import { addLink, deliverSignal, propagateExit, rejectWaiters } from './exits.js';
import { ProcessTable } from './process-table.js';
import type { ExitReason, ExitSignal } from './reasons.js';

export type { ProcessCallOptions, ProcessCastOptions, ProcessStopOptions } from './options.js';
export type { ProcessInfo } from './process-info.js';

const NO_OPTIONS: SpawnOptions = {};

/**
 * The process system: a table of processes, their names, monitors and links. Create one per node (and one
 * per test) with `createRuntime`; there is no global instance.
 */
export class Runtime {
  readonly clock: Clock;
  private readonly sink: RuntimeEventSink | undefined;
  private readonly mailboxCapacity: number;
  private readonly callTimeoutMs: number;
  private readonly procs = new ProcessTable();
  private readonly monitors: MonitorTable;

  constructor(options: RuntimeOptions) {
    const o = parseRuntimeOptions(options);
    this.clock = o.clock;
    this.sink = o.events;
    this.mailboxCapacity = o.mailboxCapacity;
    this.callTimeoutMs = o.callTimeoutMs;
    this.monitors = new MonitorTable(
      this.clock,
      (watcher, msg) => watcher.deliver(msg),
      (target, error) => {
        if (this.sink !== undefined && typeof target !== 'string') {
          this.emit({ type: 'watcher_failed', at: this.clock.now(), target, error });
        } else {
          process.emitWarning(`a DOWN callback threw: ${String(error)}`);
        }
      },
    );
  }

  /** Live processes (starting, running or exiting). */
  get processCount(): number {
    return this.procs.size;
  }

  /** Active monitors, pending calls' included. */
  get monitorCount(): number {
    return this.monitors.size;
  }

  /**
   * Starts a process: registers it (and its name), links it to `options.link`, runs `init`, and resolves
   * with its pid once `init` returned. Messages sent meanwhile wait in its mailbox. If `init` throws (or the
   * process is told to exit before `init` returned) the spawn fails with `init_failed` and the process exits
   * with that reason; its links and monitors are told.
   */
  async spawn<S, A>(behaviour: Behaviour<S, A>, args: A, options?: SpawnOptions): Promise<Pid> {
    const o = options === undefined ? NO_OPTIONS : parseSpawnOptions(options);
    if (typeof behaviour !== 'object' || behaviour === null || typeof behaviour.init !== 'function') {
      throw new ValidationError('a behaviour needs an init function');
    }
    if (o.name !== undefined && this.procs.nameTaken(o.name)) throw new NameTakenError(o.name);
    let parent: Proc | undefined;
    if (o.link !== undefined) {
      parent = this.lookup(o.link);
      if (parent === undefined || parent.status >= EXITING)
        throw new NoProcError(o.link, 'cannot link a new process to it');
    }
    const pid = this.procs.nextPid();
    const proc = new Proc(
      this,
      pid,
      behaviour,
      o.name,
      o.link,
      o.mailboxCapacity ?? this.mailboxCapacity,
      o.overflow ?? 'reject',
      o.trapExit ?? false,
    );
    this.procs.add(proc);
    if (parent !== undefined) addLink(proc, parent);
    if (this.sink !== undefined) this.emit({ type: 'spawn', at: this.clock.now(), pid, name: o.name });

    let state: S;
    try {
      state = await behaviour.init(args, proc);
    } catch (error) {
      if (this.sink !== undefined)
        this.emit({ type: 'init_failed', at: this.clock.now(), pid, name: o.name, error });
      this.finalize(proc, { error });
      throw new InitFailedError(pid, error);
    }
    if (proc.status === DEAD)
      throw new InitFailedError(pid, new ProcessExitedError(pid, proc.exitReason ?? 'killed'));
    proc.state = state;
    const early = proc.status === EXITING ? proc.exitReason : proc.stopRequest;
    if (early !== undefined) {
      proc.status = EXITING;
      proc.exitReason = early;
      await proc.runTerminate();
      throw new InitFailedError(pid, new ProcessExitedError(pid, early));
    }
    proc.status = RUNNING;
    proc.busy = false;
    proc.schedule();
    return pid;
  }

  /**
   * Sends a call and waits for the reply. Fails with `noproc` if no such process is alive, `mailbox_full`
   * if its mailbox refuses the call, `call_timeout` after `timeoutMs`, or `process_exited` (with the callee's
   * exit reason) as soon as the callee exits while the call is pending — the call monitors the callee for
   * exactly its own duration.
   */
  call<R = unknown>(ref: ProcessRef, msg: unknown, options?: ProcessCallOptions): Promise<R> {
    const timeoutMs = timeoutOption('call timeoutMs', options?.timeoutMs, this.callTimeoutMs);
    if (typeof timeoutMs !== 'number') return Promise.reject(timeoutMs);
    const proc = this.lookup(ref);
    if (proc === undefined || proc.status >= EXITING) return Promise.reject(new NoProcError(ref));
    return new Promise<R>((resolve, reject) => {
      const rec = new CallRecord<R>(this.monitors, ref, resolve, reject);
      rec.monitor = this.monitors.create(proc, rec);
      if (Number.isFinite(timeoutMs)) {
        rec.timer = this.clock.setTimer(timeoutMs, () => rec.fail(new CallTimeoutError(ref, timeoutMs)));
      }
      proc.offerCall(msg, rec as CallRecord);
    });
  }

  /**
   * Puts a message in a process's mailbox for `handleCast`. Resolves `'queued'` once it is there (not once it
   * is handled: use `call` for that), or `'dropped'` when the process's `drop` policy dropped it. Fails with
   * `noproc` or `mailbox_full`; never drops silently.
   */
  cast(ref: ProcessRef, msg: unknown, options?: ProcessCastOptions): Promise<CastOutcome> {
    return this.offer(ref, CAST, msg, options);
  }

  /** Like `cast`, for `handleInfo` (notifications, timer messages). */
  send(ref: ProcessRef, msg: unknown, options?: ProcessCastOptions): Promise<CastOutcome> {
    return this.offer(ref, INFO, msg, options);
  }

  /** Replies to a call (see `From`); false when the caller no longer waits. */
  reply<R>(from: From<R>, value: R): boolean {
    return from.reply(value);
  }

  /**
   * Monitors `target`. The watcher — a process, which gets a DOWN info message, or a callback — learns once
   * when the target exits, with its reason; at once with `noproc` if it is not alive. The monitor is released
   * when it fires, when `demonitor` is called, or when the watching process exits.
   */
  monitor(
    target: ProcessRef,
    watcher: Pid | ((down: DownMessage) => void),
    options?: { label?: string },
  ): MonitorRef {
    let w: Proc | DownWatcher;
    if (typeof watcher === 'function') {
      w = { label: options?.label ?? 'callback', down: watcher };
    } else {
      const p = this.lookup(watcher);
      if (p === undefined) throw new NoProcError(watcher, 'a dead process cannot monitor');
      w = p;
    }
    const t = this.lookup(target);
    return t === undefined ? this.monitors.createForMissing(target, w) : this.monitors.create(t, w);
  }

  /** Releases a monitor (a DOWN already queued for it is not delivered). True when it was active. */
  demonitor(ref: MonitorRef): boolean {
    if (!(ref instanceof MonitorRecord)) throw new ValidationError('not a monitor of this runtime');
    return this.monitors.release(ref);
  }

  /** Active monitors created at least `ageMs` ago (runtime clock), oldest first: the leak check. */
  monitorsOlderThan(ageMs: number): MonitorInfo[] {
    return this.monitors.olderThan(checkTimeout('ageMs', ageMs));
  }

  /** Like `monitorsOlderThan`, and emits a `monitor_leak` event for each. */
  checkMonitorLeaks(ageMs: number): MonitorInfo[] {
    const old = this.monitorsOlderThan(ageMs);
    if (this.sink !== undefined)
      for (const monitor of old) this.emit({ type: 'monitor_leak', at: this.clock.now(), monitor });
    return old;
  }

  /**
   * Links two processes. If `b` is not alive, `a` gets an exit signal with reason `noproc` (an EXIT message
   * if it traps exits; otherwise this throws `noproc`).
   */
  link(a: ProcessRef, b: ProcessRef): void {
    const pa = this.lookup(a);
    if (pa === undefined || pa.status === DEAD) throw new NoProcError(a);
    const pb = this.lookup(b);
    if (pb === undefined) {
      if (!pa.trapping) throw new NoProcError(b, 'cannot link to it');
      const from = typeof b === 'string' ? undefined : b;
      pa.deliver({ type: 'EXIT', from, reason: 'noproc' } satisfies ExitMessage);
      return;
    }
    if (pa !== pb) addLink(pa, pb);
  }

  unlink(a: ProcessRef, b: ProcessRef): void {
    const pa = this.lookup(a);
    const pb = this.lookup(b);
    if (pa === undefined || pb === undefined) return;
    pa.links?.delete(pb);
    pb.links?.delete(pa);
  }

  /**
   * Sends an exit signal from outside any process. `kill` ends the process at once (reason `killed`, no
   * `terminate`). Otherwise a process trapping exits gets an EXIT message; one that does not exits with the
   * reason once its current handler returns (`normal` is ignored). Returns false when no process was alive.
   */
  exit(target: ProcessRef, reason: ExitSignal): boolean {
    return this.signal(target, reason, undefined);
  }

  /** `exit(target, 'kill')`. */
  kill(target: ProcessRef): boolean {
    return this.signal(target, 'kill', undefined);
  }

  /**
   * Asks a process to stop with `reason` even if it traps exits, and resolves with its exit reason once it
   * is gone (`killed` if `terminate` outlasted `timeoutMs`). Fails with `noproc` when it is not alive.
   */
  stop(ref: ProcessRef, reason: ExitReason = 'normal', options?: ProcessStopOptions): Promise<ExitReason> {
    const timeoutMs = timeoutOption('stop timeoutMs', options?.timeoutMs, 5000);
    if (typeof timeoutMs !== 'number') return Promise.reject(timeoutMs);
    const proc = this.lookup(ref);
    if (proc === undefined) return Promise.reject(new NoProcError(ref));
    return new Promise<ExitReason>((resolve) => {
      const timer = Number.isFinite(timeoutMs)
        ? this.clock.setTimer(timeoutMs, () => proc.kill())
        : undefined;
      this.monitors.create(proc, {
        label: 'stop',
        down: (d) => {
          timer?.cancel();
          resolve(d.reason);
        },
      });
      proc.beginExit(reason);
    });
  }

  /** The pid registered under `name`, if a process has it. */
  whereis(name: string): Pid | undefined {
    return this.procs.lookup(name)?.pid;
  }

  isAlive(ref: ProcessRef): boolean {
    const p = this.lookup(ref);
    return p !== undefined && p.status < EXITING;
  }

  info(ref: ProcessRef): ProcessInfo | undefined {
    const p = this.lookup(ref);
    return p === undefined ? undefined : processInfo(p);
  }

  /** Every live process's pid, in spawn order. */
  pids(): Pid[] {
    return this.procs.all().map((p) => p.pid);
  }

  /**
   * Stops every process: those without a live parent first, newest first, each with `stop(…, 'shutdown')`
   * (so supervisors take their trees down in order); whatever is left is killed.
   */
  async shutdown(options?: ProcessStopOptions): Promise<void> {
    const roots = this.procs
      .all()
      .filter((p) => p.parent === undefined || !this.procs.has(p.parent))
      .reverse();
    for (const p of roots) {
      if (p.status === DEAD) continue;
      try {
        await this.stop(p.pid, 'shutdown', options);
      } catch (error) {
        if (!isRuntimeError(error, 'noproc')) throw error; // already gone: that is what we wanted
      }
    }
    for (const p of this.procs.all()) p.kill();
  }

  // Internals shared with the process, supervisor and pool modules.

  /** @internal */
  lookup(ref: ProcessRef): Proc | undefined {
    return this.procs.lookup(ref);
  }

  /** @internal A runtime message to a process (never refused); false when it is not alive. */
  deliverSystem(ref: ProcessRef, msg: unknown): boolean {
    const p = this.lookup(ref);
    if (p === undefined || p.status >= EXITING) return false;
    p.deliver(msg);
    return true;
  }

  /** @internal */
  signal(ref: ProcessRef, reason: ExitSignal, from: Pid | undefined): boolean {
    const p = this.lookup(ref);
    if (p === undefined) return false;
    deliverSignal(p, reason, from);
    return true;
  }

  /** @internal Ends a process for good: tells its monitors and links, frees its name. */
  finalize(proc: Proc, reason: ExitReason): void {
    if (proc.status === DEAD) return;
    proc.status = DEAD;
    proc.exitReason = reason;
    this.procs.remove(proc);
    const discarded = proc.mailbox?.size ?? 0;
    proc.mailbox = undefined;
    if (this.sink !== undefined) {
      const at = this.clock.now();
      this.emit({ type: 'exit', at, pid: proc.pid, name: proc.name, reason, discardedMessages: discarded });
    }
    rejectWaiters(proc, reason);
    this.monitors.watcherExited(proc);
    this.monitors.targetExited(proc, reason);
    propagateExit(proc, reason);
    proc.state = undefined;
  }

  /** @internal True when an event sink listens (events are only built then). */
  get observed(): boolean {
    return this.sink !== undefined;
  }

  /** @internal */
  emit(event: RuntimeEvent): void {
    if (this.sink === undefined) return;
    try {
      this.sink(event);
    } catch (error) {
      // The sink is observability; a broken one must not break the runtime, but it is not hidden either.
      process.emitWarning(`runtime event sink threw on ${event.type}: ${String(error)}`);
    }
  }

  private offer(
    ref: ProcessRef,
    kind: typeof CAST | typeof INFO,
    msg: unknown,
    options?: ProcessCastOptions,
  ): Promise<CastOutcome> {
    const timeoutMs = timeoutOption('cast timeoutMs', options?.timeoutMs, this.callTimeoutMs);
    if (typeof timeoutMs !== 'number') return Promise.reject(timeoutMs);
    const p = this.lookup(ref);
    if (p === undefined || p.status >= EXITING) return Promise.reject(new NoProcError(ref));
    return p.offer(kind, msg, timeoutMs);
  }
}

/** Creates a process system. Tests create their own, with a `VirtualClock`. */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new Runtime(options);
}

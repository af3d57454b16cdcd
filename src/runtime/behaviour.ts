import type { MonitorRef } from './monitors.js';
import type { Pid, ProcessRef } from './pid.js';
import type { ExitReason, ExitSignal } from './reasons.js';
import type { Runtime } from './runtime.js';
import type { SpawnOptions } from './options.js';

/** Delivered to a monitoring process (as an info message) when the monitored process exits. */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: MonitorRef;
  /** The monitored process: its pid, or the name that was monitored when no process had it. */
  readonly target: ProcessRef;
  readonly reason: ExitReason;
}

/** Delivered to a process that traps exits when a linked process exits (or someone sends it an exit signal). */
export interface ExitMessage {
  readonly type: 'EXIT';
  /** The linked process that exited, or the process that sent the signal; undefined when sent from outside any process. */
  readonly from: Pid | undefined;
  readonly reason: ExitReason;
}

/** True when an info message is a DOWN message from a monitor. */
export function isDown(msg: unknown): msg is DownMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'DOWN';
}

/** True when an info message is a trapped exit. */
export function isExit(msg: unknown): msg is ExitMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'EXIT';
}

/** Where a call's reply goes. Reply at most once; replies after the caller gave up are ignored. */
export interface From<R = unknown> {
  /** True until a reply is sent or the caller stops waiting (timeout, callee exit). */
  readonly pending: boolean;
  /** Sends the reply; returns false when the caller no longer waits. */
  reply(value: R): boolean;
}

/** What `handleCall` returns: a reply now, or no reply yet (send it later with `from.reply` / `reply(from, v)`). */
export type CallResult<S, R = unknown> = { reply: R; state: S } | { noreply: true; state: S };

/**
 * What a handler can do besides returning its new state. The context is passed to every callback; it is
 * only valid for the process it was given to.
 */
export interface ProcessContext {
  /** This process. */
  readonly self: Pid;
  /** Its registered name, if any. */
  readonly name: string | undefined;
  /** The process it was spawned linked to (its supervisor), if any. */
  readonly parent: Pid | undefined;
  /** The runtime, to call, cast to and spawn other processes. */
  readonly runtime: Runtime;
  /** Monitors `target`: a DOWN info message arrives when it exits (at once with `noproc` if it is dead). */
  monitor(target: ProcessRef): MonitorRef;
  /** Releases a monitor; a DOWN already queued for it is not delivered. Returns false when it was not active. */
  demonitor(ref: MonitorRef): boolean;
  /**
   * Links this process with `target`: when either exits abnormally the other gets the exit signal. Linking a
   * dead process sends this process an exit signal with reason `noproc`.
   */
  link(target: ProcessRef): void;
  unlink(target: ProcessRef): void;
  /** While on, exit signals from links arrive as EXIT info messages instead of ending this process. */
  trapExit(on: boolean): void;
  /** Sends `target` an exit signal from this process (`kill` cannot be trapped). */
  exit(target: ProcessRef, reason: ExitSignal): void;
  /** Ends this process with `reason` (default `normal`) once the current handler returns; `terminate` runs. */
  stop(reason?: ExitReason): void;
  /** Spawns a process linked to this one. */
  spawnLink<S, A>(behaviour: Behaviour<S, A>, args: A, options?: Omit<SpawnOptions, 'link'>): Promise<Pid>;
}

/**
 * A process's code. Every callback gets the current state and returns the next one; callbacks of one process
 * run one at a time, and an async callback is awaited before the next message is handled. A callback that
 * throws ends the process with `{ error }` (after `terminate`); nothing else dies unless linked to it.
 *
 * Message parameters are `unknown` here; a behaviour narrows them with its own types (method parameters
 * are checked bivariantly, so `handleCast(msg: MyCast, …)` fits).
 */
export interface Behaviour<S = unknown, A = unknown> {
  /** Builds the initial state (may load it from the store). A throw fails the spawn with `init_failed`. */
  init(args: A, ctx: ProcessContext): S | Promise<S>;
  /** Answers a `call`. Without it, a call crashes the process with `bad_message`. */
  handleCall?(
    msg: unknown,
    from: From,
    state: S,
    ctx: ProcessContext,
  ): CallResult<S> | Promise<CallResult<S>>;
  /** Handles a `cast`. Without it, a cast crashes the process with `bad_message`. */
  handleCast?(msg: unknown, state: S, ctx: ProcessContext): S | Promise<S>;
  /** Handles `send` messages, DOWN and EXIT messages and timer messages. Without it they are reported as `unhandled_info` events. */
  handleInfo?(msg: unknown, state: S, ctx: ProcessContext): S | Promise<S>;
  /**
   * Runs once when the process exits for any reason except `killed`: after `stop`, a crash, or an exit signal.
   * It is for releasing resources, not for business logic (that belongs in the handlers: seed flaw 8).
   */
  terminate?(reason: ExitReason, state: S, ctx: ProcessContext): void | Promise<void>;
}

import type { DownMessage, From } from './behaviour.js';
import type { TimerHandle } from './clock.js';
import { NoProcError, ProcessExitedError } from './errors.js';
import type { DownWatcher, MonitorRecord, MonitorTable } from './monitors.js';
import type { ProcessRef } from './pid.js';
import type { BlockedSender } from './process.js';

/**
 * One pending call. It is the `From` the callee replies to and the watcher of the monitor the call holds
 * on the callee, so whichever comes first — reply, timeout, callee exit — settles it and releases the rest.
 */
export class CallRecord<R = unknown> implements From<R>, DownWatcher {
  readonly label = 'call';
  timer: TimerHandle | undefined = undefined;
  monitor: MonitorRecord | undefined = undefined;
  waiter: BlockedSender | undefined = undefined;
  private settled = false;

  constructor(
    private readonly monitors: MonitorTable,
    readonly target: ProcessRef,
    private readonly resolveFn: (value: R) => void,
    private readonly rejectFn: (error: unknown) => void,
  ) {}

  get pending(): boolean {
    return !this.settled;
  }

  reply(value: R): boolean {
    if (this.settled) return false;
    this.finish();
    this.resolveFn(value);
    return true;
  }

  fail(error: unknown): boolean {
    if (this.settled) return false;
    this.finish();
    this.rejectFn(error);
    return true;
  }

  down(msg: DownMessage): void {
    this.fail(
      msg.reason === 'noproc'
        ? new NoProcError(this.target)
        : new ProcessExitedError(this.target, msg.reason),
    );
  }

  private finish(): void {
    this.settled = true;
    this.timer?.cancel();
    this.timer = undefined;
    if (this.monitor !== undefined) this.monitors.release(this.monitor);
    this.monitor = undefined;
    if (this.waiter !== undefined) this.waiter.done = true;
    this.waiter = undefined;
  }
}

/** Replies to a call; returns false when the caller no longer waits. */
export function reply<R>(from: From<R>, value: R): boolean {
  return from.reply(value);
}

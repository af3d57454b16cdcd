/**
 * Time, injected. The system clock is the one place besides the scheduler that touches the host's timer
 * functions; the virtual clock lets a test run an hour of timers in milliseconds.
 */

/** A pending one-shot timer. */
export interface TimerHandle {
  /** Stops the timer; a no-op once it has fired or been cancelled. */
  cancel(): void;
}

export interface Clock {
  /** The current time in UNIX epoch ms. */
  now(): number;
  /**
   * Calls `fn` once after `delayMs` ms (0 when negative). A pending timer keeps the Node process alive,
   * so a timer nobody cancels shows up as a process that will not exit.
   */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

// Node's timers overflow past 2^31-1 ms; longer delays are chained.
const MAX_DELAY = 2_147_483_647;

/** The host's wall clock and timers. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (remaining: number) => {
      const step = Math.min(Math.max(0, remaining), MAX_DELAY);
      handle = setTimeout(() => {
        if (cancelled) return;
        if (remaining > MAX_DELAY) arm(remaining - MAX_DELAY);
        else fn();
      }, step);
    };
    arm(delayMs);
    return {
      cancel() {
        cancelled = true;
        if (handle !== undefined) clearTimeout(handle);
      },
    };
  }
}

export const systemClock: Clock = new SystemClock();

interface VirtualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Lets queued promise callbacks and I/O-free async chains run to completion. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that moves only when told. `advance(ms)` fires every timer due in that span in time order
 * (ties in creation order), letting the async work each one starts settle before the next.
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  /** Pending timers; a timer leaves the set when it fires or is cancelled, so nothing cancelled is held. */
  private readonly timers = new Set<VirtualTimer>();

  /** @param start the initial time in UNIX epoch ms (default 2026-01-01T00:00:00Z). */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: VirtualTimer = {
      at: this.current + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    this.timers.add(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
        this.timers.delete(timer);
      },
    };
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** The time the next timer is due, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    return this.nextTimer()?.at;
  }

  /** Moves time forward by `ms`, firing everything due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + Math.max(0, ms));
  }

  /** Moves time forward to `time` (UNIX epoch ms), firing everything due on the way. */
  async advanceTo(time: number): Promise<void> {
    await settle();
    for (;;) {
      const next = this.nextTimer();
      if (next === undefined || next.at > time) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      this.timers.delete(next);
      next.fn();
      await settle();
    }
    this.current = Math.max(this.current, time);
    await settle();
  }

  /** Fires timers until none is pending or `limit` have fired; returns how many fired. */
  async runAll(limit = 10_000): Promise<number> {
    let fired = 0;
    await settle();
    for (;;) {
      const next = this.nextTimer();
      if (next === undefined || fired >= limit) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      this.timers.delete(next);
      next.fn();
      fired++;
      await settle();
    }
    return fired;
  }

  private nextTimer(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

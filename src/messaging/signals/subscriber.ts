/**
 * One subscriber of the signal bus: a bounded buffer drained by its handler one signal at a time, in
 * order, with an explicit policy for a full buffer. Every drop is counted and reported to the bus.
 */
import type { Clock, TimerHandle } from '../../runtime/index.js';
import { Deque } from './deque.js';
import type { Pattern } from './pattern.js';
import type { Signal } from './signal.js';

/** What happens when a signal arrives for a subscriber whose buffer is full. */
export const DropPolicy = {
  /** The arriving signal is dropped; the buffer keeps the older ones. */
  dropNewest: 'drop_newest',
  /** The oldest buffered signal is dropped to make room for the arriving one. */
  dropOldest: 'drop_oldest',
  /**
   * The publisher's `publish` waits until the subscriber has taken a signal from its buffer (or, with
   * `blockTimeoutMs`, until that time passes, when the signal is dropped).
   */
  block: 'block',
} as const;
export type DropPolicy = (typeof DropPolicy)[keyof typeof DropPolicy];

/** Why a signal was dropped for a subscriber. */
export type DropReason =
  /** The buffer was full (drop_newest, drop_oldest, or a bus signal for a full `block` subscriber). */
  | 'buffer_full'
  /** A blocked publisher waited `blockTimeoutMs` without room. */
  | 'block_timeout'
  /** The subscriber unsubscribed before handling it. */
  | 'unsubscribed';

export type SignalHandler<D = unknown> = (signal: Signal<D>) => void | Promise<void>;

export interface SubscriberStats {
  readonly id: string;
  readonly name: string;
  readonly pattern: string;
  readonly policy: DropPolicy;
  readonly capacity: number;
  /** Signals its handler completed. */
  readonly delivered: number;
  /** Signals dropped for it, for any reason. */
  readonly dropped: number;
  /** Signals its handler threw on. */
  readonly failed: number;
  /** Signals waiting in its buffer (not counting the one being handled). */
  readonly buffered: number;
  /** Publishers waiting for room (`block` only). */
  readonly blocked: number;
  /** True while its handler runs. */
  readonly handling: boolean;
}

export interface SubscriberHooks {
  readonly clock: Clock;
  dropped(subscriber: Subscriber, signal: Signal, reason: DropReason): void;
  failed(subscriber: Subscriber, signal: Signal, error: unknown): void;
  handled(): void;
}

interface Waiter {
  readonly signal: Signal;
  readonly resolve: (accepted: boolean) => void;
  timer: TimerHandle | undefined;
  settled: boolean;
}

export class Subscriber {
  private readonly buffer = new Deque<Signal>();
  private readonly waiters = new Deque<Waiter>();
  private waiting = 0;
  private draining = false;
  private inHandler = false;
  private active = true;
  private idle: Array<() => void> = [];
  private delivered = 0;
  private dropped = 0;
  private failed = 0;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly pattern: Pattern,
    readonly policy: DropPolicy,
    readonly capacity: number,
    private readonly blockTimeoutMs: number | undefined,
    private readonly handler: SignalHandler,
    private readonly hooks: SubscriberHooks,
  ) {}

  get isActive(): boolean {
    return this.active;
  }

  /**
   * Offers a signal: true when it entered the buffer, false when it was dropped; a promise of that when
   * the publisher must wait for room. Bus signals (`internal`) never wait: a full `block` subscriber
   * drops them, so the bus's own reports cannot stall it.
   */
  offer(signal: Signal, internal: boolean): boolean | Promise<boolean> {
    if (!this.active) return false;
    if (this.buffer.length < this.capacity && this.waiting === 0) {
      this.accept(signal);
      return true;
    }
    if (this.policy === DropPolicy.dropOldest) {
      const oldest = this.buffer.shift();
      if (oldest !== undefined) this.drop(oldest, 'buffer_full');
      this.accept(signal);
      return true;
    }
    if (this.policy === DropPolicy.dropNewest || internal) {
      this.drop(signal, 'buffer_full');
      return false;
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { signal, resolve, timer: undefined, settled: false };
      if (this.blockTimeoutMs !== undefined) {
        waiter.timer = this.hooks.clock.setTimer(this.blockTimeoutMs, () => {
          if (waiter.settled) return;
          this.settle(waiter);
          this.drop(signal, 'block_timeout');
          resolve(false);
        });
      }
      this.waiters.push(waiter);
      this.waiting++;
    });
  }

  /**
   * Stops taking signals. Publishers still blocked on it are released (their signals dropped as
   * `unsubscribed`). With `drain` (default) the buffered signals are still handled and the promise
   * resolves after the last; without, they are dropped as `unsubscribed`.
   */
  async close(drain: boolean): Promise<void> {
    this.active = false;
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) {
      if (w.settled) continue;
      this.settle(w);
      this.drop(w.signal, 'unsubscribed');
      w.resolve(false);
    }
    if (!drain) for (const s of this.buffer.drain()) this.drop(s, 'unsubscribed');
    if (this.draining) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      name: this.name,
      pattern: this.pattern.text,
      policy: this.policy,
      capacity: this.capacity,
      delivered: this.delivered,
      dropped: this.dropped,
      failed: this.failed,
      buffered: this.buffer.length,
      blocked: this.waiting,
      handling: this.inHandler,
    };
  }

  private accept(signal: Signal): void {
    this.buffer.push(signal);
    if (!this.draining) {
      this.draining = true;
      void this.drain();
    }
  }

  private drop(signal: Signal, reason: DropReason): void {
    this.dropped++;
    this.hooks.dropped(this, signal, reason);
  }

  private settle(w: Waiter): void {
    w.settled = true;
    w.timer?.cancel();
    this.waiting--;
  }

  /** A slot has freed: the longest-waiting publisher's signal takes it. */
  private admitWaiter(): void {
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) {
      if (w.settled) continue;
      this.settle(w);
      this.buffer.push(w.signal);
      w.resolve(true);
      return;
    }
  }

  private async drain(): Promise<void> {
    // Handlers never run inside `publish`: a burst of synchronous publishes is buffered first.
    await Promise.resolve();
    for (let signal = this.buffer.shift(); signal !== undefined; signal = this.buffer.shift()) {
      if (this.active) this.admitWaiter();
      this.inHandler = true;
      try {
        await this.handler(signal);
        this.delivered++;
      } catch (error) {
        this.failed++;
        this.hooks.failed(this, signal, error);
      } finally {
        this.inHandler = false;
        this.hooks.handled();
      }
    }
    this.draining = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

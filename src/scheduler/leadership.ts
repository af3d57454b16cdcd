/**
 * One node among many doing a job for all: the holder of a store lock (`Store.tryLock`: a PostgreSQL
 * session advisory lock on a dedicated connection). A node that is not the leader tries again every
 * `retryMs`; a leader whose connection ends loses the lock at once — the server frees it — and another
 * node takes it at its next try. Leadership only decides who does the work; exactly-once comes from the
 * claims and fencing tokens of the work itself, so two nodes briefly both believing they lead is harmless.
 */
import type { Clock, TimerHandle } from '../runtime/index.js';
import type { Store, StoreLock } from '../store/index.js';

export interface LeadershipOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** The lock's name; every node competing for the same job uses the same one. */
  readonly name: string;
  /** How often a node that does not lead tries to, in ms. */
  readonly retryMs: number;
  /** Called with true when this node becomes the leader, false when it stops being it. */
  readonly onChange?: (leader: boolean) => void;
  /** Called when a try fails (the store unreachable or closed); it is retried after `retryMs`. */
  readonly onError?: (error: unknown) => void;
}

export class Leadership {
  private lock: StoreLock | undefined;
  private retry: TimerHandle | undefined;
  private attempt: Promise<void> | undefined;
  private running = false;

  constructor(private readonly options: LeadershipOptions) {}

  get isLeader(): boolean {
    return this.lock?.held === true;
  }

  /** Whether a retry timer is armed. */
  get armed(): boolean {
    return this.retry !== undefined;
  }

  /** Whether a try is in flight. */
  get busy(): boolean {
    return this.attempt !== undefined;
  }

  /** Starts competing; resolves after the first try (leading or not). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.campaign();
  }

  /** Stops competing and gives the lock up if held. */
  async stop(): Promise<void> {
    this.running = false;
    this.retry?.cancel();
    this.retry = undefined;
    await this.attempt;
    const lock = this.lock;
    this.lock = undefined;
    if (lock !== undefined) {
      await lock.release();
      this.options.onChange?.(false);
    }
  }

  /** Resolves once no try is in flight. */
  async idle(): Promise<void> {
    while (this.attempt !== undefined) await this.attempt;
  }

  private campaign(): Promise<void> {
    this.attempt ??= this.tryToLead().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private async tryToLead(): Promise<void> {
    if (!this.running || this.isLeader) return;
    let lock: StoreLock | undefined;
    try {
      lock = await this.options.store.tryLock(this.options.name);
    } catch (error) {
      this.options.onError?.(error);
    }
    if (!this.running) {
      await lock?.release();
      return;
    }
    if (lock === undefined) {
      this.scheduleRetry();
      return;
    }
    this.lock = lock;
    lock.onLost(() => {
      if (this.lock !== lock) return;
      this.lock = undefined;
      this.options.onChange?.(false);
      this.scheduleRetry();
    });
    this.options.onChange?.(true);
  }

  private scheduleRetry(): void {
    if (!this.running || this.retry !== undefined) return;
    this.retry = this.options.clock.setTimer(this.options.retryMs, () => {
      this.retry = undefined;
      void this.campaign();
    });
  }
}

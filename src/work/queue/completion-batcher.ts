/**
 * Batches completions: while one batch is being committed the next one fills up, so one commit pays for
 * every task that finished meanwhile. Items are reported only after their batch has committed — a
 * completion is durable before it counts. No promise is made per item: on the hot path the cost of a
 * completion is one array slot.
 */
export interface BatcherOptions<T> {
  /** Commits a batch; answers the keys of the items accepted. */
  readonly flush: (items: readonly T[]) => Promise<Set<number>>;
  /** Called once a batch has committed, with the keys accepted. */
  readonly onCommitted: (items: readonly T[], accepted: Set<number>) => void;
  /** Called when a batch could not be committed. */
  readonly onFailed: (items: readonly T[], error: unknown) => void;
  /** Largest batch. */
  readonly maxBatch: number;
  /**
   * Batches committing at once. A second batch starts while one is in flight only once it holds at least
   * `maxBatch / 4` items, so small loads still batch well.
   */
  readonly maxInflight: number;
}

export class CompletionBatcher<T> {
  private pending: T[] = [];
  private inflight = 0;
  private held = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: BatcherOptions<T>) {}

  add(item: T): void {
    this.pending.push(item);
    this.kick();
  }

  /** Queues items without committing them until `release()` (they may be taken meanwhile). */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.kick();
  }

  /**
   * Hands the waiting items to another write that commits them (a claim on SQLite's single writer, so
   * one commit pays for both); that write reports through `committed` or `failed`.
   */
  take(): { items: T[]; committed(accepted: Set<number>): void; failed(error: unknown): void } | undefined {
    if (this.pending.length === 0) return undefined;
    const items = this.pending.splice(0, this.options.maxBatch);
    this.inflight++;
    return {
      items,
      committed: (accepted) => this.done(() => this.options.onCommitted(items, accepted)),
      failed: (error) => this.done(() => this.options.onFailed(items, error)),
    };
  }

  /** Items waiting or committing. */
  get busy(): boolean {
    return this.pending.length > 0 || this.inflight > 0;
  }

  /** Resolves once nothing is waiting or committing. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.held) return;
    const { maxBatch, maxInflight } = this.options;
    while (
      this.pending.length > 0 &&
      (this.inflight === 0 || (this.inflight < maxInflight && this.pending.length >= maxBatch / 4))
    ) {
      let batch: T[];
      if (this.pending.length <= maxBatch) {
        batch = this.pending;
        this.pending = [];
      } else {
        batch = this.pending.slice(0, maxBatch);
        this.pending = this.pending.slice(maxBatch);
      }
      this.inflight++;
      this.options.flush(batch).then(
        (accepted) => this.done(() => this.options.onCommitted(batch, accepted)),
        (error: unknown) => this.done(() => this.options.onFailed(batch, error)),
      );
    }
  }

  private done(report: () => void): void {
    this.inflight--;
    try {
      report();
    } finally {
      this.kick();
      if (!this.busy) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}

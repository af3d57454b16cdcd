/**
 * Batches completions: while one batch is being committed the next one fills up, so one commit pays for
 * every task that finished meanwhile. Each caller is answered only after its batch has committed —
 * a completion is durable before it counts.
 */
export interface BatcherOptions<T> {
  /** Commits a batch; answers the items accepted (by identity of `key`). */
  readonly flush: (items: readonly T[]) => Promise<Set<number>>;
  readonly key: (item: T) => number;
  /** Largest batch. */
  readonly maxBatch: number;
  /**
   * Batches committing at once. A second batch starts while one is in flight only once it holds at least
   * `maxBatch / 4` items, so small loads still batch well.
   */
  readonly maxInflight: number;
}

interface Pending<T> {
  readonly item: T;
  readonly resolve: (accepted: boolean) => void;
  readonly reject: (error: unknown) => void;
}

export class CompletionBatcher<T> {
  private pending: Array<Pending<T>> = [];
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: BatcherOptions<T>) {}

  /** Resolves true once committed, false when the item was not accepted; rejects when the commit failed. */
  add(item: T): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Items waiting or committing. */
  get size(): number {
    return this.pending.length + this.inflight;
  }

  /** Resolves once nothing is waiting or committing. */
  idle(): Promise<void> {
    if (this.pending.length === 0 && this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    const { maxBatch, maxInflight } = this.options;
    while (
      this.pending.length > 0 &&
      (this.inflight === 0 || (this.inflight < maxInflight && this.pending.length >= maxBatch / 4))
    ) {
      const batch = this.pending.length <= maxBatch ? this.pending : this.pending.slice(0, maxBatch);
      this.pending = batch === this.pending ? [] : this.pending.slice(maxBatch);
      void this.commit(batch);
    }
  }

  private async commit(batch: Array<Pending<T>>): Promise<void> {
    this.inflight++;
    try {
      const accepted = await this.options.flush(batch.map((p) => p.item));
      for (const p of batch) p.resolve(accepted.has(this.options.key(p.item)));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.inflight--;
      this.kick();
      if (this.pending.length === 0 && this.inflight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}

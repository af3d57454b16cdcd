/**
 * Group commit: many small writes submitted concurrently are run in one transaction, each in its own
 * savepoint, and every submitter is answered only after that transaction has committed. One fsync then
 * pays for the whole batch — this is what makes queue claims and completions fast.
 */
import type { Tx } from './types.js';

interface PendingWrite {
  readonly fn: (tx: Tx) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  /** Largest number of writes in one transaction. Default 512. */
  readonly maxBatch?: number;
  /**
   * Runs one batch: opens a transaction, calls `body` with it, commits. Rejects when the transaction
   * itself (not one write) failed; every write of the batch then fails with that error.
   */
  readonly runTransaction: (body: (tx: Tx) => Promise<void>) => Promise<void>;
}

export class GroupCommitter {
  private pending: PendingWrite[] = [];
  private draining: Promise<void> | undefined;
  private readonly maxBatch: number;

  constructor(private readonly options: GroupCommitOptions) {
    this.maxBatch = options.maxBatch ?? 512;
  }

  submit<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.draining ??= this.drain();
    });
  }

  /** Writes waiting for the next batch. */
  get depth(): number {
    return this.pending.length;
  }

  /** Resolves once every write submitted so far has been answered. */
  async idle(): Promise<void> {
    await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        await this.runBatch(batch);
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async runBatch(batch: PendingWrite[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      await this.options.runTransaction(async (tx) => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: await tx.savepoint(item.fn) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) item.reject(new Error('group commit lost a write outcome'));
      else if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }
}

/**
 * The journal writer: every durable write of every run on this engine goes through one queue and is
 * flushed as one `store.write` (which the store group-commits with other layers' writes). While a flush
 * commits, the next one fills, so a thousand runs in flight share one transaction and one fsync, and
 * each run's writes commit in the order they were made. Callers are answered only after COMMIT.
 */
import type { Store } from '../../store/index.js';
import type { Clock } from '../../runtime/clock.js';
import { leaseLostError, WorkflowError, WorkflowErrorCode } from './errors.js';
import type { FlushInput, FlushSql, HandoffRow, NewRunRow, RunPatch, StepRow } from './flush-sql.js';

type Op =
  | {
      readonly kind: 'run';
      readonly row: NewRunRow;
      resolve(inserted: boolean): void;
      reject(e: unknown): void;
    }
  | { readonly kind: 'step'; readonly row: StepRow; resolve(): void; reject(e: unknown): void }
  | { readonly kind: 'patch'; readonly row: RunPatch; resolve(): void; reject(e: unknown): void }
  | {
      readonly kind: 'handoff';
      readonly row: HandoffRow;
      resolve(applied: boolean): void;
      reject(e: unknown): void;
    };

export interface JournalWriterOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly flush: FlushSql;
  /** Called after a commit for each run that carries a pause or cancel request. */
  readonly onControl: (runId: string, control: 'pause' | 'cancel') => void;
}


export class JournalWriter {
  private queue: Op[] = [];
  private flushing = false;
  private scheduled = false;
  private stopped: Error | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: JournalWriterOptions) {}

  /** Creates a run; resolves true when created, false when a run with that id existed. */
  insertRun(row: NewRunRow): Promise<boolean> {
    return new Promise((resolve, reject) => this.push({ kind: 'run', row, resolve, reject }));
  }

  /** Writes a journal entry while the run's fence holds; rejects with `lease_lost` otherwise. */
  step(row: StepRow): Promise<void> {
    return new Promise((resolve, reject) => this.push({ kind: 'step', row, resolve, reject }));
  }

  /** Updates the run's row while its fence holds; rejects with `lease_lost` otherwise. */
  patch(row: RunPatch): Promise<void> {
    return new Promise((resolve, reject) => this.push({ kind: 'patch', row, resolve, reject }));
  }

  /** Fills another run's pending entry; resolves false when it was no longer pending. */
  handoff(row: HandoffRow): Promise<boolean> {
    return new Promise((resolve, reject) => this.push({ kind: 'handoff', row, resolve, reject }));
  }

  /** Resolves once everything queued so far has been flushed. */
  idle(): Promise<void> {
    if (!this.flushing && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new writes from now on; queued ones are still flushed. */
  stop(): void {
    this.stopped ??= new WorkflowError(WorkflowErrorCode.stopped, 'the workflow engine was stopped');
  }

  private push(op: Op): void {
    if (this.stopped !== undefined) {
      op.reject(this.stopped);
      return;
    }
    this.queue.push(op);
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true;
      // One turn of the event loop: every write made by the runs woken in this turn joins the flush.
      setImmediate(() => {
        this.scheduled = false;
        void this.drain();
      });
    }
  }

  private async drain(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) await this.flushOnce();
    } finally {
      this.flushing = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async flushOnce(): Promise<void> {
    let batch: Op[] | undefined;
    let input: Collected | undefined;
    try {
      const result = await this.options.store.write(async (tx) => {
        // Taken inside the transaction: writes queued while it waited for its turn join it too.
        batch = this.queue;
        this.queue = [];
        input = collect(batch);
        return this.options.flush(tx, input, this.options.clock.now());
      });
      for (const op of batch ?? []) {
        switch (op.kind) {
          case 'run':
            op.resolve(result.inserted.has(op.row.id));
            break;
          case 'handoff':
            op.resolve(result.handedOff.has(`${op.row.runId}:${op.row.idx}`));
            break;
          default:
            if (result.fenced.has(op.row.runId) || superseded(input, op.row))
              op.reject(leaseLostError(op.row.runId));
            else op.resolve();
        }
      }
      for (const [runId, control] of result.controls) this.options.onControl(runId, control);
    } catch (error) {
      // The store refused before our callback ran (closed, unreachable): fail what is queued now.
      const failed = batch ?? this.queue.splice(0);
      for (const op of failed) op.reject(error);
    }
  }
}

/** Whether `row` was dropped from the flush because a write with a newer fence for its run was in it. */
function superseded(input: Collected | undefined, row: StepRow | RunPatch): boolean {
  return input !== undefined && input.fences.get(row.runId) !== row.fence;
}

interface Collected extends FlushInput {
  readonly fences: Map<string, number>;
}

/**
 * Groups a batch by kind. Within one run, later patches are merged into earlier ones and a later entry
 * for the same step index replaces an earlier one (one statement must not touch a row twice). If writes
 * of two executions of the same run are queued (a takeover on this very node), only the newer fence's
 * are kept.
 */
function collect(batch: readonly Op[]): Collected {
  const runs: NewRunRow[] = [];
  const steps = new Map<string, StepRow>();
  const patches = new Map<string, RunPatch>();
  const handoffs: HandoffRow[] = [];
  const fences = new Map<string, number>();
  for (const op of batch) {
    if (op.kind === 'step' || op.kind === 'patch') {
      const known = fences.get(op.row.runId);
      if (known === undefined || op.row.fence > known) fences.set(op.row.runId, op.row.fence);
    }
  }
  for (const op of batch) {
    switch (op.kind) {
      case 'run':
        runs.push(op.row);
        break;
      case 'handoff':
        handoffs.push(op.row);
        break;
      case 'step':
        if (fences.get(op.row.runId) === op.row.fence)
          steps.set(`${op.row.runId}\u0000${op.row.idx}`, op.row);
        break;
      case 'patch': {
        if (fences.get(op.row.runId) !== op.row.fence) break;
        const earlier = patches.get(op.row.runId);
        patches.set(
          op.row.runId,
          earlier === undefined ? { ...op.row } : Object.assign(earlier, definedOf(op.row)),
        );
        break;
      }
    }
  }
  return { runs, steps: [...steps.values()], patches: [...patches.values()], handoffs, fences };
}

function definedOf(patch: RunPatch): Partial<RunPatch> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) out[key] = value;
  return out;
}

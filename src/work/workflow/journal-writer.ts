/**
 * The journal writer: every durable write of every run on this engine goes through one queue and is
 * committed in batches ("flushes"), so a thousand runs in flight share one commit. Callers are answered
 * only after COMMIT.
 *
 * Up to `maxInFlight` flushes may commit at once (PostgreSQL commits them in parallel on the pool), but
 * never two holding writes of the same run: a run's writes commit in the order they were made.
 */
import { leaseLostError, WorkflowError, WorkflowErrorCode } from './errors.js';
import type { FlushInput, FlushResult, HandoffRow, NewRunRow, RunPatch, StepRow } from './flush-sql.js';

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
  /** Commits one flush atomically. */
  readonly commit: (input: FlushInput) => Promise<FlushResult>;
  /** Flushes committing at once. SQLite has one writer: 1. */
  readonly maxInFlight: number;
  /** Called after a commit for each run that carries a pause or cancel request. */
  readonly onControl: (runId: string, control: 'pause' | 'cancel') => void;
}

/**
 * The run whose order an op belongs to. A child's row goes with its parent's journal entry (they must
 * commit together), a child's hand-off with the child's final patch (the hand-off is fenced by it).
 */
function orderKey(op: Op): string {
  switch (op.kind) {
    case 'run':
      return op.row.parentId ?? op.row.id;
    case 'handoff':
      return op.row.from?.runId ?? `handoff:${op.row.runId}`;
    default:
      return op.row.runId;
  }
}

export class JournalWriter {
  private queue: Op[] = [];
  private inFlight = 0;
  /** Order keys of the writes in flushes now committing. */
  private readonly busy = new Set<string>();
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

  /** Resolves once everything queued so far has been committed (or has failed). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new writes from now on; queued ones are still committed. */
  stop(): void {
    this.stopped ??= new WorkflowError(WorkflowErrorCode.stopped, 'the workflow engine was stopped');
  }

  private push(op: Op): void {
    if (this.stopped !== undefined) {
      op.reject(this.stopped);
      return;
    }
    this.queue.push(op);
    if (!this.scheduled && this.inFlight < this.options.maxInFlight) {
      this.scheduled = true;
      // One turn of the event loop: every write made by the runs woken in this turn joins the flush.
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  /** Starts flushes while there is room and queued writes that may go. */
  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch: Op[] = [];
      const keys = new Set<string>();
      const rest: Op[] = [];
      for (const op of this.queue) {
        const key = orderKey(op);
        if (this.busy.has(key)) rest.push(op);
        else {
          batch.push(op);
          keys.add(key);
        }
      }
      if (batch.length === 0) break;
      this.queue = rest;
      for (const key of keys) this.busy.add(key);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        for (const key of keys) this.busy.delete(key);
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0 && !this.scheduled) {
          for (const resolve of this.idleWaiters.splice(0)) resolve();
        }
      });
    }
  }

  private async flush(batch: readonly Op[]): Promise<void> {
    const input = collect(batch);
    let result: FlushResult;
    try {
      result = await this.options.commit(input);
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    for (const op of batch) {
      switch (op.kind) {
        case 'run':
          op.resolve(result.inserted.has(op.row.id));
          break;
        case 'handoff':
          op.resolve(result.handedOff.has(`${op.row.runId}:${op.row.idx}`));
          break;
        default:
          if (result.fenced.has(op.row.runId) || input.fences.get(op.row.runId) !== op.row.fence) {
            op.reject(leaseLostError(op.row.runId));
          } else op.resolve();
      }
    }
    for (const [runId, control] of result.controls) this.options.onControl(runId, control);
  }
}

interface Collected extends FlushInput {
  /** The fence each run's writes were made under. */
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

/**
 * What one journal flush writes, shared by the two dialects' implementations: SQLite's multi-row
 * statements (`flush-sqlite.ts`) and PostgreSQL's single function call (`flush-postgres.ts`).
 *
 * Fencing: a journal row or run update is written only where the run's `fence` still equals the writer's.
 * On PostgreSQL the flush first locks the run rows it writes (in id order) until it commits, so a
 * takeover cannot slip in between the check and the commit; SQLite has a single writer.
 */
import type { Executor } from '../../store/index.js';
import type { StepKind, WorkflowStatus } from './types.js';

/** A run to create. */
export interface NewRunRow {
  readonly id: string;
  readonly name: string;
  readonly status: 'running' | 'pending';
  /** JSON text. */
  readonly input: string;
  readonly parentId: string | null;
  readonly parentStep: number | null;
  readonly owner: string | null;
  readonly leaseUntil: number | null;
  readonly fence: number;
  /** W3C trace context of the span that created the run (null or absent: none). */
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
}

/** A journal entry to write (insert, or update of a pending/retrying entry). */
export interface StepRow {
  readonly runId: string;
  readonly fence: number;
  readonly idx: number;
  readonly name: string;
  readonly kind: StepKind;
  readonly status: 'pending' | 'retrying' | 'completed' | 'failed';
  /** JSON text, or null. */
  readonly output: string | null;
  /** JSON text, or null. */
  readonly error: string | null;
  readonly attempts: number;
  readonly dueAt: number | null;
  /** JSON text, or null. */
  readonly detail: string | null;
  /**
   * When the step began (its first attempt), UNIX epoch ms: the entry's `created_at` when this write
   * creates it. Absent: the flush time (entries written as the step begins, like a dispatch's pending one).
   */
  readonly startedAt?: number;
}

/** Changes to a run's row, written only while its fence holds. */
export interface RunPatch {
  readonly runId: string;
  readonly fence: number;
  /** New status; `wakeAt` is written with it. */
  status?: WorkflowStatus;
  wakeAt?: number | null;
  /** JSON text. */
  output?: string | null;
  /** JSON text. */
  error?: string | null;
  /** The run is finished: stamps `finished_at`, ends the lease and clears any control request. */
  final?: boolean;
}

/** A result handed into another run's pending entry (a child's result into its parent's journal). */
export interface HandoffRow {
  readonly runId: string;
  readonly idx: number;
  /** The kind of entry it fills. */
  readonly kind: 'child' | 'dispatch';
  readonly status: 'completed' | 'failed';
  readonly output: string | null;
  readonly error: string | null;
  /**
   * The run the result comes from, when it is a run of this engine: the hand-off is written only if that
   * run's final patch (queued in the same flush) passed its fence check.
   */
  readonly from?: { readonly runId: string; readonly fence: number };
}

export interface FlushInput {
  readonly runs: readonly NewRunRow[];
  readonly steps: readonly StepRow[];
  readonly patches: readonly RunPatch[];
  readonly handoffs: readonly HandoffRow[];
}

export interface FlushResult {
  /** Runs created (the others existed already). */
  readonly inserted: Set<string>;
  /** Runs whose fence no longer matched: none of their rows were written. */
  readonly fenced: Set<string>;
  /** Runs updated that carry a pause or cancel request. */
  readonly controls: Map<string, 'pause' | 'cancel'>;
  /** Hand-offs applied, as `runId:idx`. */
  readonly handedOff: Set<string>;
}

/**
 * Writes one flush. SQLite's runs several statements and needs a transaction (`db` is a `Tx`);
 * PostgreSQL's is a single statement and may run on the store directly.
 */
export type FlushSql = (db: Executor, input: FlushInput, now: number) => Promise<FlushResult>;

/** An empty result to fill in. */
export function emptyResult(): FlushResult {
  return { inserted: new Set(), fenced: new Set(), controls: new Map(), handedOff: new Set() };
}

/** Marks as fenced every run with fewer rows written than it asked for. */
export function markShortfalls(
  wanted: ReadonlyArray<{ readonly runId: string }>,
  written: ReadonlyMap<string, number>,
  fenced: Set<string>,
): void {
  const expected = new Map<string, number>();
  for (const w of wanted) expected.set(w.runId, (expected.get(w.runId) ?? 0) + 1);
  for (const [runId, n] of expected) if ((written.get(runId) ?? 0) < n) fenced.add(runId);
}

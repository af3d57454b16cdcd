/**
 * The hot-path SQL of the journal writer: what one group-committed flush writes. SQLite runs one tiny
 * prepared statement per row (statements cost microseconds there, and no JSON is parsed); PostgreSQL
 * sends each kind of row as one JSON array in one statement, so a flush of a thousand rows is still a
 * handful of round trips.
 *
 * Fencing: a journal row or run update is written only where the run's `fence` still equals the writer's.
 * On PostgreSQL the run row is locked (`FOR SHARE` or the UPDATE itself) for the rest of the transaction,
 * so a takeover cannot slip in between the check and the commit.
 */
import type { Tx } from '../../store/index.js';
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

export type FlushSql = (tx: Tx, input: FlushInput, now: number) => Promise<FlushResult>;

const RUNS = 'garrison_workflow_runs';
const STEPS = 'garrison_workflow_steps';

const STEP_UPSERT_TAIL =
  'ON CONFLICT (run_id, idx) DO UPDATE SET status = excluded.status, output = excluded.output, ' +
  'error = excluded.error, attempts = excluded.attempts, due_at = excluded.due_at, ' +
  `detail = excluded.detail, updated_at = excluded.updated_at WHERE ${STEPS}.status IN ('pending', 'retrying')`;

const SQLITE_INSERT_RUN =
  `INSERT INTO ${RUNS} (id, name, status, input, parent_id, parent_step, owner, lease_until, fence, ` +
  'created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (id) DO NOTHING';

const SQLITE_STEP =
  `INSERT INTO ${STEPS} (run_id, idx, name, kind, status, output, error, attempts, due_at, detail, ` +
  'created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11 ' +
  `WHERE EXISTS (SELECT 1 FROM ${RUNS} WHERE id = $1 AND fence = $12) ${STEP_UPSERT_TAIL}`;

const SQLITE_PATCH =
  `UPDATE ${RUNS} SET status = COALESCE($3, status), ` +
  'wake_at = CASE WHEN $3 IS NULL THEN wake_at ELSE $4 END, output = COALESCE($5, output), ' +
  'error = COALESCE($6, error), finished_at = CASE WHEN $7 = 1 THEN $8 ELSE finished_at END, ' +
  'lease_until = CASE WHEN $7 = 1 THEN NULL ELSE lease_until END, ' +
  'control = CASE WHEN $7 = 1 THEN NULL ELSE control END, updated_at = $8 ' +
  'WHERE id = $1 AND fence = $2 RETURNING control';

const SQLITE_HANDOFF =
  `UPDATE ${STEPS} SET status = $3, output = $4, error = $5, updated_at = $6 ` +
  "WHERE run_id = $1 AND idx = $2 AND kind = $7 AND status = 'pending'";

const WAKE = `UPDATE ${RUNS} SET wake_seq = wake_seq + 1 WHERE id = $1`;

function emptyResult(): FlushResult {
  return { inserted: new Set(), fenced: new Set(), controls: new Map(), handedOff: new Set() };
}

/** SQLite: one prepared statement per row, all inside the flush's transaction. */
export const sqliteFlush: FlushSql = async (tx, input, now) => {
  const result = emptyResult();
  for (const r of input.runs) {
    const { rowCount } = await tx.execute(SQLITE_INSERT_RUN, [
      r.id,
      r.name,
      r.status,
      r.input,
      r.parentId,
      r.parentStep,
      r.owner,
      r.leaseUntil,
      r.fence,
      now,
    ]);
    if (rowCount === 1) result.inserted.add(r.id);
  }
  for (const s of input.steps) {
    if (result.fenced.has(s.runId)) continue;
    const { rowCount } = await tx.execute(SQLITE_STEP, [
      s.runId,
      s.idx,
      s.name,
      s.kind,
      s.status,
      s.output,
      s.error,
      s.attempts,
      s.dueAt,
      s.detail,
      now,
      s.fence,
    ]);
    if (rowCount === 0) result.fenced.add(s.runId);
  }
  for (const p of input.patches) {
    if (result.fenced.has(p.runId)) continue;
    const rows = await tx.query<{ control: 'pause' | 'cancel' | null }>(SQLITE_PATCH, [
      p.runId,
      p.fence,
      p.status ?? null,
      p.wakeAt ?? null,
      p.output ?? null,
      p.error ?? null,
      p.final === true ? 1 : 0,
      now,
    ]);
    const row = rows[0];
    if (row === undefined) result.fenced.add(p.runId);
    else if (row.control !== null) result.controls.set(p.runId, row.control);
  }
  for (const h of input.handoffs) {
    if (h.from !== undefined && result.fenced.has(h.from.runId)) continue;
    const { rowCount } = await tx.execute(SQLITE_HANDOFF, [h.runId, h.idx, h.status, h.output, h.error, now, h.kind]);
    if (rowCount === 1) {
      result.handedOff.add(`${h.runId}:${h.idx}`);
      await tx.execute(WAKE, [h.runId]);
    }
  }
  return result;
};

const PG_INSERT_RUNS =
  `INSERT INTO ${RUNS} (id, name, status, input, parent_id, parent_step, owner, lease_until, fence, ` +
  'created_at, updated_at) SELECT b.id, b.n, b.s, b.i::jsonb, b.p, b.ps, b.o, b.l, b.f, $1, $1 ' +
  'FROM jsonb_to_recordset($2::jsonb) AS b(id text, n text, s text, i text, p text, ps int, o text, ' +
  'l bigint, f bigint) ON CONFLICT (id) DO NOTHING RETURNING id';

const PG_STEPS =
  `INSERT INTO ${STEPS} (run_id, idx, name, kind, status, output, error, attempts, due_at, detail, ` +
  'created_at, updated_at) SELECT b.r, b.i, b.n, b.k, b.s, b.o::jsonb, b.e::jsonb, b.a, b.d, b.x::jsonb, ' +
  '$1, $1 FROM jsonb_to_recordset($2::jsonb) AS b(r text, f bigint, i int, n text, k text, s text, ' +
  `o text, e text, a int, d bigint, x text) JOIN ${RUNS} AS w ON w.id = b.r AND w.fence = b.f ` +
  `FOR SHARE OF w ${STEP_UPSERT_TAIL} RETURNING run_id`;

const PG_PATCHES =
  `UPDATE ${RUNS} AS w SET status = COALESCE(b.s, w.status), ` +
  'wake_at = CASE WHEN b.s IS NULL THEN w.wake_at ELSE b.wk END, ' +
  'output = COALESCE(b.o::jsonb, w.output), error = COALESCE(b.e::jsonb, w.error), ' +
  'finished_at = CASE WHEN b.fin = 1 THEN $1 ELSE w.finished_at END, ' +
  'lease_until = CASE WHEN b.fin = 1 THEN NULL ELSE w.lease_until END, ' +
  'control = CASE WHEN b.fin = 1 THEN NULL ELSE w.control END, updated_at = $1 ' +
  'FROM jsonb_to_recordset($2::jsonb) AS b(id text, f bigint, s text, wk bigint, o text, e text, fin int) ' +
  'WHERE w.id = b.id AND w.fence = b.f RETURNING w.id, w.control';

const PG_HANDOFFS =
  `WITH h AS (UPDATE ${STEPS} AS s SET status = b.s, output = b.o::jsonb, error = b.e::jsonb, ` +
  'updated_at = $1 FROM jsonb_to_recordset($2::jsonb) AS b(r text, i int, k text, s text, o text, e text) ' +
  "WHERE s.run_id = b.r AND s.idx = b.i AND s.kind = b.k AND s.status = 'pending' RETURNING s.run_id, s.idx), " +
  `w AS (UPDATE ${RUNS} SET wake_seq = wake_seq + 1 WHERE id IN (SELECT run_id FROM h)) ` +
  'SELECT run_id, idx FROM h';

/** PostgreSQL: one statement per kind of row, each carrying all its rows as one JSON array. */
export const postgresFlush: FlushSql = async (tx, input, now) => {
  const result = emptyResult();
  if (input.runs.length > 0) {
    const rows = await tx.query<{ id: string }>(PG_INSERT_RUNS, [
      now,
      JSON.stringify(
        input.runs.map((r) => ({
          id: r.id,
          n: r.name,
          s: r.status,
          i: r.input,
          p: r.parentId,
          ps: r.parentStep,
          o: r.owner,
          l: r.leaseUntil,
          f: r.fence,
        })),
      ),
    ]);
    for (const row of rows) result.inserted.add(row.id);
  }
  if (input.steps.length > 0) {
    const rows = await tx.query<{ run_id: string }>(PG_STEPS, [
      now,
      JSON.stringify(
        input.steps.map((s) => ({
          r: s.runId,
          f: s.fence,
          i: s.idx,
          n: s.name,
          k: s.kind,
          s: s.status,
          o: s.output,
          e: s.error,
          a: s.attempts,
          d: s.dueAt,
          x: s.detail,
        })),
      ),
    ]);
    const written = new Map<string, number>();
    for (const row of rows) written.set(row.run_id, (written.get(row.run_id) ?? 0) + 1);
    const expected = new Map<string, number>();
    for (const s of input.steps) expected.set(s.runId, (expected.get(s.runId) ?? 0) + 1);
    for (const [runId, n] of expected) if ((written.get(runId) ?? 0) < n) result.fenced.add(runId);
  }
  const patches = input.patches.filter((p) => !result.fenced.has(p.runId));
  if (patches.length > 0) {
    const rows = await tx.query<{ id: string; control: 'pause' | 'cancel' | null }>(PG_PATCHES, [
      now,
      JSON.stringify(
        patches.map((p) => ({
          id: p.runId,
          f: p.fence,
          s: p.status ?? null,
          wk: p.wakeAt ?? null,
          o: p.output ?? null,
          e: p.error ?? null,
          fin: p.final === true ? 1 : 0,
        })),
      ),
    ]);
    const updated = new Set<string>();
    for (const row of rows) {
      updated.add(row.id);
      if (row.control !== null) result.controls.set(row.id, row.control);
    }
    for (const p of patches) if (!updated.has(p.runId)) result.fenced.add(p.runId);
  }
  const handoffs = input.handoffs.filter((h) => h.from === undefined || !result.fenced.has(h.from.runId));
  if (handoffs.length > 0) {
    const rows = await tx.query<{ run_id: string; idx: number }>(PG_HANDOFFS, [
      now,
      JSON.stringify(handoffs.map((h) => ({ r: h.runId, i: h.idx, k: h.kind, s: h.status, o: h.output, e: h.error }))),
    ]);
    for (const row of rows) result.handedOff.add(`${row.run_id}:${row.idx}`);
  }
  return result;
};

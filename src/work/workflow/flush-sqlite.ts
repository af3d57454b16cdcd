/**
 * SQLite's journal flush: multi-row statements inside the flush's transaction. Rows go in chunks of
 * fixed sizes (64, 16, 4, 1), so each kind of statement has four texts, prepared once and cached, and a
 * thousand rows take about twenty statements instead of a thousand.
 *
 * Fencing is in each statement's WHERE clause (the run's `fence` must still be the writer's); `RETURNING`
 * says which rows were written, and a run with a row missing is reported fenced.
 */
import type { Executor, SqlValue } from '../../store/index.js';
import {
  emptyResult,
  markShortfalls,
  type FlushSql,
  type NewRunRow,
  type RunPatch,
  type StepRow,
} from './flush-sql.js';
import { UNPARK_STATUS } from './runs.js';

const RUNS = 'garrison_workflow_runs';
const STEPS = 'garrison_workflow_steps';
const CHUNKS = [64, 16, 4, 1] as const;

/** Splits `rows` into chunks of the fixed sizes, largest first. */
function chunked<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (const size of CHUNKS) {
    while (rows.length - i >= size) {
      out.push(rows.slice(i, i + size));
      i += size;
    }
  }
  return out;
}

/** `($2, $3, …), (…)`: `count` tuples of `width` parameters, numbered from `first`. */
function tuples(count: number, width: number, first: number): string {
  const out: string[] = [];
  for (let r = 0; r < count; r++) {
    const cols: string[] = [];
    for (let c = 0; c < width; c++) cols.push(`$${first + r * width + c}`);
    out.push(`(${cols.join(', ')})`);
  }
  return out.join(', ');
}

const texts = new Map<string, string>();
function text(kind: string, size: number, build: (size: number) => string): string {
  const key = `${kind}:${size}`;
  let sql = texts.get(key);
  if (sql === undefined) texts.set(key, (sql = build(size)));
  return sql;
}

// $1 is the flush time; each row's values follow.
const insertRuns = (n: number): string =>
  `INSERT INTO ${RUNS} (id, name, status, input, parent_id, parent_step, owner, lease_until, fence, ` +
  `created_at, updated_at, traceparent, tracestate) SELECT v.column1, v.column2, v.column3, v.column4, ` +
  `v.column5, v.column6, v.column7, v.column8, v.column9, $1, $1, v.column10, v.column11 ` +
  `FROM (VALUES ${tuples(n, 11, 2)}) AS v WHERE true ` +
  'ON CONFLICT (id) DO NOTHING RETURNING id';

const upsertSteps = (n: number): string =>
  `INSERT INTO ${STEPS} (run_id, idx, name, kind, status, output, error, attempts, due_at, detail, ` +
  'created_at, updated_at) SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, ' +
  `v.column7, v.column8, v.column9, v.column10, COALESCE(v.column12, $1), $1 FROM (VALUES ${tuples(n, 12, 2)}) AS v ` +
  `WHERE EXISTS (SELECT 1 FROM ${RUNS} AS w WHERE w.id = v.column1 AND w.fence = v.column11) ` +
  'ON CONFLICT (run_id, idx) DO UPDATE SET status = excluded.status, output = excluded.output, ' +
  'error = excluded.error, attempts = excluded.attempts, due_at = excluded.due_at, ' +
  `detail = excluded.detail, updated_at = excluded.updated_at WHERE ${STEPS}.status IN ('pending', 'retrying') ` +
  'RETURNING run_id';

// Runs that finished: no control request matters to them any more.
const finishRuns = (n: number): string =>
  `UPDATE ${RUNS} SET status = v.column3, wake_at = NULL, output = v.column4, error = v.column5, ` +
  `finished_at = $1, lease_until = NULL, control = NULL, updated_at = $1 FROM (VALUES ${tuples(n, 5, 2)}) AS v ` +
  `WHERE ${RUNS}.id = v.column1 AND ${RUNS}.fence = v.column2`;

const FENCES = `SELECT id, fence FROM ${RUNS} WHERE id IN (SELECT value FROM json_each($1))`;

const PATCH =
  `UPDATE ${RUNS} SET status = COALESCE($3, status), ` +
  'wake_at = CASE WHEN $3 IS NULL THEN wake_at ELSE $4 END, output = COALESCE($5, output), ' +
  'error = COALESCE($6, error), updated_at = $7 WHERE id = $1 AND fence = $2 RETURNING control';

const HANDOFF =
  `UPDATE ${STEPS} SET status = $3, output = $4, error = $5, updated_at = $6 ` +
  "WHERE run_id = $1 AND idx = $2 AND kind = $7 AND status = 'pending'";

// A parked run that got a result becomes pending in the same transaction, for any node to take up.
const WAKE = `UPDATE ${RUNS} SET wake_seq = wake_seq + 1, status = ${UNPARK_STATUS} WHERE id = $1`;

async function writeRuns(
  db: Executor,
  runs: readonly NewRunRow[],
  now: number,
  inserted: Set<string>,
): Promise<void> {
  for (const chunk of chunked(runs)) {
    const params: SqlValue[] = [now];
    for (const r of chunk) {
      params.push(r.id, r.name, r.status, r.input, r.parentId, r.parentStep, r.owner, r.leaseUntil, r.fence);
      params.push(r.traceparent ?? null, r.tracestate ?? null);
    }
    for (const row of await db.query<{ id: string }>(text('runs', chunk.length, insertRuns), params)) {
      inserted.add(row.id);
    }
  }
}

async function writeSteps(
  db: Executor,
  steps: readonly StepRow[],
  now: number,
  fenced: Set<string>,
): Promise<void> {
  const written = new Map<string, number>();
  for (const chunk of chunked(steps)) {
    const params: SqlValue[] = [now];
    for (const s of chunk) {
      params.push(
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
        s.fence,
        s.startedAt ?? null,
      );
    }
    for (const row of await db.query<{ run_id: string }>(text('steps', chunk.length, upsertSteps), params)) {
      written.set(row.run_id, (written.get(row.run_id) ?? 0) + 1);
    }
  }
  markShortfalls(steps, written, fenced);
}

async function finish(
  db: Executor,
  patches: readonly RunPatch[],
  now: number,
  fenced: Set<string>,
): Promise<void> {
  for (const chunk of chunked(patches)) {
    const params: SqlValue[] = [now];
    for (const p of chunk) params.push(p.runId, p.fence, p.status ?? null, p.output ?? null, p.error ?? null);
    const { rowCount } = await db.execute(text('finish', chunk.length, finishRuns), params);
    if (rowCount === chunk.length) continue;
    // Some run's fence moved (a takeover): find which. Rare, and exact: no one else writes meanwhile.
    const rows = await db.query<{ id: string; fence: number }>(FENCES, [
      JSON.stringify(chunk.map((p) => p.runId)),
    ]);
    const current = new Map(rows.map((r) => [r.id, Number(r.fence)]));
    for (const p of chunk) if (current.get(p.runId) !== p.fence) fenced.add(p.runId);
  }
}

export const sqliteFlush: FlushSql = async (db, input, now) => {
  const result = emptyResult();
  if (input.runs.length > 0) await writeRuns(db, input.runs, now, result.inserted);
  if (input.steps.length > 0) await writeSteps(db, input.steps, now, result.fenced);
  const finals: RunPatch[] = [];
  for (const p of input.patches) {
    if (result.fenced.has(p.runId)) continue;
    if (p.final === true) {
      finals.push(p);
      continue;
    }
    const rows = await db.query<{ control: 'pause' | 'cancel' | null }>(PATCH, [
      p.runId,
      p.fence,
      p.status ?? null,
      p.wakeAt ?? null,
      p.output ?? null,
      p.error ?? null,
      now,
    ]);
    const row = rows[0];
    if (row === undefined) result.fenced.add(p.runId);
    else if (row.control !== null) result.controls.set(p.runId, row.control);
  }
  if (finals.length > 0) await finish(db, finals, now, result.fenced);
  for (const h of input.handoffs) {
    if (h.from !== undefined && result.fenced.has(h.from.runId)) continue;
    const { rowCount } = await db.execute(HANDOFF, [
      h.runId,
      h.idx,
      h.status,
      h.output,
      h.error,
      now,
      h.kind,
    ]);
    if (rowCount === 1) {
      result.handedOff.add(`${h.runId}:${h.idx}`);
      await db.execute(WAKE, [h.runId]);
    }
  }
  return result;
};

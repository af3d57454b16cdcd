/** Reads of runs, journals and signals (the writes outside the hot path are in `run-writes.ts`). */
import { parseJson, type Dialect, type Executor, type Store } from '../../store/index.js';
import type { StepKind, WorkflowErrorInfo, WorkflowRun, WorkflowStatus } from './types.js';

export const RUNS = 'garrison_workflow_runs';
const STEPS = 'garrison_workflow_steps';
const SIGNALS = 'garrison_workflow_signals';
export const ACTIVE_SQL = "('pending', 'running', 'sleeping', 'waiting')";
export const FINAL_SQL = "('completed', 'failed', 'cancelled')";

/**
 * A parked run: waiting with no owner and nothing in memory anywhere (`park.ts`). Whatever wakes it
 * turns it `pending` in its own transaction (`UNPARK_STATUS`), or its `wake_at` passes.
 */
export const PARKED_SQL = "(owner IS NULL AND status IN ('sleeping', 'waiting'))";

/** Runs that may be taken over at `$n` (now): not parked, or parked with a wake-up time that has come. */
export const notParkedSql = (n: number): string =>
  `NOT (owner IS NULL AND status IN ('sleeping', 'waiting') AND (wake_at IS NULL OR wake_at > $${n}))`;

/** The status after a wake-up: a parked run becomes `pending`, for any node to take it up. */
export const UNPARK_STATUS = `CASE WHEN ${PARKED_SQL} THEN 'pending' ELSE status END`;

/** `(subquery)` yielding the elements of a JSON array bound at `$n` (strings, or integers with `int`). */
export function inJsonList(dialect: Dialect, n: number, type: 'text' | 'int' = 'text'): string {
  if (dialect === 'sqlite') return `(SELECT value FROM json_each($${n}))`;
  return type === 'int'
    ? `(SELECT (jsonb_array_elements_text($${n}::jsonb))::int)`
    : `(SELECT jsonb_array_elements_text($${n}::jsonb))`;
}

export interface RunRow {
  id: string;
  name: string;
  status: WorkflowStatus;
  input: string;
  output: string | null;
  error: string | null;
  parent_id: string | null;
  parent_step: number | null;
  owner: string | null;
  lease_until: number | null;
  fence: number;
  wake_at: number | null;
  control: 'pause' | 'cancel' | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  traceparent?: string | null;
}

const RUN_COLUMNS =
  'id, name, status, input, output, error, parent_id, parent_step, owner, lease_until, fence, wake_at, ' +
  'control, created_at, updated_at, finished_at, traceparent';

/** The trace id inside a stored `traceparent` (`00-<trace id>-<span id>-<flags>`), as an optional field. */
function traceIdOf(traceparent: string | null | undefined): { traceId?: string } {
  const id = traceparent?.split('-')[1];
  return id === undefined || id.length !== 32 ? {} : { traceId: id };
}

export function toRun<O>(row: RunRow): WorkflowRun<O> {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    input: parseJson(row.input),
    output: row.output === null ? undefined : parseJson<O>(row.output),
    error: row.error === null ? undefined : parseJson<WorkflowErrorInfo>(row.error),
    parentId: row.parent_id ?? undefined,
    owner: row.owner ?? undefined,
    leaseUntil: row.lease_until ?? undefined,
    wakeAt: row.wake_at ?? undefined,
    control: row.control ?? undefined,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
    ...traceIdOf(row.traceparent),
  };
}

export async function readRun(db: Executor, id: string): Promise<RunRow | undefined> {
  const rows = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM ${RUNS} WHERE id = $1`, [id]);
  return rows[0];
}

export async function readRuns(db: Executor, ids: readonly string[]): Promise<RunRow[]> {
  if (ids.length === 0) return [];
  return db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM ${RUNS} WHERE id IN ${inJsonList(db.dialect, 1)}`, [
    JSON.stringify(ids),
  ]);
}

export interface ListFilter {
  readonly statuses: readonly WorkflowStatus[] | undefined;
  readonly name: string | undefined;
  readonly parentId: string | undefined;
  readonly createdAfter: number | undefined;
  readonly limit: number;
  readonly offset: number;
}

export async function listRuns(db: Executor, filter: ListFilter): Promise<RunRow[]> {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (filter.statuses !== undefined) {
    params.push(JSON.stringify(filter.statuses));
    where.push(`status IN ${inJsonList(db.dialect, params.length)}`);
  }
  if (filter.name !== undefined) {
    params.push(filter.name);
    where.push(`name = $${params.length}`);
  }
  if (filter.parentId !== undefined) {
    params.push(filter.parentId);
    where.push(`parent_id = $${params.length}`);
  }
  if (filter.createdAfter !== undefined) {
    params.push(filter.createdAfter);
    where.push(`created_at >= $${params.length}`);
  }
  params.push(filter.limit, filter.offset);
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  return db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM ${RUNS} ${clause} ORDER BY created_at DESC, id DESC ` +
      `LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
}

/** One journal entry, decoded. */
export interface JournalEntry {
  readonly idx: number;
  readonly name: string;
  readonly kind: StepKind;
  status: 'pending' | 'retrying' | 'completed' | 'failed';
  output: unknown;
  error: WorkflowErrorInfo | undefined;
  readonly attempts: number;
  readonly dueAt: number | undefined;
  readonly detail: unknown;
}

interface StepDbRow {
  run_id: string;
  idx: number;
  name: string;
  kind: StepKind;
  status: JournalEntry['status'];
  output: string | null;
  error: string | null;
  attempts: number;
  due_at: number | null;
  detail: string | null;
}

export function toEntry(row: Omit<StepDbRow, 'run_id'>): JournalEntry {
  return {
    idx: Number(row.idx),
    name: row.name,
    kind: row.kind,
    status: row.status,
    output: row.output === null ? undefined : parseJson(row.output),
    error: row.error === null ? undefined : parseJson<WorkflowErrorInfo>(row.error),
    attempts: Number(row.attempts),
    dueAt: row.due_at === null ? undefined : Number(row.due_at),
    detail: row.detail === null ? undefined : parseJson(row.detail),
  };
}

const STEP_COLUMNS = 'run_id, idx, name, kind, status, output, error, attempts, due_at, detail';

/** A journal entry with its times, UNIX epoch ms: began (first attempt) and last changed. */
export interface TimedJournalEntry extends JournalEntry {
  readonly startedAt: number;
  readonly updatedAt: number;
}

/** One run's journal with each entry's times, ordered by step index. */
export async function loadTimedJournal(db: Executor, id: string): Promise<TimedJournalEntry[]> {
  const rows = await db.query<StepDbRow & { created_at: number | string; updated_at: number | string }>(
    `SELECT ${STEP_COLUMNS}, created_at, updated_at FROM ${STEPS} WHERE run_id = $1 ORDER BY idx`,
    [id],
  );
  return rows.map((row) => ({
    ...toEntry(row),
    startedAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  }));
}

/** The journals of several runs, each ordered by step index. */
export async function loadJournals(
  db: Executor,
  ids: readonly string[],
): Promise<Map<string, JournalEntry[]>> {
  const out = new Map<string, JournalEntry[]>();
  if (ids.length === 0) return out;
  const rows = await db.query<StepDbRow>(
    `SELECT ${STEP_COLUMNS} FROM ${STEPS} WHERE run_id IN ${inJsonList(db.dialect, 1)} ORDER BY run_id, idx`,
    [JSON.stringify(ids)],
  );
  for (const row of rows) {
    let list = out.get(row.run_id);
    if (list === undefined) out.set(row.run_id, (list = []));
    list.push(toEntry(row));
  }
  return out;
}

/** Some entries of one run. */
export async function readEntries(
  db: Executor,
  runId: string,
  idxs: readonly number[],
): Promise<JournalEntry[]> {
  if (idxs.length === 0) return [];
  const rows = await db.query<StepDbRow>(
    `SELECT ${STEP_COLUMNS} FROM ${STEPS} WHERE run_id = $1 AND idx IN ${inJsonList(db.dialect, 2, 'int')}`,
    [runId, JSON.stringify(idxs)],
  );
  return rows.map(toEntry);
}

export interface SignalRecord {
  readonly seq: number;
  readonly name: string;
  readonly data: unknown;
}

export async function loadSignals(
  db: Executor,
  ids: readonly string[],
): Promise<Map<string, SignalRecord[]>> {
  const out = new Map<string, SignalRecord[]>();
  if (ids.length === 0) return out;
  const rows = await db.query<{ run_id: string; seq: number; name: string; data: string }>(
    `SELECT run_id, seq, name, data FROM ${SIGNALS} WHERE run_id IN ${inJsonList(db.dialect, 1)} ORDER BY seq`,
    [JSON.stringify(ids)],
  );
  for (const row of rows) {
    let list = out.get(row.run_id);
    if (list === undefined) out.set(row.run_id, (list = []));
    list.push({ seq: Number(row.seq), name: row.name, data: parseJson(row.data) });
  }
  return out;
}

/**
 * Unfinished runs this node may take over: runs that were executing somewhere (an expired or ended
 * lease, a dead node's) first — work already begun resumes before new work starts — then pending
 * runs; oldest first in each.
 */
export async function findClaimable(
  db: Executor,
  nodeId: string,
  now: number,
  limit: number,
): Promise<Array<{ id: string; name: string }>> {
  // Two index ranges, never the parked runs (unowned and sleeping or waiting, however many): pending
  // runs, oldest first (status, created_at), and owned ones (the active index, past its unowned rows).
  // A parked run becomes claimable by turning pending (`wakeDueParked` for those whose time came).
  // SQLite would take the status index for the owned range and walk every parked row: named here (the
  // term the partial index is defined by must appear as it is).
  const lease = '(owner = $1 OR lease_until IS NULL OR lease_until < $2)';
  const active = db.dialect === 'sqlite' ? `${RUNS} INDEXED BY garrison_workflow_runs_active` : RUNS;
  return db.query<{ id: string; name: string }>(
    `SELECT id, name FROM (SELECT * FROM (SELECT id, name, created_at, 1 AS k FROM ${RUNS} ` +
      `WHERE status = 'pending' AND (owner IS NULL OR ${lease}) ORDER BY created_at LIMIT $3) AS p UNION ALL ` +
      `SELECT * FROM (SELECT id, name, created_at, 0 AS k FROM ${active} WHERE status IN ${ACTIVE_SQL} ` +
      `AND status <> 'pending' AND owner IS NOT NULL AND ${lease} ORDER BY created_at LIMIT $3) AS o) AS c ` +
      'ORDER BY k, created_at LIMIT $3',
    [nodeId, now, limit],
  );
}

/** Turns parked runs whose wake-up time has come pending (all such, or those of `ids`); returns their ids. */
export async function wakeDueParked(store: Store, now: number, ids?: readonly string[]): Promise<string[]> {
  const rows = await store.write((tx) =>
    tx.query<{ id: string }>(
      `UPDATE ${RUNS} SET status = 'pending' WHERE ${PARKED_SQL} AND wake_at IS NOT NULL AND wake_at <= $1` +
        (ids === undefined ? '' : ` AND id IN ${inJsonList(tx.dialect, 2)}`) +
        ' RETURNING id',
      ids === undefined ? [now] : [now, JSON.stringify(ids)],
    ),
  );
  return rows.map((r) => r.id);
}

/** Parked runs with a wake-up time up to `until` (undefined: any), soonest first. */
export async function findParkedTimers(
  db: Executor,
  until: number | undefined,
  limit: number,
): Promise<Array<{ id: string; name: string; wake_at: number }>> {
  const rows = await db.query<{ id: string; name: string; wake_at: number }>(
    `SELECT id, name, wake_at FROM ${RUNS} WHERE ${PARKED_SQL} AND wake_at IS NOT NULL ` +
      `${until === undefined ? '' : 'AND wake_at <= $2 '}ORDER BY wake_at LIMIT $1`,
    until === undefined ? [limit] : [limit, until],
  );
  return rows.map((r) => ({ id: r.id, name: r.name, wake_at: Number(r.wake_at) }));
}

/** Controls of runs this node owns that carry a pause or cancel request (a missed wake-up's fallback). */
export async function ownedControls(
  db: Executor,
  nodeId: string,
): Promise<Array<{ id: string; control: 'pause' | 'cancel'; wake_seq: number }>> {
  return db.query(
    // The active index, named on SQLite: it would walk every waiting row through the status index.
    `SELECT id, control, wake_seq FROM ${RUNS}${db.dialect === 'sqlite' ? ' INDEXED BY garrison_workflow_runs_active' : ''} ` +
      `WHERE owner = $1 AND status IN ${ACTIVE_SQL} ` +
      "AND (control IS NOT NULL OR status = 'waiting')",
    [nodeId],
  );
}

/** The current control request of a run. */
export async function readControl(db: Executor, id: string): Promise<'pause' | 'cancel' | undefined> {
  const rows = await db.query<{ control: 'pause' | 'cancel' | null }>(
    `SELECT control FROM ${RUNS} WHERE id = $1`,
    [id],
  );
  return rows[0]?.control ?? undefined;
}

/** A run taken over by this node. */
export interface ClaimedRun {
  id: string;
  name: string;
  input: string;
  fence: number;
  status: WorkflowStatus;
  parent_id: string | null;
  parent_step: number | null;
  control: 'pause' | 'cancel' | null;
  traceparent: string | null;
  tracestate: string | null;
}

/**
 * Inserting tasks: chunked multi-row INSERTs (the rows travel as one JSON parameter per chunk, so the
 * statement text never changes), `ON CONFLICT DO NOTHING` on the idempotency index when a task has a
 * key, and the first task looked up for every key that already existed.
 */
import { toJson, type SqlValue, type Store, type Tx } from '../../store/index.js';
import { currentCarrier, type TraceCarrier } from '../../telemetry/index.js';
import { reader, writeRows } from './store-io.js';
import { TaskState, type EnqueuedTask } from './types.js';

/** A validated task about to be inserted. */
export interface NewTask {
  readonly queue: string;
  readonly payload: unknown;
  readonly priority: number;
  /** UNIX epoch ms. */
  readonly runAt: number;
  readonly maxAttempts: number;
  readonly groupKey: string | null;
  readonly idempotencyKey: string | null;
  /** Keep the row as `completed` after completion. */
  readonly retain: boolean;
}

/** A lease given at insert: the task is handed straight to a worker of this process. */
export interface InsertLease {
  readonly workerId: string;
  /** UNIX epoch ms. */
  readonly leaseUntil: number;
}

/** Rows per INSERT statement. */
export const INSERT_CHUNK = 1000;

function insertSql(store: Pick<Store, 'dialect'>, leased: boolean, keyed: boolean): string {
  const conflict = keyed ? 'ON CONFLICT DO NOTHING ' : '';
  const columns =
    'queue, state, priority, run_at, payload, max_attempts, group_key, idempotency_key, retain, created_at, ' +
    'attempts, token, lease_until, leased_by, traceparent, tracestate';
  // A leased insert is a claim done at insert time: attempt 1 under fencing token 1.
  const state = leased ? `'running'` : `'queued'`;
  const rest = leased ? '1, 1, CAST($3 AS BIGINT), CAST($4 AS TEXT)' : '0, 0, NULL, NULL';
  if (store.dialect === 'postgres') {
    return (
      `INSERT INTO garrison_tasks (${columns}) ` +
      `SELECT r.q, ${state}, r.p, r.r, COALESCE(r.d, 'null'::jsonb), r.m, r.g, r.k, r.t, CAST($2 AS BIGINT), ${rest}, ` +
      `r.tp, r.ts FROM ROWS FROM (json_to_recordset($1::json) AS (q text, p integer, r bigint, d jsonb, m integer, ` +
      `g text, k text, t integer, tp text, ts text)) WITH ORDINALITY AS r(q, p, r, d, m, g, k, t, tp, ts, ord) ` +
      `ORDER BY r.ord ` +
      `${conflict}RETURNING id, queue, idempotency_key`
    );
  }
  return (
    `INSERT INTO garrison_tasks (${columns}) ` +
    `SELECT value ->> 'q', ${state}, value ->> 'p', value ->> 'r', value -> 'd', value ->> 'm', value ->> 'g', ` +
    `value ->> 'k', value ->> 't', CAST($2 AS BIGINT), ${rest}, value ->> 'tp', value ->> 'ts' ` +
    `FROM json_each($1) WHERE true ORDER BY key ` +
    `${conflict}RETURNING id, queue, idempotency_key`
  );
}

/** One task: a plain VALUES insert, the cheapest statement to plan (the single-enqueue latency path). */
function insertOneSql(store: Pick<Store, 'dialect'>, leased: boolean, keyed: boolean): string {
  const conflict = keyed ? 'ON CONFLICT DO NOTHING ' : '';
  const payload = store.dialect === 'postgres' ? 'CAST($4 AS JSONB)' : '$4';
  const lease = leased ? `'running', 1, 1, $12, $13` : `'queued', 0, 0, NULL, NULL`;
  return (
    'INSERT INTO garrison_tasks (queue, priority, run_at, payload, max_attempts, group_key, idempotency_key, ' +
    'retain, created_at, traceparent, tracestate, state, attempts, token, lease_until, leased_by) ' +
    `VALUES ($1, $2, $3, ${payload}, $5, $6, $7, $8, $9, $10, $11, ${lease}) ` +
    `${conflict}RETURNING id, queue, idempotency_key`
  );
}

function oneParams(
  t: NewTask,
  now: number,
  lease: InsertLease | undefined,
  trace: TraceCarrier | undefined,
): SqlValue[] {
  const params: SqlValue[] = [
    t.queue,
    t.priority,
    t.runAt,
    toJson(t.payload),
    t.maxAttempts,
    t.groupKey,
    t.idempotencyKey,
    t.retain ? 1 : 0,
    now,
    trace?.traceparent ?? null,
    trace?.tracestate ?? null,
  ];
  if (lease !== undefined) params.push(lease.leaseUntil, lease.workerId);
  return params;
}

interface InsertedRow {
  id: number;
  queue: string;
  idempotency_key: string | null;
}

function rowsJson(
  tasks: readonly NewTask[],
  from: number,
  to: number,
  trace: TraceCarrier | undefined,
): string {
  const rows = [];
  for (let i = from; i < to; i++) {
    const t = tasks[i]!;
    rows.push({
      q: t.queue,
      p: t.priority,
      r: t.runAt,
      d: t.payload,
      m: t.maxAttempts,
      g: t.groupKey,
      k: t.idempotencyKey,
      t: t.retain ? 1 : 0,
      tp: trace?.traceparent ?? null,
      ts: trace?.tracestate ?? null,
    });
  }
  return JSON.stringify(rows);
}

const keyOf = (queue: string, key: string) => `${queue}\u0000${key}`;

/**
 * Inserts `tasks` (all in one transaction: the caller's `tx`, one statement, or a transaction of
 * chunks) and answers one `EnqueuedTask` per input, in input order. With `lease` (single tasks only)
 * the task is inserted already running under that lease.
 */
export async function insertTasks(
  store: Store,
  tasks: readonly NewTask[],
  now: number,
  options: { readonly tx?: Tx; readonly lease?: InsertLease; readonly trace?: TraceCarrier } = {},
): Promise<EnqueuedTask[]> {
  if (tasks.length === 0) return [];
  const lease = options.lease;
  // Only a task with an idempotency key can conflict (ids come from the sequence): without one, a plain
  // INSERT spares the speculative insertion that ON CONFLICT needs.
  const keyed = tasks.some((t) => t.idempotencyKey !== null);
  const sql =
    tasks.length === 1
      ? insertOneSql(store, lease !== undefined, keyed)
      : insertSql(store, lease !== undefined, keyed);
  // The enqueuer's active span: each task's attempts are its children, on whatever node runs them.
  const trace = options.trace ?? currentCarrier();
  const params = (from: number, to: number): SqlValue[] => {
    if (tasks.length === 1) return oneParams(tasks[0]!, now, lease, trace);
    const json = rowsJson(tasks, from, to, trace);
    return lease === undefined ? [json, now] : [json, now, lease.leaseUntil, lease.workerId];
  };
  const run = async (ex: Tx | undefined): Promise<EnqueuedTask[]> => {
    const inserted: InsertedRow[] = [];
    for (let from = 0; from < tasks.length; from += INSERT_CHUNK) {
      const to = Math.min(tasks.length, from + INSERT_CHUNK);
      const rows = await writeRows<InsertedRow>(store, sql, params(from, to), ex);
      for (const r of rows) inserted.push(r);
    }
    return resolveResults(store, tasks, inserted, ex, lease !== undefined);
  };
  if (options.tx !== undefined || tasks.length <= INSERT_CHUNK) {
    const results = await run(options.tx);
    if (results.some((r) => r === undefined)) return retryVanished(store, tasks, results, now, options);
    return results;
  }
  const results = await store.transaction((tx) => run(tx));
  if (results.some((r) => r === undefined)) return retryVanished(store, tasks, results, now, options);
  return results;
}

/**
 * Maps inserted rows back to inputs. Unkeyed rows are matched in order: ids from one statement grow in
 * the order its rows were produced, which is input order. Keys not inserted belong to an existing task,
 * looked up here; a slot stays undefined when that task vanished (purged) between the two statements.
 */
async function resolveResults(
  store: Store,
  tasks: readonly NewTask[],
  inserted: InsertedRow[],
  tx: Tx | undefined,
  leased: boolean,
): Promise<EnqueuedTask[]> {
  const newState = leased ? TaskState.running : TaskState.queued;
  const byKey = new Map<string, EnqueuedTask>();
  const unkeyed: number[] = [];
  for (const row of inserted) {
    const id = Number(row.id);
    if (row.idempotency_key === null) unkeyed.push(id);
    else
      byKey.set(keyOf(row.queue, row.idempotency_key), {
        id,
        queue: row.queue,
        state: newState,
        created: true,
      });
  }
  unkeyed.sort((a, b) => a - b);
  const missing: Array<{ queue: string; key: string }> = [];
  const claimedKeys = new Set<string>();
  for (const t of tasks) {
    if (t.idempotencyKey === null) continue;
    const k = keyOf(t.queue, t.idempotencyKey);
    if (!byKey.has(k) && !claimedKeys.has(k)) {
      claimedKeys.add(k);
      missing.push({ queue: t.queue, key: t.idempotencyKey });
    }
  }
  const existing = new Map<string, EnqueuedTask>();
  if (missing.length > 0) {
    const rows = await findByKeys(store, missing, tx);
    for (const r of rows) {
      existing.set(keyOf(r.queue, r.idempotency_key), {
        id: Number(r.id),
        queue: r.queue,
        state: r.state,
        created: false,
      });
    }
  }
  const firstUse = new Set<string>();
  let next = 0;
  return tasks.map((t) => {
    if (t.idempotencyKey === null) {
      const id = unkeyed[next++]!;
      return { id, queue: t.queue, state: newState, created: true };
    }
    const k = keyOf(t.queue, t.idempotencyKey);
    const made = byKey.get(k);
    if (made !== undefined) {
      // A key repeated within one batch: the first input made the task, the later ones found it.
      if (firstUse.has(k)) return { ...made, created: false };
      firstUse.add(k);
      return made;
    }
    return existing.get(k) as EnqueuedTask;
  });
}

interface KeyRow {
  id: number;
  queue: string;
  idempotency_key: string;
  state: TaskState;
}

async function findByKeys(
  store: Store,
  keys: ReadonlyArray<{ queue: string; key: string }>,
  tx: Tx | undefined,
): Promise<KeyRow[]> {
  // Both lists are index conditions on (queue, idempotency_key); the exact pairs are picked out here.
  const queues = [...new Set(keys.map((k) => k.queue))];
  const names = [...new Set(keys.map((k) => k.key))];
  const sql =
    store.dialect === 'postgres'
      ? `SELECT id, queue, idempotency_key, state FROM garrison_tasks ` +
        `WHERE queue = ANY($1::text[]) AND idempotency_key = ANY($2::text[])`
      : `SELECT id, queue, idempotency_key, state FROM garrison_tasks ` +
        `WHERE queue IN (SELECT value FROM json_each($1)) AND idempotency_key IN (SELECT value FROM json_each($2))`;
  const params =
    store.dialect === 'postgres'
      ? [textArray(queues), textArray(names)]
      : [JSON.stringify(queues), JSON.stringify(names)];
  const wanted = new Set(keys.map((k) => keyOf(k.queue, k.key)));
  const rows = await reader(store, tx).query<KeyRow>(sql, params);
  return rows.filter((r) => wanted.has(keyOf(r.queue, r.idempotency_key)));
}

/** A PostgreSQL text array literal of any strings. */
function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

/** Inserts again the inputs whose key's task vanished between the insert and the lookup. */
async function retryVanished(
  store: Store,
  tasks: readonly NewTask[],
  results: Array<EnqueuedTask | undefined>,
  now: number,
  options: { readonly tx?: Tx; readonly lease?: InsertLease },
): Promise<EnqueuedTask[]> {
  const again: NewTask[] = [];
  const where: number[] = [];
  results.forEach((r, i) => {
    if (r === undefined) {
      again.push(tasks[i]!);
      where.push(i);
    }
  });
  const retried = await insertTasks(store, again, now, options);
  const out = [...results];
  where.forEach((i, j) => {
    out[i] = retried[j];
  });
  return out as EnqueuedTask[];
}

/**
 * The claim: one statement that leases the next runnable tasks of some queues to a worker.
 *
 * It takes the head of the claim index (higher priority first, then earliest run_at, then enqueue order)
 * and, in the same statement, running tasks whose lease has expired (their worker stopped renewing —
 * it died, hung or lost the database). Every claimed task gets a new fencing token and its attempt
 * count goes up; an expired task that has no attempts left goes to the dead letters instead.
 *
 * PostgreSQL: the rows are picked `FOR UPDATE SKIP LOCKED`, so concurrent claimers in any number of
 * processes never wait for or take each other's rows. SQLite: the single writer serializes claims.
 */
import type { Store, Tx } from '../../store/index.js';
import { CLAIM_COLUMNS, type ClaimRow } from './rows.js';
import { bindNames, inNames, writeRows } from './store-io.js';

export interface ClaimRequest {
  readonly queues: readonly string[];
  /** Most tasks to lease. */
  readonly limit: number;
  /** UNIX epoch ms. */
  readonly now: number;
  /** The new leases' end, UNIX epoch ms. */
  readonly leaseUntil: number;
  readonly workerId: string;
}

/** The SET list of a claim; `t` is the task row before the update. */
export const CLAIM_SET = (now: string, leaseUntil: string, workerId: string): string => {
  const exhausted = `t.state = 'running' AND t.attempts >= t.max_attempts`;
  return (
    `state = CASE WHEN ${exhausted} THEN 'dead' ELSE 'running' END, ` +
    `attempts = CASE WHEN ${exhausted} THEN t.attempts ELSE t.attempts + 1 END, ` +
    `token = t.token + 1, ` +
    `lease_until = CASE WHEN ${exhausted} THEN NULL ELSE ${leaseUntil} END, ` +
    `leased_by = CASE WHEN ${exhausted} THEN t.leased_by ELSE ${workerId} END, ` +
    `finished_at = CASE WHEN ${exhausted} THEN ${now} ELSE NULL END, ` +
    `last_error = CASE WHEN t.state = 'running' THEN 'the lease of attempt ' || t.attempts || ' held by ' || ` +
    `COALESCE(t.leased_by, '?') || ' expired' ELSE t.last_error END`
  );
};

/**
 * The SET list that gives expired leases back to their queue (or to the dead letters when no attempt is
 * left) without leasing them; `t` is the task row before the update.
 */
export const EXPIRED_RESET_SET = (now: string): string =>
  `state = CASE WHEN t.attempts >= t.max_attempts THEN 'dead' ELSE 'queued' END, lease_until = NULL, ` +
  `finished_at = CASE WHEN t.attempts >= t.max_attempts THEN ${now} ELSE NULL END, ` +
  `last_error = 'the lease of attempt ' || t.attempts || ' held by ' || COALESCE(t.leased_by, '?') || ' expired'`;

function queueFilter(store: Store, queues: readonly string[]): string {
  return queues.length === 1 ? 'queue = $1' : inNames(store, 'queue', 1);
}

const sqlCache = new Map<string, string>();

function claimSql(store: Store, queues: readonly string[]): string {
  const single = queues.length === 1;
  const cacheKey = `${store.dialect}:${single ? 1 : 'n'}`;
  const cached = sqlCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const q = queueFilter(store, queues);
  const head =
    `SELECT id FROM garrison_tasks WHERE ${q} AND state = 'queued' AND run_at <= $2 ` +
    `ORDER BY priority DESC, run_at, id LIMIT $3`;
  const expired = `SELECT id FROM garrison_tasks WHERE ${q} AND state = 'running' AND lease_until < $2 LIMIT $3`;
  const sql =
    store.dialect === 'postgres'
      ? // `= ANY(ARRAY(…))` makes the update find its rows through the primary key; a join with the CTEs
        // lets the planner hash-join against a scan of the whole table.
        `WITH queued AS (${head} FOR UPDATE SKIP LOCKED), expired AS (${expired} FOR UPDATE SKIP LOCKED) ` +
        `UPDATE garrison_tasks t SET ${CLAIM_SET('$2::bigint', '$4::bigint', '$5::text')} ` +
        `WHERE t.id = ANY(ARRAY(SELECT id FROM queued UNION ALL SELECT id FROM expired)) RETURNING ${CLAIM_COLUMNS}`
      : `UPDATE garrison_tasks AS t SET ${CLAIM_SET('$2', '$4', '$5')} ` +
        `WHERE t.id IN (${head}) OR t.id IN (${expired}) RETURNING ${CLAIM_COLUMNS.replace(/t\./g, '')}`;
  sqlCache.set(cacheKey, sql);
  return sql;
}

/** Leases up to `limit` tasks (plus any expired leases found); rows with state `dead` were not leased. */
export function claimTasks(store: Store, request: ClaimRequest, tx?: Tx): Promise<ClaimRow[]> {
  const queueParam = request.queues.length === 1 ? request.queues[0]! : bindNames(store, request.queues);
  return writeRows<ClaimRow>(
    store,
    claimSql(store, request.queues),
    [queueParam, request.now, request.limit, request.leaseUntil, request.workerId],
    tx,
  );
}

/** Puts claimed rows in claim order (a statement's RETURNING order is unspecified). */
export function inClaimOrder(rows: ClaimRow[]): ClaimRow[] {
  return rows.sort(
    (a, b) =>
      Number(b.priority) - Number(a.priority) ||
      Number(a.run_at) - Number(b.run_at) ||
      Number(a.id) - Number(b.id),
  );
}

/**
 * When the next task of these queues becomes claimable (a delayed or retrying task comes due, or a
 * lease runs out), UNIX epoch ms; undefined when there is nothing to wait for.
 */
export async function nextDueAt(store: Store, queues: readonly string[]): Promise<number | undefined> {
  const q = queueFilter(store, queues);
  const param = queues.length === 1 ? queues[0]! : bindNames(store, queues);
  const rows = await store.query<{ due: number | string | null; lease: number | string | null }>(
    `SELECT (SELECT MIN(run_at) FROM garrison_tasks WHERE ${q} AND state = 'queued') AS due, ` +
      `(SELECT MIN(lease_until) FROM garrison_tasks WHERE ${q} AND state = 'running') AS lease`,
    [param],
  );
  const row = rows[0];
  // A lease is expired once the time is past lease_until (claims test lease_until < now).
  const candidates = [
    row?.due,
    row?.lease === null || row?.lease === undefined ? null : Number(row.lease) + 1,
  ]
    .filter((v) => v !== null && v !== undefined)
    .map(Number);
  return candidates.length === 0 ? undefined : Math.min(...candidates);
}

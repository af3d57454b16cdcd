/**
 * Settling leased tasks: complete, fail, release, renew. Every statement names each task with the
 * fencing token of its claim and requires it to be still running, so a worker whose lease expired and
 * was taken over changes nothing: its rows simply do not match, and it is told which ones were lost.
 */
import type { Store, SqlValue, Tx } from '../../store/index.js';
import { bindIds, bindPairs, inIds, pairsSource, writeRows } from './store-io.js';
import type { TaskState } from './types.js';

/** A task as leased: its id and the fencing token of the claim. */
export interface Lease {
  readonly id: number;
  readonly token: number;
}

/**
 * Runs `UPDATE … SET <set>` (or a DELETE when `set` is undefined) on the running tasks named by
 * `leases`, and returns the ids it changed. `extra` parameters are numbered from $1; the pairs follow.
 */
async function onLeases(
  store: Store,
  leases: readonly Lease[],
  set: string | undefined,
  extra: readonly SqlValue[],
  tx?: Tx,
  condition = '',
): Promise<Set<number>> {
  if (leases.length === 0) return new Set();
  const n = extra.length + 1;
  const source = pairsSource(store, n);
  let sql: string;
  if (store.dialect === 'postgres') {
    // `t.id = ANY(ids)` lets the planner find the rows through the primary key instead of hash-joining
    // the pairs against a scan of the whole table.
    const match = `t.id = ANY($${n}::bigint[]) AND t.id = c.id AND t.token = c.token AND t.state = 'running'`;
    sql =
      set === undefined
        ? `DELETE FROM garrison_tasks t USING ${source} WHERE ${match}${condition} RETURNING t.id`
        : `UPDATE garrison_tasks t SET ${set} FROM ${source} WHERE ${match}${condition} RETURNING t.id`;
  } else {
    const ids =
      `SELECT t.id FROM ${source} JOIN garrison_tasks t ON t.id = c.id AND t.token = c.token ` +
      `WHERE t.state = 'running'${condition}`;
    sql =
      set === undefined
        ? `DELETE FROM garrison_tasks WHERE id IN (${ids}) RETURNING id`
        : `UPDATE garrison_tasks SET ${set} WHERE id IN (${ids}) RETURNING id`;
  }
  const rows = await writeRows<{ id: number }>(store, sql, [...extra, ...bindPairs(store, leases)], tx);
  const done = new Set<number>();
  for (const r of rows) done.add(Number(r.id));
  return done;
}

/**
 * A finished task to record: `retain` keeps its row as `completed` instead of deleting it; undefined
 * lets the row's own `retain` column decide.
 */
export interface Completion extends Lease {
  readonly retain: boolean | undefined;
}

const COMPLETED_SET = `state = 'completed', lease_until = NULL, finished_at = CAST($1 AS BIGINT)`;

/**
 * Records completions; answers the ids accepted (the others had lost their lease or were cancelled).
 * Completions known not to be retained — the hot path — are one DELETE statement.
 */
export async function completeTasks(
  store: Store,
  completions: readonly Completion[],
  now: number,
  tx?: Tx,
): Promise<Set<number>> {
  const dropped: Lease[] = [];
  const kept: Lease[] = [];
  const unknown: Lease[] = [];
  for (const c of completions) (c.retain === undefined ? unknown : c.retain ? kept : dropped).push(c);
  if (kept.length === 0 && unknown.length === 0) return onLeases(store, dropped, undefined, [], tx);
  const all = async (t: Tx) => {
    const done = await onLeases(store, dropped, undefined, [], t);
    const add = (ids: Set<number>) => ids.forEach((id) => done.add(id));
    add(await onLeases(store, kept, COMPLETED_SET, [now], t));
    add(await onLeases(store, unknown, undefined, [], t, ' AND t.retain = 0'));
    add(await onLeases(store, unknown, COMPLETED_SET, [now], t, ' AND t.retain = 1'));
    return done;
  };
  if (tx !== undefined) return all(tx);
  return store.dialect === 'postgres' ? store.transaction(all) : store.write(all);
}

/** A failed attempt: retried at `retryAt` (UNIX epoch ms), or dead when undefined. */
export interface Failure extends Lease {
  readonly error: string;
  readonly retryAt: number | undefined;
}

/** Records one failure; false when the lease was lost. */
export async function failTask(store: Store, failure: Failure, now: number, tx?: Tx): Promise<boolean> {
  const set =
    failure.retryAt === undefined
      ? `state = 'dead', lease_until = NULL, last_error = CAST($1 AS TEXT), finished_at = CAST($2 AS BIGINT)`
      : `state = 'queued', lease_until = NULL, last_error = CAST($1 AS TEXT), run_at = CAST($2 AS BIGINT)`;
  const done = await onLeases(store, [failure], set, [failure.error, failure.retryAt ?? now], tx);
  return done.has(failure.id);
}

/**
 * Gives leased tasks back to the queue. `unstarted` tasks never ran, so their attempt is not counted;
 * the others keep the attempt they used. Answers the ids released.
 */
export function releaseTasks(
  store: Store,
  leases: readonly Lease[],
  unstarted: boolean,
): Promise<Set<number>> {
  return onLeases(
    store,
    leases,
    `state = 'queued', lease_until = NULL, leased_by = NULL, attempts = attempts - CAST($1 AS INTEGER)`,
    [unstarted ? 1 : 0],
  );
}

/** Extends leases to `leaseUntil` (UNIX epoch ms); answers the ids still held. */
export function renewLeases(
  store: Store,
  leases: readonly Lease[],
  leaseUntil: number,
): Promise<Set<number>> {
  return onLeases(store, leases, `lease_until = CAST($1 AS BIGINT)`, [leaseUntil]);
}

/** Why a lease was found lost. */
export type LossReason = 'cancelled' | 'taken_over' | 'finished_elsewhere';

/** Looks up why each of `leases` no longer matches its running row. */
export async function lossReasons(store: Store, leases: readonly Lease[]): Promise<Map<number, LossReason>> {
  const rows = await store.query<{ id: number; state: TaskState; token: number }>(
    `SELECT id, state, token FROM garrison_tasks WHERE ${inIds(store, 'id', 1)}`,
    [
      bindIds(
        store,
        leases.map((l) => l.id),
      ),
    ],
  );
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const reasons = new Map<number, LossReason>();
  for (const l of leases) {
    const row = byId.get(l.id);
    if (row === undefined) reasons.set(l.id, 'finished_elsewhere');
    else if (row.state === 'cancelled') reasons.set(l.id, 'cancelled');
    else reasons.set(l.id, Number(row.token) === l.token ? 'finished_elsewhere' : 'taken_over');
  }
  return reasons;
}

/** Adds `by` to a counter kept in the store (e.g. `lease_lost`). */
export async function bumpCounter(store: Store, queue: string, name: string, by: number): Promise<void> {
  await writeRows(
    store,
    `INSERT INTO garrison_queue_counters (queue, name, value) VALUES ($1, $2, $3) ` +
      `ON CONFLICT (queue, name) DO UPDATE SET value = garrison_queue_counters.value + excluded.value`,
    [queue, name, by],
  );
}

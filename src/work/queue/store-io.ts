/**
 * How the queue runs its data-changing statements. Each hot-path statement is a single statement, so it
 * is atomic by itself: on PostgreSQL it runs autocommitted on the pool (one round trip, and with
 * synchronous_commit on it answers only once committed to disk); on SQLite it goes through the single
 * writer's group commit, batched with the other writes of the moment. Inside a caller's transaction it
 * simply joins that transaction.
 */
import type { Executor, Row, SqlValue, Store, Tx } from '../../store/index.js';

/** Runs one data-changing statement durably and returns the rows it returns. */
export function writeRows<T = Row>(
  store: Store,
  sql: string,
  params: readonly SqlValue[],
  tx?: Tx,
): Promise<T[]> {
  if (tx !== undefined) return tx.query<T>(sql, params);
  if (store.dialect === 'postgres') return store.query<T>(sql, params);
  return store.write((t) => t.query<T>(sql, params));
}

/** Runs `fn` in one transaction (or inside the caller's). */
export function inTransaction<T>(store: Store, fn: (ex: Tx) => Promise<T>, tx?: Tx): Promise<T> {
  if (tx !== undefined) return fn(tx);
  return store.transaction(fn);
}

/** An executor that reads: the caller's transaction when given, else the store. */
export function reader(store: Store, tx?: Tx): Executor {
  return tx ?? store;
}

/**
 * Binds a list of (id, token) pairs. PostgreSQL gets two array literals for `unnest($a::bigint[],
 * $b::bigint[])`; SQLite gets one JSON array of pairs for `json_each`.
 */
export function bindPairs(
  store: Pick<Store, 'dialect'>,
  pairs: ReadonlyArray<{ readonly id: number; readonly token: number }>,
): SqlValue[] {
  if (store.dialect === 'postgres') {
    let ids = '{';
    let tokens = '{';
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i]!;
      if (i > 0) {
        ids += ',';
        tokens += ',';
      }
      ids += String(p.id);
      tokens += String(p.token);
    }
    return [`${ids}}`, `${tokens}}`];
  }
  let json = '[';
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    json += `${i > 0 ? ',' : ''}[${p.id},${p.token}]`;
  }
  return [`${json}]`];
}

/**
 * The FROM item listing bound pairs as rows `c(id, token)`, starting at parameter `$n` (PostgreSQL uses
 * `$n` and `$n+1`, SQLite `$n`).
 */
export function pairsSource(store: Pick<Store, 'dialect'>, n: number): string {
  return store.dialect === 'postgres'
    ? `unnest($${n}::bigint[], $${n + 1}::bigint[]) AS c(id, token)`
    : `(SELECT value ->> 0 AS id, value ->> 1 AS token FROM json_each($${n})) AS c`;
}

/** Binds a list of ids: a PostgreSQL array literal, or a JSON array for SQLite's `json_each`. */
export function bindIds(store: Pick<Store, 'dialect'>, ids: readonly number[]): SqlValue {
  return store.dialect === 'postgres' ? `{${ids.join(',')}}` : `[${ids.join(',')}]`;
}

/** `column IN (<bound ids at $n>)` for either dialect. */
export function inIds(store: Pick<Store, 'dialect'>, column: string, n: number): string {
  return store.dialect === 'postgres'
    ? `${column} = ANY($${n}::bigint[])`
    : `${column} IN (SELECT value FROM json_each($${n}))`;
}

/**
 * Binds a list of queue names: a PostgreSQL text array literal (names are letters, digits and `_ . : -`,
 * so quoting each is enough), or a JSON array for SQLite.
 */
export function bindNames(store: Pick<Store, 'dialect'>, names: readonly string[]): SqlValue {
  return store.dialect === 'postgres' ? `{${names.map((n) => `"${n}"`).join(',')}}` : JSON.stringify(names);
}

/** `column IN (<bound names at $n>)` for either dialect. */
export function inNames(store: Pick<Store, 'dialect'>, column: string, n: number): string {
  return store.dialect === 'postgres'
    ? `${column} = ANY($${n}::text[])`
    : `${column} IN (SELECT value FROM json_each($${n}))`;
}

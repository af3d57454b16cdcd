/**
 * A list of values bound as ONE statement parameter, for either dialect: a PostgreSQL array
 * (`= ANY($n::text[])`), or a JSON array read by SQLite's `json_each`. One placeholder per item would make
 * every list length a new statement (the statement cache fills with one-offs) and runs into the engines'
 * limits on parameters and expression size; one parameter keeps the SQL the same for any length.
 */
import type { Dialect, SqlValue } from '../types.js';

/**
 * What the list holds. `real` compares as a double (SQLite casts each item to REAL); `json` items are JSON
 * documents (PostgreSQL `jsonb`; on SQLite each item is the JSON text).
 */
export type ListKind = 'text' | 'integer' | 'real' | 'json';

export type ListValues<K extends ListKind> = K extends 'text'
  ? readonly string[]
  : K extends 'json'
    ? readonly unknown[]
    : readonly number[];

const PG_TYPE: Record<ListKind, string> = {
  text: 'text[]',
  integer: 'bigint[]',
  real: 'double precision[]',
  json: 'jsonb[]',
};

/** One element of a PostgreSQL array literal, always quoted so any text (even `NULL`) stays text. */
function pgElement(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The one parameter holding `values`: a PostgreSQL array literal, or a JSON array for SQLite. */
export function listParam<K extends ListKind>(dialect: Dialect, kind: K, values: ListValues<K>): SqlValue {
  if (kind === 'integer' || kind === 'real') {
    for (const v of values as readonly number[]) {
      if (!Number.isFinite(v) || (kind === 'integer' && !Number.isInteger(v)))
        throw new TypeError(`a ${kind} list cannot hold ${String(v)}`);
    }
  }
  if (dialect === 'postgres') {
    const items =
      kind === 'json'
        ? (values as readonly unknown[]).map((v) => pgElement(JSON.stringify(v)))
        : kind === 'text'
          ? (values as readonly string[]).map(pgElement)
          : (values as readonly number[]).map(String);
    return `{${items.join(',')}}`;
  }
  return JSON.stringify(
    kind === 'json' ? (values as readonly unknown[]).map((v) => JSON.stringify(v)) : values,
  );
}

/**
 * The list at `placeholder` (e.g. `$3`) as something a comparison can take: `ANY($3::text[])` on
 * PostgreSQL (so `x = <it>`, `doc @> <it>`), `(SELECT value FROM json_each($3))` on SQLite (so `x IN <it>`).
 */
export function listOperand(dialect: Dialect, kind: ListKind, placeholder: string): string {
  if (dialect === 'postgres') return `ANY(${placeholder}::${PG_TYPE[kind]})`;
  return kind === 'real'
    ? `(SELECT CAST(value AS REAL) FROM json_each(${placeholder}))`
    : `(SELECT value FROM json_each(${placeholder}))`;
}

/** `column` is one of the list at `placeholder`. */
export function inListSql(dialect: Dialect, column: string, kind: ListKind, placeholder: string): string {
  const operand = listOperand(dialect, kind, placeholder);
  return dialect === 'postgres' ? `${column} = ${operand}` : `${column} IN ${operand}`;
}

/**
 * `column IN (values)` with the list bound as the one parameter `$at`: returns the SQL fragment and the
 * parameter to bind there.
 */
export function bindList<K extends ListKind>(
  dialect: Dialect,
  column: string,
  kind: K,
  values: ListValues<K>,
  at: number,
): { readonly sql: string; readonly param: SqlValue } {
  return { sql: inListSql(dialect, column, kind, `$${at}`), param: listParam(dialect, kind, values) };
}

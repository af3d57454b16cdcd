/**
 * JSON columns are TEXT on SQLite and JSONB on PostgreSQL; both adapters hand them back as JSON text.
 * These two functions are how callers write and read them.
 */

/** The value to bind for a JSON column. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** A JSON column's value as read from either dialect. */
export function parseJson<T = unknown>(value: unknown): T {
  if (typeof value === 'string') return JSON.parse(value) as T;
  return value as T;
}

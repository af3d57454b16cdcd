/**
 * Keyset paging's cursor: the sort key of the last row of a page, as opaque text (base64url of a JSON
 * list). A listing answers the next page with `WHERE key > cursor`, so a page costs the same wherever it
 * is and a row added or removed meanwhile never shifts the pages the way an offset would.
 */

import { z } from 'zod';

/** A sort key: the values of the ordering columns of one row. */
export type PageKey = ReadonlyArray<string | number>;

/** The default and the largest page of a listing (`limit`), in rows. */
export const PAGE_DEFAULT_LIMIT = 100;
export const PAGE_MAX_LIMIT = 1000;

/** A listing's `limit` as callers may give it: a whole number of rows, 1 to PAGE_MAX_LIMIT. */
export const pageLimitSchema = z
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(PAGE_MAX_LIMIT, `must be at most ${PAGE_MAX_LIMIT}`);

export function encodePageCursor(key: PageKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * The key in a cursor, when it holds exactly `kinds` (e.g. `['number', 'string']`); undefined for any
 * other text, so the caller can refuse it with its own error.
 */
export function decodePageCursor(
  cursor: string,
  kinds: ReadonlyArray<'string' | 'number'>,
): PageKey | undefined {
  if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(key) || key.length !== kinds.length) return undefined;
  const ok = key.every((v: unknown, i) =>
    kinds[i] === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === 'string',
  );
  return ok ? (key as PageKey) : undefined;
}

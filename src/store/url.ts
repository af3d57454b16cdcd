/**
 * Store URLs: `sqlite:<path>` (the embedded default, `sqlite:.garrison/garrison.db`), `sqlite::memory:`,
 * and `postgres://user:pass@host:port/db?schema=name` (`postgresql://` too).
 */
import { z } from 'zod';
import { describeIssues } from '../errors.js';
import { StoreError, StoreErrorCode } from './errors.js';

export const DEFAULT_STORE_URL = 'sqlite:.garrison/garrison.db';

const sqliteQuery = z
  .object({
    synchronous: z.enum(['FULL', 'NORMAL', 'EXTRA']).optional(),
    busy_timeout: z.coerce.number().int().min(0).max(600_000).optional(),
  })
  .strict();

const postgresQuery = z
  .object({
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier (a-z, 0-9, _)')
      .optional(),
    pool: z.coerce.number().int().min(1).max(200).optional(),
  })
  .passthrough();

export type ParsedStoreUrl =
  | {
      readonly kind: 'sqlite';
      readonly path: string;
      readonly synchronous?: 'FULL' | 'NORMAL' | 'EXTRA';
      readonly busyTimeoutMs?: number;
    }
  | {
      readonly kind: 'postgres';
      /** The connection string without Garrison's own query parameters. */
      readonly connectionString: string;
      readonly schema?: string;
      readonly poolSize?: number;
      /** The URL with its user-info and secret parameters replaced by `***`, for messages and status. */
      readonly redacted: string;
    };

function invalid(url: string, why: string): StoreError {
  return new StoreError(StoreErrorCode.urlInvalid, `invalid store URL "${redact(url)}": ${why}`);
}

/** Query parameters the pg driver reads as secrets (`?password=` works as the URL's password). */
const secretParams = /pass/i;

/**
 * A URL fit for messages and status: all of the user-info (user and password: an unencoded `@`, `:` or
 * `/` in a password moves its pieces around) and every secret query parameter become `***`. A URL that
 * cannot be parsed is never echoed whole: everything between `//` (or the scheme) and the last `@` goes.
 */
export function redact(url: string): string {
  if (/^sqlite:/i.test(url)) return url; // a file path: no credentials, and an `@` in it is a name
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return redactRaw(url);
  if (parsed.username === '' && parsed.password === '' && !hasSecretParam(parsed)) return url;
  return redactParsed(parsed);
}

function hasSecretParam(url: URL): boolean {
  return [...url.searchParams.keys()].some((k) => secretParams.test(k));
}

function redactParsed(url: URL): string {
  const copy = new URL(url.toString());
  for (const key of [...copy.searchParams.keys()])
    if (secretParams.test(key)) copy.searchParams.set(key, '***');
  if (copy.username === '' && copy.password === '') return copy.toString();
  copy.password = '';
  copy.username = 'REDACTED';
  return copy.toString().replace('//REDACTED@', '//***@');
}

function redactRaw(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(url)?.[0].length ?? 0;
  return at < scheme ? url : `${url.slice(0, scheme)}***${url.slice(at)}`;
}

function queryObject(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) out[k] = v;
  return out;
}

export function parseStoreUrl(url: string): ParsedStoreUrl {
  if (typeof url !== 'string' || url.trim() === '') throw invalid(String(url), 'it is empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    const rest = url.slice('sqlite:'.length);
    const q = rest.indexOf('?');
    let path = q >= 0 ? rest.slice(0, q) : rest;
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw invalid(url, 'no file path after "sqlite:" (e.g. sqlite:.garrison/garrison.db)');
    const parsed = sqliteQuery.safeParse(queryObject(new URLSearchParams(q >= 0 ? rest.slice(q + 1) : '')));
    if (!parsed.success) throw invalid(url, describeIssues(parsed.error.issues));
    return {
      kind: 'sqlite',
      path,
      synchronous: parsed.data.synchronous,
      busyTimeoutMs: parsed.data.busy_timeout,
    };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(url);
    } catch {
      throw invalid(url, 'it is not a well-formed postgres:// URL');
    }
    const parsed = postgresQuery.safeParse(queryObject(parsedUrl.searchParams));
    if (!parsed.success) throw invalid(url, describeIssues(parsed.error.issues));
    parsedUrl.searchParams.delete('schema');
    parsedUrl.searchParams.delete('pool');
    return {
      kind: 'postgres',
      connectionString: parsedUrl.toString(),
      schema: parsed.data.schema,
      poolSize: parsed.data.pool,
      redacted: redactParsed(parsedUrl),
    };
  }
  if (scheme === undefined) {
    throw invalid(url, 'it has no scheme; use sqlite:<path> or postgres://…');
  }
  throw invalid(url, `the scheme "${scheme}:" is not supported; use sqlite:<path> or postgres://…`);
}

/**
 * Request bodies: JSON only (415 otherwise), at most `limit` bytes — hono's `bodyLimit` refuses them with
 * 413 from the Content-Length before reading, or as soon as the stream passes the limit — parsed (400 if
 * not JSON) and at most `MAX_DEPTH` levels deep (422), so nothing downstream recurses without bound.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './errors.js';
import type { ApiEnv } from './route.js';

/** Deepest nesting of arrays and objects a body may have. */
export const MAX_DEPTH = 64;

const isJsonType = (type: string) => type === 'application/json' || /^application\/[\w.-]+\+json$/.test(type);

/** The length the request declares for its body, if it declares one. */
export function declaredLength(c: Context<ApiEnv, string>): number | undefined {
  const declared = Number(c.req.header('content-length') ?? NaN);
  return Number.isFinite(declared) ? declared : undefined;
}

/** Whether the request declares a body at all. */
export function hasBody(c: Context<ApiEnv, string>): boolean {
  return (declaredLength(c) ?? 0) > 0 || c.req.header('transfer-encoding') !== undefined;
}

/** 415 unless the body is JSON; checked from the headers, before anything is read. */
export function checkJsonType(c: Context<ApiEnv, string>): void {
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!isJsonType(type))
    throw new ApiError(
      415,
      'unsupported_media_type',
      `send JSON (Content-Type: application/json), not ${type || 'nothing'}`,
    );
}

/** Reads a request's JSON body, bounded to `limit` bytes; `undefined` when it has none. */
export type JsonBodyReader = (c: Context<ApiEnv, string>) => Promise<unknown>;

export function jsonBodyReader(limit: number): JsonBodyReader {
  const bounded: MiddlewareHandler<ApiEnv> = bodyLimit({
    maxSize: limit,
    onError: () => {
      throw new ApiError(413, 'body_too_large', `the body is larger than the limit of ${limit} bytes`);
    },
  });
  return async (c) => {
    if (!hasBody(c)) return undefined;
    checkJsonType(c);
    let text = '';
    await bounded(c, async () => {
      text = await c.req.text();
    });
    return parseJson(text);
  };
}

function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'bad_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (depthOver(value, MAX_DEPTH))
    throw new ApiError(422, 'too_deep', `the body nests more than ${MAX_DEPTH} levels`);
  return value;
}

/** True when `value` nests deeper than `max` (iterative: a deep body cannot overflow the stack here). */
export function depthOver(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Request bodies: JSON only (415 otherwise), at most `limit` bytes — hono's `bodyLimit` refuses them with
 * 413 from the Content-Length before reading, or as soon as the stream passes the limit — parsed (400 if
 * not JSON) and at most `MAX_DEPTH` levels deep (422), so nothing downstream recurses without bound. A
 * body must arrive within `timeoutMs` of being asked for (408 `body_timeout`, and the connection is
 * closed): a client that trickles its body cannot hold an admission slot longer than that.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Clock } from '../runtime/index.js';
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

export interface BodyReaderOptions {
  /** Largest body, in bytes. */
  readonly limit: number;
  /** Time the whole body has to arrive once it is read, in ms (timed by `clock`). */
  readonly timeoutMs: number;
  readonly clock: Pick<Clock, 'setTimer'>;
}

export function jsonBodyReader({ limit, timeoutMs, clock }: BodyReaderOptions): JsonBodyReader {
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
    let timer: { cancel(): void } | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = clock.setTimer(timeoutMs, () =>
        reject(
          new ApiError(408, 'body_timeout', `the body did not arrive within ${timeoutMs} ms`, undefined, {
            connection: 'close',
          }),
        ),
      );
    });
    try {
      await Promise.race([
        bounded(c, async () => {
          try {
            text = await c.req.text();
          } catch (error) {
            if (error instanceof ApiError) throw error;
            // The client went away mid-body: nobody reads the answer, and it is no server fault.
            throw new ApiError(400, 'body_aborted', 'the body was cut off before its end');
          }
        }),
        late,
      ]);
    } finally {
      timer?.cancel();
    }
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

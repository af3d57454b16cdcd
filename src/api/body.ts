/**
 * Request bodies: JSON only (415 otherwise), at most `limit` bytes — refused with 413 from the
 * Content-Length before reading, or as soon as the stream passes the limit — parsed (400 if not JSON)
 * and at most `MAX_DEPTH` levels deep (422), so nothing downstream recurses without bound.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

/** Deepest nesting of arrays and objects a body may have. */
export const MAX_DEPTH = 64;

const isJsonType = (type: string) => type === 'application/json' || /^application\/[\w.-]+\+json$/.test(type);

/** Whether the request declares a body at all. */
export function hasBody(req: IncomingMessage): boolean {
  const declared = Number(req.headers['content-length'] ?? NaN);
  return (Number.isFinite(declared) && declared > 0) || req.headers['transfer-encoding'] !== undefined;
}

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!isJsonType(type))
    throw new ApiError(
      415,
      'unsupported_media_type',
      `send JSON (Content-Type: application/json), not ${type || 'nothing'}`,
    );
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit)
    throw new ApiError(413, 'body_too_large', `the body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit)
      throw new ApiError(413, 'body_too_large', `the body passed the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
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

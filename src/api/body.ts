/**
 * Request bodies: JSON only (415 otherwise), at most `limit` bytes — refused with 413 from the
 * Content-Length before reading, or as soon as the stream passes the limit — and parsed (400 if not JSON).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const hasBody =
    (Number.isFinite(declared) && declared > 0) || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ApiError(
      415,
      'unsupported_media_type',
      `send JSON (Content-Type: application/json), not ${type || 'nothing'}`,
    );
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
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'bad_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

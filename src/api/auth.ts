/**
 * Bearer-token authentication. Tokens are kept only as SHA-256 digests, compared in constant time, and
 * scoped: `read` may call every GET route, `admin` every route. A client address that presents wrong
 * tokens too often has its further wrong tokens refused with 429 for a while; a valid token always
 * passes (a shared address cannot lock the operator out). Tokens are never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../runtime/index.js';
import { ApiError } from './errors.js';
import { createFailureLimiter } from './failure-limiter.js';

/** What a token may do. */
export const ApiScope = {
  /** Every GET route: listings, the event stream, metrics, the OpenAPI document. */
  read: 'read',
  /** Every route, changes included. */
  admin: 'admin',
} as const;
export type ApiScope = (typeof ApiScope)[keyof typeof ApiScope];

/** What a route asks of a request. */
export type RouteAccess = 'public' | ApiScope;

/** One accepted token: the token itself (hashed at start-up, then forgotten) or its SHA-256 digest. */
export type ApiTokenConfig = { readonly scope: ApiScope; readonly name?: string } & (
  { readonly token: string } | { readonly sha256: string }
);

export interface ApiAuthOptions {
  readonly tokens: readonly ApiTokenConfig[];
  /** Wrong tokens a client address may present at once before it is refused with 429. Default 10. */
  readonly failedAttemptBurst?: number;
  /** Wrong tokens allowed back per minute and address after that. Default 10. */
  readonly failedAttemptsPerMinute?: number;
  /** Client addresses whose wrong tokens are remembered; past it the least recent is forgotten. Default 10000. */
  readonly failedAttemptAddresses?: number;
}

/** A token has at least 128 bits when random: 22 base64url characters. */
export const MIN_TOKEN_LENGTH = 22;

export const authOptionsSchema = z.strictObject({
  tokens: z
    .array(
      z.union([
        z.strictObject({
          scope: z.enum(ApiScope),
          name: z.string().min(1).max(100).optional(),
          token: z
            .string()
            .min(MIN_TOKEN_LENGTH, `a token of at least ${MIN_TOKEN_LENGTH} characters (128 random bits)`)
            .max(512),
        }),
        z.strictObject({
          scope: z.enum(ApiScope),
          name: z.string().min(1).max(100).optional(),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the hex SHA-256 digest of the token'),
        }),
      ]),
    )
    .min(1)
    .max(1000),
  failedAttemptBurst: z.number().int().min(1).max(1_000_000).default(10),
  failedAttemptsPerMinute: z.number().positive().max(1_000_000).default(10),
  failedAttemptAddresses: z.number().int().min(1).max(10_000_000).default(10_000),
});

/** The hex SHA-256 digest under which a token is kept. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits, base64url) and its digest; give the token out, keep the digest. */
export function createApiToken(): { readonly token: string; readonly sha256: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, sha256: hashApiToken(token) };
}

/** What authentication reads of a request. */
export interface Credentials {
  /** The client's address: wrong tokens are limited per address. */
  readonly address: string | undefined;
  /** The `Authorization` header, if any. */
  readonly authorization: string | undefined;
}

export interface Authenticator {
  /**
   * Throws 401, 403 or 429 unless the request may use a route of this access. Answers who is calling,
   * for audit trails: `api:<token name>` for a named token, else `api`.
   */
  check(request: Credentials, access: RouteAccess): string;
}

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer' });

export function createAuthenticator(
  options: z.output<typeof authOptionsSchema> | undefined,
  clock: Clock,
): Authenticator {
  if (options === undefined) return { check: () => 'api' };
  const digests = options.tokens.map((t) => ({
    scope: t.scope,
    name: t.name,
    digest: Buffer.from('token' in t ? hashApiToken(t.token) : t.sha256, 'hex'),
  }));
  const limiter = createFailureLimiter(
    {
      burst: options.failedAttemptBurst,
      perMinute: options.failedAttemptsPerMinute,
      maxAddresses: options.failedAttemptAddresses,
    },
    clock,
  );
  const tooMany = (retryAfterMs: number) =>
    new ApiError(429, 'too_many_failed_attempts', 'too many wrong tokens from this address', undefined, {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    });

  /** The presented token's entry; every digest is compared, so timing tells nothing. */
  const tokenOf = (token: string): (typeof digests)[number] | undefined => {
    const presented = Buffer.from(hashApiToken(token), 'hex');
    let found: (typeof digests)[number] | undefined;
    for (const d of digests) if (timingSafeEqual(presented, d.digest)) found ??= d;
    return found;
  };

  return {
    check(request, access) {
      if (access === 'public') return 'api';
      const header = request.authorization;
      if (header === undefined) throw unauthorized('send Authorization: Bearer <token>');
      const match = /^Bearer +(\S+)\s*$/i.exec(header);
      const entry = match?.[1] === undefined ? undefined : tokenOf(match[1]);
      if (entry === undefined) {
        const retryAfterMs = limiter.fail(request.address ?? 'unknown');
        if (retryAfterMs > 0) throw tooMany(retryAfterMs);
        throw unauthorized('the token is not valid');
      }
      if (access === 'admin' && entry.scope !== 'admin')
        throw new ApiError(403, 'forbidden', 'this token may only read; the route needs an admin token');
      return entry.name === undefined ? 'api' : `api:${entry.name}`;
    },
  };
}

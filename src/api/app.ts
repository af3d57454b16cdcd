/**
 * The route table mounted onto a hono app. Hono routes (in table order), reads bodies (bounded by its
 * `bodyLimit`), and turns every thrown error into the one error shape (`app.onError`); each route first
 * checks its token, then validates its path parameters, query and body with its zod schemas, and answers
 * what its handler returns. A path that no route takes is 401 to a caller without a token, else 405 with
 * `Allow` when other methods take it, else 404. The request guard (`guard.ts`) runs first, then
 * admission — which the liveness and readiness probes skip, so they answer even when every slot is held.
 */
import { withIncomingTrace } from '../telemetry/index.js';
import { randomUUID } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context, type Handler, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DASHBOARD_SCRIPT_SHA256 } from '../dashboard/index.js';
import type { Clock } from '../runtime/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Authenticator, Credentials } from './auth.js';
import { declaredLength, hasBody, jsonBodyReader } from './body.js';
import { ApiError, errorBody, isConcealed, toHttpError } from './errors.js';
import { parsePart, type ApiEnv, type Route } from './route.js';

export interface ApiAppOptions {
  readonly auth: Authenticator;
  /** Largest request body, in bytes. */
  readonly bodyLimitBytes: number;
  /** Time a body has to arrive once it is read, in ms. */
  readonly bodyTimeoutMs: number;
  /** Times the body deadline. */
  readonly clock: Pick<Clock, 'setTimer'>;
  /** The first middleware: the host, origin and content-type checks. */
  readonly guard: MiddlewareHandler<ApiEnv>;
  /** Then bounded admission (not for the probes). */
  readonly admission: Handler<ApiEnv>;
  /** Where the detail of a 500 goes, under its request id. */
  readonly logger: Pick<Logger, 'error'>;
}

/** Liveness and readiness: cheap, and never queued behind admission. */
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * The page may run its own inline script (by its hash: no other inline script, no injected one) and talk
 * to this server only; it sends no referrer anywhere.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    `default-src 'none'; script-src 'sha256-${DASHBOARD_SCRIPT_SHA256}'; style-src 'unsafe-inline'; ` +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

function reply(
  c: Context<ApiEnv>,
  status: number,
  body: string,
  contentType: string,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return c.body(body, status as ContentfulStatusCode, {
    'content-type': contentType,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  });
}

const credentials = (c: Context<ApiEnv>): Credentials => ({
  address: getConnInfo(c).remote.address,
  authorization: c.req.header('authorization'),
});

/** A malformed escape in the path names nothing (hono would pass it on undecoded). */
function malformedPath(url: string): boolean {
  if (!url.includes('%')) return false;
  try {
    decodeURIComponent(new URL(url).pathname);
    return false;
  } catch {
    return true;
  }
}

export function createApiApp(routes: readonly Route[], o: ApiAppOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const readJson = jsonBodyReader({ limit: o.bodyLimitBytes, timeoutMs: o.bodyTimeoutMs, clock: o.clock });
  app.use(o.guard);
  // A request carrying `traceparent` is handled in the caller's trace (a run it starts continues it).
  app.use((c, next) => withIncomingTrace((name) => c.req.header(name), next));
  app.use(async (c, next) => {
    if (PROBES.has(c.req.path)) await next();
    else await o.admission(c, next);
  });
  for (const r of routes)
    app.on(r.method, r.path, async (c) => {
      if (malformedPath(c.req.url)) return c.notFound();
      c.set('caller', o.auth.check(credentials(c), r.access));
      const params = parsePart(r.params, c.req.param(), 'path parameters');
      const query = parsePart(r.query, c.req.query(), 'query');
      let body: unknown;
      if (r.body !== undefined)
        body = parsePart(r.body, (await readJson(c)) ?? {}, 'body'); // none reads as {}
      else if (hasBody(c)) throw new ApiError(422, 'invalid_input', `${r.method} ${r.path} takes no body`);
      const result = await r.handle({ params, query, body, context: c } as never);
      if ('response' in result) return result.response;
      const headers: Record<string, string> = r.produces === 'text/html' ? PAGE_HEADERS : {};
      if ('json' in result)
        return reply(c, result.status ?? 200, JSON.stringify(result.json), 'application/json', headers);
      return reply(c, result.status ?? 200, result.text, result.contentType, headers);
    });
  // After every route: a path some route takes with another method gathers those methods for a 405.
  const methods = new Map<string, string[]>();
  for (const r of routes) methods.set(r.path, [...(methods.get(r.path) ?? []), r.method]);
  for (const [path, allow] of methods)
    app.all(path, async (c, next) => {
      c.set('allow', [...(c.get('allow') ?? []), ...allow]);
      await next();
    });
  app.notFound((c) => {
    o.auth.check(credentials(c), 'read'); // unauthenticated callers learn nothing about the routes
    const allow = malformedPath(c.req.url) ? undefined : c.get('allow');
    const what = `${c.req.method} ${new URL(c.req.url).pathname}`;
    if (allow !== undefined)
      throw new ApiError(405, 'method_not_allowed', `${what} is not allowed`, undefined, {
        allow: allow.join(', '),
      });
    throw new ApiError(404, 'not_found', `no route for ${what}`);
  });
  app.onError((error, c) => {
    const e = toHttpError(error);
    let requestId: string | undefined;
    if (isConcealed(e)) {
      requestId = randomUUID();
      const { method, path } = c.req;
      o.logger.error('request failed', { requestId, method, path, err: e.cause ?? e });
    }
    // A body left unread is drained when it declares a length within the limit; else the connection
    // closes rather than read it.
    const declared = declaredLength(c as Context<ApiEnv, string>) ?? Infinity;
    const drain = c.env.incoming.complete || declared <= o.bodyLimitBytes;
    return reply(c, e.status, errorBody(e, requestId), 'application/json', {
      ...e.headers,
      ...(drain ? {} : { connection: 'close' }),
      ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
    });
  });
  return app;
}

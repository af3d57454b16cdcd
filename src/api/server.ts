/**
 * The HTTP server: the `/v1` REST API, `/metrics`, `/healthz`, `/readyz`, `/v1/events`, `/openapi.json`
 * and the dashboard at `/`, on node:http with a table of routes (see `routes/`). Every part of a request
 * is validated; errors have one JSON shape; bodies are JSON, bounded in size and depth; header and
 * request timeouts bound slow clients; admission is bounded (503 past it, before anything is read or
 * done); a request once admitted runs to its end even if its client goes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { authOptionsSchema, createAuthenticator, type ApiAuthOptions } from './auth.js';
import { hasBody, readJsonBody } from './body.js';
import type { ApiContext } from './context.js';
import { ApiError, errorBody, toHttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { matchPath, parsePart, type Route } from './route.js';
import { apiRoutes } from './routes/index.js';

export interface ApiServerOptions {
  /** Address to listen on. Default 127.0.0.1. Any other address than loopback requires `auth`. */
  readonly host?: string;
  /** Port. Default 7070; 0 picks a free one. */
  readonly port?: number;
  /** Largest request body, in bytes. Default 1 MiB (1048576). */
  readonly bodyLimitBytes?: number;
  /** Time a client has to send a request's headers, in ms. Default 10000. */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send a whole request, in ms. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** How often the two timeouts above are checked, in ms. Default 1000. */
  readonly timeoutCheckIntervalMs?: number;
  /** Requests handled at once; more are refused with 503 and Retry-After. Default 64. */
  readonly maxConcurrentRequests?: number;
  /** Event streams open at once; more are refused with 503. Default 32. */
  readonly maxEventStreams?: number;
  /** Between heartbeat comments on event streams, in ms (timed by the context's clock). Default 15000. */
  readonly eventHeartbeatMs?: number;
  /** Bytes an event stream may hold for a slow client before it is closed. Default 1 MiB. */
  readonly eventBufferBytes?: number;
  /** How long `close` waits for requests in flight, in ms (timed by the context's clock). Default 10000. */
  readonly closeTimeoutMs?: number;
  /** Bearer tokens. When given, every route but `/healthz` and the dashboard page needs one. */
  readonly auth?: ApiAuthOptions;
  /** Shorthand for `auth: { tokens: [{ token, scope: 'admin' }] }` (what `garrison serve --token` gives). */
  readonly token?: string;
  /** The version shown in the OpenAPI document. Default 0.0.0. */
  readonly version?: string;
}

const MIB = 1 << 20;
const optionsSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(7070),
  bodyLimitBytes: z
    .number()
    .int()
    .min(1)
    .max(1 << 30)
    .default(MIB),
  headersTimeoutMs: z.number().int().min(10).default(10_000),
  requestTimeoutMs: z.number().int().min(10).default(30_000),
  timeoutCheckIntervalMs: z.number().int().min(10).default(1000),
  maxConcurrentRequests: z.number().int().min(1).max(100_000).default(64),
  maxEventStreams: z.number().int().min(0).max(100_000).default(32),
  eventHeartbeatMs: z.number().int().min(10).default(15_000),
  eventBufferBytes: z.number().int().min(1024).default(MIB),
  closeTimeoutMs: z.number().int().min(0).default(10_000),
  auth: authOptionsSchema.optional(),
  token: z.string().optional(),
  version: z.string().default('0.0.0'),
});

export interface ApiServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly server: Server;
  /** The routes served, in matching order. */
  readonly routes: readonly Route[];
  /**
   * Stops accepting, ends the event streams, waits (up to `closeTimeoutMs`) for requests in flight to
   * finish, then closes every connection.
   */
  close(): Promise<void>;
}

const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

function send(res: ServerResponse, status: number, body: string, type: string, headers: object = {}) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/** The page may run its own inline script and talk to this server only. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function parseOptions(options: ApiServerOptions) {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid API server options: ${describeIssues(parsed.error.issues)}`);
  const { token, ...o } = parsed.data;
  const authInput =
    token === undefined
      ? options.auth
      : { ...options.auth, tokens: [...(options.auth?.tokens ?? []), { token, scope: 'admin' as const }] };
  const auth = authInput === undefined ? undefined : authOptionsSchema.safeParse(authInput);
  if (auth !== undefined && !auth.success)
    throw new ValidationError(`invalid API auth options: ${describeIssues(auth.error.issues)}`);
  if (auth === undefined && !isLoopback(o.host))
    throw new ValidationError(`listening on ${o.host} needs auth tokens: bind to 127.0.0.1 or give a token`);
  return { ...o, auth: auth?.data };
}

/** Starts the API server for a context; resolves once it listens. */
export async function createApiServer(ctx: ApiContext, options: ApiServerOptions = {}): Promise<ApiServer> {
  const o = parseOptions(options);
  const auth = createAuthenticator(o.auth, ctx.clock);
  const streams = new Set<() => void>();
  let openapi: string | undefined;
  const routes: Route[] = apiRoutes(ctx, {
    eventHeartbeatMs: o.eventHeartbeatMs,
    eventBufferBytes: o.eventBufferBytes,
    maxEventStreams: o.maxEventStreams,
    streams,
    openapi: () => (openapi ??= JSON.stringify(openApiDocument(routes, o.version))),
  });
  let inFlight = 0;
  let drained: (() => void) | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    let found: { route: Route; params: Record<string, string> } | undefined;
    const allowed: string[] = [];
    for (const r of routes) {
      const params = matchPath(r.path, url.pathname);
      if (params === undefined) continue;
      if (r.method === method) {
        found = { route: r, params };
        break;
      }
      allowed.push(r.method);
    }
    if (found === undefined) {
      auth.check(req, 'read'); // unauthenticated callers learn nothing about the routes
      if (allowed.length > 0)
        throw new ApiError(
          405,
          'method_not_allowed',
          `${method} is not allowed on ${url.pathname}`,
          undefined,
          {
            allow: allowed.join(', '),
          },
        );
      throw new ApiError(404, 'not_found', `no route for ${method} ${url.pathname}`);
    }
    const { route: r } = found;
    auth.check(req, r.access);
    const params = parsePart(r.params, found.params, 'path parameters');
    const query = parsePart(r.query, Object.fromEntries(url.searchParams), 'query');
    let body: unknown;
    if (r.body !== undefined) {
      const raw = await readJsonBody(req, o.bodyLimitBytes);
      body = parsePart(r.body, raw === undefined ? {} : raw, 'body'); // no body at all reads as {}
    } else if (hasBody(req)) {
      await readJsonBody(req, o.bodyLimitBytes); // still bounded and typed
      throw new ApiError(422, 'invalid_input', `${r.method} ${r.path} takes no body`);
    }
    const result = await r.handle({ params, query, body, req, res } as never);
    if (result === undefined) return;
    const headers = r.produces === 'text/html' ? { 'content-security-policy': PAGE_POLICY } : {};
    if ('json' in result)
      send(res, result.status ?? 200, JSON.stringify(result.json), 'application/json', headers);
    else send(res, result.status ?? 200, result.text, result.contentType, headers);
  }

  function fail(req: IncomingMessage, res: ServerResponse, error: unknown) {
    const e = toHttpError(error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body left unread (too large, refused before reading) is not drained: the connection closes.
    const unread = !req.complete; // complete: the whole message (headers and any body) has arrived
    send(
      res,
      e.status,
      errorBody(e),
      'application/json',
      unread ? { ...e.headers, connection: 'close' } : e.headers,
    );
    if (unread) res.once('finish', () => req.destroy());
  }

  const server = createServer(
    {
      requestTimeout: o.requestTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      connectionsCheckingInterval: o.timeoutCheckIntervalMs,
    },
    (req, res) => {
      if (inFlight >= o.maxConcurrentRequests) {
        fail(
          req,
          res,
          new ApiError(503, 'overloaded', 'too many requests in flight', undefined, { 'retry-after': '1' }),
        );
        return;
      }
      inFlight += 1;
      handle(req, res)
        .catch((error: unknown) => fail(req, res, error))
        .finally(() => {
          inFlight -= 1;
          if (inFlight === 0) drained?.();
        });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    server,
    routes,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const close of [...streams]) close();
        server.closeIdleConnections();
        if (inFlight > 0)
          await new Promise<void>((resolve) => {
            const timer = ctx.clock.setTimer(o.closeTimeoutMs, resolve);
            drained = () => {
              timer.cancel();
              resolve();
            };
          });
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

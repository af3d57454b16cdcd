/**
 * The HTTP server: the `/v1` REST API, `/metrics`, `/healthz`, `/readyz`, `/v1/events`, `/openapi.json`
 * and the dashboard at `/` — the route table (see `routes/`) mounted onto a hono app (`app.ts`), served
 * by @hono/node-server on a node:http server. node:http's own header and request timeouts bound slow
 * clients, a body deadline bounds slow bodies; admission is bounded (`admission.ts`); requests from other
 * sites and for other hosts are refused (`guard.ts`); `close` lets requests in flight finish. What
 * node:http refuses itself (malformed HTTP, headers too large, a timeout) is answered in JSON too.
 */
import { createAdaptorServer } from '@hono/node-server';
import { STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { createAdmission } from './admission.js';
import { createApiApp } from './app.js';
import { authOptionsSchema, createAuthenticator, type ApiAuthOptions } from './auth.js';
import type { ApiContext } from './context.js';
import { createRequestGuard } from './guard.js';
import { openApiDocument } from './openapi.js';
import type { Route } from './route.js';
import { apiRoutes } from './routes/index.js';
import type { StreamCloser } from './sse.js';
import { createPinoLogger, type Logger } from '../telemetry/index.js';

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
  /**
   * How long an idle keep-alive connection stays open, in ms. Default 65000: longer than the idle
   * timeouts of common clients and load balancers (60 s), so the client, not the server, closes an idle
   * connection — a server that closes first races a request the client is sending on it, which fails
   * with ECONNRESET and leaves the caller unsure whether it was carried out.
   */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Time a request's body has to arrive once the route reads it, in ms (timed by the context's clock):
   * later is 408 `body_timeout` and the connection is closed. Default 5000.
   */
  readonly bodyTimeoutMs?: number;
  /**
   * Host names (beyond loopback names and IP literals) that requests may name in `Host`: the names under
   * which operators reach a server bound to another address. Default none.
   */
  readonly allowedHosts?: readonly string[];
  /** Where the detail of a 500 goes, with its request id. Default: JSON lines on standard error. */
  readonly logger?: Pick<Logger, 'error'>;
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
  keepAliveTimeoutMs: z.number().int().min(0).default(65_000),
  bodyTimeoutMs: z.number().int().min(1).default(5000),
  allowedHosts: z
    .array(
      z
        .string()
        .min(1)
        .max(253)
        .regex(/^[A-Za-z0-9.-]+$/, 'a host name without port or scheme')
        .transform((h) => h.toLowerCase()),
    )
    .max(1000)
    .default([]),
  logger: z
    .custom<Pick<Logger, 'error'>>((l) => typeof (l as Logger | undefined)?.error === 'function')
    .optional(),
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

/** What node:http refuses before any handler runs, as the API's error shape. */
const CLIENT_ERRORS: ReadonlyMap<string, readonly [number, string, string]> = new Map([
  ['HPE_HEADER_OVERFLOW', [431, 'headers_too_large', 'the request headers are too large']],
  ['ERR_HTTP_REQUEST_TIMEOUT', [408, 'request_timeout', 'the request did not arrive in time']],
]);

/** node:http's `clientError`: answers in JSON where the socket can still take an answer, then closes it. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || started?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, code, message] = CLIENT_ERRORS.get(error.code ?? '') ?? [
    400,
    'bad_request',
    'the request is not valid HTTP',
  ];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Starts the API server for a context; resolves once it listens. */
export async function createApiServer(ctx: ApiContext, options: ApiServerOptions = {}): Promise<ApiServer> {
  const o = parseOptions(options);
  const streams = new Set<StreamCloser>();
  let openapi: string | undefined;
  const routes: Route[] = apiRoutes(ctx, {
    eventHeartbeatMs: o.eventHeartbeatMs,
    eventBufferBytes: o.eventBufferBytes,
    maxEventStreams: o.maxEventStreams,
    streams,
    openapi: () => (openapi ??= JSON.stringify(openApiDocument(routes, o.version))),
  });
  const admission = createAdmission(o.maxConcurrentRequests);
  const app = createApiApp(routes, {
    auth: createAuthenticator(o.auth, ctx.clock),
    bodyLimitBytes: o.bodyLimitBytes,
    bodyTimeoutMs: o.bodyTimeoutMs,
    clock: ctx.clock,
    guard: createRequestGuard({ boundHost: o.host, allowedHosts: o.allowedHosts }),
    admission: admission.middleware,
    logger: o.logger ?? createPinoLogger({ name: 'garrison-api', destination: process.stderr }),
  });
  const server = createAdaptorServer({
    fetch: app.fetch,
    hostname: 'localhost', // the URL's host when a request (HTTP/1.0) names none
    serverOptions: {
      requestTimeout: o.requestTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      connectionsCheckingInterval: o.timeoutCheckIntervalMs,
    },
  }) as Server;
  server.keepAliveTimeout = o.keepAliveTimeoutMs;
  server.on('clientError', answerClientError);
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
        const ended = [...streams].map((end) => end());
        server.closeIdleConnections();
        if (admission.inFlight > 0 || ended.length > 0) {
          const settled = Promise.all([admission.drained(), ...ended]);
          await new Promise<void>((resolve) => {
            const timer = ctx.clock.setTimer(o.closeTimeoutMs, resolve);
            void settled.then(() => {
              timer.cancel();
              resolve();
            });
          });
        }
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

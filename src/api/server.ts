/**
 * The HTTP server of `garrison serve`: the `/v1` REST API, `/metrics` (Prometheus), `/healthz`,
 * `/readyz`, `/v1/events` (server-sent events of the telemetry stream), `/openapi.json` and the dashboard
 * at `/`. Every part of a request is validated; errors have one JSON shape; bodies are JSON, at most
 * `bodyLimitBytes`; header and request timeouts bound slow clients.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { GarrisonNode } from '../node/index.js';
import { dashboardPage } from '../dashboard/index.js';
import { readJsonBody } from './body.js';
import { ApiError, errorBody, toHttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { matchPath, parsePart, type Route } from './route.js';
import { apiRoutes } from './routes.js';
import { streamEvents } from './sse.js';

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 7070; 0 picks a free port. */
  readonly port?: number;
  /** Largest request body, in bytes. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Time to receive a request's headers, in ms. Default 10000. */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request, in ms. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** When set, every request except /healthz needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** The version shown in the OpenAPI document. */
  readonly version?: string;
}

const optionsSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(7070),
  bodyLimitBytes: z
    .number()
    .int()
    .min(1)
    .max(1 << 30)
    .default(1 << 20),
  headersTimeoutMs: z.number().int().min(100).default(10_000),
  requestTimeoutMs: z.number().int().min(100).default(30_000),
  token: z.string().min(16, 'a token of at least 16 characters').optional(),
  version: z.string().default('0.0.0'),
});

export interface ApiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export async function startApiServer(node: GarrisonNode, options: ApiServerOptions = {}): Promise<ApiServer> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid server options: ${describeIssues(parsed.error.issues)}`);
  const o = parsed.data;
  const routes = apiRoutes(node);
  const openapi = JSON.stringify(openApiDocument(routes, o.version));
  const page = dashboardPage();
  const closers = new Set<() => void>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/healthz' && method === 'GET') return send(res, 200, '{"status":"ok"}', 'application/json');
    if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`)
      throw new ApiError(401, 'unauthorized', 'send Authorization: Bearer <token>', undefined, {
        'www-authenticate': 'Bearer',
      });
    if (method === 'GET') {
      if (path === '/') return send(res, 200, page, 'text/html; charset=utf-8');
      if (path === '/openapi.json') return send(res, 200, openapi, 'application/json');
      if (path === '/metrics') return send(res, 200, await node.metrics.render(), node.metrics.contentType);
      if (path === '/readyz') {
        const health = await node.health.run();
        return send(
          res,
          health.status === 'unhealthy' ? 503 : 200,
          JSON.stringify({ health }),
          'application/json',
        );
      }
      if (path === '/v1/events') {
        const close = streamEvents(node, req, res, url.searchParams.get('pattern') ?? '*', () =>
          closers.delete(close),
        );
        closers.add(close);
        return;
      }
    }
    let pathMatched = false;
    for (const r of routes) {
      const params = matchPath(r.path, path);
      if (params === undefined) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      return run(r, params, url, req, res);
    }
    if (pathMatched) throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    throw new ApiError(404, 'not_found', `no route for ${method} ${path}`);
  }

  async function run(
    r: Route,
    rawParams: Record<string, string>,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ) {
    const params = parsePart(r.params, rawParams, 'path parameters');
    const query = parsePart(r.query, Object.fromEntries(url.searchParams), 'query');
    const raw = await readJsonBody(req, o.bodyLimitBytes);
    if (r.body === undefined && raw !== undefined)
      throw new ApiError(422, 'invalid_input', `${r.method} ${r.path} takes no body`);
    const body = r.body === undefined ? undefined : parsePart(r.body, raw ?? {}, 'body');
    const result = await r.handle({ params, query, body, req, res } as never);
    if (result !== undefined)
      send(res, result.status ?? 200, JSON.stringify(result.json), 'application/json');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const e = toHttpError(error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A refused body is not read: close the connection instead of draining it.
      send(
        res,
        e.status,
        errorBody(e),
        'application/json',
        e.status === 413 ? { ...e.headers, connection: 'close' } : e.headers,
      );
      if (e.status === 413) req.destroy();
    });
  });
  server.headersTimeout = o.headersTimeoutMs;
  server.requestTimeout = o.requestTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${o.host}:${address.port}`,
    server,
    async close() {
      for (const close of closers) close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

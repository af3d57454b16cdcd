/**
 * Routes outside `/v1`'s resources: liveness, readiness, Prometheus metrics, the event stream, the
 * OpenAPI document and the dashboard page.
 */
import { z } from 'zod';
import { dashboardPage } from '../../dashboard/index.js';
import type { ApiContext } from '../context.js';
import { ApiError, unavailableError } from '../errors.js';
import { route, type Route } from '../route.js';
import { streamEvents, type StreamCloser } from '../sse.js';

export interface SystemRouteOptions {
  /** Between heartbeat comments of the event stream, in ms. */
  readonly eventHeartbeatMs: number;
  /** Bytes an event stream may have waiting for a slow client before it is closed. */
  readonly eventBufferBytes: number;
  /** Event streams open at once; more are refused with 503. */
  readonly maxEventStreams: number;
  /** Closers of the open event streams (the server ends them when it closes). */
  readonly streams: Set<StreamCloser>;
  /** The OpenAPI document, as text. */
  readonly openapi: () => string;
}

/** `*`, `prefix.*` or an event name. */
const eventPattern = z
  .string()
  .max(200)
  .regex(/^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/, 'use *, prefix.* or an event name');

const notReady = (message: string, details: Record<string, unknown>) =>
  new ApiError(503, 'not_ready', message, details, { 'retry-after': '1' });

export function systemRoutes(ctx: ApiContext, o: SystemRouteOptions): Route[] {
  const page = dashboardPage();
  return [
    route({
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness: the process answers (no token needed)',
      access: 'public',
      handle: () => Promise.resolve({ json: { status: 'ok' } }),
    }),
    route({
      method: 'GET',
      path: '/readyz',
      summary: 'Readiness: the store answers, every migration is applied, health is not unhealthy (else 503)',
      handle: async () => {
        let store;
        try {
          store = await ctx.store.status();
        } catch (error) {
          // The store's message may hold paths: it goes to the log under the request id.
          throw unavailableError('not_ready', error, 'the store does not answer', {
            reason: 'store_unavailable',
          });
        }
        const migrations = { version: store.version, latest: store.latest, pending: store.pending };
        if (store.pending.length > 0) throw notReady('migrations are pending', { migrations });
        const health = await ctx.health?.();
        if (health?.status === 'unhealthy')
          throw notReady('the node is unhealthy', { reasons: health.reasons ?? [] });
        return {
          json: { ready: true, store: { dialect: store.dialect, ...migrations }, health: health?.status },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics of this process',
      produces: 'text/plain',
      handle: async () => ({ text: await ctx.metrics.render(), contentType: ctx.metrics.contentType }),
    }),
    route({
      method: 'GET',
      path: '/v1/events',
      summary: 'Server-sent events of the telemetry bus (pattern: *, prefix.* or a name), heartbeat comments',
      produces: 'text/event-stream',
      query: z.strictObject({ pattern: eventPattern.default('*') }),
      handle: ({ query, context }) => {
        // HEAD asks for the headers only: no stream is opened (it would never be read or closed).
        if (context.req.method === 'HEAD')
          return Promise.resolve({ text: '', contentType: 'text/event-stream' });
        if (o.streams.size >= o.maxEventStreams)
          throw new ApiError(503, 'overloaded', `${o.maxEventStreams} event streams are open`, undefined, {
            'retry-after': '5',
          });
        const options = {
          pattern: query.pattern,
          heartbeatMs: o.eventHeartbeatMs,
          maxBufferedBytes: o.eventBufferBytes,
        };
        return Promise.resolve({ response: streamEvents(context, ctx, options, o.streams) });
      },
    }),
    route({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This document',
      handle: () => Promise.resolve({ text: o.openapi(), contentType: 'application/json' }),
    }),
    route({
      method: 'GET',
      path: '/',
      summary: 'The dashboard: one self-contained page; it asks for a token when the API needs one',
      // The page is static and holds no data; every request it makes carries the token.
      access: 'public',
      produces: 'text/html',
      handle: () => Promise.resolve({ text: page, contentType: 'text/html; charset=utf-8' }),
    }),
  ];
}

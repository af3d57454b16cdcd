/**
 * Operations: durable timers, circuit breakers, the metrics summary, and — when the context provides
 * them — the health summary, the cluster's nodes and this node's resources.
 */
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { route, type Route } from '../route.js';
import { metricsSummary } from '../summary.js';
import { id, limit } from './schemas.js';

export function operationRoutes(ctx: ApiContext): Route[] {
  const { health, nodes, resources } = ctx;
  return [
    route({
      method: 'GET',
      path: '/v1/timers',
      summary:
        'Durable timers, by due time; pages of limit (default 100, at most 1000), go on with cursor=nextCursor',
      query: z.strictObject({
        topic: id.optional(),
        owner: id.optional(),
        limit,
        cursor: z.string().min(1).max(4096).optional(),
      }),
      handle: async ({ query }) => ({ json: await ctx.timers.page(query) }),
    }),
    route({
      method: 'GET',
      path: '/v1/breakers',
      summary: 'Circuit breakers and their states',
      handle: () => Promise.resolve({ json: { breakers: ctx.breakers.list() } }),
    }),
    route({
      method: 'POST',
      path: '/v1/breakers/:service/reset',
      summary: 'Close a circuit breaker and clear its counts',
      params: z.strictObject({ service: id }),
      handle: ({ params }) => {
        if (!ctx.breakers.reset(params.service))
          throw new ApiError(404, 'breaker_not_found', `no circuit breaker is named ${params.service}`);
        return Promise.resolve({ json: { service: params.service, reset: true } });
      },
    }),
    route({
      method: 'GET',
      path: '/v1/metrics/summary',
      summary: 'Workflow, step, dispatch and queue figures from the store; telemetry totals',
      handle: async () => ({ json: await metricsSummary(ctx) }),
    }),
    ...(health === undefined
      ? []
      : [
          route({
            method: 'GET',
            path: '/v1/health',
            summary: 'The system health summary and its checks',
            handle: async () => ({ json: { health: await health() } }),
          }),
        ]),
    ...(nodes === undefined
      ? []
      : [
          route({
            method: 'GET',
            path: '/v1/nodes',
            summary: 'Nodes of the cluster with their heartbeats, states and the work each holds',
            handle: async () => ({ json: { nodes: await nodes() } }),
          }),
        ]),
    ...(resources === undefined
      ? []
      : [
          route({
            method: 'GET',
            path: '/v1/resources',
            summary: "This node's resource usage against its limits",
            handle: () => {
              const usage = resources();
              return Promise.resolve({
                json: { resources: usage, alerts: usage.filter((u) => u.alerting) },
              });
            },
          }),
        ]),
  ];
}

/** `/v1/agents`: list with filters, query with the registry's criteria, get one. */
import { z } from 'zod';
import { Health, QueryOp, type Criterion } from '../../registry/index.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import { id, idParam, scalar } from './schemas.js';

export function agentRoutes({ registry }: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      path: '/v1/agents',
      summary: 'List agents, by id',
      query: z.strictObject({
        capability: id.optional(),
        health: z.enum(Health).optional(),
        node: id.optional(),
        type: id.optional(),
      }),
      handle: async ({ query }) => ({ json: { agents: await registry.list(query) } }),
    }),
    route({
      method: 'POST',
      path: '/v1/agents/query',
      summary: 'Agents matching every criterion (the registry query language)',
      // A query changes nothing: a read token may run it.
      access: 'read',
      body: z.strictObject({
        criteria: z
          .array(
            z.strictObject({
              /** A column, `capabilities`, `resources.<name>` or `metadata.<key>[.<key>…]`. */
              path: z.string().min(1).max(200),
              op: z.enum(QueryOp),
              value: z.union([scalar, z.array(scalar).max(1000)]),
            }),
          )
          .max(50),
      }),
      handle: async ({ body }) => ({
        json: { agents: await registry.query(body.criteria as readonly Criterion[]) },
      }),
    }),
    route({
      method: 'GET',
      path: '/v1/agents/:id',
      summary: 'One agent',
      params: idParam,
      handle: async ({ params }) => ({ json: { agent: await registry.get(params.id) } }),
    }),
  ];
}

/** `/v1/agents`: list with filters, query with the registry's criteria, get one. */
import { z } from 'zod';
import { withAgentStatus } from '../../agents/index.js';
import { Health, QueryOp, type PageOptions } from '../../registry/index.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import { id, idParam, limit, scalar } from './schemas.js';

/** The `nextCursor` of the page before (opaque). */
const cursor = z.string().min(1).max(4096).optional();

export function agentRoutes({ registry, store }: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      path: '/v1/agents',
      summary: 'List agents, by id; pages of limit (default 100, at most 1000), go on with cursor=nextCursor',
      query: z.strictObject({
        capability: id.optional(),
        health: z.enum(Health).optional(),
        node: id.optional(),
        type: id.optional(),
        limit,
        cursor,
      }),
      handle: async ({ query }) => {
        const { limit: pageLimit, cursor: pageCursor, ...filter } = query;
        const found = await registry.listPage(filter, page(pageLimit, pageCursor));
        // status from the agent's state row (idle / processing / paused), not the registry's copy
        return { json: { ...found, agents: await withAgentStatus(store, found.agents) } };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/agents/query',
      summary:
        'Agents matching every criterion (the registry query language), by id; at most 50 criteria and 1000 ' +
        'values in all; pages of limit (default 100, at most 1000), go on with cursor=nextCursor',
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
        limit: z.int().min(1).max(1000).optional(),
        cursor,
      }),
      handle: async ({ body }) => {
        const found = await registry.queryPage(
          body.criteria,
          page(body.limit, body.cursor),
        );
        return { json: { ...found, agents: await withAgentStatus(store, found.agents) } };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/agents/:id',
      summary: 'One agent',
      params: idParam,
      handle: async ({ params }) => {
        const [agent] = await withAgentStatus(store, [await registry.get(params.id)]);
        return { json: { agent } };
      },
    }),
  ];
}

function page(limit: number | undefined, cursor: string | undefined): PageOptions {
  return { ...(limit === undefined ? {} : { limit }), ...(cursor === undefined ? {} : { cursor }) };
}

/**
 * `/v1/agents`: list with filters, query with the registry's criteria, get one; an operator's pause,
 * resume and stop (admin tokens; each request audited, see `operateAgent`).
 */
import { z } from 'zod';
import { listAuditEvents, operateAgent, withAgentStatus, type AgentOperation } from '../../agents/index.js';
import { createRegistry, Health, QueryOp, type PageOptions } from '../../registry/index.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import { id, idParam, limit, scalar } from './schemas.js';

/** The `nextCursor` of the page before (opaque). */
const cursor = z.string().min(1).max(4096).optional();

/** Pause's body: why (the agent's `pauseReason`; default `manual`). */
const pauseBody = z.strictObject({ reason: z.string().min(1).max(500).optional() });

const OPERATIONS: ReadonlyArray<{ operation: AgentOperation; summary: string }> = [
  {
    operation: 'pause',
    summary:
      'Pause an agent: it takes no new work, its running task finishes, the steps waiting on its queue ' +
      'move to healthy agents of the capability; 200 with changed: false when it was paused already',
  },
  {
    operation: 'resume',
    summary:
      'Resume an agent (its error streak starts from zero); 200 with changed: false when it was not paused',
  },
  {
    operation: 'stop',
    summary:
      'Stop an agent: its host ends its process after the running task, its registry entry goes at once; ' +
      '200 with changed: false when it was stopped already',
  },
];

export function agentRoutes({ registry, store, clock }: ApiContext): Route[] {
  // The operator's writes go through a registry over the same store, inside its own transactions.
  const operator = { store, clock, registry: createRegistry({ store, clock }) };
  const control = (operation: AgentOperation, summary: string) =>
    route({
      method: 'POST',
      path: `/v1/agents/:id/${operation}`,
      summary,
      also: { 404: 'No agent has this id (agent_not_found); nothing is written' },
      params: idParam,
      ...(operation === 'pause' ? { body: pauseBody } : {}),
      handle: async ({ params, body, context }) => {
        const reason = (body as z.output<typeof pauseBody> | undefined)?.reason;
        const answer = await operateAgent(operator, {
          operation,
          agentId: params.id,
          actor: context.get('caller') ?? 'api',
          ...(reason === undefined ? {} : { reason }),
        });
        return { json: { agent: answer } };
      },
    });
  return [
    ...OPERATIONS.map((o) => control(o.operation, o.summary)),
    route({
      method: 'GET',
      path: '/v1/audit-events',
      summary:
        "Operators' requests (agent.pause, agent.resume, agent.stop), newest first: who, what, when, " +
        'and whether it changed anything; of one target (an agent id) or all; at most limit (default 100)',
      query: z.strictObject({ target: id.optional(), limit }),
      handle: async ({ query }) => ({ json: { events: await listAuditEvents(store, query) } }),
    }),
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
        const found = await registry.queryPage(body.criteria, page(body.limit, body.cursor));
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

/**
 * `/v1/agents`: list with filters, query with the registry's criteria, get one; an operator's pause,
 * resume and stop (admin tokens; each request audited, see `operateAgent`); an agent's schedules, listed
 * and changed at run time (`/v1/agents/:id/schedules`, see `agents/schedules.ts`).
 */
import { z } from 'zod';
import {
  changeSchedule,
  listAuditEvents,
  listSchedules,
  operateAgent,
  runScheduleNow,
  withAgentStatus,
  type AgentOperation,
} from '../../agents/index.js';
import { createQueueClient } from '../../work/index.js';
import { createRegistry, Health, QueryOp, type PageOptions } from '../../registry/index.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import { id, idParam, limit, scalar } from './schemas.js';

/** The `nextCursor` of the page before (opaque). */
const cursor = z.string().min(1).max(4096).optional();

/** A schedule of an agent, by the agent's id and the schedule's name. */
const scheduleParams = z.strictObject({ id, name: z.string().min(1).max(100) });

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
  const queues = createQueueClient({ store, clock });
  const scheduleChange = (operation: 'pause' | 'resume', summary: string) =>
    route({
      method: 'POST',
      path: `/v1/agents/:id/schedules/:name/${operation}`,
      summary,
      also: { 404: 'No agent has this id, or it has no schedule of this name; nothing is written' },
      params: scheduleParams,
      handle: async ({ params, context }) => ({
        json: await changeSchedule(
          { store, clock, actor: context.get('caller') ?? 'api' },
          { operation, agentId: params.id, name: params.name },
        ),
      }),
    });
  return [
    ...OPERATIONS.map((o) => control(o.operation, o.summary)),
    route({
      method: 'GET',
      path: '/v1/agents/:id/schedules',
      summary:
        "An agent's schedules by name: action, interval or cron, active or paused, next run, runs so far",
      params: idParam,
      handle: async ({ params }) => ({
        json: { schedules: await listSchedules(store, clock, params.id) },
      }),
    }),
    route({
      method: 'POST',
      path: '/v1/agents/:id/schedules/:name/run',
      summary:
        "Run a schedule's action now (queued on the agent's queue; the schedule keeps its times), also while " +
        'the schedule is paused; answers the task id',
      also: {
        404: 'No agent has this id, or it has no schedule of this name; nothing is queued',
        409: 'The agent is paused (agent_paused); nothing is queued',
      },
      params: scheduleParams,
      handle: async ({ params, context }) => ({
        json: await runScheduleNow(
          { store, clock, queues, actor: context.get('caller') ?? 'api' },
          params.id,
          params.name,
        ),
      }),
    }),
    scheduleChange(
      'pause',
      'Pause a schedule: it fires no more until resumed, across restarts; changed: false when it was paused',
    ),
    scheduleChange(
      'resume',
      'Resume a paused schedule (its next run counted from now); changed: false when it was not paused',
    ),
    route({
      method: 'POST',
      path: '/v1/agents/:id/schedules/:name/update',
      summary:
        "Change a schedule's timing: everyMs (ms) or cron (a pattern), exactly one; a paused one stays paused",
      also: { 404: 'No agent has this id, or it has no schedule of this name; nothing is written' },
      params: scheduleParams,
      body: z.strictObject({
        everyMs: z.int().min(1).max(31_536_000_000).optional(),
        cron: z.string().min(1).max(200).optional(),
      }),
      handle: async ({ params, body, context }) => ({
        json: await changeSchedule(
          { store, clock, actor: context.get('caller') ?? 'api' },
          {
            operation: 'update',
            agentId: params.id,
            name: params.name,
            timing: {
              ...(body.everyMs === undefined ? {} : { everyMs: body.everyMs }),
              ...(body.cron === undefined ? {} : { cron: body.cron }),
            },
          },
        ),
      }),
    }),
    route({
      method: 'DELETE',
      path: '/v1/agents/:id/schedules/:name',
      summary: 'Remove a schedule for good (a restart does not bring it back; starting a stopped agent does)',
      also: { 404: 'No agent has this id, or it has no schedule of this name; nothing is written' },
      params: scheduleParams,
      handle: async ({ params, context }) => ({
        json: await changeSchedule(
          { store, clock, actor: context.get('caller') ?? 'api' },
          { operation: 'remove', agentId: params.id, name: params.name },
        ),
      }),
    }),
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

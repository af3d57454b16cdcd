/** The `/v1` routes: each validates its params, query and body with the schemas the OpenAPI document shows. */
import { z } from 'zod';
import { listNodes, type GarrisonNode } from '../node/index.js';
import { Health, QueryOp } from '../registry/index.js';
import { TaskState, WorkflowStatus } from '../work/index.js';
import { ApiError } from './errors.js';
import { route, type Route } from './route.js';

const id = z.string().min(1).max(200);
const limit = z.coerce.number().int().min(1).max(1000).optional();
const idParam = z.strictObject({ id });
const taskIdParam = z.strictObject({ id: z.coerce.number().int().min(1) });
const json = z.unknown();
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export function apiRoutes(node: GarrisonNode): Route[] {
  const { registry, workflows, queues } = node;
  const ok = (value: unknown, status = 200) => Promise.resolve({ status, json: value });
  return [
    // ---- agents ----
    route({
      method: 'GET',
      path: '/v1/agents',
      summary: 'List agents',
      query: z.strictObject({
        capability: z.string().min(1).optional(),
        health: z.enum(Object.values(Health)).optional(),
        node: z.string().min(1).optional(),
      }),
      handle: async ({ query }) => ok({ agents: await registry.list(query) }),
    }),
    route({
      method: 'POST',
      path: '/v1/agents/query',
      summary: 'Query agents with the registry criteria (all must match)',
      body: z.strictObject({
        criteria: z
          .array(
            z.strictObject({
              /** A column, `capabilities`, `resources.<name>` or `metadata.<key>` (see QUERY_PATHS). */
              path: z.string().min(1).max(200),
              op: z.enum(Object.values(QueryOp)),
              value: z.union([scalar, z.array(scalar).max(1000)]),
            }),
          )
          .max(50),
      }),
      handle: async ({ body }) => ok({ agents: await registry.query(body.criteria as never) }),
    }),
    route({
      method: 'GET',
      path: '/v1/agents/:id',
      summary: 'Get an agent',
      params: idParam,
      handle: async ({ params }) => ok({ agent: await registry.get(params.id) }),
    }),
    // ---- workflows ----
    route({
      method: 'POST',
      path: '/v1/workflows',
      summary: 'Start a workflow run (workflowId is an idempotency key)',
      body: z.strictObject({ name: id, input: json.optional(), workflowId: id.optional() }),
      handle: async ({ body }) => {
        const handle = await workflows.start(
          body.name,
          body.input,
          body.workflowId === undefined ? {} : { workflowId: body.workflowId },
        );
        return {
          status: handle.created ? 201 : 200,
          json: { workflowId: handle.workflowId, created: handle.created },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/workflows',
      summary: 'List workflow runs, newest first',
      query: z.strictObject({
        status: z.enum(Object.values(WorkflowStatus)).optional(),
        name: z.string().min(1).optional(),
        limit,
        offset: z.coerce.number().int().min(0).optional(),
      }),
      handle: async ({ query }) => ok({ workflows: await workflows.list(query) }),
    }),
    route({
      method: 'GET',
      path: '/v1/workflows/:id',
      summary: 'Get a run with its step timeline',
      params: idParam,
      handle: async ({ params }) => {
        const run = await workflows.get(params.id);
        if (run === undefined)
          throw new ApiError(404, 'workflow_not_found', `no workflow run has the id ${params.id}`);
        return ok({ workflow: run, steps: await workflows.steps(params.id) });
      },
    }),
    ...(['cancel', 'pause', 'resume'] as const).map((action) =>
      route({
        method: 'POST',
        path: `/v1/workflows/:id/${action}`,
        summary: `${action[0]?.toUpperCase()}${action.slice(1)} a run`,
        params: idParam,
        handle: async ({ params }) => {
          const run = await workflows[action](params.id);
          if (run === undefined)
            throw new ApiError(404, 'workflow_not_found', `no workflow run has the id ${params.id}`);
          return ok({ workflow: run });
        },
      }),
    ),
    route({
      method: 'POST',
      path: '/v1/workflows/:id/signal',
      summary: 'Send a durable signal to a run',
      params: idParam,
      body: z.strictObject({ name: id, data: json.optional() }),
      handle: async ({ params, body }) => {
        await workflows.signal(params.id, body.name, body.data);
        return ok({ workflowId: params.id, signal: body.name, sent: true }, 202);
      },
    }),
    // ---- tasks ----
    route({
      method: 'POST',
      path: '/v1/tasks',
      summary: 'Enqueue a task',
      body: z.strictObject({
        queue: id,
        payload: json,
        priority: z.number().int().optional(),
        delayMs: z.number().int().min(0).optional(),
        maxAttempts: z.number().int().min(1).optional(),
        idempotencyKey: id.optional(),
        groupKey: id.optional(),
      }),
      handle: async ({ body }) => {
        const { queue, payload, ...options } = body;
        return ok({ task: await queues.enqueue(queue, payload, options) }, 201);
      },
    }),
    route({
      method: 'GET',
      path: '/v1/tasks',
      summary: 'List tasks by id',
      query: z.strictObject({
        queue: z.string().min(1).optional(),
        state: z.enum(Object.values(TaskState)).optional(),
        limit,
        afterId: z.coerce.number().int().min(0).optional(),
      }),
      handle: async ({ query }) => {
        const { state, ...rest } = query;
        return ok({
          tasks: await queues.listTasks({ ...rest, ...(state === undefined ? {} : { states: [state] }) }),
        });
      },
    }),
    route({
      method: 'GET',
      path: '/v1/tasks/:id',
      summary: 'Get a task',
      params: taskIdParam,
      handle: async ({ params }) => {
        const task = await queues.getTask(params.id);
        if (task === undefined) throw new ApiError(404, 'task_not_found', `no task has the id ${params.id}`);
        return ok({ task });
      },
    }),
    route({
      method: 'POST',
      path: '/v1/tasks/:id/cancel',
      summary: 'Cancel a queued or running task',
      params: taskIdParam,
      handle: async ({ params }) => ok({ id: params.id, state: await queues.cancel(params.id) }),
    }),
    // ---- dead letters ----
    route({
      method: 'GET',
      path: '/v1/dead-letters',
      summary: 'List dead letters',
      query: z.strictObject({ queue: z.string().min(1).optional(), limit }),
      handle: async ({ query }) => ok({ deadLetters: await queues.listDead(query) }),
    }),
    ...(['retry', 'purge'] as const).map((action) =>
      route({
        method: 'POST',
        path: `/v1/dead-letters/${action}`,
        summary: action === 'retry' ? 'Queue dead letters again' : 'Delete dead letters',
        body: z
          .strictObject({
            queue: z.string().min(1).optional(),
            ids: z.array(z.number().int().min(1)).max(10_000).optional(),
          })
          .refine((b) => b.queue !== undefined || b.ids !== undefined, 'give queue or ids (or both)'),
        handle: async ({ body }) =>
          ok(
            action === 'retry'
              ? { retried: await queues.retryDead(body) }
              : { purged: await queues.purgeDead(body) },
          ),
      }),
    ),
    // ---- timers, breakers, nodes, metrics ----
    route({
      method: 'GET',
      path: '/v1/timers',
      summary: 'List durable timers',
      query: z.strictObject({ topic: z.string().min(1).optional(), owner: z.string().min(1).optional() }),
      handle: async ({ query }) =>
        ok({ timers: await node.timers.list(query), processTimers: node.scheduler.list().length }),
    }),
    route({
      method: 'GET',
      path: '/v1/breakers',
      summary: 'List circuit breakers',
      handle: () => ok({ breakers: node.breakers.list() }),
    }),
    route({
      method: 'POST',
      path: '/v1/breakers/:service/reset',
      summary: 'Close a circuit breaker',
      params: z.strictObject({ service: id }),
      handle: async ({ params }) => {
        if (!node.breakers.reset(params.service))
          throw new ApiError(404, 'breaker_not_found', `no circuit breaker is named ${params.service}`);
        return ok({ service: params.service, reset: true });
      },
    }),
    route({
      method: 'GET',
      path: '/v1/nodes',
      summary: 'List nodes with their heartbeats and states',
      handle: async () => ok({ nodes: await listNodes(node.store, node.clock.now(), node.config) }),
    }),
    route({
      method: 'GET',
      path: '/v1/metrics/summary',
      summary: 'Totals computed from the store, and the distributor',
      handle: async () =>
        ok({ coordination: await node.metricsCollector.snapshot(), distributor: node.distributor.stats() }),
    }),
    route({
      method: 'GET',
      path: '/v1/resources',
      summary: "This node's resource usage against its limits",
      handle: () => ok({ resources: node.resources.usageAll(), alerts: node.resources.alerts() }),
    }),
    route({
      method: 'GET',
      path: '/v1/health',
      summary: 'The system health summary',
      handle: async () => ok({ health: await node.health.run() }),
    }),
  ];
}

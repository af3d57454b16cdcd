/** `/v1/workflows`: start, list, get with the step timeline, cancel, pause, resume, signal. */
import { z } from 'zod';
import { unservedWorkflow } from '../../node/index.js';
import { WorkflowStatus } from '../../work/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { route, type Route } from '../route.js';
import { commaList, id, idParam, json, limit } from './schemas.js';

const notFound = (workflowId: string) =>
  new ApiError(404, 'workflow_not_found', `no workflow run has the id ${workflowId}`);

/** Statuses of runs some node is or will be executing. */
const UNFINISHED = new Set<string>(['pending', 'running', 'sleeping', 'waiting']);

export function workflowRoutes({ workflows, nodes }: ApiContext): Route[] {
  const control = (action: 'cancel' | 'pause' | 'resume', summary: string) =>
    route({
      method: 'POST',
      path: `/v1/workflows/:id/${action}`,
      summary,
      also: { 409: "The run's state does not allow it (workflow_finished, workflow_invalid_state)" },
      params: idParam,
      handle: async ({ params }) => {
        const run = await workflows[action](params.id);
        if (run === undefined) throw notFound(params.id);
        return { json: { workflow: run } };
      },
    });
  return [
    route({
      method: 'POST',
      path: '/v1/workflows',
      summary: 'Start a run; workflowId is an idempotency key (201 created, 200 when it existed)',
      okStatus: 201,
      also: {
        200: 'A run with this workflowId existed: it is answered, nothing is started',
        409: 'A run with this workflowId is of another workflow (workflow_conflict)',
      },
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
      summary: 'List runs, newest first',
      query: z.strictObject({
        /** One status or several, comma-separated. */
        status: commaList(z.enum(WorkflowStatus)).optional(),
        name: id.optional(),
        /** Only runs created at or after this time, UNIX epoch ms. */
        createdAfter: z.coerce.number().int().min(0).optional(),
        limit,
        offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
      }),
      handle: async ({ query }) => ({ json: { workflows: await workflows.list(query) } }),
    }),
    route({
      method: 'GET',
      path: '/v1/workflows/:id',
      summary: 'A run and its step timeline (journal order; compensations first)',
      params: idParam,
      handle: async ({ params }) => {
        const run = await workflows.get(params.id);
        if (run === undefined) throw notFound(params.id);
        const steps = await workflows.steps(params.id);
        // An unfinished run no live node executes says so (`waiting: no_live_node`).
        const unserved =
          nodes !== undefined && UNFINISHED.has(run.status)
            ? unservedWorkflow(await nodes(), run.name)
            : undefined;
        return { json: { workflow: run, steps, ...(unserved === undefined ? {} : { waiting: unserved }) } };
      },
    }),
    control('cancel', 'Cancel a run (its compensations run)'),
    control('pause', 'Pause a run after its current step'),
    control('resume', 'Resume a paused run'),
    route({
      method: 'POST',
      path: '/v1/workflows/:id/signal',
      summary: 'Send a durable signal to a run (202: recorded, delivered when the run waits for it)',
      okStatus: 202,
      also: {
        409: 'The run is finished (workflow_finished)',
        429: 'The run holds MAX_PENDING_SIGNALS signals it has not consumed (signal_limit); retry later',
      },
      params: idParam,
      body: z.strictObject({ name: id, data: json.optional() }),
      handle: async ({ params, body }) => {
        await workflows.signal(params.id, body.name, body.data);
        return { status: 202, json: { workflowId: params.id, signal: body.name, sent: true } };
      },
    }),
  ];
}

/** `/v1/tasks` and `/v1/dead-letters`: enqueue, list, get, cancel; list, retry and purge dead letters. */
import { z } from 'zod';
import { TaskState } from '../../work/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { route, type Route } from '../route.js';
import { afterId, commaList, id, json, limit, taskIdParam } from './schemas.js';

const ids = z.array(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).min(1).max(10_000);

export function taskRoutes({ queues }: ApiContext): Route[] {
  return [
    route({
      method: 'POST',
      path: '/v1/tasks',
      summary: 'Enqueue a task (an idempotency key answers the first task given it)',
      okStatus: 201,
      body: z.strictObject({
        queue: id,
        payload: json,
        priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
        delayMs: z.number().int().min(0).max(31_536_000_000).optional(),
        maxAttempts: z.number().int().min(1).max(1000).optional(),
        idempotencyKey: id.optional(),
        groupKey: id.optional(),
      }),
      handle: async ({ body }) => {
        const { queue, payload, ...options } = body;
        return { status: 201, json: { task: await queues.enqueue(queue, payload, options) } };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/tasks',
      summary: 'List tasks by id; page with afterId',
      query: z.strictObject({
        queue: id.optional(),
        /** One state or several, comma-separated. */
        state: commaList(z.enum(TaskState)).optional(),
        limit,
        afterId,
      }),
      handle: async ({ query }) => {
        const { state, ...rest } = query;
        return {
          json: {
            tasks: await queues.listTasks({ ...rest, ...(state === undefined ? {} : { states: state }) }),
          },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/tasks/:id',
      summary: 'One task',
      params: taskIdParam,
      handle: async ({ params }) => {
        const task = await queues.getTask(params.id);
        if (task === undefined) throw new ApiError(404, 'task_not_found', `no task has the id ${params.id}`);
        return { json: { task } };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/tasks/:id/cancel',
      summary: 'Cancel a queued or running task; answers its state afterwards',
      params: taskIdParam,
      handle: async ({ params }) => ({ json: { id: params.id, state: await queues.cancel(params.id) } }),
    }),
    route({
      method: 'GET',
      path: '/v1/dead-letters',
      summary: 'List dead letters (tasks that failed every attempt) by id; page with afterId',
      query: z.strictObject({ queue: id.optional(), limit, afterId }),
      handle: async ({ query }) => ({ json: { deadLetters: await queues.listDead(query) } }),
    }),
    route({
      method: 'POST',
      path: '/v1/dead-letters/retry',
      summary: 'Queue dead letters again with their attempts reset (of a queue, by id, or both)',
      body: z
        .strictObject({ queue: id.optional(), ids: ids.optional() })
        .refine((b) => b.queue !== undefined || b.ids !== undefined, 'give queue or ids (or both)'),
      handle: async ({ body }) => ({ json: { retried: await queues.retryDead(body) } }),
    }),
    route({
      method: 'POST',
      path: '/v1/dead-letters/purge',
      summary: 'Delete dead letters (of a queue, by id, and/or dead for longer than olderThanMs)',
      body: z
        .strictObject({
          queue: id.optional(),
          ids: ids.optional(),
          olderThanMs: z.number().int().min(0).optional(),
        })
        .refine(
          (b) => b.queue !== undefined || b.ids !== undefined || b.olderThanMs !== undefined,
          'give queue, ids or olderThanMs',
        ),
      handle: async ({ body }) => ({ json: { purged: await queues.purgeDead(body) } }),
    }),
  ];
}

/**
 * `/v1/tasks` and `/v1/dead-letters`: enqueue, list, get, cancel; list, retry and purge dead letters.
 * A queued task nothing consumes says why it waits (`waiting`, see `src/node/consumers.ts`), and
 * `/v1/queues/waiting` lists such queues with their counts.
 */
import { z } from 'zod';
import { queueWaits, unconsumedWork, type QueueWait } from '../../node/index.js';
import { TaskState, type Task } from '../../work/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { route, type Route } from '../route.js';
import { afterId, commaList, id, json, limit, taskIdParam } from './schemas.js';

const ids = z.array(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).min(1).max(10_000);

export function taskRoutes({ queues, nodes, registry, store }: ApiContext): Route[] {
  /** Why the queued ones of `tasks` wait, by queue; nothing is flagged without the cluster's nodes. */
  const waitsOf = async (tasks: readonly Task[]): Promise<Map<string, QueueWait>> => {
    const queued = tasks.filter((t) => t.state === 'queued').map((t) => t.queue);
    if (nodes === undefined || queued.length === 0) return new Map();
    return queueWaits({ nodes, registry }, queued);
  };
  const waitOf = (waits: Map<string, QueueWait>, task: Task) =>
    task.state === 'queued' ? waits.get(task.queue) : undefined;
  return [
    // Served only when the context knows the cluster's nodes (who consumes what).
    ...(nodes === undefined
      ? []
      : [
          route({
            method: 'GET',
            path: '/v1/queues/waiting',
            summary:
              'Queues whose queued tasks nothing consumes, and capabilities parked dispatched steps ' +
              'want, each with a count and why',
            handle: async () => ({ json: await unconsumedWork(store, { nodes, registry }) }),
          }),
        ]),
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
      summary:
        'List tasks by id; page with afterId. A queued task nothing consumes carries waiting ' +
        '(no_live_consumer, no_capable_agent) with a message',
      query: z.strictObject({
        queue: id.optional(),
        /** One state or several, comma-separated. */
        state: commaList(z.enum(TaskState)).optional(),
        limit,
        afterId,
      }),
      handle: async ({ query }) => {
        const { state, ...rest } = query;
        const tasks = await queues.listTasks({ ...rest, ...(state === undefined ? {} : { states: state }) });
        const waits = await waitsOf(tasks);
        return {
          json: {
            tasks: tasks.map((t) => {
              const waiting = waitOf(waits, t);
              return waiting === undefined ? t : { ...t, waiting };
            }),
          },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/tasks/:id',
      summary: 'One task; a queued one nothing consumes with waiting (as a run with no live node)',
      params: taskIdParam,
      handle: async ({ params }) => {
        const task = await queues.getTask(params.id);
        if (task === undefined) throw new ApiError(404, 'task_not_found', `no task has the id ${params.id}`);
        const waiting = waitOf(await waitsOf([task]), task);
        return { json: { task, ...(waiting === undefined ? {} : { waiting }) } };
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

/**
 * Tasks nothing consumes are visible, on both stores: a queued task on a queue no live node consumes
 * carries `waiting: no_live_consumer` in `GET /v1/tasks` and `GET /v1/tasks/:id`, and
 * `GET /v1/queues/waiting` lists the queue with its count; once a node whose workers consume the queue
 * joins (it publishes the queue with its heartbeat), the flag is gone and the task is done. An agent's
 * queue waits while the agent is not running; dispatched steps parked for a capability no healthy agent
 * has are listed with `no_capable_agent`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { defineApp, startApp, type RunningApp } from '../../src/app/index.js';
import { queueWaits, startNode, type GarrisonNode } from '../../src/node/index.js';
import { listNodes } from '../../src/node/membership.js';
import type { Store } from '../../src/store/index.js';
import { defineQueue, type ClaimedTask } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { call } from './support.js';
import { idler, stranded } from '../support/stranded.js';

const emails = defineQueue({ name: 'emails', schema: z.strictObject({ to: z.string() }) });

interface Waiting {
  readonly reason: string;
  readonly message: string;
}
interface TaskReply {
  readonly id: number;
  readonly queue: string;
  readonly state: string;
  readonly waiting?: Waiting;
}

const NO_CONSUMER = { reason: 'no_live_consumer', message: 'no live node consumes queue emails' };

/** Polls `read` every 20 ms until `done` holds; a bounded number of tries (a wait, not a measurement). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the condition never held');
}

describe.each(adapters)('tasks nothing consumes on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let app: RunningApp | undefined;
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    await app?.stop();
    await node?.stop();
    await store?.close();
    api = app = node = store = undefined;
  });

  async function serve() {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'n-api', workflows: [stranded], agents: [idler] });
    api = await startApiServer(node, { port: 0 });
    return api.url;
  }

  it('a task on a queue no live node consumes says why it waits; a node that consumes the queue clears it and runs the task', async () => {
    const url = await serve();
    const posted = await call(url, 'POST', '/v1/tasks', {
      queue: 'emails',
      payload: { to: 'ada' },
      // With a key, the completed task is kept and can be read back.
      idempotencyKey: 'mail-ada',
    });
    expect(posted.status).toBe(201);
    const id = (posted.json as { task: { id: number } }).task.id;
    const listed = async () =>
      (await call(url, 'GET', '/v1/tasks?queue=emails')).json as { tasks: TaskReply[] };
    const one = async () =>
      (await call(url, 'GET', `/v1/tasks/${id}`)).json as { task: TaskReply; waiting?: Waiting };
    const waitingQueues = async () =>
      (await call(url, 'GET', '/v1/queues/waiting')).json as {
        queues: Array<Waiting & { queue: string; tasks: number }>;
        capabilities: unknown[];
      };

    // The node runs, but no worker of it consumes `emails`.
    expect((await listed()).tasks).toEqual([
      expect.objectContaining({ id, state: 'queued', waiting: NO_CONSUMER }),
    ]);
    expect(await one()).toMatchObject({ task: { id, state: 'queued' }, waiting: NO_CONSUMER });
    expect((await waitingQueues()).queues).toEqual([{ queue: 'emails', tasks: 1, ...NO_CONSUMER }]);

    // An application with a handler for `emails` starts on a second node: it publishes the queue.
    const handled: string[] = [];
    app = await startApp(
      defineApp({
        queues: [
          {
            queue: emails,
            handler: (task: ClaimedTask<{ to: string }>) => {
              handled.push(task.payload.to);
            },
          },
        ],
      }),
      { store: store!, config: { nodeName: 'n-mail' } },
    );
    await until(
      () => node!.queues.getTask(id),
      (t) => t?.state === 'completed',
    );
    const done = await one();
    expect(done.task.state).toBe('completed');
    expect(done.waiting).toBeUndefined();
    expect(handled).toEqual(['ada']);
    expect((await waitingQueues()).queues).toEqual([]);

    // The consuming node stops (drained, down): a new task on `emails` waits again.
    await app.stop();
    app = undefined;
    const again = await call(url, 'POST', '/v1/tasks', { queue: 'emails', payload: { to: 'bob' } });
    const againId = (again.json as { task: { id: number } }).task.id;
    expect((await call(url, 'GET', `/v1/tasks/${againId}`)).json).toMatchObject({ waiting: NO_CONSUMER });
    // A finished task never waits.
    expect((await listed()).tasks.find((t) => t.id === id)).not.toHaveProperty('waiting');
  });

  it("an agent's queue waits while the agent is not running; parked steps name the capability no healthy agent has", async () => {
    const url = await serve();
    // No agent `ghost` runs anywhere: its queue has no consumer.
    await node!.queues.enqueue('agent:ghost', { action: 'nap', input: {} });
    const ghost = (await call(url, 'GET', '/v1/tasks?queue=agent:ghost')).json as { tasks: TaskReply[] };
    expect(ghost.tasks[0]?.waiting).toEqual({
      reason: 'no_live_consumer',
      message: 'agent ghost is not running; queue agent:ghost waits for it',
    });
    // A running agent consumes its own queue.
    await node!.agents.start(idler, { id: 'a-1' });
    const sources = {
      nodes: () => listNodes(store!, node!.clock.now(), node!.config),
      registry: node!.registry,
    };
    expect([...(await queueWaits(sources, ['agent:a-1', 'agent:ghost'])).keys()]).toEqual(['agent:ghost']);

    // A step of a capability no agent has is parked: its queue and the capability are listed.
    const started = await call(url, 'POST', '/v1/workflows', { name: 'stranded', workflowId: 's-1' });
    expect(started.status).toBe(201);
    const waiting = await until(
      async () =>
        (await call(url, 'GET', '/v1/queues/waiting')).json as {
          queues: Array<{ queue: string }>;
          capabilities: Array<Waiting & { capability: string; queue: string; steps: number }>;
        },
      (w) => w.capabilities.length > 0,
    );
    const noAgent = {
      reason: 'no_capable_agent',
      message: 'no healthy agent has the capability "doc.nobody"; the step waits for one',
    };
    expect(waiting.capabilities).toEqual([
      { capability: 'doc.nobody', queue: 'dispatch:doc.nobody', steps: 1, ...noAgent },
    ]);
    expect(waiting.queues.map((q) => q.queue)).toEqual(['agent:ghost']);
    const parked = (await call(url, 'GET', '/v1/tasks?queue=dispatch:doc.nobody')).json as {
      tasks: TaskReply[];
    };
    expect(parked.tasks.map((t) => t.waiting)).toEqual([noAgent]);
  });
});

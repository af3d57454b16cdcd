/**
 * A real `ApiContext` built from real parts on a real store (no node, no mocks), an API server for it on
 * a free port, and small HTTP helpers.
 */
import { request } from 'node:http';
import { z } from 'zod';
import {
  createApiServer,
  type ApiContext,
  type ApiServer,
  type ApiServerOptions,
} from '../../src/api/index.js';
import {
  createHealthChecks,
  migrationsCurrentCheck,
  storeReachableCheck,
  type HealthChecks,
} from '../../src/governance/index.js';
import { listNodes } from '../../src/node/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { BreakerRegistry } from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { DurableTimers } from '../../src/scheduler/index.js';
import type { OpenStoreOptions, Store } from '../../src/store/index.js';
import {
  createEventBus,
  createMetrics,
  type EventBus,
  type GarrisonEvents,
} from '../../src/telemetry/index.js';
import {
  createQueueClient,
  createWorkflowEngine,
  defineWorkflow,
  type QueueClient,
  type WorkflowEngine,
} from '../../src/work/index.js';
import type { TestAdapter } from '../support/stores.js';

/** Waits for the signal `go`, then adds its `add` to the input in a journaled step. */
export const waiter = defineWorkflow('waiter', async (ctx, n: number) => {
  const got = await ctx.waitForSignal<{ add: number }>('go');
  return ctx.step('add', () => Promise.resolve(n + (got?.add ?? 0)));
});
/** Fails in its first step. */
export const failing = defineWorkflow('failing', async (ctx, _input: unknown) => {
  await ctx.step('boom', () => {
    throw new Error('boom');
  });
});
/** Takes a number; anything else is refused at start. */
export const typed = defineWorkflow('typed', (_ctx, n: number) => Promise.resolve(n * 2), {
  inputSchema: z.number(),
});

export interface Harness {
  readonly store: Store;
  readonly clock: VirtualClock;
  readonly events: EventBus<GarrisonEvents>;
  readonly queues: QueueClient;
  readonly workflows: WorkflowEngine;
  readonly timers: DurableTimers;
  readonly breakers: BreakerRegistry;
  readonly health: HealthChecks;
  readonly context: ApiContext;
  readonly api: ApiServer;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHarness(
  adapter: TestAdapter,
  options: ApiServerOptions = {},
  storeOptions: OpenStoreOptions = {},
): Promise<Harness> {
  const store = await adapter.open(storeOptions);
  const clock = new VirtualClock();
  const nodeId = 'api-test';
  const events = createEventBus<GarrisonEvents>({ clock });
  const metrics = createMetrics({ defaultLabels: { node: nodeId } });
  const registry = createRegistry({ store, clock });
  const queues = createQueueClient({ store, clock, localHandoff: false });
  const workflows = createWorkflowEngine({ store, clock, nodeId, recoverIntervalMs: 0 }).register(
    waiter,
    failing,
    typed,
  );
  const timers = new DurableTimers({ store, clock, nodeId });
  const breakers = new BreakerRegistry({ clock });
  const health = createHealthChecks({ clock, events });
  health.register(storeReachableCheck(store));
  health.register(migrationsCurrentCheck(store));
  const context: ApiContext = {
    store,
    clock,
    registry,
    workflows,
    queues,
    timers,
    breakers,
    metrics,
    events,
    health: () => health.run(),
    nodes: () => listNodes(store, clock.now(), { heartbeatMs: 1000, downAfterMs: 5000 }),
  };
  let api: ApiServer;
  try {
    api = await createApiServer(context, { port: 0, ...options });
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    store,
    clock,
    events,
    queues,
    workflows,
    timers,
    breakers,
    health,
    context,
    api,
    url: api.url,
    async close() {
      await api.close();
      await workflows.stop();
      await store.close().catch(() => undefined); // some tests close it themselves
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body when it is JSON. */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- replies are checked field by field
}

/**
 * A request with a JSON body (a string is sent as it is) and extra headers. Every request that may change
 * state says `Content-Type: application/json`, body or not, as the API asks.
 */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const sendsJson = body !== undefined || (method !== 'GET' && method !== 'HEAD');
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(sendsJson ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The route's path with each `:param` filled in. */
export function samplePath(path: string): string {
  return path
    .replace(/:id/g, '1')
    .replace(/:service/g, 'payments')
    .replace(/:name/g, 'nightly');
}

/** Like `call`, on node:http: any method may carry a body (fetch refuses one on GET). */
export function rawCall(
  url: string,
  method: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<Reply> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers: h, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

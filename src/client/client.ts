/**
 * A client of a Garrison store: starts, watches and steers workflow runs and enqueues tasks from a
 * process that runs no node (a web server, a script). Everything it does is a store write plus a
 * wake-up committed with it; the nodes sharing the store execute the work. It loads no server code.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { openStore, type Store } from '../store/index.js';
import { createQueueClient, type EnqueueItem, type QueueClient } from '../work/queue/client.js';
import type { QueueRef } from '../work/queue/definition.js';
import type { EnqueuedTask, EnqueueOptions, Task } from '../work/queue/types.js';
import { PENDING_CHANNEL } from '../work/workflow/channels.js';
import { listOptionsSchema, startOptionsSchema, invalid } from '../work/workflow/engine-options.js';
import { timeOrderedId } from '../work/workflow/ids.js';
import { settle } from '../work/workflow/outcomes.js';
import { listRuns, readRun, toRun } from '../work/workflow/runs.js';
import {
  insertBatch,
  prepareBatch,
  traceBatch,
  type PreparedRun,
  type StartItem,
} from '../work/workflow/start-batch.js';
import type { ListOptions, StartOptions, WorkflowDefinition, WorkflowRun } from '../work/workflow/types.js';
import { cancelRun, pauseRun, resumeRun, signalRun } from './controls.js';
import { ResultWatch } from './result-watch.js';

export interface ClientOptions {
  /** The store: a URL (opened here, closed by `close`), or an open store (left open by `close`). */
  readonly store: string | Store;
  /** Time and timers (result timeouts, polls). Default the system clock. */
  readonly clock?: Clock;
  /** SQLite: how often `result` looks whether another process committed, in ms. Default 20. */
  readonly pollIntervalMs?: number;
  /** Queue definitions for queues named by string in `enqueue` (their payload schemas). Default none. */
  readonly queues?: QueueClientQueues;
}

type QueueClientQueues = NonNullable<Parameters<typeof createQueueClient>[0]['queues']>;

export interface ClientResultOptions {
  /** Give up after this many ms with `workflow_timeout` (the run goes on). Default: no limit. */
  readonly timeoutMs?: number;
  /** Stop waiting when aborted (rejects with the signal's reason; the run goes on). */
  readonly signal?: AbortSignal;
}

/** A run started through a client. */
export interface ClientHandle<O> {
  readonly workflowId: string;
  /** False when a run with this id existed already (the start was idempotent). */
  readonly created: boolean;
  /** Waits for the run to finish: its output, or `workflow_failed` / `workflow_cancelled`. */
  result(options?: ClientResultOptions): Promise<O>;
  get(): Promise<WorkflowRun<O> | undefined>;
}

/** One page of runs, newest first; `nextOffset` asks for the next page (undefined on the last). */
export interface RunPage {
  readonly runs: WorkflowRun[];
  readonly nextOffset: number | undefined;
}

/** The output type of a workflow reference (unknown when started by name). */
export type OutputOf<W> = W extends WorkflowDefinition<unknown, infer O> ? O : unknown;

export interface GarrisonClient {
  readonly store: Store;
  /**
   * Starts a run: durable and `pending` when this resolves; a node that has the workflow registered
   * takes it up at once. With a definition, `input` is checked against its type at compile time and its
   * schema at run time (`invalid_input`, nothing written); by name, the executing node checks it.
   * `workflowId` is the idempotency key: an existing run with that id is returned (`created: false`).
   */
  start<I, O>(
    workflow: WorkflowDefinition<I, O> | string,
    input: NoInfer<I>,
    options?: StartOptions,
  ): Promise<ClientHandle<O>>;
  /** Starts many runs in one transaction: all of them or (on any error, or a crash) none. */
  startMany<I, O>(items: ReadonlyArray<StartItem<I, O>>): Promise<Array<ClientHandle<O>>>;
  /** Waits for a run to finish and returns its output (see `ClientHandle.result`). */
  result<O = unknown>(id: string, options?: ClientResultOptions): Promise<O>;
  get<O = unknown>(id: string): Promise<WorkflowRun<O> | undefined>;
  /** A page of runs, newest first, filtered by status, name, parent or creation time. */
  list(options?: ListOptions): Promise<RunPage>;
  /** Sends a signal; it is kept until the run's `ctx.waitForSignal(name)` consumes it. */
  signal(id: string, name: string, data?: unknown): Promise<void>;
  /** Asks for cancellation (carried out by the node executing the run); the run as recorded. */
  cancel(id: string): Promise<WorkflowRun>;
  /** Asks for a pause at the run's next step boundary (at once when it is pending). */
  pause(id: string): Promise<WorkflowRun>;
  /** Resumes a paused run (any node with the workflow takes it up), or withdraws a pending pause. */
  resume(id: string): Promise<WorkflowRun>;
  /** Adds a task to a queue; the queue's workers wake at once. */
  enqueue<P, I>(queue: QueueRef<P, I>, payload: I, options?: EnqueueOptions): Promise<EnqueuedTask>;
  /** Adds many tasks in one transaction. */
  enqueueMany(items: readonly EnqueueItem[]): Promise<EnqueuedTask[]>;
  getTask(id: number): Promise<Task | undefined>;
  /** Stops every wait (they reject with `engine_stopped`) and closes a store this client opened. */
  close(): Promise<void>;
}

const clientOptionsSchema = z
  .object({
    store: z.union([z.string().min(1), z.object({}).passthrough()]),
    clock: z.object({}).passthrough().optional(),
    pollIntervalMs: z.number().int().min(1).max(60_000).optional(),
    queues: z.array(z.unknown()).optional(),
  })
  .strict();

const resultOptionsSchema = z
  .object({ timeoutMs: z.number().min(0).optional(), signal: z.instanceof(AbortSignal).optional() })
  .strict();

// The rule of `defineWorkflow`: a name the executing node can have registered.
const nameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s]+$/);

/** Opens a client on a store; no node runs in this process. */
export async function createClient(options: ClientOptions): Promise<GarrisonClient> {
  const parsed = clientOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(`invalid client options: ${describeIssues(parsed.error.issues)}`);
  }
  const owned = typeof options.store === 'string';
  const store = typeof options.store === 'string' ? await openStore(options.store) : options.store;
  const clock = options.clock ?? systemClock;
  const ctx = { store, clock };
  const queues: QueueClient = createQueueClient({
    store,
    clock,
    queues: options.queues,
    localHandoff: false,
  });
  const watch = new ResultWatch({
    store,
    clock,
    pollMs: options.pollIntervalMs ?? 20,
    safetyPollMs: 1000,
    report: (error) => process.emitWarning(`garrison client: ${String(error)}`, 'GarrisonWarning'),
  });
  let closed = false;
  const assertOpen = () => {
    if (closed) throw new ValidationError('the client is closed');
  };

  const result = async <O>(id: string, raw: ClientResultOptions = {}): Promise<O> => {
    assertOpen();
    const opts = resultOptionsSchema.safeParse(raw);
    if (!opts.success) throw invalid('result options', opts.error.issues);
    return settle<O>(id, await watch.wait(id, opts.data.timeoutMs, opts.data.signal));
  };
  const get = async <O>(id: string): Promise<WorkflowRun<O> | undefined> => {
    const row = await readRun(store, id);
    return row === undefined ? undefined : toRun<O>(row);
  };
  const handle = <O>(run: PreparedRun, created: boolean): ClientHandle<O> => ({
    workflowId: run.id,
    created,
    result: (o) => result<O>(run.id, o),
    get: () => get<O>(run.id),
  });
  const startMany = async <I, O>(items: ReadonlyArray<StartItem<I, O>>): Promise<Array<ClientHandle<O>>> => {
    assertOpen();
    const prepared = prepareBatch(
      items,
      (ref) => {
        if (typeof ref === 'string') {
          const name = nameSchema.safeParse(ref);
          if (!name.success) throw new ValidationError(`invalid workflow name ${JSON.stringify(ref)}`);
          return { name: ref, def: undefined };
        }
        if (typeof ref.run !== 'function' || typeof ref.name !== 'string') {
          throw new ValidationError('expected a workflow made by defineWorkflow, or its name');
        }
        return { name: ref.name, def: ref };
      },
      () => timeOrderedId(clock.now()),
    );
    // Each run's start span is a child of the caller's active span: the run continues its trace.
    const traced = traceBatch(prepared);
    const runs = traced.runs;
    const now = clock.now();
    const created = await store
      .transaction(async (tx) => {
        const ids = await insertBatch(
          tx,
          runs,
          { status: 'pending', owner: null, leaseUntil: null, fence: 0 },
          now,
        );
        // Committed with the runs: the nodes that may take them up look at once.
        if (ids.size > 0) await store.notify(PENDING_CHANNEL, '');
        return ids;
      })
      .finally(() => traced.end());
    return runs.map((run) => handle<O>(run, created.has(run.id)));
  };

  return {
    store,
    async start(workflow, input, startOptions = {}) {
      const opts = startOptionsSchema.safeParse(startOptions);
      if (!opts.success) throw invalid('start options', opts.error.issues);
      try {
        const [h] = await startMany([{ workflow, input, ...opts.data }]);
        return h!;
      } catch (error) {
        // One run: the error needs no "item 0 of the batch".
        if (error instanceof ValidationError && error.cause instanceof ValidationError) throw error.cause;
        const cause = (error as { cause?: unknown }).cause;
        if ((error as { code?: string }).code === 'workflow_unknown' && cause instanceof Error) throw cause;
        throw error;
      }
    },
    startMany,
    result,
    get,
    async list(listOptions = {}) {
      const opts = listOptionsSchema.safeParse(listOptions);
      if (!opts.success) throw invalid('list options', opts.error.issues);
      const o = opts.data;
      const limit = o.limit ?? 100;
      const offset = o.offset ?? 0;
      const rows = await listRuns(store, {
        statuses: o.status === undefined ? undefined : Array.isArray(o.status) ? o.status : [o.status],
        name: o.name,
        parentId: o.parentId,
        createdAfter: o.createdAfter,
        // One more than asked: whether a next page exists, without a count.
        limit: limit + 1,
        offset,
      });
      return {
        runs: rows.slice(0, limit).map((row) => toRun(row)),
        nextOffset: rows.length > limit ? offset + limit : undefined,
      };
    },
    async signal(id, name, data) {
      assertOpen();
      await signalRun(ctx, id, name, data);
    },
    async cancel(id) {
      assertOpen();
      return cancelRun(ctx, id);
    },
    async pause(id) {
      assertOpen();
      return pauseRun(ctx, id);
    },
    async resume(id) {
      assertOpen();
      return resumeRun(ctx, id);
    },
    enqueue(queue, payload, enqueueOptions) {
      assertOpen();
      // In a transaction of its own, so that the workers' wake-up commits with the task.
      return store.transaction((tx) => queues.enqueue(queue, payload, { ...enqueueOptions, tx }));
    },
    enqueueMany(items) {
      assertOpen();
      return store.transaction((tx) => queues.enqueueMany(items, { tx }));
    },
    getTask: (id) => queues.getTask(id),
    async close() {
      if (closed) return;
      closed = true;
      await watch.close();
      if (owned) await store.close();
    },
  };
}

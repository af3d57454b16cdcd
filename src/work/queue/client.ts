/**
 * `createQueueClient`: enqueue (one or many), inspect, cancel, handle dead letters, and — for custom
 * loops and tests — claim, complete, fail and renew by hand with the same fencing as the worker.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Store, Tx } from '../../store/index.js';
import {
  cancelTask,
  handOverTask,
  getTask,
  listTasks,
  purgeTasks,
  queueStats,
  retryDeadTasks,
  type QueueStats,
} from './admin.js';
import { claimTasks, inClaimOrder } from './claim.js';
import { claimLimited } from './claim-limited.js';
import { plainQueue, queueNameSchema, type QueueDefinition, type QueueRef } from './definition.js';
import { insertTasks, type NewTask } from './enqueue.js';
import { LeaseLostError, PermanentTaskError, QueueError, QueueErrorCode } from './errors.js';
import { findHandoff, queueChannel } from './local.js';
import { toClaimed } from './rows.js';
import { bumpCounter, completeTasks, failTask, lossReasons, renewLeases, type Lease } from './settle.js';
import { TaskState, type ClaimedTask, type EnqueuedTask, type EnqueueOptions, type Task } from './types.js';

/** One task of a bulk enqueue. */
export interface EnqueueItem extends EnqueueOptions {
  readonly queue: QueueRef<unknown, never> | string;
  readonly payload: unknown;
}

export interface QueueClientOptions {
  readonly store: Store;
  /** Time source for run_at, leases and retention, in UNIX epoch ms. Default the system clock. */
  readonly clock?: Clock;
  /** Queue definitions to use when a queue is named by string (for its schema, limits and retries). */
  readonly queues?: readonly QueueDefinition<unknown, never>[];
  /**
   * Hand a single enqueued task straight to an idle worker of this process on the same store, leased in
   * the enqueue's own commit (see `local.ts`). Default true.
   */
  readonly localHandoff?: boolean;
  /** Source of jitter for retry delays recorded by `fail`, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

export interface ClaimOptions {
  /** Most tasks to lease. Default 1. */
  readonly limit?: number;
  /** Lease length, in ms. Default 30,000. */
  readonly leaseMs?: number;
  /** Who holds the lease (shown in `leasedBy`). Default `client`. */
  readonly workerId?: string;
}

export interface QueueClient {
  /** Adds a task; answers the first task instead when the idempotency key is taken. */
  enqueue<P, I>(
    queue: QueueRef<P, I>,
    payload: I,
    options?: EnqueueOptions & { readonly tx?: Tx },
  ): Promise<EnqueuedTask>;
  /** Adds many tasks in one transaction (chunked multi-row INSERTs); answers in input order. */
  enqueueMany(items: readonly EnqueueItem[], options?: { readonly tx?: Tx }): Promise<EnqueuedTask[]>;
  getTask(id: number): Promise<Task | undefined>;
  /** Tasks by id, optionally of one queue and some states; page with `afterId`. `limit` default 100. */
  listTasks(filter?: {
    readonly queue?: string;
    readonly states?: readonly TaskState[];
    readonly limit?: number;
    readonly afterId?: number;
  }): Promise<Task[]>;
  /**
   * Cancels a queued or running task (a running handler's signal is aborted). Answers the task's state
   * afterwards; `task_not_found` when there is no such task. With `tx`, inside the caller's transaction.
   */
  cancel(id: number, options?: { readonly tx?: Tx }): Promise<TaskState>;
  /**
   * Inside `tx`: completes a queued task without running it, because its work goes on in another task
   * enqueued in the same transaction (a hand-off). False when it was not queued.
   */
  handOver(id: number, options: { readonly tx: Tx }): Promise<boolean>;
  /** Dead letters by id; page with `afterId`. `limit` default 100. */
  listDead(filter?: {
    readonly queue?: string;
    readonly limit?: number;
    readonly afterId?: number;
  }): Promise<Task[]>;
  /** Puts dead tasks (all of a queue, or by id) back in their queue with attempts reset; answers how many. */
  retryDead(filter: { readonly queue?: string; readonly ids?: readonly number[] }): Promise<number>;
  /** Deletes dead tasks (of a queue, by id, and/or dead for longer than `olderThanMs`); answers how many. */
  purgeDead(filter: {
    readonly queue?: string;
    readonly ids?: readonly number[];
    readonly olderThanMs?: number;
  }): Promise<number>;
  /**
   * Retention: deletes finished tasks (default: completed and cancelled) that finished more than
   * `olderThanMs` ago; answers how many.
   */
  purgeFinished(filter: {
    readonly queue?: string;
    readonly olderThanMs: number;
    readonly states?: ReadonlyArray<'completed' | 'cancelled' | 'dead'>;
  }): Promise<number>;
  /**
   * Task counts by state and the `leaseLost` counter of a queue. With `tx`, read inside the caller's
   * transaction (to check a limit in the same transaction as an enqueue).
   */
  stats(queue: string, options?: { readonly tx?: Tx }): Promise<QueueStats>;
  /** Leases runnable tasks of a queue (and expired leases) by hand. */
  claim<P>(queue: QueueRef<P, never>, options?: ClaimOptions): Promise<ClaimedTask<P>[]>;
  /** Records a completion; `lease_lost` (counted) or `task_cancelled` when the lease is no longer held. */
  complete(task: ClaimedTask): Promise<void>;
  /**
   * Records a failed attempt: retried after the queue's backoff while attempts remain (or at `retryAt`),
   * else dead. Answers which; rejects like `complete` when the lease is no longer held.
   */
  fail(task: ClaimedTask, error: unknown, options?: { readonly retryAt?: number }): Promise<'retry' | 'dead'>;
  /** Extends a lease by `leaseMs` from now (default 30,000); rejects like `complete` when lost. */
  renew(task: ClaimedTask, leaseMs?: number): Promise<void>;
}

const enqueueOptionsSchema = z
  .object({
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    runAt: z.number().int().nonnegative().optional(),
    delayMs: z.number().int().nonnegative().optional(),
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    idempotencyKey: z.string().min(1).max(200).optional(),
    groupKey: z.string().min(1).max(200).optional(),
  })
  .refine((o) => o.runAt === undefined || o.delayMs === undefined, 'give runAt or delayMs, not both');

const pageSchema = z.object({
  limit: z.number().int().min(1).max(10_000).default(100),
  afterId: z.number().int().min(0).optional(),
});

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(`invalid ${what}: ${describeIssues(result.error.issues)}`, {
      issues: result.error.issues,
    });
  }
  return result.data;
}

/** The error text kept in `last_error`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 4000);
  return String(error).slice(0, 4000);
}

/** Definitions of undefined (plain) queues kept for reuse; past it the oldest is dropped and rebuilt if used. */
export const MAX_PLAIN_QUEUES_KEPT = 1000;

export interface QueueResolver {
  /** The definition of a queue: a given one, a defined one by name, or a plain one for any valid name. */
  resolve(queue: QueueRef<unknown, never> | string): QueueDefinition;
  /** Plain definitions kept (at most `MAX_PLAIN_QUEUES_KEPT`). */
  readonly plainKept: number;
}

/**
 * Names of queues nobody defined come from callers (API requests, any string): their definitions are
 * kept for reuse, the most recent `maxPlain` only, so the set of names seen cannot grow without bound.
 */
export function createQueueResolver(
  defined: readonly QueueDefinition<unknown, never>[],
  maxPlain = MAX_PLAIN_QUEUES_KEPT,
): QueueResolver {
  const known = new Map<string, QueueDefinition>();
  for (const d of defined) known.set(d.name, d);
  const plainSeen = new Map<string, QueueDefinition>();
  return {
    resolve(queue) {
      if (typeof queue !== 'string') return queue;
      const def = known.get(queue);
      if (def !== undefined) return def;
      const name = queueNameSchema.safeParse(queue);
      if (!name.success)
        throw new ValidationError(`invalid queue name "${queue}": ${describeIssues(name.error.issues)}`);
      let plain = plainSeen.get(queue);
      if (plain === undefined) {
        plain = plainQueue(queue);
        if (plainSeen.size >= maxPlain) plainSeen.delete(plainSeen.keys().next().value as string);
        plainSeen.set(queue, plain);
      }
      return plain;
    },
    get plainKept() {
      return plainSeen.size;
    },
  };
}

export function createQueueClient(options: QueueClientOptions): QueueClient {
  const store = options.store;
  const clock = options.clock ?? systemClock;
  const handoff = options.localHandoff ?? true;
  const random = options.random ?? Math.random;
  const resolver = createQueueResolver(options.queues ?? []);
  const resolve = (queue: QueueRef<unknown, never> | string): QueueDefinition => resolver.resolve(queue);

  const toNew = (
    def: QueueDefinition,
    payload: unknown,
    raw: EnqueueOptions | undefined,
    now: number,
  ): NewTask => {
    const o =
      raw === undefined
        ? {}
        : parseWith(enqueueOptionsSchema, raw, `enqueue options for queue "${def.name}"`);
    const value = def.parse(payload) ?? null;
    return {
      queue: def.name,
      payload: value,
      priority: o.priority ?? 0,
      runAt: o.runAt ?? now + (o.delayMs ?? 0),
      maxAttempts: o.maxAttempts ?? def.maxAttempts,
      groupKey: o.groupKey ?? null,
      idempotencyKey: o.idempotencyKey ?? null,
      retain: def.keepCompleted || o.idempotencyKey !== undefined,
    };
  };

  const wake = async (tasks: readonly NewTask[]): Promise<void> => {
    const earliest = new Map<string, number>();
    for (const t of tasks) earliest.set(t.queue, Math.min(earliest.get(t.queue) ?? Infinity, t.runAt));
    for (const [queue, runAt] of earliest) await store.notify(queueChannel(queue), String(runAt));
  };

  const checkJson = (tasks: readonly NewTask[]): void => {
    try {
      JSON.stringify(tasks.map((t) => t.payload));
    } catch (error) {
      throw new ValidationError(
        `a payload cannot be stored as JSON: ${describeError(error)}`,
        undefined,
        error,
      );
    }
  };

  const insert = async (tasks: NewTask[], now: number, tx: Tx | undefined): Promise<EnqueuedTask[]> => {
    checkJson(tasks);
    if (tx !== undefined) {
      const results = await insertTasks(store, tasks, now, { tx });
      await wake(tasks);
      return results;
    }
    const results = await insertTasks(store, tasks, now);
    await wake(tasks);
    return results;
  };

  /** Why a lease is gone, as the error to throw (and the lease_lost counter bumped). */
  const lost = async (task: ClaimedTask): Promise<QueueError> => {
    const reasons = await lossReasons(store, [task]);
    const reason = reasons.get(task.id);
    if (reason === 'cancelled') {
      return new QueueError(QueueErrorCode.taskCancelled, `task ${task.id} was cancelled`, {
        details: { taskId: task.id },
      });
    }
    await bumpCounter(store, task.queue, 'lease_lost', 1);
    return new LeaseLostError(
      task.id,
      task.token,
      reason === 'taken_over' ? 'taken over by a later claim' : 'finished elsewhere',
    );
  };

  return {
    async enqueue(queue, payload, opts) {
      const def = resolve(queue);
      const now = clock.now();
      const { tx, ...rest } = opts ?? {};
      const task = toNew(def, payload, opts === undefined ? undefined : rest, now);
      const slot =
        handoff && tx === undefined && task.runAt <= now && !def.limited
          ? findHandoff(store, def.name)
          : undefined;
      if (slot === undefined) return (await insert([task], now, tx))[0]!;
      let result: EnqueuedTask;
      try {
        checkJson([task]);
        result = (await insertTasks(store, [task], now, { lease: slot })).at(0)!;
      } catch (error) {
        slot.release();
        throw error;
      }
      if (!result.created) {
        slot.release();
        return result;
      }
      slot.accept(
        {
          id: result.id,
          queue: task.queue,
          payload: task.payload,
          priority: task.priority,
          attempt: 1,
          maxAttempts: task.maxAttempts,
          token: 1,
          groupKey: task.groupKey,
          idempotencyKey: task.idempotencyKey,
          runAt: task.runAt,
          createdAt: now,
        },
        task.retain,
      );
      return result;
    },

    async enqueueMany(items, opts) {
      const given: unknown = items;
      if (!Array.isArray(given)) throw new ValidationError('enqueueMany takes an array of tasks');
      const now = clock.now();
      const tasks = items.map((item: EnqueueItem, i) => {
        if (typeof item !== 'object' || item === null) throw new ValidationError(`task ${i}: not an object`);
        const { queue, payload, ...rest } = item;
        try {
          return toNew(resolve(queue), payload, Object.keys(rest).length === 0 ? undefined : rest, now);
        } catch (error) {
          if (error instanceof ValidationError)
            throw new ValidationError(`task ${i}: ${error.message}`, error.details, error);
          throw error;
        }
      });
      return insert(tasks, now, opts?.tx);
    },

    getTask: (id) => getTask(store, id),

    listTasks(filter = {}) {
      const page = parseWith(pageSchema, { limit: filter.limit, afterId: filter.afterId }, 'page');
      return listTasks(store, { queue: filter.queue, states: filter.states }, page);
    },

    async cancel(id, opts) {
      const state = await cancelTask(store, id, clock.now(), opts?.tx);
      if (state === undefined) throw new QueueError(QueueErrorCode.taskNotFound, `no task has id ${id}`);
      return state;
    },

    handOver(id, opts) {
      return handOverTask(opts.tx, id, clock.now());
    },

    listDead(filter = {}) {
      const page = parseWith(pageSchema, { limit: filter.limit, afterId: filter.afterId }, 'page');
      return listTasks(store, { queue: filter.queue, states: ['dead'] }, page);
    },

    async retryDead(filter) {
      const { count, queues } = await retryDeadTasks(store, filter, clock.now());
      for (const q of queues) await store.notify(queueChannel(q), String(clock.now()));
      return count;
    },

    purgeDead(filter) {
      return purgeTasks(store, {
        queue: filter.queue,
        ids: filter.ids,
        states: ['dead'],
        finishedBefore: filter.olderThanMs === undefined ? undefined : clock.now() - filter.olderThanMs,
      });
    },

    purgeFinished(filter) {
      const olderThanMs = parseWith(z.number().min(0), filter.olderThanMs, 'olderThanMs');
      return purgeTasks(store, {
        queue: filter.queue,
        states: filter.states ?? ['completed', 'cancelled'],
        finishedBefore: clock.now() - olderThanMs,
      });
    },

    stats: (queue, opts) => queueStats(opts?.tx ?? store, queue),

    async claim<P>(queue: QueueRef<P, never>, opts: ClaimOptions = {}) {
      const def = resolve(queue);
      const now = clock.now();
      const request = {
        queues: [def.name],
        limit: opts.limit ?? 1,
        now,
        leaseUntil: now + (opts.leaseMs ?? 30_000),
        workerId: opts.workerId ?? 'client',
      };
      const rows = def.limited ? await claimLimited(store, def, request) : await claimTasks(store, request);
      return inClaimOrder(rows.filter((r) => r.state === TaskState.running)).map((r) => toClaimed<P>(r));
    },

    async complete(task) {
      const done = await completeTasks(
        store,
        [{ id: task.id, token: task.token, retain: undefined }],
        clock.now(),
      );
      if (!done.has(task.id)) throw await lost(task);
    },

    async fail(task, error, opts = {}) {
      const def = resolve(task.queue);
      const now = clock.now();
      const permanent = error instanceof PermanentTaskError;
      const retryAt =
        permanent || task.attempt >= task.maxAttempts
          ? undefined
          : (opts.retryAt ?? now + def.retryDelay(task.attempt, random));
      const ok = await failTask(
        store,
        { id: task.id, token: task.token, error: describeError(error), retryAt },
        now,
      );
      if (!ok) throw await lost(task);
      if (retryAt !== undefined) await store.notify(queueChannel(task.queue), String(retryAt));
      return retryAt === undefined ? 'dead' : 'retry';
    },

    async renew(task, leaseMs = 30_000) {
      const lease: Lease = { id: task.id, token: task.token };
      const held = await renewLeases(store, [lease], clock.now() + leaseMs);
      if (!held.has(task.id)) throw await lost(task);
    },
  };
}

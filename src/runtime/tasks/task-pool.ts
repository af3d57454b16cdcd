import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import { PoolNotRunningError, PoolQueueFullError, isRuntimeError } from '../errors.js';
import type { Pid } from '../pid.js';
import type { ExitReason } from '../reasons.js';
import type { Runtime } from '../runtime.js';
import type { TaskPoolDescription } from '../supervision/describe.js';
import { unwrap, type Result } from '../supervision/result.js';
import type { ChildSpec, RestartType, ChildShutdown } from '../supervision/spec.js';
import {
  RunRequest,
  StatsRequest,
  poolBehaviour,
  type PoolStats,
  type ResolvedPoolOptions,
  type PoolTask,
} from './pool-server.js';

export interface TaskPoolOptions {
  /** The pool's registered process name; handles find the pool by it. */
  name: string;
  /** Tasks running at once. Default: 10. */
  concurrency?: number;
  /** A task running longer is aborted (its signal fires) and its caller gets `task_timeout`, in ms. Default: 30000. */
  taskTimeoutMs?: number;
  /** Tasks waiting for a slot before `run` fails with `pool_queue_full`. Default: 10000. */
  maxQueued?: number;
}

const optionsSchema = z.strictObject({
  name: z.string().min(1).max(200),
  concurrency: z.number().int().min(1).default(10),
  taskTimeoutMs: z.number().int().min(1).default(30_000),
  maxQueued: z.number().int().min(0).default(10_000),
});

function parseOptions(options: TaskPoolOptions): ResolvedPoolOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid task pool options: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

function describe(o: ResolvedPoolOptions): TaskPoolDescription {
  return {
    kind: 'task_pool',
    name: o.name,
    concurrency: o.concurrency,
    taskTimeoutMs: o.taskTimeoutMs,
    maxQueued: o.maxQueued,
  };
}

function spawnPool(runtime: Runtime, o: ResolvedPoolOptions, link: Pid | undefined): Promise<Pid> {
  // The mailbox holds the queue's worth of requests, so a burst of `run` calls is queued, not refused.
  return runtime.spawn(poolBehaviour, o, {
    name: o.name,
    mailboxCapacity: Math.max(1, o.maxQueued + o.concurrency),
    ...(link === undefined ? {} : { link }),
  });
}

export interface TaskPoolChildOptions {
  /** Default: `permanent`. */
  restart?: RestartType;
  /** How long running tasks get to finish after their abort signal when the pool stops, in ms. Default: 5000. */
  shutdownMs?: ChildShutdown;
}

export interface TaskBatchOptions {
  /** Tasks of this batch submitted at once (the pool's own limit still applies). Default: all. */
  concurrency?: number;
}

/**
 * A named pool of supervised tasks. Work runs only inside the pool process: when the pool is not running,
 * `run` fails with `pool_not_running` — there is no fallback that runs the task anyway (seed flaw 7).
 */
export class TaskPool {
  private constructor(
    readonly runtime: Runtime,
    readonly name: string,
  ) {}

  /** Starts a pool process (normally a pool is a supervisor's child: see `childSpec`). */
  static async start(
    runtime: Runtime,
    options: TaskPoolOptions,
    startOptions: { link?: Pid } = {},
  ): Promise<TaskPool> {
    const o = parseOptions(options);
    await spawnPool(runtime, o, startOptions.link);
    return new TaskPool(runtime, o.name);
  }

  /** A child spec that runs the pool under a supervisor. */
  static childSpec(
    runtime: Runtime,
    options: TaskPoolOptions,
    childOptions: TaskPoolChildOptions = {},
  ): ChildSpec {
    const o = parseOptions(options);
    return {
      id: o.name,
      type: 'worker',
      restart: childOptions.restart ?? 'permanent',
      shutdownMs: childOptions.shutdownMs ?? 5000,
      start: (s) => spawnPool(runtime, o, s.link),
      describe: () => describe(o),
    };
  }

  /** A handle on the pool registered under `name` (it need not be running yet). */
  static of(runtime: Runtime, name: string): TaskPool {
    return new TaskPool(runtime, name);
  }

  get running(): boolean {
    return this.runtime.whereis(this.name) !== undefined;
  }

  /**
   * Runs `fn` in the pool and resolves with its result. Fails with `task_timeout` (the task's signal was
   * aborted), `task_crashed` (cause: what it threw), `pool_queue_full`, or `pool_not_running` (the pool is not
   * running, or stopped before the task finished).
   */
  async run<T>(fn: PoolTask<T>): Promise<T> {
    if (typeof fn !== 'function') throw new ValidationError('run needs a function');
    const pid = this.runtime.whereis(this.name);
    if (pid === undefined) throw new PoolNotRunningError(this.name);
    let result: Result<T>;
    try {
      // No call timeout: the task has its own, the queue is bounded, and the call fails at once if the pool exits.
      result = await this.runtime.call<Result<T>>(pid, new RunRequest(fn), { timeoutMs: Infinity });
    } catch (error) {
      if (isRuntimeError(error, 'noproc') || isRuntimeError(error, 'process_exited')) {
        throw new PoolNotRunningError(this.name, error);
      }
      if (isRuntimeError(error, 'mailbox_full')) throw new PoolQueueFullError(this.name, undefined, error);
      throw error;
    }
    return unwrap(result);
  }

  /** Runs every function (at most `concurrency` of them submitted at once); results in input order, like `Promise.allSettled`. */
  async runBatch<T>(
    fns: ReadonlyArray<PoolTask<T>>,
    options: TaskBatchOptions = {},
  ): Promise<PromiseSettledResult<T>[]> {
    const limit = options.concurrency ?? fns.length;
    if (!Number.isInteger(limit) || limit < 1)
      throw new ValidationError(`batch concurrency must be an integer ≥ 1, got ${limit}`);
    const results = new Array<PromiseSettledResult<T>>(fns.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < fns.length) {
        const i = next++;
        try {
          results[i] = { status: 'fulfilled', value: await this.run(fns[i] as PoolTask<T>) };
        } catch (reason) {
          results[i] = { status: 'rejected', reason };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, fns.length) }, lane));
    return results;
  }

  /** The pool's counters. Fails with `pool_not_running`. */
  async stats(): Promise<PoolStats> {
    const pid = this.runtime.whereis(this.name);
    if (pid === undefined) throw new PoolNotRunningError(this.name);
    try {
      return await this.runtime.call<PoolStats>(pid, new StatsRequest());
    } catch (error) {
      if (isRuntimeError(error, 'noproc') || isRuntimeError(error, 'process_exited')) {
        throw new PoolNotRunningError(this.name, error);
      }
      throw error;
    }
  }

  /** Stops the pool process (see its `terminate`); resolves with its exit reason. */
  async stop(reason: ExitReason = 'shutdown', timeoutMs = 5000): Promise<ExitReason> {
    return this.runtime.stop(this.name, reason, { timeoutMs });
  }
}

export type { PoolStats, PoolTask };

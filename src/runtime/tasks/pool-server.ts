import type { Behaviour, CallResult, From, ProcessContext } from '../behaviour.js';
import type { TimerHandle } from '../clock.js';
import { Deque } from '../deque.js';
import {
  BadMessageError,
  PoolNotRunningError,
  PoolQueueFullError,
  TaskCrashedError,
  TaskTimeoutError,
} from '../errors.js';
import { formatReason } from '../reasons.js';
import { err, ok, type Result } from '../supervision/result.js';

/** The work a pool runs: it gets a signal that aborts on timeout or when the pool stops. */
export type PoolTask<T> = (signal: AbortSignal) => T | Promise<T>;

export interface ResolvedPoolOptions {
  readonly name: string;
  readonly concurrency: number;
  readonly taskTimeoutMs: number;
  readonly maxQueued: number;
}

/** A pool's counters. */
export interface PoolStats {
  /** Tasks holding a slot. */
  readonly running: number;
  /** Tasks waiting for a slot. */
  readonly queued: number;
  /** Tasks that returned a value. */
  readonly completed: number;
  /** Tasks that threw or rejected. */
  readonly failed: number;
  /** Tasks that ran past the timeout (their callers got `task_timeout`). */
  readonly timedOut: number;
  /** Timed-out tasks that ignored their abort signal and are still running (they no longer hold a slot). */
  readonly abandoned: number;
}

interface Running {
  readonly from: From;
  readonly controller: AbortController;
  timer: TimerHandle | undefined;
  settled: Promise<Result<unknown>> | undefined;
}

interface PoolState {
  readonly opts: ResolvedPoolOptions;
  readonly running: Map<number, Running>;
  readonly queue: Deque<{ fn: PoolTask<unknown>; from: From }>;
  readonly abandoned: Set<number>;
  nextId: number;
  completed: number;
  failed: number;
  timedOut: number;
}

export class RunRequest {
  constructor(readonly fn: PoolTask<unknown>) {}
}
export class StatsRequest {}
class TaskDone {
  constructor(
    readonly id: number,
    readonly outcome: Result<unknown>,
  ) {}
}
class TaskTimedOut {
  constructor(readonly id: number) {}
}

function startTask(ctx: ProcessContext, state: PoolState, fn: PoolTask<unknown>, from: From): void {
  const rt = ctx.runtime;
  const self = ctx.self;
  const id = state.nextId++;
  const task: Running = { from, controller: new AbortController(), timer: undefined, settled: undefined };
  task.timer = rt.clock.setTimer(state.opts.taskTimeoutMs, () =>
    rt.deliverSystem(self, new TaskTimedOut(id)),
  );
  // Results come back as messages, so every change to the pool's state happens inside its own handlers.
  task.settled = (async () => fn(task.controller.signal))().then(
    (value) => ok(value),
    (error: unknown) => err(error),
  );
  void task.settled.then((outcome) => rt.deliverSystem(self, new TaskDone(id, outcome)));
  state.running.set(id, task);
}

function startQueued(ctx: ProcessContext, state: PoolState): void {
  while (state.running.size < state.opts.concurrency) {
    const next = state.queue.shift();
    if (next === undefined) return;
    if (next.from.pending) startTask(ctx, state, next.fn, next.from);
  }
}

function finished(ctx: ProcessContext, state: PoolState, msg: TaskDone): void {
  const task = state.running.get(msg.id);
  if (task === undefined) {
    state.abandoned.delete(msg.id); // a timed-out task that finally settled
    return;
  }
  state.running.delete(msg.id);
  task.timer?.cancel();
  if (msg.outcome.ok) {
    state.completed++;
    task.from.reply(msg.outcome);
  } else {
    state.failed++;
    task.from.reply(err(new TaskCrashedError(state.opts.name, msg.outcome.error)));
  }
  startQueued(ctx, state);
}

function timedOut(ctx: ProcessContext, state: PoolState, id: number): void {
  const task = state.running.get(id);
  if (task === undefined) return;
  const { name, taskTimeoutMs } = state.opts;
  state.running.delete(id);
  state.abandoned.add(id);
  state.timedOut++;
  const error = new TaskTimeoutError(name, taskTimeoutMs);
  task.controller.abort(error);
  task.from.reply(err(error));
  ctx.runtime.emit({
    type: 'task_timeout',
    at: ctx.runtime.clock.now(),
    pool: name,
    timeoutMs: taskTimeoutMs,
  });
  startQueued(ctx, state);
}

function stats(state: PoolState): PoolStats {
  return {
    running: state.running.size,
    queued: state.queue.size,
    completed: state.completed,
    failed: state.failed,
    timedOut: state.timedOut,
    abandoned: state.abandoned.size,
  };
}

/**
 * The pool process. Tasks run as promises owned by it: when it exits for any reason (a kill included, seen
 * through a monitor on itself) every running task's signal aborts and every waiting caller gets
 * `pool_not_running`. Nothing it started outlives it unsignalled.
 */
export const poolBehaviour: Behaviour<PoolState, ResolvedPoolOptions> = {
  init(opts, ctx) {
    const state: PoolState = {
      opts,
      running: new Map(),
      queue: new Deque(),
      abandoned: new Set(),
      nextId: 1,
      completed: 0,
      failed: 0,
      timedOut: 0,
    };
    ctx.runtime.monitor(
      ctx.self,
      (down) => {
        const why = new PoolNotRunningError(
          opts.name,
          new Error(`the pool exited (${formatReason(down.reason)})`),
        );
        for (const task of state.running.values()) {
          task.timer?.cancel();
          task.controller.abort(why);
        }
        state.running.clear();
      },
      { label: `task_pool:${opts.name}` },
    );
    return state;
  },

  handleCall(msg, from, state, ctx): CallResult<PoolState> {
    if (msg instanceof StatsRequest) return { reply: stats(state), state };
    if (!(msg instanceof RunRequest))
      return { reply: err(new BadMessageError(ctx.self, 'not a pool request')), state };
    if (state.running.size < state.opts.concurrency) startTask(ctx, state, msg.fn, from);
    else if (state.queue.size >= state.opts.maxQueued) {
      return { reply: err(new PoolQueueFullError(state.opts.name, state.opts.maxQueued)), state };
    } else state.queue.push({ fn: msg.fn, from });
    return { noreply: true, state };
  },

  handleInfo(msg, state, ctx) {
    if (msg instanceof TaskDone) finished(ctx, state, msg);
    else if (msg instanceof TaskTimedOut) timedOut(ctx, state, msg.id);
    return state;
  },

  /**
   * A graceful stop signals every running task and waits for them (bounded by the pool's shutdown time,
   * after which its supervisor kills it); each caller gets its task's outcome. Queued tasks never start:
   * their callers get `pool_not_running`.
   */
  async terminate(reason, state) {
    const why = new PoolNotRunningError(
      state.opts.name,
      new Error(`the pool is stopping (${formatReason(reason)})`),
    );
    const tasks = [...state.running.values()];
    for (const t of tasks) {
      t.timer?.cancel();
      t.controller.abort(why);
    }
    await Promise.all(
      tasks.map(async (t) => {
        const outcome = (await t.settled) as Result<unknown>;
        t.from.reply(outcome.ok ? outcome : err(new PoolNotRunningError(state.opts.name, outcome.error)));
      }),
    );
  },
};

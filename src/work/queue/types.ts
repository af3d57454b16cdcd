/** The life of a task, as stored. */
export const TaskState = {
  /**
   * Waiting to run once its `runAt` has come. A failed attempt waiting for its retry is also `queued`,
   * with a later `runAt`, `attempts > 0` and `lastError` set.
   */
  queued: 'queued',
  /** Leased to a worker until `leaseUntil`; taken over by another worker when the lease expires. */
  running: 'running',
  /** Done. Kept only when the queue retains completed tasks or the task has an idempotency key. */
  completed: 'completed',
  /** Failed on every attempt it was allowed (a dead letter): listed, retried or purged by hand. */
  dead: 'dead',
  /** Cancelled before it finished. */
  cancelled: 'cancelled',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** A task as the store holds it. */
export interface Task<P = unknown> {
  readonly id: number;
  readonly queue: string;
  readonly state: TaskState;
  readonly payload: P;
  /** Higher runs first. */
  readonly priority: number;
  /** When the task may run (next), UNIX epoch ms. */
  readonly runAt: number;
  /** Attempts started so far (claims). */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** The fencing token of the latest claim; 0 when never claimed. */
  readonly token: number;
  /** When the current lease ends, UNIX epoch ms; null unless running. */
  readonly leaseUntil: number | null;
  /** The worker holding (or that last held) the lease. */
  readonly leasedBy: string | null;
  readonly groupKey: string | null;
  readonly idempotencyKey: string | null;
  /** The error of the latest failed attempt. */
  readonly lastError: string | null;
  /** UNIX epoch ms. */
  readonly createdAt: number;
  /** When the task completed, died or was cancelled, UNIX epoch ms. */
  readonly finishedAt: number | null;
}

/** A task as a handler receives it: leased to this worker under `token`. */
export interface ClaimedTask<P = unknown> {
  readonly id: number;
  readonly queue: string;
  readonly payload: P;
  readonly priority: number;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** The fencing token of this claim: completion, failure and renewal are accepted only with it. */
  readonly token: number;
  readonly groupKey: string | null;
  readonly idempotencyKey: string | null;
  /** When the task was due, UNIX epoch ms. */
  readonly runAt: number;
  /** When it was enqueued, UNIX epoch ms. */
  readonly createdAt: number;
  /** W3C trace context of the span that enqueued it (null or absent: none); parent of its attempt's span. */
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
}

/** What an enqueue answers. */
export interface EnqueuedTask {
  readonly id: number;
  readonly queue: string;
  /** The task's state: `queued` for a new task (`running` when handed straight to a local worker). */
  readonly state: TaskState;
  /**
   * False when a task with the same idempotency key already existed: `id` and `state` are that first
   * task's, and nothing was added.
   */
  readonly created: boolean;
}

/** Options of one enqueue. */
export interface EnqueueOptions {
  /** Higher runs first. An integer; default 0. */
  readonly priority?: number;
  /** Do not run before this time, UNIX epoch ms. Mutually exclusive with `delayMs`. Default: now. */
  readonly runAt?: number;
  /** Do not run before this many ms from now. Mutually exclusive with `runAt`. Default 0. */
  readonly delayMs?: number;
  /** Attempts before the task goes to the dead letters. Default: the queue's `maxAttempts` (5). */
  readonly maxAttempts?: number;
  /**
   * A second enqueue on the same queue with the same key returns the first task instead of adding one,
   * for as long as that task exists (tasks with a key are kept after completion until purged). 1–200 chars.
   */
  readonly idempotencyKey?: string;
  /** Groups tasks for per-group concurrency and rate limits (e.g. a tenant or an agent id). 1–200 chars. */
  readonly groupKey?: string;
}

/** The worker's options, their defaults and their validation. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import { plainQueue, queueNameSchema, type QueueDefinition, type QueueRef } from './definition.js';
import type { ClaimedTask } from './types.js';

/** What a handler gets besides its task. */
export interface TaskContext {
  /**
   * Aborted when the task is cancelled, when this worker's lease on it is lost, or when the worker stops
   * and its deadline passes; `signal.reason` is the error saying which.
   */
  readonly signal: AbortSignal;
  /** The worker running the task. */
  readonly workerId: string;
}

/**
 * Runs one task. Returning completes it; throwing fails the attempt (retried with backoff while attempts
 * remain; `PermanentTaskError` sends it to the dead letters at once).
 */
export type TaskHandler<P> = (task: ClaimedTask<P>, context: TaskContext) => unknown;

export interface WorkerOptions<P = unknown> {
  readonly store: Store;
  /** Time source for leases, delays and every timer of the worker. Default the system clock. */
  readonly clock?: Clock;
  /** The queue(s) to work, by definition or name. */
  readonly queues: QueueRef<P, never> | readonly QueueRef<P, never>[];
  readonly handler: TaskHandler<P>;
  /** Handlers running at once. Default 10. */
  readonly concurrency?: number;
  /** Lease length, in ms; leases are renewed every `heartbeatMs` while held. Default 30,000. */
  readonly leaseMs?: number;
  /** How often held leases are renewed (one statement for all of them), in ms. Default `leaseMs / 3`. */
  readonly heartbeatMs?: number;
  /** Most tasks leased by one claim. Default `max(concurrency, 32)`. */
  readonly batchSize?: number;
  /**
   * Most tasks held beyond the running ones (the local buffer). It is also bounded by what this worker
   * can start within half a lease at its measured handler duration. Default `batchSize`.
   */
  readonly prefetch?: number;
  /**
   * How long an idle worker waits before looking at the store on its own, in ms: a safety net for
   * wake-ups that cannot arrive (SQLite shared by several processes, a dropped LISTEN connection).
   * Default 30,000 where the store delivers notifications across processes, else 1,000.
   */
  readonly pollIntervalMs?: number;
  /**
   * SQLite only: how often an idle worker checks whether another process committed (`PRAGMA
   * data_version`, one tiny read), in ms; when one did and a task is due, it claims at once. 0 turns it
   * off. Default 20 with the system clock, 0 with any other clock.
   */
  readonly changePollMs?: number;
  /** How long `stop()` waits for running handlers before aborting them, in ms. Default 10,000. */
  readonly stopTimeoutMs?: number;
  /** This worker's id, recorded as `leased_by`. Default `<host>:<pid>:<random>`. */
  readonly workerId?: string;
  /** Source of jitter for retry delays, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Completions committed together at most. Default 1000. */
  readonly completionBatchSize?: number;
}

export interface ResolvedWorkerOptions<P> {
  readonly store: Store;
  readonly clock: Clock;
  readonly queues: readonly QueueDefinition[];
  readonly handler: TaskHandler<P>;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly batchSize: number;
  readonly prefetch: number;
  readonly pollIntervalMs: number;
  readonly changePollMs: number;
  readonly stopTimeoutMs: number;
  readonly workerId: string;
  readonly random: () => number;
  readonly completionBatchSize: number;
}

const positive = z.number().int().min(1);
const schema = z.object({
  concurrency: positive.max(10_000).optional(),
  leaseMs: z.number().int().min(10).optional(),
  heartbeatMs: z.number().int().min(1).optional(),
  batchSize: positive.max(10_000).optional(),
  prefetch: z.number().int().min(0).max(100_000).optional(),
  pollIntervalMs: z.number().int().min(1).optional(),
  changePollMs: z.number().int().min(0).max(60_000).optional(),
  stopTimeoutMs: z.number().int().min(0).optional(),
  workerId: z.string().min(1).max(200).optional(),
  completionBatchSize: positive.max(10_000).optional(),
});

export function resolveWorkerOptions<P>(options: WorkerOptions<P>): ResolvedWorkerOptions<P> {
  const checked = schema.safeParse({
    concurrency: options.concurrency,
    leaseMs: options.leaseMs,
    heartbeatMs: options.heartbeatMs,
    batchSize: options.batchSize,
    prefetch: options.prefetch,
    pollIntervalMs: options.pollIntervalMs,
    changePollMs: options.changePollMs,
    stopTimeoutMs: options.stopTimeoutMs,
    workerId: options.workerId,
    completionBatchSize: options.completionBatchSize,
  });
  if (!checked.success)
    throw new ValidationError(`invalid worker options: ${describeIssues(checked.error.issues)}`);
  if (typeof options.handler !== 'function')
    throw new ValidationError('invalid worker options: handler must be a function');
  const refs: readonly QueueRef<P, never>[] = Array.isArray(options.queues)
    ? (options.queues as readonly QueueRef<P, never>[])
    : [options.queues as QueueRef<P, never>];
  if (refs.length === 0)
    throw new ValidationError('invalid worker options: queues must name at least one queue');
  const queues = refs.map((ref) => {
    if (typeof ref !== 'string') return ref;
    const name = queueNameSchema.safeParse(ref);
    if (!name.success)
      throw new ValidationError(`invalid queue name "${ref}": ${describeIssues(name.error.issues)}`);
    return plainQueue(ref);
  });
  const names = new Set(queues.map((q) => q.name));
  if (names.size !== queues.length)
    throw new ValidationError('invalid worker options: a queue is listed twice');
  const o = checked.data;
  const concurrency = o.concurrency ?? 10;
  const leaseMs = o.leaseMs ?? 30_000;
  const batchSize = o.batchSize ?? Math.max(concurrency, 32);
  return {
    store: options.store,
    clock: options.clock ?? systemClock,
    queues,
    handler: options.handler,
    concurrency,
    leaseMs,
    heartbeatMs: Math.min(o.heartbeatMs ?? Math.floor(leaseMs / 3), leaseMs),
    batchSize,
    prefetch: o.prefetch ?? batchSize,
    pollIntervalMs: o.pollIntervalMs ?? (options.store.capabilities.notify ? 30_000 : 1_000),
    // The system clock polls; a virtual clock would fire a poll for every few ms it is advanced.
    changePollMs: o.changePollMs ?? ((options.clock ?? systemClock) === systemClock ? 20 : 0),
    stopTimeoutMs: o.stopTimeoutMs ?? 10_000,
    workerId: o.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    random: options.random ?? Math.random,
    completionBatchSize: o.completionBatchSize ?? 1000,
  };
}

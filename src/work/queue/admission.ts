/**
 * Admission of enqueues: a bound on the tasks waiting in each queue, and a check of the caller's own
 * (a node's memory), so that producers faster than the workers are refused — `queue_full` or the
 * check's error, both retryable, nothing written — instead of piling up a backlog that takes minutes
 * to drain while every new task waits behind it.
 *
 * The bound is approximate, by design: counting a queue's waiting tasks on every enqueue would cost
 * more than the enqueue. A count (bounded: at most `maxQueued + 1` rows are read) is reused for
 * `depthTtlMs`, and the tasks admitted since are added to it; once stale, one count is taken in the
 * background for everybody, and an enqueue the old reading would refuse waits for it. The bound is
 * passed at most by the enqueues admitted while a count is in flight. A task enqueued with a key that already exists is
 * counted until the next count. An enqueue inside the caller's transaction (`tx`) counts afresh in it.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Executor, Store } from '../../store/index.js';
import type { EnqueueItem, QueueClient } from './client.js';
import type { QueueRef } from './definition.js';
import { QueueFullError } from './errors.js';

export interface EnqueueAdmissionOptions {
  readonly store: Store;
  /** Time source of the count's freshness. Default the system clock. */
  readonly clock?: Clock;
  /** Most tasks waiting (state `queued`, due or delayed) in one queue; past it `queue_full`. Default 100,000. */
  readonly maxQueued?: number;
  /** How long a count of a queue's waiting tasks is reused, in ms (0: count every time). Default 200. */
  readonly depthTtlMs?: number;
  /**
   * A check run before each admission that throws to refuse (a node passes its memory guard,
   * `resource_exhausted`). A pass is trusted for `guardTtlMs`; a refusal is checked again each time.
   */
  readonly guard?: () => void;
  /** How long a passed `guard` is trusted, in ms (0: every enqueue). Default 100. */
  readonly guardTtlMs?: number;
}

const optionsSchema = z.object({
  maxQueued: z.number().int().min(1).default(100_000),
  depthTtlMs: z.number().int().min(0).default(200),
  guardTtlMs: z.number().int().min(0).default(100),
});

interface Depth {
  /** Waiting tasks at the last count. */
  counted: number;
  /** Tasks admitted since that count began. */
  admitted: number;
  /** When the last count began (clock ms); undefined before the first. */
  countedAt: number | undefined;
  counting: Promise<void> | undefined;
}

/** Counts at most `limit` waiting tasks of a queue (the partial index of due tasks answers it). */
async function countWaiting(executor: Executor, queue: string, limit: number): Promise<number> {
  const rows = await executor.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM garrison_tasks WHERE queue = $1 AND state = 'queued' LIMIT $2) w",
    [queue, limit],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The queue's name; undefined for what is no queue at all (the client refuses it as invalid input). */
const nameOf = (queue: QueueRef<unknown, never> | string): string | undefined => {
  const name: unknown = typeof queue === 'string' ? queue : (queue as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
};

/**
 * A queue client whose `enqueue` and `enqueueMany` are refused past the bound (`queue_full`, with the
 * queue, the bound and about how many wait) or when `guard` throws; every other method is `client`'s.
 * An enqueue refused writes nothing. Hand it to callers from outside (the HTTP API), keep the plain
 * client for the node's own parts, whose enqueues move work already admitted.
 */
export function admitEnqueues(client: QueueClient, options: EnqueueAdmissionOptions): QueueClient {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid enqueue admission options: ${describeIssues(parsed.error.issues)}`);
  const { maxQueued, depthTtlMs, guardTtlMs } = parsed.data;
  const { store, guard } = options;
  const clock = options.clock ?? systemClock;
  const depths = new Map<string, Depth>();
  let guardPassedAt: number | undefined;

  const checkGuard = () => {
    if (guard === undefined) return;
    const now = clock.now();
    if (guardPassedAt !== undefined && now - guardPassedAt < guardTtlMs) return;
    guardPassedAt = undefined;
    guard();
    guardPassedAt = now;
  };

  const fresh = async (queue: string): Promise<Depth> => {
    let depth = depths.get(queue);
    if (depth === undefined) {
      depth = { counted: 0, admitted: 0, countedAt: undefined, counting: undefined };
      depths.set(queue, depth);
    }
    const d = depth;
    const stale = d.countedAt === undefined || clock.now() - d.countedAt >= depthTtlMs;
    if (stale && d.counting === undefined) {
      const startedAt = clock.now();
      d.counting = countWaiting(store, queue, maxQueued + 1)
        .then((n) => {
          d.counted = n;
          d.admitted = 0;
          d.countedAt = startedAt;
        })
        .finally(() => (d.counting = undefined));
      // A refresh that fails leaves the last reading; the next enqueue counts again. Awaiters still see it.
      d.counting.catch(() => undefined);
    }
    // The first count must be waited for; later ones refresh behind the last reading (see `admit`).
    if (d.countedAt === undefined || depthTtlMs === 0) await d.counting;
    return d;
  };

  /** Admits `n` more tasks per queue, or throws; the admitted tasks are counted before any is written. */
  const admit = async (wanted: ReadonlyMap<string, number>, tx: Executor | undefined): Promise<void> => {
    checkGuard();
    const depthsNow: Array<[Depth | undefined, number]> = [];
    for (const [queue, n] of wanted) {
      if (tx !== undefined) {
        const waiting = await countWaiting(tx, queue, maxQueued + 1);
        if (waiting + n > maxQueued) throw new QueueFullError(queue, maxQueued, waiting);
        depthsNow.push([depths.get(queue), n]);
        continue;
      }
      const d = await fresh(queue);
      // Admitted on a reading a little old, but refused only on a fresh one: wait for a count in flight.
      if (d.counted + d.admitted + n > maxQueued && d.counting !== undefined) await d.counting;
      const waiting = d.counted + d.admitted;
      if (waiting + n > maxQueued) throw new QueueFullError(queue, maxQueued, waiting);
      depthsNow.push([d, n]);
    }
    for (const [d, n] of depthsNow) if (d !== undefined) d.admitted += n;
  };

  return {
    ...client,
    async enqueue(queue, payload, opts) {
      const name = nameOf(queue);
      await admit(new Map(name === undefined ? [] : [[name, 1]]), opts?.tx);
      return client.enqueue(queue, payload, opts);
    },
    async enqueueMany(items: readonly EnqueueItem[], opts) {
      const wanted = new Map<string, number>();
      if (Array.isArray(items))
        for (const item of items as readonly unknown[])
          if (typeof item === 'object' && item !== null) {
            const queue = nameOf((item as EnqueueItem).queue);
            if (queue !== undefined) wanted.set(queue, (wanted.get(queue) ?? 0) + 1);
          }
      await admit(wanted, opts?.tx);
      return client.enqueueMany(items, opts);
    },
  };
}

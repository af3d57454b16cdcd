/**
 * The one way a step changes hands: in a single transaction, the task that holds it now is cancelled
 * (only if it is still queued or running — checked under a row lock) and its successor is enqueued. At
 * every commit a step therefore has exactly one live task, whether the move crashed half-way (it rolled
 * back), raced a sweep on another node (the loser finds the task cancelled) or raced the agent finishing
 * it (the finished task is not moved).
 */
import { GarrisonError } from '../../errors.js';
import type { Tx } from '../../store/index.js';
import { withStoredContext } from '../../telemetry/index.js';
import type { QueueClient } from '../../work/index.js';
import { PARKING_PREFIX, type DispatchedTask } from './dispatched-task.js';

/** A hand-off would have replaced a step's live task by nothing (a task under its key existed already). */
export class DispatchConflictError extends GarrisonError {
  constructor(queue: string, key: string) {
    super('dispatch_conflict', `queue "${queue}" already holds a task under key "${key}"; nothing moved`, {
      details: { queue, key },
    });
  }
}

/**
 * True when the task is still queued or running (only queued with `queuedOnly`: a step being rebalanced
 * is not taken from an agent that started it); locks its row until the transaction ends.
 */
export async function lockLive(tx: Tx, taskId: number, queuedOnly = false): Promise<boolean> {
  return (await lockStep(tx, taskId, queuedOnly)) !== undefined;
}

/** `lockLive`, answering the live task's queue and stored trace context (undefined when it is not live). */
async function lockStep(
  tx: Tx,
  taskId: number,
  queuedOnly: boolean,
): Promise<{ queue: string; traceparent: string | null; tracestate: string | null } | undefined> {
  const lock = tx.dialect === 'postgres' ? ' FOR UPDATE' : ''; // SQLite transactions are serial already
  const rows = await tx.query<{
    state: string;
    queue: string;
    traceparent: string | null;
    tracestate: string | null;
  }>(`SELECT state, queue, traceparent, tracestate FROM garrison_tasks WHERE id = $1${lock}`, [taskId]);
  const row = rows[0];
  return row?.state === 'queued' || (row?.state === 'running' && !queuedOnly) ? row : undefined;
}

/** Where a step goes next. */
export interface Destination {
  readonly queue: string;
  readonly key: string;
  readonly payload: DispatchedTask;
}

/**
 * Moves a step from task `from` to `to` inside `tx`. False (and nothing written) when `from` is no longer
 * live. Throws `dispatch_conflict` (rolling the transaction back) rather than cancel without a successor.
 */
export async function moveStep(
  tx: Tx,
  queues: QueueClient,
  from: number,
  to: Destination,
  maxAttempts: number,
  queuedOnly = false,
): Promise<boolean> {
  const live = await lockStep(tx, from, queuedOnly);
  if (live === undefined) return false;
  // A parked copy (the anchor, or a step parked off a dead agent) has done its work once the step is on
  // an agent: it completes. A task taken off an agent's queue is cancelled there.
  if (live.queue.startsWith(PARKING_PREFIX)) await queues.handOver(from, { tx });
  else await queues.cancel(from, { tx });
  // The successor keeps the step's trace context (the workflow's dispatch span), not the mover's.
  await withStoredContext(live.traceparent, live.tracestate, () => place(tx, queues, to, maxAttempts));
  return true;
}

/** Enqueues a step's task inside `tx`; a task already under its key is a conflict. */
export async function place(
  tx: Tx,
  queues: QueueClient,
  to: Destination,
  maxAttempts: number,
): Promise<void> {
  const task = await queues.enqueue(to.queue, to.payload, { tx, idempotencyKey: to.key, maxAttempts });
  if (!task.created) throw new DispatchConflictError(to.queue, to.key);
}

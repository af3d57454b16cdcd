/**
 * Inspection and repair: read tasks, cancel them, and handle dead letters and retained tasks. None of
 * this is on the hot path; it favours plain SQL over speed.
 */
import type { Executor, SqlValue, Store, Tx } from '../../store/index.js';
import { TASK_COLUMNS, toTask, type TaskRow } from './rows.js';
import { bindIds, bindNames, inIds, inNames } from './store-io.js';
import type { Task, TaskState } from './types.js';

/** Channel on which cancellations of running tasks are announced (payload: the task id). */
export const CANCEL_CHANNEL = 'garrison.task_cancelled';

/** A filter over tasks; every field narrows it. */
export interface TaskFilter {
  readonly queue?: string;
  readonly states?: readonly TaskState[];
  readonly ids?: readonly number[];
  /** Only tasks that finished (completed, died, were cancelled) before this time, UNIX epoch ms. */
  readonly finishedBefore?: number;
}

function where(store: Store, filter: TaskFilter, params: SqlValue[]): string {
  const parts: string[] = [];
  if (filter.queue !== undefined) {
    params.push(filter.queue);
    parts.push(`queue = $${params.length}`);
  }
  if (filter.states !== undefined) {
    params.push(bindNames(store, filter.states));
    parts.push(inNames(store, 'state', params.length));
  }
  if (filter.ids !== undefined) {
    params.push(bindIds(store, filter.ids));
    parts.push(inIds(store, 'id', params.length));
  }
  if (filter.finishedBefore !== undefined) {
    params.push(filter.finishedBefore);
    parts.push(`finished_at < $${params.length}`);
  }
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

export async function getTask(store: Store, id: number): Promise<Task | undefined> {
  const rows = await store.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM garrison_tasks WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : toTask(rows[0]);
}

/** Tasks matching `filter`, by id, `limit` at most, after `afterId` (for paging). */
export async function listTasks(
  store: Store,
  filter: TaskFilter,
  page: { readonly limit: number; readonly afterId?: number },
): Promise<Task[]> {
  const params: SqlValue[] = [];
  const w = where(store, filter, params);
  params.push(page.afterId ?? 0, page.limit);
  const rows = await store.query<TaskRow>(
    `SELECT ${TASK_COLUMNS} FROM garrison_tasks WHERE ${w} AND id > $${params.length - 1} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => toTask(r));
}

/**
 * Cancels a queued or running task. A running task's worker hears of it at once through the cancel
 * channel (or at its next renewal or completion at the latest) and aborts the handler's signal.
 * Answers the task's state afterwards, or undefined when there is no such task.
 */
export async function cancelTask(
  store: Store,
  id: number,
  now: number,
  within?: Tx,
): Promise<TaskState | undefined> {
  // With `within`, the cancellation commits (and its notice goes out) with the caller's transaction.
  const run = async (tx: Executor): Promise<TaskState | undefined> => {
    const rows = await tx.query<{ state: TaskState }>(
      `UPDATE garrison_tasks SET state = 'cancelled', lease_until = NULL, finished_at = $2 ` +
        `WHERE id = $1 AND state IN ('queued', 'running') RETURNING state`,
      [id, now],
    );
    if (rows.length > 0) {
      await store.notify(CANCEL_CHANNEL, String(id));
      return 'cancelled';
    }
    const found = await tx.query<{ state: TaskState }>('SELECT state FROM garrison_tasks WHERE id = $1', [
      id,
    ]);
    return found[0]?.state;
  };
  return within === undefined ? store.transaction(run) : run(within);
}

/**
 * Retires a queued task whose work goes on in another one (a dispatched step's anchor once the step is
 * on an agent's queue): completed without running, so that it reads as done rather than as cancelled.
 * True when it was queued.
 */
export async function handOverTask(tx: Tx, id: number, now: number): Promise<boolean> {
  const rows = await tx.query<{ id: number | string }>(
    "UPDATE garrison_tasks SET state = 'completed', finished_at = $2 WHERE id = $1 AND state = 'queued' RETURNING id",
    [id, now],
  );
  return rows.length > 0;
}

/** Puts dead tasks back in their queue with their attempts reset; answers the queues touched and the count. */
export async function retryDeadTasks(
  store: Store,
  filter: Pick<TaskFilter, 'queue' | 'ids'>,
  now: number,
): Promise<{ count: number; queues: string[] }> {
  const params: SqlValue[] = [now];
  const w = where(store, { ...filter, states: ['dead'] }, params);
  const rows = await store.transaction((tx) =>
    tx.query<{ queue: string }>(
      `UPDATE garrison_tasks SET state = 'queued', attempts = 0, run_at = $1, lease_until = NULL, ` +
        `leased_by = NULL, finished_at = NULL WHERE ${w} RETURNING queue`,
      params,
    ),
  );
  return { count: rows.length, queues: [...new Set(rows.map((r) => r.queue))] };
}

/** Deletes tasks in a finished state (completed, dead, cancelled) matching `filter`; answers how many. */
export async function purgeTasks(store: Store, filter: TaskFilter): Promise<number> {
  const params: SqlValue[] = [];
  const w = where(store, filter, params);
  const result = await store.transaction((tx) =>
    tx.execute(
      `DELETE FROM garrison_tasks WHERE ${w} AND state IN ('completed', 'dead', 'cancelled')`,
      params,
    ),
  );
  return result.rowCount;
}

/**
 * Retention: deletes one batch of finished tasks matching `filter` (at most `limit`, in one short
 * transaction, so that writers wait at most for one batch); answers how many went — fewer than `limit`
 * once nothing matching is left.
 */
export async function purgeTaskBatch(store: Store, filter: TaskFilter, limit: number): Promise<number> {
  const params: SqlValue[] = [];
  const w = where(store, filter, params);
  params.push(limit);
  const result = await store.transaction((tx) =>
    tx.execute(
      `DELETE FROM garrison_tasks WHERE id IN (SELECT id FROM garrison_tasks WHERE ${w} AND ` +
        `state IN ('completed', 'dead', 'cancelled') ORDER BY id LIMIT $${params.length})`,
      params,
    ),
  );
  return result.rowCount;
}

/** Task counts by state, and the store-kept counters. */
export interface QueueStats {
  readonly queued: number;
  readonly running: number;
  readonly completed: number;
  readonly dead: number;
  readonly cancelled: number;
  /** Completions, failures and renewals rejected because the lease had been taken over. */
  readonly leaseLost: number;
}

export async function queueStats(store: Executor, queue: string): Promise<QueueStats> {
  const [states, counters] = await Promise.all([
    store.query<{ state: TaskState; n: number | string }>(
      'SELECT state, COUNT(*) AS n FROM garrison_tasks WHERE queue = $1 GROUP BY state',
      [queue],
    ),
    store.query<{ name: string; value: number | string }>(
      'SELECT name, value FROM garrison_queue_counters WHERE queue = $1',
      [queue],
    ),
  ]);
  const count = (s: TaskState) => Number(states.find((r) => r.state === s)?.n ?? 0);
  return {
    queued: count('queued'),
    running: count('running'),
    completed: count('completed'),
    dead: count('dead'),
    cancelled: count('cancelled'),
    leaseLost: Number(counters.find((c) => c.name === 'lease_lost')?.value ?? 0),
  };
}

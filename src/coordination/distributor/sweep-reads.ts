/**
 * What a distributor sweep reads from the store: steps parked for want of an agent, and dispatched
 * steps stranded on the queue of an agent that is gone (unregistered) or unhealthy.
 */
import { parseJson, type Executor, type Store } from '../../store/index.js';
import { dispatchedTaskSchema, PARKING_PREFIX, type DispatchedTask } from './dispatched-task.js';

/** A dispatched step's task, as a sweep found it. */
export interface FoundTask {
  readonly id: number;
  readonly queue: string;
  readonly task: DispatchedTask;
}

function found(rows: ReadonlyArray<{ id: number | string; queue: string; payload: unknown }>): FoundTask[] {
  const out: FoundTask[] = [];
  for (const r of rows) {
    const task = dispatchedTaskSchema.safeParse(parseJson(r.payload));
    // Anything else on these queues is not the distributor's to move.
    if (task.success) out.push({ id: Number(r.id), queue: r.queue, task: task.data });
  }
  return out;
}

/** The queued tasks of one step on a parking queue: its anchor (`key`) and re-parked copies (`key#n`). */
export async function parkedCopies(ex: Executor, queue: string, key: string): Promise<number[]> {
  const rows = await ex.query<{ id: number | string }>(
    "SELECT id FROM garrison_tasks WHERE queue = $1 AND state = 'queued' AND (idempotency_key = $2 OR substr(idempotency_key, 1, $3) = $4)",
    [queue, key, key.length + 1, `${key}#`],
  );
  return rows.map((r) => Number(r.id));
}

/** The parking queues holding queued steps. */
export async function parkingQueues(store: Store): Promise<string[]> {
  const rows = await store.query<{ queue: string }>(
    "SELECT DISTINCT queue FROM garrison_tasks WHERE state = 'queued' AND substr(queue, 1, $1) = $2",
    [PARKING_PREFIX.length, PARKING_PREFIX],
  );
  return rows.map((r) => r.queue);
}

/** Up to `limit` queued steps of one parking queue, oldest first. */
export async function parkedSteps(store: Store, queue: string, limit: number): Promise<FoundTask[]> {
  const rows = await store.query<{ id: number | string; queue: string; payload: unknown }>(
    "SELECT id, queue, payload FROM garrison_tasks WHERE queue = $1 AND state = 'queued' ORDER BY id LIMIT $2",
    [queue, limit],
  );
  return found(rows);
}

/**
 * Up to `limit` dispatched steps stranded on an agent's queue, oldest first: queued or running on the
 * queue of an agent that is not registered (its process is gone), or queued — or running under a lease
 * that expired before `now` — on the queue of an unhealthy agent (its node is down, or it is paused: a
 * task it is still running is left to finish). The agent's own (not dispatched) tasks are left out in the
 * query, so they cannot fill the batch.
 */
export async function strandedSteps(
  store: Store,
  agentPrefix: string,
  now: number,
  limit: number,
): Promise<FoundTask[]> {
  const pg = store.dialect === 'postgres';
  // Agent ids compare in the "C" collation on PostgreSQL; the queue name is cast to it.
  const agentOfQueue = pg ? 'substr(t.queue, $2::int) COLLATE "C"' : 'substr(t.queue, $2)';
  const isDispatched = pg
    ? "(t.payload -> 'dispatch') IS NOT NULL"
    : "json_extract(t.payload, '$.dispatch') IS NOT NULL";
  const rows = await store.query<{ id: number | string; queue: string; payload: unknown }>(
    `SELECT t.id, t.queue, t.payload FROM garrison_tasks t LEFT JOIN garrison_agents a ON a.id = ${agentOfQueue} ` +
      `WHERE t.state IN ('queued', 'running') AND substr(t.queue, 1, $3) = $1 AND ${isDispatched} ` +
      "AND (a.id IS NULL OR (a.health = 'unhealthy' AND (t.state = 'queued' OR t.lease_until < $5))) " +
      'ORDER BY t.id LIMIT $4',
    [agentPrefix, agentPrefix.length + 1, agentPrefix.length, limit, now],
  );
  return found(rows);
}

/**
 * Up to `limit` queued (not started) dispatched steps of `capability` on one agent's queue, newest first,
 * fan-out parts (pinned to the agent) left out: what rebalancing may take from a busy agent.
 */
export async function queuedSteps(
  store: Store,
  queue: string,
  capability: string,
  limit: number,
): Promise<FoundTask[]> {
  const pg = store.dialect === 'postgres';
  // A fan-out's part is pinned to its agent: it never moves.
  const ofCapability = pg
    ? "(payload -> 'dispatch' ->> 'capability') = $2 AND (payload -> 'dispatch' -> 'pinned') IS NULL"
    : "json_extract(payload, '$.dispatch.capability') = $2 AND json_extract(payload, '$.dispatch.pinned') IS NULL";
  const rows = await store.query<{ id: number | string; queue: string; payload: unknown }>(
    `SELECT id, queue, payload FROM garrison_tasks WHERE queue = $1 AND state = 'queued' AND ${ofCapability} ` +
      'ORDER BY id DESC LIMIT $3',
    [queue, capability, limit],
  );
  return found(rows);
}

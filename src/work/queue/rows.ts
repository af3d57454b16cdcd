/** The task table's columns as the queue reads them, and their mapping to the public shapes. */
import { parseJson } from '../../store/index.js';
import type { ClaimedTask, Task, TaskState } from './types.js';

export const TASK_COLUMNS =
  'id, queue, state, payload, priority, run_at, attempts, max_attempts, token, lease_until, leased_by, ' +
  'group_key, idempotency_key, last_error, created_at, finished_at';

export interface TaskRow {
  id: number;
  queue: string;
  state: TaskState;
  payload: unknown;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  token: number;
  lease_until: number | null;
  leased_by: string | null;
  group_key: string | null;
  idempotency_key: string | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export function toTask<P = unknown>(row: TaskRow): Task<P> {
  return {
    id: Number(row.id),
    queue: row.queue,
    state: row.state,
    payload: parseJson<P>(row.payload),
    priority: Number(row.priority),
    runAt: Number(row.run_at),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    token: Number(row.token),
    leaseUntil: row.lease_until === null ? null : Number(row.lease_until),
    leasedBy: row.leased_by,
    groupKey: row.group_key,
    idempotencyKey: row.idempotency_key,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}

/** What a claim returns per task (`t.` qualified for UPDATE … FROM). */
export const CLAIM_COLUMNS =
  't.id, t.queue, t.state, t.payload, t.priority, t.attempts, t.max_attempts, t.token, t.group_key, ' +
  't.idempotency_key, t.run_at, t.created_at, t.retain, t.traceparent, t.tracestate';

export interface ClaimRow {
  id: number;
  queue: string;
  state: TaskState;
  payload: unknown;
  priority: number;
  attempts: number;
  max_attempts: number;
  token: number;
  group_key: string | null;
  idempotency_key: string | null;
  run_at: number;
  created_at: number;
  retain: number;
  traceparent: string | null;
  tracestate: string | null;
}

export function toClaimed<P = unknown>(row: ClaimRow): ClaimedTask<P> {
  return {
    id: Number(row.id),
    queue: row.queue,
    payload: parseJson<P>(row.payload),
    priority: Number(row.priority),
    attempt: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    token: Number(row.token),
    groupKey: row.group_key,
    idempotencyKey: row.idempotency_key,
    runAt: Number(row.run_at),
    createdAt: Number(row.created_at),
    traceparent: row.traceparent,
    tracestate: row.tracestate,
  };
}

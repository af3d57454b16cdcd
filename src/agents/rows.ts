/**
 * The agent rows (`garrison_agent_states`, migration 8): hand-written SQL, the same on both dialects but
 * for parameter casts (PostgreSQL must know a parameter's type where SQL alone does not say it) and row
 * locks (`FOR UPDATE`; SQLite's single writer serializes transactions already).
 */
import { parseJson, toJson, type Executor, type SqlValue, type Tx } from '../store/index.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { RestartType } from '../runtime/index.js';

/** Whether a host should run the agent. */
export const AgentLifecycle = {
  /** A host runs it (and resumes it after a node restart). */
  running: 'running',
  /** Stopped by hand; started again only by hand. */
  stopped: 'stopped',
  /** Its process died and was not restarted; started again only by hand. */
  exited: 'exited',
} as const;
export type AgentLifecycle = (typeof AgentLifecycle)[keyof typeof AgentLifecycle];

/** What the agent is doing. */
export const AgentStatus = {
  /** Waiting for work. */
  idle: 'idle',
  /** Running a task from its queue (`currentTask`). */
  processing: 'processing',
  /** Refusing new work until resumed; `pauseReason` says why. */
  paused: 'paused',
  /** The last action failed; the next success makes it idle again. */
  error: 'error',
} as const;
export type AgentStatus = (typeof AgentStatus)[keyof typeof AgentStatus];

/** The outcome of a queued task, as checkpointed (and settled again if the task is retried). */
export type StoredOutcome =
  | { readonly ok: true; readonly output: unknown }
  | {
      readonly ok: false;
      readonly error: {
        readonly code: string;
        readonly message: string;
        readonly details?: Record<string, unknown>;
      };
    };

export interface AgentRow {
  readonly id: string;
  readonly type: string;
  readonly node: string;
  readonly lifecycle: AgentLifecycle;
  readonly status: AgentStatus;
  readonly pauseReason: string | null;
  readonly restart: RestartType;
  readonly state: unknown;
  readonly version: number;
  readonly incarnation: number;
  readonly restarts: number;
  readonly queueLimit: number;
  readonly maxConsecutiveErrors: number;
  readonly processed: number;
  readonly failed: number;
  readonly consecutiveErrors: number;
  readonly totalDurationMs: number;
  readonly currentTask: number | null;
  readonly lastTaskId: number | null;
  readonly lastOutcome: StoredOutcome | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface RawRow {
  id: string;
  type: string;
  node: string;
  lifecycle: AgentLifecycle;
  status: AgentStatus;
  pause_reason: string | null;
  restart: RestartType;
  state: unknown;
  version: number | string;
  incarnation: number | string;
  restarts: number | string;
  queue_limit: number | string;
  max_consecutive_errors: number | string;
  processed: number | string;
  failed: number | string;
  consecutive_errors: number | string;
  total_duration_ms: number | string;
  current_task: number | string | null;
  last_task_id: number | string | null;
  last_outcome: unknown;
  created_at: number | string;
  updated_at: number | string;
}

const COLUMNS =
  'id, type, node, lifecycle, status, pause_reason, restart, state, version, incarnation, restarts, ' +
  'queue_limit, max_consecutive_errors, processed, failed, consecutive_errors, total_duration_ms, ' +
  'current_task, last_task_id, last_outcome, created_at, updated_at';

const num = (v: number | string): number => Number(v);
const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toRow(r: RawRow): AgentRow {
  return {
    id: r.id,
    type: r.type,
    node: r.node,
    lifecycle: r.lifecycle,
    status: r.status,
    pauseReason: r.pause_reason,
    restart: r.restart,
    state: parseJson(r.state),
    version: num(r.version),
    incarnation: num(r.incarnation),
    restarts: num(r.restarts),
    queueLimit: num(r.queue_limit),
    maxConsecutiveErrors: num(r.max_consecutive_errors),
    processed: num(r.processed),
    failed: num(r.failed),
    consecutiveErrors: num(r.consecutive_errors),
    totalDurationMs: num(r.total_duration_ms),
    currentTask: numOrNull(r.current_task),
    lastTaskId: numOrNull(r.last_task_id),
    lastOutcome: r.last_outcome === null ? null : parseJson<StoredOutcome>(r.last_outcome),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** `$n`, cast on PostgreSQL where the statement alone does not tell the parameter's type. */
function param(ex: Executor, n: number, type: 'bigint' | 'jsonb' | 'text'): string {
  return ex.dialect === 'postgres' ? `$${n}::${type}` : `$${n}`;
}

/** Reads an agent row; with `lock`, on PostgreSQL the row stays locked until the transaction ends. */
export async function selectRow(ex: Executor, id: string, lock = false): Promise<AgentRow | undefined> {
  const forUpdate = lock && ex.dialect === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await ex.query<RawRow>(
    `SELECT ${COLUMNS} FROM garrison_agent_states WHERE id = $1${forUpdate}`,
    [id],
  );
  return rows[0] === undefined ? undefined : toRow(rows[0]);
}

/** Agent rows of a node in a lifecycle, by id. */
export async function selectByNode(
  ex: Executor,
  node: string,
  lifecycle: AgentLifecycle,
): Promise<AgentRow[]> {
  const rows = await ex.query<RawRow>(
    `SELECT ${COLUMNS} FROM garrison_agent_states WHERE node = $1 AND lifecycle = $2 ORDER BY id`,
    [node, lifecycle],
  );
  return rows.map(toRow);
}

export interface NewAgentRow {
  readonly id: string;
  readonly type: string;
  readonly node: string;
  readonly restart: RestartType;
  readonly state: unknown;
  readonly queueLimit: number;
  readonly maxConsecutiveErrors: number;
}

export async function insertRow(tx: Tx, row: NewAgentRow, now: number): Promise<AgentRow> {
  const rows = await tx.query<RawRow>(
    `INSERT INTO garrison_agent_states (id, type, node, lifecycle, status, restart, state, queue_limit, ` +
      `max_consecutive_errors, created_at, updated_at) ` +
      `VALUES ($1, $2, $3, 'running', 'idle', $4, ${param(tx, 5, 'jsonb')}, $6, $7, $8, $8) RETURNING ${COLUMNS}`,
    [
      row.id,
      row.type,
      row.node,
      row.restart,
      toJson(row.state),
      row.queueLimit,
      row.maxConsecutiveErrors,
      now,
    ],
  );
  return toRow(rows[0]!);
}

/** A later start of a stopped or exited agent (or of one resumed on its node): it runs again. */
export async function reviveRow(
  tx: Tx,
  id: string,
  changes: {
    readonly node: string;
    readonly restart: RestartType;
    readonly queueLimit: number;
    readonly maxConsecutiveErrors: number;
    readonly state: unknown;
  },
  now: number,
): Promise<AgentRow> {
  const rows = await tx.query<RawRow>(
    `UPDATE garrison_agent_states SET lifecycle = 'running', node = $2, restart = $3, queue_limit = $4, ` +
      `max_consecutive_errors = $5, state = COALESCE(${param(tx, 6, 'jsonb')}, state), updated_at = $7 ` +
      `WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      changes.node,
      changes.restart,
      changes.queueLimit,
      changes.maxConsecutiveErrors,
      changes.state === undefined ? null : toJson(changes.state),
      now,
    ],
  );
  return toRow(rows[0]!);
}

/**
 * A process of the agent starts: a new incarnation (which fences out the writes of older ones). A task
 * the previous process was running is no longer current — its queue gives it to the new one.
 */
export async function beginIncarnation(
  tx: Tx,
  id: string,
  restarted: boolean,
  now: number,
): Promise<AgentRow> {
  const rows = await tx.query<RawRow>(
    `UPDATE garrison_agent_states SET incarnation = incarnation + 1, restarts = restarts + $2, ` +
      `status = CASE WHEN status = 'processing' THEN 'idle' ELSE status END, current_task = NULL, ` +
      `updated_at = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, restarted ? 1 : 0, now],
  );
  const row = rows[0];
  if (row === undefined) throw new AgentError(AgentErrorCode.agentNotFound, `no agent has the id ${id}`);
  return toRow(row);
}

/** Answers the updated row, or throws `agent_superseded` when a newer process owns the agent. */
function fenced(rows: RawRow[], id: string, incarnation: number): AgentRow {
  const row = rows[0];
  if (row === undefined) {
    throw new AgentError(
      AgentErrorCode.agentSuperseded,
      `agent ${id}: process incarnation ${incarnation} was superseded; its checkpoint was refused`,
      { details: { agentId: id, incarnation } },
    );
  }
  return toRow(row);
}

/** Marks the task the agent starts on (status `processing`). */
export async function markProcessing(
  tx: Tx,
  id: string,
  incarnation: number,
  taskId: number,
  now: number,
): Promise<AgentRow> {
  const rows = await tx.query<RawRow>(
    `UPDATE garrison_agent_states SET status = CASE WHEN status = 'paused' THEN status ELSE 'processing' END, ` +
      `current_task = $3, updated_at = $4 WHERE id = $1 AND incarnation = $2 RETURNING ${COLUMNS}`,
    [id, incarnation, taskId, now],
  );
  return fenced(rows, id, incarnation);
}

export interface Checkpoint {
  readonly id: string;
  readonly incarnation: number;
  /** The new state, or undefined to keep the state. */
  readonly state: unknown;
  readonly durationMs: number;
  /** The queued task this run was for, with its outcome. */
  readonly task: { readonly id: number; readonly outcome: StoredOutcome } | undefined;
  readonly now: number;
}

/** A successful action: state (if changed), counters, the task's outcome; the error streak ends. */
export async function checkpointSuccess(tx: Tx, c: Checkpoint): Promise<AgentRow> {
  const rows = await tx.query<RawRow>(
    `UPDATE garrison_agent_states SET state = COALESCE(${param(tx, 3, 'jsonb')}, state), version = version + 1, ` +
      `processed = processed + 1, consecutive_errors = 0, total_duration_ms = total_duration_ms + $4, ` +
      `status = CASE WHEN status = 'paused' THEN status ELSE 'idle' END, current_task = NULL, ` +
      `last_task_id = COALESCE(${param(tx, 5, 'bigint')}, last_task_id), ` +
      `last_outcome = COALESCE(${param(tx, 6, 'jsonb')}, last_outcome), updated_at = $7 ` +
      `WHERE id = $1 AND incarnation = $2 RETURNING ${COLUMNS}`,
    checkpointParams(c),
  );
  return fenced(rows, c.id, c.incarnation);
}

/**
 * A failed action: counters; the state is unchanged. `final` says the failure is the outcome (a call, or
 * a task's last attempt, or one that will not be retried): only then does the error streak grow — a
 * task failing all its attempts counts once — and when the streak reaches the agent's
 * `max_consecutive_errors` the agent pauses itself (`pause_reason` `consecutive_errors`). An attempt the
 * queue retries counts in `failed` and marks the agent `error`, nothing more.
 */
export async function checkpointFailure(tx: Tx, c: Checkpoint, final = true): Promise<AgentRow> {
  const streak = final ? 'consecutive_errors + 1' : 'consecutive_errors';
  const tripped = `status <> 'paused' AND ${streak} >= max_consecutive_errors`;
  const rows = await tx.query<RawRow>(
    `UPDATE garrison_agent_states SET version = version + 1, failed = failed + 1, ` +
      `consecutive_errors = ${streak}, total_duration_ms = total_duration_ms + $3, ` +
      `pause_reason = CASE WHEN ${tripped} THEN 'consecutive_errors' ELSE pause_reason END, ` +
      `status = CASE WHEN status = 'paused' OR ${streak} >= max_consecutive_errors ` +
      `THEN 'paused' ELSE 'error' END, current_task = NULL, ` +
      `last_task_id = COALESCE(${param(tx, 4, 'bigint')}, last_task_id), ` +
      `last_outcome = COALESCE(${param(tx, 5, 'jsonb')}, last_outcome), updated_at = $6 ` +
      `WHERE id = $1 AND incarnation = $2 RETURNING ${COLUMNS}`,
    checkpointParams(c).filter((_, i) => i !== 2),
  );
  return fenced(rows, c.id, c.incarnation);
}

function checkpointParams(c: Checkpoint): SqlValue[] {
  return [
    c.id,
    c.incarnation,
    c.state === undefined ? null : toJson(c.state),
    Math.max(0, Math.round(c.durationMs)),
    c.task?.id ?? null,
    c.task === undefined ? null : toJson(c.task.outcome),
    c.now,
  ];
}

/**
 * Pauses (with a reason) or resumes the agent; resuming ends the error streak. Answers the row and
 * whether it changed (pausing a paused agent, or resuming a running one, changes nothing). The row is
 * locked first, so the answer holds against concurrent checkpoints.
 */
export async function setPaused(
  tx: Tx,
  id: string,
  pause: { readonly reason: string } | undefined,
  now: number,
): Promise<{ readonly row: AgentRow; readonly changed: boolean }> {
  const current = await selectRow(tx, id, true);
  if (current === undefined) throw new AgentError(AgentErrorCode.agentNotFound, `no agent has the id ${id}`);
  if ((current.status === 'paused') === (pause !== undefined)) return { row: current, changed: false };
  const rows = await tx.query<RawRow>(
    pause === undefined
      ? `UPDATE garrison_agent_states SET status = CASE WHEN current_task IS NULL THEN 'idle' ELSE 'processing' END, ` +
          `pause_reason = NULL, consecutive_errors = 0, updated_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`
      : `UPDATE garrison_agent_states SET status = 'paused', pause_reason = $3, updated_at = $2 ` +
          `WHERE id = $1 RETURNING ${COLUMNS}`,
    pause === undefined ? [id, now] : [id, now, pause.reason],
  );
  return { row: toRow(rows[0]!), changed: true };
}

/** Records whether a host should run the agent; a task it was running is no longer current. */
export async function setLifecycle(
  ex: Executor,
  id: string,
  lifecycle: AgentLifecycle,
  now: number,
): Promise<void> {
  await ex.execute(
    `UPDATE garrison_agent_states SET lifecycle = $2, current_task = NULL, ` +
      `status = CASE WHEN status = 'processing' THEN 'idle' ELSE status END, updated_at = $3 WHERE id = $1`,
    [id, lifecycle, now],
  );
}

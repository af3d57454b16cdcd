/**
 * The small writes outside the journal's hot path: claims (taking a run over under a new fence), lease
 * renewal and release, pause/resume/cancel requests, and signals.
 */
import type { Store, Tx } from '../../store/index.js';
import {
  ACTIVE_SQL,
  FINAL_SQL,
  inJsonList,
  notParkedSql,
  PARKED_SQL,
  RUNS,
  UNPARK_STATUS,
  type ClaimedRun,
} from './runs.js';
import type { WorkflowStatus } from './types.js';

const SIGNALS = 'garrison_workflow_signals';

/**
 * Runs in the transaction of a request once it has been recorded: a caller with no engine sends its
 * wake-up there, so the wake-up commits with the write (and is dropped with it).
 */
export type AlsoInTx = (tx: Tx) => Promise<void>;

const STEPS = 'garrison_workflow_steps';

/**
 * Adds a signal to an unfinished run that holds fewer than `maxPending` signals not yet consumed (a
 * signal its run waits for right now is always taken); undefined when the run is missing or finished,
 * or holds that many. Consumed = a completed signal wait that records the signal's seq.
 */
export async function insertSignal(
  store: Store,
  runId: string,
  name: string,
  data: string,
  now: number,
  maxPending: number,
  also?: AlsoInTx,
): Promise<number | undefined> {
  return store.write(async (tx) => {
    const consumedSeq =
      tx.dialect === 'postgres' ? "output->>'seq' IS NOT NULL" : "json_extract(output, '$.seq') IS NOT NULL";
    const rows = await tx.query<{ seq: number }>(
      `INSERT INTO ${SIGNALS} (run_id, name, data, created_at) ` +
        `SELECT $1, $2, ${tx.dialect === 'postgres' ? '$3::jsonb' : '$3'}, $4 ` +
        `WHERE EXISTS (SELECT 1 FROM ${RUNS} WHERE id = $1 AND status NOT IN ${FINAL_SQL}) AND (` +
        `(SELECT COUNT(*) FROM ${SIGNALS} WHERE run_id = $1) - (SELECT COUNT(*) FROM ${STEPS} ` +
        `WHERE run_id = $1 AND kind = 'signal' AND status = 'completed' AND ${consumedSeq}) < $5 ` +
        `OR EXISTS (SELECT 1 FROM ${STEPS} WHERE run_id = $1 AND kind = 'signal' AND status = 'pending' ` +
        `AND name = $2)) RETURNING seq`,
      [runId, name, data, now, maxPending],
    );
    const seq = rows[0]?.seq;
    if (seq === undefined) return undefined;
    // A parked run is woken in the same transaction: it becomes pending, for any node to take up.
    await tx.execute(`UPDATE ${RUNS} SET wake_seq = wake_seq + 1, status = ${UNPARK_STATUS} WHERE id = $1`, [
      runId,
    ]);
    await also?.(tx);
    return Number(seq);
  });
}

/**
 * Takes over the given runs where that is allowed: unfinished, not paused, and unowned, owned by this
 * node, or with an expired lease. Each takeover bumps the fence.
 */
export async function claimRuns(
  store: Store,
  nodeId: string,
  ids: readonly string[],
  now: number,
  leaseUntil: number,
): Promise<ClaimedRun[]> {
  if (ids.length === 0) return [];
  // PostgreSQL: rows locked in id order, busy ones skipped (taken next time), so a claim never deadlocks
  // with a journal flush. A claim of one run waits for its row instead: holding no other lock, it cannot
  // deadlock, and a run woken from parking must not be skipped while its waking write commits.
  const lock = ids.length === 1 ? 'FOR UPDATE' : 'FOR UPDATE SKIP LOCKED';
  const claimable =
    `status IN ${ACTIVE_SQL} AND (owner IS NULL OR owner = $1 OR lease_until IS NULL OR lease_until < $3) ` +
    `AND ${notParkedSql(3)}`;
  return store.write((tx) =>
    tx.query<ClaimedRun>(
      `UPDATE ${RUNS} SET owner = $1, lease_until = $2, fence = fence + 1, ` +
        "status = CASE WHEN status = 'pending' THEN 'running' ELSE status END, updated_at = $3 " +
        (tx.dialect === 'postgres'
          ? `WHERE id IN (SELECT id FROM ${RUNS} WHERE id IN ${inJsonList(tx.dialect, 4)} AND ${claimable} ` +
            `ORDER BY id ${lock}) `
          : // `+status`: SQLite would otherwise walk the status index (every pending row) for a claim by id.
            `WHERE id IN ${inJsonList(tx.dialect, 4)} AND ${claimable.replaceAll('status IN', '+status IN')} `) +
        'RETURNING id, name, input, fence, status, parent_id, parent_step, control, traceparent, tracestate',
      [nodeId, leaseUntil, now, JSON.stringify(ids)],
    ),
  );
}

/** Extends the lease of every unfinished run this node owns. */
export async function renewLeases(store: Store, nodeId: string, leaseUntil: number): Promise<number> {
  const owned = "owner = $1 AND status IN ('running', 'sleeping', 'waiting')";
  const { rowCount } = await store.write((tx) =>
    tx.execute(
      tx.dialect === 'postgres'
        ? // A row a flush holds right now is skipped: renewed next tick, well before the lease ends.
          `UPDATE ${RUNS} SET lease_until = $2 WHERE id IN ` +
            `(SELECT id FROM ${RUNS} WHERE ${owned} ORDER BY id FOR UPDATE SKIP LOCKED)`
        : // The active index, named: the status index would walk every parked row.
          `UPDATE ${RUNS} INDEXED BY garrison_workflow_runs_active SET lease_until = $2 WHERE ${owned} ` +
            `AND status IN ${ACTIVE_SQL}`,
      [nodeId, leaseUntil],
    ),
  );
  return rowCount;
}

/**
 * Asks for a pause. A pending or parked run (nobody executing it) is paused at once; otherwise the owner carries
 * it out at its next step boundary. Returns the run's status after the request, or undefined when the
 * run is not unfinished.
 */
export async function requestPause(
  store: Store,
  id: string,
  now: number,
  also?: AlsoInTx,
): Promise<WorkflowStatus | undefined> {
  const rows = await store.write(async (tx) => {
    const changed = await tx.query<{ status: WorkflowStatus }>(
      // Nobody executes a pending or parked run: it is paused at once.
      `UPDATE ${RUNS} SET control = CASE WHEN status = 'pending' OR ${PARKED_SQL} THEN NULL ELSE 'pause' END, ` +
        `status = CASE WHEN status = 'pending' OR ${PARKED_SQL} THEN 'paused' ELSE status END, ` +
        `wake_at = CASE WHEN status = 'pending' OR ${PARKED_SQL} THEN NULL ELSE wake_at END, ` +
        "owner = CASE WHEN status = 'pending' THEN NULL ELSE owner END, updated_at = $2 " +
        `WHERE id = $1 AND status IN ${ACTIVE_SQL} AND control IS NULL RETURNING status`,
      [id, now],
    );
    if (changed.length > 0) await also?.(tx);
    return changed;
  });
  return rows[0]?.status;
}

/** The owner carries out a pause: the run stops with status `paused` and no owner. */
export async function applyPause(store: Store, id: string, fence: number, now: number): Promise<boolean> {
  const { rowCount } = await store.write((tx) =>
    tx.execute(
      `UPDATE ${RUNS} SET status = 'paused', owner = NULL, lease_until = NULL, control = NULL, ` +
        "wake_at = NULL, updated_at = $3 WHERE id = $1 AND fence = $2 AND control = 'pause'",
      [id, fence, now],
    ),
  );
  return rowCount === 1;
}

/** Resumes a paused run (back to `pending`, for any node to pick up) or withdraws a pause not yet carried out. */
export async function requestResume(
  store: Store,
  id: string,
  now: number,
  also?: AlsoInTx,
): Promise<'resumed' | 'withdrawn' | undefined> {
  return store.write(async (tx) => {
    const resumed = await tx.execute(
      `UPDATE ${RUNS} SET status = 'pending', owner = NULL, lease_until = NULL, control = NULL, ` +
        "updated_at = $2 WHERE id = $1 AND status = 'paused'",
      [id, now],
    );
    if (resumed.rowCount === 1) {
      await also?.(tx);
      return 'resumed';
    }
    const withdrawn = await tx.execute(
      `UPDATE ${RUNS} SET control = NULL, updated_at = $2 WHERE id = $1 AND control = 'pause' AND status IN ${ACTIVE_SQL}`,
      [id, now],
    );
    if (withdrawn.rowCount !== 1) return undefined;
    await also?.(tx);
    return 'withdrawn';
  });
}

/**
 * Asks for cancellation. A paused or parked run goes back to `pending` (someone must run its compensations).
 * Returns the status after the request, or undefined when the run is finished or missing.
 */
export async function requestCancel(
  store: Store,
  id: string,
  now: number,
  also?: AlsoInTx,
): Promise<WorkflowStatus | undefined> {
  const rows = await store.write(async (tx) => {
    const changed = await tx.query<{ status: WorkflowStatus }>(
      // A parked run is woken: it becomes pending, and whoever takes it up carries the cancel out.
      `UPDATE ${RUNS} SET control = 'cancel', ` +
        `status = CASE WHEN status = 'paused' OR ${PARKED_SQL} THEN 'pending' ELSE status END, updated_at = $2 ` +
        `WHERE id = $1 AND status NOT IN ${FINAL_SQL} RETURNING status`,
      [id, now],
    );
    if (changed.length > 0) await also?.(tx);
    return changed;
  });
  return rows[0]?.status;
}

/** Ends this node's leases on the given runs, so another node may take them over at once. */
export async function releaseLeases(store: Store, nodeId: string, ids: readonly string[]): Promise<void> {
  await store.write((tx) =>
    tx.execute(
      `UPDATE ${RUNS} SET lease_until = 0 WHERE owner = $1 AND id IN ${inJsonList(tx.dialect, 2)} ` +
        "AND status IN ('running', 'sleeping', 'waiting')",
      [nodeId, JSON.stringify(ids)],
    ),
  );
}

/**
 * Takes the runs of a node known to be dead away from it: their leases end (for any node to claim them
 * at once, through `claimRuns` like any expired lease) and their fence moves, so a write the dead
 * node's executions might still make is rejected even before anyone claims them. Answers how many.
 */
export async function expireRunLeasesOf(tx: Tx, deadNode: string): Promise<number> {
  // SQLite: the active index, named (the status index would walk every parked row).
  const runs = tx.dialect === 'sqlite' ? `${RUNS} INDEXED BY garrison_workflow_runs_active` : RUNS;
  const { rowCount } = await tx.execute(
    `UPDATE ${runs} SET lease_until = 0, fence = fence + 1 WHERE owner = $1 AND status IN ${ACTIVE_SQL}`,
    [deadNode],
  );
  return rowCount;
}

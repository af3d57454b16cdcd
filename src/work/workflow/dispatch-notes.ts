/**
 * What a dispatched step's timeline shows while it waits: why it has no result yet (no capable agent,
 * on an agent) and every attempt of the agent's action. Kept in the pending journal entry's `detail`,
 * beside the request, so it is durable, read with the run's journal and gone from view once the step
 * is answered (the answer's write leaves `detail` as it was; the log stays for the record).
 */
import type { Executor, Store } from '../../store/index.js';
import type { DispatchAttempt, DispatchWait } from './types.js';

const STEPS = 'garrison_workflow_steps';

/** A dispatched entry's `detail`: the request, and what happened to it so far. */
export interface DispatchDetail {
  readonly capability?: string;
  readonly action?: string;
  readonly input?: unknown;
  readonly waiting?: DispatchWait;
  readonly attempts?: readonly DispatchAttempt[];
}

/** What changes on a pending dispatched entry. */
export type DispatchNote = { readonly waiting: DispatchWait } | { readonly attempt: DispatchAttempt };

/** Attempts kept per step (the oldest are dropped past it, the count in `attempts` stays exact). */
const MAX_LOGGED = 50;

/**
 * Records a note on the pending dispatched entry `runId:idx`. False when there is no such pending entry
 * (answered already, or not a dispatched step): nothing is written then.
 */
export async function noteDispatch(
  store: Store,
  runId: string,
  idx: number,
  note: DispatchNote,
): Promise<boolean> {
  return store.transaction(async (tx) => {
    const lock = tx.dialect === 'postgres' ? ' FOR UPDATE' : ''; // SQLite transactions are serial already
    const rows = await tx.query<{ detail: string | null; attempts: number }>(
      `SELECT detail, attempts FROM ${STEPS}
        WHERE run_id = $1 AND idx = $2 AND kind = 'dispatch' AND status = 'pending'${lock}`,
      [runId, idx],
    );
    const row = rows[0];
    if (row === undefined) return false;
    const detail = parseDetail(row.detail);
    let next: DispatchDetail;
    let attempts = Number(row.attempts);
    if ('waiting' in note) next = { ...detail, waiting: note.waiting };
    else {
      const log = [
        ...(detail.attempts ?? []).filter((a) => a.attempt !== note.attempt.attempt),
        note.attempt,
      ];
      next = { ...detail, attempts: log.slice(-MAX_LOGGED) };
      attempts = Math.max(attempts, note.attempt.attempt);
    }
    await update(tx, runId, idx, next, attempts);
    return true;
  });
}

async function update(
  tx: Executor,
  runId: string,
  idx: number,
  detail: DispatchDetail,
  attempts: number,
): Promise<void> {
  await tx.execute(
    `UPDATE ${STEPS} SET detail = $3, attempts = $4
      WHERE run_id = $1 AND idx = $2 AND kind = 'dispatch' AND status = 'pending'`,
    [runId, idx, JSON.stringify(detail), attempts],
  );
}

/** A stored `detail` as a dispatched entry's; anything else reads as empty. */
export function parseDetail(detail: unknown): DispatchDetail {
  let value = detail;
  if (typeof detail === 'string') {
    try {
      value = JSON.parse(detail) as unknown;
    } catch {
      return {};
    }
  }
  return value !== null && typeof value === 'object' ? value : {};
}

/** The timeline fields of a dispatched entry: its wait while pending, its attempts always. */
export function dispatchView(entry: {
  readonly kind: string;
  readonly status: string;
  readonly detail: unknown;
}): { waiting?: DispatchWait; attemptLog?: readonly DispatchAttempt[] } {
  if (entry.kind !== 'dispatch') return {};
  const d = parseDetail(entry.detail);
  return {
    ...(entry.status === 'pending' && d.waiting !== undefined ? { waiting: d.waiting } : {}),
    ...(d.attempts !== undefined && d.attempts.length > 0 ? { attemptLog: d.attempts } : {}),
  };
}

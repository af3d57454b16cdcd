/**
 * Retention of finished runs: a run that completed, failed or was cancelled before a cut-off is deleted
 * with its journal and its signals, a bounded batch per transaction so that writers wait at most for
 * one batch. Its id is then free again: starting a run with that id makes a new run (the id is an
 * idempotency key for as long as the run is kept).
 */
import { inListSql, listParam, type SqlValue, type Store } from '../../store/index.js';
import { FINAL_STATUSES } from './types.js';

export interface RunPurge {
  /** Runs that finished before this time (UNIX epoch ms) go. */
  readonly finishedBefore: number;
  /** Only runs of this workflow. */
  readonly name?: string;
  /** Most runs deleted by this call (one transaction). Default 500. */
  readonly limit?: number;
}

const FINISHED = FINAL_STATUSES.map((s) => `'${s}'`).join(', ');

/**
 * Deletes one batch of finished runs; answers how many went (fewer than `limit`: nothing older is left).
 * A run that finished before the cut-off was created before it too: the condition on `created_at` lets
 * the (status, created_at) index find the candidates.
 */
export async function purgeFinishedRuns(store: Store, purge: RunPurge): Promise<number> {
  const limit = purge.limit ?? 500;
  const params: SqlValue[] = [purge.finishedBefore, purge.finishedBefore, limit];
  const byName = purge.name === undefined ? '' : ` AND name = $${params.push(purge.name)}`;
  return store.write(async (tx) => {
    const rows = await tx.query<{ id: string }>(
      `SELECT id FROM garrison_workflow_runs
        WHERE status IN (${FINISHED}) AND created_at < $1 AND finished_at < $2${byName}
        ORDER BY created_at, id LIMIT $3`,
      params,
    );
    if (rows.length === 0) return 0;
    const ids = listParam(
      store.dialect,
      'text',
      rows.map((r) => r.id),
    );
    for (const table of ['garrison_workflow_steps', 'garrison_workflow_signals'])
      await tx.execute(`DELETE FROM ${table} WHERE ${inListSql(store.dialect, 'run_id', 'text', '$1')}`, [
        ids,
      ]);
    const deleted = await tx.execute(
      `DELETE FROM garrison_workflow_runs WHERE ${inListSql(store.dialect, 'id', 'text', '$1')} AND status IN (${FINISHED})`,
      [ids],
    );
    return deleted.rowCount;
  });
}

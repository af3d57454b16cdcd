/**
 * Parking: a run that does nothing but wait — a sleep, a signal, a child, a dispatched step — stops
 * executing and leaves memory. Its row is left with no owner, status `sleeping` or `waiting`, and
 * `wake_at` set to its earliest timer; claims pass it over (`notParkedSql`) until something wakes it.
 * Whatever wakes it does so in its own transaction — a signal, a result handed into its journal or a
 * cancel turns it `pending` (`UNPARK_STATUS`); a pause pauses it at once — or its `wake_at` passes. Then
 * it is taken up like any pending run and rebuilt from its journal. Nothing of value stays in memory: a
 * crash of the node that parked it loses nothing, any node's scan finds what is due.
 */
import type { Store } from '../../store/index.js';
import type { ParkPlan } from './execution-types.js';
import { ACTIVE_SQL, inJsonList, RUNS } from './runs.js';

const SIGNALS = 'garrison_workflow_signals';
const STEPS = 'garrison_workflow_steps';

/**
 * `parked`: done, nothing in memory. `woken`: something arrived (or a pause or cancel was asked for)
 * while the execution was being dropped — take the run up again. `lost`: another node holds it now.
 */
export type ParkResult = 'parked' | 'woken' | 'lost';

/**
 * Parks a run this node executes under `fence`. The fence is bumped, so any write of the dropped
 * execution still queued is rejected. What arrived meanwhile is checked in the same transaction: a
 * waking write that committed before it is seen here, one that commits after it finds the run parked.
 */
export async function parkRun(
  store: Store,
  run: { readonly id: string; readonly fence: number; readonly nodeId: string },
  plan: ParkPlan,
  now: number,
): Promise<ParkResult> {
  return store.write(async (tx) => {
    const { rowCount } = await tx.execute(
      `UPDATE ${RUNS} SET owner = NULL, lease_until = NULL, fence = fence + 1, status = $4, wake_at = $5, ` +
        `updated_at = $6 WHERE id = $1 AND fence = $2 AND owner = $3 AND control IS NULL AND status IN ${ACTIVE_SQL}`,
      [run.id, run.fence, run.nodeId, plan.status, plan.wakeAt ?? null, now],
    );
    if (rowCount !== 1) {
      const rows = await tx.query<{ owner: string | null; fence: number; control: string | null }>(
        `SELECT owner, fence, control FROM ${RUNS} WHERE id = $1 AND status IN ${ACTIVE_SQL}`,
        [run.id],
      );
      const row = rows[0];
      // Still ours, with a pause or cancel to carry out: whoever takes it up next does.
      const ours = row !== undefined && row.owner === run.nodeId && Number(row.fence) === run.fence;
      return ours && row.control !== null ? 'woken' : 'lost';
    }
    const signals = await tx.query(
      `SELECT 1 AS x FROM ${SIGNALS} WHERE run_id = $1 AND seq NOT IN ${inJsonList(tx.dialect, 2, 'int')} LIMIT 1`,
      [run.id, JSON.stringify(plan.seenSignals)],
    );
    const results =
      plan.waited.length === 0
        ? []
        : await tx.query(
            `SELECT 1 AS x FROM ${STEPS} WHERE run_id = $1 AND idx IN ${inJsonList(tx.dialect, 2, 'int')} ` +
              "AND status <> 'pending' LIMIT 1",
            [run.id, JSON.stringify(plan.waited)],
          );
    if (signals.length === 0 && results.length === 0) return 'parked';
    await tx.execute(`UPDATE ${RUNS} SET status = 'pending', wake_at = NULL WHERE id = $1`, [run.id]);
    return 'woken';
  });
}

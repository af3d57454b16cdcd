/**
 * Durable timer firings claimed by a node known to be dead, released at once: their claims end and
 * their fence moves (the dead node's late settle of the firing is rejected), and the ordinary claim of
 * any node takes them as it takes a lapsed claim.
 */
import type { Tx } from '../store/index.js';

/** Ends the live claims of `node`; answers how many. Wake the timers (`TIMERS_CHANNEL`) after the commit. */
export async function expireTimerClaimsOf(tx: Tx, node: string): Promise<number> {
  const { rowCount } = await tx.execute(
    'UPDATE garrison_timers SET claim_until = 0, fence = fence + 1 WHERE claimed_by = $1 AND claim_until IS NOT NULL',
    [node],
  );
  return rowCount;
}

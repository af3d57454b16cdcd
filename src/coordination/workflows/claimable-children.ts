/**
 * Child runs of the runs executing here that this node may take over. They are started past the limit
 * on running workflows: a parent waiting for its child holds a slot, so with every slot held by waiting
 * parents their children would otherwise never run.
 */
import type { Store } from '../../store/index.js';

/** Ids of unfinished, claimable runs (unowned, this node's, or with an expired lease) whose parent is one of `parents`. */
export async function claimableChildren(
  store: Store,
  nodeId: string,
  now: number,
  parents: readonly string[],
  limit: number,
): Promise<string[]> {
  if (parents.length === 0) return [];
  const list =
    store.dialect === 'sqlite'
      ? '(SELECT value FROM json_each($1))'
      : '(SELECT jsonb_array_elements_text($1::jsonb))';
  const rows = await store.query<{ id: string }>(
    `SELECT id FROM garrison_workflow_runs WHERE parent_id IN ${list} ` +
      "AND status IN ('pending', 'running', 'sleeping', 'waiting') " +
      'AND (owner IS NULL OR owner = $2 OR lease_until IS NULL OR lease_until < $3) ' +
      // A parked child (waiting with nothing in memory) is taken up only once something wakes it.
      "AND NOT (owner IS NULL AND status IN ('sleeping', 'waiting') AND (wake_at IS NULL OR wake_at > $3)) " +
      'ORDER BY created_at LIMIT $4',
    [JSON.stringify(parents), nodeId, now, limit],
  );
  return rows.map((r) => r.id);
}

/**
 * Load of agents, read from the store so every node sees the same figure: the tasks waiting in or
 * running from each agent's queue.
 */
import type { Dialect, Store } from '../../store/index.js';

/** `(subquery)` of the strings of a JSON array bound at `$n`. */
export function inJsonList(dialect: Dialect, n: number): string {
  return dialect === 'sqlite'
    ? `(SELECT value FROM json_each($${n}))`
    : `(SELECT jsonb_array_elements_text($${n}::jsonb))`;
}

export async function queueLoads(store: Store, queues: readonly string[]): Promise<Map<string, number>> {
  const loads = new Map<string, number>(queues.map((q) => [q, 0]));
  if (queues.length === 0) return loads;
  const rows = await store.query<{ queue: string; n: number | string }>(
    `SELECT queue, COUNT(*) AS n FROM garrison_tasks WHERE queue IN ${inJsonList(store.dialect, 1)} ` +
      "AND state IN ('queued', 'running') GROUP BY queue",
    [JSON.stringify(queues)],
  );
  for (const r of rows) loads.set(r.queue, Number(r.n));
  return loads;
}

/**
 * Leases of a dead node's workers, ended at once: the node that found it dead does not wait for them
 * to expire. Each task's fencing token moves, so the dead worker's completion or renewal is rejected;
 * the task is then claimed by the ordinary claim, as an expired lease (a new attempt, a new token).
 */
import type { Tx } from '../../store/index.js';

/**
 * Expires the running tasks leased by workers whose id ends with `@<node>` (agents' consumers are
 * `agent:<id>@<node>`). Answers how many, and their queues (to wake the workers).
 */
export async function expireTaskLeasesOf(
  tx: Tx,
  node: string,
): Promise<{ readonly tasks: number; readonly queues: string[] }> {
  const suffix = `@${node}`;
  // LIKE finds the candidates (case-insensitive on SQLite); the exact end of the worker id decides.
  const rows = await tx.query<{ queue: string }>(
    'UPDATE garrison_tasks SET lease_until = 0, token = token + 1 ' +
      "WHERE state = 'running' AND leased_by LIKE $1 ESCAPE '\\' " +
      'AND substr(leased_by, length(leased_by) - $2 + 1) = $3 RETURNING queue',
    [`%${suffix.replace(/[\\%_]/g, (c) => `\\${c}`)}`, suffix.length, suffix],
  );
  return { tasks: rows.length, queues: [...new Set(rows.map((r) => r.queue))] };
}

/**
 * What a node holds in the store that other nodes would have to wait for: task leases of its agents,
 * workflow run leases, coordination locks and leaderships of its processes, its agents' registry entries
 * and durable timer firings it claimed. After a graceful drain every list is empty (`countHeld` is 0);
 * after a kill they are what expires on its own. The cron leadership is a store lock, not a row: the
 * drain reports it (`DrainReport.handedBack.cronLeadership`).
 */
import type { Store } from '../store/index.js';

export interface NodeHoldings {
  /** Tasks running under a live lease of one of the node's agents (`leased_by` `agent:<id>@<node>`). */
  readonly tasks: readonly number[];
  /** Unfinished workflow runs the node owns under a live lease. */
  readonly workflowRuns: readonly string[];
  /** Live coordination locks and leaderships held by processes of the node, as `kind:name`. */
  readonly coordinationLeases: readonly string[];
  /** Agents registered on the node. */
  readonly agents: readonly string[];
  /** Durable timers whose firing the node has claimed under a live claim. */
  readonly timerClaims: readonly string[];
}

/** How many things `h` lists in all. */
export function countHeld(h: NodeHoldings): number {
  return (
    h.tasks.length +
    h.workflowRuns.length +
    h.coordinationLeases.length +
    h.agents.length +
    h.timerClaims.length
  );
}

/** `%@<node>` as a LIKE pattern (the node's `%` and `_` escaped with `\`). */
function agentLeasePattern(nodeId: string): string {
  return `%@${nodeId.replace(/[\\%_]/g, (c) => `\\${c}`)}`;
}

/** Everything node `nodeId` holds in the store at clock time `now` (see `NodeHoldings`). */
export async function heldByNode(store: Store, nodeId: string, now: number): Promise<NodeHoldings> {
  const suffix = `@${nodeId}`;
  const [tasks, runs, leases, agents, timers] = await Promise.all([
    store.query<{ id: number | string; leased_by: string }>(
      "SELECT id, leased_by FROM garrison_tasks WHERE state = 'running' AND lease_until > $1 " +
        "AND leased_by LIKE $2 ESCAPE '\\' ORDER BY id",
      [now, agentLeasePattern(nodeId)],
    ),
    store.query<{ id: string }>(
      'SELECT id FROM garrison_workflow_runs WHERE owner = $1 AND lease_until > $2 ' +
        "AND status IN ('pending', 'running', 'sleeping', 'waiting') ORDER BY id",
      [nodeId, now],
    ),
    store.query<{ kind: string; name: string }>(
      'SELECT kind, name FROM garrison_coord_leases WHERE owner_node = $1 AND holder IS NOT NULL ' +
        'AND expires_at > $2 ORDER BY kind, name',
      [nodeId, now],
    ),
    store.query<{ id: string }>('SELECT id FROM garrison_agents WHERE node = $1 ORDER BY id', [nodeId]),
    store.query<{ id: string }>(
      'SELECT id FROM garrison_timers WHERE claimed_by = $1 AND claim_until > $2 ORDER BY id',
      [nodeId, now],
    ),
  ]);
  return {
    // LIKE is case-insensitive on SQLite, and the worker id must end with exactly this node's name.
    tasks: tasks.filter((t) => t.leased_by.endsWith(suffix)).map((t) => Number(t.id)),
    workflowRuns: runs.map((r) => r.id),
    coordinationLeases: leases.map((l) => `${l.kind}:${l.name}`),
    agents: agents.map((a) => a.id),
    timerClaims: timers.map((t) => t.id),
  };
}

/** How many of each thing a node holds: what `garrison status` and `/v1/nodes` show. */
export interface HeldCounts {
  readonly tasks: number;
  readonly workflowRuns: number;
  readonly coordinationLeases: number;
  readonly agents: number;
  readonly timerClaims: number;
}

export function heldCounts(h: NodeHoldings): HeldCounts {
  return {
    tasks: h.tasks.length,
    workflowRuns: h.workflowRuns.length,
    coordinationLeases: h.coordinationLeases.length,
    agents: h.agents.length,
    timerClaims: h.timerClaims.length,
  };
}

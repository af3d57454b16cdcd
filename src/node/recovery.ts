/**
 * Recovery of a dead node's work without waiting for its leases: at start-up and with every heartbeat,
 * a node looks at the membership rows and takes over, at once, what a dead node held — its workflow
 * runs' leases, its agents' task leases and its durable timer claims.
 *
 * Who is dead:
 * - a node of this host whose process is gone (`processGone`: no such pid, or the pid now belongs to a
 *   process that started at another time). That includes this node's own previous life after a
 *   `kill -9` and a restart under the same name.
 * - any node, of any host, silent for more than `downAfterMs`: it is marked down then, and its leases
 *   go with the mark, instead of after the full lease.
 *
 * The takeover is one transaction: the row is marked `down` only if it is still as read (no heartbeat,
 * no restart since), so one node takes it over, once; every lease of it ends and its fencing token
 * moves (runs' `fence`, tasks' `token`, timers' `fence`), so a late write of the dead process would be
 * rejected. The ordinary claims then take the work as expired leases; the nodes are woken to look now.
 */
import type { Clock } from '../runtime/index.js';
import { expireTimerClaimsOf, TIMERS_CHANNEL } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import type { EventBus, GarrisonEvents } from '../telemetry/index.js';
import { expireRunLeasesOf, expireTaskLeasesOf, PENDING_CHANNEL, queueChannel } from '../work/index.js';
import { processGone, type ProcessIdentity } from './process-identity.js';

declare module '../telemetry/events.js' {
  interface GarrisonEvents {
    /** This node found a dead node and took over what it held (docs/node.md, "Recovery"). */
    'node.took_over': TakeoverReport;
    /** A look for dead nodes failed (the store): tried again with the next heartbeat. */
    'node.takeover_failed': { readonly error: unknown };
  }
}

/** Why a node was judged dead. */
export const DeathReason = {
  /** A node of this host whose process is gone. */
  processGone: 'process_gone',
  /** Silent for more than `downAfterMs`. */
  silent: 'silent',
} as const;
export type DeathReason = (typeof DeathReason)[keyof typeof DeathReason];

/** What one takeover took. */
export interface TakeoverReport {
  /** The dead node. */
  readonly node: string;
  readonly reason: DeathReason;
  /** Workflow runs whose lease ended. */
  readonly runs: number;
  /** Running tasks whose lease ended. */
  readonly tasks: number;
  /** Durable timer firings whose claim ended. */
  readonly timerClaims: number;
}

export interface RecoveryOptions {
  readonly store: Store;
  /** This node's id. */
  readonly nodeId: string;
  /** This process (its host decides which rows the pid check applies to). */
  readonly self: ProcessIdentity;
  /** Silence after which any node is down, in ms. */
  readonly downAfterMs: number;
  /** Clock time, UNIX epoch ms. */
  readonly now: number;
  /**
   * Before this node joins: its own row, if any, is its previous life's and is judged as any other.
   * Afterwards a node never judges itself.
   */
  readonly startup?: boolean;
}

interface NodeRow {
  id: string;
  heartbeat_at: number | string;
  host: string | null;
  pid: number | string | null;
  process_started_at: number | string | null;
}

/** Why `row` is dead as seen from `o`, or undefined while it may be alive. */
function deathOf(row: NodeRow, o: RecoveryOptions): DeathReason | undefined {
  if (row.id === o.nodeId && o.startup !== true) return undefined;
  const pid = row.pid === null ? null : Number(row.pid);
  const ownHost = row.host === o.self.host && pid !== null;
  // This very process (the own row once joined, or a node beside this one in the same process).
  if (ownHost && pid === o.self.pid) return undefined;
  const startedAt = row.process_started_at === null ? null : Number(row.process_started_at);
  if (ownHost && processGone(pid, startedAt)) return DeathReason.processGone;
  if (o.now - Number(row.heartbeat_at) > o.downAfterMs) return DeathReason.silent;
  return undefined;
}

/**
 * Looks for dead nodes (at start-up the own row too: it is the previous life's) and takes each over.
 * Answers what it took; the nodes that execute the work are woken once it committed.
 */
export async function recoverDeadNodes(o: RecoveryOptions): Promise<TakeoverReport[]> {
  const rows = await o.store.query<NodeRow>(
    "SELECT id, heartbeat_at, host, pid, process_started_at FROM garrison_nodes WHERE state <> 'down'",
  );
  const reports: TakeoverReport[] = [];
  for (const row of rows) {
    const reason = deathOf(row, o);
    if (reason === undefined) continue;
    const report = await takeOver(o.store, row, reason, o.now);
    if (report !== undefined) reports.push(report);
  }
  return reports;
}

/** Marks `row`'s node down and ends its leases, if the row is still as read; undefined otherwise. */
async function takeOver(
  store: Store,
  row: NodeRow,
  reason: DeathReason,
  now: number,
): Promise<TakeoverReport | undefined> {
  const taken = await store.write(async (tx) => {
    // Still as read: no beat, no restart since (`heartbeat_at` moves with both), not marked by another.
    const marked = await tx.execute(
      "UPDATE garrison_nodes SET state = 'down' WHERE id = $1 AND state <> 'down' AND heartbeat_at = $2",
      [row.id, Number(row.heartbeat_at)],
    );
    if (marked.rowCount !== 1) return undefined;
    const runs = await expireRunLeasesOf(tx, row.id);
    const { tasks, queues } = await expireTaskLeasesOf(tx, row.id);
    const timerClaims = await expireTimerClaimsOf(tx, row.id);
    return { report: { node: row.id, reason, runs, tasks, timerClaims }, queues };
  });
  if (taken === undefined) return undefined;
  const { report, queues } = taken;
  // Wake-ups after the commit: launchers, queue workers and durable timers look at the store now.
  if (report.runs > 0) await store.notify(PENDING_CHANNEL, '');
  for (const queue of queues) await store.notify(queueChannel(queue), String(now));
  if (report.timerClaims > 0) await store.notify(TIMERS_CHANNEL, '');
  return report;
}

/**
 * One look for dead nodes as a node makes it (at start-up and with each heartbeat): each takeover is
 * reported as `node.took_over`; a failed look as `node.takeover_failed` — never thrown, so a store
 * hiccup does not restart the membership process (and everything after it in the tree).
 */
export function recoveryLook(o: {
  readonly store: Store;
  readonly nodeId: string;
  readonly downAfterMs: number;
  readonly clock: Clock;
  readonly self: ProcessIdentity;
  readonly events: EventBus<GarrisonEvents>;
}): (startup: boolean) => Promise<void> {
  return async (startup) => {
    try {
      const reports = await recoverDeadNodes({ ...o, now: o.clock.now(), startup });
      for (const report of reports) o.events.emit('node.took_over', report);
    } catch (error) {
      o.events.emit('node.takeover_failed', { error });
    }
  };
}

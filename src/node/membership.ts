/**
 * Node membership: one row per node in `garrison_nodes`, with a heartbeat. A node is `up` while it
 * beats, `suspect` once it has missed a beat or two, `down` when it stopped cleanly or has been silent
 * past `downAfterMs`; its leases expire on their own and others take its work over.
 */
import { parseJson, toJson, type Store } from '../store/index.js';
import { heldByNode, heldCounts, type HeldCounts } from './held.js';
import { thisProcess, type ProcessIdentity } from './process-identity.js';

/** How a node looks to others. */
export const NodeState = {
  up: 'up',
  /** Missed a heartbeat or two: maybe paused, maybe gone. */
  suspect: 'suspect',
  /** Stopping: claims nothing new, finishes or hands back what it holds. */
  draining: 'draining',
  down: 'down',
} as const;
export type NodeState = (typeof NodeState)[keyof typeof NodeState];

export interface NodeInfo {
  readonly id: string;
  readonly state: NodeState;
  /** UNIX epoch ms. */
  readonly startedAt: number;
  /** UNIX epoch ms. */
  readonly heartbeatAt: number;
  readonly info: Record<string, unknown>;
  /** What it holds in the store (live leases, registry entries, timer claims), when asked for. */
  readonly holds?: HeldCounts;
}

export interface MembershipTiming {
  /** Heartbeat period, in ms. */
  readonly heartbeatMs: number;
  /** Silence after which a node is `down`, in ms (it is `suspect` after 2 heartbeats). */
  readonly downAfterMs: number;
}

interface Row {
  id: string;
  started_at: number;
  heartbeat_at: number;
  state: 'up' | 'draining' | 'down';
  info: string;
}

/**
 * Records that `id` has started (again): state up, fresh heartbeat, and the process behind it (host,
 * pid, process start time), by which nodes of the same host tell that it died (`recovery.ts`).
 */
export async function joinCluster(
  store: Store,
  id: string,
  now: number,
  info: Record<string, unknown>,
  proc: ProcessIdentity = thisProcess(),
): Promise<void> {
  await store.execute(
    'INSERT INTO garrison_nodes (id, started_at, heartbeat_at, state, info, host, pid, process_started_at) ' +
      'VALUES ($1, $2, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET started_at = $2, ' +
      'heartbeat_at = $2, state = $3, info = $4, host = $5, pid = $6, process_started_at = $7',
    [id, now, 'up', toJson(info), proc.host, proc.pid, proc.startedAt],
  );
}

/**
 * A heartbeat; a node marked down by others that beats again is up again. `info` (health, resource
 * usage) replaces what the row showed, so `garrison status` can report it without asking the node.
 */
export async function heartbeat(
  store: Store,
  id: string,
  now: number,
  info?: Record<string, unknown>,
): Promise<void> {
  const state = "state = CASE WHEN state = 'down' THEN 'up' ELSE state END";
  await store.write((tx) =>
    info === undefined
      ? tx.execute(`UPDATE garrison_nodes SET heartbeat_at = $2, ${state} WHERE id = $1`, [id, now])
      : tx.execute(`UPDATE garrison_nodes SET heartbeat_at = $2, info = $3, ${state} WHERE id = $1`, [
          id,
          now,
          toJson(info),
        ]),
  );
}

export async function setNodeState(
  store: Store,
  id: string,
  state: 'up' | 'draining' | 'down',
  now: number,
): Promise<void> {
  await store.execute('UPDATE garrison_nodes SET state = $2, heartbeat_at = $3 WHERE id = $1', [
    id,
    state,
    now,
  ]);
}

/** Every node the store knows, with its state as seen at `now`, and with what each holds if `holdings`. */
export async function listNodes(
  store: Store,
  now: number,
  timing: MembershipTiming,
  options: { readonly holdings?: boolean } = {},
): Promise<NodeInfo[]> {
  const rows = await store.query<Row>(
    'SELECT id, started_at, heartbeat_at, state, info FROM garrison_nodes ORDER BY id',
  );
  const nodes = rows.map((r): NodeInfo => {
    const silence = now - Number(r.heartbeat_at);
    let state: NodeState = r.state;
    if (r.state !== 'down') {
      if (silence > timing.downAfterMs) state = NodeState.down;
      else if (r.state === 'up' && silence > 2 * timing.heartbeatMs) state = NodeState.suspect;
    }
    return {
      id: r.id,
      state,
      startedAt: Number(r.started_at),
      heartbeatAt: Number(r.heartbeat_at),
      info: parseJson<Record<string, unknown>>(r.info) ?? {},
    };
  });
  if (options.holdings !== true) return nodes;
  return Promise.all(
    nodes.map(async (n) => ({ ...n, holds: heldCounts(await heldByNode(store, n.id, now)) })),
  );
}

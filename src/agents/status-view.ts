/**
 * What an agent is doing, read from its state row — the truth the agent's process checkpoints — for
 * listings of registry entries (`/v1/agents`, `garrison agents`, the dashboard). The registry entry's
 * metadata holds a copy written only at start and pause/resume, so it says `idle` while the agent works.
 */
import { inListSql, listParam, type Executor } from '../store/index.js';
import type { AgentStatus } from './rows.js';

/** An agent's status as its row has it. */
export interface AgentStatusView {
  /** `idle`, `processing`, `paused` or `error`; `unknown` for an entry with no agent row. */
  readonly status: AgentStatus | 'unknown';
  /** Why it is paused (`paused` only): `consecutive_errors`, or the reason given to `pause`. */
  readonly pauseReason: string | null;
  /** The task it is running (`processing` only). */
  readonly currentTask: number | null;
}

/** The status of each agent in `ids` that has a row. One statement, the ids bound as one list. */
export async function agentStatuses(
  ex: Executor,
  ids: readonly string[],
): Promise<Map<string, AgentStatusView>> {
  const out = new Map<string, AgentStatusView>();
  if (ids.length === 0) return out;
  const rows = await ex.query<{
    id: string;
    status: AgentStatus;
    pause_reason: string | null;
    current_task: number | string | null;
  }>(
    `SELECT id, status, pause_reason, current_task FROM garrison_agent_states WHERE ${inListSql(ex.dialect, 'id', 'text', '$1')}`,
    [listParam(ex.dialect, 'text', ids)],
  );
  for (const r of rows) {
    out.set(r.id, {
      status: r.status,
      pauseReason: r.status === 'paused' ? r.pause_reason : null,
      currentTask: r.status === 'processing' && r.current_task !== null ? Number(r.current_task) : null,
    });
  }
  return out;
}

/**
 * Registry entries with their agents' status: `status`, `pauseReason` and `currentTask` from the row,
 * and `metadata.status` set to the same (so readers of the metadata see the truth too).
 */
export async function withAgentStatus<E extends { readonly id: string; readonly metadata: object }>(
  ex: Executor,
  entries: readonly E[],
): Promise<Array<E & AgentStatusView>> {
  const statuses = await agentStatuses(
    ex,
    entries.map((e) => e.id),
  );
  return entries.map((e) => {
    const view = statuses.get(e.id) ?? { status: 'unknown' as const, pauseReason: null, currentTask: null };
    return { ...e, ...view, metadata: { ...e.metadata, status: view.status } };
  });
}

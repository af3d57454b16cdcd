/**
 * Agents that paused themselves after a streak of failed tasks: a health warning, not a silent stall.
 * The health check reads the agents' rows (the truth, whichever node runs them), so every node's health,
 * `/v1/health`, the dashboard and `garrison status` name them with the reason — the last failure — until
 * an operator resumes them.
 */
import type { HealthCheckSpec } from '../governance/index.js';
import { parseJson, type Executor } from '../store/index.js';
import type { StoredOutcome } from './rows.js';

/** An agent paused by its error streak, with the failure that made the streak reach its limit. */
export interface ErrorPause {
  readonly agentId: string;
  readonly type: string;
  readonly node: string;
  /** Distinct tasks (or calls) that failed in a row. */
  readonly consecutiveErrors: number;
  /** Since when, UNIX epoch ms (the row's last change). */
  readonly since: number;
  /** The last failure, `code: message`. */
  readonly lastError: string | undefined;
  /** One line: what happened and what to do. */
  readonly message: string;
}

/** The running agents paused by their error streak, by id (at most `limit`, default 100). */
export async function errorPausedAgents(ex: Executor, limit = 100): Promise<ErrorPause[]> {
  const rows = await ex.query<{
    id: string;
    type: string;
    node: string;
    consecutive_errors: number | string;
    updated_at: number | string;
    last_outcome: unknown;
  }>(
    'SELECT id, type, node, consecutive_errors, updated_at, last_outcome FROM garrison_agent_states ' +
      "WHERE status = 'paused' AND pause_reason = 'consecutive_errors' AND lifecycle = 'running' " +
      'ORDER BY id LIMIT $1',
    [limit],
  );
  return rows.map((r) => {
    const outcome = r.last_outcome === null ? null : parseJson<StoredOutcome>(r.last_outcome);
    const lastError =
      outcome !== null && !outcome.ok ? `${outcome.error.code}: ${outcome.error.message}` : undefined;
    const streak = Number(r.consecutive_errors);
    return {
      agentId: r.id,
      type: r.type,
      node: r.node,
      consecutiveErrors: streak,
      since: Number(r.updated_at),
      lastError,
      message:
        `agent ${r.id} paused itself after ${streak} tasks failed in a row` +
        (lastError === undefined ? '' : ` (last: ${lastError})`) +
        `; fix the cause, then resume it (garrison agents resume ${r.id})`,
    };
  });
}

/**
 * The health check `agents`: degraded (never critical: the node works, one agent does not) while any
 * agent is paused by its error streak; its reason names the first and counts the others.
 */
export function errorPausedAgentsCheck(store: Executor): HealthCheckSpec {
  return {
    name: 'agents',
    critical: false,
    check: async () => {
      const paused = await errorPausedAgents(store);
      if (paused.length === 0) return;
      const more = paused.length > 1 ? ` (and ${paused.length - 1} more agents)` : '';
      return {
        status: 'degraded',
        reason: `${paused[0]!.message}${more}`,
        details: { errorPaused: paused },
      };
    },
  };
}

/** The registry's reads, over the store or a transaction: every filter runs in SQL. */
import type { Executor } from '../store/index.js';
import { parseCriteria, type Condition } from './criteria.js';
import { compileConditions, Params } from './query-sql.js';
import { AGENT_COLUMNS, AGENTS, rowToAgent, type AgentRow } from './rows.js';
import type { Agent } from './types.js';

/** The SELECT for the agents matching `conditions`, ordered by id. Exposed so tests can EXPLAIN it. */
export function agentsQuery(
  dialect: Executor['dialect'],
  criteria: unknown,
): { sql: string; params: Params['values'] } {
  const params = new Params();
  const where = compileConditions(dialect, parseCriteria(criteria), params);
  return {
    sql: `SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a WHERE ${where} ORDER BY a.id`,
    params: params.values,
  };
}

export async function selectAgents(exec: Executor, conditions: readonly Condition[]): Promise<Agent[]> {
  const params = new Params();
  const where = compileConditions(exec.dialect, conditions, params);
  const rows = await exec.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a WHERE ${where} ORDER BY a.id`,
    params.values,
  );
  return rows.map(rowToAgent);
}

export async function countAgents(exec: Executor, conditions: readonly Condition[]): Promise<number> {
  const params = new Params();
  const where = compileConditions(exec.dialect, conditions, params);
  const rows = await exec.query<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM ${AGENTS} a WHERE ${where}`,
    params.values,
  );
  return Number(rows[0]?.n ?? 0);
}

export async function selectAgent(exec: Executor, id: string): Promise<Agent | undefined> {
  const rows = await exec.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a WHERE a.id = $1`, [id]);
  const row = rows[0];
  return row === undefined ? undefined : rowToAgent(row);
}

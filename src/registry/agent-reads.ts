/** The registry's reads, over the store or a transaction: every filter runs in SQL. */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';
import {
  PAGE_DEFAULT_LIMIT,
  pageLimitSchema,
  decodePageCursor,
  encodePageCursor,
  type Executor,
} from '../store/index.js';
import { parseCriteria, type Condition } from './criteria.js';
import { compileConditions, Params } from './query-sql.js';
import { AGENT_COLUMNS, AGENTS, rowToAgent, type AgentRow } from './rows.js';
import type { Agent, AgentPage } from './types.js';

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

const pageSchema = z.strictObject({
  limit: pageLimitSchema.optional(),
  cursor: z.string().optional(),
});

/** Checks paging options: the limit (default 100) and the id the cursor says to go on after. */
export function parsePage(page: unknown): { limit: number; afterId: string | undefined } {
  const parsed = pageSchema.safeParse(page ?? {});
  if (!parsed.success) throw new ValidationError(`invalid page: ${describeIssues(parsed.error.issues)}`);
  const { limit = PAGE_DEFAULT_LIMIT, cursor } = parsed.data;
  if (cursor === undefined) return { limit, afterId: undefined };
  const key = decodePageCursor(cursor, ['string']);
  if (key === undefined) {
    throw new ValidationError(
      'invalid page: cursor is not a cursor of this listing; pass a nextCursor as given',
    );
  }
  return { limit, afterId: key[0] as string };
}

/** One page of the agents matching `conditions`, by id (keyset paging on the id). */
export async function selectAgentsPage(
  exec: Executor,
  conditions: readonly Condition[],
  page: { readonly limit: number; readonly afterId: string | undefined },
): Promise<AgentPage> {
  const params = new Params();
  const where = compileConditions(exec.dialect, conditions, params);
  const after = page.afterId === undefined ? '' : ` AND a.id > ${params.add(page.afterId)}`;
  // One row more than asked tells whether there is a next page.
  const rows = await exec.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a WHERE ${where}${after} ORDER BY a.id LIMIT ${params.add(page.limit + 1)}`,
    params.values,
  );
  const agents = rows.slice(0, page.limit).map(rowToAgent);
  const last = agents[agents.length - 1];
  return {
    agents,
    nextCursor: rows.length > page.limit && last !== undefined ? encodePageCursor([last.id]) : null,
  };
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

/**
 * The ledger of tokens spent by model calls (`garrison_model_usage`, migration 0014): its one owner. The
 * agent loops of `garrison/ai` write a row per journaled model reply and read an agent's tokens over a
 * period for its budget; the API, the CLI and the dashboard read totals by run, agent or model. It sits in
 * governance, beside the node's other limits, so the interfaces read it without loading the AI SDK.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Executor, SqlValue } from '../../store/index.js';

/** One model call's tokens, as recorded. */
export interface ModelUsageRecord {
  readonly runId: string;
  /** The loop's name in its run. */
  readonly loop: string;
  /** The model call's number in the loop, 0 first. */
  readonly turn: number;
  readonly workflow: string;
  /** The agent the tokens count against (per-agent budgets). */
  readonly agent: string;
  /** `<provider>/<model id>`. */
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  /** UNIX epoch ms. */
  readonly at: number;
}

/** Writes a call's row; a row already there (same run, loop and turn) is kept as it is. */
export async function recordModelUsage(db: Executor, r: ModelUsageRecord): Promise<void> {
  await db.execute(
    `INSERT INTO garrison_model_usage
       (run_id, loop, turn, workflow, agent, model, input_tokens, output_tokens, total_tokens, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (run_id, loop, turn) DO NOTHING`,
    [
      r.runId,
      r.loop,
      r.turn,
      r.workflow,
      r.agent,
      r.model,
      r.inputTokens,
      r.outputTokens,
      r.totalTokens,
      r.at,
    ],
  );
}

/** The tokens an agent spent from `since` (UNIX epoch ms) on. */
export async function agentTokensSince(db: Executor, agent: string, since: number): Promise<number> {
  const rows = await db.query<{ total: number | string | null }>(
    'SELECT SUM(total_tokens) AS total FROM garrison_model_usage WHERE agent = $1 AND at >= $2',
    [agent, since],
  );
  return Number(rows[0]?.total ?? 0);
}

export const USAGE_GROUPS = ['run', 'agent', 'model'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

const COLUMN: ReadonlyMap<UsageGroup, string> = new Map([
  ['run', 'run_id'],
  ['agent', 'agent'],
  ['model', 'model'],
]);

/** What `listModelUsage` is asked: a filter and what the totals are grouped by. */
export const usageQuerySchema = z.strictObject({
  by: z.enum(USAGE_GROUPS).default('agent'),
  runId: z.string().min(1).max(400).optional(),
  agent: z.string().min(1).max(400).optional(),
  model: z.string().min(1).max(400).optional(),
  /** Rows from this time on, UNIX epoch ms. */
  since: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});
export type UsageQuery = z.input<typeof usageQuerySchema>;

/** Tokens and calls of one run, agent or model. */
export interface UsageTotals {
  /** The run id, agent name or model, as grouped by. */
  readonly key: string;
  readonly calls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  /** The latest call, UNIX epoch ms. */
  readonly lastAt: number;
}

/** Totals grouped by run, agent or model, most tokens first. Bad filters are `invalid_input`. */
export async function listModelUsage(db: Executor, query: UsageQuery = {}): Promise<UsageTotals[]> {
  const parsed = usageQuerySchema.safeParse(query);
  if (!parsed.success) {
    throw new ValidationError(`invalid usage query: ${describeIssues(parsed.error.issues)}`);
  }
  const q = parsed.data;
  const where: string[] = [];
  const params: SqlValue[] = [];
  const filter = (column: string, value: SqlValue | undefined, op = '='): void => {
    if (value === undefined) return;
    params.push(value);
    where.push(`${column} ${op} $${params.length}`);
  };
  filter('run_id', q.runId);
  filter('agent', q.agent);
  filter('model', q.model);
  filter('at', q.since, '>=');
  params.push(q.limit);
  const column = COLUMN.get(q.by) ?? 'agent';
  const rows = await db.query<{
    key: string;
    calls: number | string;
    input: number | string;
    output: number | string;
    total: number | string;
    last_at: number | string;
  }>(
    `SELECT ${column} AS key, COUNT(*) AS calls, SUM(input_tokens) AS input, SUM(output_tokens) AS output,
            SUM(total_tokens) AS total, MAX(at) AS last_at
       FROM garrison_model_usage ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
      GROUP BY ${column} ORDER BY SUM(total_tokens) DESC, ${column} LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    key: r.key,
    calls: Number(r.calls),
    inputTokens: Number(r.input),
    outputTokens: Number(r.output),
    totalTokens: Number(r.total),
    lastAt: Number(r.last_at),
  }));
}

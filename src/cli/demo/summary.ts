/** The demo's summary, read from the store: what every workflow in it came to. */
import type { Store } from '../../store/index.js';
import { summarizeLedger, type LedgerSummary } from './ledger.js';

export interface DemoSummary {
  readonly workflows: {
    readonly total: number;
    readonly completed: number;
    readonly failed: number;
    readonly cancelled: number;
    readonly unfinished: number;
  };
  readonly steps: {
    /** Journaled dispatched steps with a committed result. */
    readonly completed: number;
    /** Effects in the ledger after dedupe: equals `completed` when every step ran exactly once. */
    readonly effects: number;
    /** Redeliveries that found their effect already done (at least once, deduplicated). */
    readonly repeats: number;
  };
  readonly agents: number;
  readonly tasksPerAgent: Record<string, number>;
  readonly elapsedMs: number;
}

export async function readSummary(
  store: Store,
  workflowName: string,
  agents: number,
  elapsedMs: number,
  /** Only runs whose id starts with this (one batch); default every run of the workflow. */
  idPrefix = '',
): Promise<DemoSummary> {
  const like = `${idPrefix}%`;
  const byStatus = await store.query<{ status: string; n: number | string }>(
    'SELECT status, COUNT(*) AS n FROM garrison_workflow_runs WHERE name = $1 AND id LIKE $2 GROUP BY status',
    [workflowName, like],
  );
  const count = (s: string) => Number(byStatus.find((r) => r.status === s)?.n ?? 0);
  const total = byStatus.reduce((sum, r) => sum + Number(r.n), 0);
  const steps = await store.query<{ n: number | string }>(
    'SELECT COUNT(*) AS n FROM garrison_workflow_steps s JOIN garrison_workflow_runs r ON r.id = s.run_id ' +
      "WHERE r.name = $1 AND r.id LIKE $2 AND s.kind = 'dispatch' AND s.status = 'completed'",
    [workflowName, like],
  );
  const ledger: LedgerSummary = await summarizeLedger(store, like);
  const completed = count('completed');
  const failed = count('failed');
  const cancelled = count('cancelled');
  return {
    workflows: { total, completed, failed, cancelled, unfinished: total - completed - failed - cancelled },
    steps: { completed: Number(steps[0]?.n ?? 0), effects: ledger.effects, repeats: ledger.repeats },
    agents,
    tasksPerAgent: ledger.perAgent,
    elapsedMs,
  };
}

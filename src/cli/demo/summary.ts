/** The demo's summary, read from the store: what every workflow in it came to. */
import type { Store } from '../../store/index.js';
import { GATEWAY_LIMIT } from './agents.js';
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
    /** Journaled dispatched steps with a committed result (the parts of fan-outs apart). */
    readonly completed: number;
    /** Effects in the ledger after dedupe: equals `completed` when every step ran exactly once. */
    readonly effects: number;
    /** Redeliveries that found their effect already done (at least once, deduplicated). */
    readonly repeats: number;
  };
  /** The fan-out step of each order: every validator confirms the charge, the answers gathered. */
  readonly fanOut: {
    /** Fan-outs whose participants are journaled. */
    readonly steps: number;
    /** Parts answered by their agent, and parts failed (an agent gone or unhealthy meanwhile). */
    readonly answered: number;
    readonly failed: number;
  };
  /** The rate limit on the flaky payment service: a token bucket in the store, shared by every node. */
  readonly rateLimiter: {
    readonly name: string;
    readonly capacity: number;
    readonly refillPerSecond: number;
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
      "WHERE r.name = $1 AND r.id LIKE $2 AND s.kind = 'dispatch' AND s.status = 'completed' " +
      "AND s.name NOT LIKE '%@%'",
    [workflowName, like],
  );
  // A fan-out journals its participants as a step `<capability>.<action>:participants`, and one
  // dispatched part per participant named `<capability>.<action>@<agent>`.
  const fan = await store.query<{ kind: string; status: string; n: number | string }>(
    'SELECT s.kind, s.status, COUNT(*) AS n FROM garrison_workflow_steps s ' +
      'JOIN garrison_workflow_runs r ON r.id = s.run_id WHERE r.name = $1 AND r.id LIKE $2 AND ' +
      "((s.kind = 'dispatch' AND s.name LIKE '%@%') OR (s.kind = 'step' AND s.name LIKE '%:participants')) " +
      'GROUP BY s.kind, s.status',
    [workflowName, like],
  );
  const fanCount = (kind: string, status: string) =>
    Number(fan.find((r) => r.kind === kind && r.status === status)?.n ?? 0);
  const ledger: LedgerSummary = await summarizeLedger(store, like);
  const completed = count('completed');
  const failed = count('failed');
  const cancelled = count('cancelled');
  return {
    workflows: { total, completed, failed, cancelled, unfinished: total - completed - failed - cancelled },
    steps: { completed: Number(steps[0]?.n ?? 0), effects: ledger.effects, repeats: ledger.repeats },
    fanOut: {
      steps: fanCount('step', 'completed'),
      answered: fanCount('dispatch', 'completed'),
      failed: fanCount('dispatch', 'failed'),
    },
    rateLimiter: { ...GATEWAY_LIMIT },
    agents,
    tasksPerAgent: ledger.perAgent,
    elapsedMs,
  };
}

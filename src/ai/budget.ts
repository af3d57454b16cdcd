/**
 * Token budgets, checked before each model call so a loop past its budget makes no further call. A run's
 * budget is checked against the journaled replies' usage (deterministic on a replay); an agent's budget
 * per period against the usage ledger, read in a journaled step so a replay takes the same decision. A
 * call's own tokens are known only after it: a budget stops the calls after the one that crosses it.
 */
import { z } from 'zod';
import { PermanentError } from '../errors.js';
import { agentTokensSince, recordModelUsage, type ModelUsageRecord } from '../governance/index.js';
import type { Tx } from '../store/index.js';

export interface AgentBudget {
  /** Most tokens (input plus output) the loop may spend in its run. Default: no limit. */
  readonly maxRunTokens?: number;
  /** Most tokens the loop's agent may spend over a sliding period, summed over all its runs. */
  readonly perAgent?: {
    readonly maxTokens: number;
    /** The period, in ms (e.g. 86_400_000 for a day). */
    readonly periodMs: number;
  };
}

export const budgetSchema = z.strictObject({
  maxRunTokens: z.number().int().min(1).optional(),
  perAgent: z
    .strictObject({ maxTokens: z.number().int().min(1), periodMs: z.number().int().min(1) })
    .optional(),
});

/** A loop's budget was spent: no model call was made. Fails the run unless the workflow catches it. */
export class BudgetExceededError extends PermanentError {
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: 'budget_exceeded', details });
  }
}

/** Refuses the next model call when the run's tokens reached its budget. */
export function checkRunBudget(budget: AgentBudget | undefined, spent: number, turn: number): void {
  const max = budget?.maxRunTokens;
  if (max !== undefined && spent >= max) {
    throw new BudgetExceededError(
      `the run's token budget is spent (${spent} of ${max} tokens) before model call ${turn}`,
      { scope: 'run', spent, max, turn },
    );
  }
}

/** Refuses the next model call when the agent's tokens over the period reached its budget. */
export function checkAgentBudget(
  budget: AgentBudget | undefined,
  agent: string,
  spent: number | undefined,
  turn: number,
): void {
  const per = budget?.perAgent;
  if (per === undefined || spent === undefined || spent < per.maxTokens) return;
  throw new BudgetExceededError(
    `agent "${agent}" spent its token budget (${spent} of ${per.maxTokens} tokens in ${per.periodMs} ms) before model call ${turn}`,
    { scope: 'agent', agent, spent, max: per.maxTokens, periodMs: per.periodMs, turn },
  );
}

/** What a usage step journals: the agent's tokens over its period, when it has a per-agent budget. */
export interface UsageStepValue {
  readonly agentTokens?: number;
}

/**
 * The body of a loop's usage step (a transaction step): records the reply's row, then reads the agent's
 * tokens over the period when a per-agent budget needs them — both in the journal's transaction.
 */
export async function usageStep(
  tx: Tx,
  record: ModelUsageRecord | undefined,
  budget: AgentBudget | undefined,
  agent: string,
  now: number,
): Promise<UsageStepValue> {
  if (record !== undefined) await recordModelUsage(tx, record);
  const per = budget?.perAgent;
  if (per === undefined) return {};
  return { agentTokens: await agentTokensSince(tx, agent, now - per.periodMs) };
}

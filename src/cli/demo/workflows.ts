/**
 * The main job's workflow: an order goes through three agents by capability — validate, process (which
 * calls a flaky external service behind a rate limiter, a circuit breaker and retries), report — and,
 * between charge and report, a fan-out: every validator confirms the charge and the answers are
 * gathered (`ctx.dispatchAll`). Each dispatched step is journaled, so a crash at any point resumes from
 * the last finished step.
 */
import { z } from 'zod';
import { defineWorkflow, isWorkflowError, WorkflowErrorCode } from '../../work/workflow/index.js';
import { confirmAction } from './agents.js';

export const orderInput = z.strictObject({
  /** The order's number within its batch. */
  n: z.number().int().min(0),
  /** Amount in cents. */
  amountCents: z.number().int().min(1),
  /** True for the orders whose external call fails a few times first. */
  flaky: z.boolean(),
});
export type OrderInput = z.infer<typeof orderInput>;

export interface OrderResult {
  readonly n: number;
  readonly receipt: string;
  readonly report: string;
  /** Validators that confirmed the charge, of those asked. */
  readonly confirmations: { readonly confirmed: number; readonly asked: number };
}

export const orderWorkflow = defineWorkflow(
  'demo.order',
  async (ctx, input: OrderInput): Promise<OrderResult> => {
    // Each effect carries its step's key, so the ledger can tell a redelivery from a second effect.
    const key = (step: string) => `${ctx.workflowId}:${step}`;
    const checked = await ctx.dispatch<{ valid: boolean; amountCents: number }>('validate', 'check', {
      key: key('validate'),
      amountCents: input.amountCents,
    });
    const charged = await ctx.dispatch<{ receipt: string }>('process', 'charge', {
      key: key('charge'),
      amountCents: checked.amountCents,
      flaky: input.flaky,
    });
    // Fan-out: every healthy validator confirms the charge; an answer missing (an agent gone) is
    // reported in its place, and the order goes on — also when no validator is healthy right then (a
    // node restarting): the empty set of participants is journaled like any other.
    const answers = await ctx
      .dispatchAll(
        confirmAction,
        { key: key('confirm'), receipt: charged.receipt },
        { capability: 'validate' },
      )
      .catch((error: unknown) => {
        if (isWorkflowError(error, WorkflowErrorCode.noCapableAgent)) return [];
        throw error;
      });
    const confirmed = answers.filter((a) => a.ok && a.value.confirmed).length;
    const report = await ctx.dispatch<{ line: string }>('report', 'publish', {
      key: key('report'),
      n: input.n,
      receipt: charged.receipt,
    });
    return {
      n: input.n,
      receipt: charged.receipt,
      report: report.line,
      confirmations: { confirmed, asked: answers.length },
    };
  },
  { inputSchema: orderInput },
);

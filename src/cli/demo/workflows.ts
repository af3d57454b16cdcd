/**
 * The main job's workflow: an order goes through three agents by capability — validate, process (which
 * calls a flaky external service behind a circuit breaker and retries), report. Each dispatched step is
 * journaled, so a crash at any point resumes from the last finished step.
 */
import { z } from 'zod';
import { defineWorkflow } from '../../work/workflow/index.js';

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
    const report = await ctx.dispatch<{ line: string }>('report', 'publish', {
      key: key('report'),
      n: input.n,
      receipt: charged.receipt,
    });
    return { n: input.n, receipt: charged.receipt, report: report.line };
  },
  { inputSchema: orderInput },
);

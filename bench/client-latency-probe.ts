/**
 * The workflow the client-latency benchmark starts from another process: its first step and the step
 * after its signal note when they began (in the executing node's process).
 */
import { defineWorkflow } from '../src/client/index.js';

/** When each run's first step began, and its step after the signal, by run id (UNIX epoch ms). */
export const firstStepAt = new Map<string, number>();
export const afterSignalAt = new Map<string, number>();

export const latencyProbe = defineWorkflow('latency-probe', async (ctx, _input: { i: number }) => {
  await ctx.step('first', async () => {
    firstStepAt.set(ctx.workflowId, Date.now());
  });
  await ctx.waitForSignal('go');
  await ctx.step('after-signal', async () => {
    afterSignalAt.set(ctx.workflowId, Date.now());
  });
});

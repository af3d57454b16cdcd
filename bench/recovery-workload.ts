/**
 * The workload of the recovery benchmark, shared by the node it kills (`recovery-child.ts`) and the
 * node that takes over (`recovery.bench.ts`): runs of three short steps, each waiting a moment as a
 * call to another service would, so that a kill finds runs in the middle of a step.
 */
import { defineWorkflow } from '../src/work/workflow/index.js';

export const RECOVERY_FLOW = 'bench-recovery';
/** How long each step waits, ms. */
const STEP_MS = 2;

/** The workflow; `onStep(runId)` is called as each step's code begins. */
export function recoveryFlow(onStep: (runId: string) => void = () => undefined) {
  return defineWorkflow(RECOVERY_FLOW, async (ctx, n: number) => {
    let total = n;
    for (let i = 0; i < 3; i++) {
      total += await ctx.step(`s${i}`, async () => {
        onStep(ctx.workflowId);
        await new Promise((resolve) => setTimeout(resolve, STEP_MS));
        return 1;
      });
    }
    return total;
  });
}

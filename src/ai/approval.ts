/**
 * People in the loop: a tool call that needs approval waits on a durable workflow signal before it runs.
 * The wait is the engine's own (`ctx.waitForSignal`): journaled, surviving restarts, holding no
 * execution slot. The decision is journaled as the signal's value, so a replay takes the same branch.
 */
import { z } from 'zod';
import type { WorkflowContext } from '../work/index.js';
import type { AgentToolCall } from './turns.js';

/** Whether a call needs a person's approval: always, or as a predicate on the call's input decides. */
export type NeedsApproval = boolean | ((input: unknown) => boolean);

/** The data of an approval signal (`garrison workflows signal ID NAME --data '{"approved":true}'`). */
export const approvalDecisionSchema = z.object({
  approved: z.boolean(),
  /** Why; a denial's reason goes back to the model. */
  reason: z.string().max(2000).optional(),
  /** Who decided, for the record. */
  by: z.string().max(200).optional(),
});
export type ApprovalDecision = z.infer<typeof approvalDecisionSchema>;

/** The signal a waiting call listens for: `approval:<loop name>:<turn>:<tool call id>`. */
export function approvalSignalName(loop: string, turn: number, toolCallId: string): string {
  return `approval:${loop}:${turn}:${toolCallId}`;
}

/** True when the call must wait for a decision. A predicate that throws asks for one (fail closed). */
export function needsApproval(rule: NeedsApproval | undefined, input: unknown): boolean {
  if (rule === undefined || rule === false) return false;
  if (rule === true) return true;
  try {
    return rule(input) === true;
  } catch {
    return true;
  }
}

/**
 * Waits for the call's decision. A signal whose data is not a decision is consumed and ignored (the
 * call waits on); past `timeoutMs` the call counts as denied.
 */
export async function awaitApproval(
  ctx: WorkflowContext,
  loop: string,
  turn: number,
  call: AgentToolCall,
  timeoutMs: number | undefined,
): Promise<ApprovalDecision> {
  const name = approvalSignalName(loop, turn, call.toolCallId);
  for (;;) {
    const data = await ctx.waitForSignal(name, timeoutMs === undefined ? undefined : { timeoutMs });
    if (data === undefined) return { approved: false, reason: `no decision within ${timeoutMs} ms` };
    const parsed = approvalDecisionSchema.safeParse(data);
    if (parsed.success) return parsed.data;
  }
}

/** The error text the model is given for a denied call. */
export function denialText(decision: ApprovalDecision): string {
  return `the call was denied by a person${decision.reason === undefined ? '' : `: ${decision.reason}`}`;
}

/**
 * The contract between the task distributor and the agents that run dispatched steps: a dispatched step
 * is a task on the chosen agent's own queue whose payload is `{ action, input, dispatch }`. The agent
 * runs `action` with `input` and hands the outcome back through `TaskDistributor.settle`, which journals
 * it into the workflow (at most once: a second answer for the same step is ignored).
 */
import { z } from 'zod';

export const dispatchInfoSchema = z.strictObject({
  workflowId: z.string().min(1),
  stepIndex: z.number().int().min(0),
  capability: z.string().min(1),
  /** `<workflow id>:<step index>`: the same on every hand-off of the step. */
  idempotencyKey: z.string().min(1),
  /** The agent the step was routed to. */
  agentId: z.string().min(1),
  /** 1 for the first routing, one more on every re-route (a dead agent's work moved on). */
  route: z.number().int().min(1),
});
export type DispatchInfo = z.infer<typeof dispatchInfoSchema>;

export const dispatchedTaskSchema = z.looseObject({
  action: z.string().min(1),
  input: z.unknown(),
  dispatch: dispatchInfoSchema,
});
export type DispatchedTask = z.infer<typeof dispatchedTaskSchema>;

/** True when a task payload is a dispatched step. */
export function isDispatchedTask(payload: unknown): payload is DispatchedTask {
  return dispatchedTaskSchema.safeParse(payload).success;
}

/** The outcome of a dispatched step, as an agent reports it. */
export type DispatchOutcome =
  { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: unknown };

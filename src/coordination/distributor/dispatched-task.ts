/**
 * The contract between the task distributor and the agents that run dispatched steps: a dispatched step
 * is a task on the chosen agent's own queue whose payload is `{ action, input, dispatch }`. The agent
 * runs `action` with `input` and hands the outcome back through `TaskDistributor.settle`, which journals
 * it into the workflow (at most once: a second answer for the same step is ignored).
 *
 * Where a step's task lives, and under which idempotency key (unique per queue):
 *
 *   `dispatch:<capability>`, key `<step key>`     the step's anchor, written by the first hand-off: a
 *                                                 later hand-off of the same step (a workflow resumed
 *                                                 after a restart) finds it and adds nothing. Queued
 *                                                 while the step waits for an agent, cancelled once
 *                                                 the step is on an agent's queue.
 *   `<agent queue>`, key `<step key>#<route>`     the step on an agent.
 *   `dispatch:<capability>`, key `<step key>#<route>`, route > 1
 *                                                 a step taken from a dead agent with nowhere to go.
 */
import { z } from 'zod';
import { requirementsSchema } from './resources.js';

/** What every parking queue name starts with: `dispatch:<capability>`. */
export const PARKING_PREFIX = 'dispatch:';

/** The `agentId` of a parked step (no agent yet). */
export const PARKED = '-';

/** The queue where steps needing `capability` wait for an agent. */
export function parkingQueue(capability: string): string {
  return `${PARKING_PREFIX}${capability}`;
}

export const dispatchInfoSchema = z.strictObject({
  workflowId: z.string().min(1),
  stepIndex: z.number().int().min(0),
  capability: z.string().min(1),
  /** `<workflow id>:<step index>`: the same on every hand-off of the step. */
  idempotencyKey: z.string().min(1),
  /** The agent the step was routed to (`-` while parked). */
  agentId: z.string().min(1),
  /** 1 for the first routing, one more on every re-route (a dead agent's work moved on). */
  route: z.number().int().min(1),
  /** Attempts of the action the workflow asked for (`retry.maxAttempts`); default the distributor's. */
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  /** Resources the step holds on its agent while it is queued or running there (`requires`). */
  requires: requirementsSchema.optional(),
  /** Pinned to `agentId` (a fan-out's part): failed with `agent_unavailable` rather than moved. */
  pinned: z.literal(true).optional(),
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

export const dispatchOutcomeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), output: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.unknown() }),
]);

/** A step handed to the distributor; the capability must also be a valid queue name part. */
export const dispatchRequestSchema = z.object({
  workflowId: z.string().min(1),
  stepIndex: z.number().int().min(0),
  capability: z
    .string()
    .min(1)
    .max(190)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only'),
  action: z.string().min(1),
  input: z.unknown(),
  idempotencyKey: z.string().min(1).max(500),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  requires: requirementsSchema.optional(),
  agentId: z.string().min(1).max(200).optional(),
});

/**
 * The answer to a call that went through the store (a call to an agent that runs on another node): the
 * call is a task on the agent's queue carrying a ticket — where to answer, the call's id, its deadline —
 * and the action's outcome is sent back as a durable message to the caller's node, in the same
 * transaction as the checkpoint that records it. No outcome is recorded without its answer, nor the
 * reverse.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isGarrisonError } from '../errors.js';
import type { Tx } from '../store/index.js';
import type { ClaimedTask } from '../work/index.js';
import { AgentErrorCode } from './errors.js';
import type { HostCore } from './host-core.js';

/** What a call's task carries besides its action and input. */
export interface CallTicket {
  /** The caller's reply mailbox (its node's). */
  readonly to: string;
  /** The call's id (unique). */
  readonly id: string;
  /** The calling host's instance: another host of the same node drops the answer. */
  readonly instance: string;
  /** The caller gives up at this time (UNIX epoch ms); the agent never starts the call after it. */
  readonly deadline: number;
}

export const ticketSchema = z
  .object({
    to: z.string().min(1).max(200),
    id: z.string().min(1).max(100),
    instance: z.string().min(1).max(100),
    deadline: z.number().int(),
  })
  .strict();

/** The outcome as the caller is answered. */
export type ReplyOutcome =
  | { readonly ok: true; readonly output: unknown }
  | {
      readonly ok: false;
      readonly error: { readonly code: string; readonly message: string; readonly retryable: boolean };
    };

/** The body of an answer. */
export interface CallReply {
  readonly callId: string;
  readonly instance: string;
  readonly taskId: number;
  /** The node whose agent answered. */
  readonly node: string;
  readonly outcome: ReplyOutcome;
}

export const replySchema = z.object({
  callId: z.string(),
  instance: z.string(),
  taskId: z.number(),
  node: z.string(),
  outcome: z.union([
    z.object({ ok: z.literal(true), output: z.unknown() }),
    z.object({
      ok: z.literal(false),
      error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean() }),
    }),
  ]),
});

/** The mailbox where a node's hosts receive the answers to their calls. */
export function replyMailbox(nodeId: string): string {
  const name = `garrison.agent-replies:${nodeId}`;
  if (name.length <= 200) return name;
  return `garrison.agent-replies:#${createHash('sha256').update(nodeId).digest('hex')}`;
}

/** The ticket a task carries, if it is a call. */
export function ticketOf(task: ClaimedTask | undefined): CallTicket | undefined {
  const payload = task?.payload;
  if (typeof payload !== 'object' || payload === null || !('call' in payload)) return undefined;
  const parsed = ticketSchema.safeParse(payload.call);
  return parsed.success ? parsed.data : undefined;
}

export function replyOutcome(
  outcome: { ok: true; output: unknown } | { ok: false; error: unknown },
): ReplyOutcome {
  if (outcome.ok) return { ok: true, output: outcome.output ?? null };
  const e = outcome.error;
  return {
    ok: false,
    error: {
      code: isGarrisonError(e) ? e.code : AgentErrorCode.actionFailed,
      message: e instanceof Error ? e.message : String(e),
      retryable: isGarrisonError(e) && e.retryable,
    },
  };
}

/** Sends the call's answer inside the checkpoint's transaction, when the task is a call. */
export async function sendReply(
  tx: Tx,
  core: HostCore,
  task: ClaimedTask | undefined,
  outcome: { ok: true; output: unknown } | { ok: false; error: unknown },
): Promise<void> {
  const ticket = ticketOf(task);
  if (ticket === undefined || task === undefined) return;
  const body: CallReply = {
    callId: ticket.id,
    instance: ticket.instance,
    taskId: task.id,
    node: core.nodeId,
    outcome: replyOutcome(outcome),
  };
  await core.delivery.sendInTx(tx, ticket.to, body, { from: task.queue });
}

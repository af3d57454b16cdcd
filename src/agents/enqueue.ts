/**
 * Sending work to an agent: a task on its own queue, added in the caller's transaction after the
 * agent's row is locked, so the pause and the queue limit are checked against what is committed — two
 * concurrent enqueues cannot both take the last place.
 */
import type { Tx } from '../store/index.js';
import type { EnqueuedTask } from '../work/index.js';
import type { AgentDefinition } from './agent.js';
import { agentNotFound, agentPaused, queueFull, unknownAction } from './errors.js';
import { agentQueue, type HostCore } from './host-core.js';
import { agentQueueName } from './queue-name.js';
import type { CallTicket } from './reply.js';
import { selectRow } from './rows.js';
import type { SignalTaskPayload } from './signals.js';

/** The payload of a task on an agent's queue. */
export interface AgentTaskPayload {
  readonly action: string;
  readonly input: unknown;
  /** The schedule that queued it (its failure is the run's outcome, not a dead letter). */
  readonly schedule?: string;
}

/**
 * What waits on an agent's queue: an action (queued, sent by a directive, or called from another node,
 * with the call's ticket), or a signal.
 */
export type AgentWork = (AgentTaskPayload & { readonly call?: CallTicket }) | SignalTaskPayload;

export interface AgentEnqueueOptions {
  /** Higher runs first. An integer; default 0. */
  readonly priority?: number;
  /** Do not run before this many ms from now. Default 0. */
  readonly delayMs?: number;
  /** A second enqueue with the same key returns the first task instead of adding one. 1–200 chars. */
  readonly idempotencyKey?: string;
}

/**
 * Validates an action and its input against the agent's definition, when it is known (work for an
 * agent of a type this host does not know is checked when the task runs).
 */
export function checkWork(
  def: AgentDefinition | undefined,
  agentId: string,
  action: string,
  input: unknown,
): unknown {
  if (def === undefined) return input;
  const found = def.actions.get(action);
  if (found === undefined) throw unknownAction(agentId, action, [...def.actions.keys()]);
  // Validate, but keep the input as given: the run validates (and transforms) it again.
  found.parseInput(input);
  return input;
}

/**
 * Adds a task for `agentId` inside `tx`. `allowPaused` lets an agent's own action queue follow-up work
 * while it is paused (that work continues what it had already accepted).
 */
export async function enqueueForAgent(
  tx: Tx,
  core: Pick<HostCore, 'queues' | 'maxAttempts'>,
  agentId: string,
  payload: AgentWork,
  options: AgentEnqueueOptions & { readonly maxAttempts?: number },
  allowPaused = false,
): Promise<EnqueuedTask> {
  const row = await selectRow(tx, agentId, true);
  if (row === undefined) throw agentNotFound(agentId);
  if (row.status === 'paused' && !allowPaused) throw agentPaused(agentId, row.pauseReason);
  const stats = await core.queues.stats(agentQueueName(agentId), { tx });
  if (stats.queued >= row.queueLimit) throw queueFull(agentId, row.queueLimit);
  return core.queues.enqueue(agentQueue(agentId, core.maxAttempts), payload, { ...options, tx });
}

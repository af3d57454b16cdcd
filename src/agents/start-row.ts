/**
 * The row of an agent being started: a new agent gets one; a stopped or exited agent (or one resumed on
 * its node after a crash) runs again from its stored state. Run inside `start`'s transaction, with the
 * row locked.
 */
import type { Tx } from '../store/index.js';
import type { AgentDefinition } from './agent.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { ResolvedStartOptions } from './host-options.js';
import { insertRow, reviveRow, selectRow, type AgentRow } from './rows.js';

const DEFAULT_QUEUE_LIMIT = 1000;
const DEFAULT_MAX_CONSECUTIVE_ERRORS = 5;

export interface RowRequest {
  readonly id: string;
  readonly definition: AgentDefinition;
  readonly nodeId: string;
  readonly options: ResolvedStartOptions;
  /** The validated initial state given to `start`, if any (used for a new agent only). */
  readonly initial: unknown;
}

export async function openRow(tx: Tx, r: RowRequest, now: number): Promise<AgentRow> {
  const { id, definition, nodeId, options } = r;
  const existing = await selectRow(tx, id, true);
  if (existing === undefined) {
    return insertRow(
      tx,
      {
        id,
        type: definition.type,
        node: nodeId,
        restart: options.restart ?? 'permanent',
        state: r.initial ?? definition.initialState,
        queueLimit: options.queueLimit ?? DEFAULT_QUEUE_LIMIT,
        maxConsecutiveErrors: options.maxConsecutiveErrors ?? DEFAULT_MAX_CONSECUTIVE_ERRORS,
      },
      now,
    );
  }
  if (existing.type !== definition.type)
    throw new AgentError(
      AgentErrorCode.invalidState,
      `agent ${id} is of type ${existing.type}, not ${definition.type}`,
      { details: { agentId: id, type: existing.type } },
    );
  if (existing.lifecycle === 'running' && existing.node !== nodeId)
    throw new AgentError(
      AgentErrorCode.agentRunningElsewhere,
      `agent ${id} is recorded as running on node ${existing.node}`,
      { details: { agentId: id, node: existing.node } },
    );
  return reviveRow(
    tx,
    id,
    {
      node: nodeId,
      restart: options.restart ?? existing.restart,
      queueLimit: options.queueLimit ?? existing.queueLimit,
      maxConsecutiveErrors: options.maxConsecutiveErrors ?? existing.maxConsecutiveErrors,
      state: undefined,
    },
    now,
  );
}

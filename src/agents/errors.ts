import { GarrisonError } from '../errors.js';

/**
 * The codes of the agents layer's own errors. Input that fails validation is a `ValidationError`
 * (`invalid_input`) that names the field; nothing was written.
 */
export const AgentErrorCode = {
  /** No agent with this id is known to the store (or to this host). */
  agentNotFound: 'agent_not_found',
  /** `start` of an agent that this host already runs. */
  agentRunning: 'agent_running',
  /** The agent is recorded as running on another node; this host will not run it too. */
  agentRunningElsewhere: 'agent_running_elsewhere',
  /** The agent has no live process right now (restarting, stopped, or gone). Retryable. */
  agentNotRunning: 'agent_not_running',
  /** The agent's process could not be started; `cause` says why. */
  agentStartFailed: 'agent_start_failed',
  /** The agent is paused (by hand or after too many consecutive errors) and refuses new work. */
  agentPaused: 'agent_paused',
  /** The agent's queue holds its limit of waiting tasks. Retryable. */
  queueFull: 'queue_full',
  /** The agent has no action of that name. */
  unknownAction: 'unknown_action',
  /** An action returned an output its `output` schema rejects. */
  invalidOutput: 'invalid_output',
  /** A state (initial, stored, or set by a directive) that the agent's state schema rejects. */
  invalidState: 'invalid_state',
  /** An action threw; `cause` is what it threw. */
  actionFailed: 'action_failed',
  /** A newer process of the agent took over; this one's checkpoint was refused (fencing). */
  agentSuperseded: 'agent_superseded',
  /** The host is not running (not started, shut down, or its supervisor gave up). */
  hostStopped: 'host_stopped',
  /**
   * A call to an agent on another node got no answer within its timeout. `details.state` says what
   * became of it: `cancelled` (it had not started and never will), `running` (it started and may still
   * complete) or `finished` (its outcome was committed, too late). Retryable.
   */
  callTimeout: 'call_timeout',
  /** The agent has no action for a signal of that type. */
  unknownSignal: 'unknown_signal',
  /** The monitor agent has no alert with that id. */
  alertNotFound: 'alert_not_found',
  /** A broadcast found no healthy agent with the capability (and asked for no quorum). */
  noCapableAgent: 'no_capable_agent',
  /** A broadcast got fewer successful answers than its quorum (`details.answers` has them all). */
  quorumNotMet: 'quorum_not_met',
  /** The agent has no schedule of that name (or it was removed). */
  scheduleNotFound: 'schedule_not_found',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** The base of the agents layer's errors. */
export class AgentError extends GarrisonError {
  declare readonly code: AgentErrorCode;
  constructor(
    code: AgentErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/** True when `e` is an agents-layer error, optionally of the given code. */
export function isAgentError(e: unknown, code?: AgentErrorCode): e is AgentError {
  return e instanceof AgentError && (code === undefined || e.code === code);
}

export function agentNotFound(agentId: string): AgentError {
  return new AgentError(AgentErrorCode.agentNotFound, `no agent has the id ${agentId}`, {
    details: { agentId },
  });
}

export function agentNotRunning(agentId: string, why: string): AgentError {
  return new AgentError(AgentErrorCode.agentNotRunning, `agent ${agentId} is not running: ${why}`, {
    retryable: true,
    details: { agentId },
  });
}

export function agentPaused(agentId: string, reason: string | null): AgentError {
  return new AgentError(
    AgentErrorCode.agentPaused,
    `agent ${agentId} is paused${reason === null ? '' : ` (${reason})`} and refuses new work; resume it first`,
    { details: { agentId, reason } },
  );
}

export function queueFull(agentId: string, limit: number): AgentError {
  return new AgentError(
    AgentErrorCode.queueFull,
    `the queue of agent ${agentId} holds its limit of ${limit} waiting tasks`,
    { retryable: true, details: { agentId, limit } },
  );
}

export function unknownAction(agentId: string, action: string, known: readonly string[]): AgentError {
  return new AgentError(
    AgentErrorCode.unknownAction,
    `agent ${agentId} has no action "${action}" (it has: ${known.join(', ') || 'none'})`,
    { details: { agentId, action, known } },
  );
}

export function unknownSignal(agentId: string, type: string, patterns: readonly string[]): AgentError {
  return new AgentError(
    AgentErrorCode.unknownSignal,
    `agent ${agentId} handles no signal of type "${type}" (it handles: ${patterns.join(', ') || 'none'})`,
    { details: { agentId, type, patterns } },
  );
}

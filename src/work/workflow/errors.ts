import { GarrisonError } from '../../errors.js';
import type { WorkflowErrorInfo } from './types.js';

/** Error codes of durable workflows. Each names what went wrong. */
export const WorkflowErrorCode = {
  /** `start` named a workflow this engine has not registered. */
  unknown: 'workflow_unknown',
  /** No run has this id. */
  notFound: 'workflow_not_found',
  /** A run with this id exists and is of another workflow. */
  conflict: 'workflow_conflict',
  /** The run is finished; signals, pause and resume no longer apply. */
  finished: 'workflow_finished',
  /** The operation does not apply to the run's status (resume of a run that is not paused, …). */
  invalidState: 'workflow_invalid_state',
  /** The code took another path on replay than its journal records. */
  nonDeterminism: 'non_determinism',
  /** A step failed after its last attempt. */
  stepFailed: 'step_failed',
  /** `result` of a run that failed. */
  failed: 'workflow_failed',
  /** `result` of a cancelled run; also what a cancelled run's pending operations throw. */
  cancelled: 'workflow_cancelled',
  /** A child workflow failed or was cancelled. */
  childFailed: 'child_workflow_failed',
  /** A dispatched step came back with an error. */
  dispatchFailed: 'dispatch_failed',
  /** A dispatched step's timeout passed while no healthy agent with its capability had taken it. */
  noCapableAgent: 'no_capable_agent',
  /** A dispatched step's timeout passed while an agent had it (its result came too late or never). */
  dispatchTimeout: 'dispatch_timeout',
  /** A fan-out's agent (`ctx.dispatchAll`) was gone or unhealthy: its part was not moved to another. */
  agentUnavailable: 'agent_unavailable',
  /** A fan-out's part still running when its quorum was reached: its answer is not waited for. */
  dispatchCancelled: 'dispatch_cancelled',
  /** A fan-out (`ctx.dispatchAll`) could not get `quorum` successful answers. */
  quorumNotMet: 'quorum_not_met',
  /** No dispatcher was given to the engine. */
  noDispatcher: 'no_dispatcher',
  /** One or more compensations failed after their last attempt. */
  compensationFailed: 'compensation_failed',
  /** `result` waited longer than its timeout. The run goes on. */
  timeout: 'workflow_timeout',
  /** Another node took the run over; this node's writes to it are rejected. */
  leaseLost: 'lease_lost',
  /** The engine was stopped. */
  stopped: 'engine_stopped',
} as const;
export type WorkflowErrorCode = (typeof WorkflowErrorCode)[keyof typeof WorkflowErrorCode];

export class WorkflowError extends GarrisonError {
  declare readonly code: WorkflowErrorCode;
  constructor(
    code: WorkflowErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/** True when `e` is a workflow error, optionally of the given code. */
export function isWorkflowError(e: unknown, code?: WorkflowErrorCode): e is WorkflowError {
  return e instanceof WorkflowError && (code === undefined || e.code === code);
}

/** Plain data for an error, as journaled. */
export function errorInfo(error: unknown): WorkflowErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const details = (error as { details?: unknown }).details;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(details !== null && typeof details === 'object'
        ? { details: details as Record<string, unknown> }
        : {}),
    };
  }
  // Plain data with a message (an agent's stored outcome, an error that crossed a process): kept as
  // fields, never turned into JSON inside the message.
  if (
    error !== null &&
    typeof error === 'object' &&
    typeof (error as { message?: unknown }).message === 'string'
  ) {
    const e = error as { name?: unknown; message: string; code?: unknown; details?: unknown };
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: e.message,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(e.details !== null && typeof e.details === 'object'
        ? { details: e.details as Record<string, unknown> }
        : {}),
    };
  }
  return {
    name: 'Error',
    message: typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error)),
  };
}

/** An Error rebuilt from journaled data: same name, message and code on every replay. */
export function errorFromInfo(info: WorkflowErrorInfo): Error {
  const error = new Error(info.message);
  error.name = info.name;
  if (info.code !== undefined) Object.assign(error, { code: info.code });
  if (info.details !== undefined) Object.assign(error, { details: info.details });
  return error;
}

/** What a step throws after its last attempt failed, on the first run and on every replay alike. */
export function stepFailed(name: string, index: number, info: WorkflowErrorInfo): WorkflowError {
  return new WorkflowError(
    WorkflowErrorCode.stepFailed,
    `step ${index} ('${name}') failed: ${info.message}`,
    { cause: errorFromInfo(info), details: { step: name, index, error: info } },
  );
}

export function cancelledError(workflowId: string): WorkflowError {
  return new WorkflowError(WorkflowErrorCode.cancelled, `workflow ${workflowId} was cancelled`, {
    details: { workflowId },
  });
}

export function leaseLostError(workflowId: string): WorkflowError {
  return new WorkflowError(
    WorkflowErrorCode.leaseLost,
    `workflow ${workflowId} was taken over by another node; this node's write was rejected`,
    { details: { workflowId } },
  );
}

/** `e` if it is an Error, else an Error carrying its text (a rejection should always be an Error). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

/** A finished run as `result` reports it, from a local execution's outcome or from the stored row. */
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { Outcome } from './execution-types.js';
import type { RunRow } from './runs.js';
import type { WorkflowErrorInfo, WorkflowStatus } from './types.js';

export type Final =
  | { readonly status: 'completed'; readonly output: unknown }
  | { readonly status: 'failed' | 'cancelled'; readonly error: WorkflowErrorInfo };

/** The end recorded in a run's row, or undefined while it is unfinished. */
export function finalOf(row: RunRow): Final | undefined {
  if (row.status === 'completed') {
    return {
      status: 'completed',
      output: row.output === null ? undefined : (JSON.parse(row.output) as unknown),
    };
  }
  if (row.status === 'failed' || row.status === 'cancelled') {
    const error =
      row.error === null
        ? { name: 'Error', message: row.status }
        : (JSON.parse(row.error) as WorkflowErrorInfo);
    return { status: row.status, error };
  }
  return undefined;
}

/** The end of a local execution, or undefined when it only halted here. */
export function finalFromOutcome(outcome: Outcome): Final | undefined {
  if (outcome.kind === 'completed') {
    return {
      status: 'completed',
      output: outcome.output === null ? undefined : (JSON.parse(outcome.output) as unknown),
    };
  }
  if (outcome.kind === 'halted') return undefined;
  return { status: outcome.kind, error: outcome.error };
}

/** The output of a completed run; `workflow_failed` or `workflow_cancelled` for the others. */
export function settle<O>(id: string, final: Final): O {
  if (final.status === 'completed') return final.output as O;
  const code = final.status === 'cancelled' ? WorkflowErrorCode.cancelled : WorkflowErrorCode.failed;
  throw new WorkflowError(code, `workflow ${id} ${final.status}: ${final.error.message}`, {
    details: { workflowId: id, error: final.error },
  });
}

export function notFound(id: string): WorkflowError {
  return new WorkflowError(WorkflowErrorCode.notFound, `no workflow run has id ${id}`, {
    details: { workflowId: id },
  });
}

export function finishedError(id: string, status: WorkflowStatus): WorkflowError {
  return new WorkflowError(WorkflowErrorCode.finished, `workflow ${id} is ${status}`, {
    details: { workflowId: id, status },
  });
}

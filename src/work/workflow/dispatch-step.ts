/** `ctx.dispatch`: a step performed elsewhere, handed off once its pending entry is durable. */
import { ValidationError } from '../../errors.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { never, type RunExecution } from './execution.js';
import { UNKNOWN_ERROR } from './names.js';
import type { WorkflowErrorInfo } from './types.js';

export async function dispatch(
  run: RunExecution,
  capability: string,
  action: string,
  input: unknown,
): Promise<unknown> {
  const idx = run.nextIdx++;
  const name = `${capability}.${action}`;
  const entry = run.replayed(idx, name, 'dispatch');
  if (entry?.status === 'completed') return entry.output;
  if (entry?.status === 'failed') throw dispatchFailed(name, idx, entry.error ?? UNKNOWN_ERROR);
  const dispatcher = run.host.dispatcher;
  if (dispatcher === undefined) {
    throw new WorkflowError(
      WorkflowErrorCode.noDispatcher,
      `workflow ${run.id} dispatched ${name}, but the engine was created without a dispatcher`,
    );
  }
  let request: unknown;
  try {
    request = JSON.parse(JSON.stringify(input ?? null)) as unknown;
  } catch (error) {
    throw new ValidationError(`ctx.dispatch input for ${name} cannot be stored as JSON`, undefined, error);
  }
  await run.boundary();
  if (entry === undefined) {
    const detail = { capability, action, input: request };
    run.journal.set(idx, {
      idx,
      name,
      kind: 'dispatch',
      status: 'pending',
      output: undefined,
      error: undefined,
      attempts: 1,
      dueAt: undefined,
      detail,
    });
    run.writeStep({
      idx,
      name,
      kind: 'dispatch',
      status: 'pending',
      output: null,
      error: null,
      attempts: 1,
      dueAt: null,
      detail: JSON.stringify(detail),
    });
  }
  run.writePatch({ status: 'waiting', wakeAt: null }, false);
  // The hand-off happens only once the pending entry is durable.
  await run.boundary();
  const outcome = run.wait(idx, 'dispatch', undefined);
  try {
    await dispatcher.dispatch(
      {
        workflowId: run.id,
        stepIndex: idx,
        capability,
        action,
        input: request,
        idempotencyKey: `${run.id}:${idx}`,
      },
      run.host.results,
    );
  } catch (error) {
    if (run.halted !== undefined) return never();
    await run.host.results.failDispatched(run.id, idx, error);
  }
  const result = await outcome;
  run.writePatch({ status: 'running', wakeAt: null }, false);
  const done = result.kind === 'entry' ? result.entry : undefined;
  if (done?.status === 'completed') return done.output;
  throw dispatchFailed(name, idx, done?.error ?? UNKNOWN_ERROR);
}

function dispatchFailed(name: string, idx: number, info: WorkflowErrorInfo): WorkflowError {
  return new WorkflowError(
    WorkflowErrorCode.dispatchFailed,
    `dispatched step ${idx} (${name}) failed: ${info.message}`,
    {
      details: { step: name, index: idx, error: info },
    },
  );
}

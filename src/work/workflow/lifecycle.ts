/**
 * A run's life from its first line of code to its recorded end: replay and run the workflow's function,
 * then complete it — or, after a failure or a cancellation, cancel its children, compensate and record
 * that. Non-determinism fails the run without compensating.
 */
import { cancelledError, errorInfo, WorkflowError, WorkflowErrorCode } from './errors.js';
import { compensate } from './compensation.js';
import { inputText } from './define.js';
import type { RunExecution } from './execution.js';
import { noop, type Outcome } from './execution-types.js';
import type { JournalEntry } from './runs.js';
import type { WorkflowErrorInfo } from './types.js';

/** Runs the workflow to its end (or a halt). `run.done` gives the outcome; this never rejects. */
export async function execute(run: RunExecution): Promise<void> {
  try {
    await executeBody(run);
  } catch (error) {
    // A defect of the engine, not of the workflow: stop executing and let recovery take the run over.
    run.host.report(error);
    run.halt({ kind: 'halted', reason: 'store_error', error });
  }
}

async function executeBody(run: RunExecution): Promise<void> {
  run.applyInitialControl();
  if (run.cancelRequested && run.journal.size === 0) {
    // Cancelled before it ever ran: nothing to compensate, no code to run.
    await finish(run, 'cancelled', null, errorInfo(cancelledError(run.id)));
    return;
  }
  const input = JSON.parse(run.inputText) as unknown;
  if (run.journal.size === 0 && run.def.inputSchema !== undefined) {
    // A run started by name (a client, the command line) was stored unchecked: the executing node,
    // which has the schema, checks it before any code runs (`invalid_input`, nothing to compensate).
    try {
      inputText(run.def, input);
    } catch (error) {
      await finish(run, 'failed', null, errorInfo(error));
      return;
    }
  }
  let output: unknown;
  let failure: unknown;
  let threw = false;
  try {
    output = await run.def.run(run.ctx, input);
  } catch (error) {
    threw = true;
    failure = error;
  }
  if (run.halted !== undefined) return;
  if (run.fatal !== undefined) {
    // The code no longer matches the journal: its compensations cannot be trusted either.
    await finish(run, 'failed', null, errorInfo(run.fatal));
    return;
  }
  if (run.cancelRequested) {
    await unwind(run, 'cancelled', errorInfo(cancelledError(run.id)));
    return;
  }
  if (threw) {
    await unwind(run, 'failed', errorInfo(failure));
    return;
  }
  const leftover = unreachedEntry(run);
  if (leftover !== undefined) {
    const error = new WorkflowError(
      WorkflowErrorCode.nonDeterminism,
      `workflow '${run.def.name}' (${run.id}) finished after ${run.nextIdx} steps, but its journal ` +
        `records step ${leftover.idx} ('${leftover.name}'); the code must take the same path on replay`,
      { details: { workflowId: run.id, index: leftover.idx, journaled: leftover.name } },
    );
    await finish(run, 'failed', null, errorInfo(error));
    return;
  }
  let text: string | null;
  try {
    text = JSON.stringify(output) ?? null;
  } catch (error) {
    await unwind(run, 'failed', errorInfo(error));
    return;
  }
  await finish(run, 'completed', text, undefined);
}

function unreachedEntry(run: RunExecution): JournalEntry | undefined {
  for (const entry of run.journal.values()) if (entry.idx >= run.nextIdx) return entry;
  return undefined;
}

/** Failure or cancellation: cancel unfinished children, compensate, then record the end. */
async function unwind(
  run: RunExecution,
  kind: 'failed' | 'cancelled',
  error: WorkflowErrorInfo,
): Promise<void> {
  run.cancelChildren();
  const failures = await compensate(run);
  if (run.halted !== undefined) return;
  const final: WorkflowErrorInfo =
    failures.length === 0
      ? error
      : {
          name: 'WorkflowError',
          code: WorkflowErrorCode.compensationFailed,
          message: `${failures.length} compensation(s) failed after: ${error.message}`,
          details: { cause: error, failures },
        };
  await finish(run, kind, null, final);
}

/** Writes the run's end (and its hand-off into a parent's journal) and resolves `done` after COMMIT. */
async function finish(
  run: RunExecution,
  status: 'completed' | 'failed' | 'cancelled',
  output: string | null,
  error: WorkflowErrorInfo | undefined,
): Promise<void> {
  const errorText = error === undefined ? null : JSON.stringify(error);
  let handoff: Promise<boolean> | undefined;
  if (run.parentId !== null && run.parentStep !== null) {
    handoff = run.host.writer.handoff({
      runId: run.parentId,
      idx: run.parentStep,
      kind: 'child',
      status: status === 'completed' ? 'completed' : 'failed',
      output,
      error: errorText,
      from: { runId: run.id, fence: run.fence },
    });
    handoff.catch(noop);
  }
  run.writePatch({ status, wakeAt: null, output, error: errorText, final: true }, true);
  await run.whenWritten();
  if (run.halted !== undefined) return;
  const outcome: Outcome =
    status === 'completed'
      ? { kind: 'completed', output }
      : { kind: status, error: error ?? errorInfo(new Error('unknown')) };
  run.settle(outcome);
  if (handoff !== undefined && run.parentId !== null && run.parentStep !== null && (await handoff)) {
    run.host.handedOff(run.parentId, run.parentStep, {
      idx: run.parentStep,
      name: run.def.name,
      kind: 'child',
      status: status === 'completed' ? 'completed' : 'failed',
      output: output === null ? undefined : (JSON.parse(output) as unknown),
      error,
      attempts: 1,
      dueAt: undefined,
      detail: { childId: run.id },
    });
  }
}

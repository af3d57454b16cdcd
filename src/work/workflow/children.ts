/** `ctx.startChild` and `ctx.child`: child workflows, started durably with ids derived from the step. */
import { ValidationError } from '../../errors.js';
import { currentCarrier } from '../../telemetry/index.js';
import { inputText } from './define.js';
import { errorInfo, WorkflowError, WorkflowErrorCode } from './errors.js';
import type { RunExecution } from './execution.js';
import { UNKNOWN_ERROR } from './names.js';
import type { JournalEntry } from './runs.js';
import type { ChildHandle, StartChildOptions, WorkflowRef } from './types.js';

export async function startChild(
  run: RunExecution,
  workflow: WorkflowRef<unknown, unknown>,
  input: unknown,
  options: StartChildOptions | undefined,
): Promise<ChildHandle<unknown>> {
  const idx = run.nextIdx++;
  const def = run.host.definition(workflow);
  const entry = run.replayed(idx, def.name, 'child');
  if (entry !== undefined) return childHandle(run, idx, childIdOf(entry) ?? `${run.id}:${idx}`);
  const text = inputText(def, input);
  const childId = options?.workflowId ?? `${run.id}:${idx}`;
  if (typeof childId !== 'string' || childId.length === 0 || childId.length > 200) {
    throw new ValidationError(
      `a child workflow id must be 1 to 200 characters, got ${JSON.stringify(childId)}`,
    );
  }
  await run.boundary();
  const now = run.host.clock.now();
  // The child's row and this run's journal entry commit in the same flush: both or neither.
  const auto = run.host.autoExecute;
  const trace = currentCarrier(); // the parent's active span: the child's runs continue its trace
  const created = run.host.writer.insertRun({
    id: childId,
    name: def.name,
    // Executed here at once, or left pending for a supervisor to hand to a process (`executeRun`).
    status: auto ? 'running' : 'pending',
    input: text,
    parentId: run.id,
    parentStep: idx,
    owner: auto ? run.host.nodeId : null,
    leaseUntil: auto ? now + run.host.leaseMs : null,
    fence: auto ? 1 : 0,
    traceparent: trace?.traceparent ?? null,
    tracestate: trace?.tracestate ?? null,
  });
  created.catch(() => undefined);
  run.journal.set(idx, {
    idx,
    name: def.name,
    kind: 'child',
    status: 'pending',
    output: undefined,
    error: undefined,
    attempts: 1,
    dueAt: undefined,
    detail: { childId },
  });
  run.writeStep({
    idx,
    name: def.name,
    kind: 'child',
    status: 'pending',
    output: null,
    error: null,
    attempts: 1,
    dueAt: null,
    detail: JSON.stringify({ childId }),
  });
  await run.boundary();
  if (await created) {
    if (auto) run.host.launchChild(def, childId, text, run, idx);
    else run.host.pendingCreated(childId);
  } else {
    // The id belongs to a run that is not this step's child: the step fails, deterministically so.
    const info = errorInfo(
      new WorkflowError(
        WorkflowErrorCode.conflict,
        `a workflow with id ${childId} exists already and is not this step's child`,
      ),
    );
    run.writeStep({
      idx,
      name: def.name,
      kind: 'child',
      status: 'failed',
      output: null,
      error: JSON.stringify(info),
      attempts: 1,
      dueAt: null,
      detail: JSON.stringify({ childId }),
    });
    run.deliver(idx, {
      idx,
      name: def.name,
      kind: 'child',
      status: 'failed',
      output: undefined,
      error: info,
      attempts: 1,
      dueAt: undefined,
      detail: { childId },
    });
  }
  return childHandle(run, idx, childId);
}

function childIdOf(entry: JournalEntry): string | undefined {
  const id = (entry.detail as { childId?: unknown } | undefined)?.childId;
  return typeof id === 'string' ? id : undefined;
}

function childHandle(run: RunExecution, idx: number, childId: string): ChildHandle<unknown> {
  return {
    workflowId: childId,
    result: () => {
      run.childResults ??= new Map();
      let result = run.childResults.get(idx);
      if (result === undefined) {
        result = awaitChild(run, idx, childId);
        run.childResults.set(idx, result);
      }
      return result;
    },
  };
}

async function awaitChild(run: RunExecution, idx: number, childId: string): Promise<unknown> {
  let entry = run.journal.get(idx);
  if (entry?.status === 'pending') {
    await run.boundary();
    entry = run.journal.get(idx);
    if (entry?.status === 'pending') {
      run.writePatch({ status: 'waiting', wakeAt: null }, false);
      const result = await run.wait(idx, 'child', undefined);
      run.writePatch({ status: 'running', wakeAt: null }, false);
      entry = result.kind === 'entry' ? result.entry : entry;
    }
  }
  if (entry?.status === 'completed') return entry.output;
  const info = entry?.error ?? UNKNOWN_ERROR;
  throw new WorkflowError(
    WorkflowErrorCode.childFailed,
    `child workflow ${childId} ended without a result: ${info.message}`,
    {
      details: { childId, index: idx, error: info },
    },
  );
}

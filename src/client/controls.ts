/**
 * What a client asks of runs it does not execute: signal, cancel, pause, resume. Each request is the
 * same store write an engine makes, and its wake-up is sent in that write's transaction, so the node
 * executing the run (or one that may take it up) hears of it as the write commits — never before, and
 * not at all when it rolls back.
 */
import type { Clock } from '../runtime/clock.js';
import type { Store, Tx } from '../store/index.js';
import { PENDING_CHANNEL, WORKFLOWS_CHANNEL, wakePayload } from '../work/workflow/channels.js';
import { WorkflowError, WorkflowErrorCode } from '../work/workflow/errors.js';
import { finishedError, notFound } from '../work/workflow/outcomes.js';
import { MAX_PENDING_SIGNALS, signalLimitError, signalText } from '../work/workflow/run-control.js';
import { insertSignal, requestCancel, requestPause, requestResume } from '../work/workflow/run-writes.js';
import { readRun, toRun } from '../work/workflow/runs.js';
import { FINAL_STATUSES, type WorkflowRun } from '../work/workflow/types.js';

export interface ControlContext {
  readonly store: Store;
  readonly clock: Clock;
}

/** Wakes whichever node executes the run (it reads its signals and control request). */
function wake(store: Store, id: string): (tx: Tx) => Promise<void> {
  return () => store.notify(WORKFLOWS_CHANNEL, wakePayload('wake', [id]));
}

async function current(store: Store, id: string): Promise<WorkflowRun> {
  const row = await readRun(store, id);
  if (row === undefined) throw notFound(id);
  return toRun(row);
}

export async function signalRun(c: ControlContext, id: string, name: string, data: unknown): Promise<void> {
  const text = signalText(name, data);
  const seq = await insertSignal(
    c.store,
    id,
    name,
    text,
    c.clock.now(),
    MAX_PENDING_SIGNALS,
    wake(c.store, id),
  );
  if (seq === undefined) {
    const run = await current(c.store, id);
    if (FINAL_STATUSES.includes(run.status)) throw finishedError(id, run.status);
    throw signalLimitError(id);
  }
}

export async function cancelRun(c: ControlContext, id: string): Promise<WorkflowRun> {
  const status = await requestCancel(c.store, id, c.clock.now(), async (tx) => {
    await wake(c.store, id)(tx);
    // A run nobody executes (pending, or paused until now) needs a node to carry the cancel out.
    await c.store.notify(PENDING_CHANNEL, '');
  });
  const run = await current(c.store, id);
  if (status === undefined && run.status !== 'cancelled') throw finishedError(id, run.status);
  return run;
}

export async function pauseRun(c: ControlContext, id: string): Promise<WorkflowRun> {
  const status = await requestPause(c.store, id, c.clock.now(), wake(c.store, id));
  const run = await current(c.store, id);
  if (status !== undefined || run.status === 'paused' || run.control === 'pause') return run;
  if (run.control === 'cancel') {
    throw new WorkflowError(WorkflowErrorCode.invalidState, `workflow ${id} is being cancelled`);
  }
  throw finishedError(id, run.status);
}

export async function resumeRun(c: ControlContext, id: string): Promise<WorkflowRun> {
  const outcome = await requestResume(c.store, id, c.clock.now(), async (tx) => {
    await wake(c.store, id)(tx);
    await c.store.notify(PENDING_CHANNEL, '');
  });
  const run = await current(c.store, id);
  if (outcome !== undefined) return run;
  if (FINAL_STATUSES.includes(run.status)) throw finishedError(id, run.status);
  throw new WorkflowError(WorkflowErrorCode.invalidState, `workflow ${id} is ${run.status}, not paused`);
}

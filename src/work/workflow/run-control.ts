/**
 * Requests that reach a run wherever it executes: cancel, pause, resume, signals, and results handed
 * into its journal (dispatched steps). Each is recorded in the store first; then the executing engine is
 * told directly (same engine) or woken (another engine), and a run nobody executes is taken over here.
 */
import { GarrisonError, ValidationError } from '../../errors.js';
import type { Clock } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import type { EngineBackground } from './background.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { RunExecution } from './execution.js';
import type { JournalWriter } from './journal-writer.js';
import { finishedError, notFound } from './outcomes.js';
import { insertSignal, requestCancel, requestPause, requestResume } from './run-writes.js';
import { readRun, toRun, type JournalEntry } from './runs.js';
import { FINAL_STATUSES, type WorkflowErrorInfo, type WorkflowRun } from './types.js';

export interface ControlHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly writer: JournalWriter;
  readonly active: ReadonlyMap<string, RunExecution>;
  readonly background: EngineBackground;
  /** Something was handed to a run not executing here: take it up when this engine parked it. */
  wakeParked(id: string): void;
  /** Takes the run over (when allowed) and executes it here until it ends or halts. */
  executeRun(id: string): Promise<unknown>;
  /** Takes the runs over (when allowed) and starts executing them here. */
  claimAndLaunch(ids: readonly string[]): Promise<unknown>;
}

async function current(host: ControlHost, id: string): Promise<WorkflowRun> {
  const row = await readRun(host.store, id);
  if (row === undefined) throw notFound(id);
  return toRun(row);
}

export async function cancelRun(host: ControlHost, id: string): Promise<void> {
  const status = await requestCancel(host.store, id, host.clock.now());
  if (status === undefined) {
    const run = await current(host, id);
    if (run.status !== 'cancelled') throw finishedError(id, run.status);
    return;
  }
  const exec = host.active.get(id);
  if (exec !== undefined) {
    exec.requestCancel();
    return;
  }
  await host.background.wake([id]);
  // Nobody may be executing it (pending, paused, or its owner is gone): take it over here if allowed.
  host.background.run(host.executeRun(id));
}

export async function pauseRun(host: ControlHost, id: string): Promise<void> {
  const status = await requestPause(host.store, id, host.clock.now());
  if (status === undefined) {
    const run = await current(host, id);
    if (run.status === 'paused' || run.control === 'pause') return;
    if (run.control === 'cancel') {
      throw new WorkflowError(WorkflowErrorCode.invalidState, `workflow ${id} is being cancelled`);
    }
    throw finishedError(id, run.status);
  }
  if (status === 'paused') return; // it was pending: paused at once
  const exec = host.active.get(id);
  if (exec !== undefined) exec.requestPause();
  else await host.background.wake([id]);
}

export async function resumeRun(host: ControlHost, id: string): Promise<void> {
  const outcome = await requestResume(host.store, id, host.clock.now());
  if (outcome === undefined) {
    const run = await current(host, id);
    if (FINAL_STATUSES.includes(run.status)) throw finishedError(id, run.status);
    throw new WorkflowError(WorkflowErrorCode.invalidState, `workflow ${id} is ${run.status}, not paused`);
  }
  if (outcome === 'resumed') {
    await host.claimAndLaunch([id]);
    return;
  }
  const exec = host.active.get(id);
  if (exec !== undefined) exec.withdrawPause();
  else await host.background.wake([id]);
}

/** Checks a signal's name and returns its data as JSON text; `invalid_input` otherwise. */
export function signalText(name: unknown, data: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ValidationError(`a signal needs a name of 1 to 200 characters, got ${JSON.stringify(name)}`);
  }
  try {
    return JSON.stringify(data ?? null);
  } catch (error) {
    throw new ValidationError(`signal data for ${name} cannot be stored as JSON`, undefined, error);
  }
}

/**
 * Signals a run may hold that it has not consumed yet. Each may be up to a request body in size and is
 * kept in memory by the executing engine until a wait takes it, so a run that is sent signals it never
 * waits for must not grow without bound.
 */
export const MAX_PENDING_SIGNALS = 100;

/** What a signal refused for `MAX_PENDING_SIGNALS` throws (retryable: once the run consumes some). */
export const signalLimitError = (id: string): GarrisonError =>
  new GarrisonError(
    'signal_limit',
    `workflow ${id} holds ${MAX_PENDING_SIGNALS} signals it has not consumed; send more once it waits for them`,
    { retryable: true, details: { workflowId: id, limit: MAX_PENDING_SIGNALS } },
  );

export async function sendSignal(host: ControlHost, id: string, name: string, data: unknown): Promise<void> {
  const text = signalText(name, data);
  const seq = await insertSignal(host.store, id, name, text, host.clock.now(), MAX_PENDING_SIGNALS);
  if (seq === undefined) {
    const run = await current(host, id);
    if (FINAL_STATUSES.includes(run.status)) throw finishedError(id, run.status);
    throw signalLimitError(id);
  }
  const exec = host.active.get(id);
  if (exec !== undefined) exec.deliverSignal({ seq, name, data: JSON.parse(text) as unknown });
  else {
    host.wakeParked(id);
    await host.background.wake([id]);
  }
}

/** Journals the outcome of a dispatched step; false when the step was not waiting any more. */
export async function handOffDispatched(
  host: ControlHost,
  runId: string,
  idx: number,
  outcome: { readonly output: string | null } | { readonly error: WorkflowErrorInfo },
): Promise<boolean> {
  if (!Number.isInteger(idx) || idx < 0) {
    throw new ValidationError(`a step index is a non-negative integer, got ${idx}`);
  }
  const failed = 'error' in outcome;
  const output = failed ? null : outcome.output;
  const applied = await host.writer.handoff({
    runId,
    idx,
    kind: 'dispatch',
    status: failed ? 'failed' : 'completed',
    output,
    error: failed ? JSON.stringify(outcome.error) : null,
  });
  if (applied) {
    handedOff(host, runId, idx, {
      idx,
      name: '',
      kind: 'dispatch',
      status: failed ? 'failed' : 'completed',
      output: output === null ? undefined : (JSON.parse(output) as unknown),
      error: failed ? outcome.error : undefined,
      attempts: 1,
      dueAt: undefined,
      detail: undefined,
    });
  }
  return applied;
}

/** A result was handed into a run's journal entry: deliver it here, or wake the run's node. */
export function handedOff(host: ControlHost, runId: string, idx: number, entry: JournalEntry): void {
  const exec = host.active.get(runId);
  if (exec !== undefined) exec.deliver(idx, entry);
  else {
    host.wakeParked(runId);
    host.background.run(host.background.wake([runId]));
  }
}

/**
 * `ctx.step` and `ctx.transactionStep`: answered from the journal on replay, otherwise run (with durable
 * retries) and journaled. A step's value is handed back as journaled, on the first run and on a replay.
 */
import { isStoreError, type Tx } from '../../store/index.js';
import { Attr, SpanName, traceStep, traceWait } from '../../telemetry/index.js';
import {
  asError,
  cancelledError,
  errorInfo,
  isWorkflowError,
  leaseLostError,
  stepFailed,
  WorkflowErrorCode,
} from './errors.js';
import { never, type RunExecution } from './execution.js';
import { UNKNOWN_ERROR } from './names.js';
import { retryDelay, shouldRetry } from './retry.js';
import type { JournalEntry } from './runs.js';
import type { StepContext, StepOptions } from './types.js';
import { waitAttributes } from './waits.js';

export type StepFn =
  ((step: StepContext) => Promise<unknown>) | ((tx: Tx, step: StepContext) => Promise<unknown>);

/** `ctx.step` and `ctx.transactionStep`: replay or run with retries. */
export function journaledStep<T>(
  run: RunExecution,
  name: string,
  kind: 'step' | 'transaction',
  options: StepOptions<T> | undefined,
  fn: StepFn,
): Promise<T> {
  const idx = run.nextIdx++;
  let entry: JournalEntry | undefined;
  try {
    entry = run.replayed(idx, name, kind);
  } catch (error) {
    return Promise.reject(asError(error));
  }
  if (entry?.status === 'completed') {
    run.registerCompensation(idx, name, options, entry.output);
    return Promise.resolve(entry.output as T);
  }
  if (entry?.status === 'failed') return Promise.reject(stepFailed(name, idx, entry.error ?? UNKNOWN_ERROR));
  return runStep(run, idx, name, kind, options, entry, fn) as Promise<T>;
}

async function runStep<T>(
  run: RunExecution,
  idx: number,
  name: string,
  kind: 'step' | 'transaction',
  options: StepOptions<T> | undefined,
  entry: JournalEntry | undefined,
  fn: StepFn,
): Promise<unknown> {
  const retry = options?.retry ?? run.def.defaultStepRetry;
  let attempt = 1;
  await run.boundary();
  // Journaled with the entry (its created_at, when this write creates it): a step's duration in the timeline.
  const startedAt = run.host.clock.now();
  if (entry?.status === 'retrying') {
    attempt = entry.attempts + 1;
    if (entry.dueAt !== undefined) await retryWait(run, idx, entry.dueAt);
  }
  for (;;) {
    run.stepStarted();
    let text: string | null;
    try {
      const s = run.stepContext(idx, attempt);
      text = await traceStep(
        run.def.name,
        run.host.clock,
        stepAttributes(run, name, idx, attempt),
        async () =>
          kind === 'step'
            ? (JSON.stringify(await (fn as (step: StepContext) => Promise<unknown>)(s)) ?? null)
            : await transactionBody(
                run,
                name,
                s,
                fn as (tx: Tx, step: StepContext) => Promise<unknown>,
                startedAt,
              ),
      );
    } catch (error) {
      run.stepSettled();
      if (run.halted !== undefined) return never();
      if (isWorkflowError(error, WorkflowErrorCode.leaseLost)) {
        run.onWriteError(error);
        return never();
      }
      // A transaction step whose store call failed on the way (busy, a dropped connection, an answer
      // lost after COMMIT) did not fail: its transaction committed with its journal entry or not at all.
      // The run halts and is resumed from the journal, which says which.
      if (kind === 'transaction' && isStoreError(error) && error.retryable) {
        run.onWriteError(error);
        return never();
      }
      // A step stopped by cancellation did not finish: nothing to journal, nothing to compensate.
      if (run.cancelRequested) throw cancelledError(run.id);
      const info = errorInfo(error);
      if (shouldRetry(retry, attempt, error)) {
        const dueAt = run.host.clock.now() + retryDelay(retry, attempt);
        run.writeStep({
          idx,
          name,
          kind,
          status: 'retrying',
          output: null,
          error: JSON.stringify(info),
          attempts: attempt,
          dueAt,
          detail: null,
          startedAt,
        });
        await run.boundary();
        await retryWait(run, idx, dueAt);
        attempt++;
        continue;
      }
      run.writeStep({
        idx,
        name,
        kind,
        status: 'failed',
        output: null,
        error: JSON.stringify(info),
        attempts: attempt,
        dueAt: null,
        detail: null,
        startedAt,
      });
      throw stepFailed(name, idx, info);
    }
    run.stepSettled();
    if (run.halted !== undefined) return never();
    // A transaction step journaled itself inside its own transaction.
    if (kind === 'step') {
      run.writeStep({
        idx,
        name,
        kind,
        status: 'completed',
        output: text,
        error: null,
        attempts: attempt,
        dueAt: null,
        detail: null,
        startedAt,
      });
    }
    // The value handed back is the journaled one, so a replay sees exactly what the first run saw.
    const output: unknown = text === null ? undefined : JSON.parse(text);
    run.registerCompensation(idx, name, options, output);
    return output;
  }
}

/** A step span's attributes, built only when tracing is on. */
export const stepAttributes = (run: RunExecution, name: string, idx: number, attempt: number) => () => ({
  [Attr.runId]: run.id,
  [Attr.workflow]: run.def.name,
  [Attr.stepName]: name,
  [Attr.stepIndex]: idx,
  [Attr.attempt]: attempt,
});

/** The durable wait before a retry (the due time is in the journal entry). */
async function retryWait(run: RunExecution, idx: number, dueAt: number): Promise<void> {
  if (dueAt <= run.host.clock.now()) return;
  run.writePatch({ status: 'sleeping', wakeAt: dueAt }, false);
  await traceWait(run, SpanName.sleep, waitAttributes(run, 'retry', idx), () =>
    run.wait(idx, 'sleep', dueAt),
  );
  run.writePatch({ status: 'running', wakeAt: null }, false);
  await run.boundary();
}

/** A transaction step's body: the user's writes and the journal entry in one transaction. */
async function transactionBody<T>(
  run: RunExecution,
  name: string,
  s: StepContext,
  fn: (tx: Tx, step: StepContext) => Promise<T>,
  startedAt: number,
): Promise<string | null> {
  return run.host.store.write(async (tx) => {
    const text = JSON.stringify(await fn(tx, s)) ?? null;
    const result = await run.host.flushIn(tx, {
      runs: [],
      steps: [
        {
          runId: run.id,
          fence: run.fence,
          idx: s.stepIndex,
          name,
          kind: 'transaction',
          status: 'completed',
          output: text,
          error: null,
          attempts: s.attempt,
          dueAt: null,
          detail: null,
          startedAt,
        },
      ],
      patches: [],
      handoffs: [],
    });
    // Rolls back the step's own writes with it: exactly once means not at all from a node that lost the run.
    if (result.fenced.has(run.id)) throw leaseLostError(run.id);
    return text;
  });
}

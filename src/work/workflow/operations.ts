/**
 * The workflow context: what a workflow's code calls. Each operation takes the next step index
 * synchronously, in call order (so `Promise.all` over steps numbers them deterministically), and either
 * answers from the journal (replay) or does the work and journals it.
 */
import { ValidationError } from '../../errors.js';
import type { Tx } from '../../store/index.js';
import { inputText } from './define.js';
import {
  asError,
  cancelledError,
  errorInfo,
  isWorkflowError,
  leaseLostError,
  stepFailed,
  WorkflowError,
  WorkflowErrorCode,
} from './errors.js';
import { never, type RunExecution } from './execution.js';
import { retryDelay, shouldRetry } from './retry.js';
import type { JournalEntry, SignalRecord } from './runs.js';
import type {
  ChildHandle,
  StartChildOptions,
  StepContext,
  StepKind,
  StepOptions,
  WaitForSignalOptions,
  WorkflowContext,
  WorkflowErrorInfo,
  WorkflowRef,
} from './types.js';

const UNKNOWN_ERROR: WorkflowErrorInfo = { name: 'Error', message: 'unknown error' };

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ValidationError(`${what} needs a name of 1 to 200 characters, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** The context a workflow's code is given (a class: one small object per run). */
export class Context implements WorkflowContext {
  constructor(private readonly run: RunExecution) {}

  get workflowId(): string {
    return this.run.id;
  }

  get workflowName(): string {
    return this.run.def.name;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }

  step<T>(name: string, fn: (step: StepContext) => Promise<T>, options?: StepOptions<T>): Promise<T> {
    return journaledStep(this.run, checkName(name, 'ctx.step'), 'step', options, fn);
  }

  transactionStep<T>(
    name: string,
    fn: (tx: Tx, step: StepContext) => Promise<T>,
    options?: StepOptions<T>,
  ): Promise<T> {
    return journaledStep(this.run, checkName(name, 'ctx.transactionStep'), 'transaction', options, fn);
  }

  sleep(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      return Promise.reject(
        new ValidationError(`ctx.sleep needs a non-negative number of ms, got ${String(ms)}`),
      );
    }
    return sleepUntil(this.run, this.run.host.clock.now() + ms);
  }

  sleepUntil(time: Date | number): Promise<void> {
    const at = time instanceof Date ? time.getTime() : time;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      return Promise.reject(
        new ValidationError(`ctx.sleepUntil needs a Date or UNIX epoch ms, got ${String(time)}`),
      );
    }
    return sleepUntil(this.run, at);
  }

  waitForSignal<T = unknown>(name: string, options?: WaitForSignalOptions): Promise<T | undefined> {
    return waitForSignal(this.run, checkName(name, 'ctx.waitForSignal'), options) as Promise<T | undefined>;
  }

  startChild<I, O>(
    workflow: WorkflowRef<I, O>,
    input: I,
    options?: StartChildOptions,
  ): Promise<ChildHandle<O>> {
    return startChild(this.run, workflow, input, options) as Promise<ChildHandle<O>>;
  }

  async child<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: StartChildOptions): Promise<O> {
    const handle = await this.startChild(workflow, input, options);
    return handle.result();
  }

  dispatch<T = unknown>(capability: string, action: string, input?: unknown): Promise<T> {
    return dispatch(
      this.run,
      checkName(capability, 'ctx.dispatch'),
      checkName(action, 'ctx.dispatch'),
      input,
    ) as Promise<T>;
  }
}

type StepFn = ((step: StepContext) => Promise<unknown>) | ((tx: Tx, step: StepContext) => Promise<unknown>);

/** `ctx.step` and `ctx.transactionStep`: replay or run with retries. */
function journaledStep<T>(
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
  if (entry?.status === 'retrying') {
    attempt = entry.attempts + 1;
    if (entry.dueAt !== undefined) await retryWait(run, idx, entry.dueAt);
  }
  for (;;) {
    run.stepStarted();
    let text: string | null;
    try {
      const s = run.stepContext(idx, attempt);
      text =
        kind === 'step'
          ? (JSON.stringify(await (fn as (step: StepContext) => Promise<unknown>)(s)) ?? null)
          : await transactionBody(run, name, s, fn as (tx: Tx, step: StepContext) => Promise<unknown>);
    } catch (error) {
      run.stepSettled();
      if (run.halted !== undefined) return never();
      if (isWorkflowError(error, WorkflowErrorCode.leaseLost)) {
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
      });
    }
    // The value handed back is the journaled one, so a replay sees exactly what the first run saw.
    const output: unknown = text === null ? undefined : JSON.parse(text);
    run.registerCompensation(idx, name, options, output);
    return output;
  }
}

/** The durable wait before a retry (the due time is in the journal entry). */
async function retryWait(run: RunExecution, idx: number, dueAt: number): Promise<void> {
  if (dueAt <= run.host.clock.now()) return;
  run.writePatch({ status: 'sleeping', wakeAt: dueAt }, false);
  await run.wait(idx, 'sleep', dueAt);
  run.writePatch({ status: 'running', wakeAt: null }, false);
  await run.boundary();
}

/** A transaction step's body: the user's writes and the journal entry in one transaction. */
async function transactionBody<T>(
  run: RunExecution,
  name: string,
  s: StepContext,
  fn: (tx: Tx, step: StepContext) => Promise<T>,
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

async function sleepUntil(run: RunExecution, dueAtIfNew: number): Promise<void> {
  const idx = run.nextIdx++;
  const entry = run.replayed(idx, 'sleep', 'sleep');
  let dueAt: number;
  if (entry !== undefined) {
    dueAt = entry.dueAt ?? 0;
    if (dueAt <= run.host.clock.now()) return;
    await run.boundary();
    run.writePatch({ status: 'sleeping', wakeAt: dueAt }, false);
  } else {
    await run.boundary();
    dueAt = dueAtIfNew;
    run.writeStep({
      idx,
      name: 'sleep',
      kind: 'sleep',
      status: 'pending',
      output: null,
      error: null,
      attempts: 1,
      dueAt,
      detail: null,
    });
    if (dueAt <= run.host.clock.now()) return;
    run.writePatch({ status: 'sleeping', wakeAt: dueAt }, false);
    // The wake-up time is durable before the run starts sleeping.
    await run.boundary();
  }
  await run.wait(idx, 'sleep', dueAt);
  run.writePatch({ status: 'running', wakeAt: null }, false);
}

function signalValue(output: unknown): unknown {
  const o = output as { timedOut?: boolean; data?: unknown } | undefined;
  return o === undefined || o.timedOut === true ? undefined : o.data;
}

function consumeSignal(run: RunExecution, idx: number, name: string, signal: SignalRecord): unknown {
  const output = { seq: signal.seq, data: signal.data };
  run.journal.set(idx, {
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output,
    error: undefined,
    attempts: 1,
    dueAt: undefined,
    detail: undefined,
  });
  run.writeStep({
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output: JSON.stringify(output),
    error: null,
    attempts: 1,
    dueAt: null,
    detail: null,
  });
  return signal.data;
}

async function waitForSignal(
  run: RunExecution,
  name: string,
  options: WaitForSignalOptions | undefined,
): Promise<unknown> {
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
    throw new ValidationError(
      `ctx.waitForSignal timeoutMs must be a non-negative number of ms, got ${timeoutMs}`,
    );
  }
  const idx = run.nextIdx++;
  const entry = run.replayed(idx, name, 'signal');
  if (entry?.status === 'completed') return signalValue(entry.output);
  await run.boundary();
  let dueAt = entry?.dueAt;
  if (entry === undefined) {
    const early = run.takeSignal(name);
    if (early !== undefined) return consumeSignal(run, idx, name, early);
    dueAt = timeoutMs === undefined ? undefined : run.host.clock.now() + timeoutMs;
    run.journal.set(idx, {
      idx,
      name,
      kind: 'signal',
      status: 'pending',
      output: undefined,
      error: undefined,
      attempts: 1,
      dueAt,
      detail: { name },
    });
    run.writeStep({
      idx,
      name,
      kind: 'signal',
      status: 'pending',
      output: null,
      error: null,
      attempts: 1,
      dueAt: dueAt ?? null,
      detail: JSON.stringify({ name }),
    });
    run.writePatch({ status: 'waiting', wakeAt: dueAt ?? null }, false);
    await run.boundary();
  } else {
    run.writePatch({ status: 'waiting', wakeAt: dueAt ?? null }, false);
  }
  // Checked again right before waiting: a signal may have arrived while the entry was being written.
  const arrived = run.takeSignal(name);
  if (arrived !== undefined) {
    run.writePatch({ status: 'running', wakeAt: null }, false);
    return consumeSignal(run, idx, name, arrived);
  }
  const result = await run.wait(idx, 'signal', dueAt, name);
  run.writePatch({ status: 'running', wakeAt: null }, false);
  if (result.kind === 'signal') return consumeSignal(run, idx, name, result.signal);
  const output = { timedOut: true };
  run.journal.set(idx, {
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output,
    error: undefined,
    attempts: 1,
    dueAt,
    detail: { name },
  });
  run.writeStep({
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output: JSON.stringify(output),
    error: null,
    attempts: 1,
    dueAt: dueAt ?? null,
    detail: null,
  });
  return undefined;
}

async function dispatch(
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

async function startChild(
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

export type { StepKind };

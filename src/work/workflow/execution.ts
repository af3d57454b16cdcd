/**
 * One execution of one run on this node: the in-memory side of a run between a claim (or a fresh start)
 * and the end — completion, failure, cancellation, or a halt (paused, lease lost, engine stopped). It
 * replays the journal loaded when it began, writes new entries through the journal writer, and keeps
 * the rule that every earlier journal write of the run is committed before a step runs and before the
 * run counts as done.
 *
 * The workflow's own operations (`ctx.step`, `ctx.sleep`, …) are in `operations.ts`; they use the
 * methods marked "for operations" here.
 */
import type { Clock } from '../../runtime/clock.js';
import type { Store, Tx } from '../../store/index.js';
import type { DispatchResults, Dispatcher } from './dispatcher.js';
import type { DueHandle, DueTimers } from './due-timers.js';
import { cancelledError, errorInfo, isWorkflowError, WorkflowError, WorkflowErrorCode } from './errors.js';
import type { FlushInput, FlushResult, RunPatch, StepRow } from './flush-sql.js';
import type { JournalWriter } from './journal-writer.js';
import { Context } from './operations.js';
import {
  applyPause,
  readControl,
  readEntries,
  loadSignals,
  type JournalEntry,
  type SignalRecord,
} from './runs.js';
import { retryDelay } from './retry.js';
import type {
  StepContext,
  StepKind,
  StepRetryPolicy,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowErrorInfo,
  WorkflowRef,
} from './types.js';

/** What an execution needs from its engine. */
export interface ExecutionHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly timers: DueTimers;
  readonly writer: JournalWriter;
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly dispatcher: Dispatcher | undefined;
  readonly results: DispatchResults;
  /** Runs the flush SQL for a one-off write inside another transaction (transaction steps). */
  flushIn(tx: Tx, input: FlushInput): Promise<FlushResult>;
  definition(ref: WorkflowRef<unknown, unknown>): WorkflowDefinition<unknown, unknown>;
  /** Starts executing a child this run has just created (its row is committed). */
  launchChild(
    def: WorkflowDefinition<unknown, unknown>,
    id: string,
    inputText: string,
    parent: RunExecution,
    step: number,
  ): void;
  /** Whether new runs execute here at once (else they are left pending for `executeRun`). */
  readonly autoExecute: boolean;
  /** A run was created pending (when `autoExecute` is off). */
  pendingCreated(id: string): void;
  /** Asks a run (a child) to cancel, wherever it executes. */
  cancelRun(id: string): Promise<void>;
  /** A result has been handed into another run's journal entry: wake that run. */
  handedOff(runId: string, idx: number, entry: JournalEntry): void;
  report(error: unknown): void;
}

/** How an execution ended. `halted` ends this node's execution but not the run. */
export type Outcome =
  | { readonly kind: 'completed'; readonly output: string | null }
  | { readonly kind: 'failed' | 'cancelled'; readonly error: WorkflowErrorInfo }
  | {
      readonly kind: 'halted';
      readonly reason: 'paused' | 'lease_lost' | 'stopped' | 'store_error';
      readonly error?: unknown;
    };

/** A run as handed to an execution. */
export interface RunStart {
  readonly id: string;
  readonly def: WorkflowDefinition<unknown, unknown>;
  readonly inputText: string;
  readonly fence: number;
  readonly parentId: string | null;
  readonly parentStep: number | null;
  readonly control: 'pause' | 'cancel' | null;
  readonly journal: readonly JournalEntry[];
  readonly signals: readonly SignalRecord[];
}

export type WaitResult =
  | { readonly kind: 'due' }
  | { readonly kind: 'entry'; readonly entry: JournalEntry }
  | { readonly kind: 'signal'; readonly signal: SignalRecord };

interface Waiter {
  readonly kind: 'sleep' | 'signal' | 'child' | 'dispatch';
  readonly signalName: string | undefined;
  timer: DueHandle | undefined;
  resolve(result: WaitResult): void;
  reject(error: Error): void;
}

interface Compensation {
  readonly name: string;
  readonly fn: (output: unknown, step: StepContext) => Promise<void>;
  readonly output: unknown;
  readonly retry: StepRetryPolicy | undefined;
}

const noop = (): void => undefined;
/** A promise that never settles: what a halted run's operations return. Fresh each time, so it can be collected. */
export const never = <T>(): Promise<T> => new Promise<T>(noop);

export class RunExecution {
  readonly id: string;
  readonly def: WorkflowDefinition<unknown, unknown>;
  readonly fence: number;
  readonly parentId: string | null;
  readonly parentStep: number | null;
  /** Resolves once this node's execution ends (never rejects). */
  readonly done: Promise<Outcome>;
  readonly ctx: WorkflowContext;
  /** Journal entries by step index (negative for compensations), as loaded plus those written since. */
  readonly journal = new Map<number, JournalEntry>();
  /** Compensations of finished steps, by step index (made on first use: most runs have none). */
  compensations: Map<number, Compensation> | undefined;
  /** Results of child handles, one per child step. */
  childResults: Map<number, Promise<unknown>> | undefined;
  nextIdx = 0;
  cancelRequested = false;
  fatal: WorkflowError | undefined;
  halted: Outcome | undefined;

  private readonly inputText: string;
  private readonly initialControl: 'pause' | 'cancel' | null;
  private resolveDone!: (outcome: Outcome) => void;
  private lastWrite: Promise<void> = Promise.resolve();
  private pauseRequested = false;
  private pausing: Promise<void> | undefined;
  private inFlight = 0;
  private settledWaiters: Array<() => void> = [];
  private readonly waiters = new Map<number, Waiter>();
  private readonly unconsumed: SignalRecord[] = [];
  private readonly seenSignals = new Set<number>();
  private readonly compensationTimers = new Set<DueHandle>();
  /** Made on first use: most runs never look at their abort signal. */
  private controller: AbortController | undefined;

  constructor(
    readonly host: ExecutionHost,
    start: RunStart,
  ) {
    this.id = start.id;
    this.def = start.def;
    this.fence = start.fence;
    this.parentId = start.parentId;
    this.parentStep = start.parentStep;
    this.inputText = start.inputText;
    this.initialControl = start.control;
    this.done = new Promise<Outcome>((resolve) => {
      this.resolveDone = resolve;
    });
    const consumed = new Set<number>();
    for (const entry of start.journal) {
      this.journal.set(entry.idx, entry);
      if (entry.kind === 'signal' && entry.status === 'completed') {
        const seq = (entry.output as { seq?: unknown } | undefined)?.seq;
        if (typeof seq === 'number') consumed.add(seq);
      }
    }
    for (const signal of start.signals) {
      this.seenSignals.add(signal.seq);
      if (!consumed.has(signal.seq)) this.unconsumed.push(signal);
    }
    this.ctx = new Context(this);
  }

  /** Runs the workflow to its end (or a halt). Resolve `done` for the outcome; this never rejects. */
  async execute(): Promise<void> {
    try {
      await this.executeBody();
    } catch (error) {
      // A defect of the engine, not of the workflow: stop executing and let recovery take the run over.
      this.host.report(error);
      this.halt({ kind: 'halted', reason: 'store_error', error });
    }
  }

  private async executeBody(): Promise<void> {
    if (this.initialControl === 'cancel') this.requestCancel();
    else if (this.initialControl === 'pause') this.pauseRequested = true;
    if (this.cancelRequested && this.journal.size === 0) {
      // Cancelled before it ever ran: nothing to compensate, no code to run.
      await this.finish('cancelled', null, errorInfo(cancelledError(this.id)));
      return;
    }
    let output: unknown;
    let failure: unknown;
    let threw = false;
    try {
      output = await this.def.run(this.ctx, JSON.parse(this.inputText) as unknown);
    } catch (error) {
      threw = true;
      failure = error;
    }
    if (this.halted !== undefined) return;
    if (this.fatal !== undefined) {
      // The code no longer matches the journal: its compensations cannot be trusted either.
      await this.finish('failed', null, errorInfo(this.fatal));
      return;
    }
    if (this.cancelRequested) {
      await this.unwind('cancelled', errorInfo(cancelledError(this.id)));
      return;
    }
    if (threw) {
      await this.unwind('failed', errorInfo(failure));
      return;
    }
    const leftover = this.unreachedEntry();
    if (leftover !== undefined) {
      const error = new WorkflowError(
        WorkflowErrorCode.nonDeterminism,
        `workflow '${this.def.name}' (${this.id}) finished after ${this.nextIdx} steps, but its journal ` +
          `records step ${leftover.idx} ('${leftover.name}'); the code must take the same path on replay`,
        { details: { workflowId: this.id, index: leftover.idx, journaled: leftover.name } },
      );
      await this.finish('failed', null, errorInfo(error));
      return;
    }
    let text: string | null;
    try {
      text = JSON.stringify(output) ?? null;
    } catch (error) {
      await this.unwind('failed', errorInfo(error));
      return;
    }
    await this.finish('completed', text, undefined);
  }

  private unreachedEntry(): JournalEntry | undefined {
    for (const entry of this.journal.values()) if (entry.idx >= this.nextIdx) return entry;
    return undefined;
  }

  /** Failure or cancellation: cancel unfinished children, compensate, then record the end. */
  private async unwind(kind: 'failed' | 'cancelled', error: WorkflowErrorInfo): Promise<void> {
    this.cancelChildren();
    const failures = await this.compensate();
    if (this.halted !== undefined) return;
    const final: WorkflowErrorInfo =
      failures.length === 0
        ? error
        : {
            name: 'WorkflowError',
            code: WorkflowErrorCode.compensationFailed,
            message: `${failures.length} compensation(s) failed after: ${error.message}`,
            details: { cause: error, failures },
          };
    await this.finish(kind, null, final);
  }

  /** Writes the run's end (and its hand-off into a parent's journal) and resolves `done` after COMMIT. */
  private async finish(
    status: 'completed' | 'failed' | 'cancelled',
    output: string | null,
    error: WorkflowErrorInfo | undefined,
  ): Promise<void> {
    const errorText = error === undefined ? null : JSON.stringify(error);
    let handoff: Promise<boolean> | undefined;
    if (this.parentId !== null && this.parentStep !== null) {
      handoff = this.host.writer.handoff({
        runId: this.parentId,
        idx: this.parentStep,
        kind: 'child',
        status: status === 'completed' ? 'completed' : 'failed',
        output,
        error: errorText,
        from: { runId: this.id, fence: this.fence },
      });
      handoff.catch(noop);
    }
    this.writePatch({ status, wakeAt: null, output, error: errorText, final: true }, true);
    await this.lastWrite;
    if (this.halted !== undefined) return;
    const outcome: Outcome =
      status === 'completed'
        ? { kind: 'completed', output }
        : { kind: status, error: error ?? errorInfo(new Error('unknown')) };
    this.halted = outcome;
    this.resolveDone(outcome);
    if (handoff !== undefined && this.parentId !== null && this.parentStep !== null && (await handoff)) {
      this.host.handedOff(this.parentId, this.parentStep, {
        idx: this.parentStep,
        name: this.def.name,
        kind: 'child',
        status: status === 'completed' ? 'completed' : 'failed',
        output: output === null ? undefined : (JSON.parse(output) as unknown),
        error,
        attempts: 1,
        dueAt: undefined,
        detail: { childId: this.id },
      });
    }
  }

  // ---- for operations -------------------------------------------------------------------------------

  /** The journaled entry at `idx`, checked against what the code asks for there now. */
  replayed(idx: number, name: string, kind: StepKind): JournalEntry | undefined {
    const entry = this.journal.get(idx);
    if (entry === undefined) return undefined;
    if (entry.name !== name || entry.kind !== kind) {
      this.fatal ??= new WorkflowError(
        WorkflowErrorCode.nonDeterminism,
        `workflow '${this.def.name}' (${this.id}) called ${kind} '${name}' at step ${idx}, but its journal ` +
          `records ${entry.kind} '${entry.name}' there; the code must take the same path on replay`,
        { details: { workflowId: this.id, index: idx, called: name, journaled: entry.name } },
      );
      throw this.fatal;
    }
    return entry;
  }

  /**
   * A step boundary: waits until every earlier journal write of the run has committed, then carries out
   * a pending cancel (throws) or pause (never returns).
   */
  async boundary(): Promise<void> {
    await this.lastWrite;
    if (this.halted !== undefined) return never();
    if (this.fatal !== undefined) throw this.fatal;
    if (this.cancelRequested) throw cancelledError(this.id);
    if (this.pauseRequested) {
      await this.applyPause();
      if (this.halted !== undefined) return never();
      if (this.cancelRequested) throw cancelledError(this.id);
    }
  }

  /** Queues a journal entry; the next boundary waits for its commit. */
  writeStep(row: Omit<StepRow, 'runId' | 'fence'>): void {
    this.track(this.host.writer.step({ runId: this.id, fence: this.fence, ...row }));
  }

  /**
   * Queues a change to the run's row. `ordered` ones are waited for by the next boundary; the others
   * (status changes for display) just ride along with the next flush.
   */
  writePatch(patch: Omit<RunPatch, 'runId' | 'fence'>, ordered: boolean): void {
    const write = this.host.writer.patch({ runId: this.id, fence: this.fence, ...patch });
    if (ordered) this.track(write);
    else write.catch((error: unknown) => this.onWriteError(error));
  }

  /** Makes `write` part of the boundary; a failed write halts the run. */
  track(write: Promise<unknown>): void {
    this.lastWrite = write.then(noop, this.trackedFailure);
  }

  /** One closure per execution, not one per write. */
  private readonly trackedFailure = (error: unknown): Promise<void> => {
    this.onWriteError(error);
    return never<void>();
  };

  onWriteError(error: unknown): void {
    if (this.halted !== undefined) return;
    const reason = isWorkflowError(error, WorkflowErrorCode.leaseLost)
      ? 'lease_lost'
      : isWorkflowError(error, WorkflowErrorCode.stopped)
        ? 'stopped'
        : 'store_error';
    if (reason === 'store_error') this.host.report(error);
    this.halt({ kind: 'halted', reason, error });
  }

  stepStarted(): void {
    this.inFlight++;
  }

  stepSettled(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  private allStepsSettled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Suspends until `dueAt` (UNIX epoch ms), a delivery for `idx`, or cancellation (rejects). */
  wait(
    idx: number,
    kind: Waiter['kind'],
    dueAt: number | undefined,
    signalName?: string,
  ): Promise<WaitResult> {
    if (this.halted !== undefined) return never();
    if (this.cancelRequested) return Promise.reject(cancelledError(this.id));
    return new Promise<WaitResult>((resolve, reject) => {
      const waiter: Waiter = {
        kind,
        signalName,
        timer: undefined,
        resolve: (result) => {
          this.waiters.delete(idx);
          waiter.timer?.cancel();
          resolve(result);
        },
        reject: (error) => {
          this.waiters.delete(idx);
          waiter.timer?.cancel();
          reject(error);
        },
      };
      if (dueAt !== undefined)
        waiter.timer = this.host.timers.at(dueAt, () => waiter.resolve({ kind: 'due' }));
      this.waiters.set(idx, waiter);
      if (this.pauseRequested) void this.applyPause();
    });
  }

  /** Takes the oldest signal named `name` not consumed yet. */
  takeSignal(name: string): SignalRecord | undefined {
    const i = this.unconsumed.findIndex((s) => s.name === name);
    if (i < 0) return undefined;
    return this.unconsumed.splice(i, 1)[0];
  }

  registerCompensation<T>(
    idx: number,
    name: string,
    options:
      { compensate?: (output: T, step: StepContext) => Promise<void>; retry?: StepRetryPolicy } | undefined,
    output: unknown,
  ): void {
    if (options?.compensate === undefined) return;
    this.compensations ??= new Map();
    this.compensations.set(idx, {
      name,
      fn: options.compensate as Compensation['fn'],
      output,
      retry: options.retry ?? this.def.defaultStepRetry,
    });
  }

  /** Aborted on cancellation or when this node stops executing the run. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  private abortWith(reason: unknown): void {
    this.controller ??= new AbortController();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  stepContext(idx: number, attempt: number): StepContext {
    return new StepCtx(this, idx, attempt);
  }

  // ---- deliveries from outside ----------------------------------------------------------------------

  /** A pending child or dispatched entry got its result. */
  deliver(idx: number, entry: JournalEntry): void {
    const known = this.journal.get(idx);
    if (known !== undefined && known.status !== 'pending') return;
    const merged: JournalEntry =
      known === undefined
        ? entry
        : { ...known, status: entry.status, output: entry.output, error: entry.error };
    this.journal.set(idx, merged);
    this.waiters.get(idx)?.resolve({ kind: 'entry', entry: merged });
  }

  deliverSignal(signal: SignalRecord): void {
    if (this.seenSignals.has(signal.seq)) return;
    this.seenSignals.add(signal.seq);
    let best: number | undefined;
    for (const [idx, w] of this.waiters) {
      if (w.kind === 'signal' && w.signalName === signal.name && (best === undefined || idx < best))
        best = idx;
    }
    if (best !== undefined) {
      this.waiters.get(best)?.resolve({ kind: 'signal', signal });
      return;
    }
    this.unconsumed.push(signal);
    this.unconsumed.sort((a, b) => a.seq - b.seq);
  }

  /** Re-reads what may have been handed in while a wake-up was missed or came from another node. */
  async refresh(): Promise<void> {
    if (this.halted !== undefined) return;
    const pending = [...this.journal.values()]
      .filter((e) => e.status === 'pending' && (e.kind === 'child' || e.kind === 'dispatch'))
      .map((e) => e.idx);
    const [entries, signals, control] = await Promise.all([
      readEntries(this.host.store, this.id, pending),
      loadSignals(this.host.store, [this.id]),
      readControl(this.host.store, this.id),
    ]);
    for (const entry of entries) if (entry.status !== 'pending') this.deliver(entry.idx, entry);
    for (const signal of signals.get(this.id) ?? []) this.deliverSignal(signal);
    if (control !== undefined) this.onControl(control);
  }

  onControl(control: 'pause' | 'cancel'): void {
    if (control === 'cancel') this.requestCancel();
    else this.requestPause();
  }

  requestCancel(): void {
    if (this.cancelRequested || this.halted !== undefined) return;
    this.cancelRequested = true;
    const error = cancelledError(this.id);
    this.abortWith(error);
    for (const waiter of [...this.waiters.values()]) waiter.reject(error);
    this.cancelChildren();
  }

  requestPause(): void {
    if (this.cancelRequested || this.halted !== undefined) return;
    this.pauseRequested = true;
    if (this.waiters.size > 0) void this.applyPause();
  }

  withdrawPause(): void {
    this.pauseRequested = false;
  }

  /** Stops executing on this node without touching the run's row (it stays with its lease). */
  halt(outcome: Outcome): void {
    if (this.halted !== undefined) return;
    this.halted = outcome;
    for (const waiter of this.waiters.values()) waiter.timer?.cancel();
    this.waiters.clear();
    for (const timer of this.compensationTimers) timer.cancel();
    if (this.controller !== undefined && !this.controller.signal.aborted) {
      this.controller.abort(
        new WorkflowError(WorkflowErrorCode.stopped, `execution of ${this.id} stopped on this node`),
      );
    }
    this.resolveDone(outcome);
  }

  private applyPause(): Promise<void> {
    this.pausing ??= (async () => {
      try {
        await this.allStepsSettled();
        await this.lastWrite;
        if (this.halted !== undefined || this.cancelRequested || !this.pauseRequested) return;
        if (await applyPause(this.host.store, this.id, this.fence, this.host.clock.now())) {
          this.halt({ kind: 'halted', reason: 'paused' });
          return;
        }
        // Not applied: the pause was withdrawn, turned into a cancel, or the run was taken over.
        const control = await readControl(this.host.store, this.id);
        if (control === 'cancel') this.requestCancel();
        else if (control === undefined) this.pauseRequested = false;
        else this.halt({ kind: 'halted', reason: 'lease_lost' });
      } catch (error) {
        this.onWriteError(error);
      } finally {
        this.pausing = undefined;
      }
    })();
    return this.pausing;
  }

  private cancelChildren(): void {
    for (const entry of this.journal.values()) {
      if (entry.kind !== 'child' || entry.status !== 'pending') continue;
      const childId = (entry.detail as { childId?: unknown } | undefined)?.childId;
      if (typeof childId === 'string')
        this.host.cancelRun(childId).catch((e: unknown) => this.host.report(e));
    }
  }

  /** Runs the compensations of finished steps in reverse step order, each journaled before the next. */
  private async compensate(): Promise<WorkflowErrorInfo[]> {
    await this.allStepsSettled();
    await this.lastWrite;
    const failures: WorkflowErrorInfo[] = [];
    const compensations = this.compensations ?? new Map<number, Compensation>();
    const order = [...compensations.keys()].sort((a, b) => b - a);
    for (const idx of order) {
      if (this.halted !== undefined) return failures;
      const c = compensations.get(idx) as Compensation;
      const cidx = -(idx + 1);
      const journaled = this.journal.get(cidx);
      if (journaled?.status === 'completed') continue;
      if (journaled?.status === 'failed') {
        failures.push(journaled.error ?? { name: 'Error', message: 'compensation failed' });
        continue;
      }
      const name = `compensate:${c.name}`;
      // Not aborted by the cancellation that started it; only a halt stops it.
      const controller = new AbortController();
      void this.done.then(() => controller.abort());
      for (let attempt = 1; ; attempt++) {
        try {
          await c.fn(c.output, {
            workflowId: this.id,
            stepIndex: cidx,
            idempotencyKey: `${this.id}:compensate:${idx}`,
            attempt,
            signal: controller.signal,
          });
          if (this.halted !== undefined) return failures;
          this.writeStep({
            idx: cidx,
            name,
            kind: 'compensation',
            status: 'completed',
            output: null,
            error: null,
            attempts: attempt,
            dueAt: null,
            detail: null,
          });
          break;
        } catch (error) {
          if (this.halted !== undefined) return failures;
          const max = c.retry?.maxAttempts ?? 1;
          if (attempt < max && (c.retry?.retryIf?.(error) ?? true)) {
            await this.compensationDelay(retryDelay(c.retry, attempt));
            continue;
          }
          const info = errorInfo(error);
          failures.push(info);
          this.writeStep({
            idx: cidx,
            name,
            kind: 'compensation',
            status: 'failed',
            output: null,
            error: JSON.stringify(info),
            attempts: attempt,
            dueAt: null,
            detail: null,
          });
          break;
        }
      }
      await this.lastWrite;
    }
    return failures;
  }

  private compensationDelay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.host.timers.at(this.host.clock.now() + ms, () => {
        this.compensationTimers.delete(handle);
        resolve();
      });
      this.compensationTimers.add(handle);
    });
  }
}

/** A step's context: a class, so the many made on the hot path cost one small object each. */
class StepCtx implements StepContext {
  constructor(
    private readonly run: RunExecution,
    readonly stepIndex: number,
    readonly attempt: number,
  ) {}

  get workflowId(): string {
    return this.run.id;
  }

  get idempotencyKey(): string {
    return `${this.run.id}:${this.stepIndex}`;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }
}

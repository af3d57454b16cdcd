/**
 * One execution of one run on this node: the in-memory side of a run between a claim (or a fresh start)
 * and the end — completion, failure, cancellation, or a halt (paused, lease lost, engine stopped). It
 * replays the journal loaded when it began, writes new entries through the journal writer, and keeps
 * the rule that every earlier journal write of the run is committed before a step runs and before the
 * run counts as done.
 *
 * The workflow's own operations (`ctx.step`, `ctx.sleep`, …) are in `steps.ts`, `waits.ts`,
 * `children.ts` and `dispatch-step.ts`, its life from start to end in `lifecycle.ts`; they use the
 * methods marked "for operations" here.
 */
import { Context, StepCtx } from './context.js';
import { execute } from './lifecycle.js';
import { traceRunExecution } from '../../telemetry/index.js';
import type { DueHandle } from './due-timers.js';
import { cancelledError, isWorkflowError, WorkflowError, WorkflowErrorCode } from './errors.js';
import {
  never,
  type Compensation,
  type ExecutionHost,
  type Outcome,
  type ParkPlan,
  type RunStart,
  type WaitResult,
  type Waiter,
} from './execution-types.js';
import type { RunPatch, StepRow } from './flush-sql.js';
import { applyPause } from './run-writes.js';
import { loadSignals, readControl, readEntries, type JournalEntry, type SignalRecord } from './runs.js';
import type { StepContext, StepKind, StepRetryPolicy, WorkflowContext, WorkflowDefinition } from './types.js';

export {
  never,
  type ExecutionHost,
  type Outcome,
  type RunStart,
  type WaitResult,
} from './execution-types.js';

export class RunExecution {
  readonly id: string;
  readonly def: WorkflowDefinition<unknown, unknown>;
  readonly fence: number;
  readonly parentId: string | null;
  readonly parentStep: number | null;
  /** The run's stored W3C trace context (null: none). */
  readonly traceparent: string | null;
  readonly tracestate: string | null;
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

  /** The input as stored (JSON text): what the code gets, parsed, on every run and replay. */
  readonly inputText: string;
  private readonly initialControl: 'pause' | 'cancel' | null;
  private resolveDone!: (outcome: Outcome) => void;
  private lastWrite: Promise<void> = Promise.resolve();
  private pauseRequested = false;
  private pausing: Promise<void> | undefined;
  private inFlight = 0;
  /** Ordered journal writes not committed yet: a run is parked only once they are. */
  private writesPending = 0;
  private settledWaiters: Array<() => void> = [];
  private readonly waiters = new Map<number, Waiter>();
  private readonly unconsumed: SignalRecord[] = [];
  private readonly seenSignals = new Set<number>();
  /** Timers of compensation back-offs: cancelled by a halt. */
  readonly haltTimers = new Set<DueHandle>();
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
    this.traceparent = start.traceparent ?? null;
    this.tracestate = start.tracestate ?? null;
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

  /** Starts executing here; `done` gives the outcome. */
  execute(): Promise<void> {
    return traceRunExecution(this, () => execute(this));
  }

  // ---- for the lifecycle ----------------------------------------------------------------------------

  /** Carries out a pause or cancel requested before this node took the run over. */
  applyInitialControl(): void {
    if (this.initialControl === 'cancel') this.requestCancel();
    else if (this.initialControl === 'pause') this.pauseRequested = true;
  }

  /** Resolves once every journal write queued so far has committed (never, if one failed). */
  whenWritten(): Promise<void> {
    return this.lastWrite;
  }

  /** Records the run's end (its final row is committed). */
  settle(outcome: Outcome): void {
    this.halted = outcome;
    this.resolveDone(outcome);
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
    this.writesPending++;
    this.lastWrite = write.then(this.trackedSuccess, this.trackedFailure);
  }

  private readonly trackedSuccess = (): void => {
    this.writesPending--;
    if (this.writesPending === 0 && this.waiters.size > 0) this.host.idle(this);
  };

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
    if (this.inFlight > 0) return;
    for (const resolve of this.settledWaiters.splice(0)) resolve();
    if (this.waiters.size > 0) this.host.idle(this);
  }

  /** Resolves once no step function of the run is running. */
  allStepsSettled(): Promise<void> {
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
    // Overdue (a run rebuilt after its wake-up time): it ends at once, as an overdue sleep does.
    if (dueAt !== undefined && dueAt <= this.host.clock.now()) return Promise.resolve({ kind: 'due' });
    return new Promise<WaitResult>((resolve, reject) => {
      const waiter: Waiter = {
        kind,
        signalName,
        dueAt,
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
      else this.host.idle(this);
    });
  }

  /**
   * What parking this run needs, when all it does is wait — no step, hand-off or journal write in
   * flight, no pause or cancel under way — and none of its waits is due within `minWaitMs` of `now`;
   * undefined otherwise.
   */
  parkPlan(now: number, minWaitMs: number): ParkPlan | undefined {
    if (this.halted !== undefined || this.fatal !== undefined) return undefined;
    if (this.cancelRequested || this.pauseRequested || this.pausing !== undefined) return undefined;
    if (this.inFlight > 0 || this.writesPending > 0 || this.waiters.size === 0 || this.haltTimers.size > 0)
      return undefined;
    let wakeAt: number | undefined;
    let sleeping = true;
    const waited: number[] = [];
    for (const [idx, w] of this.waiters) {
      if (w.dueAt !== undefined) {
        if (w.dueAt - now < minWaitMs) return undefined;
        wakeAt = wakeAt === undefined ? w.dueAt : Math.min(wakeAt, w.dueAt);
      }
      // A hand-off only this process knows of must be repeated after a crash: such a run stays here.
      if (w.kind === 'dispatch' && this.host.dispatcher?.durable !== true) return undefined;
      if (w.kind !== 'sleep') sleeping = false;
      if (w.kind === 'child' || w.kind === 'dispatch') waited.push(idx);
    }
    return { status: sleeping ? 'sleeping' : 'waiting', wakeAt, waited, seenSignals: [...this.seenSignals] };
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
    // Kept in seq order; signals mostly arrive in order, so this is a push (the store bounds how many).
    let at = this.unconsumed.length;
    while (at > 0 && (this.unconsumed[at - 1]?.seq ?? 0) > signal.seq) at -= 1;
    this.unconsumed.splice(at, 0, signal);
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
    for (const timer of this.haltTimers) timer.cancel();
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

  cancelChildren(): void {
    for (const entry of this.journal.values()) {
      if (entry.kind !== 'child' || entry.status !== 'pending') continue;
      const childId = (entry.detail as { childId?: unknown } | undefined)?.childId;
      if (typeof childId === 'string')
        this.host.cancelRun(childId).catch((e: unknown) => this.host.report(e));
    }
  }
}

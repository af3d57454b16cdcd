/**
 * The workflow engine of one node: starts runs and executes them (one `RunExecution` each; `executeRun`
 * is that unit for a supervisor), answers `result`, carries pause/resume/cancel/signals to whichever
 * node executes a run, renews this node's leases and takes over runs whose owner is gone.
 */
import { systemClock, type Clock } from '../../runtime/clock.js';
import { beginRunStart } from '../../telemetry/index.js';
import type { Store, Tx } from '../../store/index.js';
import { EngineBackground } from './background.js';
import { inputText } from './define.js';
import { dispatchView, noteDispatch, type DispatchNote } from './dispatch-notes.js';
import type { Dispatcher, DispatchResults } from './dispatcher.js';
import { DueTimers } from './due-timers.js';
import {
  invalid,
  isEmpty,
  listOptionsSchema,
  optionsSchema,
  resultOptionsSchema,
  startOptionsSchema,
  type WorkflowEngineOptions,
} from './engine-options.js';
import { ValidationError } from '../../errors.js';
import { asError, errorInfo, WorkflowError, WorkflowErrorCode } from './errors.js';
import type { ExecutionHost, Outcome, RunExecution } from './execution.js';
import { Executions } from './executions.js';
import { postgresFlush } from './flush-postgres.js';
import { Parking } from './parking.js';
import type { FlushInput, FlushResult, FlushSql } from './flush-sql.js';
import { sqliteFlush } from './flush-sqlite.js';
import { timeOrderedId } from './ids.js';
import { JournalWriter } from './journal-writer.js';
import { finalFromOutcome, finalOf, notFound, settle } from './outcomes.js';
import { ResultWaiters } from './result-waiters.js';
import {
  cancelRun,
  handedOff,
  handOffDispatched,
  pauseRun,
  resumeRun,
  sendSignal,
  type ControlHost,
} from './run-control.js';
import { WorkflowRegistry } from './registry.js';
import { releaseLeases } from './run-writes.js';
import {
  findClaimable,
  findParkedTimers,
  listRuns,
  loadTimedJournal,
  readRun,
  toRun,
  wakeDueParked,
} from './runs.js';
import { PENDING_CHANNEL } from './channels.js';
import { insertBatch, prepareBatch, traceBatch, type StartItem } from './start-batch.js';
import type {
  ListOptions,
  ResultOptions,
  StartOptions,
  WorkflowDefinition,
  WorkflowHandle,
  WorkflowRef,
  WorkflowRun,
  WorkflowStepInfo,
} from './types.js';

export type { WorkflowEngineOptions } from './engine-options.js';

/** Creates the workflow engine of one node. Nothing runs until the first `start`, `recover` or `executeRun`. */
export function createWorkflowEngine(options: WorkflowEngineOptions): WorkflowEngine {
  return new WorkflowEngine(options);
}

export class WorkflowEngine implements DispatchResults {
  readonly nodeId: string;
  readonly store: Store;
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly dispatcher: Dispatcher | undefined;
  private readonly options: WorkflowEngineOptions;
  private readonly flushSql: FlushSql;
  private readonly writer: JournalWriter;
  private readonly timers: DueTimers;
  private readonly waiters: ResultWaiters;
  private readonly background: EngineBackground;
  private readonly host: ExecutionHost;
  private readonly control: ControlHost;
  private readonly defs = new WorkflowRegistry();
  private readonly runs: Executions;
  private readonly parking: Parking;
  private readonly active: ReadonlyMap<string, RunExecution>;
  private readonly starting = new Map<string, Promise<boolean>>();
  private readonly report: (error: unknown) => void;
  private ready: Promise<void> | undefined;
  private isReady = false;
  /** When the wake-ups of parked runs were last armed (the first look arms all, later ones what comes due). */
  private watchedAt: number | undefined;
  private stopped = false;

  constructor(options: WorkflowEngineOptions) {
    const parsed = optionsSchema.safeParse({
      nodeId: options.nodeId,
      leaseMs: options.leaseMs,
      recoverIntervalMs: options.recoverIntervalMs,
      changePollMs: options.changePollMs,
      maxFlushesInFlight: options.maxFlushesInFlight,
      parkWaits: options.parkWaits,
      parkMinWaitMs: options.parkMinWaitMs,
    });
    if (!parsed.success) throw invalid('workflow engine options', parsed.error.issues);
    this.options = options;
    this.nodeId = options.nodeId;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.dispatcher = options.dispatcher;
    this.report =
      options.onError ??
      ((error: unknown) => process.emitWarning(`workflow engine: ${String(error)}`, 'GarrisonWarning'));
    const postgres = this.store.dialect === 'postgres';
    const flush = (this.flushSql = postgres ? postgresFlush : sqliteFlush);
    this.timers = new DueTimers(this.clock);
    this.runs = new Executions({
      store: this.store,
      clock: this.clock,
      nodeId: this.nodeId,
      leaseMs: this.leaseMs,
      definition: (name) => this.defs.get(name),
      ended: (id, outcome) => this.ended(id, outcome),
      launched: (id) => this.parking.forget(id),
    });
    this.active = this.runs.active;
    this.waiters = new ResultWaiters(this.timers, this.clock);
    this.writer = new JournalWriter({
      // SQLite: a few multi-row statements, group-committed with the store's other writes. PostgreSQL:
      // one statement per flush, atomic by itself, so no transaction round trips around it, and several
      // flushes can commit at once.
      // A flush that hands results to other runs is a transaction: it may wake parked runs too.
      commit: postgres
        ? (input) =>
            input.handoffs.length === 0
              ? flush(this.store, input, this.clock.now())
              : this.store.write((tx) => flush(tx, input, this.clock.now()))
        : (input) => this.store.write((tx) => flush(tx, input, this.clock.now())),
      maxInFlight: postgres ? (options.maxFlushesInFlight ?? 4) : 1,
      onControl: (runId, control) => this.active.get(runId)?.onControl(control),
    });
    this.background = new EngineBackground({
      store: this.store,
      clock: this.clock,
      timers: this.timers,
      nodeId: this.nodeId,
      leaseMs: this.leaseMs,
      // A supervisor that drives runs itself (autoExecute off) decides when runs are taken over, too.
      recoverIntervalMs: options.recoverIntervalMs ?? (options.autoExecute === false ? 0 : this.leaseMs),
      // The system clock polls; a virtual clock would fire a poll for every few ms it is advanced.
      changePollMs: options.changePollMs ?? (this.clock === systemClock ? 20 : 0),
      takePending: this.pendingTaker(options),
      active: this.active,
      waiters: this.waiters,
      recover: () => this.recover(),
      wakeParked: (id) => this.parking.wake(id),
      forgetParked: (id) => this.parking.forget(id),
      report: this.report,
    });
    this.control = {
      store: this.store,
      clock: this.clock,
      writer: this.writer,
      active: this.active,
      background: this.background,
      wakeParked: (id) => this.parking.wake(id),
      // With a supervisor driving runs, a run that needs an executor goes to it instead (onRunClaimable).
      executeRun: (id) => (this.handOff([id]) ? Promise.resolve() : this.executeRun(id)),
      claimAndLaunch: (ids) => (this.handOff(ids) ? Promise.resolve() : this.runs.claimAndLaunch(ids)),
    };
    this.parking = new Parking({
      store: this.store,
      clock: this.clock,
      timers: this.timers,
      nodeId: this.nodeId,
      minWaitMs: options.parkMinWaitMs ?? 1000,
      drop: (exec) => this.runs.drop(exec),
      takeUp: (id) => {
        if (!this.stopped) this.background.run(this.control.claimAndLaunch([id]));
      },
      wakeDue: (ids) => wakeDueParked(this.store, this.clock.now(), ids),
      takeUpWoken: (id) => {
        if (this.stopped) return;
        if (this.options.autoExecute === false) this.handOff([id]);
        else this.background.run(this.takeUpWoken(id));
      },
      run: (work) => this.background.run(work),
    });
    this.host = this.runs.host = this.executionHost();
  }

  /**
   * What this engine holds now: `executing`, runs whose code runs here (in memory), and `parked`, runs
   * it parked while they wait (an index entry each; their executions are gone, rebuilt when they wake).
   */
  activity(): { readonly executing: number; readonly parked: number } {
    return { executing: this.active.size, parked: this.parking.size };
  }

  /** Makes workflows known to this engine (needed before their runs can be started or recovered here). */
  register(...definitions: Array<WorkflowDefinition<unknown, unknown>>): this {
    this.defs.register(definitions);
    return this;
  }

  /**
   * Starts a run. `workflowId` is the idempotency key: if a run with that id exists, its handle is
   * returned (with `created: false`) and nothing new runs. Resolves once the run is durable.
   */
  async start<I, O>(
    workflow: WorkflowRef<I, O>,
    input: I,
    options: StartOptions = {},
  ): Promise<WorkflowHandle<O>> {
    this.assertRunning();
    const def = this.defs.resolve(workflow);
    const opts = isEmpty(options)
      ? { success: true as const, data: {} as StartOptions }
      : startOptionsSchema.safeParse(options);
    if (!opts.success) throw invalid('start options', opts.error.issues);
    const text = inputText(def, input);
    const id = opts.data.workflowId ?? timeOrderedId(this.clock.now());
    if (!this.isReady) await this.ensureReady();
    let created = false;
    const existing = this.active.get(id);
    const inFlight = this.starting.get(id);
    if (existing !== undefined && existing.def.name !== def.name)
      throw this.conflict(id, existing.def.name, def.name);
    if (inFlight !== undefined) await inFlight;
    else if (existing === undefined) {
      const insert = this.insertAndLaunch(def, id, text);
      this.starting.set(id, insert);
      try {
        created = await insert;
      } finally {
        this.starting.delete(id);
      }
    }
    if (!created) {
      const row = await readRun(this.store, id);
      if (row !== undefined && row.name !== def.name) throw this.conflict(id, row.name, def.name);
    }
    return {
      workflowId: id,
      created,
      result: (resultOptions) => this.result<O>(id, resultOptions),
      get: () => this.get<O>(id),
    };
  }

  /**
   * Starts many runs as one unit: every item is checked first (a bad one is `invalid_input` naming it,
   * nothing written), then all are inserted in one transaction — in the store whole or not at all, even
   * if the process dies mid-batch. Ids that exist already are idempotent starts (`created: false`).
   * Handles are in item order.
   */
  async startMany<I, O>(items: ReadonlyArray<StartItem<I, O>>): Promise<Array<WorkflowHandle<O>>> {
    this.assertRunning();
    const prepared = prepareBatch(
      items,
      (ref) => {
        const def = this.defs.resolve(ref);
        return { name: def.name, def };
      },
      () => timeOrderedId(this.clock.now()),
    );
    if (!this.isReady) await this.ensureReady();
    const traced = traceBatch(prepared);
    const runs = traced.runs;
    for (const run of runs) {
      const local = this.active.get(run.id);
      if (local !== undefined && local.def.name !== run.name)
        throw this.conflict(run.id, local.def.name, run.name);
    }
    const auto = this.host.autoExecute;
    const now = this.clock.now();
    const created = await this.store
      .transaction(async (tx) => {
        const ids = await insertBatch(
          tx,
          runs,
          auto
            ? { status: 'running', owner: this.nodeId, leaseUntil: now + this.leaseMs, fence: 1 }
            : { status: 'pending', owner: null, leaseUntil: null, fence: 0 },
          now,
        );
        if (ids.size > 0 && this.announcesPending()) await this.store.notify(PENDING_CHANNEL, '');
        return ids;
      })
      .finally(() => traced.end());
    for (const run of runs) {
      if (!created.has(run.id) || run.def === undefined) continue;
      if (auto) this.runs.launchFresh(run.def, run.id, run.input, null, null, run);
      else this.host.pendingCreated(run.id);
    }
    return runs.map((run) => ({
      workflowId: run.id,
      created: created.has(run.id),
      result: (resultOptions) => this.result<O>(run.id, resultOptions),
      get: () => this.get<O>(run.id),
    }));
  }

  private async insertAndLaunch(
    def: WorkflowDefinition<unknown, unknown>,
    id: string,
    text: string,
  ): Promise<boolean> {
    const auto = this.host.autoExecute;
    const started = beginRunStart(def.name, id);
    const trace = started?.carrier;
    const insert = this.writer.insertRun({
      id,
      name: def.name,
      status: auto ? 'running' : 'pending',
      input: text,
      parentId: null,
      parentStep: null,
      owner: auto ? this.nodeId : null,
      leaseUntil: auto ? this.clock.now() + this.leaseMs : null,
      fence: auto ? 1 : 0,
      traceparent: trace?.traceparent ?? null,
      tracestate: trace?.tracestate ?? null,
    });
    const created = started === undefined ? await insert : await insert.finally(() => started.end());
    if (created && auto) this.runs.launchFresh(def, id, text, null, null, trace);
    else if (created) {
      this.host.pendingCreated(id);
      if (this.announcesPending()) await this.store.notify(PENDING_CHANNEL, '');
    }
    return created;
  }

  /**
   * Waits for a run to finish and returns its output; throws `workflow_failed` or `workflow_cancelled`
   * (with the stored error in `details.error`), `workflow_not_found`, `workflow_timeout`, or
   * `engine_stopped`.
   */
  async result<O = unknown>(id: string, options: ResultOptions = {}): Promise<O> {
    const opts = isEmpty(options)
      ? { success: true as const, data: {} as ResultOptions }
      : resultOptionsSchema.safeParse(options);
    if (!opts.success) throw invalid('result options', opts.error.issues);
    const local = this.active.get(id);
    if (local !== undefined && opts.data.timeoutMs === undefined) {
      // The common case, kept free of reads: the run executes here.
      const final = finalFromOutcome(await local.done);
      if (final !== undefined) return settle<O>(id, final);
    }
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    const waiting = this.waiters.wait(id, opts.data.timeoutMs);
    const exec = this.active.get(id);
    if (exec !== undefined) {
      void exec.done.then((outcome) => {
        const final = finalFromOutcome(outcome);
        if (final !== undefined) this.waiters.resolve(id, final);
      });
    } else {
      readRun(this.store, id).then(
        (row) => {
          if (row === undefined) this.waiters.fail(id, notFound(id));
          else {
            const final = finalOf(row);
            if (final !== undefined) this.waiters.resolve(id, final);
          }
        },
        (error: unknown) => this.waiters.fail(id, asError(error)),
      );
    }
    return settle<O>(id, await waiting);
  }

  async get<O = unknown>(id: string): Promise<WorkflowRun<O> | undefined> {
    const row = await readRun(this.store, id);
    return row === undefined ? undefined : toRun<O>(row);
  }

  /** Runs, newest first, filtered by status, name, parent or creation time. */
  async list(options: ListOptions = {}): Promise<WorkflowRun[]> {
    const opts = listOptionsSchema.safeParse(options);
    if (!opts.success) throw invalid('list options', opts.error.issues);
    const o = opts.data;
    const rows = await listRuns(this.store, {
      statuses: o.status === undefined ? undefined : Array.isArray(o.status) ? o.status : [o.status],
      name: o.name,
      parentId: o.parentId,
      createdAfter: o.createdAfter,
      limit: o.limit ?? 100,
      offset: o.offset ?? 0,
    });
    return rows.map((row) => toRun(row));
  }

  /** A run's journal, in step order (compensations, at negative indexes, first). */
  async steps(id: string): Promise<WorkflowStepInfo[]> {
    return (await loadTimedJournal(this.store, id)).map((e) => {
      const finishedAt = e.status === 'completed' || e.status === 'failed' ? e.updatedAt : undefined;
      return {
        index: e.idx,
        name: e.name,
        kind: e.kind,
        status: e.status,
        output: e.output,
        error: e.error,
        attempts: e.attempts,
        dueAt: e.dueAt,
        startedAt: e.startedAt,
        finishedAt,
        durationMs: finishedAt === undefined ? undefined : Math.max(0, finishedAt - e.startedAt),
        ...dispatchView(e),
      };
    });
  }

  /**
   * Cancels a run: its pending operations throw `workflow_cancelled`, running steps see their abort
   * signal, children are cancelled, and the compensations of finished steps run in reverse order before
   * the run ends `cancelled`. Returns the run as it is when the request is recorded.
   */
  async cancel(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    await cancelRun(this.control, id);
    return this.get(id);
  }

  /**
   * Pauses a run at its next step boundary (at once when it sleeps or waits, or has not started). A
   * paused run keeps its journal and does nothing until `resume`.
   */
  async pause(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    await pauseRun(this.control, id);
    return this.get(id);
  }

  /** Resumes a paused run (here, when its workflow is registered here), or withdraws a pending pause. */
  async resume(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    await resumeRun(this.control, id);
    return this.get(id);
  }

  /** Sends a signal to a run; it is kept until a `ctx.waitForSignal(name)` consumes it. */
  async signal(id: string, name: string, data?: unknown): Promise<void> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    await sendSignal(this.control, id, name, data);
  }

  /** Journals the result of a dispatched step; false when that step was not waiting (already answered). */
  async completeDispatched(workflowId: string, stepIndex: number, output: unknown): Promise<boolean> {
    let text: string | null;
    try {
      text = JSON.stringify(output) ?? null;
    } catch (error) {
      throw new ValidationError(
        `the result of step ${stepIndex} of ${workflowId} cannot be stored as JSON`,
        undefined,
        error,
      );
    }
    return handOffDispatched(this.control, workflowId, stepIndex, { output: text });
  }

  /** Journals the failure of a dispatched step; the workflow sees `dispatch_failed`. */
  async failDispatched(workflowId: string, stepIndex: number, error: unknown): Promise<boolean> {
    return handOffDispatched(this.control, workflowId, stepIndex, { error: errorInfo(error) });
  }

  /** Records why a dispatched step waits, or how an attempt of it ended (see `DispatchResults`). */
  async noteDispatched(workflowId: string, stepIndex: number, note: DispatchNote): Promise<boolean> {
    return noteDispatch(this.store, workflowId, stepIndex, note);
  }

  /**
   * Takes over and resumes every unfinished run this node may execute: unowned ones, its own (after a
   * restart), and those whose owner's lease has expired. Parked runs (waiting, with nothing in memory)
   * need no takeover: it arms the wake-up of those with a wake-up time — all of them the first time,
   * then those due before the next look — so that they wake on time even when the node that parked them
   * is gone. Returns how many runs it resumed or now watches.
   */
  async recover(): Promise<number> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    this.background.recovered();
    let total = await this.watchParked();
    for (;;) {
      const ids = await this.claimable(500);
      const launched =
        ids.length === 0 ? [] : await this.runs.claimAndLaunch(ids.filter((id) => !this.starting.has(id)));
      total += launched.length;
      if (launched.length === 0) break;
    }
    return total;
  }

  /** Arms the wake-ups of parked runs of workflows registered here that this engine does not watch yet. */
  private async watchParked(): Promise<number> {
    const now = this.clock.now();
    // Looked at most once a lease (the supervisor's launcher asks for claimable runs far more often).
    if (this.watchedAt !== undefined && now - this.watchedAt < this.leaseMs) return 0;
    const until = this.watchedAt === undefined ? undefined : now + 3 * this.leaseMs;
    this.watchedAt = now;
    // Those whose time came while nobody watched them (their node is gone) turn pending, to be claimed.
    await wakeDueParked(this.store, now);
    let watched = 0;
    for (const row of await findParkedTimers(this.store, until, 100_000)) {
      // Those due already are claimable: taken up by the caller's claim.
      if (row.wake_at <= now || !this.defs.has(row.name) || this.active.has(row.id)) continue;
      if (this.parking.watches(row.id)) continue;
      this.parking.watch(row.id, row.wake_at);
      watched++;
    }
    return watched;
  }

  /**
   * Ids of unfinished runs of workflows registered here that this node may take over now (pending, its
   * own, or with an expired lease), oldest first, not counting those executing here.
   */
  async claimable(limit = 100): Promise<string[]> {
    // A supervisor asks first: from then on this engine hears wake-ups for the runs it will execute.
    if (!this.isReady) await this.ensureReady();
    const n = Math.max(1, Math.min(limit, 10_000));
    await this.watchParked();
    const rows = await findClaimable(this.store, this.nodeId, this.clock.now(), n);
    return rows
      .filter((r) => this.defs.has(r.name) && !this.active.has(r.id) && !this.parking.isParking(r.id))
      .map((r) => r.id);
  }

  /**
   * Executes one run on this node until it ends or stops here (paused, parked, taken over, engine stopped):
   * the unit a supervised process drives. Takes the run over first when allowed. Resolves with the run
   * as stored afterwards.
   */
  async executeRun(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    const exec = this.active.get(id) ?? (await this.runs.claimOne(id));
    if (exec !== undefined) await exec.done;
    // Parked: its row is left for whoever the wake-up goes to once the park has committed.
    await this.parking.settled(id);
    return this.get(id);
  }

  /**
   * Stops executing one run here without finishing it — for a supervisor whose process for the run
   * died. Its steps in flight see their abort signal; the run keeps this node as its owner, so
   * `executeRun(id)` here takes it over again at once under a new fence (the halted execution's late
   * writes are rejected) and resumes it from its journal. With `release`, its lease is ended too, for any
   * node to take it over at once. Resolves false when the run was not executing here.
   */
  async haltRun(id: string, options: { readonly release?: boolean } = {}): Promise<boolean> {
    const halted = this.runs.halt(id);
    if (halted && options.release === true && !this.stopped) {
      await releaseLeases(this.store, this.nodeId, [id]);
    }
    return halted;
  }

  /** Stops executing: no new writes, every execution halted, leases of its runs ended for others to take. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.writer.stop();
    await this.writer.idle();
    const ids = this.runs.haltAll();
    this.parking.stop();
    this.timers.stop();
    this.waiters.failAll(
      new WorkflowError(WorkflowErrorCode.stopped, 'the engine stopped while a result was awaited'),
    );
    await this.background.stop();
    if (ids.length > 0) await releaseLeases(this.store, this.nodeId, ids).catch(this.report);
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** A run woken by something handed in here, parked by another engine: executed here when it can be. */
  private async takeUpWoken(id: string): Promise<void> {
    const row = await readRun(this.store, id);
    if (row?.status === 'pending' && row.owner === null && this.defs.has(row.name) && !this.active.has(id))
      await this.runs.claimAndLaunch([id]);
  }

  private ended(id: string, outcome: Outcome): void {
    const final = finalFromOutcome(outcome);
    if (final !== undefined) {
      this.waiters.resolve(id, final);
      this.background.done(id);
    } else if (outcome.kind === 'halted' && outcome.reason !== 'parked') {
      this.options.onRunHalted?.(id, outcome.reason);
    }
  }

  private executionHost(): ExecutionHost {
    return {
      store: this.store,
      clock: this.clock,
      timers: this.timers,
      writer: this.writer,
      nodeId: this.nodeId,
      leaseMs: this.leaseMs,
      dispatcher: this.dispatcher,
      results: {
        completeDispatched: (id, idx, output) => this.completeDispatched(id, idx, output),
        failDispatched: (id, idx, error) => this.failDispatched(id, idx, error),
        noteDispatched: (id, idx, note) => this.noteDispatched(id, idx, note),
      },
      autoExecute: this.options.autoExecute ?? true,
      flushIn: (tx: Tx, input: FlushInput): Promise<FlushResult> =>
        this.flushSql(tx, input, this.clock.now()),
      definition: (ref) => this.defs.resolve(ref),
      launchChild: (def, id, text, parent, step) => this.runs.launchFresh(def, id, text, parent.id, step),
      pendingCreated: (id) => this.options.onRunPending?.(id),
      cancelRun: async (id) => {
        await cancelRun(this.control, id).catch((error: unknown) => {
          if (!(error instanceof WorkflowError && error.code === WorkflowErrorCode.finished)) throw error;
        });
      },
      handedOff: (runId, idx, entry) => handedOff(this.control, runId, idx, entry),
      idle: (run) => {
        if (this.options.parkWaits !== false) this.parking.consider(run);
      },
      report: this.report,
    };
  }

  /**
   * What to do when runs became pending elsewhere (a client started, resumed or cancelled them): take
   * them up here when this engine executes runs on its own and looks for them (`recoverIntervalMs` > 0);
   * hand them to the supervisor on SQLite (on PostgreSQL its launcher hears the same wake-up itself).
   */
  private pendingTaker(options: WorkflowEngineOptions): (() => Promise<unknown>) | undefined {
    if (options.autoExecute !== false) {
      const interval = options.recoverIntervalMs ?? this.leaseMs;
      return interval > 0 ? () => this.recover() : undefined;
    }
    if (options.onRunClaimable === undefined || this.store.dialect !== 'sqlite') return undefined;
    return async () => {
      const ids = await this.claimable(1);
      if (ids.length > 0) this.handOff(ids);
    };
  }

  /**
   * Whether runs created `pending` here are announced to the nodes that take runs up: when nobody here
   * will (no `onRunPending`, as in a command-line process), or they wait for a scan.
   */
  private announcesPending(): boolean {
    return this.options.autoExecute === false && this.options.onRunPending === undefined;
  }

  /** Hands runs needing an executor to the supervisor, when one asked for them (`onRunClaimable`). */
  private handOff(ids: readonly string[]): boolean {
    const claimable = this.options.onRunClaimable;
    if (this.options.autoExecute !== false || claimable === undefined) return false;
    for (const id of ids) claimable(id);
    return true;
  }

  private conflict(id: string, existing: string, wanted: string): WorkflowError {
    return new WorkflowError(
      WorkflowErrorCode.conflict,
      `a run with id ${id} exists already and is of workflow '${existing}', not '${wanted}'`,
      { details: { workflowId: id, existing, wanted } },
    );
  }

  private ensureReady(): Promise<void> {
    this.ready ??= this.background.start().then(() => {
      this.isReady = true;
    });
    return this.ready;
  }

  private assertRunning(): void {
    if (this.stopped) throw new WorkflowError(WorkflowErrorCode.stopped, 'the workflow engine was stopped');
  }
}

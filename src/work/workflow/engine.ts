/**
 * The workflow engine of one node: starts runs, executes them (each run's execution is one
 * `RunExecution`, driven by `executeRun`), answers `result`, carries pause/resume/cancel/signals to
 * whichever node executes a run, renews this node's leases and takes over runs whose owner is gone.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Store, Tx, Unsubscribe } from '../../store/index.js';
import { inputText } from './define.js';
import { timeOrderedId } from './ids.js';
import type { Dispatcher, DispatchResults } from './dispatcher.js';
import { DueTimers, type DueHandle } from './due-timers.js';
import { asError, errorInfo, WorkflowError, WorkflowErrorCode } from './errors.js';
import { RunExecution, type ExecutionHost, type Outcome } from './execution.js';
import { postgresFlush } from './flush-postgres.js';
import type { FlushInput, FlushResult, FlushSql } from './flush-sql.js';
import { sqliteFlush } from './flush-sqlite.js';
import { JournalWriter } from './journal-writer.js';
import {
  claimRuns,
  findClaimable,
  insertSignal,
  listRuns,
  loadJournals,
  loadSignals,
  ownedControls,
  readRun,
  readRuns,
  renewLeases,
  requestCancel,
  requestPause,
  requestResume,
  toRun,
  type JournalEntry,
  type RunRow,
} from './runs.js';
import {
  FINAL_STATUSES,
  WorkflowStatus,
  type ListOptions,
  type ResultOptions,
  type StartOptions,
  type WorkflowDefinition,
  type WorkflowErrorInfo,
  type WorkflowHandle,
  type WorkflowRef,
  type WorkflowRun,
  type WorkflowStepInfo,
} from './types.js';

export interface WorkflowEngineOptions {
  readonly store: Store;
  /** This node's id: recorded as the owner of the runs it executes. */
  readonly nodeId: string;
  /** Time and timers. Default: the system clock. */
  readonly clock?: Clock;
  /** How long a run's lease holds without renewal, in ms. Renewed every third of it. Default 30000. */
  readonly leaseMs?: number;
  /** Where `ctx.dispatch` hands steps. Default: none (dispatching fails with `no_dispatcher`). */
  readonly dispatcher?: Dispatcher;
  /**
   * How often the engine looks for runs to take over (expired leases, pending runs), in ms; 0 turns it
   * off (call `recover()` yourself). Default: `leaseMs`, or 0 when `autoExecute` is false.
   */
  readonly recoverIntervalMs?: number;
  /** Receives errors no caller is waiting for. Default: a process warning. */
  readonly onError?: (error: unknown) => void;
  /**
   * Called when this node stops executing a run that is not finished: `paused`, `lease_lost` (another
   * node took it over; this node's late writes were rejected), `stopped` (engine stopped) or
   * `store_error` (a journal write failed; the run is recovered later).
   */
  readonly onRunHalted?: (
    workflowId: string,
    reason: 'paused' | 'lease_lost' | 'stopped' | 'store_error',
  ) => void;
  /**
   * Execute started runs (and their children) on this engine at once. Default true. When false, `start`
   * only makes the run durable with status `pending` and calls `onRunPending`; a supervisor then drives
   * each run with `executeRun(id)` (in a process of its own), and `recover()` picks up the rest.
   */
  readonly autoExecute?: boolean;
  /** Called once a run has been created `pending` (only when `autoExecute` is false). */
  readonly onRunPending?: (workflowId: string) => void;
  /**
   * PostgreSQL only: journal flushes committing at once (each on its own pool connection). Default 4.
   * SQLite has a single writer and always uses 1.
   */
  readonly maxFlushesInFlight?: number;
}

const optionsSchema = z.object({
  nodeId: z.string().min(1).max(200),
  leaseMs: z.number().int().min(10).max(86_400_000).optional(),
  recoverIntervalMs: z.number().int().min(0).optional(),
  maxFlushesInFlight: z.number().int().min(1).max(64).optional(),
});
const startOptionsSchema = z.object({ workflowId: z.string().min(1).max(200).optional() }).strict();
const listOptionsSchema = z
  .object({
    status: z.union([z.enum(WorkflowStatus), z.array(z.enum(WorkflowStatus))]).optional(),
    name: z.string().min(1).max(200).optional(),
    parentId: z.string().min(1).max(200).optional(),
    createdAfter: z.number().int().optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict();
const resultOptionsSchema = z.object({ timeoutMs: z.number().min(0).optional() }).strict();

/** Zod only where there is something to check: these calls are on the hot path. */
function isEmpty(options: object): boolean {
  for (const _ in options) return false;
  return true;
}

const CHANNEL = 'garrison_workflows';
/** NOTIFY payloads are limited (8000 bytes on PostgreSQL); ids are sent in chunks below this. */
const MAX_PAYLOAD = 7000;

type Final =
  { status: 'completed'; output: unknown } | { status: 'failed' | 'cancelled'; error: WorkflowErrorInfo };

function invalid(
  what: string,
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): ValidationError {
  return new ValidationError(`invalid ${what}: ${describeIssues(issues)}`);
}

function finalOf(row: RunRow): Final | undefined {
  if (row.status === 'completed') {
    return {
      status: 'completed',
      output: row.output === null ? undefined : (JSON.parse(row.output) as unknown),
    };
  }
  if (row.status === 'failed' || row.status === 'cancelled') {
    const error =
      row.error === null
        ? { name: 'Error', message: row.status }
        : (JSON.parse(row.error) as WorkflowErrorInfo);
    return { status: row.status, error };
  }
  return undefined;
}

function finalFromOutcome(outcome: Outcome): Final | undefined {
  if (outcome.kind === 'completed') {
    return {
      status: 'completed',
      output: outcome.output === null ? undefined : (JSON.parse(outcome.output) as unknown),
    };
  }
  if (outcome.kind === 'halted') return undefined;
  return { status: outcome.kind, error: outcome.error };
}

function settle<O>(id: string, final: Final): O {
  if (final.status === 'completed') return final.output as O;
  const code = final.status === 'cancelled' ? WorkflowErrorCode.cancelled : WorkflowErrorCode.failed;
  throw new WorkflowError(code, `workflow ${id} ${final.status}: ${final.error.message}`, {
    details: { workflowId: id, error: final.error },
  });
}

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
  private readonly flushSql: FlushSql;
  private readonly writer: JournalWriter;
  private readonly timers: DueTimers;
  private readonly host: ExecutionHost;
  private readonly defs = new Map<string, WorkflowDefinition<unknown, unknown>>();
  private readonly active = new Map<string, RunExecution>();
  private readonly starting = new Map<string, Promise<boolean>>();
  private readonly resultWaiters = new Map<string, Set<(final: Final) => void>>();
  private readonly instance = randomUUID();
  private readonly report: (error: unknown) => void;
  private readonly recoverIntervalMs: number;
  private readonly onRunHalted: WorkflowEngineOptions['onRunHalted'];
  private lastRecover = 0;
  private ready: Promise<void> | undefined;
  private isReady = false;
  private unlisten: Unsubscribe | undefined;
  private tick: DueHandle | undefined;
  private ticking = false;
  private readonly pendingWork = new Set<Promise<void>>();
  private readonly stopListeners = new Set<() => void>();
  private tickAgain = false;
  private doneIds: string[] = [];
  private stopped = false;
  private readonly lastWakeSeq = new Map<string, number>();

  constructor(options: WorkflowEngineOptions) {
    const parsed = optionsSchema.safeParse({
      nodeId: options.nodeId,
      leaseMs: options.leaseMs,
      recoverIntervalMs: options.recoverIntervalMs,
      maxFlushesInFlight: options.maxFlushesInFlight,
    });
    if (!parsed.success) throw invalid('workflow engine options', parsed.error.issues);
    this.nodeId = options.nodeId;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.leaseMs = options.leaseMs ?? 30_000;
    // A supervisor that drives runs itself (autoExecute off) decides when runs are taken over, too.
    this.recoverIntervalMs = options.recoverIntervalMs ?? (options.autoExecute === false ? 0 : this.leaseMs);
    this.dispatcher = options.dispatcher;
    this.onRunHalted = options.onRunHalted;
    this.report =
      options.onError ??
      ((error: unknown) => process.emitWarning(`workflow engine: ${String(error)}`, 'GarrisonWarning'));
    this.flushSql = this.store.dialect === 'postgres' ? postgresFlush : sqliteFlush;
    this.timers = new DueTimers(this.clock);
    const flush = this.flushSql;
    this.writer = new JournalWriter({
      // SQLite: several tiny statements, group-committed with the store's other writes. PostgreSQL: one
      // statement per flush, atomic by itself, so it needs no transaction round trips around it and
      // several flushes can commit in parallel.
      commit:
        this.store.dialect === 'postgres'
          ? (input) => flush(this.store, input, this.clock.now())
          : (input) => this.store.write((tx) => flush(tx, input, this.clock.now())),
      maxInFlight: this.store.dialect === 'postgres' ? (options.maxFlushesInFlight ?? 4) : 1,
      onControl: (runId, control) => this.active.get(runId)?.onControl(control),
    });
    const results: DispatchResults = {
      completeDispatched: (id, idx, output) => this.completeDispatched(id, idx, output),
      failDispatched: (id, idx, error) => this.failDispatched(id, idx, error),
    };
    this.host = {
      store: this.store,
      clock: this.clock,
      timers: this.timers,
      writer: this.writer,
      nodeId: this.nodeId,
      leaseMs: this.leaseMs,
      dispatcher: this.dispatcher,
      results,
      flushIn: (tx: Tx, input: FlushInput): Promise<FlushResult> =>
        this.flushSql(tx, input, this.clock.now()),
      definition: (ref) => this.definition(ref),
      launchChild: (def, id, text, parent, step) =>
        this.launch(
          new RunExecution(this.host, {
            id,
            def,
            inputText: text,
            fence: 1,
            parentId: parent.id,
            parentStep: step,
            control: null,
            journal: [],
            signals: [],
          }),
        ),
      cancelRun: async (id) => {
        await this.cancel(id).catch((error: unknown) => {
          if (!(error instanceof WorkflowError && error.code === WorkflowErrorCode.finished)) throw error;
        });
      },
      handedOff: (runId, idx, entry) => this.handedOff(runId, idx, entry),
      autoExecute: options.autoExecute ?? true,
      pendingCreated: (id) => options.onRunPending?.(id),
      report: this.report,
    };
  }

  /** Makes workflows known to this engine (needed before their runs can be started or recovered here). */
  register(...definitions: Array<WorkflowDefinition<unknown, unknown>>): this {
    for (const def of definitions) {
      const known = this.defs.get(def.name);
      if (known !== undefined && known !== def) {
        throw new WorkflowError(
          WorkflowErrorCode.conflict,
          `another workflow named '${def.name}' is registered already`,
        );
      }
      this.defs.set(def.name, def);
    }
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
    const def = this.definition(workflow);
    const opts = isEmpty(options)
      ? { success: true as const, data: {} as StartOptions }
      : startOptionsSchema.safeParse(options);
    if (!opts.success) throw invalid('start options', opts.error.issues);
    const text = inputText(def, input);
    const id = opts.data.workflowId ?? timeOrderedId(this.clock.now());
    if (!this.isReady) await this.ensureReady();
    let created: boolean;
    const existing = this.active.get(id);
    const inFlight = this.starting.get(id);
    if (existing !== undefined || inFlight !== undefined) {
      if (existing !== undefined && existing.def.name !== def.name)
        throw this.conflict(id, existing.def.name, def.name);
      if (inFlight !== undefined) await inFlight;
      created = false;
    } else {
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
    return this.handle<O>(id, created);
  }

  private async insertAndLaunch(
    def: WorkflowDefinition<unknown, unknown>,
    id: string,
    text: string,
  ): Promise<boolean> {
    const now = this.clock.now();
    const auto = this.host.autoExecute;
    const created = await this.writer.insertRun({
      id,
      name: def.name,
      status: auto ? 'running' : 'pending',
      input: text,
      parentId: null,
      parentStep: null,
      owner: auto ? this.nodeId : null,
      leaseUntil: auto ? now + this.leaseMs : null,
      fence: auto ? 1 : 0,
    });
    if (created && !auto) this.host.pendingCreated(id);
    else if (created) {
      this.launch(
        new RunExecution(this.host, {
          id,
          def,
          inputText: text,
          fence: 1,
          parentId: null,
          parentStep: null,
          control: null,
          journal: [],
          signals: [],
        }),
      );
    }
    return created;
  }

  private conflict(id: string, existing: string, wanted: string): WorkflowError {
    return new WorkflowError(
      WorkflowErrorCode.conflict,
      `a run with id ${id} exists already and is of workflow '${existing}', not '${wanted}'`,
      { details: { workflowId: id, existing, wanted } },
    );
  }

  private handle<O>(id: string, created: boolean): WorkflowHandle<O> {
    return {
      workflowId: id,
      created,
      result: (options) => this.result<O>(id, options),
      get: () => this.get<O>(id),
    };
  }

  /**
   * Waits for a run to finish and returns its output; throws `workflow_failed` or `workflow_cancelled`
   * (with the stored error in `details.error`), `workflow_not_found`, or `workflow_timeout`.
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
    const final = await new Promise<Final>((resolve, reject) => {
      let timer: DueHandle | undefined;
      const waiter = (f: Final): void => {
        timer?.cancel();
        this.removeWaiter(id, waiter);
        settled();
        resolve(f);
      };
      let set = this.resultWaiters.get(id);
      if (set === undefined) this.resultWaiters.set(id, (set = new Set()));
      set.add(waiter);
      // Stopping the engine ends the wait (the run itself goes on elsewhere or after a restart).
      const onStop = (): void => {
        timer?.cancel();
        this.removeWaiter(id, waiter);
        reject(new WorkflowError(WorkflowErrorCode.stopped, `the engine stopped while waiting for ${id}`));
      };
      this.stopListeners.add(onStop);
      const settled = (): void => void this.stopListeners.delete(onStop);
      const timeoutMs = opts.data.timeoutMs;
      if (timeoutMs !== undefined) {
        timer = this.timers.at(this.clock.now() + timeoutMs, () => {
          this.removeWaiter(id, waiter);
          settled();
          reject(
            new WorkflowError(
              WorkflowErrorCode.timeout,
              `workflow ${id} did not finish within ${timeoutMs} ms`,
              {
                details: { workflowId: id, timeoutMs },
              },
            ),
          );
        });
      }
      const exec = this.active.get(id);
      if (exec !== undefined) {
        void exec.done.then((outcome) => {
          const f = finalFromOutcome(outcome);
          if (f !== undefined) waiter(f);
        });
        return;
      }
      readRun(this.store, id).then(
        (row) => {
          if (row === undefined) {
            timer?.cancel();
            this.removeWaiter(id, waiter);
            settled();
            reject(
              new WorkflowError(WorkflowErrorCode.notFound, `no workflow run has id ${id}`, {
                details: { workflowId: id },
              }),
            );
            return;
          }
          const f = finalOf(row);
          if (f !== undefined) waiter(f);
        },
        (error: unknown) => {
          timer?.cancel();
          this.removeWaiter(id, waiter);
          settled();
          reject(asError(error));
        },
      );
    });
    return settle<O>(id, final);
  }

  private removeWaiter(id: string, waiter: (f: Final) => void): void {
    const set = this.resultWaiters.get(id);
    set?.delete(waiter);
    if (set?.size === 0) this.resultWaiters.delete(id);
  }

  private resolveWaiters(id: string, final: Final): void {
    const set = this.resultWaiters.get(id);
    if (set === undefined) return;
    for (const waiter of [...set]) waiter(final);
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
    const journals = await loadJournals(this.store, [id]);
    return (journals.get(id) ?? []).map((e) => ({
      index: e.idx,
      name: e.name,
      kind: e.kind,
      status: e.status,
      output: e.output,
      error: e.error,
      attempts: e.attempts,
      dueAt: e.dueAt,
    }));
  }

  /**
   * Cancels a run: its pending operations throw `workflow_cancelled`, running steps see their abort
   * signal, children are cancelled, and the compensations of finished steps run in reverse order before
   * the run ends `cancelled`. Returns the run as it is when the request is recorded.
   */
  async cancel(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    const status = await requestCancel(this.store, id, this.clock.now());
    if (status === undefined) return this.finishedOrMissing(id, 'cancelled');
    const exec = this.active.get(id);
    if (exec !== undefined) exec.requestCancel();
    else {
      await this.notify('wake', [id]);
      // Nobody may be executing it (pending, or its owner is gone): take it over here if allowed.
      this.background(this.executeRun(id));
    }
    return this.get(id);
  }

  /**
   * Pauses a run at its next step boundary (at once when it sleeps or waits, or has not started). A
   * paused run keeps its journal and does nothing until `resume`.
   */
  async pause(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    const status = await requestPause(this.store, id, this.clock.now());
    if (status === undefined) {
      const run = await this.get(id);
      if (run === undefined) throw this.notFound(id);
      if (run.status === 'paused' || run.control === 'pause') return run;
      if (run.control === 'cancel') {
        throw new WorkflowError(WorkflowErrorCode.invalidState, `workflow ${id} is being cancelled`);
      }
      throw this.finished(id, run.status);
    }
    if (status !== 'paused') {
      const exec = this.active.get(id);
      if (exec !== undefined) exec.requestPause();
      else await this.notify('wake', [id]);
    }
    return this.get(id);
  }

  /** Resumes a paused run (here, when its workflow is registered here), or withdraws a pending pause. */
  async resume(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    const outcome = await requestResume(this.store, id, this.clock.now());
    if (outcome === undefined) {
      const run = await this.get(id);
      if (run === undefined) throw this.notFound(id);
      if (FINAL_STATUSES.includes(run.status)) throw this.finished(id, run.status);
      throw new WorkflowError(WorkflowErrorCode.invalidState, `workflow ${id} is ${run.status}, not paused`);
    }
    if (outcome === 'withdrawn') {
      const exec = this.active.get(id);
      if (exec !== undefined) exec.withdrawPause();
      else await this.notify('wake', [id]);
    } else {
      await this.claimAndLaunch([id]);
    }
    return this.get(id);
  }

  /** Sends a signal to a run; it is kept until a `ctx.waitForSignal(name)` consumes it. */
  async signal(id: string, name: string, data?: unknown): Promise<void> {
    this.assertRunning();
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
      throw new ValidationError(`a signal needs a name of 1 to 200 characters, got ${JSON.stringify(name)}`);
    }
    let text: string;
    try {
      text = JSON.stringify(data ?? null);
    } catch (error) {
      throw new ValidationError(`signal data for ${name} cannot be stored as JSON`, undefined, error);
    }
    if (!this.isReady) await this.ensureReady();
    const seq = await insertSignal(this.store, id, name, text, this.clock.now());
    if (seq === undefined) {
      const run = await this.get(id);
      if (run === undefined) throw this.notFound(id);
      throw this.finished(id, run.status);
    }
    const exec = this.active.get(id);
    if (exec !== undefined) exec.deliverSignal({ seq, name, data: JSON.parse(text) as unknown });
    else await this.notify('wake', [id]);
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
    return this.handOff(workflowId, stepIndex, 'completed', text, undefined);
  }

  /** Journals the failure of a dispatched step; the workflow sees `dispatch_failed`. */
  async failDispatched(workflowId: string, stepIndex: number, error: unknown): Promise<boolean> {
    return this.handOff(workflowId, stepIndex, 'failed', null, errorInfo(error));
  }

  private async handOff(
    runId: string,
    idx: number,
    status: 'completed' | 'failed',
    output: string | null,
    error: WorkflowErrorInfo | undefined,
  ): Promise<boolean> {
    if (!Number.isInteger(idx) || idx < 0)
      throw new ValidationError(`a step index is a non-negative integer, got ${idx}`);
    const applied = await this.writer.handoff({
      runId,
      idx,
      kind: 'dispatch',
      status,
      output,
      error: error === undefined ? null : JSON.stringify(error),
    });
    if (applied) {
      this.handedOff(runId, idx, {
        idx,
        name: '',
        kind: 'dispatch',
        status,
        output: output === null ? undefined : (JSON.parse(output) as unknown),
        error,
        attempts: 1,
        dueAt: undefined,
        detail: undefined,
      });
    }
    return applied;
  }

  private handedOff(runId: string, idx: number, entry: JournalEntry): void {
    const exec = this.active.get(runId);
    if (exec !== undefined) exec.deliver(idx, entry);
    else this.background(this.notify('wake', [runId]));
  }

  /**
   * Takes over and resumes every unfinished run this node may execute: unowned ones, its own (after a
   * restart), and those whose owner's lease has expired. Returns how many it resumed.
   */
  async recover(): Promise<number> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    this.lastRecover = this.clock.now();
    let total = 0;
    for (;;) {
      const names = [...this.defs.keys()];
      const candidates = (await findClaimable(this.store, this.nodeId, this.clock.now(), 500)).filter(
        (c) => !this.active.has(c.id) && !this.starting.has(c.id) && names.includes(c.name),
      );
      if (candidates.length === 0) break;
      const launched = await this.claimAndLaunch(candidates.map((c) => c.id));
      total += launched.length;
      if (launched.length === 0) break;
    }
    return total;
  }

  /**
   * Ids of unfinished runs of workflows registered here that this node may take over now (pending, its
   * own, or with an expired lease), oldest first, not counting those executing here.
   */
  async claimable(limit = 100): Promise<string[]> {
    const names = new Set(this.defs.keys());
    const rows = await findClaimable(
      this.store,
      this.nodeId,
      this.clock.now(),
      Math.max(1, Math.min(limit, 10_000)),
    );
    return rows.filter((r) => names.has(r.name) && !this.active.has(r.id)).map((r) => r.id);
  }

  /**
   * Executes one run on this node until it ends or stops here (paused, taken over, engine stopped):
   * the unit a supervised process drives. Takes the run over first when allowed. Resolves with the run
   * as stored afterwards.
   */
  async executeRun(id: string): Promise<WorkflowRun | undefined> {
    this.assertRunning();
    if (!this.isReady) await this.ensureReady();
    const exec = this.active.get(id) ?? (await this.claimAndLaunch([id]))[0];
    if (exec !== undefined) await exec.done;
    return this.get(id);
  }

  private async claimAndLaunch(ids: readonly string[]): Promise<RunExecution[]> {
    const wanted = ids.filter((id) => !this.active.has(id));
    if (wanted.length === 0) return [];
    const now = this.clock.now();
    const claimed = await claimRuns(this.store, this.nodeId, wanted, now, now + this.leaseMs);
    if (claimed.length === 0) return [];
    const claimedIds = claimed.map((c) => c.id);
    const [journals, signals] = await Promise.all([
      loadJournals(this.store, claimedIds),
      loadSignals(this.store, claimedIds),
    ]);
    const launched: RunExecution[] = [];
    for (const c of claimed) {
      const def = this.defs.get(c.name);
      if (def === undefined) continue; // claimed for a cancel of a workflow unknown here; its lease will lapse
      const exec = new RunExecution(this.host, {
        id: c.id,
        def,
        inputText: c.input,
        fence: Number(c.fence),
        parentId: c.parent_id,
        parentStep: c.parent_step === null ? null : Number(c.parent_step),
        control: c.control,
        journal: journals.get(c.id) ?? [],
        signals: signals.get(c.id) ?? [],
      });
      this.launch(exec);
      launched.push(exec);
    }
    return launched;
  }

  private launch(exec: RunExecution): void {
    this.active.get(exec.id)?.halt({ kind: 'halted', reason: 'lease_lost' });
    this.active.set(exec.id, exec);
    void exec.done.then((outcome) => this.onDone(exec, outcome));
    void exec.execute();
  }

  private onDone(exec: RunExecution, outcome: Outcome): void {
    if (this.active.get(exec.id) === exec) this.active.delete(exec.id);
    const final = finalFromOutcome(outcome);
    if (final === undefined) {
      if (outcome.kind === 'halted') this.onRunHalted?.(exec.id, outcome.reason);
      return;
    }
    this.resolveWaiters(exec.id, final);
    this.doneIds.push(exec.id);
    if (this.doneIds.length === 1) {
      // Completions of one turn go out as one notification.
      setImmediate(() => {
        const ids = this.doneIds;
        this.doneIds = [];
        if (!this.stopped) this.background(this.notify('done', ids));
      });
    }
  }

  /** Stops executing: no new writes, every execution halted, leases of its runs ended for others to take. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.writer.stop();
    await this.writer.idle();
    const ids = [...this.active.keys()];
    for (const exec of this.active.values()) exec.halt({ kind: 'halted', reason: 'stopped' });
    this.active.clear();
    this.timers.stop();
    this.tick = undefined;
    for (const onStop of [...this.stopListeners]) onStop();
    await Promise.all([...this.pendingWork]);
    if (this.unlisten !== undefined) await this.unlisten();
    if (ids.length > 0) {
      await this.store
        .write((tx) =>
          tx.execute(
            `UPDATE garrison_workflow_runs SET lease_until = 0 WHERE owner = $1 AND id IN ${
              tx.dialect === 'postgres'
                ? '(SELECT jsonb_array_elements_text($2::jsonb))'
                : '(SELECT value FROM json_each($2))'
            } AND status IN ('running', 'sleeping', 'waiting')`,
            [this.nodeId, JSON.stringify(ids)],
          ),
        )
        .catch(this.report);
    }
  }

  // ---- internals ------------------------------------------------------------------------------------

  private definition(ref: WorkflowRef<unknown, unknown>): WorkflowDefinition<unknown, unknown> {
    if (typeof ref === 'string') {
      const def = this.defs.get(ref);
      if (def === undefined) {
        throw new WorkflowError(
          WorkflowErrorCode.unknown,
          `no workflow named '${ref}' is registered with this engine`,
          {
            details: { name: ref, registered: [...this.defs.keys()] },
          },
        );
      }
      return def;
    }
    if (typeof ref !== 'object' || ref === null || typeof ref.run !== 'function') {
      throw new ValidationError('expected a workflow made by defineWorkflow, or its name');
    }
    if (!this.defs.has(ref.name)) this.register(ref);
    return this.defs.get(ref.name) as WorkflowDefinition<unknown, unknown>;
  }

  private ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      this.unlisten = await this.store.listen(CHANNEL, (payload) => this.onNotification(payload));
      this.armTick();
      this.isReady = true;
    })();
    return this.ready;
  }

  /** A tick every third of a lease, at a steady cadence; a tick due while one runs follows it. */
  private armTick(): void {
    if (this.stopped) return;
    this.tick = this.timers.at(this.clock.now() + Math.max(1, Math.floor(this.leaseMs / 3)), () => {
      this.armTick();
      if (this.ticking) {
        this.tickAgain = true;
        return;
      }
      this.background(this.runTicks());
    });
  }

  private async runTicks(): Promise<void> {
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        await this.onTick().catch(this.report);
      } while (this.tickAgain && !this.stopped);
    } finally {
      this.ticking = false;
    }
  }

  /** Lease renewal, plus the fallbacks for wake-ups that never arrived. */
  private async onTick(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock.now();
    await renewLeases(this.store, this.nodeId, now + this.leaseMs);
    if (this.resultWaiters.size > 0) {
      for (const row of await readRuns(this.store, [...this.resultWaiters.keys()])) {
        const final = finalOf(row);
        if (final !== undefined) this.resolveWaiters(row.id, final);
      }
    }
    const seen = new Set<string>();
    for (const row of await ownedControls(this.store, this.nodeId)) {
      const exec = this.active.get(row.id);
      if (exec === undefined) continue;
      seen.add(row.id);
      const seq = Number(row.wake_seq);
      if (row.control !== null) exec.onControl(row.control);
      if (this.lastWakeSeq.get(row.id) !== seq) {
        this.lastWakeSeq.set(row.id, seq);
        await exec.refresh();
      }
    }
    for (const id of this.lastWakeSeq.keys()) if (!seen.has(id)) this.lastWakeSeq.delete(id);
    if (this.recoverIntervalMs > 0 && now - this.lastRecover >= this.recoverIntervalMs) await this.recover();
  }

  private async notify(kind: 'wake' | 'done', ids: readonly string[]): Promise<void> {
    let chunk: string[] = [];
    let size = 0;
    const send = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const payload = JSON.stringify({ e: this.instance, k: kind, ids: chunk });
      chunk = [];
      size = 0;
      await this.store.notify(CHANNEL, payload);
    };
    for (const id of ids) {
      if (size + id.length + 3 > MAX_PAYLOAD) await send();
      chunk.push(id);
      size += id.length + 3;
    }
    await send();
  }

  private onNotification(payload: string): void {
    let message: { e?: unknown; k?: unknown; ids?: unknown };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch (error) {
      this.report(error);
      return;
    }
    if (message.e === this.instance || !Array.isArray(message.ids)) return;
    const ids = message.ids.filter((id): id is string => typeof id === 'string');
    if (message.k === 'wake') {
      for (const id of ids) {
        const exec = this.active.get(id);
        if (exec !== undefined) this.background(exec.refresh());
      }
      return;
    }
    const waited = ids.filter((id) => this.resultWaiters.has(id));
    if (waited.length === 0) return;
    readRuns(this.store, waited).then((rows) => {
      for (const row of rows) {
        const final = finalOf(row);
        if (final !== undefined) this.resolveWaiters(row.id, final);
      }
    }, this.report);
  }

  /** Work no caller waits for: its errors are reported, and `stop` waits for it. */
  private background(work: Promise<unknown>): void {
    const tracked = work.then(
      () => undefined,
      (error: unknown) => {
        // Once stopped, a write refused for that reason is expected, not news.
        const code = (error as { code?: unknown } | null)?.code;
        if (!(this.stopped && (code === WorkflowErrorCode.stopped || code === 'store_closed')))
          this.report(error);
      },
    );
    this.pendingWork.add(tracked);
    void tracked.finally(() => this.pendingWork.delete(tracked));
  }

  private assertRunning(): void {
    if (this.stopped) throw new WorkflowError(WorkflowErrorCode.stopped, 'the workflow engine was stopped');
  }

  private notFound(id: string): WorkflowError {
    return new WorkflowError(WorkflowErrorCode.notFound, `no workflow run has id ${id}`, {
      details: { workflowId: id },
    });
  }

  private finished(id: string, status: WorkflowStatus): WorkflowError {
    return new WorkflowError(WorkflowErrorCode.finished, `workflow ${id} is ${status}`, {
      details: { workflowId: id, status },
    });
  }

  private async finishedOrMissing(id: string, accepted: WorkflowStatus): Promise<WorkflowRun> {
    const run = await this.get(id);
    if (run === undefined) throw this.notFound(id);
    if (run.status === accepted) return run;
    throw this.finished(id, run.status);
  }
}

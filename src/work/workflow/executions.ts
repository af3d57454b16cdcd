/**
 * The runs executing on this engine: launching an execution (fresh, or after taking a run over and
 * loading its journal once), and what happens when one ends.
 */
import type { Clock } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import { RunExecution, type ExecutionHost, type Outcome } from './execution.js';
import { claimRuns } from './run-writes.js';
import { loadJournals, loadSignals } from './runs.js';
import type { WorkflowDefinition } from './types.js';

export interface ExecutionsOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly nodeId: string;
  readonly leaseMs: number;
  /** The definition of a workflow registered here, by name. */
  readonly definition: (name: string) => WorkflowDefinition<unknown, unknown> | undefined;
  /** Called when an execution ends, after it left the active set. */
  readonly ended: (id: string, outcome: Outcome) => void;
  /** Called when an execution begins. */
  readonly launched: (id: string) => void;
}

export class Executions {
  /** Executions running here, by run id. */
  readonly active = new Map<string, RunExecution>();
  /** Runs whose claim here is in flight. */
  private readonly claiming = new Set<string>();
  /** Set once, right after construction (the host refers back to the engine). */
  host!: ExecutionHost;
  /** Claims asked for one run at a time (a workflow server each), gathered for one claim. */
  private asked: Array<{
    readonly id: string;
    readonly resolve: (exec: RunExecution | undefined) => void;
    readonly reject: (error: unknown) => void;
  }> = [];

  constructor(private readonly options: ExecutionsOptions) {}

  /** Executes a run just created here: nothing to load. */
  launchFresh(
    def: WorkflowDefinition<unknown, unknown>,
    id: string,
    inputText: string,
    parentId: string | null,
    parentStep: number | null,
    trace?: { readonly traceparent?: string | null; readonly tracestate?: string | null },
  ): void {
    this.launch(
      new RunExecution(this.host, {
        id,
        def,
        inputText,
        fence: 1,
        parentId,
        parentStep,
        control: null,
        traceparent: trace?.traceparent ?? null,
        tracestate: trace?.tracestate ?? null,
        journal: [],
        signals: [],
      }),
    );
  }

  /** Takes the runs over where allowed, loads their journals (one read for all) and executes them. */
  async claimAndLaunch(ids: readonly string[]): Promise<RunExecution[]> {
    // A run being claimed here already is left to that claim: two claims of one run here would each
    // bump its fence, and the one launched last could be the older.
    const wanted = ids.filter((id) => !this.active.has(id) && !this.claiming.has(id));
    if (wanted.length === 0) return [];
    for (const id of wanted) this.claiming.add(id);
    try {
      return await this.claimAndLaunchNow(wanted);
    } finally {
      for (const id of wanted) this.claiming.delete(id);
    }
  }

  /**
   * Takes one run over and executes it, like `claimAndLaunch([id])`; the runs asked for until the next
   * turn of the event loop are claimed together, their journals read in one query (a launcher starting
   * many servers, as after a takeover, pays one claim for all, not one each).
   */
  claimOne(id: string): Promise<RunExecution | undefined> {
    return new Promise((resolve, reject) => {
      this.asked.push({ id, resolve, reject });
      if (this.asked.length === 1) setImmediate(() => void this.claimAsked());
    });
  }

  private async claimAsked(): Promise<void> {
    const batch = this.asked;
    this.asked = [];
    try {
      const ids = [...new Set(batch.map((b) => b.id))];
      const got = new Map((await this.claimAndLaunch(ids)).map((e) => [e.id, e]));
      // PostgreSQL: a claim of several runs skips rows locked right now (a flush, a waking write); those
      // are claimed one by one, waiting for their row, as a claim of one run always does.
      if (ids.length > 1 && this.options.store.dialect === 'postgres')
        for (const id of ids)
          if (!got.has(id) && !this.active.has(id))
            for (const e of await this.claimAndLaunch([id])) got.set(e.id, e);
      for (const b of batch) b.resolve(got.get(b.id));
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  private async claimAndLaunchNow(wanted: readonly string[]): Promise<RunExecution[]> {
    const { store, nodeId, leaseMs, clock } = this.options;
    const now = clock.now();
    const claimed = await claimRuns(store, nodeId, wanted, now, now + leaseMs);
    if (claimed.length === 0) return [];
    const claimedIds = claimed.map((c) => c.id);
    const [journals, signals] = await Promise.all([
      loadJournals(store, claimedIds),
      loadSignals(store, claimedIds),
    ]);
    const launched: RunExecution[] = [];
    for (const c of claimed) {
      const def = this.options.definition(c.name);
      if (def === undefined) continue; // claimed for a cancel of a workflow unknown here; its lease will lapse
      const exec = new RunExecution(this.host, {
        id: c.id,
        def,
        inputText: c.input,
        fence: Number(c.fence),
        parentId: c.parent_id,
        parentStep: c.parent_step === null ? null : Number(c.parent_step),
        control: c.control,
        traceparent: c.traceparent,
        tracestate: c.tracestate,
        journal: journals.get(c.id) ?? [],
        signals: signals.get(c.id) ?? [],
      });
      this.launch(exec);
      launched.push(exec);
    }
    return launched;
  }

  /**
   * Halts one execution (its supervising process died) and forgets it at once, so that the run can be
   * taken over again here right away. False when the run was not executing here.
   */
  halt(id: string): boolean {
    const exec = this.active.get(id);
    if (exec === undefined) return false;
    this.active.delete(id);
    exec.halt({ kind: 'halted', reason: 'stopped' });
    return true;
  }

  /**
   * Drops an execution that only waits, for its run to be parked: it leaves the active set at once and
   * is halted (`parked`). False when it is not the execution of its run here any more.
   */
  drop(exec: RunExecution): boolean {
    if (this.active.get(exec.id) !== exec) return false;
    this.active.delete(exec.id);
    exec.halt({ kind: 'halted', reason: 'parked' });
    return true;
  }

  /** Halts every execution (the engine stops); returns the ids of the runs that were executing. */
  haltAll(): string[] {
    const ids = [...this.active.keys()];
    for (const exec of this.active.values()) exec.halt({ kind: 'halted', reason: 'stopped' });
    this.active.clear();
    return ids;
  }

  private launch(exec: RunExecution): void {
    // A run taken over again by this very engine: the older execution must not write any more.
    this.active.get(exec.id)?.halt({ kind: 'halted', reason: 'lease_lost' });
    this.active.set(exec.id, exec);
    this.options.launched(exec.id);
    void exec.done.then((outcome) => {
      if (this.active.get(exec.id) === exec) this.active.delete(exec.id);
      this.options.ended(exec.id, outcome);
    });
    void exec.execute();
  }
}

/**
 * This engine's side of parking (`park.ts`): it notices executions that only wait, drops them from
 * memory and parks their rows, and keeps, per run it parked, one small index entry — its id and, when
 * it has one, a timer for its `wake_at` in the engine's single timer heap — so that a wake-up heard here
 * (a signal or result handed in on this engine, a wake-up notification, the timer) takes the run up at
 * once. The index is only a shortcut: the rows say what waits, and any node's scan finds a woken run.
 */
import type { Clock } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import type { DueHandle, DueTimers } from './due-timers.js';
import type { RunExecution } from './execution.js';
import { parkRun } from './park.js';

export interface ParkingHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly timers: DueTimers;
  readonly nodeId: string;
  /** A wait due sooner than this (ms) keeps its run in memory. */
  readonly minWaitMs: number;
  /** Stops the execution here and forgets it, unless it is not the one executing the run any more. */
  drop(run: RunExecution): boolean;
  /** Takes the run up again (here, or through the supervisor). */
  takeUp(id: string): void;
  /** Turns those of these parked runs whose wake-up time has come pending; their ids. */
  wakeDue(ids: readonly string[]): Promise<string[]>;
  /** Takes a run another engine parked up here, if it is woken and its workflow is registered here. */
  takeUpWoken(id: string): void;
  /** Background work: errors reported, waited for by `stop`. */
  run(work: Promise<unknown>): void;
}

export class Parking {
  /** Runs parked by this engine, with the timer of their `wake_at` (none: only a wake-up wakes them). */
  private readonly parked = new Map<string, DueHandle | undefined>();
  /** Runs being parked now; true once something woke them meanwhile. */
  private readonly parking = new Map<string, boolean>();
  /** The park writes in flight, by run id. */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly candidates = new Set<RunExecution>();
  private scheduled = false;
  private dueIds: string[] = [];
  private stopped = false;

  constructor(private readonly host: ParkingHost) {}

  /** Runs parked by this engine (or being parked), each held as one index entry. */
  get size(): number {
    return this.parked.size + this.parking.size;
  }

  /** Resolves once the run's park write (if one is in flight) has settled. */
  settled(id: string): Promise<void> {
    return this.writes.get(id) ?? Promise.resolve();
  }

  /** Whether the run is being parked here now (its row may still name this node). */
  isParking(id: string): boolean {
    return this.parking.has(id);
  }

  /**
   * An execution may only be waiting. Looked at once the current turn is over: the code may still be
   * about to call another operation (`Promise.all`) in a microtask.
   */
  consider(run: RunExecution): void {
    if (this.stopped) return;
    this.candidates.add(run);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const now = this.host.clock.now();
      for (const exec of this.candidates) {
        const plan = exec.parkPlan(now, this.host.minWaitMs);
        if (plan === undefined || this.stopped || !this.host.drop(exec)) continue;
        this.parking.set(exec.id, false);
        const write = this.park(exec, plan);
        this.writes.set(
          exec.id,
          write.catch(() => undefined),
        );
        this.host.run(write.finally(() => this.writes.delete(exec.id)));
      }
      this.candidates.clear();
    });
  }

  /**
   * Something was handed to a run not executing here: take it up — at once when this engine parked it,
   * after a look at its row otherwise (another engine parked it, or it executes elsewhere).
   */
  wake(id: string): void {
    if (this.parking.has(id)) {
      this.parking.set(id, true);
      return;
    }
    if (!this.parked.has(id)) {
      if (!this.stopped) this.host.takeUpWoken(id);
      return;
    }
    this.parked.get(id)?.cancel();
    this.parked.delete(id);
    this.host.takeUp(id);
  }

  /** The run executes again, or ended: its entry goes. */
  forget(id: string): void {
    this.parked.get(id)?.cancel();
    this.parked.delete(id);
  }

  /** The engine stops: the index goes (the rows keep everything). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.parked.values()) timer?.cancel();
    this.parked.clear();
    this.candidates.clear();
  }

  private async park(
    exec: RunExecution,
    plan: NonNullable<ReturnType<RunExecution['parkPlan']>>,
  ): Promise<void> {
    const { id } = exec;
    let result: Awaited<ReturnType<typeof parkRun>>;
    try {
      result = await parkRun(
        this.host.store,
        { id, fence: exec.fence, nodeId: this.host.nodeId },
        plan,
        this.host.clock.now(),
      );
    } catch (error) {
      // Not parked: the row is still this node's; execute it again from its journal.
      this.parking.delete(id);
      if (!this.stopped) this.host.takeUp(id);
      throw error;
    }
    const wokenMeanwhile = this.parking.get(id) === true;
    this.parking.delete(id);
    if (this.stopped || result === 'lost') return;
    if (result === 'woken' || wokenMeanwhile) {
      this.host.takeUp(id);
      return;
    }
    this.watch(id, plan.wakeAt);
  }

  /**
   * Keeps an index entry for a parked run, with a timer for its wake-up time (taken up at once when
   * that has passed). Parked runs found by a scan (another node parked them) are watched the same way.
   */
  watch(id: string, wakeAt: number | undefined): void {
    if (this.stopped || this.parking.has(id)) return;
    this.parked.get(id)?.cancel();
    if (wakeAt !== undefined && wakeAt <= this.host.clock.now()) {
      this.due(id);
      return;
    }
    this.parked.set(id, wakeAt === undefined ? undefined : this.host.timers.at(wakeAt, () => this.due(id)));
  }

  /** A parked run's wake-up time came: its row turns pending (those due together in one write), then it is taken up. */
  private due(id: string): void {
    this.parked.delete(id);
    this.dueIds.push(id);
    if (this.dueIds.length > 1) return;
    setImmediate(() => {
      const ids = this.dueIds;
      this.dueIds = [];
      if (this.stopped) return;
      this.host.run(
        this.host.wakeDue(ids).then((woken) => {
          for (const w of woken) this.host.takeUp(w);
        }),
      );
    });
  }

  /** Whether this engine watches the run (it parked it, or armed its wake-up). */
  watches(id: string): boolean {
    return this.parked.has(id);
  }
}

/**
 * What an engine does on its own: wake-ups between nodes and from clients (LISTEN/NOTIFY on PostgreSQL;
 * on SQLite in-process, plus a poll of `PRAGMA data_version` that notices other processes' commits within
 * a few ms), and a tick every third of a lease that renews this node's leases, catches what a lost
 * wake-up would have delivered (pause/cancel requests, signals and results handed to waiting runs,
 * results other nodes' runs reached), and takes over orphaned runs. Background work is tracked so that
 * stopping waits for it.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../runtime/clock.js';
import { watchCommits, type CommitWatch } from '../../store/commit-watch.js';
import type { Store, Unsubscribe } from '../../store/index.js';
import { PENDING_CHANNEL, WORKFLOWS_CHANNEL } from './channels.js';
import type { DueTimers } from './due-timers.js';
import { WorkflowErrorCode } from './errors.js';
import type { RunExecution } from './execution.js';
import { finalOf } from './outcomes.js';
import type { ResultWaiters } from './result-waiters.js';
import { renewLeases } from './run-writes.js';
import { ownedControls, readRuns } from './runs.js';

/** NOTIFY payloads are limited (8000 bytes on PostgreSQL); ids are sent in chunks below this. */
const MAX_PAYLOAD = 7000;

export interface BackgroundHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly timers: DueTimers;
  readonly nodeId: string;
  readonly leaseMs: number;
  /** How often to look for runs to take over, in ms; 0: never. */
  readonly recoverIntervalMs: number;
  /** Executions running on this engine, by run id. */
  readonly active: ReadonlyMap<string, RunExecution>;
  readonly waiters: ResultWaiters;
  /**
   * SQLite: how often to look whether another process committed, in ms (then look at this node's runs
   * and for pending ones at once); 0: never.
   */
  readonly changePollMs: number;
  /**
   * Takes up runs that became pending elsewhere (a client started or resumed them), when this engine
   * takes runs up on its own or hands them to a supervisor; undefined: it does neither.
   */
  readonly takePending: (() => Promise<unknown>) | undefined;
  recover(): Promise<number>;
  /** A wake-up for a run not executing here: take it up when this engine parked it. */
  wakeParked(id: string): void;
  /** A run ended elsewhere: forget it if this engine parked it. */
  forgetParked(id: string): void;
  report(error: unknown): void;
}

export class EngineBackground {
  /** Tells this engine's own notifications apart from other engines' (several may share a process). */
  private readonly instance = randomUUID();
  private readonly pending = new Set<Promise<void>>();
  private readonly lastWakeSeq = new Map<string, number>();
  private unlisten: Unsubscribe | undefined;
  private unlistenPending: Unsubscribe | undefined;
  private watch: CommitWatch | undefined;
  /** What the next look covers: this node's runs (their signals and controls), pending runs. */
  private wanted = { owned: false, pending: false };
  private looking = false;
  private ticking = false;
  private tickAgain = false;
  private lastRecover = 0;
  private doneIds: string[] = [];
  private stopped = false;

  constructor(private readonly host: BackgroundHost) {}

  /** Listens for wake-ups and starts the tick. */
  async start(): Promise<void> {
    const { store, clock, takePending, changePollMs } = this.host;
    this.unlisten = await store.listen(WORKFLOWS_CHANNEL, (payload) => this.onNotification(payload));
    if (takePending !== undefined) {
      this.unlistenPending = await store.listen(PENDING_CHANNEL, () => this.look({ pending: true }));
    }
    this.watch = watchCommits(store, {
      intervalMs: changePollMs,
      timers: clock,
      onChange: () => this.look({ owned: true, pending: true }),
      onError: (error) => this.host.report(error),
    });
    this.armTick();
  }

  /** Records that `recover` just ran (the tick skips its own until the interval has passed again). */
  recovered(): void {
    this.lastRecover = this.host.clock.now();
  }

  /** Wakes whichever node executes these runs: something was handed to them or asked of them. */
  wake(ids: readonly string[]): Promise<void> {
    return this.notify('wake', ids);
  }

  /** A run ended here: tell waiters on other nodes (the completions of one turn go out together). */
  done(id: string): void {
    this.doneIds.push(id);
    if (this.doneIds.length > 1) return;
    setImmediate(() => {
      const ids = this.doneIds;
      this.doneIds = [];
      if (!this.stopped) this.run(this.notify('done', ids));
    });
  }

  /** Work no caller waits for: its errors are reported, and `stop` waits for it. */
  run(work: Promise<unknown>): void {
    const tracked = work.then(
      () => undefined,
      (error: unknown) => {
        // Once stopped, a write refused for that reason is expected, not news.
        const code = (error as { code?: unknown } | null)?.code;
        if (!(this.stopped && (code === WorkflowErrorCode.stopped || code === 'store_closed'))) {
          this.host.report(error);
        }
      },
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Stops listening and ticking, after the background work in progress. (The engine stops the timers.) */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.stop();
    await Promise.all([...this.pending]);
    if (this.unlisten !== undefined) await this.unlisten();
    if (this.unlistenPending !== undefined) await this.unlistenPending();
  }

  /** A tick every third of a lease, at a steady cadence; a tick due while one runs follows it. */
  private armTick(): void {
    if (this.stopped) return;
    const every = Math.max(1, Math.floor(this.host.leaseMs / 3));
    this.host.timers.at(this.host.clock.now() + every, () => {
      this.armTick();
      if (this.ticking) this.tickAgain = true;
      else this.run(this.runTicks());
    });
  }

  private async runTicks(): Promise<void> {
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        await this.tick().catch((error: unknown) => this.host.report(error));
      } while (this.tickAgain && !this.stopped);
    } finally {
      this.ticking = false;
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { store, nodeId, leaseMs } = this.host;
    const now = this.host.clock.now();
    await renewLeases(store, nodeId, now + leaseMs);
    await this.resolveWaiters();
    await this.refreshOwned();
    const interval = this.host.recoverIntervalMs;
    if (interval > 0 && now - this.lastRecover >= interval) await this.host.recover();
  }

  /** Looks at the store now (coalesced: one look at a time, one more after it when asked meanwhile). */
  private look(what: { owned?: boolean; pending?: boolean }): void {
    if (this.stopped) return;
    if (what.owned === true) this.wanted.owned = true;
    if (what.pending === true && this.host.takePending !== undefined) this.wanted.pending = true;
    if (this.looking || (!this.wanted.owned && !this.wanted.pending)) return;
    this.looking = true;
    this.run(
      (async () => {
        try {
          while (!this.stopped && (this.wanted.owned || this.wanted.pending)) {
            const { owned, pending } = this.wanted;
            this.wanted = { owned: false, pending: false };
            if (owned) {
              await this.resolveWaiters();
              if (this.host.active.size > 0) await this.refreshOwned();
            }
            if (pending) await this.host.takePending?.();
          }
        } finally {
          this.looking = false;
        }
      })(),
    );
  }

  /** Result waiters whose runs ended elsewhere. */
  private async resolveWaiters(): Promise<void> {
    const { store, waiters } = this.host;
    const waited = waiters.ids();
    if (waited.length === 0) return;
    for (const row of await readRuns(store, waited)) {
      const final = finalOf(row);
      if (final !== undefined) waiters.resolve(row.id, final);
    }
  }

  /** Runs executing here whose wake-up counter moved, or that carry a control request: refresh them. */
  private async refreshOwned(): Promise<void> {
    const { store, nodeId, active } = this.host;
    const seen = new Set<string>();
    for (const row of await ownedControls(store, nodeId)) {
      const exec = active.get(row.id);
      if (exec === undefined) continue;
      seen.add(row.id);
      if (row.control !== null) exec.onControl(row.control);
      const seq = Number(row.wake_seq);
      if (this.lastWakeSeq.get(row.id) !== seq) {
        this.lastWakeSeq.set(row.id, seq);
        await exec.refresh();
      }
    }
    for (const id of this.lastWakeSeq.keys()) if (!seen.has(id)) this.lastWakeSeq.delete(id);
  }

  private async notify(kind: 'wake' | 'done', ids: readonly string[]): Promise<void> {
    let chunk: string[] = [];
    let size = 0;
    const send = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const payload = JSON.stringify({ e: this.instance, k: kind, ids: chunk });
      chunk = [];
      size = 0;
      await this.host.store.notify(WORKFLOWS_CHANNEL, payload);
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
      this.host.report(error);
      return;
    }
    if (message.e === this.instance || !Array.isArray(message.ids)) return;
    const ids = message.ids.filter((id): id is string => typeof id === 'string');
    if (message.k === 'wake') {
      for (const id of ids) {
        const exec = this.host.active.get(id);
        if (exec !== undefined) this.run(exec.refresh());
        else this.host.wakeParked(id);
      }
      return;
    }
    for (const id of ids) this.host.forgetParked(id);
    const waited = ids.filter((id) => this.host.waiters.has(id));
    if (waited.length === 0) return;
    this.run(
      readRuns(this.host.store, waited).then((rows) => {
        for (const row of rows) {
          const final = finalOf(row);
          if (final !== undefined) this.host.waiters.resolve(row.id, final);
        }
      }),
    );
  }
}

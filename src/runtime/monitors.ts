import type { DownMessage } from './behaviour.js';
import type { Clock } from './clock.js';
import type { MonitorInfo } from './events.js';
import type { ProcessRef } from './pid.js';
import type { Proc } from './process.js';
import type { ExitReason } from './reasons.js';

/** A monitor, as handed to its creator. Pass it to `demonitor` to release it. */
export interface MonitorRef {
  /** Unique within the runtime. */
  readonly id: number;
  /** True until the target exits or the monitor is released. */
  readonly active: boolean;
}

/** Something other than a process that wants to know when a process exits (a pending call, a timer owner…). */
export interface DownWatcher {
  /** Names the watcher in leak reports. */
  readonly label: string;
  down(msg: DownMessage): void;
}

export class MonitorRecord implements MonitorRef {
  active = true;
  /** Set by `demonitor` after the DOWN was queued: the process skips it. */
  flushed = false;

  constructor(
    readonly id: number,
    readonly target: ProcessRef,
    public targetProc: Proc | undefined,
    public watcher: Proc | DownWatcher | undefined,
    readonly createdAt: number,
  ) {}
}

function isDownWatcher(w: Proc | DownWatcher): w is DownWatcher {
  return typeof (w as Partial<DownWatcher>).down === 'function';
}

/**
 * Every monitor in the runtime. A monitor is referenced from three places — this table (for the leak
 * check), its target (to send DOWN) and, for a process watcher, the watcher (so the watcher's exit releases
 * it) — and released from all three at once.
 */
export class MonitorTable {
  private readonly active = new Map<number, MonitorRecord>();
  private next = 1;

  constructor(
    private readonly clock: Clock,
    /** Delivers a DOWN to a watching process's mailbox. */
    private readonly toProcess: (watcher: Proc, msg: DownMessage) => void,
    /** Reports a callback watcher that threw. */
    private readonly onWatcherError: (target: ProcessRef, error: unknown) => void,
  ) {}

  get size(): number {
    return this.active.size;
  }

  /** Monitors a live process. */
  create(target: Proc, watcher: Proc | DownWatcher): MonitorRecord {
    const rec = new MonitorRecord(this.next++, target.pid, target, watcher, this.clock.now());
    this.active.set(rec.id, rec);
    (target.monitoredBy ??= new Set()).add(rec);
    if (!isDownWatcher(watcher)) (watcher.monitoring ??= new Set()).add(rec);
    return rec;
  }

  /** Monitors something that does not exist: the DOWN (`noproc`) comes at once. */
  createForMissing(target: ProcessRef, watcher: Proc | DownWatcher): MonitorRecord {
    const rec = new MonitorRecord(this.next++, target, undefined, watcher, this.clock.now());
    rec.active = false;
    const msg: DownMessage = { type: 'DOWN', ref: rec, target, reason: 'noproc' };
    if (isDownWatcher(watcher)) queueMicrotask(() => this.notify(watcher, msg));
    else this.toProcess(watcher, msg);
    rec.watcher = undefined;
    return rec;
  }

  /** Releases a monitor; true when it was active. A DOWN already queued for it is skipped. */
  release(rec: MonitorRecord): boolean {
    if (!rec.active) {
      rec.flushed = true;
      return false;
    }
    this.unlink(rec);
    rec.flushed = true;
    return true;
  }

  /** The target exited: every monitor on it fires once and is released. */
  targetExited(target: Proc, reason: ExitReason): void {
    const recs = target.monitoredBy;
    if (recs === undefined) return;
    target.monitoredBy = undefined;
    for (const rec of recs) {
      const watcher = rec.watcher;
      this.unlink(rec);
      if (watcher === undefined) continue;
      const msg: DownMessage = { type: 'DOWN', ref: rec, target: target.pid, reason };
      if (isDownWatcher(watcher)) this.notify(watcher, msg);
      else this.toProcess(watcher, msg);
    }
  }

  /** The watcher exited: the monitors it held are released without firing. */
  watcherExited(watcher: Proc): void {
    const recs = watcher.monitoring;
    if (recs === undefined) return;
    watcher.monitoring = undefined;
    for (const rec of recs) this.unlink(rec);
  }

  /** Active monitors created at least `ageMs` ago, oldest first. */
  olderThan(ageMs: number): MonitorInfo[] {
    const now = this.clock.now();
    const out: MonitorInfo[] = [];
    for (const rec of this.active.values()) {
      const age = now - rec.createdAt;
      if (age < ageMs || rec.targetProc === undefined || rec.watcher === undefined) continue;
      const w = rec.watcher;
      out.push({
        id: rec.id,
        target: rec.targetProc.pid,
        watcher: isDownWatcher(w) ? w.label : w.pid,
        createdAt: rec.createdAt,
        ageMs: age,
      });
    }
    return out;
  }

  private unlink(rec: MonitorRecord): void {
    rec.active = false;
    this.active.delete(rec.id);
    rec.targetProc?.monitoredBy?.delete(rec);
    const w = rec.watcher;
    if (w !== undefined && !isDownWatcher(w)) w.monitoring?.delete(rec);
    rec.targetProc = undefined;
    rec.watcher = undefined;
  }

  private notify(watcher: DownWatcher, msg: DownMessage): void {
    try {
      watcher.down(msg);
    } catch (error) {
      this.onWatcherError(msg.target, error);
    }
  }
}

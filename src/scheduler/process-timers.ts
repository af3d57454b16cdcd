/**
 * Process timers: in-memory one-shot and repeating timers that send an info message to their owner
 * process. Every timer has an owner and dies with it (one monitor per owner, labelled `timers`, held
 * only while the owner has timers). All of them share one clock timer, armed for the earliest due time
 * of a min-heap and re-armed when that changes — a thousand process timers are one host timer.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import {
  NoProcError,
  Pid,
  type Clock,
  type MonitorRef,
  type ProcessRef,
  type Runtime,
  type TimerHandle,
} from '../runtime/index.js';
import { SchedulerStoppedError, TimerNotFoundError } from './errors.js';
import type { SchedulerEventSink } from './events.js';
import { emitTo } from '../telemetry/index.js';
import { TimerHeap, type HeapEntry } from './timer-heap.js';

/** The kinds of process timer. */
export const ProcessTimerKind = {
  /** Fires once, `delayMs` after it was made. */
  after: 'after',
  /** Fires every `intervalMs` until cancelled or its owner exits. */
  every: 'every',
} as const;
export type ProcessTimerKind = (typeof ProcessTimerKind)[keyof typeof ProcessTimerKind];

/** A process timer, as handed to its creator: pass it to `cancel`, `updateInterval`, `runNow`. */
export class ProcessTimerRef {
  /** @internal */
  constructor(
    /** Unique within its scheduler, e.g. `pt-17`. */
    readonly id: string,
    /** The process the timer's messages go to. */
    readonly owner: Pid,
  ) {}

  toString(): string {
    return `#Timer<${this.id}>`;
  }
}

/** A process timer as `list` shows it. */
export interface ProcessTimerInfo {
  readonly id: string;
  readonly owner: Pid;
  readonly kind: ProcessTimerKind;
  /** Next due time, UNIX epoch ms (clock time). */
  readonly dueAt: number;
  /** The interval of an `every` timer in ms; null for `after`. */
  readonly intervalMs: number | null;
  /** Messages sent so far (`runNow` included). */
  readonly firedCount: number;
}

export interface EveryOptions {
  /** Also send the message at once (the schedule is unchanged). Default false. */
  readonly runNow?: boolean;
}

export interface ProcessTimersOptions {
  readonly runtime: Runtime;
  readonly clock: Clock;
  /**
   * Called when a timer's message could not be delivered (the owner's mailbox refused it). The timer
   * itself carries on. Default: a process warning.
   */
  readonly onDeliveryError?: (timer: ProcessTimerInfo, error: unknown) => void;
  /** Where `timers.active` (kind `process`) goes when the count changes. Default none. */
  readonly events?: SchedulerEventSink;
}

interface Entry extends HeapEntry {
  readonly ref: ProcessTimerRef;
  readonly kind: ProcessTimerKind;
  readonly msg: unknown;
  intervalMs: number | null;
  firedCount: number;
  /** When the schedule last started counting: creation or the last scheduled firing. */
  anchor: number;
}

interface Owner {
  readonly monitor: MonitorRef;
  readonly timers: Set<Entry>;
}

// A due time past the largest Date is a mistake, not a plan.
const MAX_MS = 8_640_000_000_000_000;
const delaySchema = z.number().min(0).max(MAX_MS);
const intervalSchema = z.number().int().min(1).max(MAX_MS);
const ownerSchema = z.union([z.instanceof(Pid), z.string().min(1).max(200)]);
const everyOptionsSchema = z.strictObject({ runNow: z.boolean().optional() }).optional();

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`invalid ${what}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

function defaultDeliveryError(timer: ProcessTimerInfo, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`timer ${timer.id} for ${timer.owner.toString()}: ${message}`, 'GarrisonWarning');
}

export class ProcessTimers {
  private readonly runtime: Runtime;
  private readonly clock: Clock;
  private readonly onDeliveryError: (timer: ProcessTimerInfo, error: unknown) => void;
  private readonly heap = new TimerHeap<Entry>();
  private readonly byId = new Map<string, Entry>();
  private readonly owners = new Map<Pid, Owner>();
  /** Refs this instance handed out, so a stale ref reads as "finished" and a foreign one as unknown. */
  private readonly issued = new WeakSet<ProcessTimerRef>();
  private handle: TimerHandle | undefined;
  private armedAt = Infinity;
  private nextId = 1;
  private nextSeq = 0;
  private stopped = false;
  private readonly events: SchedulerEventSink | undefined;
  /** The count last reported as `timers.active`. */
  private reported = -1;

  constructor(options: ProcessTimersOptions) {
    this.events = options.events;
    this.runtime = options.runtime;
    this.clock = options.clock;
    this.onDeliveryError = options.onDeliveryError ?? defaultDeliveryError;
  }

  /** Active process timers. */
  get size(): number {
    return this.byId.size;
  }

  /** Owners holding a monitor (one per owner with at least one timer). */
  get monitorCount(): number {
    return this.owners.size;
  }

  /** Whether the one clock timer is armed. */
  get armed(): boolean {
    return this.handle !== undefined;
  }

  /** Sends `msg` to `owner` once, `delayMs` ms from now. */
  after(owner: ProcessRef, delayMs: number, msg: unknown): ProcessTimerRef {
    const delay = check(delaySchema, delayMs, 'delayMs');
    const pid = this.resolveLive(owner);
    return this.add(pid, ProcessTimerKind.after, msg, this.clock.now() + delay, null).ref;
  }

  /** Sends `msg` to `owner` every `intervalMs` ms (the first time one interval from now). */
  every(owner: ProcessRef, intervalMs: number, msg: unknown, options?: EveryOptions): ProcessTimerRef {
    const interval = check(intervalSchema, intervalMs, 'intervalMs');
    const o = check(everyOptionsSchema, options, 'every options');
    const pid = this.resolveLive(owner);
    const entry = this.add(pid, ProcessTimerKind.every, msg, this.clock.now() + interval, interval);
    if (o?.runNow === true) this.deliver(entry);
    return entry.ref;
  }

  /**
   * Cancels a timer: true when it was active, false when it had already finished (fired, cancelled, or
   * died with its owner). A message already sent stays in the owner's mailbox.
   */
  cancel(ref: ProcessTimerRef): boolean {
    const entry = this.entryOf(ref, false);
    if (entry === undefined) return false;
    this.drop(entry);
    this.rearm();
    return true;
  }

  /**
   * Changes an `every` timer's interval. The next firing is one new interval after the last scheduled
   * firing (or the creation), and never in the past: at once if that time has passed.
   */
  updateInterval(ref: ProcessTimerRef, intervalMs: number): void {
    const interval = check(intervalSchema, intervalMs, 'intervalMs');
    const entry = this.entryOf(ref, true) as Entry;
    if (entry.kind !== ProcessTimerKind.every) {
      throw new ValidationError(`timer ${entry.ref.id} fires once; only an every timer has an interval`);
    }
    entry.intervalMs = interval;
    entry.dueAt = Math.max(this.clock.now(), entry.anchor + interval);
    entry.seq = this.nextSeq++;
    this.heap.update(entry);
    this.rearm();
  }

  /**
   * Sends the timer's message now. An `every` timer keeps its schedule; an `after` timer has fired its
   * one time early and is finished.
   */
  runNow(ref: ProcessTimerRef): void {
    const entry = this.entryOf(ref, true) as Entry;
    if (entry.kind === ProcessTimerKind.after) {
      this.drop(entry);
      this.rearm();
    }
    this.deliver(entry);
  }

  /** Active timers, soonest first; only those of `owner` when given. */
  list(filter: { owner?: ProcessRef } = {}): ProcessTimerInfo[] {
    const f = check(z.strictObject({ owner: ownerSchema.optional() }), filter, 'list filter');
    let entries: Iterable<Entry>;
    if (f.owner === undefined) entries = this.byId.values();
    else {
      const pid = this.resolve(f.owner);
      entries = (pid === undefined ? undefined : this.owners.get(pid)?.timers) ?? [];
    }
    return [...entries].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq).map((e) => this.info(e));
  }

  /** Cancels every timer of `owner` and releases its monitor; returns how many were cancelled. */
  cancelOwner(owner: ProcessRef): number {
    const pid = this.resolve(check(ownerSchema, owner, 'owner'));
    const o = pid === undefined ? undefined : this.owners.get(pid);
    if (o === undefined) return 0;
    const n = o.timers.size;
    for (const entry of [...o.timers]) this.drop(entry);
    this.rearm();
    return n;
  }

  /** Accepts timers again after `shutdown` (a restarted scheduler process). */
  reopen(): void {
    this.stopped = false;
  }

  /** Cancels every timer, releases every monitor and the clock timer; later calls fail until `reopen`. */
  shutdown(): void {
    this.stopped = true;
    for (const [, o] of this.owners) this.runtime.demonitor(o.monitor);
    this.owners.clear();
    this.byId.clear();
    this.heap.clear();
    this.rearm();
  }

  private add(
    owner: Pid,
    kind: ProcessTimerKind,
    msg: unknown,
    dueAt: number,
    intervalMs: number | null,
  ): Entry {
    const ref = new ProcessTimerRef(`pt-${this.nextId++}`, owner);
    const entry: Entry = {
      ref,
      kind,
      msg,
      intervalMs,
      firedCount: 0,
      anchor: this.clock.now(),
      dueAt,
      seq: this.nextSeq++,
      heapIndex: -1,
    };
    let o = this.owners.get(owner);
    if (o === undefined) {
      const monitor = this.runtime.monitor(owner, () => this.ownerDown(owner), { label: 'timers' });
      o = { monitor, timers: new Set() };
      this.owners.set(owner, o);
    }
    o.timers.add(entry);
    this.byId.set(ref.id, entry);
    this.issued.add(ref);
    this.heap.push(entry);
    this.rearm();
    return entry;
  }

  /** Removes a timer; releases its owner's monitor when it was the owner's last. */
  private drop(entry: Entry): void {
    this.heap.remove(entry);
    this.byId.delete(entry.ref.id);
    const o = this.owners.get(entry.ref.owner);
    if (o === undefined) return;
    o.timers.delete(entry);
    if (o.timers.size === 0) {
      this.owners.delete(entry.ref.owner);
      this.runtime.demonitor(o.monitor);
    }
  }

  /** The owner exited: its monitor has fired (and is gone); its timers go with it. */
  private ownerDown(owner: Pid): void {
    const o = this.owners.get(owner);
    if (o === undefined) return;
    this.owners.delete(owner);
    for (const entry of o.timers) {
      this.heap.remove(entry);
      this.byId.delete(entry.ref.id);
    }
    this.rearm();
  }

  private onClock(): void {
    this.handle = undefined;
    this.armedAt = Infinity;
    const now = this.clock.now();
    for (let top = this.heap.peek(); top !== undefined && top.dueAt <= now; top = this.heap.peek()) {
      if (top.kind === ProcessTimerKind.after) this.drop(top);
      else {
        const interval = top.intervalMs as number;
        // Carry on from the next future slot; slots missed while the host was busy collapse into this one.
        const steps = Math.max(1, Math.ceil((now - top.dueAt + 1) / interval));
        top.anchor = top.dueAt + (steps - 1) * interval;
        top.dueAt = top.anchor + interval;
        top.seq = this.nextSeq++;
        this.heap.update(top);
      }
      this.deliver(top);
    }
    this.rearm();
  }

  private deliver(entry: Entry): void {
    entry.firedCount++;
    this.runtime.send(entry.ref.owner, entry.msg).catch((error: unknown) => {
      this.onDeliveryError(this.info(entry), error);
    });
  }

  /** Arms the one clock timer for the earliest due time, or disarms it when nothing is due. */
  private rearm(): void {
    // Every change of the timer set ends here: the count is reported only when it moved.
    if (this.events !== undefined && this.reported !== this.byId.size) {
      this.reported = this.byId.size;
      emitTo(this.events, 'timers.active', { kind: 'process', count: this.reported });
    }
    const top = this.heap.peek();
    if (top !== undefined && this.handle !== undefined && this.armedAt === top.dueAt) return;
    this.handle?.cancel();
    this.handle = undefined;
    this.armedAt = Infinity;
    if (top === undefined) return;
    this.armedAt = top.dueAt;
    this.handle = this.clock.setTimer(top.dueAt - this.clock.now(), () => this.onClock());
  }

  private entryOf(ref: ProcessTimerRef, mustBeActive: boolean): Entry | undefined {
    if (!(ref instanceof ProcessTimerRef) || !this.issued.has(ref)) {
      throw new TimerNotFoundError(ref instanceof ProcessTimerRef ? ref.id : String(ref));
    }
    const entry = this.byId.get(ref.id);
    if (entry === undefined && mustBeActive) throw new TimerNotFoundError(ref.id);
    return entry;
  }

  private info(e: Entry): ProcessTimerInfo {
    return {
      id: e.ref.id,
      owner: e.ref.owner,
      kind: e.kind,
      dueAt: e.dueAt,
      intervalMs: e.intervalMs,
      firedCount: e.firedCount,
    };
  }

  private resolve(owner: ProcessRef): Pid | undefined {
    return typeof owner === 'string' ? this.runtime.whereis(owner) : owner;
  }

  /** The owner's pid; fails with `noproc` (nothing made) when it is not alive. */
  private resolveLive(owner: ProcessRef): Pid {
    if (this.stopped) throw new SchedulerStoppedError();
    const pid = this.resolve(check(ownerSchema, owner, 'owner'));
    if (pid === undefined || !this.runtime.isAlive(pid))
      throw new NoProcError(owner, 'a timer needs a live owner');
    return pid;
  }
}

/**
 * The one scheduler. Every timer in Garrison is made here (seed flaw 5): process timers that die with
 * their owner process, and durable timers (delays, retries, intervals, cron) that are store rows and
 * survive restarts. `list` shows them, `shutdown` cancels them all.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { Clock, ProcessRef, Runtime } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import { SchedulerStoppedError } from './errors.js';
import type { SchedulerEventSink } from './events.js';
import {
  DurableTimers,
  type DurableTimerInfo,
  type DurableTimersOptions,
  type TimerFiring,
} from './durable-timers.js';
import {
  ProcessTimers,
  type EveryOptions,
  type ProcessTimerInfo,
  type ProcessTimerRef,
} from './process-timers.js';

export interface SchedulerOptions extends Omit<DurableTimersOptions, 'store' | 'clock' | 'nodeId'> {
  /** Where durable timers live. */
  readonly store: Store;
  /** The process system whose processes own process timers. */
  readonly runtime: Runtime;
  /** Where time comes from. Default: the runtime's clock. Tests pass a `VirtualClock`. */
  readonly clock?: Clock;
  /** This node's id, recorded on durable timer claims. */
  readonly nodeId: string;
  /**
   * Called when a process timer's message could not be delivered (the owner's mailbox refused it); the
   * timer carries on. Default: a process warning.
   */
  readonly onDeliveryError?: (timer: ProcessTimerInfo, error: unknown) => void;
  /** Where the scheduler's events and its `timers.active` counts go (the node's bus). Default none. */
  readonly events?: SchedulerEventSink;
}

const optionsSchema = z.looseObject({
  nodeId: z.string().min(1).max(200),
  leaseMs: z.number().int().min(1).optional(),
  batchSize: z.number().int().min(1).max(10_000).optional(),
  graceMs: z.number().int().min(0).optional(),
  maxRetryDelayMs: z.number().int().min(1).optional(),
});

const maintainSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be 1–100 of a-z, 0-9, ".", "_", "-", starting alphanumeric'),
  intervalMs: z.number().int().min(1),
  fn: z.custom<MaintenanceJob>((v) => typeof v === 'function', { message: 'must be a function' }),
});

/** A periodic maintenance job (pruning old rows, compacting…). A throw is retried with backoff. */
export type MaintenanceJob = (firing: TimerFiring) => void | Promise<void>;

/** The durable timer id (and topic) of the maintenance job `name`. */
export function maintenanceTimerId(name: string): string {
  return `garrison.maintenance.${name}`;
}

/** Lifecycle of a scheduler. */
export const SchedulerStatus = {
  /** Made: process timers work, durable timers are written but not fired. */
  idle: 'idle',
  /** `start` ran: durable timers of registered topics fire on this node. */
  running: 'running',
  /** `shutdown` ran: no timer is left and no new one is made. */
  stopped: 'stopped',
} as const;
export type SchedulerStatus = (typeof SchedulerStatus)[keyof typeof SchedulerStatus];

export class SchedulerManager {
  /** Durable timers on the same store, clock and node id. */
  readonly durable: DurableTimers;
  readonly clock: Clock;
  private readonly timers: ProcessTimers;
  private state: SchedulerStatus = SchedulerStatus.idle;

  constructor(options: SchedulerOptions) {
    const checked = optionsSchema.safeParse(options);
    if (!checked.success) {
      throw new ValidationError(`invalid scheduler options: ${describeIssues(checked.error.issues)}`);
    }
    const { runtime, onDeliveryError, events, ...durable } = options;
    this.clock = options.clock ?? runtime.clock;
    this.timers = new ProcessTimers({ runtime, clock: this.clock, onDeliveryError, events });
    this.durable = new DurableTimers({ ...durable, clock: this.clock, events });
  }

  get status(): SchedulerStatus {
    return this.state;
  }

  /** Sends `msg` to `owner` (an info message) once, `delayMs` ms from now. Fails with `noproc` if it is not alive. */
  after(owner: ProcessRef, delayMs: number, msg: unknown): ProcessTimerRef {
    return this.timers.after(owner, delayMs, msg);
  }

  /** Sends `msg` to `owner` every `intervalMs` ms until cancelled or the owner exits. */
  every(owner: ProcessRef, intervalMs: number, msg: unknown, options?: EveryOptions): ProcessTimerRef {
    return this.timers.every(owner, intervalMs, msg, options);
  }

  /** Cancels a process timer: true when it was active, false when it had already finished. */
  cancel(ref: ProcessTimerRef): boolean {
    return this.timers.cancel(ref);
  }

  /** Changes an `every` timer's interval (see `ProcessTimers.updateInterval`). */
  updateInterval(ref: ProcessTimerRef, intervalMs: number): void {
    this.timers.updateInterval(ref, intervalMs);
  }

  /** Sends a process timer's message now; an `every` timer keeps its schedule. */
  runNow(ref: ProcessTimerRef): void {
    this.timers.runNow(ref);
  }

  /** Active process timers, soonest first; only those of `owner` when given. */
  list(filter?: { owner?: ProcessRef }): ProcessTimerInfo[] {
    return this.timers.list(filter);
  }

  /** Cancels every process timer of `owner`; returns how many. */
  cancelOwner(owner: ProcessRef): number {
    return this.timers.cancelOwner(owner);
  }

  /** Process timers alive, owners monitored, and whether the clock timers are armed (for leak checks). */
  stats(): { processTimers: number; ownerMonitors: number; armed: boolean } {
    return {
      processTimers: this.timers.size,
      ownerMonitors: this.timers.monitorCount,
      armed: this.timers.armed || this.durable.armed,
    };
  }

  /**
   * Runs `fn` every `intervalMs` ms, once per interval across every node sharing the store: the job is a
   * durable interval timer (id and topic `garrison.maintenance.<name>`), so it survives restarts and each
   * run is claimed by one node. Every node that calls `maintain` with the same name can run it; the
   * schedule is written once and kept (only a changed interval rewrites it). The layer that owns the
   * data passes the function in — the scheduler knows nothing of what it prunes.
   */
  async maintain(name: string, intervalMs: number, fn: MaintenanceJob): Promise<DurableTimerInfo> {
    const parsed = maintainSchema.safeParse({ name, intervalMs, fn });
    if (!parsed.success) {
      throw new ValidationError(`invalid maintenance job: ${describeIssues(parsed.error.issues)}`);
    }
    if (this.state === SchedulerStatus.stopped) throw new SchedulerStoppedError();
    const id = maintenanceTimerId(name);
    this.durable.on(id, fn);
    return this.durable.store.transaction(async (tx) => {
      const current = await this.durable.get(id, tx);
      if (current?.kind === 'interval' && current.intervalMs === intervalMs) return current;
      return this.durable.schedule({ id, topic: id, intervalMs }, tx);
    });
  }

  /** Resolves once no durable poll or firing is in flight (tests await it between clock steps). */
  idle(): Promise<void> {
    return this.durable.idle();
  }

  /** Starts firing durable timers on this node; after `shutdown`, starts again (a restarted scheduler process). */
  async start(): Promise<void> {
    if (this.state === SchedulerStatus.running) return;
    this.timers.reopen();
    this.state = SchedulerStatus.running;
    await this.durable.start();
  }

  /**
   * Cancels every process timer, releases every owner monitor, and stops the durable poller (durable
   * timers stay in the store: they are the node's promises to its future self). Afterwards the
   * scheduler holds no host timer, so it cannot keep the Node process alive.
   */
  async shutdown(): Promise<void> {
    this.state = SchedulerStatus.stopped;
    this.timers.shutdown();
    await this.durable.stop();
  }
}

/** Makes the node's scheduler. */
export function createScheduler(options: SchedulerOptions): SchedulerManager {
  return new SchedulerManager(options);
}

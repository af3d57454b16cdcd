/**
 * The scheduler's events on the node's bus: durable timers scheduled, fired, failed and cancelled, and
 * the count of pending timers of each kind (`timers.active`, declared with the system events: the
 * `timers_active` gauge reads it). Emitted after the store change they report committed.
 */
import type { EventSink, SystemEvents } from '../telemetry/index.js';

export interface SchedulerEvents {
  /** A durable timer was created or replaced. */
  'scheduler.timer_scheduled': {
    readonly id: string;
    readonly topic: string;
    readonly kind: 'once' | 'cron' | 'interval';
    /** Next due time, UNIX epoch ms. */
    readonly dueAt: number;
    readonly owner: string | null;
  };
  /** A durable timer's firing was settled on this node (`skipped`: a `skip` timer too late to run). */
  'scheduler.timer_fired': {
    readonly id: string;
    readonly topic: string;
    /** The due time it fired for, UNIX epoch ms. */
    readonly dueAt: number;
    readonly attempt: number;
    readonly skipped: boolean;
  };
  /** A durable timer's handler failed: the firing is retried at `retryAt` (UNIX epoch ms). */
  'scheduler.timer_failed': {
    readonly id: string;
    readonly topic: string;
    readonly attempt: number;
    readonly retryAt: number;
    readonly error: string;
  };
  /** Durable timers were cancelled: one by id, or every timer of an owner (`count` of them). */
  'scheduler.timer_cancelled': {
    readonly id: string | null;
    readonly owner: string | null;
    readonly count: number;
  };
}

declare module '../telemetry/events.js' {
  // Interface merging is how a layer adds its events to the typed bus.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends SchedulerEvents {}
}

/** What the scheduler emits to: its own events and the `timers.active` count. */
export type SchedulerEventSink = EventSink<SchedulerEvents & Pick<SystemEvents, 'timers.active'>>;

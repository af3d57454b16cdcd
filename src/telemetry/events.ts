/**
 * The event map of a Garrison node: every event name with its payload type. Emitters and subscribers are
 * type-checked against it. Layers below telemetry define their own maps (they cannot import this layer)
 * and this interface gathers them; other code adds its own events by declaration merging:
 *
 *   declare module 'garrison/telemetry' { interface GarrisonEvents { 'billing.charged': { cents: number } } }
 */
import type { ResilienceEvents } from '../resilience/index.js';

/** Events the bus itself emits. */
export interface TelemetryEvents {
  /**
   * A subscriber threw (or its promise rejected) while handling `event`. The other subscribers still ran.
   * When nobody listens to this event, the failure is reported as a process warning instead.
   */
  'telemetry.subscriber_failed': {
    /** The event being handled. */
    readonly event: string;
    /** The pattern the failing subscriber subscribed with. */
    readonly pattern: string;
    /** What it threw. */
    readonly error: unknown;
    /** A one-line description of `error`. */
    readonly message: string;
  };
}

/** How a process ended, as the metrics count it. */
export type ProcessExitKind = 'normal' | 'shutdown' | 'killed' | 'error';

/**
 * The events the runtime, messaging and work layers report for metrics. Times are ms. These names are the
 * contract `bindMetricsToBus` reads; a layer that reports something new adds its event here.
 */
export interface SystemEvents {
  'process.spawned': { readonly pid: string; readonly behaviour?: string };
  'process.exited': { readonly pid: string; readonly reason: ProcessExitKind; readonly message?: string };
  'process.restarted': { readonly pid: string; readonly supervisor: string };
  /** A mailbox's depth, observed when a message is enqueued (report it sampled on hot paths). */
  'mailbox.depth': { readonly pid: string; readonly depth: number };
  /** Timers currently pending, by kind (in-memory process timers or durable store timers). */
  'timers.active': { readonly kind: 'process' | 'durable'; readonly count: number };
  'delivery.delivered': { readonly messageId: string; readonly attempt: number };
  'delivery.redelivered': { readonly messageId: string; readonly attempt: number };
  'delivery.dead_lettered': {
    readonly messageId: string;
    readonly attempts: number;
    readonly reason: string;
  };
  'task.finished': {
    readonly queue: string;
    readonly taskId: string;
    readonly outcome: 'completed' | 'failed' | 'retried' | 'dead_lettered';
    readonly durationMs: number;
  };
  'workflow.finished': {
    readonly workflowId: string;
    readonly name: string;
    readonly outcome: 'completed' | 'failed' | 'cancelled';
    readonly durationMs: number;
  };
}

/** Every event of a node. Open for declaration merging. */
export interface GarrisonEvents extends ResilienceEvents, SystemEvents, TelemetryEvents {}

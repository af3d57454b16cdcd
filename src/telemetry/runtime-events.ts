/**
 * The bridge from the runtime's events to the node's event bus, so runtime activity shows in the
 * metrics: `runtimeEventsToBus(bus)` is a `RuntimeEventSink` (pass it as `createRuntime({ events })`)
 * that turns every `RuntimeEvent` into a typed telemetry event; `bindRuntimeMetrics` counts the ones
 * `bindMetricsToBus` does not; `emitMailboxDepths` samples every mailbox's depth.
 *
 * | runtime event           | telemetry event                                   |
 * | ----------------------- | ------------------------------------------------- |
 * | `spawn`                 | `process.spawned`                                 |
 * | `exit`                  | `process.exited` (reason kind and message)        |
 * | `restart`               | `process.restarted` (the new pid, the supervisor) |
 * | `init_failed`           | `process.init_failed` (its `exit` follows)        |
 * | `terminate_failed`      | `process.terminate_failed`                        |
 * | `unhandled_info`        | `process.unhandled_info`                          |
 * | `mailbox_overflow`      | `mailbox.overflow` and `mailbox.depth` (= capacity) |
 * | `mailbox_drop`          | `mailbox.dropped` and `mailbox.depth` (= capacity)  |
 * | `monitor_leak`          | `monitor.leak`                                    |
 * | `watcher_failed`        | `monitor.watcher_failed`                          |
 * | `restart_failed`        | `supervisor.restart_failed`                       |
 * | `max_restart_intensity` | `supervisor.max_intensity`                        |
 * | `task_timeout`          | `pool.task_timeout`                               |
 */
import {
  formatReason,
  type ExitReason,
  type Pid,
  type Runtime,
  type RuntimeEvent,
  type RuntimeEventSink,
} from '../runtime/index.js';
import { describeError } from './describe.js';
import type { EventBus } from './event-bus.js';
import type { GarrisonEvents, ProcessExitKind, SystemEvents } from './events.js';
import type { Metrics } from './metrics.js';
import { emitTo, type EventSink } from './sink.js';

/** Runtime events that `SystemEvents` has no name for. Pids are strings (`<0.12>`). */
export interface RuntimeTelemetryEvents {
  /** A process's `init` threw; the spawn failed (a `process.exited` with reason `error` follows). */
  'process.init_failed': { readonly pid: string; readonly name?: string; readonly error: string };
  /** A process's `terminate` threw (the process still exited). */
  'process.terminate_failed': { readonly pid: string; readonly error: string };
  /** A process got an info message and has no `handleInfo`. */
  'process.unhandled_info': { readonly pid: string };
  /** A message met a full mailbox: `reject` failed the sender with `mailbox_full`, `block` made it wait. */
  'mailbox.overflow': {
    readonly pid: string;
    readonly policy: 'reject' | 'block';
    readonly capacity: number;
  };
  /** A full `drop` mailbox dropped a message (the process chose that policy). */
  'mailbox.dropped': { readonly pid: string; readonly capacity: number; readonly droppedTotal: number };
  /** The leak check found a monitor older than it was asked about. */
  'monitor.leak': {
    readonly monitorId: number;
    readonly target: string;
    readonly watcher: string;
    readonly ageMs: number;
  };
  /** A DOWN callback threw. */
  'monitor.watcher_failed': { readonly target: string; readonly error: string };
  /** A supervisor could not restart a child. */
  'supervisor.restart_failed': {
    readonly supervisor: string;
    readonly childId: string;
    readonly error: string;
  };
  /** A supervisor restarted too often within its period and gave up (it exits, escalating). */
  'supervisor.max_intensity': {
    readonly supervisor: string;
    readonly maxRestarts: number;
    readonly periodMs: number;
  };
  /** A task pool's task ran past its timeout and was aborted. */
  'pool.task_timeout': { readonly pool: string; readonly timeoutMs: number };
}

declare module './events.js' {
  // Declaration merging: the node's event bus knows the runtime's events.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends RuntimeTelemetryEvents {}
}

/** Every event `runtimeEventsToBus` emits. */
export type RuntimeBusEvents = RuntimeTelemetryEvents &
  Pick<SystemEvents, 'process.spawned' | 'process.exited' | 'process.restarted' | 'mailbox.depth'>;

/** How a process ended, as the metrics count it: crashes and the runtime's failure reasons are `error`. */
export function exitKind(reason: ExitReason): ProcessExitKind {
  if (reason === 'normal' || reason === 'shutdown' || reason === 'killed') return reason;
  return 'error';
}

/**
 * A runtime event sink that emits each runtime event as its telemetry event into `bus` (see the table
 * above). Give it to the runtime when the runtime is created, so every spawn is seen with its exit
 * (`processes_active` counts spawned minus exited). The sink runs on the runtime's path: it only builds
 * small payloads and emits synchronously; a failing bus becomes a process warning, never a runtime error.
 *
 * Supervisors are named in `process.restarted` by their registered name when they have one, else by pid.
 */
export function runtimeEventsToBus(bus: EventSink<RuntimeBusEvents>): RuntimeEventSink {
  // Registered names of live processes, to label supervisors readably.
  const names = new Map<number, string>();
  const label = (pid: Pid) => names.get(pid.id) ?? pid.toString();
  return (event: RuntimeEvent) => {
    switch (event.type) {
      case 'spawn':
        if (event.name !== undefined) names.set(event.pid.id, event.name);
        emitTo(bus, 'process.spawned', { pid: event.pid.toString() });
        return;
      case 'exit':
        names.delete(event.pid.id);
        emitTo(bus, 'process.exited', {
          pid: event.pid.toString(),
          reason: exitKind(event.reason),
          message: formatReason(event.reason),
        });
        return;
      case 'restart':
        emitTo(bus, 'process.restarted', {
          pid: event.newPid.toString(),
          supervisor: label(event.supervisor),
        });
        return;
      case 'init_failed':
        emitTo(bus, 'process.init_failed', {
          pid: event.pid.toString(),
          ...(event.name === undefined ? {} : { name: event.name }),
          error: describeError(event.error),
        });
        return;
      case 'terminate_failed':
        emitTo(bus, 'process.terminate_failed', {
          pid: event.pid.toString(),
          error: describeError(event.error),
        });
        return;
      case 'unhandled_info':
        emitTo(bus, 'process.unhandled_info', { pid: event.pid.toString() });
        return;
      case 'mailbox_overflow':
        emitTo(bus, 'mailbox.depth', { pid: event.pid.toString(), depth: event.capacity });
        emitTo(bus, 'mailbox.overflow', {
          pid: event.pid.toString(),
          policy: event.policy,
          capacity: event.capacity,
        });
        return;
      case 'mailbox_drop':
        emitTo(bus, 'mailbox.depth', { pid: event.pid.toString(), depth: event.capacity });
        emitTo(bus, 'mailbox.dropped', {
          pid: event.pid.toString(),
          capacity: event.capacity,
          droppedTotal: event.droppedTotal,
        });
        return;
      case 'monitor_leak':
        emitTo(bus, 'monitor.leak', {
          monitorId: event.monitor.id,
          target: event.monitor.target.toString(),
          watcher: event.monitor.watcher.toString(),
          ageMs: event.monitor.ageMs,
        });
        return;
      case 'watcher_failed':
        emitTo(bus, 'monitor.watcher_failed', {
          target: event.target.toString(),
          error: describeError(event.error),
        });
        return;
      case 'restart_failed':
        emitTo(bus, 'supervisor.restart_failed', {
          supervisor: label(event.supervisor),
          childId: event.childId,
          error: describeError(event.error),
        });
        return;
      case 'max_restart_intensity':
        emitTo(bus, 'supervisor.max_intensity', {
          supervisor: label(event.supervisor),
          maxRestarts: event.maxRestarts,
          periodMs: event.periodMs,
        });
        return;
      case 'task_timeout':
        emitTo(bus, 'pool.task_timeout', { pool: event.pool, timeoutMs: event.timeoutMs });
        return;
      default: {
        // A new runtime event type must get its telemetry event here.
        const unmapped: never = event;
        return unmapped;
      }
    }
  };
}

/**
 * Emits `mailbox.depth` for every live process of `runtime` (its mailbox size now); returns how many.
 * The runtime reports no event per enqueue (too hot a path), so call this from a scrape hook —
 * `metrics.beforeRender(() => { emitMailboxDepths(bus, runtime); })` — or a scheduler tick.
 */
export function emitMailboxDepths(
  bus: EventSink<Pick<SystemEvents, 'mailbox.depth'>>,
  runtime: Runtime,
): number {
  let count = 0;
  for (const pid of runtime.pids()) {
    const info = runtime.info(pid);
    if (info === undefined) continue;
    emitTo(bus, 'mailbox.depth', { pid: pid.toString(), depth: info.mailboxSize });
    count++;
  }
  return count;
}

/**
 * Counts the runtime events `bindMetricsToBus` has no metric for; returns the unbind function.
 *
 * | metric                                        | labels       | event                       |
 * | --------------------------------------------- | ------------ | --------------------------- |
 * | `garrison_mailbox_overflows_total`            | `policy`     | `mailbox.overflow`          |
 * | `garrison_mailbox_drops_total`                |              | `mailbox.dropped`           |
 * | `garrison_process_init_failures_total`        |              | `process.init_failed`       |
 * | `garrison_process_terminate_failures_total`   |              | `process.terminate_failed`  |
 * | `garrison_process_unhandled_info_total`       |              | `process.unhandled_info`    |
 * | `garrison_monitor_leaks_total`                |              | `monitor.leak`              |
 * | `garrison_monitor_watcher_failures_total`     |              | `monitor.watcher_failed`    |
 * | `garrison_supervisor_restart_failures_total`  | `supervisor` | `supervisor.restart_failed` |
 * | `garrison_supervisor_max_intensity_total`     | `supervisor` | `supervisor.max_intensity`  |
 * | `garrison_pool_task_timeouts_total`           | `pool`       | `pool.task_timeout`         |
 */
export function bindRuntimeMetrics<M extends GarrisonEvents>(
  events: EventBus<M>,
  metrics: Metrics,
): () => void {
  // As in bindMetricsToBus: a bus over a larger map carries these events with these payloads.
  const bus = events as unknown as EventBus<GarrisonEvents>;
  const overflows = metrics.counter(
    'mailbox_overflows_total',
    'Messages that met a full mailbox, by policy.',
    ['policy'],
  );
  const drops = metrics.counter('mailbox_drops_total', 'Messages dropped by a full drop-policy mailbox.');
  const initFailures = metrics.counter('process_init_failures_total', 'Spawns whose init threw.');
  const terminateFailures = metrics.counter(
    'process_terminate_failures_total',
    'Terminate callbacks that threw.',
  );
  const unhandled = metrics.counter(
    'process_unhandled_info_total',
    'Info messages a process had no handler for.',
  );
  const leaks = metrics.counter('monitor_leaks_total', 'Monitors reported by the leak check.');
  const watcherFailures = metrics.counter('monitor_watcher_failures_total', 'DOWN callbacks that threw.');
  const restartFailures = metrics.counter(
    'supervisor_restart_failures_total',
    'Children a supervisor could not restart.',
    ['supervisor'],
  );
  const maxIntensity = metrics.counter(
    'supervisor_max_intensity_total',
    'Supervisors that gave up after too many restarts.',
    ['supervisor'],
  );
  const taskTimeouts = metrics.counter(
    'pool_task_timeouts_total',
    'Task pool tasks aborted at their timeout.',
    ['pool'],
  );
  const offs = [
    bus.on('mailbox.overflow', ({ payload }) => overflows.inc({ policy: payload.policy })),
    bus.on('mailbox.dropped', () => drops.inc()),
    bus.on('process.init_failed', () => initFailures.inc()),
    bus.on('process.terminate_failed', () => terminateFailures.inc()),
    bus.on('process.unhandled_info', () => unhandled.inc()),
    bus.on('monitor.leak', () => leaks.inc()),
    bus.on('monitor.watcher_failed', () => watcherFailures.inc()),
    bus.on('supervisor.restart_failed', ({ payload }) =>
      restartFailures.inc({ supervisor: payload.supervisor }),
    ),
    bus.on('supervisor.max_intensity', ({ payload }) => maxIntensity.inc({ supervisor: payload.supervisor })),
    bus.on('pool.task_timeout', ({ payload }) => taskTimeouts.inc({ pool: payload.pool })),
  ];
  return () => {
    for (const off of offs) off();
  };
}

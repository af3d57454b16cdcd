import type { Pid } from './pid.js';
import type { ExitReason } from './reasons.js';

/** A monitor as the leak check reports it. */
export interface MonitorInfo {
  /** The monitor's id, unique within the runtime. */
  readonly id: number;
  /** The monitored process. */
  readonly target: Pid;
  /** The process that gets the DOWN message, or the label of the callback that does (e.g. `call`). */
  readonly watcher: Pid | string;
  /** When it was created, UNIX epoch ms (runtime clock). */
  readonly createdAt: number;
  /** Its age in ms when the report was made. */
  readonly ageMs: number;
}

/**
 * Everything the runtime reports. `at` is the runtime clock's time (UNIX epoch ms). Telemetry subscribes
 * through the runtime's `events` sink; nothing here is needed for correctness.
 */
export type RuntimeEvent =
  | { type: 'spawn'; at: number; pid: Pid; name: string | undefined }
  | {
      type: 'exit';
      at: number;
      pid: Pid;
      name: string | undefined;
      reason: ExitReason;
      /** Messages still in the mailbox, which will never be handled (their callers get the exit reason). */
      discardedMessages: number;
    }
  | { type: 'init_failed'; at: number; pid: Pid; name: string | undefined; error: unknown }
  | { type: 'terminate_failed'; at: number; pid: Pid; error: unknown }
  | { type: 'unhandled_info'; at: number; pid: Pid; message: unknown }
  | {
      type: 'mailbox_overflow';
      at: number;
      pid: Pid;
      /** `reject`: the sender got `mailbox_full`; `block`: the sender waits for room. */
      policy: 'reject' | 'block';
      capacity: number;
    }
  | {
      type: 'mailbox_drop';
      at: number;
      pid: Pid;
      capacity: number;
      /** Messages this process has dropped since it started, this one included. */
      droppedTotal: number;
    }
  | { type: 'monitor_leak'; at: number; monitor: MonitorInfo }
  | { type: 'watcher_failed'; at: number; target: Pid; error: unknown }
  | {
      type: 'restart';
      at: number;
      supervisor: Pid;
      childId: string;
      oldPid: Pid | undefined;
      newPid: Pid;
      reason: ExitReason;
    }
  | { type: 'restart_failed'; at: number; supervisor: Pid; childId: string; error: unknown }
  | {
      type: 'max_restart_intensity';
      at: number;
      supervisor: Pid;
      maxRestarts: number;
      periodMs: number;
    }
  | { type: 'task_timeout'; at: number; pool: string; timeoutMs: number };

/** Receives runtime events. It runs synchronously on the runtime's path, so it should be quick. */
export type RuntimeEventSink = (event: RuntimeEvent) => void;

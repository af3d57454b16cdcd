import type { OverflowPolicy } from './options.js';
import type { Pid } from './pid.js';
import type { Proc } from './process.js';

/** A snapshot of one process, for introspection and telemetry. */
export interface ProcessInfo {
  readonly pid: Pid;
  readonly name: string | undefined;
  readonly status: 'starting' | 'running' | 'exiting';
  /** Messages waiting, runtime messages included. */
  readonly mailboxSize: number;
  readonly mailboxCapacity: number;
  readonly overflow: OverflowPolicy;
  /** Senders waiting for room (`block`). */
  readonly blockedSenders: number;
  /** Messages dropped by the `drop` policy since the process started. */
  readonly dropped: number;
  readonly links: number;
  /** Monitors this process holds on others. */
  readonly monitors: number;
  /** Monitors others (and pending calls) hold on this process. */
  readonly monitoredBy: number;
  readonly trapExit: boolean;
  readonly parent: Pid | undefined;
}

const STATUS_NAMES = ['starting', 'running', 'exiting'] as const;

export function processInfo(p: Proc): ProcessInfo {
  return {
    pid: p.pid,
    name: p.name,
    status: STATUS_NAMES[p.status as 0 | 1 | 2],
    mailboxSize: p.mailbox?.size ?? 0,
    mailboxCapacity: p.capacity,
    overflow: p.overflow,
    blockedSenders: p.waiters?.size ?? 0,
    dropped: p.dropped,
    links: p.links?.size ?? 0,
    monitors: p.monitoring?.size ?? 0,
    monitoredBy: p.monitoredBy?.size ?? 0,
    trapExit: p.trapping,
    parent: p.parent,
  };
}

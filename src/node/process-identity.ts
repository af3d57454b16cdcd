/**
 * Which operating-system process a node is, and whether a process recorded in a node row still lives.
 * A node that finds a row of its own host whose process is gone knows that node is dead — no need to
 * wait for its heartbeats to stop or its leases to expire.
 *
 * A pid alone is not an identity: the system reuses pids. On Linux the start time of the process is
 * read from `/proc/<pid>/stat` (ticks since boot, plus the boot time of `/proc/stat`): a live process
 * with the recorded pid but another start time is a stranger, and the recorded one is gone. Elsewhere
 * only `kill(pid, 0)` is asked, and a reused pid makes a dead node look alive (it is then taken over
 * after `downAfterMs` of silence, as a node of another host).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** The process behind a node, as its membership row records it. */
export interface ProcessIdentity {
  readonly host: string;
  readonly pid: number;
  /** When the process started, UNIX epoch ms (Linux), or null where that cannot be read cheaply. */
  readonly startedAt: number | null;
}

/** Clock ticks per second of `/proc/<pid>/stat` times: 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;
/** Two readings of one process's start time agree to a tick; more apart, they are two processes. */
const SAME_START_MS = 20;

let bootTime: number | null | undefined;

/** The boot time of the machine, UNIX epoch ms, or null without `/proc`. */
function bootTimeMs(): number | null {
  if (bootTime !== undefined) return bootTime;
  try {
    const line = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootTime = line?.[1] === undefined ? null : Number(line[1]) * 1000;
  } catch {
    bootTime = null; // not Linux: no start times
  }
  return bootTime;
}

/** When process `pid` started, UNIX epoch ms; null when it does not exist or cannot be read. */
export function processStartedAt(pid: number): number | null {
  const boot = bootTimeMs();
  if (boot === null) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2, the command, is in parentheses and may hold spaces: count from the last `)`. Field 22 is
  // the start time; the fields after `)` begin with field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isFinite(ticks) ? boot + Math.round((ticks * 1000) / TICKS_PER_SECOND) : null;
}

let self: ProcessIdentity | undefined;

/** This process. */
export function thisProcess(): ProcessIdentity {
  self ??= { host: hostname(), pid: process.pid, startedAt: processStartedAt(process.pid) };
  return self;
}

/**
 * Whether the process a row of this host records is gone: no such pid (`ESRCH`), or, where start times
 * can be read, a process of that pid that started at another time (the pid was reused). `EPERM` means
 * the process exists under another user: alive.
 */
export function processGone(pid: number, startedAt: number | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  if (startedAt === null) return false;
  const now = processStartedAt(pid);
  // Unreadable (gone meanwhile, or /proc hides it): judged alive, the safe side; the next look tells.
  return now !== null && Math.abs(now - startedAt) > SAME_START_MS;
}

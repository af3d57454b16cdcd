/** Links and exit signals: how one process's exit reaches the others. */
import type { ExitMessage } from './behaviour.js';
import type { Pid } from './pid.js';
import { DEAD, type Proc } from './process.js';
import { ProcessExitedError } from './errors.js';
import type { ExitReason, ExitSignal } from './reasons.js';

export function addLink(a: Proc, b: Proc): void {
  (a.links ??= new Set()).add(b);
  (b.links ??= new Set()).add(a);
}

/** Erlang's exit-signal rules, adapted: a non-kill exit takes effect between handlers (Node cannot pre-empt one). */
export function deliverSignal(p: Proc, reason: ExitSignal, from: Pid | undefined): void {
  if (p.status === DEAD) return;
  if (reason === 'kill') {
    p.kill();
    return;
  }
  const fromParent = from !== undefined && from === p.parent;
  if (p.trapping && !fromParent) {
    p.deliver({ type: 'EXIT', from, reason } satisfies ExitMessage);
    return;
  }
  if (reason === 'normal' && !p.trapping) return;
  p.beginExit(reason);
}

/** Fails every sender still waiting for room in the mailbox of a process that is gone. */
export function rejectWaiters(p: Proc, reason: ExitReason): void {
  const waiters = p.waiters?.drain() ?? [];
  p.waiters = undefined;
  for (const w of waiters) {
    if (w.done) continue;
    w.done = true;
    w.timer?.cancel();
    w.reject(new ProcessExitedError(p.pid, reason));
  }
}

/** Sends the exit to every linked process and removes the links. */
export function propagateExit(p: Proc, reason: ExitReason): void {
  const links = p.links;
  p.links = undefined;
  if (links === undefined) return;
  for (const other of links) {
    other.links?.delete(p);
    deliverSignal(other, reason, p.pid);
  }
}

/** A task a worker holds a lease on, and the context its handler sees. */
import type { Completion, Lease } from './settle.js';
import type { ClaimedTask } from './types.js';
import type { TaskContext } from './worker-options.js';

export interface Held {
  readonly task: ClaimedTask;
  /** Keep the row as `completed` (the task's `retain` column). */
  readonly retain: boolean;
  phase: 'buffered' | 'running' | 'settling';
  /** The lease is gone (lost, cancelled, released): nothing more is written for this task. */
  lost: boolean;
  controller: AbortController | undefined;
  abortReason: unknown;
}

export function newHeld(task: ClaimedTask, retain: boolean): Held {
  return { task, retain, phase: 'buffered', lost: false, controller: undefined, abortReason: undefined };
}

/** The handler's context; its AbortController is made only if the handler looks at `signal`. */
export class Context implements TaskContext {
  constructor(
    private readonly held: Held,
    readonly workerId: string,
  ) {}

  get signal(): AbortSignal {
    const h = this.held;
    if (h.controller === undefined) {
      h.controller = new AbortController();
      if (h.abortReason !== undefined) h.controller.abort(h.abortReason);
    }
    return h.controller.signal;
  }
}

/** Aborts the handler's signal (now, or as soon as it asks for it) with `reason`; the first reason wins. */
export function abort(h: Held, reason: unknown): void {
  if (h.abortReason !== undefined) return;
  h.abortReason = reason;
  h.controller?.abort(reason);
}

export function leaseOf(h: Held): Lease {
  return { id: h.task.id, token: h.task.token };
}

export function toCompletion(h: Held): Completion {
  return { id: h.task.id, token: h.task.token, retain: h.retain };
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

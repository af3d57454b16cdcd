/**
 * Callers of `result` waiting for runs that do not execute here (or not any more): resolved when a local
 * execution ends, when a "done" notification arrives from another node, or by the lease tick's poll;
 * ended by their timeout or by the engine stopping.
 */
import type { Clock } from '../../runtime/clock.js';
import type { DueHandle, DueTimers } from './due-timers.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { Final } from './outcomes.js';

interface Waiter {
  readonly resolve: (final: Final) => void;
  readonly reject: (error: Error) => void;
  timer: DueHandle | undefined;
}

export class ResultWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly timers: DueTimers,
    private readonly clock: Clock,
  ) {}

  /** Run ids someone waits for. */
  ids(): string[] {
    return [...this.waiters.keys()];
  }

  has(id: string): boolean {
    return this.waiters.has(id);
  }

  /** Waits for run `id` to end; rejects with `workflow_timeout` after `timeoutMs` ms when given. */
  wait(id: string, timeoutMs: number | undefined): Promise<Final> {
    return new Promise<Final>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
      if (timeoutMs !== undefined) {
        waiter.timer = this.timers.at(this.clock.now() + timeoutMs, () => {
          this.remove(id, waiter);
          reject(
            new WorkflowError(
              WorkflowErrorCode.timeout,
              `workflow ${id} did not finish within ${timeoutMs} ms`,
              {
                details: { workflowId: id, timeoutMs },
              },
            ),
          );
        });
      }
    });
  }

  /** The run ended: every waiter for it gets `final`. */
  resolve(id: string, final: Final): void {
    const set = this.waiters.get(id);
    if (set === undefined) return;
    this.waiters.delete(id);
    for (const waiter of set) {
      waiter.timer?.cancel();
      waiter.resolve(final);
    }
  }

  /** Ends every wait for `id` with `error`. */
  fail(id: string, error: Error): void {
    const set = this.waiters.get(id);
    if (set === undefined) return;
    this.waiters.delete(id);
    for (const waiter of set) {
      waiter.timer?.cancel();
      waiter.reject(error);
    }
  }

  /** Ends every wait (the engine stops; the runs themselves go on elsewhere or after a restart). */
  failAll(error: Error): void {
    for (const id of this.ids()) this.fail(id, error);
  }

  private remove(id: string, waiter: Waiter): void {
    const set = this.waiters.get(id);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(id);
  }
}

/**
 * `task.finished` for the tasks of a worker — an agent's queue consumer, an application's queue worker —
 * emitted once the queue committed their end: each
 * attempt counts once — completed (the action succeeded), failed (the action failed and its caller was
 * answered), retried (the attempt failed and the queue runs it again) or dead_lettered. The queue's
 * worker reports commits; its handler says when each attempt started (and, for an agent, whether the
 * action failed).
 */
import type { Clock } from '../runtime/index.js';
import type { Worker } from '../work/index.js';
import { emitTo } from '../telemetry/index.js';
import type { TaskEventSink } from './events.js';

interface Attempt {
  readonly startedAt: number;
  /** The action's own outcome failed (the task still completes: a call's failure is its answer). */
  actionFailed: boolean;
}

export class TaskOutcomes {
  /** Attempts running now, by task id (one at a time per agent; dropped when the attempt ends). */
  private readonly running = new Map<number, Attempt>();

  constructor(
    private readonly events: TaskEventSink | undefined,
    private readonly clock: Clock,
  ) {}

  started(taskId: number): void {
    if (this.events === undefined) return;
    this.running.set(taskId, { startedAt: this.clock.now(), actionFailed: false });
  }

  actionFailed(taskId: number): void {
    const a = this.running.get(taskId);
    if (a !== undefined) a.actionFailed = true;
  }

  /** Subscribes to the worker's committed settlements. */
  watch(worker: Pick<Worker<unknown>, 'on'>): void {
    worker.on('completed', ({ task }) => {
      const a = this.end(task.id);
      this.report(task.queue, task.id, a?.actionFailed === true ? 'failed' : 'completed', a);
    });
    worker.on('failed', ({ task, retryAt }) => {
      // A last failure is reported by `dead`, which also covers leases that expired on the last attempt.
      if (retryAt !== undefined) this.report(task.queue, task.id, 'retried', this.end(task.id));
    });
    worker.on('dead', ({ taskId, queue }) => this.report(queue, taskId, 'dead_lettered', this.end(taskId)));
    worker.on('leaseLost', ({ task }) => this.end(task.id));
    worker.on('cancelled', ({ task }) => this.end(task.id));
  }

  private end(taskId: number): Attempt | undefined {
    const a = this.running.get(taskId);
    this.running.delete(taskId);
    return a;
  }

  private report(
    queue: string,
    taskId: number,
    outcome: 'completed' | 'failed' | 'retried' | 'dead_lettered',
    attempt: Attempt | undefined,
  ): void {
    const durationMs = attempt === undefined ? 0 : Math.max(0, this.clock.now() - attempt.startedAt);
    emitTo(this.events, 'task.finished', { queue, taskId: String(taskId), outcome, durationMs });
  }
}

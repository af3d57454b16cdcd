/**
 * The consumer of an agent's queue: a task-queue worker that runs one task at a time and holds no
 * lease beyond the task it runs, so the highest-priority task is always the next to start. It hands
 * each task to the agent's current process and waits through restarts: a process that dies mid-task
 * leaves the task leased to the consumer, and the restarted process runs it.
 *
 * A task whose last attempt failed (or whose failure is not retried) leaves the queue as a dead letter.
 *
 * On start it waits until leases taken by an earlier consumer (a node killed mid-task) have expired:
 * the interrupted task then comes back in its place in priority order, instead of the next one
 * overtaking it.
 */
import { isRuntimeError, type TimerHandle } from '../runtime/index.js';
import {
  createWorker,
  PermanentTaskError,
  type ClaimedTask,
  type TaskContext,
  type Worker,
} from '../work/index.js';
import { RunTaskRequest } from './agent-process.js';
import { agentQueue, type HostCore } from './host-core.js';
import type { Consumer, Hosted } from './hosted.js';
import { agentQueueName } from './queue-name.js';
import { ticketOf } from './reply.js';
import type { TaskReply } from './run-task.js';
import { isScheduledRun } from './schedule-firing.js';
import { TaskOutcomes } from './task-outcomes.js';

export class TaskConsumer implements Consumer {
  private worker: Worker | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly outcomes: TaskOutcomes;

  constructor(
    private readonly core: HostCore,
    private readonly hosted: Hosted,
  ) {
    this.outcomes = new TaskOutcomes(core.taskEvents, core.clock);
  }

  /** Starts consuming once `after` has resolved (the previous consumer's stop) and old leases expired. */
  start(after: Promise<void>): void {
    this.core.track(
      this.hosted.id,
      'start queue consumer',
      after.then(() => this.fence()),
    );
  }

  /**
   * Stops taking tasks. The running task gets up to `timeoutMs` (default the worker's 10 s) to finish;
   * then its signal is aborted and its lease given back to the queue.
   */
  stop(timeoutMs?: number): Promise<void> {
    this.stopping ??= this.shutdown(timeoutMs);
    return this.stopping;
  }

  private async shutdown(timeoutMs: number | undefined): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.worker?.stop(timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** Starts the worker when no lease of the agent's queue is still held; else looks again when one ends. */
  private async fence(): Promise<void> {
    if (this.stopped) return;
    const { core } = this;
    const running = await core.queues.listTasks({
      queue: agentQueueName(this.hosted.id),
      states: ['running'],
      limit: 1000,
    });
    if (this.stopped) return;
    const now = core.clock.now();
    const held = running.map((t) => t.leaseUntil ?? 0).filter((until) => until >= now);
    if (held.length > 0) {
      const wait = Math.max(...held) - now + 1;
      this.timer = core.clock.setTimer(wait, () => {
        this.timer = undefined;
        core.track(this.hosted.id, 'start queue consumer', this.fence());
      });
      return;
    }
    await this.startWorker();
  }

  private async startWorker(): Promise<void> {
    const { core, hosted } = this;
    const worker = createWorker({
      store: core.store,
      clock: core.clock,
      queues: agentQueue(hosted.id, core.maxAttempts),
      handler: (task: ClaimedTask, context: TaskContext) => this.handle(task, context),
      concurrency: 1,
      batchSize: 1,
      prefetch: 0,
      leaseMs: core.leaseMs,
      // Work sent from any node wakes the worker through the store; polling is only the safety net.
      pollIntervalMs: core.pollIntervalMs,
      workerId: `agent:${hosted.id}@${core.nodeId}`,
    });
    worker.on('error', ({ error }) =>
      core.emit('agent.error', { agentId: hosted.id, operation: 'queue consumer', error }),
    );
    this.outcomes.watch(worker);
    this.worker = worker;
    await worker.start();
  }

  /** Runs the task in the agent's live process, following it through restarts. */
  private async handle(task: ClaimedTask, context: TaskContext): Promise<void> {
    const { runtime } = this.core;
    this.outcomes.started(task.id);
    for (;;) {
      const pid = await this.hosted.live(context.signal);
      let reply: TaskReply;
      try {
        reply = await runtime.call<TaskReply>(pid, new RunTaskRequest(task, context.signal), {
          timeoutMs: Infinity,
        });
      } catch (error) {
        // The process died while it had the task: its successor runs it.
        if (isRuntimeError(error, 'noproc') || isRuntimeError(error, 'process_exited')) continue;
        throw error;
      }
      if (!reply.ok) throw reply.error;
      if (!reply.outcome.ok) this.outcomes.actionFailed(task.id);
      // A task whose final outcome is a failure goes to the dead letters (its outcome is checkpointed and
      // settled already): an operator sees it there and may retry it. A call's failure was answered to
      // its caller, which is where it belongs.
      if (!reply.outcome.ok && ticketOf(task) === undefined && !isScheduledRun(task.payload))
        throw new PermanentTaskError(reply.outcome.error.message, {
          details: { code: reply.outcome.error.code, agentId: this.hosted.id },
        });
      return;
    }
  }
}

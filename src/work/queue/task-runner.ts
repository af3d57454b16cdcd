/**
 * Runs leased tasks from the worker's local buffer with bounded concurrency, measuring how long handlers
 * take (the worker bounds its buffer by it). A handler that returns synchronously costs no promise.
 */
import type { Clock } from '../../runtime/clock.js';
import {
  recordTaskRun,
  recordTaskStart,
  traceTask,
  tracingEnabled,
  workMetricsBound,
} from '../../telemetry/index.js';
import { Context, isThenable, type Held } from './held.js';
import type { TaskSettler } from './task-settler.js';
import type { ClaimedTask } from './types.js';
import type { WorkerCounters } from './worker-events.js';
import type { TaskHandler } from './worker-options.js';

export interface TaskRunnerDeps<P> {
  readonly handler: TaskHandler<P>;
  /** Handlers running at once at most. */
  readonly concurrency: number;
  readonly clock: Clock;
  readonly workerId: string;
  readonly counters: WorkerCounters;
  readonly settler: TaskSettler;
  /** Called after an asynchronous handler finished (a slot is free again). */
  readonly onFinished: () => void;
}

export class TaskRunner<P> {
  /** Handlers running now. */
  active = 0;
  /** Mean handler duration, in ms (an exponential moving average; 0 until one finished). */
  avgDurationMs = 0;
  private buffer: Held[] = [];
  private head = 0;
  private starting = false;

  constructor(private readonly d: TaskRunnerDeps<P>) {}

  /** Tasks waiting in the buffer. */
  get buffered(): number {
    return this.buffer.length - this.head;
  }

  push(h: Held): void {
    this.buffer.push(h);
  }

  /** Empties the buffer, answering the tasks that never started. */
  takeUnstarted(): Held[] {
    const unstarted = this.buffer.slice(this.head).filter((h) => !h.lost);
    this.buffer = [];
    this.head = 0;
    return unstarted;
  }

  /** Starts buffered tasks while slots are free. */
  startBuffered(): void {
    // A handler that finishes synchronously is settled inside `run` and this loop goes on, so nothing
    // recurses back in here.
    if (this.starting) return;
    this.starting = true;
    try {
      while (this.active < this.d.concurrency && this.head < this.buffer.length) {
        const h = this.buffer[this.head]!;
        this.head++;
        if (!h.lost) this.run(h);
      }
    } finally {
      this.starting = false;
    }
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }

  private run(h: Held): void {
    this.active++;
    h.phase = 'running';
    this.d.counters.started++;
    const started = this.d.clock.now();
    let result: unknown;
    try {
      if (workMetricsBound()) recordTaskStart(h.task.queue, started - h.task.runAt);
      const context = new Context(h, this.d.workerId);
      // Checked here so that the untraced path makes no closure.
      result = tracingEnabled()
        ? traceTask(h.task, () => this.d.handler(h.task as ClaimedTask<P>, context))
        : this.d.handler(h.task as ClaimedTask<P>, context);
    } catch (error) {
      this.finished(h, started, false, error);
      return;
    }
    if (!isThenable(result)) {
      this.finished(h, started, true, undefined);
      return;
    }
    result.then(
      () => {
        this.finished(h, started, true, undefined);
        this.d.onFinished();
      },
      (error: unknown) => {
        this.finished(h, started, false, error);
        this.d.onFinished();
      },
    );
  }

  private finished(h: Held, started: number, ok: boolean, error: unknown): void {
    this.active--;
    const took = this.d.clock.now() - started;
    if (workMetricsBound()) recordTaskRun(h.task.queue, took, ok);
    this.avgDurationMs = this.avgDurationMs === 0 ? took : this.avgDurationMs * 0.9 + took * 0.1;
    if (h.lost) return;
    if (ok) this.d.settler.complete(h);
    else this.d.settler.fail(h, error);
  }
}

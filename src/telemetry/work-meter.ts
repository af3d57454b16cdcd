/**
 * Histograms of the work itself — step duration, task queue wait and task run time per queue — fed by
 * the same hooks that make the spans (`work-spans.ts`), so the engines call one line for both. The
 * engines know no `Metrics`: a node binds its registry here (`bindWorkMetrics`) while it runs. With
 * nothing bound, recording is one size check.
 */
import type { Histogram } from 'prom-client';
import type { Metrics } from './metrics.js';

/** Seconds: a step or task of a millisecond up to an hour-long one; the low end is where queues live. */
export const WORK_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];

interface Bound {
  readonly stepDuration: Histogram<'workflow' | 'outcome'>;
  readonly queueWait: Histogram<'queue'>;
  readonly taskRun: Histogram<'queue' | 'outcome'>;
}

const bound = new Set<Bound>();

/**
 * Registers the work histograms on `metrics` and feeds them every step and task attempt of this process
 * until the returned function is called. Process-wide: in a process running several nodes, each bound
 * registry sees the attempts of all of them.
 */
export function bindWorkMetrics(metrics: Metrics): () => void {
  const b: Bound = {
    stepDuration: metrics.histogram(
      'step_duration_seconds',
      'Duration of one workflow step attempt, by workflow and outcome (ok, error).',
      ['workflow', 'outcome'],
      WORK_BUCKETS_SECONDS,
    ),
    queueWait: metrics.histogram(
      'task_queue_wait_seconds',
      'Time from when a task was due (its enqueue, unless delayed or retried later) to the start of its attempt.',
      ['queue'],
      WORK_BUCKETS_SECONDS,
    ),
    taskRun: metrics.histogram(
      'task_run_seconds',
      'Run time of one task attempt (its handler), by queue and outcome (ok, error).',
      ['queue', 'outcome'],
      WORK_BUCKETS_SECONDS,
    ),
  };
  bound.add(b);
  return () => {
    bound.delete(b);
  };
}

/** True when some registry is bound (callers skip reading the clock otherwise). */
export function workMetricsBound(): boolean {
  return bound.size > 0;
}

export function recordStep(workflow: string, ms: number, ok: boolean): void {
  for (const b of bound)
    b.stepDuration.observe({ workflow, outcome: ok ? 'ok' : 'error' }, Math.max(0, ms) / 1000);
}

export function recordTaskStart(queue: string, waitMs: number): void {
  for (const b of bound) b.queueWait.observe({ queue }, Math.max(0, waitMs) / 1000);
}

export function recordTaskRun(queue: string, ms: number, ok: boolean): void {
  for (const b of bound) b.taskRun.observe({ queue, outcome: ok ? 'ok' : 'error' }, Math.max(0, ms) / 1000);
}

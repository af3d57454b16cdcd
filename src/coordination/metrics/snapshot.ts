/**
 * Coordination metrics computed from the store — the workflow runs, their journals and the task
 * queues — so they survive every restart: nothing is counted in memory.
 */
import type { Store } from '../../store/index.js';

/** Counts of runs by status, and how long completed ones took. */
export interface WorkflowFigures {
  readonly total: number;
  readonly pending: number;
  /** Executing: running, sleeping or waiting. */
  readonly running: number;
  readonly paused: number;
  /** Successes. */
  readonly completed: number;
  /** Failures. */
  readonly failed: number;
  readonly cancelled: number;
  /** Mean time from start (creation) to completion of completed runs, in ms; null when none. */
  readonly averageDurationMs: number | null;
}

/** Journaled steps (`ctx.step`, `ctx.transactionStep`). */
export interface StepFigures {
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  /** Waiting for their next attempt. */
  readonly retrying: number;
  /**
   * Mean duration of completed steps, in ms, measured between commits: from the run's previous journal
   * entry (a sleep counts from its end) to the step's own. The first entry of a run has no previous
   * commit and is not measured. Null when no step was measured.
   */
  readonly averageDurationMs: number | null;
}

/** Steps handed to agents (`ctx.dispatch`): the tasks the coordination layer distributed. */
export interface DistributedFigures {
  readonly total: number;
  /** Handed off, no result yet. */
  readonly pending: number;
  readonly completed: number;
  readonly failed: number;
}

/** Task queue rows by state (completed tasks are only there when the queue keeps them). */
export interface QueueFigures {
  readonly queued: number;
  readonly running: number;
  readonly completed: number;
  readonly dead: number;
  readonly cancelled: number;
}

export interface CoordinationSnapshot {
  /** When it was computed, UNIX epoch ms. */
  readonly at: number;
  /** Runs created at or after this time count (UNIX epoch ms); undefined: all. */
  readonly since: number | undefined;
  readonly workflows: WorkflowFigures;
  /** The same, per workflow name. */
  readonly byWorkflow: Readonly<Record<string, WorkflowFigures>>;
  readonly steps: StepFigures;
  readonly tasksDistributed: DistributedFigures;
  /** Task queue rows, all queues together. */
  readonly tasks: QueueFigures;
  /** The same, per queue. */
  readonly byQueue: Readonly<Record<string, QueueFigures>>;
}

type Num = number | string | null;

interface RunGroup {
  name: string;
  status: string;
  n: Num;
  done_ms: Num;
}

interface StepGroup {
  kind: string;
  status: string;
  n: Num;
  measured: Num;
  measured_ms: Num;
}

interface TaskGroup {
  queue: string;
  state: string;
  n: Num;
}

const num = (v: Num): number => (v === null ? 0 : Number(v));

function runsSql(windowed: boolean): string {
  return (
    'SELECT name, status, COUNT(*) AS n, ' +
    "SUM(CASE WHEN status = 'completed' THEN finished_at - created_at ELSE 0 END) AS done_ms " +
    `FROM garrison_workflow_runs ${windowed ? 'WHERE created_at >= $1 ' : ''}GROUP BY name, status`
  );
}

/**
 * Steps and dispatched steps. Each entry's duration is the time since the run's previous entry ended
 * (its commit, or a sleep's due time); negative gaps (steps of a `Promise.all` commit out of index
 * order) count as 0.
 */
function stepsSql(windowed: boolean): string {
  const window = windowed
    ? 'JOIN garrison_workflow_runs r ON r.id = s.run_id WHERE r.created_at >= $1 AND s.idx >= 0'
    : 'WHERE s.idx >= 0';
  return (
    'SELECT kind, status, COUNT(*) AS n, COUNT(d) AS measured, ' +
    'SUM(CASE WHEN d < 0 THEN 0 ELSE d END) AS measured_ms FROM (' +
    "SELECT s.kind, s.status, CASE WHEN s.status = 'completed' THEN s.updated_at - LAG(" +
    'CASE WHEN s.due_at IS NOT NULL AND s.due_at > s.updated_at THEN s.due_at ELSE s.updated_at END' +
    ') OVER (PARTITION BY s.run_id ORDER BY s.idx) END AS d ' +
    `FROM garrison_workflow_steps s ${window}` +
    ") t WHERE kind IN ('step', 'transaction', 'dispatch') GROUP BY kind, status"
  );
}

function tasksSql(windowed: boolean): string {
  return (
    'SELECT queue, state, COUNT(*) AS n FROM garrison_tasks ' +
    `${windowed ? 'WHERE created_at >= $1 ' : ''}GROUP BY queue, state`
  );
}

function workflowFigures(groups: readonly RunGroup[]): WorkflowFigures {
  const by = (statuses: readonly string[]) =>
    groups.filter((g) => statuses.includes(g.status)).reduce((sum, g) => sum + num(g.n), 0);
  const completed = by(['completed']);
  const doneMs = groups.reduce((sum, g) => sum + num(g.done_ms), 0);
  return {
    total: groups.reduce((sum, g) => sum + num(g.n), 0),
    pending: by(['pending']),
    running: by(['running', 'sleeping', 'waiting']),
    paused: by(['paused']),
    completed,
    failed: by(['failed']),
    cancelled: by(['cancelled']),
    averageDurationMs: completed === 0 ? null : doneMs / completed,
  };
}

function queueFigures(groups: readonly TaskGroup[]): QueueFigures {
  const by = (state: string) => groups.filter((g) => g.state === state).reduce((s, g) => s + num(g.n), 0);
  return {
    queued: by('queued'),
    running: by('running'),
    completed: by('completed'),
    dead: by('dead'),
    cancelled: by('cancelled'),
  };
}

function groupBy<T, K extends string>(rows: readonly T[], key: (row: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list === undefined) out.set(k, [row]);
    else list.push(row);
  }
  return out;
}

/**
 * Reads the coordination metrics from the store: three grouped queries (runs, journal entries, tasks),
 * each a scan of its table (or of the rows created since `since`). Meant for a collector that runs it
 * now and then, not for every request.
 */
export async function readCoordinationSnapshot(
  store: Store,
  options: { readonly now: number; readonly since?: number },
): Promise<CoordinationSnapshot> {
  const params = options.since === undefined ? [] : [options.since];
  const windowed = params.length > 0;
  const [runs, steps, tasks] = await Promise.all([
    store.query<RunGroup>(runsSql(windowed), params),
    store.query<StepGroup>(stepsSql(windowed), params),
    store.query<TaskGroup>(tasksSql(windowed), params),
  ]);
  // Names are user input: a workflow or queue named `__proto__` must be a key like any other.
  const byWorkflow = Object.create(null) as Record<string, WorkflowFigures>;
  for (const [name, groups] of groupBy(runs, (r) => r.name)) byWorkflow[name] = workflowFigures(groups);
  const byQueue = Object.create(null) as Record<string, QueueFigures>;
  for (const [queue, groups] of groupBy(tasks, (t) => t.queue)) byQueue[queue] = queueFigures(groups);

  const of = (kinds: readonly string[], status?: string) =>
    steps
      .filter((s) => kinds.includes(s.kind) && (status === undefined || s.status === status))
      .reduce((sum, s) => sum + num(s.n), 0);
  const plain = ['step', 'transaction'];
  const measured = steps.filter((s) => plain.includes(s.kind) && s.status === 'completed');
  const measuredCount = measured.reduce((sum, s) => sum + num(s.measured), 0);
  const measuredMs = measured.reduce((sum, s) => sum + num(s.measured_ms), 0);
  return {
    at: options.now,
    since: options.since,
    workflows: workflowFigures(runs),
    byWorkflow,
    steps: {
      total: of(plain),
      completed: of(plain, 'completed'),
      failed: of(plain, 'failed'),
      retrying: of(plain, 'retrying'),
      averageDurationMs: measuredCount === 0 ? null : measuredMs / measuredCount,
    },
    tasksDistributed: {
      total: of(['dispatch']),
      pending: of(['dispatch'], 'pending'),
      completed: of(['dispatch'], 'completed'),
      failed: of(['dispatch'], 'failed'),
    },
    tasks: queueFigures(tasks),
    byQueue,
  };
}

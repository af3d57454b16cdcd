/** Prometheus gauges of the coordination metrics, set from a snapshot before each scrape. */
import type { Metrics } from '../../telemetry/index.js';
import type { CoordinationSnapshot, QueueFigures, WorkflowFigures } from './snapshot.js';

const WORKFLOW_STATES = ['pending', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
const QUEUE_STATES = ['queued', 'running', 'completed', 'dead', 'cancelled'] as const;

export interface CoordinationGauges {
  /** Sets every gauge from `snapshot` (labels no longer present are dropped). */
  set(snapshot: CoordinationSnapshot): void;
}

/** Registers the gauges (`<prefix>coordination_…`) on `metrics`. */
export function coordinationGauges(metrics: Metrics): CoordinationGauges {
  const workflows = metrics.gauge(
    'coordination_workflows',
    'Workflow runs in the store, by workflow and status (running includes sleeping and waiting).',
    ['workflow', 'status'],
  );
  const workflowDuration = metrics.gauge(
    'coordination_workflow_duration_avg_seconds',
    'Mean time from start to completion of completed workflow runs, by workflow.',
    ['workflow'],
  );
  const steps = metrics.gauge('coordination_steps', 'Journaled workflow steps, by status.', ['status']);
  const stepDuration = metrics.gauge(
    'coordination_step_duration_avg_seconds',
    'Mean duration of completed workflow steps, measured between journal commits.',
  );
  const distributed = metrics.gauge(
    'coordination_tasks_distributed',
    'Workflow steps dispatched to agents, by status.',
    ['status'],
  );
  const tasks = metrics.gauge('coordination_tasks', 'Task queue rows, by queue and state.', [
    'queue',
    'state',
  ]);

  const setWorkflow = (name: string, f: WorkflowFigures) => {
    for (const status of WORKFLOW_STATES) workflows.set({ workflow: name, status }, f[status]);
    if (f.averageDurationMs !== null) workflowDuration.set({ workflow: name }, f.averageDurationMs / 1000);
  };
  const setQueue = (queue: string, f: QueueFigures) => {
    for (const state of QUEUE_STATES) tasks.set({ queue, state }, f[state]);
  };

  return {
    set(snapshot) {
      for (const g of [workflows, workflowDuration, steps, stepDuration, distributed, tasks]) g.reset();
      for (const [name, f] of Object.entries(snapshot.byWorkflow)) setWorkflow(name, f);
      const s = snapshot.steps;
      steps.set({ status: 'completed' }, s.completed);
      steps.set({ status: 'failed' }, s.failed);
      steps.set({ status: 'retrying' }, s.retrying);
      if (s.averageDurationMs !== null) stepDuration.set(s.averageDurationMs / 1000);
      const d = snapshot.tasksDistributed;
      for (const status of ['pending', 'completed', 'failed'] as const)
        distributed.set({ status }, d[status]);
      for (const [queue, f] of Object.entries(snapshot.byQueue)) setQueue(queue, f);
    },
  };
}

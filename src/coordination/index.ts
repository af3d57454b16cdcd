/** Coordination: what the seed's coordinator did, split into separately supervised processes. */
export {
  createWorkflowSupervisor,
  WorkflowSupervisor,
  type WorkflowServerInfo,
} from './workflows/workflow-supervisor.js';
export type { WorkflowSupervisorOptions } from './workflows/options.js';
export { WorkflowServerError } from './workflows/workflow-server.js';
export {
  createMetricsCollector,
  MetricsCollector,
  type MetricsCollectorOptions,
} from './metrics/metrics-collector.js';
export {
  readCoordinationSnapshot,
  type CoordinationSnapshot,
  type DistributedFigures,
  type QueueFigures,
  type StepFigures,
  type WorkflowFigures,
} from './metrics/snapshot.js';
export * from './distributor/index.js';
export {
  createHealthMonitor,
  HealthMonitor,
  type HealthMonitorOptions,
  type HealthTransition,
} from './health-monitor/health-monitor.js';
export type { CoordinationEvents } from './health-monitor/events.js';
export {
  createMonitorLeakWatch,
  monitorLeaksCheck,
  type MonitorLeak,
  type MonitorLeakOptions,
  type MonitorLeakWatch,
} from './health-monitor/monitor-leaks.js';
export * from './primitives/index.js';

/** The store channel on which a new pending workflow run wakes the launchers of every node. */
export { PENDING_CHANNEL as WORKFLOWS_PENDING_CHANNEL } from './workflows/launcher.js';

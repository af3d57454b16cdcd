/**
 * Governance: the node's resource limits and tokens, health checks and the system health summary,
 * services started in dependency order, and sensors that turn readings into signals. It sits above the
 * registry and resilience and below messaging: the layers above use `ResourceManager.guard`/`acquire` to
 * refuse work past a limit, and read health through `HealthChecks`.
 */
export {
  DependencyCycleError,
  GovernanceErrorCode,
  GovernanceTimeoutError,
  HealthCheckExistsError,
  MissingDependencyError,
  ResourceExhaustedError,
  ServiceStartError,
  ServiceStopError,
  type ServiceStopFailure,
} from './errors.js';
export type { GovernanceEventSink, GovernanceEvents, HealthState, SignalLevel } from './events.js';
export { withTimeout } from './timeout.js';
export {
  RESOURCE_KINDS,
  ResourceKind,
  defaultLimits,
  type Gauge,
  type ResourceLimits,
  type ResourceManagerOptions,
} from './resources/limits.js';
export {
  ResourceManager,
  createResourceManager,
  type AcquireMeta,
  type AcquireResult,
  type ResourceStats,
  type ResourceToken,
  type ResourceUsage,
} from './resources/resource-manager.js';
export {
  HealthStatus,
  type CheckReport,
  type HealthCheckFn,
  type HealthCheckResult,
  type HealthCheckSpec,
  type SystemHealthSummary,
} from './health/types.js';
export {
  createHealthChecks,
  summarise,
  type HealthChecks,
  type HealthChecksOptions,
} from './health/health-checks.js';
export {
  migrationsCurrentCheck,
  queueProgressCheck,
  resourcesCheck,
  schedulerRunningCheck,
  storeReachableCheck,
  type CheckOverrides,
  type QueueProgress,
  type QueueProgressCheckOptions,
  type SchedulerProbe,
} from './health/builtin-checks.js';
export { orderByDependencies, type DependencyAccessors } from './services/graph.js';
export {
  planServices,
  startServices,
  type RunningServices,
  type ServiceDefinition,
  type StartServicesOptions,
} from './services/services.js';
export type {
  HistoryEntry,
  Readings,
  Sensor,
  SensorSignal,
  SensorSnapshot,
  SensorThreshold,
} from './sensors/types.js';
export {
  SENSOR_TICK,
  sensorBehaviour,
  sensorChildSpec,
  sensorHandle,
  sensorProcessName,
  startSensor,
  type SensorHandle,
  type SensorProcessOptions,
  type SensorScheduler,
} from './sensors/sensor-process.js';
export {
  SYSTEM_THRESHOLDS,
  createSystemSensor,
  hostProbes,
  type EventLoopDelayProbe,
  type SystemProbes,
  type SystemSensorOptions,
} from './sensors/system-sensor.js';
export {
  AGENT_THRESHOLDS,
  createAgentPerformanceSensor,
  type AgentActionSample,
  type AgentPerformanceSensor,
  type AgentPerformanceSensorOptions,
} from './sensors/agent-sensor.js';
export { HEALTH_THRESHOLDS, createHealthSensor, type HealthSensorOptions } from './sensors/health-sensor.js';
export {
  USAGE_GROUPS,
  agentTokensSince,
  listModelUsage,
  recordModelUsage,
  usageQuerySchema,
  type ModelUsageRecord,
  type UsageGroup,
  type UsageQuery,
  type UsageTotals,
} from './usage/model-usage.js';

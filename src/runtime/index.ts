/** The runtime: processes with bounded mailboxes, monitored calls, links, supervisors and task pools. */
export { SystemClock, VirtualClock, systemClock, type Clock, type TimerHandle } from './clock.js';
export { Pid, type ProcessRef } from './pid.js';
export { formatReason, isNormalExit, type ExitReason, type ExitSignal } from './reasons.js';
export {
  isDown,
  isExit,
  type Behaviour,
  type CallResult,
  type DownMessage,
  type ExitMessage,
  type From,
  type ProcessContext,
} from './behaviour.js';
export { reply } from './call.js';
export type { MonitorRef } from './monitors.js';
export type { RuntimeEventSink, MonitorInfo, RuntimeEvent } from './events.js';
export { OverflowPolicy, type RuntimeOptions, type SpawnOptions } from './options.js';
export type { CastOutcome } from './process.js';
export {
  Runtime,
  createRuntime,
  type ProcessCallOptions,
  type ProcessCastOptions,
  type ProcessInfo,
  type ProcessStopOptions,
} from './runtime.js';
export {
  BadMessageError,
  CallTimeoutError,
  ChildNotFoundError,
  ChildRunningError,
  ChildStartError,
  InitFailedError,
  MailboxFullError,
  MaxChildrenError,
  NameTakenError,
  NoProcError,
  PoolNotRunningError,
  PoolQueueFullError,
  ProcessExitedError,
  RuntimeError,
  RuntimeErrorCode,
  TaskCrashedError,
  TaskTimeoutError,
  isRuntimeError,
} from './errors.js';
export {
  RestartType,
  SupervisorStrategy,
  type ChildSpec,
  type IntensityOptions,
  type ChildShutdown,
  type ChildStartOptions,
  type SupervisorSpec,
} from './supervision/spec.js';
export {
  Supervisor,
  type ChildInfo,
  type SupervisorChildOptions,
  type SupervisorStartOptions,
} from './supervision/supervisor.js';
export {
  DynamicSupervisor,
  type DynamicChildInfo,
  type DynamicSupervisorChildOptions,
  type DynamicSupervisorSpec,
} from './supervision/dynamic-supervisor.js';
export {
  describeTree,
  type ChildDescription,
  type DynamicSupervisorDescription,
  type NodeDescription,
  type SupervisorDescription,
  type TaskPoolDescription,
} from './supervision/describe.js';
export {
  TaskPool,
  type TaskBatchOptions,
  type PoolStats,
  type PoolTask,
  type TaskPoolChildOptions,
  type TaskPoolOptions,
} from './tasks/task-pool.js';

/**
 * Agents: `defineAction` (validated input and output, directives), `defineAgent` (capabilities, a state
 * schema, actions, schedules), and the agent host that runs them as supervised, registered processes
 * whose state, status, counters and queue are durable. Work, calls, signals, pauses and resumes reach
 * an agent wherever it runs, through the store. The seed's task agent and monitor agent are built on it.
 */
export {
  ActionResult,
  defineAction,
  withDirectives,
  type ActionContext,
  type ActionDefinition,
  type ActionReturn,
  type ActionSpec,
  type ActionTaskInfo,
} from './action.js';
export {
  defineAgent,
  type AgentActionRef,
  type AgentActions,
  type AgentDefinition,
  type AgentSchedule,
  type DefinedSchedule,
  scheduleNameSchema,
  type AgentSpec,
} from './agent.js';
export {
  directive,
  type Directive,
  type DirectiveEnqueueOptions,
  type EmitDirective,
  type EnqueueDirective,
  type EnqueueTaskDirective,
  type SetStateDirective,
} from './directives.js';
export { AgentError, AgentErrorCode, isAgentError } from './errors.js';
export { agentStatuses, withAgentStatus, type AgentStatusView } from './status-view.js';
export { insertAuditEvent, listAuditEvents, type AuditEvent, type NewAuditEvent } from './audit.js';
export type { AgentSchedules } from './host-schedules.js';
export { TaskOutcomes } from './task-outcomes.js';
export {
  changeSchedule,
  listSchedules,
  runScheduleNow,
  scheduleTimerId,
  scheduleTimingSchema,
  SCHEDULE_TOPIC,
  type AgentScheduleInfo,
  type ScheduleAnswer,
  type ScheduleContext,
  type ScheduleOperation,
  type ScheduleRequest,
  type ScheduleTiming,
} from './schedules.js';
export {
  AgentOperation,
  operateAgent,
  type OperatorAnswer,
  type OperatorContext,
  type OperatorRequest,
} from './operator.js';
export { errorPausedAgents, errorPausedAgentsCheck, type ErrorPause } from './error-pauses.js';
export type { AgentEventSink, AgentEvents, TaskEventSink } from './events.js';
export type { AgentEnqueueOptions, AgentTaskPayload } from './enqueue.js';
export type { AgentScheduler, SettleOutcome } from './host-core.js';
export type { AgentHostOptions, AgentTaskSettler, StartAgentOptions } from './host-options.js';
export { createAgentHost, type AgentHost } from './host.js';
export type { BroadcastAnswer, BroadcastOptions } from './broadcast.js';
export type { AgentCounters, AgentInfo } from './info.js';
export { agentQueueName } from './queue-name.js';
export { CALL_PRIORITY, type ExpiredState } from './remote-call.js';
export { signalOf, type AgentSignalInput, type AgentSignalOptions, type SignalReceipt } from './signals.js';
export { AgentLifecycle, AgentStatus } from './rows.js';
export {
  defineTaskAgent,
  TaskType,
  type TaskAgentOptions,
  type TaskAgentState,
  type TaskTypeHandler,
} from './task-agent.js';
export {
  collectSystemMetrics,
  defineMonitorAgent,
  type Alert,
  type MetricCollector,
  type MetricSample,
  type MonitorAgentOptions,
  type MonitorState,
  type Threshold,
} from './monitor-agent.js';

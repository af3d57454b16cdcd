/** The one scheduler: process timers that die with their owner, and durable timers kept in the store. */
export {
  SchedulerManager,
  SchedulerStatus,
  createScheduler,
  maintenanceTimerId,
  type MaintenanceJob,
  type SchedulerOptions,
} from './manager.js';
export {
  ProcessTimerKind,
  ProcessTimerRef,
  type EveryOptions,
  type ProcessTimerInfo,
} from './process-timers.js';
export {
  CRON_LEADER_LOCK,
  DurableTimers,
  TIMERS_CHANNEL,
  MissedPolicy,
  nextCronTime,
  type DurableTimerInfo,
  type DurableTimerSpec,
  type DurableTimersOptions,
  type TimerPage,
  type TimerPageFilter,
  type TimerFiring,
  type TimerHandler,
} from './durable-timers.js';
export type { SchedulerEventSink, SchedulerEvents } from './events.js';
export { expireTimerClaimsOf } from './claim-takeover.js';
export { SchedulerErrorCode, SchedulerStoppedError, TimerError, TimerNotFoundError } from './errors.js';

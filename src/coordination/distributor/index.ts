export {
  createTaskDistributor,
  TaskDistributor,
  type DistributorStats,
  type TaskDistributorOptions,
} from './distributor.js';
export {
  dispatchedTaskSchema,
  dispatchOutcomeSchema,
  dispatchRequestSchema,
  isDispatchedTask,
  PARKED,
  PARKING_PREFIX,
  parkingQueue,
  type DispatchedTask,
  type DispatchInfo,
  type DispatchOutcome,
} from './dispatched-task.js';
export { DispatchConflictError } from './handoff.js';

export {
  createTaskDistributor,
  PARKING_PREFIX,
  TaskDistributor,
  type DistributorStats,
  type TaskDistributorOptions,
} from './distributor.js';
export {
  dispatchedTaskSchema,
  isDispatchedTask,
  type DispatchedTask,
  type DispatchInfo,
  type DispatchOutcome,
} from './dispatched-task.js';

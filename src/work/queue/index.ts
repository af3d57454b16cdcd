/** Durable task queues: the public surface. */
export { TaskState, type ClaimedTask, type EnqueuedTask, type EnqueueOptions, type Task } from './types.js';
export {
  defineQueue,
  type Backoff,
  type QueueDefinition,
  type QueueRef,
  type QueueSettings,
  type RateLimit,
} from './definition.js';
export {
  createQueueClient,
  type ClaimOptions,
  type EnqueueItem,
  type QueueClient,
  type QueueClientOptions,
} from './client.js';
export { admitEnqueues, type EnqueueAdmissionOptions } from './admission.js';
export { purgeTaskBatch, type QueueStats, type TaskFilter } from './admin.js';
export { expireTaskLeasesOf } from './takeover.js';
export { queueChannel } from './local.js';
export { createWorker, Worker, type WorkerState } from './worker.js';
export type { TaskContext, TaskHandler, WorkerOptions } from './worker-options.js';
export type { WorkerCounters, WorkerEventName, WorkerEvents } from './worker-events.js';
export {
  isQueueError,
  LeaseLostError,
  PermanentTaskError,
  QueueError,
  QueueErrorCode,
  QueueFullError,
} from './errors.js';

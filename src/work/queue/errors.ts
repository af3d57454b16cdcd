import { GarrisonError } from '../../errors.js';

/** Error codes of the task queues. Each names what went wrong. */
export const QueueErrorCode = {
  /**
   * The task's lease was lost: it expired and another worker took the task over (its fencing token moved
   * on), or the task was finished by someone else. The late completion, failure or renewal was rejected.
   */
  leaseLost: 'lease_lost',
  /** The task was cancelled while it ran; its completion or failure was not recorded. */
  taskCancelled: 'task_cancelled',
  /** No task has that id. */
  taskNotFound: 'task_not_found',
  /** The worker is not running (never started, stopping or stopped). */
  workerStopped: 'worker_stopped',
  /** An enqueue was refused: the queue already holds its most waiting tasks (see `admitEnqueues`). Retryable. */
  queueFull: 'queue_full',
} as const;
export type QueueErrorCode = (typeof QueueErrorCode)[keyof typeof QueueErrorCode];

export class QueueError extends GarrisonError {
  declare readonly code: QueueErrorCode;
  constructor(
    code: QueueErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/** A completion, failure or renewal carrying a fencing token that is no longer the task's. */
export class LeaseLostError extends QueueError {
  constructor(
    readonly taskId: number,
    readonly token: number,
    reason: string,
  ) {
    super(
      QueueErrorCode.leaseLost,
      `task ${taskId}: the lease of attempt token ${token} was lost (${reason})`,
      {
        details: { taskId, token },
      },
    );
  }
}

/** An enqueue refused because its queue holds `limit` waiting tasks already; nothing was written. */
export class QueueFullError extends QueueError {
  constructor(
    readonly queue: string,
    readonly limit: number,
    readonly waiting: number,
  ) {
    super(
      QueueErrorCode.queueFull,
      `queue ${queue} is full: about ${waiting} tasks waiting, at most ${limit}; try again later`,
      { retryable: true, details: { queue, limit, waiting } },
    );
  }
}

export function isQueueError(e: unknown, code?: QueueErrorCode): e is QueueError {
  return e instanceof QueueError && (code === undefined || e.code === code);
}

/**
 * Thrown by a handler to fail the task for good: it goes to the dead letters at once, whatever attempts
 * it has left (for input that can never succeed).
 */
export class PermanentTaskError extends GarrisonError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('task_failed_permanently', message, { ...options, retryable: false });
  }
}

import { GarrisonError } from '../errors.js';

/** Error codes the scheduler raises (besides `invalid_input` and the runtime's `noproc`). */
export const SchedulerErrorCode = {
  /** No active timer has that ref or id (it fired, was cancelled, or died with its owner). */
  timerNotFound: 'timer_not_found',
  /** The scheduler was shut down; it makes no more timers. */
  schedulerStopped: 'scheduler_stopped',
  /** A durable topic or maintenance job name already has a handler on this node. */
  topicTaken: 'timer_topic_taken',
  /** A durable timer row could not be written. */
  timerFailed: 'timer_failed',
} as const;
export type SchedulerErrorCode = (typeof SchedulerErrorCode)[keyof typeof SchedulerErrorCode];

/** The base of every scheduler error. */
export class TimerError extends GarrisonError {}

export class TimerNotFoundError extends TimerError {
  constructor(id: string) {
    super(SchedulerErrorCode.timerNotFound, `no active timer ${id}`, { details: { id } });
  }
}

export class SchedulerStoppedError extends TimerError {
  constructor() {
    super(SchedulerErrorCode.schedulerStopped, 'the scheduler is shut down');
  }
}

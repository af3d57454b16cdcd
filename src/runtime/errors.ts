import { GarrisonError } from '../errors.js';
import { formatRef, type ProcessRef } from './pid.js';
import { formatReason, type ExitReason } from './reasons.js';

/** Error codes the runtime raises. Callers switch on `error.code`. */
export const RuntimeErrorCode = {
  /** No process with that pid or name is alive (or it is already exiting). */
  noproc: 'noproc',
  /** A call got no reply within its `timeoutMs`. Retryable. */
  callTimeout: 'call_timeout',
  /** The callee exited while the call was pending; `reason` says why. */
  processExited: 'process_exited',
  /** The mailbox was full and its overflow policy rejected the message (or a blocked sender gave up). Retryable. */
  mailboxFull: 'mailbox_full',
  /** A name given to `spawn` is already registered. */
  nameTaken: 'name_taken',
  /** `init` threw or the process exited before `init` returned; the spawn failed. */
  initFailed: 'init_failed',
  /** A process received a call or cast it has no handler for, or a handler returned a malformed value. */
  badMessage: 'bad_message',
  /** A supervisor has no child with that id or pid. */
  childNotFound: 'child_not_found',
  /** `restartChild` of a child that is running. */
  childRunning: 'child_running',
  /** A child's `start` failed while its supervisor started. */
  childStartFailed: 'child_start_failed',
  /** A dynamic supervisor already runs its `maxChildren`. Retryable. */
  maxChildren: 'max_children',
  /** A task pool's task ran past its `taskTimeoutMs`; it was signalled to abort. Retryable. */
  taskTimeout: 'task_timeout',
  /** A task threw or rejected; `cause` is what it threw. */
  taskCrashed: 'task_crashed',
  /** The task pool is not running (never started, stopped, or restarting); nothing ran. Retryable. */
  poolNotRunning: 'pool_not_running',
  /** The task pool's queue is at `maxQueued`. Retryable. */
  poolQueueFull: 'pool_queue_full',
} as const;
export type RuntimeErrorCode = (typeof RuntimeErrorCode)[keyof typeof RuntimeErrorCode];

/** The base of every runtime error. */
export class RuntimeError extends GarrisonError {
  declare readonly code: RuntimeErrorCode;
  constructor(
    code: RuntimeErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/** True when `e` is a runtime error, optionally of the given code. */
export function isRuntimeError(e: unknown, code?: RuntimeErrorCode): e is RuntimeError {
  return e instanceof RuntimeError && (code === undefined || e.code === code);
}

export class NoProcError extends RuntimeError {
  constructor(ref: ProcessRef, why = 'no such process') {
    super('noproc', `${formatRef(ref)}: ${why}`, { details: { ref: String(ref) } });
  }
}

export class CallTimeoutError extends RuntimeError {
  constructor(ref: ProcessRef, timeoutMs: number) {
    super('call_timeout', `call to ${formatRef(ref)} got no reply within ${timeoutMs} ms`, {
      retryable: true,
      details: { ref: String(ref), timeoutMs },
    });
  }
}

/** The process a caller was waiting on exited; `reason` is its exit reason (a crash keeps its error as `cause`). */
export class ProcessExitedError extends RuntimeError {
  readonly reason: ExitReason;
  constructor(ref: ProcessRef, reason: ExitReason) {
    super('process_exited', `${formatRef(ref)} exited (${formatReason(reason)})`, {
      cause: typeof reason === 'object' ? reason.error : undefined,
      details: { ref: String(ref) },
    });
    this.reason = reason;
  }
}

export class MailboxFullError extends RuntimeError {
  constructor(ref: ProcessRef, capacity: number, waitedMs?: number) {
    const tail = waitedMs === undefined ? '' : ` and stayed full for ${waitedMs} ms`;
    super('mailbox_full', `mailbox of ${formatRef(ref)} is full (capacity ${capacity})${tail}`, {
      retryable: true,
      details: { ref: String(ref), capacity, ...(waitedMs === undefined ? {} : { waitedMs }) },
    });
  }
}

export class NameTakenError extends RuntimeError {
  constructor(name: string) {
    super('name_taken', `the name ${JSON.stringify(name)} is already registered`, { details: { name } });
  }
}

export class InitFailedError extends RuntimeError {
  constructor(pid: ProcessRef, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('init_failed', `init of ${formatRef(pid)} failed: ${why}`, {
      cause,
      details: { pid: String(pid) },
    });
  }
}

export class BadMessageError extends RuntimeError {
  constructor(pid: ProcessRef, what: string) {
    super('bad_message', `${formatRef(pid)}: ${what}`, { details: { pid: String(pid) } });
  }
}

export class ChildNotFoundError extends RuntimeError {
  constructor(supervisor: string, child: string) {
    super('child_not_found', `supervisor ${supervisor} has no child ${child}`, {
      details: { supervisor, child },
    });
  }
}

export class ChildRunningError extends RuntimeError {
  constructor(supervisor: string, child: string) {
    super('child_running', `child ${child} of supervisor ${supervisor} is running`, {
      details: { supervisor, child },
    });
  }
}

export class ChildStartError extends RuntimeError {
  constructor(supervisor: string, child: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('child_start_failed', `supervisor ${supervisor} could not start child ${child}: ${why}`, {
      cause,
      details: { supervisor, child },
    });
  }
}

export class MaxChildrenError extends RuntimeError {
  constructor(supervisor: string, maxChildren: number) {
    super('max_children', `supervisor ${supervisor} already runs its maximum of ${maxChildren} children`, {
      retryable: true,
      details: { supervisor, maxChildren },
    });
  }
}

export class TaskTimeoutError extends RuntimeError {
  constructor(pool: string, timeoutMs: number) {
    super('task_timeout', `task in pool ${pool} ran past ${timeoutMs} ms and was aborted`, {
      retryable: true,
      details: { pool, timeoutMs },
    });
  }
}

export class TaskCrashedError extends RuntimeError {
  constructor(pool: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('task_crashed', `task in pool ${pool} failed: ${why}`, { cause, details: { pool } });
  }
}

export class PoolNotRunningError extends RuntimeError {
  constructor(pool: string, cause?: unknown) {
    super('pool_not_running', `task pool ${pool} is not running; the task was not run`, {
      cause,
      retryable: true,
      details: { pool },
    });
  }
}

export class PoolQueueFullError extends RuntimeError {
  /** `maxQueued` is undefined when the burst was refused by the pool's mailbox before its queue saw it. */
  constructor(pool: string, maxQueued: number | undefined, cause?: unknown) {
    const limit = maxQueued === undefined ? 'too many tasks' : `its maximum of ${maxQueued} tasks`;
    super('pool_queue_full', `task pool ${pool} already has ${limit} waiting`, {
      cause,
      retryable: true,
      details: { pool, ...(maxQueued === undefined ? {} : { maxQueued }) },
    });
  }
}

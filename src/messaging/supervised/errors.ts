/**
 * The typed errors of supervised sends and broadcasts. Failures of the call itself keep the runtime's
 * own errors (`noproc`, `call_timeout`, `process_exited`, `mailbox_full`); these name what the
 * protocols on top of the call add.
 */
import { GarrisonError } from '../../errors.js';

export const SupervisedErrorCode = {
  /** An all-or-nothing target voted no in the prepare phase; its reason is in the message. */
  prepareRefused: 'prepare_refused',
  /** A target answered a protocol message (prepare, commit, abort) with something the protocol does not define. */
  protocolViolation: 'protocol_violation',
  /** A commit reached a process that has no such prepared message (it restarted and lost it). */
  commitRefused: 'commit_refused',
  /** A process refused a durable delivery (with `refuseDelivery`); the delivery retries it or dead-letters it. */
  deliveryRefused: 'delivery_refused',
} as const;
export type SupervisedErrorCode = (typeof SupervisedErrorCode)[keyof typeof SupervisedErrorCode];

export class SupervisedSendError extends GarrisonError {
  declare readonly code: SupervisedErrorCode;
  constructor(
    code: SupervisedErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/** True when `e` is a supervised-send error, optionally of the given code. */
export function isSupervisedSendError(e: unknown, code?: SupervisedErrorCode): e is SupervisedSendError {
  return e instanceof SupervisedSendError && (code === undefined || e.code === code);
}

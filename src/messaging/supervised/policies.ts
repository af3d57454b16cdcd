/**
 * The vocabulary of supervised sends: what happens to a send that failed, what a broadcast promises,
 * where a process's durable messages wait, and which failed attempts are worth another.
 */
import { isGarrisonError } from '../../errors.js';
import { PermanentError } from '../../resilience/index.js';
import { BadMessageError, ProcessExitedError, isRuntimeError, type ProcessRef } from '../../runtime/index.js';

/**
 * What a supervised send does once its last attempt has failed. There is no default: the caller says
 * which, so a failure is never handled by accident. In every case the result is `{ ok: false, error }`.
 */
export const OnError = {
  /** Return the error to the caller; nothing else happens. */
  return: 'return',
  /**
   * Also record the message in the durable dead-letter queue (recipient `process:<name>`), where
   * `deadLetters.list/retry/purge` see it; a retried one is delivered by that name's relay.
   */
  deadLetter: 'dead_letter',
  /** Also log the failure at `error` level through the sender's `Logger`. */
  log: 'log',
} as const;
export type OnError = (typeof OnError)[keyof typeof OnError];

/** What a broadcast promises. See `SupervisedSender.broadcast` for each one's exact definition. */
export const BroadcastSemantics = {
  /** Each target is called once, concurrently; the result lists every target's reply or error. */
  bestEffort: 'best_effort',
  /** Two-phase prepare/commit: no target applies the message unless every target prepared it. */
  allOrNothing: 'all_or_nothing',
  /** One durable row per target, committed together, delivered by relays and acknowledged by the process. */
  atLeastOnce: 'at_least_once',
} as const;
export type BroadcastSemantics = (typeof BroadcastSemantics)[keyof typeof BroadcastSemantics];

const MAILBOX_PREFIX = 'process:';

/**
 * The durable mailbox (a recipient of durable delivery) of the process registered as `name`: where its
 * at-least-once messages and its dead-lettered sends wait, and what its relay consumes.
 */
export function processMailbox(name: string): string {
  return MAILBOX_PREFIX + name;
}

/** The process name of a durable mailbox made by `processMailbox`, or undefined for any other recipient. */
export function processNameOf(recipient: string): string | undefined {
  return recipient.startsWith(MAILBOX_PREFIX) ? recipient.slice(MAILBOX_PREFIX.length) : undefined;
}

/**
 * Which failed attempts of a send to `ref` are retried when the policy does not say:
 * - `call_timeout` and `mailbox_full`: yes (the process is alive but busy);
 * - `noproc` and `process_exited`: yes for a registered name, whose supervisor may restart the process
 *   under it; no for a pid, which never comes back;
 * - a process that crashed because it has no handler for the message (`bad_message`): no, it would
 *   crash again;
 * - a `PermanentError` or any other Garrison error without `retryable`: no.
 */
export function isSendRetryable(ref: ProcessRef): (error: unknown) => boolean {
  const named = typeof ref === 'string';
  return (error) => {
    if (error instanceof PermanentError) return false;
    if (!isRuntimeError(error)) return isGarrisonError(error) ? error.retryable : true;
    switch (error.code) {
      case 'call_timeout':
      case 'mailbox_full':
        return true;
      case 'noproc':
        return named;
      case 'process_exited':
        return named && !crashedOnMessage(error);
      default:
        return false;
    }
  };
}

/** True when the callee died because it could not handle the message at all. */
function crashedOnMessage(error: unknown): boolean {
  if (!(error instanceof ProcessExitedError)) return false;
  const reason = error.reason;
  return typeof reason === 'object' && reason.error instanceof BadMessageError;
}

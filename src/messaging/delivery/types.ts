import type { z } from 'zod';
import type { Tx } from '../../store/index.js';
import type { ErrorRecord } from '../errors.js';
import type { BackoffPolicy } from './backoff.js';

/** A message as its handler sees it. */
export interface DeliveredMessage<T = unknown> {
  readonly id: number;
  readonly recipient: string;
  /** Who sent it, when the sender said. */
  readonly sender: string | null;
  readonly body: T;
  /** 1 on first delivery, 2 on the first redelivery, … */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** True when an earlier attempt failed or its consumer stopped before acknowledging it. */
  readonly redelivered: boolean;
  /** The error of the previous attempt, when there was one that reported an error. */
  readonly lastError: ErrorRecord | null;
  readonly idempotencyKey: string | null;
  /** When it was sent, UNIX epoch ms. */
  readonly sentAt: number;
}

/**
 * Handles one message inside a store transaction. Write your state changes through `tx`: the message's
 * acknowledgement commits in the same transaction, so either both the writes and the ack happen or
 * neither does. Throwing rolls both back and the message is redelivered (or dead-lettered).
 */
export type MessageHandler<T = unknown> = (message: DeliveredMessage<T>, tx: Tx) => void | Promise<void>;

export interface SendOptions {
  /**
   * Makes the send idempotent per recipient: another send with the same key for the same recipient,
   * within the key retention period, stores nothing and returns the first message's id.
   */
  readonly idempotencyKey?: string;
  /** Deliver no earlier than this many ms from now. Default 0. */
  readonly delayMs?: number;
  /** Attempts before the message is dead-lettered (1 = no redelivery). Default: the service's. */
  readonly maxAttempts?: number;
  /** The sending agent, recorded with the message. */
  readonly from?: string;
}

export interface SendReceipt {
  /** The message id (the first message's id for a duplicate). */
  readonly id: number;
  /** True when an earlier send with the same idempotency key already stored this message. */
  readonly duplicate: boolean;
}

export interface ConsumerOptions<T = unknown> {
  /**
   * How long a claimed message is reserved for this consumer (the visibility timeout), in ms. If the
   * handler has not finished by then, another consumer may claim it again, and this consumer's ack is
   * refused. Keep it well above the handler's running time. Default 30000.
   */
  readonly visibilityMs?: number;
  /** Messages handled at once. Above 1, order within the mailbox is no longer kept. Default 1. */
  readonly concurrency?: number;
  /**
   * Most messages claimed in one go. Claimed messages wait locally under their lease, so keep this small
   * enough that all can be handled before the lease runs out. Default: `concurrency`.
   */
  readonly batchSize?: number;
  /** Delay before a failed message is delivered again. Default: see `BackoffPolicy`. */
  readonly backoff?: BackoffPolicy;
  /**
   * The longest the consumer sleeps without looking at its mailbox, in ms: a safety net for a wake-up
   * that could not reach it (another process on SQLite, a dropped PostgreSQL connection). 0 turns it
   * off. Default 60000.
   */
  readonly recheckMs?: number;
  /** Delay before the consumer tries again after the store failed a claim, in ms. Default 1000. */
  readonly errorRetryMs?: number;
  /** A name for this consumer in leases and events. Default: `<nodeId>/<recipient>/<random>`. */
  readonly consumerId?: string;
  /**
   * Validates (and may transform) each body before the handler sees it. A body that fails is
   * dead-lettered at once with the validation error; it can never succeed on retry.
   */
  readonly schema?: z.ZodType<T>;
}

/** Counters since the service was created (this node only). */
export interface DeliveryStats {
  readonly sent: number;
  /** Sends recognised as duplicates by their idempotency key. */
  readonly duplicates: number;
  /** Messages whose handler succeeded and whose ack committed. */
  readonly delivered: number;
  /** Claims of a message that had been claimed before (after a failure or an expired lease). */
  readonly redelivered: number;
  /** Handler failures (each is retried later or dead-lettered). */
  readonly failed: number;
  readonly deadLettered: number;
  /** Acks refused because the lease had passed to another consumer. */
  readonly leaseLost: number;
  /** Store errors met while claiming, failing or releasing (the message is kept and retried). */
  readonly errors: number;
}

export interface DeliveryEvents {
  sent: { id: number; recipient: string; duplicate: boolean; availableAt: number };
  delivered: { id: number; recipient: string; attempt: number; consumerId: string };
  redelivered: { id: number; recipient: string; attempt: number; consumerId: string };
  failed: {
    id: number;
    recipient: string;
    attempt: number;
    error: ErrorRecord;
    /** When it will be delivered again, UNIX epoch ms; null when it was dead-lettered. */
    retryAt: number | null;
    consumerId: string;
  };
  dead_lettered: {
    id: number;
    recipient: string;
    attempts: number;
    error: ErrorRecord;
    consumerId: string | null;
  };
  lease_lost: { id: number; recipient: string; attempt: number; consumerId: string };
  /** A store operation of the delivery machinery failed; what it was doing is in `during`. */
  error: {
    recipient: string;
    consumerId: string | null;
    during: 'claim' | 'fail' | 'release' | 'wake';
    error: unknown;
  };
}

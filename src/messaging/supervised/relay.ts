/**
 * Relays: the bridge from a process's durable mailbox (`process:<name>`) to the process itself. A relay
 * is a durable-delivery consumer whose handler calls the process registered as `<name>` with a
 * `DurableEnvelope`; the process's reply is the acknowledgement. So a durable message reaches a process
 * at least once: a call that fails (no such process, a crash mid-call, a timeout, a refusal) leaves the
 * message in the store, to be delivered again with backoff and dead-lettered after its last attempt.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Runtime } from '../../runtime/index.js';
import type { Tx } from '../../store/index.js';
import { UnprocessableMessageError } from '../errors.js';
import type { Consumer } from '../delivery/consumer.js';
import type { DurableDelivery } from '../delivery/durable-delivery.js';
import type { ConsumerOptions } from '../delivery/types.js';
import { SupervisedSendError, SupervisedErrorCode } from './errors.js';
import { processMailbox } from './policies.js';

export const DURABLE_ENVELOPE = 'garrison.durable';
const REFUSAL = 'garrison.refuse';

/**
 * What a process gets from its relay as a call message. Reply to it (any value) to acknowledge it.
 *
 * `tx` is the delivery's open store transaction: writes made through it commit together with the
 * acknowledgement — so the message's effect on the store happens exactly once — and roll back with it
 * when the delivery fails. It is valid only until the process replies (using it later throws). On SQLite
 * the store has one writer and this transaction holds it: write through `tx`, never with a separate
 * `store.write`, which would wait for this very transaction until the call times out.
 */
export interface DurableEnvelope<T = unknown> {
  readonly type: typeof DURABLE_ENVELOPE;
  /** The durable message's id (a good idempotency key for effects outside the store). */
  readonly messageId: number;
  /** 1 on the first delivery, 2 on the first redelivery, … */
  readonly attempt: number;
  readonly redelivered: boolean;
  readonly body: T;
  readonly tx: Tx;
}

/** True when a call message is a durable delivery from a relay. */
export function isDurableEnvelope(msg: unknown): msg is DurableEnvelope {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as { type?: unknown }).type === DURABLE_ENVELOPE &&
    typeof (msg as { messageId?: unknown }).messageId === 'number'
  );
}

/** A reply that refuses a durable delivery instead of acknowledging it. */
export interface DeliveryRefusal {
  readonly type: typeof REFUSAL;
  readonly reason: string;
  /** True: the message can never be handled; it is dead-lettered at once. False: it is retried. */
  readonly permanent: boolean;
}

/**
 * Builds the reply that refuses a durable delivery: the delivery's transaction (and the process's
 * writes through it) rolls back, and the message is retried with backoff — or, with `permanent`,
 * dead-lettered at once.
 */
export function refuseDelivery(reason: string, options: { permanent?: boolean } = {}): DeliveryRefusal {
  return { type: REFUSAL, reason, permanent: options.permanent ?? false };
}

function isRefusal(reply: unknown): reply is DeliveryRefusal {
  return typeof reply === 'object' && reply !== null && (reply as { type?: unknown }).type === REFUSAL;
}

export interface RelayOptions extends Pick<
  ConsumerOptions,
  'visibilityMs' | 'backoff' | 'recheckMs' | 'errorRetryMs' | 'consumerId'
> {
  /**
   * How long each call to the process waits for its reply, in ms. Must be below `visibilityMs`, so a
   * call has ended before the message can be claimed again. Default 5000.
   */
  readonly timeoutMs?: number;
}

const relaySchema = z
  .object({
    timeoutMs: z.number().int().min(1).default(5000),
    visibilityMs: z.number().int().min(1).default(30_000),
  })
  .loose()
  .refine((o) => o.timeoutMs < o.visibilityMs, {
    message: 'timeoutMs must be below visibilityMs (a call must end before its message can be claimed again)',
  });

/**
 * Starts the relay of the process registered as `name`: a consumer of `process:<name>` that calls the
 * process with a `DurableEnvelope` for each message and acknowledges it when the process replies.
 * Messages are delivered one at a time, in mailbox order. Start one per name that receives durable
 * messages, where that process runs (on PostgreSQL, relays on several nodes share the mailbox).
 */
export function startRelay(
  runtime: Runtime,
  delivery: DurableDelivery,
  name: string,
  options: RelayOptions = {},
): Promise<Consumer> {
  const n = z.string().min(1).max(190).safeParse(name);
  if (!n.success) throw new ValidationError(`invalid relay name: ${describeIssues(n.error.issues)}`);
  const parsed = relaySchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid relay options: ${describeIssues(parsed.error.issues)}`);
  const { timeoutMs, ...consumerOptions } = parsed.data;
  return delivery.startConsumer(
    processMailbox(name),
    async (message, tx) => {
      const envelope: DurableEnvelope = {
        type: DURABLE_ENVELOPE,
        messageId: message.id,
        attempt: message.attempt,
        redelivered: message.redelivered,
        body: message.body,
        tx,
      };
      // A failed call (noproc, crash mid-call, timeout) throws: the transaction rolls back, the message stays.
      const reply = await runtime.call(name, envelope, { timeoutMs });
      if (!isRefusal(reply)) return;
      const why = `process ${JSON.stringify(name)} refused message ${message.id}: ${reply.reason}`;
      if (reply.permanent) throw new UnprocessableMessageError(why);
      throw new SupervisedSendError(SupervisedErrorCode.deliveryRefused, why, { retryable: true });
    },
    consumerOptions,
  );
}

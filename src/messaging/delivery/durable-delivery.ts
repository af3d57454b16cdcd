/**
 * Durable delivery between agents: a message is a store row, committed before `send` resolves, and
 * delivered at least once to the recipient's handler, whose successful transaction acknowledges it.
 * Failed messages come back with exponential backoff; after their last attempt they wait in the
 * dead-letter queue.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Clock } from '../../runtime/index.js';
import type { Store, Tx } from '../../store/index.js';
import { emitTo, type EventSink, type SystemEvents } from '../../telemetry/index.js';
import { MessagingError, MessagingErrorCode } from '../errors.js';
import { Listeners } from '../listeners.js';
import { backoffSchema } from './backoff.js';
import { Consumer, type ConsumerContext } from './consumer.js';
import { createDeadLetterQueue, type DeadLetterQueue } from './dead-letters.js';
import { insertMessage, mailboxDepth, pruneKeys, type MailboxDepth } from './message-sql.js';
import type {
  ConsumerOptions,
  DeliveryEvents,
  DeliveryStats,
  MessageHandler,
  SendOptions,
  SendReceipt,
} from './types.js';

/** The notify channel a send is announced on; the payload is the recipient. */
export const MESSAGE_CHANNEL = 'garrison_messages';

export interface DurableDeliveryOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** This node's name, used in consumer ids. Default: a random id. */
  readonly nodeId?: string;
  /** Attempts per message when the sender does not say (1 = never redelivered). Default 5. */
  readonly maxAttempts?: number;
  /**
   * How long an idempotency key is remembered after its send, in ms: a resend with the same key within
   * this time is a duplicate. Default 86400000 (24 hours).
   */
  readonly idempotencyRetentionMs?: number;
  /** The random source for backoff jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Where `delivery.delivered`, `delivery.redelivered` and `delivery.dead_lettered` go (the node's event bus, which feeds the metrics). */
  readonly telemetry?: EventSink<DeliveryTelemetry>;
}

/** The telemetry events durable delivery emits. */
export type DeliveryTelemetry = Pick<
  SystemEvents,
  'delivery.delivered' | 'delivery.redelivered' | 'delivery.dead_lettered'
>;

export interface DurableDelivery {
  /** Stores a message for `to` and wakes its consumers. Resolves once the message is committed. */
  send(to: string, body: unknown, options?: SendOptions): Promise<SendReceipt>;
  /**
   * Stores a message as part of the caller's transaction: it exists (and consumers are woken) only if
   * that transaction commits. Use it from a handler to send as part of handling.
   */
  sendInTx(tx: Tx, to: string, body: unknown, options?: SendOptions): Promise<SendReceipt>;
  /**
   * Stores one copy of the message for each recipient, all in one transaction: either every recipient's
   * mailbox has it or none does. Each copy is then delivered at least once, independently. An
   * idempotency key applies per recipient. Receipts come back in the order of `recipients`.
   */
  sendMany(recipients: readonly string[], body: unknown, options?: SendOptions): Promise<SendReceipt[]>;
  /** `sendMany` as part of the caller's transaction. */
  sendManyInTx(
    tx: Tx,
    recipients: readonly string[],
    body: unknown,
    options?: SendOptions,
  ): Promise<SendReceipt[]>;
  /** Starts a consumer of `recipient`'s mailbox; resolves once it listens for wake-ups. */
  startConsumer<T = unknown>(
    recipient: string,
    handler: MessageHandler<T>,
    options?: ConsumerOptions<T>,
  ): Promise<Consumer<T>>;
  readonly deadLetters: DeadLetterQueue;
  /** How many of `recipient`'s messages are pending, leased and dead right now. */
  depth(recipient: string): Promise<MailboxDepth>;
  /** Forgets idempotency keys older than the retention period; returns how many. */
  pruneIdempotencyKeys(): Promise<number>;
  /** Counters on this node since the service was created. */
  stats(): DeliveryStats;
  /** Listens for delivery events; returns a function that removes the listener. */
  on<K extends keyof DeliveryEvents>(event: K, listener: (e: DeliveryEvents[K]) => void): () => void;
  /** Stops every consumer this service started (each finishes the messages it is handling). */
  close(): Promise<void>;
}

const nameSchema = z.string().min(1).max(200);
const recipientsSchema = z
  .array(nameSchema)
  .min(1)
  .max(10_000)
  .refine((list) => new Set(list).size === list.length, 'recipients must not repeat');
const sendOptionsSchema = z
  .object({
    idempotencyKey: z.string().min(1).max(200).optional(),
    delayMs: z.number().int().min(0).optional(),
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    from: nameSchema.optional(),
  })
  .strict();
const consumerOptionsSchema = z
  .object({
    visibilityMs: z.number().int().min(1).optional(),
    concurrency: z.number().int().min(1).max(1000).optional(),
    batchSize: z.number().int().min(1).max(1000).optional(),
    backoff: backoffSchema.optional(),
    recheckMs: z.number().int().min(0).optional(),
    errorRetryMs: z.number().int().min(1).optional(),
    consumerId: nameSchema.optional(),
    schema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema').optional(),
  })
  .strict();

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${describeIssues(r.error.issues)}`);
  return r.data;
}

function emptyStats(): { -readonly [K in keyof DeliveryStats]: number } {
  return {
    sent: 0,
    duplicates: 0,
    delivered: 0,
    redelivered: 0,
    failed: 0,
    deadLettered: 0,
    leaseLost: 0,
    errors: 0,
  };
}

export function createDurableDelivery(options: DurableDeliveryOptions): DurableDelivery {
  const { store, clock } = options;
  const nodeId = options.nodeId ?? randomUUID().slice(0, 8);
  const defaultMaxAttempts = check(
    z.number().int().min(1).max(1000),
    options.maxAttempts ?? 5,
    'maxAttempts',
  );
  const retentionMs = check(
    z.number().int().min(0),
    options.idempotencyRetentionMs ?? 86_400_000,
    'idempotencyRetentionMs',
  );
  const counters = emptyStats();
  const events = new Listeners<DeliveryEvents>();
  // Only what closing needs, so consumers of any body type fit.
  const consumers = new Set<Pick<Consumer, 'id' | 'isRunning' | 'stop'>>();

  const sink = options.telemetry;
  if (sink !== undefined) {
    events.on('delivered', (e) =>
      emitTo(sink, 'delivery.delivered', { messageId: String(e.id), attempt: e.attempt }),
    );
    events.on('redelivered', (e) =>
      emitTo(sink, 'delivery.redelivered', { messageId: String(e.id), attempt: e.attempt }),
    );
    events.on('dead_lettered', (e) =>
      emitTo(sink, 'delivery.dead_lettered', {
        messageId: String(e.id),
        attempts: e.attempts,
        reason: e.error.code ?? e.error.message,
      }),
    );
  }

  const count = (name: keyof DeliveryStats, by = 1) => {
    counters[name] += by;
  };
  const reportError = (event: DeliveryEvents['error']) => {
    counters.errors++;
    // Never silent: with nobody listening, the failure still reaches the process's warnings.
    if (events.emit('error', event) === 0) {
      const what = event.error instanceof Error ? event.error.message : String(event.error);
      process.emitWarning(
        `message delivery for "${event.recipient}" failed during ${event.during}: ${what}`,
        'GarrisonWarning',
      );
    }
  };
  const wake = (recipient: string) => {
    store.notify(MESSAGE_CHANNEL, recipient).catch((error: unknown) => {
      reportError({ recipient, consumerId: null, during: 'wake', error });
    });
  };

  const ctx: ConsumerContext = {
    store,
    clock,
    random: options.random ?? Math.random,
    channel: MESSAGE_CHANNEL,
    events,
    count,
    reportError,
  };

  async function insert(
    tx: Tx,
    to: string,
    body: unknown,
    opts: SendOptions | undefined,
  ): Promise<SendReceipt> {
    const recipient = check(nameSchema, to, 'recipient');
    const json = check(
      z.json(),
      body,
      'message body (it must be JSON: objects, arrays, strings, numbers, booleans, null)',
    );
    const o = check(sendOptionsSchema, opts ?? {}, 'send options');
    const now = clock.now();
    const availableAt = now + (o.delayMs ?? 0);
    const receipt = await insertMessage(tx, {
      recipient,
      sender: o.from ?? null,
      body: json,
      idempotencyKey: o.idempotencyKey ?? null,
      maxAttempts: o.maxAttempts ?? defaultMaxAttempts,
      availableAt,
      now,
      keyExpiredBefore: now - retentionMs,
    });
    tx.afterCommit(() => {
      count(receipt.duplicate ? 'duplicates' : 'sent');
      events.emit('sent', { id: receipt.id, recipient, duplicate: receipt.duplicate, availableAt });
      if (!receipt.duplicate) wake(recipient);
    });
    return receipt;
  }

  async function insertAll(
    tx: Tx,
    recipients: readonly string[],
    body: unknown,
    opts: SendOptions | undefined,
  ): Promise<SendReceipt[]> {
    const receipts: SendReceipt[] = [];
    for (const to of recipients) receipts.push(await insert(tx, to, body, opts));
    return receipts;
  }

  const deadLetters = createDeadLetterQueue({
    store,
    clock,
    wake,
    onRecorded: (letter) => {
      count('deadLettered');
      events.emit('dead_lettered', { ...letter, consumerId: null });
    },
  });

  return {
    send(to, body, opts) {
      return store.write((tx) => insert(tx, to, body, opts));
    },

    sendInTx(tx, to, body, opts) {
      return insert(tx, to, body, opts);
    },

    async sendMany(recipients, body, opts) {
      const list = check(recipientsSchema, recipients, 'recipients');
      return store.transaction((tx) => insertAll(tx, list, body, opts));
    },

    async sendManyInTx(tx, recipients, body, opts) {
      return insertAll(tx, check(recipientsSchema, recipients, 'recipients'), body, opts);
    },

    async startConsumer<T>(recipient: string, handler: MessageHandler<T>, opts: ConsumerOptions<T> = {}) {
      const name = check(nameSchema, recipient, 'recipient');
      const o = check(consumerOptionsSchema, opts, 'consumer options') as ConsumerOptions<T>;
      if (typeof handler !== 'function') throw new ValidationError('invalid handler: a function is required');
      const consumerId = o.consumerId ?? `${nodeId}/${name}/${randomUUID().slice(0, 8)}`;
      for (const c of consumers) {
        if (!c.isRunning) consumers.delete(c);
        if (c.id === consumerId && c.isRunning) {
          throw new MessagingError(
            MessagingErrorCode.consumerExists,
            `a consumer with id "${consumerId}" is already running`,
          );
        }
      }
      const consumer = new Consumer<T>(ctx, {
        recipient: name,
        consumerId,
        handler,
        options: { ...opts, ...o },
      });
      consumers.add(consumer);
      await consumer.start();
      return consumer;
    },

    deadLetters,

    async depth(recipient) {
      return mailboxDepth(store, check(nameSchema, recipient, 'recipient'), clock.now());
    },

    pruneIdempotencyKeys() {
      return store.write((tx) => pruneKeys(tx, clock.now() - retentionMs));
    },

    stats() {
      return { ...counters };
    },

    on(event, listener) {
      return events.on(event, listener);
    },

    async close() {
      const all = [...consumers];
      consumers.clear();
      await Promise.all(all.map((c) => c.stop()));
    },
  };
}

/**
 * Messaging: durable, acknowledged delivery between agents (with a dead-letter queue) and an in-process
 * signal bus with bounded, policy-driven subscriber buffers.
 */
export {
  MessagingError,
  MessagingErrorCode,
  UnprocessableMessageError,
  isMessagingError,
  toErrorRecord,
  type ErrorRecord,
} from './errors.js';
export {
  createDurableDelivery,
  MESSAGE_CHANNEL,
  type DurableDelivery,
  type DurableDeliveryOptions,
} from './delivery/durable-delivery.js';
export { Consumer } from './delivery/consumer.js';
export type {
  ConsumerOptions,
  DeliveredMessage,
  DeliveryEvents,
  DeliveryStats,
  MessageHandler,
  SendOptions,
  SendReceipt,
} from './delivery/types.js';
export type { BackoffPolicy } from './delivery/backoff.js';
export type { MailboxDepth } from './delivery/message-sql.js';
export type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterListOptions,
  DeadLetterQueue,
} from './delivery/dead-letters.js';
export { purgeDeadLetterBatch } from './delivery/dead-letters.js';
export {
  createSignalBus,
  SIGNAL_DROPPED,
  SIGNAL_FAILED,
  type PublishReceipt,
  type SignalBus,
  type SignalBusOptions,
  type SignalBusStats,
  type SignalDrop,
  type SignalFailure,
  type SignalSubscription,
  type SubscribeOptions,
} from './signals/signal-bus.js';
export {
  DropPolicy,
  type DropReason,
  type SignalHandler,
  type SubscriberStats,
} from './signals/subscriber.js';
export { signalSchema, type Signal, type SignalInput } from './signals/signal.js';
export { parsePattern, type Pattern } from './signals/pattern.js';
export * from './supervised/index.js';

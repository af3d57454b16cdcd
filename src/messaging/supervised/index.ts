/** Supervised sends, broadcasts and relays over the runtime's processes (public surface of this folder). */
export { createSupervisedSender, type SupervisedSender, type SupervisedSenderOptions } from './sender.js';
export { BroadcastSemantics, OnError, isSendRetryable, processMailbox, processNameOf } from './policies.js';
export type {
  AllOrNothingOptions,
  AllOrNothingResult,
  AtLeastOnceOptions,
  AtLeastOnceResult,
  BestEffortOptions,
  BestEffortResult,
  BroadcastOptions,
  BroadcastResult,
  ParticipantOutcome,
  PhaseOutcome,
  SendResult,
  SupervisedSendOptions,
  TargetOutcome,
} from './options.js';
export {
  DURABLE_ENVELOPE,
  isDurableEnvelope,
  refuseDelivery,
  type DeliveryRefusal,
  type DurableEnvelope,
  type RelayOptions,
} from './relay.js';
export {
  TWO_PHASE_ABORT,
  TWO_PHASE_COMMIT,
  TWO_PHASE_PREPARE,
  handleTwoPhase,
  isPrepareVote,
  isTwoPhaseMessage,
  preparedCount,
  type AbortReply,
  type CommitReply,
  type PrepareVote,
  type TwoPhaseMessage,
  type TwoPhaseParticipant,
} from './two-phase.js';
export { SupervisedErrorCode, SupervisedSendError, isSupervisedSendError } from './errors.js';
export type { SupervisedSendEvents, SupervisedSendSink, SupervisedSendTelemetry } from './events.js';

/**
 * The telemetry events of supervised sends and broadcasts. They are merged into the node's event map,
 * so the node's event bus is a sink for them; retries also report `retry.scheduled` and `retry.gave_up`
 * (operation `supervised_send`).
 */
import type { EventSink, ResilienceEvents } from '../../telemetry/index.js';
import type { BroadcastSemantics, OnError } from './policies.js';

export interface SupervisedSendEvents {
  /** A supervised send failed for good (after its last attempt) and was handled by its `onError` policy. */
  'message.send_failed': {
    /** The target: a registered name or a pid (`<0.12>`). */
    readonly target: string;
    readonly attempts: number;
    readonly onError: OnError;
    /** The last attempt's error code (`noproc`, `call_timeout`, `process_exited`, …). */
    readonly errorCode: string | undefined;
    readonly error: string;
    /** The dead letter's id, when the policy was `dead_letter` and it was recorded. */
    readonly deadLetterId?: number;
  };
  /** A broadcast finished. */
  'message.broadcast': {
    readonly semantics: BroadcastSemantics;
    readonly targets: number;
    /** Targets that replied (best effort), applied (all-or-nothing) or got a stored row (at least once). */
    readonly succeeded: number;
    readonly failed: number;
  };
}

declare module '../../telemetry/events.js' {
  // Declaration merging: the node's event bus knows the supervised-send events.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends SupervisedSendEvents {}
}

/** What a supervised sender emits. */
export type SupervisedSendTelemetry = SupervisedSendEvents &
  Pick<ResilienceEvents, 'retry.scheduled' | 'retry.gave_up'>;

export type SupervisedSendSink = EventSink<SupervisedSendTelemetry>;

/** The options and results of supervised sends and broadcasts, and their validation. */
import { z } from 'zod';
import { describeIssues, ValidationError, type GarrisonError } from '../../errors.js';
import type { RetryPolicy } from '../../resilience/index.js';
import { Pid, type ProcessRef } from '../../runtime/index.js';
import type { BroadcastSemantics, OnError } from './policies.js';

export interface SupervisedSendOptions {
  /**
   * How long each attempt waits for the reply, in ms; `Infinity` waits until a reply or the process's
   * exit. Default: the runtime's `callTimeoutMs` (5000).
   */
  readonly timeoutMs?: number;
  /**
   * How many attempts, and the wait before each retry (on the sender's clock). Which errors are retried:
   * the policy's `isRetryable`, else `isSendRetryable(ref)`. Default: one attempt, no retry.
   */
  readonly retry?: RetryPolicy;
  /** What happens after the last attempt failed. Required. */
  readonly onError: OnError;
  /** Aborts the send between attempts (the result's error is then `retry_aborted`). Default none. */
  readonly signal?: AbortSignal;
  /** Recorded as the dead letter's sender with `dead_letter`. Default none. */
  readonly from?: string;
}

/** The outcome of a supervised send. A send never rejects for a delivery failure; it returns one of these. */
export type SendResult<R = unknown> =
  | { readonly ok: true; readonly reply: R; readonly attempts: number }
  | {
      readonly ok: false;
      /** The last attempt's error: `noproc`, `call_timeout`, `process_exited`, `mailbox_full`, `retry_aborted`, … */
      readonly error: GarrisonError;
      /** Attempts made (calls started). */
      readonly attempts: number;
      /** With `dead_letter`: the dead letter's id once it is committed. */
      readonly deadLetterId?: number;
      /** With `dead_letter`: why the dead letter could not be recorded (the store failed). */
      readonly deadLetterError?: unknown;
    };

export interface BestEffortOptions {
  readonly semantics: typeof BroadcastSemantics.bestEffort;
  /** How long each target's call waits for its reply, in ms. Default: the runtime's `callTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface AllOrNothingOptions {
  readonly semantics: typeof BroadcastSemantics.allOrNothing;
  /** How long each prepare, commit and abort call waits for its reply, in ms. Default: the runtime's `callTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface AtLeastOnceOptions {
  readonly semantics: typeof BroadcastSemantics.atLeastOnce;
  /** Per target: another broadcast with the same key stores nothing for that target. Default none. */
  readonly idempotencyKey?: string;
  /** Delivery attempts per target before its copy is dead-lettered. Default: the delivery's (5). */
  readonly maxAttempts?: number;
  /** Recorded as each copy's sender. Default none. */
  readonly from?: string;
}

export type BroadcastOptions = BestEffortOptions | AllOrNothingOptions | AtLeastOnceOptions;

/** One target of a best-effort broadcast. */
export type TargetOutcome<R = unknown> =
  | { readonly target: ProcessRef; readonly ok: true; readonly reply: R }
  | { readonly target: ProcessRef; readonly ok: false; readonly error: GarrisonError };

export interface BestEffortResult<R = unknown> {
  readonly semantics: typeof BroadcastSemantics.bestEffort;
  /** True when every target replied. */
  readonly ok: boolean;
  /** In the order of the targets given. */
  readonly outcomes: ReadonlyArray<TargetOutcome<R>>;
}

/** A call of the all-or-nothing protocol to one target: its reply, or why it failed. */
export type PhaseOutcome = { readonly ok: true } | { readonly ok: false; readonly error: GarrisonError };

/** One target of an all-or-nothing broadcast. */
export interface ParticipantOutcome {
  readonly target: ProcessRef;
  /** The process the protocol spoke to (the name resolved once, at prepare), if one was registered. */
  readonly pid: Pid | undefined;
  /** `ok: true` when it voted yes. */
  readonly prepare: PhaseOutcome;
  /** Present when the decision was `committed`: did it apply the message. */
  readonly commit?: PhaseOutcome;
  /** Present when the decision was `aborted` and it was told: did it confirm. */
  readonly abort?: PhaseOutcome;
}

export interface AllOrNothingResult {
  readonly semantics: typeof BroadcastSemantics.allOrNothing;
  /** `committed`: every target voted yes and was sent the commit. `aborted`: no commit was sent to anyone. */
  readonly decision: 'committed' | 'aborted';
  /** True when committed and every target confirmed applying it. */
  readonly ok: boolean;
  /** Unique per broadcast; the `txid` of the protocol messages. */
  readonly txid: string;
  readonly outcomes: readonly ParticipantOutcome[];
}

export interface AtLeastOnceResult {
  readonly semantics: typeof BroadcastSemantics.atLeastOnce;
  /** Always true: the result exists only once every copy is committed (otherwise the broadcast rejects). */
  readonly ok: true;
  readonly messages: ReadonlyArray<{
    readonly target: string;
    /** The durable message id of this target's copy. */
    readonly messageId: number;
    /** True when an earlier broadcast with the same idempotency key already stored it. */
    readonly duplicate: boolean;
  }>;
}

export type BroadcastResult<R = unknown> = BestEffortResult<R> | AllOrNothingResult | AtLeastOnceResult;

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${describeIssues(r.error.issues)}`);
  return r.data;
}

export const nameSchema = z.string().min(1).max(190);
const refSchema = z.union([z.instanceof(Pid), nameSchema]);
const timeoutSchema = z
  .custom<number>((v) => typeof v === 'number' && v >= 0, 'must be a number of ms ≥ 0 (or Infinity)')
  .optional();
const policySchema = z.custom<RetryPolicy>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    Number.isInteger((v as RetryPolicy).maxAttempts) &&
    (v as RetryPolicy).maxAttempts >= 1 &&
    typeof (v as RetryPolicy).delayMs === 'function',
  'must be a RetryPolicy (maxAttempts ≥ 1 and delayMs)',
);

const sendSchema = z.strictObject({
  timeoutMs: timeoutSchema,
  retry: policySchema.optional(),
  onError: z.enum(['return', 'dead_letter', 'log']),
  signal: z.instanceof(AbortSignal).optional(),
  from: nameSchema.optional(),
});

export function parseRef(ref: unknown): ProcessRef {
  return check(refSchema, ref, 'target (a pid or a registered name)');
}

export function parseSendOptions(options: unknown): SupervisedSendOptions {
  return check(sendSchema, options, 'supervised send options');
}

const refsSchema = z
  .array(refSchema)
  .min(1)
  .max(10_000)
  .refine((list) => new Set(list).size === list.length, 'targets must not repeat');

const broadcastSchema = z.discriminatedUnion('semantics', [
  z.strictObject({ semantics: z.literal('best_effort'), timeoutMs: timeoutSchema }),
  z.strictObject({ semantics: z.literal('all_or_nothing'), timeoutMs: timeoutSchema }),
  z.strictObject({
    semantics: z.literal('at_least_once'),
    idempotencyKey: z.string().min(1).max(200).optional(),
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    from: nameSchema.optional(),
  }),
]);

export function parseTargets(refs: unknown): ProcessRef[] {
  return check(refsSchema, refs, 'broadcast targets');
}

export function parseBroadcastOptions(options: unknown): BroadcastOptions {
  return check(broadcastSchema, options, 'broadcast options');
}

/** A message that must be stored (dead letter, durable copy) has to be JSON. */
export function checkJson(message: unknown, why: string): void {
  check(z.json(), message, `message (${why}, so it must be JSON)`);
}

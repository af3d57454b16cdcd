/**
 * Supervised send: a call to a process with a timeout per attempt, retries with backoff on the injected
 * clock, and an explicit policy for the failure that remains — return it, dead-letter the message
 * durably, or log it (and return it). Plus the three broadcasts and the relays that deliver durable
 * messages to processes.
 */
import { ValidationError } from '../../errors.js';
import { retry, type RetryPolicy } from '../../resilience/index.js';
import type { Clock, ProcessRef, Runtime } from '../../runtime/index.js';
import {
  describeError,
  emitTo,
  errorCode,
  type EventSink,
  type Logger,
  type ResilienceEvents,
} from '../../telemetry/index.js';
import type { Consumer } from '../delivery/consumer.js';
import type { DeadLetterQueue } from '../delivery/dead-letters.js';
import type { DurableDelivery } from '../delivery/durable-delivery.js';
import { allOrNothing, asGarrisonError, atLeastOnce, bestEffort } from './broadcast.js';
import type { SupervisedSendSink } from './events.js';
import {
  checkJson,
  parseBroadcastOptions,
  parseRef,
  parseSendOptions,
  parseTargets,
  type AllOrNothingOptions,
  type AllOrNothingResult,
  type AtLeastOnceOptions,
  type AtLeastOnceResult,
  type BestEffortOptions,
  type BestEffortResult,
  type BroadcastOptions,
  type BroadcastResult,
  type SendResult,
  type SupervisedSendOptions,
} from './options.js';
import { isSendRetryable, processMailbox } from './policies.js';
import { startRelay, type RelayOptions } from './relay.js';

export interface SupervisedSenderOptions {
  /** The process system the targets live in. */
  readonly runtime: Runtime;
  /** Time for the waits between attempts. Default: the runtime's clock. */
  readonly clock?: Clock;
  /**
   * The durable delivery of this node: needed for `at_least_once` broadcasts and relays, and (through its
   * `deadLetters`) for the `dead_letter` policy. Default none: those then fail with `invalid_input`.
   */
  readonly delivery?: DurableDelivery;
  /** Where `dead_letter` records failed messages. Default: `delivery.deadLetters`. */
  readonly deadLetters?: DeadLetterQueue;
  /** Where `log` writes (and where a dead letter that could not be recorded is reported). Default none. */
  readonly logger?: Logger;
  /** Where `message.send_failed`, `message.broadcast` and the retry events go. Default none. */
  readonly events?: SupervisedSendSink;
}

export interface SupervisedSender {
  /**
   * Calls `ref` with `message` and returns its reply, retrying failed attempts as `options.retry` says.
   * Each attempt is a monitored `runtime.call`: it ends with the reply, `call_timeout` after `timeoutMs`,
   * `noproc`, `mailbox_full`, or — at once, not at the timeout — `process_exited` with the exit reason
   * when the process dies while handling it. After the last failed attempt, `onError` applies and the
   * result is `{ ok: false, error, attempts }`; it never rejects for a delivery failure.
   *
   * A retry after `call_timeout` may deliver the message twice (the process may have handled it and
   * answered late): give such messages an id the process can recognise.
   *
   * Rejects with `invalid_input` (and sends nothing) for a bad target or options, for `dead_letter`
   * without a dead-letter queue, to a pid (a dead letter needs a name to be retried to) or with a
   * message that is not JSON, and for `log` without a logger.
   */
  send<R = unknown>(
    ref: ProcessRef,
    message: unknown,
    options: SupervisedSendOptions,
  ): Promise<SendResult<R>>;
  /**
   * Calls every target once, concurrently, and lists each target's reply or error in target order. No
   * retries; `ok` is true when every target replied.
   */
  broadcast<R = unknown>(
    refs: readonly ProcessRef[],
    message: unknown,
    options: BestEffortOptions,
  ): Promise<BestEffortResult<R>>;
  /**
   * Two-phase: every target is asked to prepare (vote on) the message; only if all vote yes is each told
   * to commit (apply) it. If any prepare fails — a `no`, a dead or missing target, a crash, a timeout —
   * no commit is sent to anyone and every target that may hold the prepared message is sent an abort.
   * Targets answer with `handleTwoPhase`. See `allOrNothing` in `broadcast.ts` for what is not promised.
   */
  broadcast(
    refs: readonly ProcessRef[],
    message: unknown,
    options: AllOrNothingOptions,
  ): Promise<AllOrNothingResult>;
  /**
   * Durable: stores one copy per target name in the durable mailbox `process:<name>`, all in one
   * transaction, and resolves once committed (or rejects and stores none). Each copy survives crashes
   * and restarts and is delivered to the process by its relay (`startRelay`) until the process
   * acknowledges it by replying; failed deliveries are retried with backoff, then dead-lettered. Targets
   * must be names (a pid does not outlive its process) and the message must be JSON.
   */
  broadcast(
    refs: readonly string[],
    message: unknown,
    options: AtLeastOnceOptions,
  ): Promise<AtLeastOnceResult>;
  /**
   * Starts the relay that delivers `process:<name>` — at-least-once broadcasts and retried dead letters —
   * to the process registered as `name` (see `relay.ts`). Needs `delivery`.
   */
  startRelay(name: string, options?: RelayOptions): Promise<Consumer>;
}

/** A policy of one attempt: what a send without `retry` does. */
const ONCE: RetryPolicy = { kind: 'once', maxAttempts: 1, delayMs: () => 0 };

export function createSupervisedSender(options: SupervisedSenderOptions): SupervisedSender {
  const { runtime, delivery, logger, events } = options;
  if (typeof runtime !== 'object' || runtime === null || typeof runtime.call !== 'function')
    throw new ValidationError('invalid supervised sender options: runtime must be a Runtime');
  const clock = options.clock ?? runtime.clock;
  const deadLetters = options.deadLetters ?? delivery?.deadLetters;

  const needDelivery = (what: string): DurableDelivery => {
    if (delivery === undefined)
      throw new ValidationError(`${what} needs the sender to have a durable delivery (option "delivery")`);
    return delivery;
  };

  async function recordDeadLetter(
    name: string,
    message: unknown,
    error: unknown,
    attempts: number,
    from: string | undefined,
  ): Promise<{ deadLetterId?: number; deadLetterError?: unknown }> {
    try {
      const id = await (deadLetters as DeadLetterQueue).record({
        recipient: processMailbox(name),
        body: message,
        error,
        attempts,
        ...(from === undefined ? {} : { sender: from }),
      });
      logger?.warn('supervised send dead-lettered', { target: name, attempts, deadLetterId: id });
      return { deadLetterId: id };
    } catch (storeError) {
      // The message is now only in the caller's hands: say so loudly, and in the result.
      const text = `a failed send to ${JSON.stringify(name)} could not be dead-lettered: ${describeError(storeError)}`;
      if (logger !== undefined) logger.error(text, { target: name, err: storeError, sendError: error });
      else process.emitWarning(text, 'GarrisonWarning');
      return { deadLetterError: storeError };
    }
  }

  async function send<R>(
    target: ProcessRef,
    message: unknown,
    sendOptions: SupervisedSendOptions,
  ): Promise<SendResult<R>> {
    const ref = parseRef(target);
    const o = parseSendOptions(sendOptions);
    if (o.onError === 'dead_letter') {
      if (deadLetters === undefined)
        throw new ValidationError(
          'onError "dead_letter" needs a dead-letter queue (option "delivery" or "deadLetters")',
        );
      if (typeof ref !== 'string')
        throw new ValidationError(
          'onError "dead_letter" needs a registered name as target: a pid does not outlive its process, so a retried dead letter would have nowhere to go',
        );
      checkJson(message, 'a dead letter is stored');
    }
    if (o.onError === 'log' && logger === undefined)
      throw new ValidationError('onError "log" needs the sender to have a logger (option "logger")');

    const policy = o.retry ?? ONCE;
    const wrapped: RetryPolicy = {
      kind: policy.kind,
      maxAttempts: policy.maxAttempts,
      delayMs: (n, error) => policy.delayMs(n, error),
      isRetryable: policy.isRetryable ?? isSendRetryable(ref),
    };
    let attempts = 0;
    try {
      const reply = await retry(
        () => {
          attempts++;
          return runtime.call<R>(ref, message, { timeoutMs: o.timeoutMs });
        },
        wrapped,
        {
          clock,
          operation: 'supervised_send',
          ...(o.signal === undefined ? {} : { signal: o.signal }),
          // retry() emits only retry.scheduled and retry.gave_up, which this sink's map includes.
          ...(events === undefined ? {} : { events: events as unknown as EventSink<ResilienceEvents> }),
        },
      );
      return { ok: true, reply, attempts };
    } catch (thrown) {
      const error = asGarrisonError(thrown);
      const name = String(ref);
      let recorded: { deadLetterId?: number; deadLetterError?: unknown } = {};
      if (o.onError === 'dead_letter')
        recorded = await recordDeadLetter(name, message, error, attempts, o.from);
      if (o.onError === 'log')
        logger?.error('supervised send failed', { target: name, attempts, code: error.code, err: error });
      emitTo(events, 'message.send_failed', {
        target: name,
        attempts,
        onError: o.onError,
        errorCode: errorCode(error),
        error: describeError(error),
        ...(recorded.deadLetterId === undefined ? {} : { deadLetterId: recorded.deadLetterId }),
      });
      return { ok: false, error, attempts, ...recorded };
    }
  }

  async function broadcast(
    refs: readonly ProcessRef[],
    message: unknown,
    broadcastOptions: BroadcastOptions,
  ): Promise<BroadcastResult> {
    const targets = parseTargets(refs);
    const o = parseBroadcastOptions(broadcastOptions);
    let result: BroadcastResult;
    let succeeded: number;
    switch (o.semantics) {
      case 'best_effort':
        result = await bestEffort(runtime, targets, message, o.timeoutMs);
        succeeded = result.outcomes.filter((r) => r.ok).length;
        break;
      case 'all_or_nothing':
        result = await allOrNothing(runtime, targets, message, o.timeoutMs);
        succeeded = result.outcomes.filter((r) => r.commit?.ok === true).length;
        break;
      case 'at_least_once': {
        const d = needDelivery('an at_least_once broadcast');
        const names = targets.map((t) => {
          if (typeof t !== 'string')
            throw new ValidationError(
              `an at_least_once broadcast needs registered names as targets: ${t.toString()} is a pid, which does not outlive its process`,
            );
          return t;
        });
        checkJson(message, 'an at_least_once broadcast stores it');
        result = await atLeastOnce(d, names, message, o);
        succeeded = names.length;
        break;
      }
    }
    emitTo(events, 'message.broadcast', {
      semantics: o.semantics,
      targets: targets.length,
      succeeded,
      failed: targets.length - succeeded,
    });
    return result;
  }

  return {
    send,
    broadcast: broadcast as SupervisedSender['broadcast'],
    async startRelay(name, relayOptions) {
      return startRelay(runtime, needDelivery('a relay'), name, relayOptions);
    },
  };
}

/**
 * The signal bus: in-process publish/subscribe of CloudEvents-shaped signals, for telemetry-like and
 * agent signals that need no durability (durable agent messages go through durable delivery). Each
 * subscriber has a bounded buffer and an explicit drop policy; every drop is counted and reported; a
 * subscriber that throws is reported and carries on, and never affects the bus or other subscribers.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Clock } from '../../runtime/index.js';
import { MessagingError, MessagingErrorCode, toErrorRecord, type ErrorRecord } from '../errors.js';
import { Listeners } from '../listeners.js';
import { parsePattern, prefixesOf, type Pattern } from './pattern.js';
import { buildSignal, type Signal, type SignalInput } from './signal.js';
import {
  DropPolicy,
  Subscriber,
  type DropReason,
  type SignalHandler,
  type SubscriberHooks,
  type SubscriberStats,
} from './subscriber.js';

/** The type of the signal the bus publishes for every drop. */
export const SIGNAL_DROPPED = 'signal.dropped';
/** The type of the signal the bus publishes when a subscriber's handler throws. */
export const SIGNAL_FAILED = 'signal.failed';

/** A drop, as reported to `onDrop` listeners and (as its `data`) in a `signal.dropped` signal. */
export interface SignalDrop {
  readonly subscriberId: string;
  readonly subscriber: string;
  readonly pattern: string;
  readonly policy: DropPolicy;
  readonly reason: DropReason;
  readonly signalId: string;
  readonly signalType: string;
  /** Signals dropped for this subscriber so far, this one included. */
  readonly droppedCount: number;
}

/** A handler failure, as reported to `onFailure` listeners and in a `signal.failed` signal. */
export interface SignalFailure {
  readonly subscriberId: string;
  readonly subscriber: string;
  readonly pattern: string;
  readonly signalId: string;
  readonly signalType: string;
  readonly error: ErrorRecord;
}

interface BusEvents {
  drop: SignalDrop & { readonly signal: Signal };
  failure: SignalFailure & { readonly signal: Signal; readonly cause: unknown };
}

export interface SubscribeOptions {
  /** Signals the buffer holds while the handler is busy (the one being handled not counted). Default 1000. */
  readonly capacity?: number;
  /** What happens when the buffer is full. Required: there is no silent default. */
  readonly policy: DropPolicy;
  /** `block` only: the longest a publisher waits for room, in ms; then the signal is dropped. Default: no limit. */
  readonly blockTimeoutMs?: number;
  /** A name for stats and drop reports. Default: the pattern. */
  readonly name?: string;
}

export interface SignalSubscription {
  readonly id: string;
  readonly name: string;
  readonly pattern: string;
  /**
   * Stops delivery to this subscriber. With `drain` (default true) signals already buffered are still
   * handled and the promise resolves after the last one; with `drain: false` they are dropped (and
   * reported). Publishers blocked on it are released, their signals dropped.
   */
  unsubscribe(options?: { drain?: boolean }): Promise<void>;
  stats(): SubscriberStats;
}

/** What `publish` did with a signal. */
export interface PublishReceipt {
  /** The completed, validated signal. */
  readonly signal: Signal;
  /** Subscribers whose pattern matched. */
  readonly matched: number;
  /** Subscribers whose buffer took it. */
  readonly accepted: number;
  /** Subscribers for which it was dropped. */
  readonly dropped: number;
}

export interface SignalBusStats {
  readonly published: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly failed: number;
  readonly subscribers: number;
}

export interface SignalBus {
  /**
   * Validates and completes `input` (id, time, source, specversion) and offers it to every matching
   * subscriber. Resolves once each has taken or dropped it; waits for room only at `block` subscribers.
   * Does not wait for handlers.
   */
  publish<D>(input: SignalInput<D>): Promise<PublishReceipt>;
  /** Subscribes to an exact type, a `prefix.*` wildcard or `*` (see `parsePattern`). */
  subscribe<D = unknown>(
    pattern: string,
    handler: SignalHandler<D>,
    options: SubscribeOptions,
  ): SignalSubscription;
  /** Called for every drop; returns a function that removes the listener. */
  onDrop(listener: (drop: SignalDrop & { readonly signal: Signal }) => void): () => void;
  /** Called for every handler failure; returns a function that removes the listener. */
  onFailure(
    listener: (failure: SignalFailure & { readonly signal: Signal; readonly cause: unknown }) => void,
  ): () => void;
  stats(): SignalBusStats;
  /** Stats of every live subscriber, in subscription order. */
  subscribers(): SubscriberStats[];
  /** Unsubscribes everyone (draining their buffers); further publishes fail with `messaging_stopped`. */
  close(): Promise<void>;
}

export interface SignalBusOptions {
  /** The time source for signal `time` and block timeouts. */
  readonly clock: Clock;
  /** The default `source` of published signals, and the source of the bus's own. Default `garrison`. */
  readonly source?: string;
}

const subscribeSchema = z
  .object({
    capacity: z.number().int().min(1).max(10_000_000).optional(),
    policy: z.enum([DropPolicy.dropNewest, DropPolicy.dropOldest, DropPolicy.block]),
    blockTimeoutMs: z.number().int().min(0).optional(),
    name: z.string().min(1).max(200).optional(),
  })
  .strict();

export function createSignalBus(options: SignalBusOptions): SignalBus {
  const { clock } = options;
  const source = options.source ?? 'garrison';
  const exact = new Map<string, Set<Subscriber>>();
  const prefixed = new Map<string, Set<Subscriber>>();
  const all = new Set<Subscriber>();
  const order = new Map<Subscriber, number>();
  let seq = 0;
  let closed = false;
  const totals = { published: 0, delivered: 0, dropped: 0, failed: 0 };
  const listeners = new Listeners<BusEvents>();

  const indexFor = (p: Pattern): Set<Subscriber> => {
    if (p.kind === 'all') return all;
    const [map, key] = p.kind === 'exact' ? [exact, p.type] : [prefixed, p.prefix];
    let set = map.get(key);
    if (set === undefined) {
      set = new Set();
      map.set(key, set);
    }
    return set;
  };

  const matching = (type: string): Subscriber[] => {
    const found = [...(exact.get(type) ?? []), ...all];
    for (const prefix of prefixesOf(type)) found.push(...(prefixed.get(prefix) ?? []));
    return found.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  };

  const isBusSignal = (s: Signal) =>
    s.source === source && (s.type === SIGNAL_DROPPED || s.type === SIGNAL_FAILED);

  /** Publishes one of the bus's own signals; never waits and never reports its own drops as signals. */
  const emitInternal = (type: string, data: SignalDrop | SignalFailure) => {
    const signal = buildSignal({ type, data }, { source, now: clock.now() });
    totals.published++;
    const subs = matching(type);
    for (const sub of subs) void sub.offer(signal, true);
    return subs.length;
  };

  const hooks: SubscriberHooks = {
    clock,
    dropped(sub, signal, reason) {
      totals.dropped++;
      const drop: SignalDrop = {
        subscriberId: sub.id,
        subscriber: sub.name,
        pattern: sub.pattern.text,
        policy: sub.policy,
        reason,
        signalId: signal.id,
        signalType: signal.type,
        droppedCount: sub.stats().dropped,
      };
      listeners.emit('drop', { ...drop, signal });
      // A dropped drop report is counted and given to listeners, but not reported again as a signal:
      // that could loop forever on a subscriber of `*` with a full buffer.
      if (!isBusSignal(signal)) emitInternal(SIGNAL_DROPPED, drop);
    },
    failed(sub, signal, cause) {
      totals.failed++;
      const failure: SignalFailure = {
        subscriberId: sub.id,
        subscriber: sub.name,
        pattern: sub.pattern.text,
        signalId: signal.id,
        signalType: signal.type,
        error: toErrorRecord(cause),
      };
      let heard = listeners.emit('failure', { ...failure, signal, cause });
      // A handler failing on a failure report is not reported as a signal again, for the same reason.
      if (!isBusSignal(signal)) heard += emitInternal(SIGNAL_FAILED, failure);
      if (heard === 0) {
        process.emitWarning(
          `signal subscriber "${sub.name}" failed on ${signal.type} (${signal.id}): ${failure.error.message}`,
          'GarrisonWarning',
        );
      }
    },
    handled() {
      totals.delivered++;
    },
  };

  return {
    async publish(input) {
      if (closed) throw new MessagingError(MessagingErrorCode.stopped, 'the signal bus is closed');
      if (input?.type === SIGNAL_DROPPED || input?.type === SIGNAL_FAILED) {
        throw new ValidationError(
          `invalid signal: type "${input.type}" is reserved for the bus's own reports`,
        );
      }
      const signal = buildSignal(input, { source, now: clock.now() });
      totals.published++;
      const subs = matching(signal.type);
      let accepted = 0;
      const waiting: Array<Promise<boolean>> = [];
      for (const sub of subs) {
        const outcome = sub.offer(signal, false);
        if (outcome === true) accepted++;
        else if (outcome !== false) waiting.push(outcome);
      }
      // Only `block` subscribers without room make the publisher wait.
      if (waiting.length > 0) accepted += (await Promise.all(waiting)).filter(Boolean).length;
      return { signal, matched: subs.length, accepted, dropped: subs.length - accepted };
    },

    subscribe(patternText, handler, opts) {
      if (closed) throw new MessagingError(MessagingErrorCode.stopped, 'the signal bus is closed');
      const pattern = parsePattern(patternText);
      if (typeof handler !== 'function') throw new ValidationError('invalid handler: a function is required');
      const parsed = subscribeSchema.safeParse(opts);
      if (!parsed.success) {
        throw new ValidationError(`invalid subscription options: ${describeIssues(parsed.error.issues)}`);
      }
      const o = parsed.data;
      const sub = new Subscriber(
        randomUUID(),
        o.name ?? pattern.text,
        pattern,
        o.policy,
        o.capacity ?? 1000,
        o.blockTimeoutMs,
        handler as SignalHandler,
        hooks,
      );
      indexFor(pattern).add(sub);
      order.set(sub, seq++);
      let closing: Promise<void> | undefined;
      return {
        id: sub.id,
        name: sub.name,
        pattern: pattern.text,
        unsubscribe(u = {}) {
          closing ??= (async () => {
            indexFor(pattern).delete(sub);
            order.delete(sub);
            await sub.close(u.drain ?? true);
          })();
          return closing;
        },
        stats: () => sub.stats(),
      };
    },

    onDrop(listener) {
      return listeners.on('drop', listener);
    },

    onFailure(listener) {
      return listeners.on('failure', listener);
    },

    stats() {
      return { ...totals, subscribers: order.size };
    },

    subscribers() {
      return [...order.entries()].sort((a, b) => a[1] - b[1]).map(([s]) => s.stats());
    },

    async close() {
      closed = true;
      const subs = [...order.keys()];
      exact.clear();
      prefixed.clear();
      all.clear();
      order.clear();
      await Promise.all(subs.map((s) => s.close(true)));
    },
  };
}

/**
 * A typed, synchronous event bus. Subscribers pick events by exact name (`breaker.transition`), by prefix
 * (`breaker.*`, which also matches `breaker.x.y`) or all (`*`). A subscriber that throws, or whose promise
 * rejects, does not disturb the emitter or the other subscribers; its failure is reported as a
 * `telemetry.subscriber_failed` event.
 */
import { describeError } from './describe.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import type { GarrisonEvents, TelemetryEvents } from './events.js';
import type { Sampler } from './sampling.js';

type Names<M> = keyof M & string;
type Prefixes<N extends string> = N extends `${infer Head}.${infer Tail}`
  ? Head | `${Head}.${Prefixes<Tail>}`
  : never;

/** A name of `M`, `*`, or a dotted prefix of some name followed by `.*`. */
export type EventPattern<M> = Names<M> | '*' | `${Prefixes<Names<M>>}.*`;

/** The names of `M` that pattern `P` matches. */
export type MatchingNames<M, P extends string> = P extends '*'
  ? Names<M>
  : P extends `${infer Prefix}.*`
    ? Extract<Names<M>, `${Prefix}.${string}`>
    : Extract<Names<M>, P>;

/** One delivered event. A union over the matched names, so `switch (event.name)` narrows the payload. */
export type BusEvent<M, K extends keyof M = keyof M> = {
  [N in K]: { readonly name: N; readonly payload: M[N]; /** UNIX epoch ms. */ readonly time: number };
}[K];

export type EventHandler<M, P extends string> = (
  event: BusEvent<M, MatchingNames<M, P>>,
) => void | Promise<void>;

export interface EventBusStats {
  /** Events emitted and kept (after sampling). */
  readonly emitted: number;
  /** Events dropped by a sampler. */
  readonly sampledOut: number;
  /** Subscriber calls that threw or rejected. */
  readonly subscriberFailures: number;
  readonly subscribers: number;
}

export interface EventBus<M extends object> {
  /** Delivers the event to every matching subscriber, synchronously. Never throws. */
  emit<K extends Names<M>>(name: K, payload: M[K]): void;
  /** Subscribes; returns the function that unsubscribes. */
  on<P extends EventPattern<M>>(pattern: P, handler: EventHandler<M, P>): () => void;
  /** True when some subscriber would receive `name` (lets emitters skip building costly payloads). */
  hasSubscribers(name: Names<M>): boolean;
  stats(): EventBusStats;
}

export interface EventBusOptions {
  /** Stamps each event's `time`. Default the system clock. */
  readonly clock?: Clock;
  /**
   * Samplers by pattern (exact name, `prefix.*` or `*`); the most specific matching pattern decides whether
   * an event is kept. Default: every event is kept.
   */
  readonly sampling?: Readonly<Record<string, Sampler>>;
  /**
   * Called with a subscriber failure nobody else heard of (no subscriber to `telemetry.subscriber_failed`,
   * or one of those subscribers failed too). Default: a process warning.
   */
  readonly onUnreportedFailure?: (failure: TelemetryEvents['telemetry.subscriber_failed']) => void;
}

interface Subscription {
  readonly pattern: string;
  readonly handler: (event: { name: string; payload: unknown; time: number }) => void | Promise<void>;
}

const FAILED = 'telemetry.subscriber_failed';

function warn(failure: TelemetryEvents['telemetry.subscriber_failed']): void {
  process.emitWarning(
    `a telemetry subscriber (${failure.pattern}) failed on ${failure.event}: ${failure.message}`,
    {
      type: 'GarrisonTelemetryWarning',
      detail: failure.error instanceof Error ? failure.error.stack : undefined,
    },
  );
}

/** The patterns that could match `name`, most specific first: itself, its prefixes longest first, `*`. */
function patternsFor(name: string): string[] {
  const patterns = [name];
  let end = name.lastIndexOf('.');
  while (end > 0) {
    patterns.push(`${name.slice(0, end)}.*`);
    end = name.lastIndexOf('.', end - 1);
  }
  patterns.push('*');
  return patterns;
}

export function createEventBus<M extends object = GarrisonEvents>(
  options: EventBusOptions = {},
): EventBus<M & TelemetryEvents> {
  const clock = options.clock ?? systemClock;
  const sampling = options.sampling ?? {};
  const hasSampling = Object.keys(sampling).length > 0;
  const onUnreported = options.onUnreportedFailure ?? warn;
  const byPattern = new Map<string, Set<Subscription>>();
  let subscribers = 0;
  let emitted = 0;
  let sampledOut = 0;
  let subscriberFailures = 0;

  const matching = (name: string): Subscription[] => {
    const found: Subscription[] = [];
    for (const pattern of patternsFor(name)) {
      const set = byPattern.get(pattern);
      if (set !== undefined) for (const sub of set) found.push(sub);
    }
    return found;
  };

  const kept = (name: string): boolean => {
    if (!hasSampling) return true;
    for (const pattern of patternsFor(name)) {
      const sampler = sampling[pattern];
      if (sampler !== undefined) return sampler.sample();
    }
    return true;
  };

  const report = (failure: TelemetryEvents['telemetry.subscriber_failed']) => {
    subscriberFailures++;
    // A failing handler of the failure event itself is not re-reported as an event: that could loop.
    if (failure.event === FAILED || matching(FAILED).length === 0) {
      onUnreported(failure);
      return;
    }
    deliver(FAILED, failure);
  };

  const deliver = (name: string, payload: unknown) => {
    emitted++;
    const event = { name, payload, time: clock.now() };
    // A snapshot: subscribing or unsubscribing from inside a handler affects the next event, not this one.
    for (const sub of matching(name)) {
      const fail = (error: unknown) =>
        report({ event: name, pattern: sub.pattern, error, message: describeError(error) });
      try {
        const result = sub.handler(event);
        if (result instanceof Promise) result.catch(fail);
      } catch (error) {
        fail(error);
      }
    }
  };

  const bus: EventBus<TelemetryEvents> = {
    emit(name, payload) {
      if (!kept(name)) {
        sampledOut++;
        return;
      }
      deliver(name, payload);
    },
    on(pattern, handler) {
      const sub: Subscription = { pattern, handler: handler as Subscription['handler'] };
      let set = byPattern.get(pattern);
      if (set === undefined) {
        set = new Set();
        byPattern.set(pattern, set);
      }
      set.add(sub);
      subscribers++;
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        set.delete(sub);
        if (set.size === 0) byPattern.delete(pattern);
        subscribers--;
      };
    },
    hasSubscribers(name) {
      return matching(name).length > 0;
    },
    stats() {
      return { emitted, sampledOut, subscriberFailures, subscribers };
    },
  };
  return bus as unknown as EventBus<M & TelemetryEvents>;
}

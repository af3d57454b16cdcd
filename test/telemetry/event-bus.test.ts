import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/clock.js';
import {
  createEventBus,
  neverSample,
  type BusEvent,
  type EventSink,
  type GarrisonEvents,
  type ResilienceEvents,
  type TelemetryEvents,
} from '../../src/telemetry/index.js';

const transition: ResilienceEvents['breaker.transition'] = {
  service: 'svc',
  from: 'closed',
  to: 'open',
  reason: 'failure_threshold',
  failures: 3,
  at: 0,
};
const hit = { cache: 'c', key: 'k' };

describe('event bus', () => {
  it('delivers by exact name, by prefix wildcard and to *, stamped with the clock time', () => {
    const clock = new VirtualClock();
    const bus = createEventBus({ clock });
    const exact: string[] = [];
    const prefix: string[] = [];
    const all: string[] = [];
    bus.on('breaker.transition', (e) => {
      exact.push(`${e.name}:${e.payload.to}`);
    });
    bus.on('breaker.*', (e) => {
      prefix.push(e.name);
    });
    bus.on('*', (e) => {
      all.push(e.name);
      expect(e.time).toBe(clock.now());
    });
    bus.emit('breaker.transition', transition);
    bus.emit('breaker.timeout', { service: 'svc', timeoutMs: 10 });
    bus.emit('cache.hit', hit);
    expect(exact).toEqual(['breaker.transition:open']);
    expect(prefix).toEqual(['breaker.transition', 'breaker.timeout']);
    expect(all).toEqual(['breaker.transition', 'breaker.timeout', 'cache.hit']);
  });

  it('type-checks names and payloads for emitters and subscribers', () => {
    const bus = createEventBus();
    // @ts-expect-error unknown event name
    bus.emit('breaker.exploded', {});
    // @ts-expect-error wrong payload for the name
    bus.emit('cache.hit', { cache: 'c' });
    // @ts-expect-error a prefix that matches no event
    bus.on('nothing.*', () => {});
    bus.on('cache.*', (e) => {
      // The payload narrows by name.
      if (e.name === 'cache.miss') expect(['absent', 'expired']).toContain(e.payload.reason);
    });
    bus.emit('cache.miss', { cache: 'c', key: 'k', reason: 'absent' });
    expect(bus.stats().emitted).toBe(3); // the two bad emits still ran (types only guard at compile time)
  });

  it('a throwing subscriber breaks neither the emitter nor the other subscribers, and is reported', () => {
    const bus = createEventBus();
    const failures: Array<TelemetryEvents['telemetry.subscriber_failed']> = [];
    bus.on('telemetry.subscriber_failed', (e) => {
      failures.push(e.payload);
    });
    const received: string[] = [];
    bus.on('cache.*', () => {
      received.push('first');
    });
    const bug = new Error('subscriber bug');
    bus.on('cache.hit', () => {
      throw bug;
    });
    bus.on('*', (e) => {
      if (e.name === 'cache.hit') received.push('last');
    });
    expect(() => bus.emit('cache.hit', hit)).not.toThrow();
    expect(received).toEqual(['first', 'last']);
    expect(failures).toEqual([
      { event: 'cache.hit', pattern: 'cache.hit', error: bug, message: 'subscriber bug' },
    ]);
    expect(bus.stats().subscriberFailures).toBe(1);
  });

  it('reports a subscriber whose promise rejects', async () => {
    const bus = createEventBus();
    const failures: string[] = [];
    bus.on('telemetry.subscriber_failed', (e) => {
      failures.push(e.payload.message);
    });
    bus.on('cache.hit', async () => {
      await Promise.resolve();
      throw new Error('async bug');
    });
    bus.emit('cache.hit', hit);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual(['async bug']);
  });

  it('hands a failure nobody listens to, or a failing failure handler, to onUnreportedFailure', () => {
    const unreported: string[] = [];
    const bus = createEventBus({ onUnreportedFailure: (f) => unreported.push(`${f.event}: ${f.message}`) });
    bus.on('cache.hit', () => {
      throw new Error('first bug');
    });
    bus.emit('cache.hit', hit);
    expect(unreported).toEqual(['cache.hit: first bug']);
    bus.on('telemetry.subscriber_failed', () => {
      throw new Error('reporter bug');
    });
    bus.emit('cache.hit', hit);
    // The first bug reaches the (broken) reporter; the reporter's own bug is not re-emitted, so no loop.
    expect(unreported).toEqual(['cache.hit: first bug', 'telemetry.subscriber_failed: reporter bug']);
  });

  it('unsubscribes, also from inside a handler, without disturbing the event being delivered', () => {
    const bus = createEventBus();
    const calls: string[] = [];
    const offA = bus.on('cache.hit', () => {
      calls.push('a');
      offA();
      offB();
    });
    const offB = bus.on('cache.hit', () => {
      calls.push('b');
    });
    bus.emit('cache.hit', hit);
    bus.emit('cache.hit', hit);
    expect(calls).toEqual(['a', 'b']);
    expect(bus.stats().subscribers).toBe(0);
    expect(bus.hasSubscribers('cache.hit')).toBe(false);
  });

  it('drops events a sampler rejects, by the most specific pattern', () => {
    const bus = createEventBus({ sampling: { 'cache.*': neverSample() } });
    const seen: string[] = [];
    bus.on('*', (e) => {
      seen.push(e.name);
    });
    bus.emit('cache.hit', hit);
    bus.emit('breaker.timeout', { service: 's', timeoutMs: 1 });
    expect(seen).toEqual(['breaker.timeout']);
    expect(bus.stats()).toMatchObject({ emitted: 1, sampledOut: 1 });
  });

  it('is open for more events through its type parameter, and serves as a sink of a smaller map', () => {
    interface BillingEvents {
      'billing.charged': { readonly cents: number };
    }
    const bus = createEventBus<GarrisonEvents & BillingEvents>();
    const charged: number[] = [];
    bus.on('billing.*', (e) => {
      charged.push(e.payload.cents);
    });
    const sink: EventSink<BillingEvents> = bus;
    sink.emit('billing.charged', { cents: 250 });
    const resilienceSink: EventSink<ResilienceEvents> = bus;
    resilienceSink.emit('cache.hit', hit);
    expect(charged).toEqual([250]);
  });

  it('delivers nested emits from a handler synchronously, in order', () => {
    const bus = createEventBus();
    const order: Array<BusEvent<GarrisonEvents>['name']> = [];
    bus.on('cache.miss', () => {
      bus.emit('cache.evict', { cache: 'c', key: 'k', reason: 'expired' });
    });
    bus.on('cache.*', (e) => {
      order.push(e.name);
    });
    bus.emit('cache.miss', { cache: 'c', key: 'k', reason: 'expired' });
    expect(order).toEqual(['cache.evict', 'cache.miss']);
  });
});

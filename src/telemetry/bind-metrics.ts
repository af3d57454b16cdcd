/** Turns bus events into metric updates, so emitters never touch Prometheus themselves. */
import type { EventBus } from './event-bus.js';
import type { BreakerStateName, GarrisonEvents, ProcessExitKind } from './events.js';
import type { Metrics } from './metrics.js';

const EXIT_KINDS: ReadonlySet<string> = new Set<ProcessExitKind>(['normal', 'shutdown', 'killed', 'error']);
const BREAKER_STATES: readonly BreakerStateName[] = ['closed', 'open', 'half_open'];

/** Sets the one-hot state gauge of `service`. */
function setBreakerState(metrics: Metrics, service: string, state: BreakerStateName): void {
  for (const s of BREAKER_STATES) metrics.breakerState.set({ service, state: s }, s === state ? 1 : 0);
}

/**
 * Subscribes `metrics` to `bus`; returns the function that unsubscribes. Every event of `GarrisonEvents`
 * that has a metric updates it here; a layer adding events adds its line here.
 */
export function bindMetricsToBus<M extends GarrisonEvents>(
  events: EventBus<M>,
  metrics: Metrics,
): () => void {
  // A bus over a larger map carries these events with (at least) these payloads, so reading them through
  // the node's map is sound; the cast only spares TypeScript relating two generic `on` signatures.
  const bus = events as unknown as EventBus<GarrisonEvents>;
  const offs = [
    bus.on('process.spawned', () => {
      metrics.processesSpawned.inc();
      metrics.processesActive.inc();
    }),
    bus.on('process.exited', ({ payload }) => {
      metrics.processExits.inc({ reason: EXIT_KINDS.has(payload.reason) ? payload.reason : 'other' });
      metrics.processesActive.dec();
    }),
    bus.on('process.restarted', ({ payload }) =>
      metrics.processRestarts.inc({ supervisor: payload.supervisor }),
    ),
    bus.on('mailbox.depth', ({ payload }) => metrics.mailboxDepth.observe(payload.depth)),
    bus.on('timers.active', ({ payload }) => metrics.timersActive.set({ kind: payload.kind }, payload.count)),
    bus.on('breaker.transition', ({ payload }) => {
      metrics.breakerTransitions.inc({ service: payload.service, from: payload.from, to: payload.to });
      setBreakerState(metrics, payload.service, payload.to);
    }),
    bus.on('breaker.rejected', ({ payload }) => metrics.breakerRejections.inc({ service: payload.service })),
    bus.on('breaker.timeout', ({ payload }) => metrics.breakerTimeouts.inc({ service: payload.service })),
    bus.on('ratelimit.denied', ({ payload }) => metrics.rateLimitDenials.inc({ limiter: payload.limiter })),
    bus.on('retry.scheduled', ({ payload }) => metrics.retries.inc({ operation: payload.operation })),
    bus.on('retry.gave_up', ({ payload }) =>
      metrics.retryGiveUps.inc({ operation: payload.operation, reason: payload.reason }),
    ),
    bus.on('cache.hit', ({ payload }) => metrics.cacheLookups.inc({ cache: payload.cache, result: 'hit' })),
    bus.on('cache.miss', ({ payload }) =>
      metrics.cacheLookups.inc({ cache: payload.cache, result: `miss_${payload.reason}` }),
    ),
    bus.on('cache.evict', ({ payload }) =>
      metrics.cacheEvictions.inc({ cache: payload.cache, reason: payload.reason }),
    ),
    bus.on('delivery.delivered', () => metrics.deliveries.inc({ outcome: 'delivered' })),
    bus.on('delivery.redelivered', () => metrics.deliveries.inc({ outcome: 'redelivered' })),
    bus.on('delivery.dead_lettered', () => metrics.deliveries.inc({ outcome: 'dead_lettered' })),
    bus.on('task.finished', ({ payload }) => {
      metrics.tasks.inc({ queue: payload.queue, outcome: payload.outcome });
      metrics.taskDuration.observe({ queue: payload.queue }, payload.durationMs / 1000);
    }),
    bus.on('workflow.finished', ({ payload }) => {
      metrics.workflows.inc({ outcome: payload.outcome });
      metrics.workflowDuration.observe(payload.durationMs / 1000);
    }),
    bus.on('telemetry.subscriber_failed', () => metrics.subscriberFailures.inc()),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** Anything that lists breaker states; a `BreakerRegistry` is one. */
export interface BreakerStateSource {
  list(): ReadonlyArray<{ readonly service: string; readonly state: BreakerStateName }>;
}

/**
 * Refreshes the breaker state gauge from `breakers` before every render. Needed because an open breaker
 * becomes half-open when it is next looked at (it keeps no timer), and breakers that never changed state
 * have emitted no event. Returns the remover.
 */
export function trackBreakers(metrics: Metrics, breakers: BreakerStateSource): () => void {
  return metrics.beforeRender(() => {
    for (const status of breakers.list()) setBreakerState(metrics, status.service, status.state);
  });
}

import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/clock.js';
import {
  bindMetricsToBus,
  createEventBus,
  createMetrics,
  trackBreakers,
  type GarrisonEvents,
} from '../../src/telemetry/index.js';

/** The value of one sample line (`name{labels} value`) in exposition text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  it('keeps each node on its own registry, never the global one', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.processesSpawned.inc(3);
    expect(sample(await a.render(), 'garrison_processes_spawned_total')).toBe(3);
    expect(sample(await b.render(), 'garrison_processes_spawned_total')).toBe(0);
    expect(globalRegistry.getSingleMetric('garrison_processes_spawned_total')).toBeUndefined();
    expect(a.contentType).toMatch(/^text\/plain/);
  });

  it('turns bus events into metric updates', async () => {
    const bus = createEventBus();
    const metrics = createMetrics();
    bindMetricsToBus(bus, metrics);
    bus.emit('process.spawned', { pid: 'p1' });
    bus.emit('process.spawned', { pid: 'p2' });
    bus.emit('process.exited', { pid: 'p1', reason: 'error', message: 'boom' });
    bus.emit('process.restarted', { pid: 'p1', supervisor: 'root' });
    bus.emit('mailbox.depth', { pid: 'p2', depth: 7 });
    bus.emit('timers.active', { kind: 'process', count: 4 });
    bus.emit('breaker.transition', {
      service: 'pay',
      from: 'closed',
      to: 'open',
      reason: 'failure_threshold',
      failures: 5,
      at: 0,
    });
    bus.emit('breaker.rejected', { service: 'pay', reason: 'open', retryAfterMs: 10 });
    bus.emit('ratelimit.denied', { limiter: 'api', key: 'k', requested: 1, remaining: 0, retryAfterMs: 5 });
    bus.emit('retry.scheduled', {
      operation: 'fetch',
      attempt: 1,
      delayMs: 5,
      errorCode: undefined,
      error: 'x',
    });
    bus.emit('retry.gave_up', {
      operation: 'fetch',
      attempts: 3,
      reason: 'exhausted',
      errorCode: undefined,
      error: 'x',
    });
    bus.emit('cache.hit', { cache: 'c', key: 'k' });
    bus.emit('cache.miss', { cache: 'c', key: 'k', reason: 'expired' });
    bus.emit('cache.evict', { cache: 'c', key: 'k', reason: 'capacity' });
    bus.emit('delivery.delivered', { messageId: 'm1', attempt: 1 });
    bus.emit('delivery.redelivered', { messageId: 'm2', attempt: 2 });
    bus.emit('delivery.dead_lettered', { messageId: 'm3', attempts: 5, reason: 'max attempts' });
    bus.emit('task.finished', { queue: 'emails', taskId: 't1', outcome: 'completed', durationMs: 250 });
    bus.emit('workflow.finished', { workflowId: 'w1', name: 'report', outcome: 'failed', durationMs: 1500 });

    const text = await metrics.render();
    const expected: Record<string, number> = {
      garrison_processes_spawned_total: 2,
      'garrison_process_exits_total{reason="error"}': 1,
      garrison_processes_active: 1,
      'garrison_process_restarts_total{supervisor="root"}': 1,
      garrison_mailbox_depth_count: 1,
      garrison_mailbox_depth_sum: 7,
      'garrison_timers_active{kind="process"}': 4,
      'garrison_breaker_state{service="pay",state="open"}': 1,
      'garrison_breaker_state{service="pay",state="closed"}': 0,
      'garrison_breaker_transitions_total{service="pay",from="closed",to="open"}': 1,
      'garrison_breaker_rejections_total{service="pay"}': 1,
      'garrison_rate_limit_denials_total{limiter="api"}': 1,
      'garrison_retries_total{operation="fetch"}': 1,
      'garrison_retry_give_ups_total{operation="fetch",reason="exhausted"}': 1,
      'garrison_cache_lookups_total{cache="c",result="hit"}': 1,
      'garrison_cache_lookups_total{cache="c",result="miss_expired"}': 1,
      'garrison_cache_evictions_total{cache="c",reason="capacity"}': 1,
      'garrison_deliveries_total{outcome="delivered"}': 1,
      'garrison_deliveries_total{outcome="redelivered"}': 1,
      'garrison_deliveries_total{outcome="dead_lettered"}': 1,
      'garrison_tasks_total{queue="emails",outcome="completed"}': 1,
      'garrison_task_duration_seconds_sum{queue="emails"}': 0.25,
      'garrison_workflows_total{outcome="failed"}': 1,
      garrison_workflow_duration_seconds_sum: 1.5,
    };
    for (const [series, value] of Object.entries(expected)) {
      expect({ series, value: sample(text, series) }).toEqual({ series, value });
    }
  });

  it('counts process exits with an unknown reason as other', async () => {
    const bus = createEventBus();
    const metrics = createMetrics();
    bindMetricsToBus(bus, metrics);
    bus.emit('process.exited', { pid: 'p', reason: 'vanished' as 'error' });
    expect(sample(await metrics.render(), 'garrison_process_exits_total{reason="other"}')).toBe(1);
  });

  it('binds to a bus whose event map was extended by other layers', async () => {
    interface BillingEvents {
      'billing.charged': { readonly cents: number };
    }
    const bus = createEventBus<GarrisonEvents & BillingEvents>();
    const metrics = createMetrics();
    bindMetricsToBus(bus, metrics);
    bus.emit('billing.charged', { cents: 5 });
    bus.emit('process.spawned', { pid: 'p' });
    expect(sample(await metrics.render(), 'garrison_processes_spawned_total')).toBe(1);
  });

  it('stops updating once unbound', async () => {
    const bus = createEventBus();
    const metrics = createMetrics();
    const unbind = bindMetricsToBus(bus, metrics);
    unbind();
    bus.emit('process.spawned', { pid: 'p' });
    expect(sample(await metrics.render(), 'garrison_processes_spawned_total')).toBe(0);
    expect(bus.stats().subscribers).toBe(0);
  });

  it('lets later layers add instruments, reusing one name and refusing a different kind under it', async () => {
    const metrics = createMetrics({ defaultLabels: { node: 'n1' } });
    const claims = metrics.counter('queue_claims_total', 'Tasks claimed.', ['queue']);
    expect(metrics.counter('queue_claims_total', 'Tasks claimed.', ['queue'])).toBe(claims);
    claims.inc({ queue: 'q' }, 2);
    metrics.histogram('claim_seconds', 'Claim latency.', [], [0.1, 1]).observe(0.5);
    metrics.gauge('leases_held', 'Leases held.').set(3);
    expect(() => metrics.gauge('queue_claims_total', 'x')).toThrow(/different kind/);
    expect(() => metrics.counter('bad name', 'x')).toThrow(/invalid metric name/);
    const text = await metrics.render();
    expect(sample(text, 'garrison_queue_claims_total{queue="q",node="n1"}')).toBe(2);
    expect(sample(text, 'garrison_claim_seconds_bucket{le="1",node="n1"}')).toBe(1);
    expect(sample(text, 'garrison_leases_held{node="n1"}')).toBe(3);
  });

  it('refreshes breaker states from the registry at render, including open breakers now due for half-open', async () => {
    const clock = new VirtualClock();
    const bus = createEventBus({ clock });
    const metrics = createMetrics();
    bindMetricsToBus(bus, metrics);
    const breakers = new BreakerRegistry({
      clock,
      events: bus,
      defaults: { failureThreshold: 1, resetTimeoutMs: 1000 },
    });
    trackBreakers(metrics, breakers);
    breakers.get('quiet');
    await breakers
      .get('flaky')
      .call(() => Promise.reject(new Error('down')))
      .catch(() => undefined);
    let text = await metrics.render();
    expect(sample(text, 'garrison_breaker_state{service="quiet",state="closed"}')).toBe(1);
    expect(sample(text, 'garrison_breaker_state{service="flaky",state="open"}')).toBe(1);
    await clock.advance(1000);
    text = await metrics.render();
    expect(sample(text, 'garrison_breaker_state{service="flaky",state="open"}')).toBe(0);
    expect(sample(text, 'garrison_breaker_state{service="flaky",state="half_open"}')).toBe(1);
    expect(
      sample(text, 'garrison_breaker_transitions_total{service="flaky",from="open",to="half_open"}'),
    ).toBe(1);
  });
});

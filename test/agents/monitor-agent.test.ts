/**
 * The monitor agent: metrics collected on its schedule, thresholds, alerts listed and acknowledged
 * (durably), a bounded history — all on the virtual clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defineMonitorAgent, type Alert, type MetricSample } from '../../src/agents/index.js';
import { createScheduler, type SchedulerManager } from '../../src/scheduler/index.js';
import { adapters } from '../support/stores.js';
import { eventually, openFixture, type Fixture } from './support.js';

describe.each(adapters)('monitor agent on $name', (adapter) => {
  let f: Fixture | undefined;
  let scheduler: SchedulerManager | undefined;
  afterEach(async () => {
    await f?.close();
    await scheduler?.shutdown();
    f = undefined;
    scheduler = undefined;
  });

  /** The node's scheduler: its durable timers (the agents' schedules) run on the fixture's virtual clock. */
  const schedulerOf = (fixture: Fixture) => {
    scheduler ??= createScheduler({ store: fixture.store, runtime: fixture.runtime, nodeId: 'node-a' });
    return scheduler;
  };

  /** A monitor whose collector reports `load` from a variable the test sets. */
  async function monitor(options: { historyLimit?: number } = {}) {
    const fixture = await openFixture(adapter);
    f = fixture;
    await fixture.host.shutdown(); // the host of this test has a scheduler
    const reading = { load: 0 };
    const definition = defineMonitorAgent({
      intervalMs: 1000,
      historyLimit: options.historyLimit ?? 3,
      thresholds: [
        { metric: 'load', op: 'gt', value: 5, level: 'warning' },
        { metric: 'load', op: 'gte', value: 10, level: 'critical' },
      ],
      collect: async () => ({ load: reading.load }),
    });
    await schedulerOf(fixture).start();
    const host = await fixture.reopen({ scheduler: schedulerOf(fixture) });
    await host.start(definition, { id: 'mon' });
    /** Advances one interval and waits for that collection's checkpoint. */
    const tick = async () => {
      const before = (await host.get('mon')).counters.processed;
      // The last firing settles (and arms the next) after its task ran: time moves on only then, since a
      // virtual timer armed for a moment already passed waits for the next advance.
      await schedulerOf(fixture).durable.idle();
      await fixture.clock.advance(1000);
      await eventually(async () => (await host.get('mon')).counters.processed === before + 1, 'a collection');
    };
    return { host, reading, tick, definition };
  }

  it('collects on its schedule and keeps a bounded history, newest last', async () => {
    const { host, reading, tick } = await monitor({ historyLimit: 3 });
    for (const load of [1, 2, 3, 4]) {
      reading.load = load;
      await tick();
    }
    const { history } = await host.call<{ history: MetricSample[] }>('mon', 'history', {});
    expect(history.map((s) => s.metrics.load)).toEqual([2, 3, 4]);
    expect(history.map((s) => s.at)).toEqual([f!.clock.now() - 2000, f!.clock.now() - 1000, f!.clock.now()]);
  });

  it('raises an alert per crossed threshold, once while it stays open, and emits it as a signal', async () => {
    const { host, reading, tick } = await monitor();
    reading.load = 7;
    await tick();
    await tick();
    reading.load = 12;
    await tick();
    const { alerts } = await host.call<{ alerts: Alert[] }>('mon', 'alerts', {});
    expect(alerts.map((a) => [a.level, a.value, a.acknowledgedAt])).toEqual([
      ['critical', 12, null],
      ['warning', 7, null],
    ]);
    expect(f!.events.of('agent.signal').map((s) => [s.type, (s.data as Alert).level])).toEqual([
      ['monitor.alert', 'warning'],
      ['monitor.alert', 'critical'],
    ]);
  });

  it('acknowledged alerts are durable: a restarted monitor still knows them, and a new breach raises anew', async () => {
    const { host, reading, tick, definition } = await monitor();
    reading.load = 7;
    await tick();
    const [alert] = (await host.call<{ alerts: Alert[] }>('mon', 'alerts', { acknowledged: false })).alerts;
    const acked = await host.call<Alert>('mon', 'acknowledge', { alertId: alert!.id, by: 'ops' });
    expect(acked).toMatchObject({ id: alert!.id, acknowledgedBy: 'ops', acknowledgedAt: f!.clock.now() });

    // The node restarts: the monitor comes back with its alerts, history and thresholds.
    await host.shutdown();
    const next = await f!.reopen({
      definitions: [definition],
      scheduler: schedulerOf(f!),
    });
    expect(next.resumed).toEqual(['mon']);
    const all = (await next.call<{ alerts: Alert[] }>('mon', 'alerts', {})).alerts;
    expect(all).toEqual([acked]);
    expect((await next.call<{ alerts: Alert[] }>('mon', 'alerts', { acknowledged: false })).alerts).toEqual(
      [],
    );

    // A collection is a task on the monitor's queue: the new host's consumer may first wait out a lease
    // the old one left (a completion not yet committed at shutdown), so time moves on until it runs.
    await eventually(async () => {
      if ((await next.call<{ alerts: Alert[] }>('mon', 'alerts', {})).alerts.length === 2) return true;
      await f!.clock.advance(1000);
      return false;
    }, 'a new alert');
    const missing = await next.call('mon', 'acknowledge', { alertId: 'alert-99' }).catch((e: unknown) => e);
    expect((missing as { code: string }).code).toBe('action_failed');
    expect(((missing as Error).cause as { code: string }).code).toBe('alert_not_found');
    expect(reading.load).toBe(7);
  });

  it('thresholds can be replaced; the schedule stops with the agent', async () => {
    const { host, reading, tick } = await monitor();
    await host.call('mon', 'set_thresholds', {
      thresholds: [{ metric: 'load', op: 'lt', value: 1, level: 'warning' }],
    });
    reading.load = 0;
    await tick();
    const { alerts } = await host.call<{ alerts: Alert[] }>('mon', 'alerts', {});
    expect(alerts.map((a) => a.message)).toEqual(['load is 0 (lt 1)']);
    expect((await scheduler!.durable.list({ owner: 'mon' })).map((t) => t.intervalMs)).toEqual([1000]);
    await host.stop('mon');
    expect(await scheduler!.durable.list({ owner: 'mon' })).toEqual([]); // the timer died with its agent
    const processed = (await host.get('mon')).counters.processed;
    await f!.clock.advance(5000);
    expect((await host.get('mon')).counters.processed).toBe(processed);
  });
});

import { describe, expect, it } from 'vitest';
import {
  sensorChildSpec,
  sensorHandle,
  sensorProcessName,
  startSensor,
  type Readings,
  type Sensor,
  type SensorSignal,
} from '../../src/governance/index.js';
import { Supervisor } from '../../src/runtime/index.js';
import { neverSample } from '../../src/telemetry/index.js';
import { harness, recordEvents, testScheduler } from './support.js';

/** A sensor that reads the next value of a script on each sample (`NaN` ends the script: it throws). */
function scripted(name: string, values: number[], lifecycle: string[] = []): Sensor {
  let i = 0;
  return {
    name,
    start: () => lifecycle.push('start'),
    stop: () => lifecycle.push('stop'),
    sample: (): Readings => {
      const v = values[i++];
      if (v === undefined || Number.isNaN(v)) throw new Error('probe failed');
      return { value: v };
    },
  };
}

describe('sensor processes', () => {
  it('read on every scheduler tick and keep a bounded history', async () => {
    const { runtime, clock } = harness();
    const scheduler = testScheduler(runtime);
    const start = clock.now();
    const sensor = await startSensor(runtime, {
      sensor: scripted('s', [1, 2, 3, 4, 5]),
      scheduler,
      intervalMs: 1000,
      historySize: 3,
    });
    expect((await sensor.snapshot()).samples).toBe(0);
    await clock.advance(5000);
    const snap = await sensor.snapshot();
    expect(snap).toMatchObject({ name: 's', samples: 5, failures: 0, latest: { value: 5 } });
    expect(snap.history).toEqual([
      { at: start + 3000, readings: { value: 3 } },
      { at: start + 4000, readings: { value: 4 } },
      { at: start + 5000, readings: { value: 5 } },
    ]);
    expect(snap.lastSampleAt).toBe(start + 5000);
    await runtime.shutdown();
  });

  it('raise a signal once while a threshold is crossed and clear it when the value is back', async () => {
    const { runtime, clock } = harness();
    const events = recordEvents();
    const signals: SensorSignal[] = [];
    const start = clock.now();
    const sensor = await startSensor(runtime, {
      sensor: scripted('load', [1, 9, 1, 9, 9, 9, 9, 2]),
      scheduler: testScheduler(runtime),
      intervalMs: 1000,
      thresholds: [{ name: 'high', metric: 'value', above: 5, forSamples: 2 }],
      onSignal: (s) => signals.push(s),
      events,
    });
    await clock.advance(5000);
    // 1, 9, 1 (one spike is not enough), 9, 9 → raised at the fifth reading.
    expect(signals).toEqual([
      {
        sensor: 'load',
        threshold: 'high',
        metric: 'value',
        level: 'warning',
        state: 'raised',
        value: 9,
        at: start + 5000,
      },
    ]);
    expect((await sensor.snapshot()).active).toEqual(signals);
    await clock.advance(2000); // 9, 9: still raised, nothing new
    expect(signals).toHaveLength(1);
    await clock.advance(1000); // 2: cleared
    expect(signals[1]).toMatchObject({ state: 'cleared', value: 2, at: start + 8000 });
    expect(events.of('sensor.signal')).toEqual(signals);
    const snap = await sensor.snapshot();
    expect(snap.active).toEqual([]);
    expect(snap.signals).toEqual(signals);
    await runtime.shutdown();
  });

  it('take readings pushed to them (event-driven) through the same thresholds', async () => {
    const { runtime } = harness();
    const signals: SensorSignal[] = [];
    const sensor = await startSensor(runtime, {
      sensor: { name: 'queue', sample: () => ({}) },
      thresholds: [
        { metric: 'queue.*.depth', above: 100, level: 'critical' },
        { name: 'empty', metric: 'queue.emails.depth', below: 1 },
      ],
      onSignal: (s) => signals.push(s),
    });
    await sensor.push({ 'queue.emails.depth': 150, 'queue.sms.depth': 3 });
    await sensor.push({ 'queue.emails.depth': 0 });
    const snap = await sensor.snapshot();
    expect(snap.samples).toBe(2);
    expect(signals.map((s) => [s.threshold, s.metric, s.state])).toEqual([
      ['queue.*.depth > 100', 'queue.emails.depth', 'raised'],
      ['queue.*.depth > 100', 'queue.emails.depth', 'cleared'],
      ['empty', 'queue.emails.depth', 'raised'],
    ]);
    await expect(sensor.push({ x: 'high' } as never)).rejects.toThrow(/invalid readings/);
    await runtime.shutdown();
  });

  it('clear the signal of a metric that is no longer reported', async () => {
    const { runtime } = harness();
    const signals: SensorSignal[] = [];
    const sensor = await startSensor(runtime, {
      sensor: { name: 'agents', sample: () => ({}) },
      thresholds: [{ metric: 'agent.*.error_rate', above: 0.5 }],
      onSignal: (s) => signals.push(s),
    });
    await sensor.push({ 'agent.a1.error_rate': 0.9, 'agent.a2.error_rate': 0.1 });
    await sensor.push({ 'agent.a2.error_rate': 0.1 });
    expect(signals.map((s) => [s.metric, s.state, s.value])).toEqual([
      ['agent.a1.error_rate', 'raised', 0.9],
      ['agent.a1.error_rate', 'cleared', 0.9],
    ]);
    await runtime.shutdown();
  });

  it('count a sample that throws and carry on at the next tick', async () => {
    const { runtime, clock } = harness();
    const events = recordEvents();
    const sensor = await startSensor(runtime, {
      sensor: scripted('flaky', [1, NaN, 3]),
      scheduler: testScheduler(runtime),
      intervalMs: 1000,
      events,
      readingSampler: neverSample(),
    });
    await clock.advance(3000);
    const snap = await sensor.snapshot();
    expect(snap).toMatchObject({ samples: 2, failures: 1, latest: { value: 3 } });
    expect(events.of('sensor.failed')).toEqual([{ sensor: 'flaky', error: 'probe failed', failures: 1 }]);
    expect(events.of('sensor.reading')).toEqual([]);
    await runtime.shutdown();
  });

  it('report readings as sensor.reading events, and sample on demand', async () => {
    const { runtime, clock } = harness();
    const events = recordEvents();
    const sensor = await startSensor(runtime, { sensor: scripted('s', [7]), events });
    const snap = await sensor.sampleNow();
    expect(snap.latest).toEqual({ value: 7 });
    expect(events.of('sensor.reading')).toEqual([{ sensor: 's', at: clock.now(), readings: { value: 7 } }]);
    await runtime.shutdown();
  });

  it('lose their timer and stop their probes when their process dies, kill included; no monitor remains', async () => {
    const { runtime, clock } = harness();
    const scheduler = testScheduler(runtime);
    const lifecycle: string[] = [];
    const sensor = await startSensor(runtime, {
      sensor: scripted('s', [1, 2, 3], lifecycle),
      scheduler,
      intervalMs: 1000,
    });
    expect(lifecycle).toEqual(['start']);
    expect(scheduler.active()).toBe(1);
    await clock.advance(1000);
    runtime.kill(sensorProcessName('s'));
    expect(lifecycle).toEqual(['start', 'stop']);
    expect(scheduler.active()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(runtime.monitorCount).toBe(0);
    expect(runtime.checkMonitorLeaks(0)).toEqual([]);
    await expect(sensor.snapshot()).rejects.toMatchObject({ code: 'noproc' });
  });

  it('restart under a supervisor with a fresh history and their schedule', async () => {
    const { runtime, clock } = harness();
    const scheduler = testScheduler(runtime);
    const lifecycle: string[] = [];
    let n = 0;
    const sensor: Sensor = {
      name: 'sup',
      start: () => lifecycle.push('start'),
      stop: () => lifecycle.push('stop'),
      sample: () => ({ n: ++n }),
    };
    const sup = await Supervisor.start(runtime, {
      id: 'sensors',
      children: [sensorChildSpec(runtime, { sensor, scheduler, intervalMs: 1000 })],
    });
    await clock.advance(2000);
    runtime.exit(sensorProcessName('sup'), { error: new Error('crash') });
    await clock.advance(0);
    expect(lifecycle).toEqual(['start', 'stop', 'start']);
    expect(scheduler.active()).toBe(1);
    await clock.advance(1000);
    const handle = sensorHandle(runtime, 'sup');
    expect(await handle.snapshot()).toMatchObject({ samples: 1, latest: { n: 3 } });
    await sup.stop();
    expect(scheduler.active()).toBe(0);
    expect(runtime.monitorCount).toBe(0);
  });

  it('refuse bad options with invalid_input', async () => {
    const { runtime } = harness();
    const sensor = scripted('s', []);
    await expect(startSensor(runtime, { sensor, intervalMs: 0 })).rejects.toThrow(/intervalMs/);
    await expect(startSensor(runtime, { sensor: { name: 'bad name', sample: () => ({}) } })).rejects.toThrow(
      /a sensor needs a name/,
    );
    await expect(startSensor(runtime, { sensor, thresholds: [{ metric: 'x' }] })).rejects.toThrow(
      /exactly one of above and below/,
    );
    await expect(
      startSensor(runtime, { sensor, thresholds: [{ metric: 'x', above: 1, below: 0 }] }),
    ).rejects.toThrow(/exactly one of above and below/);
    await expect(
      startSensor(runtime, {
        sensor,
        thresholds: [
          { metric: 'x', above: 1 },
          { metric: 'x', above: 1 },
        ],
      }),
    ).rejects.toThrow(/two thresholds are named x > 1/);
    expect(runtime.processCount).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import {
  AGENT_THRESHOLDS,
  HEALTH_THRESHOLDS,
  SYSTEM_THRESHOLDS,
  createAgentPerformanceSensor,
  createHealthChecks,
  createHealthSensor,
  createSystemSensor,
  startSensor,
  type EventLoopDelayProbe,
  type SensorSignal,
  type SystemProbes,
} from '../../src/governance/index.js';
import { harness, testScheduler } from './support.js';

const MiB = 1024 * 1024;

/** Probes with figures a test sets. Delays are in ms here and reported to the sensor in ns. */
function fakeProbes() {
  const state = {
    cpuUs: 0,
    load1: 0.5,
    cores: 2,
    heapUsed: 100 * MiB,
    rss: 200 * MiB,
    heapLimit: 1000 * MiB,
    free: 1000 * MiB,
    total: 2000 * MiB,
    delaysMs: [] as number[],
    enabled: false,
  };
  const histogram: EventLoopDelayProbe = {
    enable: () => (state.enabled = true),
    disable: () => (state.enabled = false),
    reset: () => (state.delaysMs = []),
    percentile: (p) => {
      const sorted = [...state.delaysMs].sort((a, b) => a - b);
      return (sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0) * 1e6;
    },
    get max() {
      return Math.max(...state.delaysMs) * 1e6;
    },
    get mean() {
      return 0;
    },
    get count() {
      return state.delaysMs.length;
    },
  };
  const probes: SystemProbes = {
    cpuUsage: () => ({ user: state.cpuUs * 0.75, system: state.cpuUs * 0.25 }),
    loadavg: () => [state.load1, 0, 0],
    cores: () => state.cores,
    memory: () => ({ heapUsed: state.heapUsed, rss: state.rss }),
    heapLimit: () => state.heapLimit,
    hostMemory: () => ({ free: state.free, total: state.total }),
    eventLoopDelay: () => histogram,
  };
  return { state, probes };
}

describe('system sensor', () => {
  it('reads CPU, memory and event-loop delay from its probes', async () => {
    const { runtime, clock } = harness();
    const { state, probes } = fakeProbes();
    const sensor = await startSensor(runtime, {
      sensor: createSystemSensor({ probes }),
      scheduler: testScheduler(runtime),
      intervalMs: 10_000,
    });
    expect(state.enabled).toBe(true);
    state.cpuUs = 5_000_000; // 5 s of CPU in 10 s: half a core
    state.load1 = 3;
    state.delaysMs = [1, 2, 3, 50];
    await clock.advance(10_000);
    expect((await sensor.snapshot()).latest).toEqual({
      'cpu.process_ratio': 0.5,
      'cpu.load1': 3,
      'cpu.load_per_core': 1.5,
      'memory.heap_used_bytes': 100 * MiB,
      'memory.rss_bytes': 200 * MiB,
      'memory.heap_ratio': 0.1,
      'memory.host_free_ratio': 0.5,
      'event_loop.delay_p50_ms': 2,
      'event_loop.delay_p99_ms': 50,
      'event_loop.delay_max_ms': 50,
    });
    // The histogram is reset after each reading; an interval without loop samples reports no delay.
    await clock.advance(10_000);
    expect(Object.keys((await sensor.snapshot()).latest ?? {})).not.toContain('event_loop.delay_p99_ms');
    await runtime.shutdown();
    expect(state.enabled).toBe(false);
  });

  it('its default thresholds warn of a delayed loop and a low-memory host', async () => {
    const { runtime, clock } = harness();
    const { state, probes } = fakeProbes();
    const signals: SensorSignal[] = [];
    await startSensor(runtime, {
      sensor: createSystemSensor({ probes }),
      scheduler: testScheduler(runtime),
      intervalMs: 10_000,
      thresholds: SYSTEM_THRESHOLDS,
      onSignal: (s) => signals.push(s),
    });
    state.delaysMs = [150];
    state.free = 100 * MiB;
    await clock.advance(10_000);
    expect(signals.map((s) => s.threshold)).toEqual(['host memory low']);
    state.delaysMs = [600];
    await clock.advance(10_000);
    expect(signals.map((s) => [s.threshold, s.level])).toEqual([
      ['host memory low', 'warning'],
      ['event loop delayed', 'warning'],
      ['event loop blocked', 'critical'],
    ]);
    await runtime.shutdown();
  });

  it('reads the real host: every reading is a finite number', async () => {
    const { runtime, clock } = harness();
    const sensor = await startSensor(runtime, { sensor: createSystemSensor() });
    await clock.advance(1000);
    const latest = (await sensor.sampleNow()).latest ?? {};
    expect(latest['memory.rss_bytes']).toBeGreaterThan(0);
    expect(latest['memory.heap_ratio']).toBeGreaterThan(0);
    expect(latest['memory.heap_ratio']).toBeLessThan(1);
    for (const value of Object.values(latest)) expect(Number.isFinite(value)).toBe(true);
    await runtime.shutdown();
  });
});

describe('agent-performance sensor', () => {
  it('reports per-agent throughput, error rate and latency for each interval', async () => {
    const { runtime, clock } = harness();
    const agents = createAgentPerformanceSensor({ minSamples: 4 });
    const sensor = await startSensor(runtime, {
      sensor: agents,
      scheduler: testScheduler(runtime),
      intervalMs: 10_000,
    });
    for (let i = 1; i <= 20; i++) agents.observe({ agentId: 'a1', ok: i % 4 !== 0, durationMs: i * 10 });
    agents.observe({ agentId: 'a2', ok: false, durationMs: 5 });
    await clock.advance(10_000);
    expect((await sensor.snapshot()).latest).toEqual({
      'agent.a1.actions': 20,
      'agent.a1.throughput_per_s': 2,
      'agent.a1.latency_mean_ms': 105,
      'agent.a1.latency_p95_ms': 190,
      'agent.a1.error_rate': 0.25,
      // a2 ran one action: too few for an error rate.
      'agent.a2.actions': 1,
      'agent.a2.throughput_per_s': 0.1,
      'agent.a2.latency_mean_ms': 5,
      'agent.a2.latency_p95_ms': 5,
      'agents.actions': 21,
      'agents.active': 2,
      'agents.untracked': 0,
      'agents.error_rate': 6 / 21,
    });
    await clock.advance(10_000); // a quiet interval starts afresh
    expect((await sensor.snapshot()).latest).toEqual({
      'agents.actions': 0,
      'agents.active': 0,
      'agents.untracked': 0,
    });
    await runtime.shutdown();
  });

  it('stays bounded: agents past maxAgents are only counted, latencies past the cap replace the oldest', async () => {
    const agents = createAgentPerformanceSensor({ maxAgents: 2, maxLatencySamples: 3 });
    agents.start?.(0);
    for (const id of ['a', 'b', 'c', 'd']) agents.observe({ agentId: id, ok: true, durationMs: 1 });
    for (const ms of [1000, 1000, 1000, 1, 2, 3]) agents.observe({ agentId: 'a', ok: true, durationMs: ms });
    const readings = await agents.sample(1000);
    expect(readings['agents.active']).toBe(2);
    expect(readings['agents.untracked']).toBe(2);
    expect(readings['agent.c.actions']).toBeUndefined();
    expect(readings['agent.a.latency_p95_ms']).toBe(3);
  });

  it('its default thresholds warn of an agent failing most of its work for two intervals', async () => {
    const { runtime, clock } = harness();
    const agents = createAgentPerformanceSensor();
    const signals: SensorSignal[] = [];
    await startSensor(runtime, {
      sensor: agents,
      scheduler: testScheduler(runtime),
      intervalMs: 10_000,
      thresholds: AGENT_THRESHOLDS,
      onSignal: (s) => signals.push(s),
    });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) agents.observe({ agentId: 'bad', ok: i < 2, durationMs: 10 });
      for (let i = 0; i < 10; i++) agents.observe({ agentId: 'good', ok: true, durationMs: 10 });
      await clock.advance(10_000);
    }
    expect(signals).toEqual([
      expect.objectContaining({
        threshold: 'agent failing',
        metric: 'agent.bad.error_rate',
        state: 'raised',
        value: 0.8,
      }),
    ]);
    await runtime.shutdown();
  });
});

describe('health sensor', () => {
  it('runs the health checks on its schedule and signals when the system degrades', async () => {
    const { runtime, clock } = harness();
    const health = createHealthChecks({ clock });
    let ok = true;
    health.register({
      name: 'db',
      critical: false,
      check: () => (ok ? undefined : { status: 'unhealthy', reason: 'down' }),
    });
    const signals: SensorSignal[] = [];
    const sensor = await startSensor(runtime, {
      sensor: createHealthSensor(health),
      scheduler: testScheduler(runtime),
      intervalMs: 5000,
      thresholds: HEALTH_THRESHOLDS,
      onSignal: (s) => signals.push(s),
    });
    await clock.advance(5000);
    expect(health.last()?.status).toBe('healthy');
    ok = false;
    await clock.advance(5000);
    expect(health.last()?.status).toBe('degraded');
    expect((await sensor.snapshot()).latest).toEqual({
      'health.status': 1,
      'health.failing': 1,
      'health.check.db': 2,
    });
    expect(signals.map((s) => [s.threshold, s.state])).toEqual([['system degraded', 'raised']]);
    await runtime.shutdown();
  });
});

/**
 * The system sensor: CPU (this process's CPU time per wall time, the host's load per core), memory (heap,
 * RSS, the share of V8's heap limit in use, the host's free memory) and event-loop delay. The probes are
 * injectable so tests feed exact figures.
 */
import { availableParallelism, freemem, loadavg, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Sensor, SensorThreshold } from './types.js';

/** An event-loop delay histogram, in nanoseconds (the shape of `perf_hooks`' `IntervalHistogram`). */
export interface EventLoopDelayProbe {
  enable(): unknown;
  disable(): unknown;
  reset(): void;
  percentile(p: number): number;
  readonly max: number;
  readonly mean: number;
  /** Delay samples taken since the last reset. */
  readonly count: number;
}

/** Where the system sensor reads from. Every member defaults to the host's. */
export interface SystemProbes {
  /** This process's CPU time, µs (`process.cpuUsage`). */
  cpuUsage(): { readonly user: number; readonly system: number };
  /** The host's 1, 5 and 15 minute load averages (`os.loadavg`; zeros on Windows). */
  loadavg(): readonly number[];
  /** Cores available to this process (`os.availableParallelism`). */
  cores(): number;
  /** Heap used and RSS, bytes. */
  memory(): { readonly heapUsed: number; readonly rss: number };
  /** V8's heap size limit, bytes. */
  heapLimit(): number;
  /** The host's free and total memory, bytes. */
  hostMemory(): { readonly free: number; readonly total: number };
  /** Makes the event-loop delay histogram (enabled while the sensor's process lives). */
  eventLoopDelay(): EventLoopDelayProbe;
}

export const hostProbes: SystemProbes = {
  cpuUsage: () => process.cpuUsage(),
  loadavg: () => loadavg(),
  cores: () => availableParallelism(),
  memory: () => {
    const m = process.memoryUsage();
    return { heapUsed: m.heapUsed, rss: m.rss };
  },
  heapLimit: () => getHeapStatistics().heap_size_limit,
  hostMemory: () => ({ free: freemem(), total: totalmem() }),
  // 20 ms resolution: fine enough to see a blocked loop, cheap enough to leave on.
  eventLoopDelay: () => monitorEventLoopDelay({ resolution: 20 }),
};

export interface SystemSensorOptions {
  /** Default `system`. */
  readonly name?: string;
  /** Probes to replace (tests). Default the host's. */
  readonly probes?: Partial<SystemProbes>;
}

const NS_PER_MS = 1e6;

/**
 * Readings: `cpu.process_ratio` (CPU time / wall time since the last reading; 1 = one core busy),
 * `cpu.load1`, `cpu.load_per_core`, `memory.heap_used_bytes`, `memory.rss_bytes`, `memory.heap_ratio`
 * (of V8's limit), `memory.host_free_ratio`, and, when the loop was sampled, `event_loop.delay_p50_ms`,
 * `event_loop.delay_p99_ms`, `event_loop.delay_max_ms`.
 */
export function createSystemSensor(options: SystemSensorOptions = {}): Sensor {
  const probes: SystemProbes = { ...hostProbes, ...options.probes };
  let histogram: EventLoopDelayProbe | undefined;
  let lastCpu: { user: number; system: number } | undefined;
  let lastAt = 0;
  return {
    name: options.name ?? 'system',
    start(now) {
      histogram?.disable();
      histogram = probes.eventLoopDelay();
      histogram.enable();
      lastCpu = probes.cpuUsage();
      lastAt = now;
    },
    stop() {
      histogram?.disable();
      histogram = undefined;
    },
    sample(now) {
      const readings: Record<string, number> = {};
      const cpu = probes.cpuUsage();
      const elapsedMs = now - lastAt;
      if (lastCpu !== undefined && elapsedMs > 0) {
        const usedUs = cpu.user - lastCpu.user + (cpu.system - lastCpu.system);
        readings['cpu.process_ratio'] = usedUs / 1000 / elapsedMs;
      }
      lastCpu = cpu;
      lastAt = now;
      const load1 = probes.loadavg()[0] ?? 0;
      readings['cpu.load1'] = load1;
      readings['cpu.load_per_core'] = load1 / Math.max(1, probes.cores());
      const memory = probes.memory();
      readings['memory.heap_used_bytes'] = memory.heapUsed;
      readings['memory.rss_bytes'] = memory.rss;
      readings['memory.heap_ratio'] = memory.heapUsed / probes.heapLimit();
      const host = probes.hostMemory();
      if (host.total > 0) readings['memory.host_free_ratio'] = host.free / host.total;
      if (histogram !== undefined && histogram.count > 0) {
        readings['event_loop.delay_p50_ms'] = histogram.percentile(50) / NS_PER_MS;
        readings['event_loop.delay_p99_ms'] = histogram.percentile(99) / NS_PER_MS;
        readings['event_loop.delay_max_ms'] = histogram.max / NS_PER_MS;
        histogram.reset();
      }
      return readings;
    },
  };
}

/**
 * Default thresholds of the system sensor (see docs/governance.md for why these numbers):
 * a loop delayed 100 ms at p99 for two readings is a warning, 500 ms critical; a load above 1.5 per core
 * for three readings is a warning; 85% of V8's heap limit a warning, 95% critical; under 10% of the
 * host's memory free a warning.
 */
export const SYSTEM_THRESHOLDS: readonly SensorThreshold[] = [
  { name: 'event loop delayed', metric: 'event_loop.delay_p99_ms', above: 100, forSamples: 2 },
  { name: 'event loop blocked', metric: 'event_loop.delay_p99_ms', above: 500, level: 'critical' },
  { name: 'cpu overloaded', metric: 'cpu.load_per_core', above: 1.5, forSamples: 3 },
  { name: 'heap high', metric: 'memory.heap_ratio', above: 0.85 },
  { name: 'heap near limit', metric: 'memory.heap_ratio', above: 0.95, level: 'critical' },
  { name: 'host memory low', metric: 'memory.host_free_ratio', below: 0.1 },
];

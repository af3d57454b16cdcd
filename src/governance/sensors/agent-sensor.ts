/**
 * The agent-performance sensor: per-agent throughput, error rate and latency over each interval, from
 * the action outcomes it is fed (the node feeds it the `agent.action` events of its bus). Memory stays
 * bounded: at most `maxAgents` agents per interval, and at most `maxLatencySamples` latencies each.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import type { Sensor, SensorThreshold } from './types.js';

/** One finished action: the fields of an `agent.action` event the sensor uses. */
export interface AgentActionSample {
  readonly agentId: string;
  readonly ok: boolean;
  /** ms. */
  readonly durationMs: number;
}

export interface AgentPerformanceSensorOptions {
  /** Default `agents`. */
  readonly name?: string;
  /** Agents tracked per interval; samples of others are only counted (`agents.untracked`). Default 200. */
  readonly maxAgents?: number;
  /** Actions an agent needs in an interval before its error rate is reported (a rate of 1 of 1 is noise). Default 5. */
  readonly minSamples?: number;
  /** Latencies kept per agent per interval for the percentiles (the latest win). Default 256. */
  readonly maxLatencySamples?: number;
}

export interface AgentPerformanceSensor extends Sensor {
  /** Records one finished action. Cheap and synchronous: call it from an event subscriber. */
  observe(sample: AgentActionSample): void;
}

interface Window {
  actions: number;
  errors: number;
  totalMs: number;
  readonly latencies: number[];
  next: number;
}

const optionsSchema = z.strictObject({
  name: z.string().min(1).max(100).default('agents'),
  maxAgents: z.number().int().min(1).max(100_000).default(200),
  minSamples: z.number().int().min(1).default(5),
  maxLatencySamples: z.number().int().min(1).max(100_000).default(256),
});

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

/**
 * Readings per agent seen in the interval: `agent.<id>.actions`, `agent.<id>.throughput_per_s`,
 * `agent.<id>.latency_mean_ms`, `agent.<id>.latency_p95_ms`, and `agent.<id>.error_rate` once it ran
 * `minSamples` actions; for all agents: `agents.actions`, `agents.error_rate`, `agents.active`,
 * `agents.untracked`. Each interval starts afresh.
 */
export function createAgentPerformanceSensor(
  options: AgentPerformanceSensorOptions = {},
): AgentPerformanceSensor {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid agent sensor options: ${describeIssues(parsed.error.issues)}`);
  const { name, maxAgents, minSamples, maxLatencySamples } = parsed.data;
  let windows = new Map<string, Window>();
  let untracked = 0;
  let since: number | undefined;

  return {
    name,
    start(now) {
      windows = new Map();
      untracked = 0;
      since = now;
    },
    observe(sample) {
      if (!Number.isFinite(sample.durationMs)) return;
      let w = windows.get(sample.agentId);
      if (w === undefined) {
        if (windows.size >= maxAgents) {
          untracked++;
          return;
        }
        w = { actions: 0, errors: 0, totalMs: 0, latencies: [], next: 0 };
        windows.set(sample.agentId, w);
      }
      w.actions++;
      if (!sample.ok) w.errors++;
      w.totalMs += sample.durationMs;
      if (w.latencies.length < maxLatencySamples) w.latencies.push(sample.durationMs);
      else {
        w.latencies[w.next] = sample.durationMs;
        w.next = (w.next + 1) % maxLatencySamples;
      }
    },
    sample(now) {
      const elapsedS = since === undefined ? 0 : (now - since) / 1000;
      const readings: Record<string, number> = {};
      let actions = 0;
      let errors = 0;
      for (const [agentId, w] of windows) {
        actions += w.actions;
        errors += w.errors;
        const prefix = `agent.${agentId}`;
        readings[`${prefix}.actions`] = w.actions;
        if (elapsedS > 0) readings[`${prefix}.throughput_per_s`] = w.actions / elapsedS;
        readings[`${prefix}.latency_mean_ms`] = w.totalMs / w.actions;
        readings[`${prefix}.latency_p95_ms`] = percentile(
          [...w.latencies].sort((a, b) => a - b),
          95,
        );
        if (w.actions >= minSamples) readings[`${prefix}.error_rate`] = w.errors / w.actions;
      }
      readings['agents.actions'] = actions;
      readings['agents.active'] = windows.size;
      readings['agents.untracked'] = untracked;
      if (actions > 0) readings['agents.error_rate'] = errors / actions;
      windows = new Map();
      untracked = 0;
      since = now;
      return readings;
    },
  };
}

/**
 * Default thresholds of the agent sensor: an agent failing more than half of its actions for two
 * intervals is a warning; a p95 latency above 25 s is a warning (the default task lease is 30 s, so such
 * an agent is close to losing its leases).
 */
export const AGENT_THRESHOLDS: readonly SensorThreshold[] = [
  { name: 'agent failing', metric: 'agent.*.error_rate', above: 0.5, forSamples: 2 },
  { name: 'agent slow', metric: 'agent.*.latency_p95_ms', above: 25_000 },
];

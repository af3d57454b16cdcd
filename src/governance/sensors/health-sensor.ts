/**
 * The health sensor runs the node's health checks on its schedule, so the summary behind `/readyz` is
 * fresh without every request running the checks, and progress-based checks (a stalled queue) are
 * observed at a steady pace. Its readings rank health 0 (healthy), 1 (degraded), 2 (unhealthy).
 */
import type { HealthChecks } from '../health/health-checks.js';
import type { Sensor, SensorThreshold } from './types.js';

const RANK = { healthy: 0, degraded: 1, unhealthy: 2 } as const;

export interface HealthSensorOptions {
  /** Default `health`. */
  readonly name?: string;
}

/**
 * Readings: `health.status` (the system's rank), `health.failing` (checks not healthy) and
 * `health.check.<name>` (each check's rank).
 */
export function createHealthSensor(health: HealthChecks, options: HealthSensorOptions = {}): Sensor {
  return {
    name: options.name ?? 'health',
    async sample() {
      const summary = await health.run();
      const readings: Record<string, number> = {
        'health.status': RANK[summary.status],
        'health.failing': summary.checks.filter((c) => c.status !== 'healthy').length,
      };
      for (const c of summary.checks) readings[`health.check.${c.name}`] = RANK[c.status];
      return readings;
    },
  };
}

/** Default thresholds of the health sensor: degraded is a warning, unhealthy critical. */
export const HEALTH_THRESHOLDS: readonly SensorThreshold[] = [
  { name: 'system degraded', metric: 'health.status', above: 0 },
  { name: 'system unhealthy', metric: 'health.status', above: 1, level: 'critical' },
];

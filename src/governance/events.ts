/**
 * The governance layer's events: resource alerts and refusals, health changes, service start and stop,
 * sensor signals and readings. Times are UNIX epoch ms; durations are ms. They are merged into the node's
 * event map, so the node's event bus is a sink for them.
 */
import type { EventSink } from '../telemetry/index.js';

/** How serious a signal or a threshold is. */
export type SignalLevel = 'warning' | 'critical';

/** A system or component health state. */
export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

export interface GovernanceEvents {
  /** A resource's usage reached the alert threshold (default 90% of its limit). Once per crossing. */
  'resource.alert': {
    readonly kind: string;
    readonly current: number;
    readonly limit: number;
    /** `current / limit`. */
    readonly ratio: number;
    /** The alert ratio that was crossed. */
    readonly threshold: number;
  };
  /** A resource's usage fell back below the alert threshold (less the hysteresis). */
  'resource.recovered': { readonly kind: string; readonly current: number; readonly limit: number };
  /**
   * A request was refused because a limit was reached. Refusals come in bursts, so this is reported at
   * most once per kind per interval; `suppressed` counts the refusals held back since the last one.
   */
  'resource.refused': {
    readonly kind: string;
    readonly current: number;
    readonly limit: number;
    readonly requested: number;
    readonly suppressed: number;
  };
  /** The system health summary changed state. */
  'health.changed': {
    readonly from: HealthState | undefined;
    readonly to: HealthState;
    /** Why it is not healthy, one line per failing check. */
    readonly reasons: readonly string[];
  };
  /** A service started. */
  'service.started': { readonly service: string; readonly durationMs: number };
  /** A service failed to start (threw or timed out). */
  'service.start_failed': { readonly service: string; readonly error: string };
  /** A service stopped (`ok: false` when its stop threw or timed out; the others were still stopped). */
  'service.stopped': { readonly service: string; readonly ok: boolean; readonly error?: string };
  /** A sensor threshold was crossed (`raised`) or is no longer crossed (`cleared`). */
  'sensor.signal': {
    readonly sensor: string;
    /** The threshold's name. */
    readonly threshold: string;
    readonly metric: string;
    readonly level: SignalLevel;
    readonly state: 'raised' | 'cleared';
    readonly value: number;
    readonly at: number;
  };
  /** A sensor took a reading (sampled by the sensor's `readingSampler`). */
  'sensor.reading': {
    readonly sensor: string;
    readonly at: number;
    readonly readings: Readonly<Record<string, number>>;
  };
  /** A sensor's sample function threw; the sensor keeps running and tries again at the next tick. */
  'sensor.failed': { readonly sensor: string; readonly error: string; readonly failures: number };
}

declare module '../telemetry/events.js' {
  // Declaration merging: the node's event bus knows the governance events.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends GovernanceEvents {}
}

export type GovernanceEventSink = EventSink<GovernanceEvents>;

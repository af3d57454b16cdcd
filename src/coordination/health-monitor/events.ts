/** The health monitor's event, added to the telemetry event map. */
import type { HealthTransition } from './health-monitor.js';

export interface CoordinationEvents {
  /** The health monitor committed a health change of an agent. */
  'agent.health_changed': HealthTransition;
}

declare module '../../telemetry/events.js' {
  // Interface merging is how a layer adds its events to the typed bus.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends CoordinationEvents {}
}

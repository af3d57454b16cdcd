/**
 * The registry's changes as typed events on the node's bus (beside `watch`, which hands subscribers the
 * whole agent): dashboards, logs and metrics see agents come, go and change health without subscribing
 * to the registry itself. Emitted after the change committed, as the watchers are told.
 */
import { emitTo, type EventSink } from '../telemetry/index.js';
import type { Health, RegistryEvent } from './types.js';

export interface RegistryEvents {
  /** An agent was registered. */
  'registry.agent_registered': {
    readonly agentId: string;
    readonly type: string | null;
    readonly node: string;
    readonly capabilities: readonly string[];
  };
  /** An agent's entry was removed (`reason`: why, e.g. its process exited or it was stopped). */
  'registry.agent_unregistered': { readonly agentId: string; readonly node: string; readonly reason: string };
  /** An agent's health changed (the distributor routes only to healthy agents). */
  'registry.agent_status_changed': {
    readonly agentId: string;
    readonly node: string;
    readonly from: Health;
    readonly to: Health;
  };
}

declare module '../telemetry/events.js' {
  // Interface merging is how a layer adds its events to the typed bus.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends RegistryEvents {}
}

/** Forwards one committed registry change to `sink` as its typed event (updates only when health moved). */
export function emitRegistryEvent(sink: EventSink<RegistryEvents> | undefined, event: RegistryEvent): void {
  if (sink === undefined) return;
  const a = event.agent;
  if (event.type === 'registered')
    emitTo(sink, 'registry.agent_registered', {
      agentId: a.id,
      type: a.type,
      node: a.node,
      capabilities: a.capabilities,
    });
  else if (event.type === 'unregistered')
    emitTo(sink, 'registry.agent_unregistered', { agentId: a.id, node: a.node, reason: event.reason });
  else if (event.previous.health !== a.health)
    emitTo(sink, 'registry.agent_status_changed', {
      agentId: a.id,
      node: a.node,
      from: event.previous.health,
      to: a.health,
    });
}

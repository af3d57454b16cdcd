/**
 * The agents layer's events. Each is emitted only after the store transaction that made the change has
 * committed. Times are UNIX epoch ms; durations are ms.
 */
import type { EventSink, SystemEvents } from '../telemetry/index.js';

export interface AgentEvents {
  /** A process of the agent started and the agent is registered with it. */
  'agent.started': {
    readonly agentId: string;
    readonly type: string;
    readonly node: string;
    /** The registry's `process` of the agent: this process. */
    readonly processId: string;
    /** True when a supervisor restarted the agent's process (not a start by hand or a resume). */
    readonly restarted: boolean;
    /** Restarts by a supervisor so far. */
    readonly restarts: number;
  };
  /**
   * The agent's process died and its supervisor restarts it: the registry entry is kept, its health
   * `degraded` until the new process is up.
   */
  'agent.restarting': { readonly agentId: string; readonly processId: string; readonly reason: string };
  /**
   * The agent's process died and is not restarted (temporary, restart intensity exceeded, host shut
   * down): its registry entry was removed in a committed transaction.
   */
  'agent.exited': {
    readonly agentId: string;
    readonly processId: string | null;
    readonly reason: string;
    /** False when there was no registry entry left to remove. */
    readonly unregistered: boolean;
  };
  /** The agent was stopped by hand: its process ended and its registry entry was removed. */
  'agent.stopped': { readonly agentId: string };
  /** An action finished (its checkpoint committed). */
  'agent.action': {
    readonly agentId: string;
    readonly action: string;
    readonly ok: boolean;
    /** The error code when it failed. */
    readonly error: string | undefined;
    readonly durationMs: number;
    /** The queued task it ran for, if any. */
    readonly taskId: number | undefined;
  };
  /** The agent paused: by hand (`manual` or the given reason) or after too many consecutive errors. */
  'agent.paused': { readonly agentId: string; readonly reason: string };
  'agent.resumed': { readonly agentId: string };
  /**
   * The host that runs the agent followed a pause or resume made through another host (another node):
   * its queue consumer stopped (`paused`) or started again. `agent.paused` / `agent.resumed` are emitted
   * by the host that made the change.
   */
  'agent.pause_followed': {
    readonly agentId: string;
    readonly paused: boolean;
    readonly reason: string | null;
  };
  /** A signal an action emitted with `directive.emit`, CloudEvents-shaped. */
  'agent.signal': {
    readonly id: string;
    readonly type: string;
    /** `agent/<agent id>`. */
    readonly source: string;
    readonly time: number;
    readonly data: unknown;
  };
  /**
   * Something the host did in the background failed (a registry update after a process died, settling
   * a dispatched task); the host carries on.
   */
  'agent.error': {
    readonly agentId: string | undefined;
    readonly operation: string;
    readonly error: unknown;
  };
}

declare module '../telemetry/events.js' {
  // Declaration merging: the node's event bus knows the agents' events.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends AgentEvents {}
}

export type AgentEventSink = EventSink<AgentEvents>;

/** Where `task.finished` goes for each task attempt the agents' queues settle (the node's bus). */
export type TaskEventSink = EventSink<Pick<SystemEvents, 'task.finished'>>;

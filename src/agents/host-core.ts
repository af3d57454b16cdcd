/**
 * What an agent host shares with the processes it runs: the services, the node's identity, and the
 * agents' queue definitions. Internal to the agents layer.
 */
import { z } from 'zod';
import type { DurableDelivery } from '../messaging/index.js';
import type { AgentRegistry } from '../registry/index.js';
import type { Clock, Pid, Runtime } from '../runtime/index.js';
import type { DurableTimers } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import { emitTo } from '../telemetry/index.js';
import { defineQueue, type QueueClient, type QueueDefinition } from '../work/index.js';
import type { AgentDefinition } from './agent.js';
import type { BroadcastAnswer, BroadcastOptions } from './broadcast.js';
import type { AgentEventSink, AgentEvents, TaskEventSink } from './events.js';
import { agentQueueName } from './queue-name.js';
import type { StoredOutcome } from './rows.js';

/** Agent ids: they name the agent's queue and process, so they keep to a queue name's characters. */
export const agentIdSchema = z
  .string()
  .min(1)
  .max(150)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');

/**
 * The scheduler, as the host uses it: its durable timers hold the agents' schedules (`schedules.ts`)
 * and fire them on whichever node handles the topic.
 */
export interface AgentScheduler {
  readonly durable: DurableTimers;
}

export interface HostCore {
  readonly store: Store;
  readonly runtime: Runtime;
  readonly registry: AgentRegistry;
  readonly queues: QueueClient;
  readonly clock: Clock;
  readonly nodeId: string;
  readonly scheduler: AgentScheduler | undefined;
  /** Lease of a task an agent runs, ms. */
  readonly leaseMs: number;
  /** Attempts of a queued task (a crash, a lost lease, a failed settle) before it is dead-lettered. */
  readonly maxAttempts: number;
  /** How long an idle consumer waits before looking at the store without a wake-up, ms. */
  readonly pollIntervalMs: number;
  /** Durable messages: the answers to calls that went through the store. */
  readonly delivery: DurableDelivery;
  /** Calls an action on every healthy agent with a capability (`host.broadcast`). */
  broadcast(
    capability: string,
    action: string,
    input: unknown,
    options?: BroadcastOptions,
  ): Promise<BroadcastAnswer[]>;
  /** The registry `process` value of a process of this host: `<node>/<host instance>/<pid number>`. */
  processIdOf(pid: Pid): string;
  /** The definition of an agent's type, when this host knows it (to validate work sent to the agent). */
  definitionOf(agentId: string): AgentDefinition | undefined;
  /** Settles a dispatched task's outcome with the task distributor, when the host has one. */
  settle: ((payload: unknown, outcome: SettleOutcome) => Promise<void>) | undefined;
  /** Records an attempt of a dispatched task on its workflow's timeline, when the host has a distributor. */
  attempted: ((payload: unknown, attempt: TaskAttempt) => Promise<void>) | undefined;
  emit<K extends keyof AgentEvents>(name: K, payload: AgentEvents[K]): void;
  /** Where `task.finished` goes, if anywhere. */
  readonly taskEvents: TaskEventSink | undefined;
  /**
   * Has the host read the agent's row again and follow it (its process found a pause the host had not
   * heard of).
   */
  recheck(agentId: string): void;
  /** Keeps a background promise until it settles (shutdown waits for them); failures become events. */
  track(agentId: string | undefined, operation: string, work: Promise<unknown>): void;
}

/** How one attempt of a queued task ended. */
export interface TaskAttempt {
  readonly attempt: number;
  /** The attempt's error; absent when it succeeded. */
  readonly error?: unknown;
  /** True when the queue runs the task again. */
  readonly retried: boolean;
}

/** The outcome of a dispatched task, as the distributor is told: the outcome the agent checkpointed. */
export type SettleOutcome = StoredOutcome;

const definitions = new Map<string, QueueDefinition>();

/** The queue definition of an agent's own queue (no payload schema: actions validate their input). */
export function agentQueue(agentId: string, maxAttempts: number): QueueDefinition {
  const key = `${agentId}\u0000${maxAttempts}`;
  let def = definitions.get(key);
  if (def === undefined) {
    def = defineQueue({ name: agentQueueName(agentId), maxAttempts });
    // One per agent and attempt setting; agents come and go, so keep the cache small.
    if (definitions.size > 10_000) definitions.clear();
    definitions.set(key, def);
  }
  return def;
}

export function emitter(sink: AgentEventSink | undefined): HostCore['emit'] {
  return (name, payload) => emitTo(sink, name, payload);
}

/** The agent host's options and the options of `start`, with their defaults and validation. */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { DurableDelivery } from '../messaging/index.js';
import type { AgentRegistry } from '../registry/index.js';
import type { Clock, RestartType, Runtime } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import type { QueueClient } from '../work/index.js';
import type { AgentDefinition } from './agent.js';
import type { AgentEventSink, TaskEventSink } from './events.js';
import { agentIdSchema, type AgentScheduler, type SettleOutcome, type TaskAttempt } from './host-core.js';

/**
 * The task distributor, as the host uses it: after an agent ran a task a workflow dispatched, the host
 * settles the task with its outcome (which journals the workflow's step). `settle` must be idempotent:
 * a task retried after a crash is settled again with the outcome that was recorded.
 */
export interface AgentTaskSettler {
  /** True when a task payload is a dispatched task this distributor settles. */
  isDispatched(payload: unknown): boolean;
  settle(payload: unknown, outcome: SettleOutcome): Promise<void>;
  /** Records one attempt of a dispatched task on its workflow's timeline (before it is settled). */
  attempted?(payload: unknown, attempt: TaskAttempt): Promise<void>;
}

export interface AgentHostOptions {
  readonly store: Store;
  readonly runtime: Runtime;
  readonly registry: AgentRegistry;
  /** The task-queue client that enqueues agents' work (and reads their queues). */
  readonly queues: QueueClient;
  /** The node this host runs on: recorded in the registry and on every agent's row. 1–200 chars. */
  readonly nodeId: string;
  /** Time for durations, leases and timestamps. Default: the runtime's clock. */
  readonly clock?: Clock;
  /**
   * Agent types this host can run without being handed the definition: agents recorded as running on
   * this node are resumed when the host is created, and work sent to them is validated. Default none.
   */
  readonly definitions?: readonly AgentDefinition[];
  /** The scheduler that runs agents' schedules (`every`). Without it, schedules are not run. */
  readonly scheduler?: AgentScheduler;
  /** The task distributor that settles dispatched tasks. Without it, dispatched tasks are not settled. */
  readonly distributor?: AgentTaskSettler;
  /** Where the host's events go. Default none. */
  readonly events?: AgentEventSink;
  /** Where `task.finished` goes for every task attempt its agents' queues settle. Default none. */
  readonly taskEvents?: TaskEventSink;
  /** The agents' dynamic supervisor: restart intensity and a limit on agents. */
  readonly supervisor?: {
    /** Restarts allowed within `periodMs` before the supervisor gives up. Default 3. */
    readonly maxRestarts?: number;
    /** The intensity's window, ms. Default 5000. */
    readonly periodMs?: number;
    /** Agents this host runs at most. Default unlimited. */
    readonly maxChildren?: number;
  };
  /** Lease of the task an agent runs, ms; renewed while it runs. Default 30,000. */
  readonly leaseMs?: number;
  /** Attempts of a queued task (a crash, a lost lease, a failed settle count) before it is dead. Default 5. */
  readonly maxAttempts?: number;
  /** Resume the agents recorded as running on this node when the host is created. Default true. */
  readonly resume?: boolean;
  /**
   * How long the host's idle consumers — each agent's queue, the answers to its calls, and the watch on
   * its agents' pause — wait before looking at the store on their own, in ms: a safety net for wake-ups
   * that cannot arrive (SQLite files shared by several processes, a dropped LISTEN connection). Work,
   * answers and pauses sent from any node wake them at once where the store notifies across processes.
   * Default 30,000 where it does (PostgreSQL), else 1,000.
   */
  readonly pollIntervalMs?: number;
  /**
   * Durable delivery, for the answers to calls to agents on other nodes. Default: one the host creates
   * on its store and clock.
   */
  readonly delivery?: DurableDelivery;
}

export interface StartAgentOptions<S = unknown> {
  /** The agent's id, 1–150 characters of letters, digits and `_ . : -`. Default `<type>-<random>`. */
  readonly id?: string;
  /** The state of a new agent. Default the definition's `initialState`. An existing agent keeps its state. */
  readonly initialState?: S;
  /** Which exits of its process are restarted. Default `permanent` (an existing agent keeps its own). */
  readonly restart?: RestartType;
  /** Most tasks waiting in its queue; `queue_full` past it. Default 1000 (an existing agent keeps its own). */
  readonly queueLimit?: number;
  /** Consecutive failed actions after which it pauses itself. Default 5 (an existing agent keeps its own). */
  readonly maxConsecutiveErrors?: number;
  /** How long its process may take to stop, ms. Default 5000. */
  readonly shutdownMs?: number;
}

const hostSchema = z.object({
  nodeId: z.string().min(1).max(200),
  leaseMs: z.number().int().min(10).default(30_000),
  maxAttempts: z.number().int().min(1).max(1000).default(5),
  resume: z.boolean().default(true),
  pollIntervalMs: z.number().int().min(1).optional(),
  supervisor: z
    .object({
      maxRestarts: z.number().int().min(0).optional(),
      periodMs: z.number().int().min(1).optional(),
      maxChildren: z.number().int().min(1).optional(),
    })
    .strict()
    .default({}),
});

export type ResolvedHostOptions = z.output<typeof hostSchema>;

export function resolveHostOptions(options: AgentHostOptions): ResolvedHostOptions {
  const parsed = hostSchema.safeParse({
    nodeId: options.nodeId,
    leaseMs: options.leaseMs,
    maxAttempts: options.maxAttempts,
    resume: options.resume,
    pollIntervalMs: options.pollIntervalMs,
    supervisor: options.supervisor,
  });
  if (!parsed.success)
    throw new ValidationError(`invalid agent host options: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

const startSchema = z.object({
  id: agentIdSchema.optional(),
  initialState: z.unknown().optional(),
  restart: z.enum(['permanent', 'transient', 'temporary']).optional(),
  queueLimit: z.number().int().min(1).max(10_000_000).optional(),
  maxConsecutiveErrors: z.number().int().min(1).max(1_000_000).optional(),
  shutdownMs: z.number().int().min(0).default(5000),
});

export type ResolvedStartOptions = z.output<typeof startSchema>;

export function resolveStartOptions(options: StartAgentOptions<unknown>): ResolvedStartOptions {
  const parsed = startSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid agent start options: ${describeIssues(parsed.error.issues)}`, {
      issues: parsed.error.issues,
    });
  return parsed.data;
}

/** Validates an agent id given to a host method. */
export function parseAgentId(id: unknown): string {
  const parsed = agentIdSchema.safeParse(id);
  if (!parsed.success)
    throw new ValidationError(`invalid agent id: ${describeIssues(parsed.error.issues)}`, { field: 'id' });
  return parsed.data;
}

/** Validates a short text option (a reason). */
export function parseText(value: unknown, field: string): string {
  const parsed = z.string().min(1).max(200).safeParse(value);
  if (!parsed.success)
    throw new ValidationError(`invalid ${field}: ${describeIssues(parsed.error.issues)}`, { field });
  return parsed.data;
}

/** Validates a call's `timeoutMs` (ms, at least 1; default 5000, the runtime's default call timeout). */
export function parseTimeout(value: unknown): number {
  const parsed = z.number().int().min(1).max(2_147_483_647).default(5000).safeParse(value);
  if (!parsed.success)
    throw new ValidationError(`invalid timeoutMs: ${describeIssues(parsed.error.issues)}`, {
      field: 'timeoutMs',
    });
  return parsed.data;
}

/** Validates a priority (an integer within the queue's range; default 0). */
export function parsePriority(value: unknown): number {
  const parsed = z.number().int().min(-1_000_000).max(1_000_000).default(0).safeParse(value);
  if (!parsed.success)
    throw new ValidationError(`invalid priority: ${describeIssues(parsed.error.issues)}`, {
      field: 'priority',
    });
  return parsed.data;
}

/**
 * Signals sent to an agent: CloudEvents-shaped messages (`specversion`, `id`, `type`, `source`, `time`,
 * `data`) that the agent's definition routes, by type or wildcard, to one of its actions. A signal is a
 * task on the agent's own durable queue — committed before the sender hears of it, delivered at least
 * once, acknowledged when the handling action's checkpoint commits, retried after a crash, and kept
 * with the queue's dead tasks when it cannot be handled — wherever the agent runs.
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { parsePattern, signalSchema, type Pattern, type Signal } from '../messaging/index.js';
import type { AgentDefinition } from './agent.js';
import { enqueueForAgent } from './enqueue.js';
import { unknownSignal } from './errors.js';
import type { HostCore } from './host-core.js';
import { parsePriority } from './host-options.js';

/** What a sender gives: `type` at least; the host fills `id`, `source` and `time`. */
export interface AgentSignalInput<D = unknown> {
  /** Dot-separated segments of `[A-Za-z0-9_-]`, e.g. `order.created`. */
  readonly type: string;
  /** The payload; JSON. */
  readonly data?: D;
  /** What it is about, within the source. */
  readonly subject?: string;
  /** Who sent it. Default `garrison://<node>/host`. */
  readonly source?: string;
  /**
   * Unique per source. Default a random UUID. A second signal with the same `source` and `id` to the
   * same agent is a duplicate: it is not queued again, and its receipt names the first one's task.
   */
  readonly id?: string;
  /** RFC 3339. Default the host clock's now. */
  readonly time?: string;
}

export interface AgentSignalOptions {
  /** Higher is handled first among the agent's queued work. An integer; default 0. */
  readonly priority?: number;
}

/** The answer to `host.signal`, once the signal is committed to the agent's queue. */
export interface SignalReceipt {
  /** The signal as stored (and as the handling action receives it). */
  readonly signal: Signal;
  /**
   * The task that carries it on the agent's queue. It is kept after it completes (the signal's key
   * deduplicates), so `queues.getTask(taskId)` says whether it was handled: `completed` once the
   * handling action's checkpoint committed.
   */
  readonly taskId: number;
  /** True when this signal (same source and id) had already been sent; nothing new was queued. */
  readonly duplicate: boolean;
}

/** The payload of a signal's task on the agent's queue. */
export interface SignalTaskPayload {
  readonly signal: Signal;
}

/**
 * The input schema of an action that handles signals: the CloudEvents envelope, with `data` checked by
 * `data` (default: any JSON).
 *
 *   defineAction({ name: 'on_order', input: signalOf(z.object({ orderId: z.string() })), … })
 */
export function signalOf<D extends z.ZodType = z.ZodType<unknown>>(data?: D) {
  return signalSchema.extend({ data: (data ?? z.json().optional()) as D });
}

export interface SignalRoute {
  readonly pattern: Pattern;
  readonly action: string;
}

/**
 * Validates a definition's `signals` (pattern → action): each pattern an exact type, `prefix.*` or `*`,
 * each action one of the agent's.
 */
export function parseSignalRoutes(
  agentType: string,
  routes: Readonly<Record<string, string>> | undefined,
  actions: ReadonlySet<string>,
): SignalRoute[] {
  if (routes === undefined) return [];
  if (typeof routes !== 'object' || routes === null)
    throw new ValidationError(`agent type ${agentType}: signals must map patterns to action names`);
  return Object.entries(routes).map(([text, action]) => {
    let pattern: Pattern;
    try {
      pattern = parsePattern(text);
    } catch (error) {
      throw new ValidationError(
        `agent type ${agentType}: ${error instanceof Error ? error.message : String(error)}`,
        { field: 'signals' },
      );
    }
    if (!actions.has(action))
      throw new ValidationError(
        `agent type ${agentType}: signal pattern "${text}" names an unknown action ${action}`,
        { field: 'signals' },
      );
    return { pattern, action };
  });
}

/** The action for a signal type: an exact pattern first, then the longest `prefix.*`, then `*`. */
export function routeSignal(routes: readonly SignalRoute[], type: string): string | undefined {
  let best: { action: string; rank: number } | undefined;
  for (const { pattern, action } of routes) {
    let rank = -1;
    if (pattern.kind === 'exact' && pattern.type === type) rank = Number.MAX_SAFE_INTEGER;
    else if (pattern.kind === 'prefix' && type.startsWith(`${pattern.prefix}.`))
      rank = pattern.prefix.length + 1;
    else if (pattern.kind === 'all') rank = 0;
    if (rank >= 0 && (best === undefined || rank > best.rank)) best = { action, rank };
  }
  return best?.action;
}

/** Completes and validates a signal; `invalid_input` names each bad field. */
export function buildSignal(input: AgentSignalInput, defaults: { source: string; now: number }): Signal {
  if (typeof input !== 'object' || input === null)
    throw new ValidationError('invalid signal: an object with a type is required');
  const candidate: Record<string, unknown> = {
    specversion: '1.0',
    id: input.id ?? randomUUID(),
    type: input.type,
    source: input.source ?? defaults.source,
    time: input.time ?? new Date(defaults.now).toISOString(),
  };
  if (input.subject !== undefined) candidate.subject = input.subject;
  if (input.data !== undefined) candidate.data = input.data;
  const parsed = signalSchema.safeParse(candidate);
  if (!parsed.success)
    throw new ValidationError(`invalid signal: ${describeIssues(parsed.error.issues)}`, {
      fields: parsed.error.issues.map((i) => i.path.join('.')),
    });
  return parsed.data;
}

/** The queue idempotency key of a signal: one task per (source, id) and agent. */
export function signalKey(signal: Signal): string {
  const digest = createHash('sha256').update(`${signal.source}\u0000${signal.id}`).digest('hex');
  return `signal:${digest.slice(0, 48)}`;
}

const payloadSchema = z.looseObject({ signal: signalSchema });

/** The signal a task carries, or undefined when the task is not a signal. */
export function signalOfTask(payload: unknown): Signal | undefined {
  if (typeof payload !== 'object' || payload === null || !('signal' in payload)) return undefined;
  const parsed = payloadSchema.safeParse(payload);
  return parsed.success ? parsed.data.signal : undefined;
}

/**
 * Sends a signal to `agentId` (whose definition `def` is known to the sender, or not): validated, routed
 * when the type is known here, and committed to the agent's queue — also while it is paused: a signal
 * waits there until the agent resumes.
 */
export async function sendSignal(
  core: HostCore,
  agentId: string,
  def: AgentDefinition | undefined,
  input: AgentSignalInput,
  options: AgentSignalOptions,
): Promise<SignalReceipt> {
  const priority = parsePriority(options.priority);
  const signal = buildSignal(input, { source: `garrison://${core.nodeId}/host`, now: core.clock.now() });
  if (def !== undefined && def.signalAction(signal.type) === undefined)
    throw unknownSignal(agentId, signal.type, def.signalPatterns);
  const task = await core.store.transaction((tx) =>
    enqueueForAgent(tx, core, agentId, { signal }, { priority, idempotencyKey: signalKey(signal) }, true),
  );
  return { signal, taskId: task.id, duplicate: !task.created };
}

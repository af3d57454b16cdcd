/**
 * Directives: what an action asks for besides its output. They are applied in the same store
 * transaction as the agent's state checkpoint — all of them or none — so an action that sets state and
 * enqueues follow-up work can never leave one without the other.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';

/** Replace the agent's state (validated with the agent's state schema before anything is written). */
export interface SetStateDirective {
  readonly kind: 'set_state';
  readonly state: unknown;
}

/** Options of an enqueued task. */
export interface DirectiveEnqueueOptions {
  /** Higher runs first. An integer; default 0. */
  readonly priority?: number;
  /** Do not run before this many ms from now. Default 0. */
  readonly delayMs?: number;
  /** A second enqueue with the same key returns the first task (see the task queues). 1–200 chars. */
  readonly idempotencyKey?: string;
}

/**
 * Run an action of an agent later, through that agent's durable queue: this agent's own (default) or
 * the agent `agentId`'s. The target's queue limit and pause are checked in the same transaction.
 */
export interface EnqueueDirective extends DirectiveEnqueueOptions {
  readonly kind: 'enqueue';
  readonly action: string;
  readonly input: unknown;
  /** The agent whose queue gets the task. Default: the agent running the action. */
  readonly agentId?: string;
}

/** Put a task on any task queue of the work layer, by queue name. */
export interface EnqueueTaskDirective extends DirectiveEnqueueOptions {
  readonly kind: 'enqueue_task';
  readonly queue: string;
  readonly payload: unknown;
}

/** Emit an `agent.signal` event (CloudEvents-shaped) once the checkpoint has committed. */
export interface EmitDirective {
  readonly kind: 'emit';
  /** The signal's type, e.g. `monitor.alert`. */
  readonly type: string;
  readonly data: unknown;
}

export type Directive = SetStateDirective | EnqueueDirective | EnqueueTaskDirective | EmitDirective;

/** Builders of directives, for `withDirectives(output, …)`. */
export const directive = {
  setState(state: unknown): SetStateDirective {
    return { kind: 'set_state', state };
  },
  enqueue(
    action: string,
    input: unknown,
    options: DirectiveEnqueueOptions & { readonly agentId?: string } = {},
  ): EnqueueDirective {
    return { kind: 'enqueue', action, input, ...options };
  },
  enqueueTask(queue: string, payload: unknown, options: DirectiveEnqueueOptions = {}): EnqueueTaskDirective {
    return { kind: 'enqueue_task', queue, payload, ...options };
  },
  emit(type: string, data: unknown): EmitDirective {
    return { kind: 'emit', type, data };
  },
} as const;

const enqueueOptions = {
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  delayMs: z.number().int().nonnegative().optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
};

const directiveSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('set_state'), state: z.unknown() }).strict(),
  z
    .object({
      kind: z.literal('enqueue'),
      action: z.string().min(1).max(200),
      input: z.unknown(),
      agentId: z.string().min(1).max(150).optional(),
      ...enqueueOptions,
    })
    .strict(),
  z
    .object({
      kind: z.literal('enqueue_task'),
      queue: z.string().min(1).max(200),
      payload: z.unknown(),
      ...enqueueOptions,
    })
    .strict(),
  z.object({ kind: z.literal('emit'), type: z.string().min(1).max(200), data: z.unknown() }).strict(),
]);

/** Checks the directives an action returned; throws `invalid_input` naming the directive and field. */
export function parseDirectives(action: string, directives: readonly unknown[]): Directive[] {
  const parsed = z.array(directiveSchema).safeParse(directives);
  if (!parsed.success) {
    throw new ValidationError(
      `action "${action}" returned invalid directives: ${describeIssues(parsed.error.issues)}`,
      { action, issues: parsed.error.issues },
      parsed.error,
    );
  }
  return parsed.data;
}

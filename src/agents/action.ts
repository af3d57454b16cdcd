/**
 * `defineAction`: a named unit of an agent's work with a validated input and a validated output. Input
 * is checked before `run` is called (bad input runs nothing and writes nothing); an output the schema
 * rejects is an `invalid_output` error, and the action's state change and directives are dropped.
 */
import { z } from 'zod';
import { describeIssues, markedInstance, ValidationError } from '../errors.js';
import type { AgentRegistry } from '../registry/index.js';
import type { BroadcastAnswer, BroadcastOptions } from './broadcast.js';
import type { Directive } from './directives.js';
import { AgentError, AgentErrorCode } from './errors.js';

/** The queued task an action runs for, when it runs from the agent's queue. */
export interface ActionTaskInfo {
  readonly id: number;
  /** This attempt's number, from 1: above 1 the task was interrupted before (a crash, a lost lease). */
  readonly attempt: number;
  /** Attempts it may have: a retryable failure before the last one is retried by the queue. */
  readonly maxAttempts: number;
  readonly priority: number;
}

/** What `run` gets besides its input. */
export interface ActionContext<S> {
  readonly agentId: string;
  readonly agentType: string;
  /** The agent's state as last checkpointed. Treat it as read-only: change it with `directive.setState`. */
  readonly state: Readonly<S>;
  /** The host's clock, UNIX epoch ms, when the action started. */
  readonly now: number;
  /** Aborted when the run is abandoned (the task was cancelled or its lease lost, the host stops). */
  readonly signal: AbortSignal;
  /** The task this run is for, when it came from the agent's queue; undefined for a direct call. */
  readonly task: ActionTaskInfo | undefined;
  /**
   * The dedupe key of effects outside the store (they are at least once): for a step a workflow
   * dispatched, the step's `<workflow id>:<step index>` (the same on every attempt, re-route and restart);
   * for another queued task `task:<id>` (the same on every retry); unique per direct call.
   */
  readonly idempotencyKey: string;
  /** The registry, to read other agents (a monitor's metrics, a coordinator's choices). */
  readonly registry: AgentRegistry;
  /**
   * Calls `action` on every other healthy agent with `capability` and gathers their answers (this agent
   * is left out: it is busy running this action). Set by the agent host; undefined where an action runs
   * outside one. See docs/agents.md, "Broadcast by capability".
   */
  readonly broadcast?: (
    capability: string,
    action: string,
    input: unknown,
    options?: BroadcastOptions,
  ) => Promise<BroadcastAnswer[]>;
}

const ACTION_RESULT = Symbol.for('garrison.action_result');

/** An output with directives, as returned by `withDirectives` (recognized from another copy of the package too). */
export class ActionResult<O = unknown> {
  static [Symbol.hasInstance](value: unknown): boolean {
    return markedInstance(ActionResult, this, ACTION_RESULT, value);
  }

  constructor(
    readonly output: O,
    readonly directives: readonly Directive[],
  ) {
    Object.defineProperty(this, ACTION_RESULT, { value: true });
  }
}

/** What `run` may return: the output alone, or the output with directives. */
export type ActionReturn<O> = O | ActionResult<O>;

/** Returns `output` together with directives applied atomically with the state checkpoint. */
export function withDirectives<O>(output: O, ...directives: Directive[]): ActionResult<O> {
  return new ActionResult(output, directives);
}

export interface ActionSpec<IS extends z.ZodType, OS extends z.ZodType, S> {
  /** 1–200 characters of letters, digits and `_ . : -`. Unique within an agent. */
  readonly name: string;
  /** One line for listings. Default none. */
  readonly description?: string;
  /** Validates (and may transform) the input before `run`. */
  readonly input: IS;
  /** Validates (and may transform) what `run` returns. */
  readonly output: OS;
  /**
   * True for an action that only reads: it writes no checkpoint (no counters, no state change) and may
   * not return directives. Default false.
   */
  readonly readOnly?: boolean;
  /**
   * The work. Throwing fails the action (`action_failed`, counted, the state unchanged). A queued task
   * is retried after a plain `Error` or a retryable Garrison error while attempts remain; never after a
   * `PermanentError` or another non-retryable Garrison error (see docs/agents.md).
   */
  run(
    ctx: ActionContext<S>,
    input: z.output<IS>,
  ): ActionReturn<z.input<OS>> | Promise<ActionReturn<z.input<OS>>>;
}

/**
 * A defined action. `S` is the state type its `run` expects; `N` its name (a literal when inferred);
 * `In` the input it accepts before parsing (fields with defaults optional).
 */
export interface ActionDefinition<I = unknown, O = unknown, S = unknown, N extends string = string, In = I> {
  readonly name: N;
  readonly description: string | undefined;
  readonly readOnly: boolean;
  readonly inputSchema: z.ZodType<I, In>;
  readonly outputSchema: z.ZodType<O>;
  /** Validates an input; throws `invalid_input` naming the action and the fields. */
  parseInput(input: unknown): I;
  /** Validates an output; throws `invalid_output` naming the action and the fields. */
  parseOutput(output: unknown): O;
  // Method syntax on purpose: actions with different inputs sit in one agent's list.
  run(ctx: ActionContext<S>, input: I): unknown;
}

export const nameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');

const specSchema = z.object({
  name: nameSchema,
  description: z.string().max(1000).optional(),
  input: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema'),
  output: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema'),
  readOnly: z.boolean().optional(),
  run: z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'a function'),
});

/** The dotted paths of the fields zod complained about, e.g. `['items.2.price']`. */
function fieldsOf(issues: ReadonlyArray<{ path: PropertyKey[] }>): string[] {
  return [...new Set(issues.map((i) => i.path.map(String).join('.')).filter((p) => p !== ''))];
}

/** Declares an action. Annotate `ctx` (`ctx: ActionContext<MyState>`) to type the state it reads. */
export function defineAction<
  IS extends z.ZodType,
  OS extends z.ZodType,
  S = unknown,
  const N extends string = string,
>(
  spec: ActionSpec<IS, OS, S> & { readonly name: N },
): ActionDefinition<z.output<IS>, z.output<OS>, S, N, z.input<IS>> {
  const checked = specSchema.safeParse(spec);
  if (!checked.success)
    throw new ValidationError(`invalid action definition: ${describeIssues(checked.error.issues)}`);
  const { name } = spec;
  return {
    name,
    description: spec.description,
    readOnly: spec.readOnly ?? false,
    inputSchema: spec.input as z.ZodType<z.output<IS>, z.input<IS>>,
    outputSchema: spec.output as z.ZodType<z.output<OS>>,
    parseInput(input) {
      const parsed = spec.input.safeParse(input);
      if (parsed.success) return parsed.data;
      const fields = fieldsOf(parsed.error.issues);
      throw new ValidationError(
        `invalid input for action "${name}": ${describeIssues(parsed.error.issues)}`,
        { action: name, fields, issues: parsed.error.issues },
        parsed.error,
      );
    },
    parseOutput(output) {
      const parsed = spec.output.safeParse(output);
      if (parsed.success) return parsed.data;
      const fields = fieldsOf(parsed.error.issues);
      throw new AgentError(
        AgentErrorCode.invalidOutput,
        `action "${name}" returned an invalid output: ${describeIssues(parsed.error.issues)}`,
        { cause: parsed.error, details: { action: name, fields, issues: parsed.error.issues } },
      );
    },
    run(ctx, input) {
      return spec.run(ctx, input);
    },
  };
}

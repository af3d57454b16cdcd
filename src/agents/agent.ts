/**
 * `defineAgent`: an agent type — its capabilities, a zod schema for its state, the state it starts
 * with, its actions, and the actions it runs on a schedule. A definition is plain data; an agent host
 * runs agents of it.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { nameSchema, type ActionDefinition } from './action.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { parseSignalRoutes, routeSignal, type SignalRoute } from './signals.js';

/**
 * An action the agent runs by itself, every `everyMs` or on a `cron` pattern (exactly one), while the
 * agent runs. Each schedule is a durable timer of the agent (docs/agents.md, "Schedules"): listed,
 * changed, paused, run now or removed at run time, and kept across restarts as changed.
 */
export interface AgentSchedule {
  /** Names it among the agent's schedules (1–100 of `a-z A-Z 0-9 _ . -`). Default the action's name. */
  readonly name?: string;
  /** The interval, in ms (at least 1). */
  readonly everyMs?: number;
  /** A cron pattern (5 or 6 fields), instead of `everyMs`. */
  readonly cron?: string;
  /** The action to run (one of the agent's). */
  readonly action: string;
  /** Its input. Default `{}`. */
  readonly input?: unknown;
}

/** A schedule of a definition, with its defaults applied. */
export interface DefinedSchedule {
  readonly name: string;
  readonly everyMs: number | undefined;
  readonly cron: string | undefined;
  readonly action: string;
  readonly input: unknown;
}

/** A schedule's name: also part of its timer's id and of its API path. */
export const scheduleNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits and _ . - only');

/** The actions of an agent spec, as given (their names and types kept). */
export type AgentActions<S> = ReadonlyArray<ActionDefinition<unknown, unknown, S>>;

export interface AgentSpec<
  SS extends z.ZodType,
  A extends AgentActions<z.output<SS>> = AgentActions<z.output<SS>>,
> {
  /** The agent type, 1–200 characters of letters, digits and `_ . : -`; recorded with every agent. */
  readonly type: string;
  /** What agents of this type can do: registered in the registry, where work is routed by them. */
  readonly capabilities: readonly string[];
  /** Validates the state on every checkpoint and on every load. */
  readonly state: SS;
  /** The state of a new agent (validated with `state`). A start may give another. */
  readonly initialState: z.input<SS>;
  /** The actions, names unique. */
  readonly actions: A;
  /** Actions run periodically while the agent runs. Default none. */
  readonly schedules?: readonly AgentSchedule[];
  /**
   * The signals the agent takes (`host.signal`), by pattern — an exact type (`order.created`), a prefix
   * wildcard (`order.*`) or `*` — each to the action that handles it; the action's input is the signal
   * (see `signalOf`). An exact pattern wins over a wildcard, a longer prefix over a shorter one. Default
   * none: signals are refused with `unknown_signal`.
   */
  readonly signals?: Readonly<Record<string, string>>;
  /**
   * What each agent of this type offers, by resource name (`{ memory_mb: 4096, gpu: 1 }`): reported in
   * the registry, where steps dispatched with `requires` are given only what is free (docs/coordination.md).
   * Default none.
   */
  readonly resources?: Readonly<Record<string, number>>;
}

/**
 * One action of an agent type, with the type's first capability: what `ctx.dispatch` takes to hand a
 * workflow step to an agent of that type. Input and output types come from the action's schemas.
 */
export interface AgentActionRef<I, O> {
  readonly name: string;
  readonly capability: string;
  /** The action's input schema; `I` is what it accepts (fields with defaults optional). */
  readonly inputSchema: z.ZodType<unknown, I>;
  parseInput(input: unknown): unknown;
  parseOutput(output: unknown): O;
}

type ActionInput<T> = T extends { inputSchema: z.ZodType<unknown, infer I> } ? I : never;
type ActionOutput<T> = T extends { parseOutput(output: unknown): infer O } ? O : never;

export interface AgentDefinition<S = unknown, A extends AgentActions<S> = AgentActions<S>> {
  readonly type: string;
  readonly capabilities: readonly string[];
  /** What each agent of the type offers, by resource name. */
  readonly resources: Readonly<Record<string, number>>;
  readonly stateSchema: z.ZodType<S>;
  readonly initialState: S;
  readonly actions: ReadonlyMap<string, ActionDefinition<unknown, unknown, S>>;
  readonly schedules: readonly DefinedSchedule[];
  /** The signal patterns it takes, as given. */
  readonly signalPatterns: readonly string[];
  /** The action that handles a signal of `type`, if any. */
  signalAction(type: string): string | undefined;
  /** Validates a state; throws `invalid_state` saying where the state came from and which fields fail. */
  parseState(value: unknown, what: string): S;
  /**
   * The action named `name`, routed by this type's first capability, for `ctx.dispatch`. A name the type
   * does not have does not compile (and throws `unknown_action` when the types were bypassed).
   */
  action<N extends A[number]['name']>(
    name: N,
  ): AgentActionRef<
    ActionInput<Extract<A[number], { name: N }>>,
    ActionOutput<Extract<A[number], { name: N }>>
  >;
}

const specSchema = z.object({
  type: nameSchema,
  capabilities: z
    .array(z.string().min(1).max(255))
    .min(1)
    .refine((c) => new Set(c).size === c.length, 'capabilities must be distinct'),
  state: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema'),
  actions: z.array(z.object({ name: nameSchema }).passthrough()).min(1),
  schedules: z
    .array(
      z
        .object({
          name: scheduleNameSchema.optional(),
          everyMs: z.number().int().min(1).optional(),
          cron: z.string().min(1).max(200).optional(),
          action: nameSchema,
          input: z.unknown().optional(),
        })
        .strict()
        .refine((s) => (s.everyMs === undefined) !== (s.cron === undefined), 'give everyMs or cron (one)'),
    )
    .optional(),
  signals: z.record(z.string(), nameSchema).optional(),
  resources: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a resource name is [A-Za-z_][A-Za-z0-9_-]*'),
      z.number().min(0).finite(),
    )
    .optional(),
});

export function defineAgent<SS extends z.ZodType, const A extends AgentActions<z.output<SS>>>(
  spec: AgentSpec<SS, A>,
): AgentDefinition<z.output<SS>, A> {
  type S = z.output<SS>;
  const checked = specSchema.safeParse(spec);
  if (!checked.success)
    throw new ValidationError(`invalid agent definition: ${describeIssues(checked.error.issues)}`);
  const actions = new Map<string, ActionDefinition<unknown, unknown, S>>();
  for (const action of spec.actions as ReadonlyArray<ActionDefinition<unknown, unknown, S>>) {
    if (actions.has(action.name))
      throw new ValidationError(`agent type ${spec.type}: two actions are named ${action.name}`);
    actions.set(action.name, action);
  }
  const schedules: DefinedSchedule[] = (spec.schedules ?? []).map((s) => ({
    name: s.name ?? s.action,
    everyMs: s.everyMs,
    cron: s.cron,
    action: s.action,
    input: s.input ?? {},
  }));
  const names = new Set<string>();
  for (const s of schedules) {
    if (!actions.has(s.action))
      throw new ValidationError(`agent type ${spec.type}: the schedule names an unknown action ${s.action}`);
    if (names.has(s.name))
      throw new ValidationError(
        `agent type ${spec.type}: two schedules are named ${s.name}; give each a distinct name`,
      );
    names.add(s.name);
  }
  const routes: SignalRoute[] = parseSignalRoutes(spec.type, spec.signals, new Set(actions.keys()));
  const stateSchema = spec.state as z.ZodType<S>;
  const parseState = (value: unknown, what: string): S => {
    const parsed = stateSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new AgentError(
      AgentErrorCode.invalidState,
      `${what} does not match the state schema of agent type ${spec.type}: ${describeIssues(parsed.error.issues)}`,
      { cause: parsed.error, details: { type: spec.type, issues: parsed.error.issues } },
    );
  };
  return {
    type: spec.type,
    capabilities: [...spec.capabilities],
    resources: Object.freeze({ ...checked.data.resources }),
    stateSchema,
    initialState: parseState(spec.initialState, 'the initial state'),
    actions,
    schedules,
    signalPatterns: routes.map((r) => r.pattern.text),
    signalAction: (type) => routeSignal(routes, type),
    parseState,
    action(name) {
      const found = actions.get(name);
      if (found === undefined)
        throw new AgentError(
          AgentErrorCode.unknownAction,
          `agent type ${spec.type} has no action "${name}" (it has: ${[...actions.keys()].join(', ')})`,
          { details: { type: spec.type, action: name, known: [...actions.keys()] } },
        );
      const capability = spec.capabilities[0] as string;
      return {
        name: found.name,
        capability,
        inputSchema: found.inputSchema,
        parseInput: (input: unknown) => found.parseInput(input),
        parseOutput: (output: unknown) => found.parseOutput(output),
      } as never;
    },
  };
}

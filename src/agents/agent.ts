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

/** An action the agent runs by itself, every `everyMs`, through the scheduler, while its process lives. */
export interface AgentSchedule {
  /** The interval, in ms (at least 1). */
  readonly everyMs: number;
  /** The action to run (one of the agent's). */
  readonly action: string;
  /** Its input. Default `{}`. */
  readonly input?: unknown;
}

export interface AgentSpec<SS extends z.ZodType> {
  /** The agent type, 1–200 characters of letters, digits and `_ . : -`; recorded with every agent. */
  readonly type: string;
  /** What agents of this type can do: registered in the registry, where work is routed by them. */
  readonly capabilities: readonly string[];
  /** Validates the state on every checkpoint and on every load. */
  readonly state: SS;
  /** The state of a new agent (validated with `state`). A start may give another. */
  readonly initialState: z.input<SS>;
  /** The actions, names unique. */
  readonly actions: ReadonlyArray<ActionDefinition<unknown, unknown, z.output<SS>>>;
  /** Actions run periodically while the agent runs. Default none. */
  readonly schedules?: readonly AgentSchedule[];
  /**
   * The signals the agent takes (`host.signal`), by pattern — an exact type (`order.created`), a prefix
   * wildcard (`order.*`) or `*` — each to the action that handles it; the action's input is the signal
   * (see `signalOf`). An exact pattern wins over a wildcard, a longer prefix over a shorter one. Default
   * none: signals are refused with `unknown_signal`.
   */
  readonly signals?: Readonly<Record<string, string>>;
}

export interface AgentDefinition<S = unknown> {
  readonly type: string;
  readonly capabilities: readonly string[];
  readonly stateSchema: z.ZodType<S>;
  readonly initialState: S;
  readonly actions: ReadonlyMap<string, ActionDefinition<unknown, unknown, S>>;
  readonly schedules: readonly AgentSchedule[];
  /** The signal patterns it takes, as given. */
  readonly signalPatterns: readonly string[];
  /** The action that handles a signal of `type`, if any. */
  signalAction(type: string): string | undefined;
  /** Validates a state; throws `invalid_state` saying where the state came from and which fields fail. */
  parseState(value: unknown, what: string): S;
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
        .object({ everyMs: z.number().int().min(1), action: nameSchema, input: z.unknown().optional() })
        .strict(),
    )
    .optional(),
  signals: z.record(z.string(), nameSchema).optional(),
});

export function defineAgent<SS extends z.ZodType>(spec: AgentSpec<SS>): AgentDefinition<z.output<SS>> {
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
  const schedules = spec.schedules ?? [];
  for (const s of schedules) {
    if (!actions.has(s.action))
      throw new ValidationError(`agent type ${spec.type}: the schedule names an unknown action ${s.action}`);
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
    stateSchema,
    initialState: parseState(spec.initialState, 'the initial state'),
    actions,
    schedules: schedules.map((s) => ({ ...s, input: s.input ?? {} })),
    signalPatterns: routes.map((r) => r.pattern.text),
    signalAction: (type) => routeSignal(routes, type),
    parseState,
  };
}

/**
 * The agent registry's public types. The registry keeps every agent in the store; these are the shapes
 * that go in and come out.
 */

/** A JSON value as stored in an agent's metadata. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: an agent's metadata. */
export type JsonObject = { [key: string]: JsonValue };

/** How an agent reports itself. */
export const Health = {
  /** Working normally; eligible for work. */
  healthy: 'healthy',
  /** Working, but impaired (slow, retrying, near a limit); eligible only when nothing healthy is. */
  degraded: 'degraded',
  /** Not working; never given work. */
  unhealthy: 'unhealthy',
} as const;
export type Health = (typeof Health)[keyof typeof Health];

/** What a caller gives to register an agent. */
export interface AgentInput {
  /** A unique id, 1–255 characters. */
  readonly id: string;
  /** What the agent can do: a non-empty list of distinct names, each 1–255 characters. Indexed. */
  readonly capabilities: readonly string[];
  /** How the agent reports itself. Indexed. */
  readonly health: Health;
  /** The node the agent runs on, 1–255 characters. Indexed. */
  readonly node: string;
  /**
   * Named finite numbers, e.g. `{ memory_available: 512, cpu_available: 2, load: 0.3 }`. Names match
   * `[A-Za-z_][A-Za-z0-9_-]*` so that a query path `resources.<name>` can address each. May be empty.
   * Indexed by name and value.
   */
  readonly resources: Readonly<Record<string, number>>;
  /** The agent's kind, 1–255 characters. Default none (null). */
  readonly type?: string | null;
  /** Any JSON object. Default `{}`. */
  readonly metadata?: JsonObject;
  /**
   * The id of the process that owns this agent, so the runtime can remove the agent when that process
   * dies (`unregisterProcess`). Default none (null).
   */
  readonly process?: string | null;
}

/** An agent as the registry holds it. */
export interface Agent {
  readonly id: string;
  readonly type: string | null;
  readonly capabilities: readonly string[];
  readonly health: Health;
  readonly node: string;
  readonly process: string | null;
  readonly resources: Readonly<Record<string, number>>;
  readonly metadata: JsonObject;
  /** 1 when registered; one more on every update. */
  readonly version: number;
  /** When the agent was registered, UNIX epoch ms. */
  readonly registeredAt: number;
  /** When the agent last changed, UNIX epoch ms. */
  readonly updatedAt: number;
}

/**
 * A change to an agent: each given field replaces the agent's current value (`resources` and `metadata`
 * are replaced whole, not merged). `id` cannot change.
 */
export interface AgentPatch {
  readonly capabilities?: readonly string[];
  readonly health?: Health;
  readonly node?: string;
  readonly resources?: Readonly<Record<string, number>>;
  readonly type?: string | null;
  readonly metadata?: JsonObject;
  readonly process?: string | null;
}

/** A patch, or a function from the agent as it is now (read inside the same transaction) to a patch. */
export type AgentUpdate = AgentPatch | ((current: Agent) => AgentPatch);

/** A simple filter for `list` and `count`; every given field must match. */
export interface AgentFilter {
  /** Agents having this capability. */
  readonly capability?: string;
  readonly health?: Health;
  readonly node?: string;
  readonly type?: string;
  readonly process?: string;
}

/** One page of a listing. */
export interface PageOptions {
  /** Most agents answered. Default 100, at most 1000. */
  readonly limit?: number;
  /** Where to go on: the `nextCursor` of the page before. Omitted: the first page. */
  readonly cursor?: string;
}

/** A page of agents, by id. */
export interface AgentPage {
  readonly agents: Agent[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  readonly nextCursor: string | null;
}

/** The operators of the query language. See docs/registry.md for their exact meaning. */
export const QueryOp = {
  /** Equal; on a list (capabilities, a metadata array): the list contains the value. */
  eq: 'eq',
  /** Exactly `not eq`. */
  neq: 'neq',
  gt: 'gt',
  lt: 'lt',
  gte: 'gte',
  lte: 'lte',
  /** `eq` one of the given values. */
  in: 'in',
  /** Exactly `not in`. */
  not_in: 'not_in',
} as const;
export type QueryOp = (typeof QueryOp)[keyof typeof QueryOp];

/** A scalar a criterion compares with. */
export type QueryScalar = string | number | boolean | null;

/**
 * One condition of a query. `path` is a dotted path into the agent: a top-level field (`id`, `type`,
 * `health`, `node`, `process`, `capabilities`, `version`, `registeredAt`, `updatedAt`), a resource
 * (`resources.memory_available`) or a place in the metadata (`metadata.region.zone`).
 */
export interface Criterion {
  readonly path: string;
  readonly op: QueryOp;
  /** A scalar; for `in` and `not_in` a list of scalars. */
  readonly value: QueryScalar | readonly QueryScalar[];
}

/** Options of `unregister`. */
export interface UnregisterOptions {
  /**
   * Why the agent is removed; carried in the `unregistered` event. Default `'requested'`; the runtime
   * uses `'process_exited'` when the owning process dies.
   */
  readonly reason?: string;
}

/** A committed change, as `watch` listeners receive it. */
export type RegistryEvent =
  | { readonly type: 'registered'; readonly agent: Agent }
  | { readonly type: 'updated'; readonly agent: Agent; readonly previous: Agent }
  | { readonly type: 'unregistered'; readonly agent: Agent; readonly reason: string };

export type RegistryListener = (event: RegistryEvent) => void;

/** Agents per health value. */
export interface HealthSummary {
  readonly total: number;
  readonly healthy: number;
  readonly degraded: number;
  readonly unhealthy: number;
}

/** One resource across every agent that reports it. */
export interface ResourceSummary {
  /** Agents reporting the resource. */
  readonly agents: number;
  readonly total: number;
  readonly min: number;
  readonly max: number;
  readonly average: number;
}

/** Options of `leastLoaded`. */
export interface LeastLoadedOptions {
  /** How many agents to return at most. Default 1. */
  readonly limit?: number;
  /** The health values an agent may have to be chosen. Default `['healthy']`. */
  readonly health?: readonly Health[];
  /** The resource that measures load; lower is less loaded. Default `'load'`. */
  readonly resource?: string;
}

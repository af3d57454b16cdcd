/**
 * The agent registry: agents live in the store, never only in memory. Single changes go through the
 * store's group commit; `transaction` runs many in one store transaction — all or nothing.
 */
import { systemClock, type Clock } from '../runtime/clock.js';
import type { Store, TransactionOptions, Tx } from '../store/index.js';
import { countAgents, parsePage, selectAgent, selectAgents, selectAgentsPage } from './agent-reads.js';
import { filterCriteria, parseCriteria } from './criteria.js';
import * as discovery from './discovery.js';
import { AgentNotFoundError } from './errors.js';
import {
  createRegistryTx,
  parseReason,
  registerAll,
  unregisterOne,
  unregisterOwned,
  updateOne,
  type RegistryContext,
  type RegistryTx,
} from './registry-tx.js';
import type {
  Agent,
  AgentFilter,
  AgentInput,
  AgentPage,
  AgentUpdate,
  Criterion,
  Health,
  HealthSummary,
  JsonObject,
  LeastLoadedOptions,
  PageOptions,
  RegistryListener,
  ResourceSummary,
  UnregisterOptions,
} from './types.js';
import { parseAgentId, parseAgentInput, parseAgentInputs, parseText } from './validation.js';
import { Watchers } from './watchers.js';
import { emitRegistryEvent, type RegistryEvents } from './events.js';
import type { EventSink } from '../telemetry/index.js';

export interface RegistryOptions {
  /** The store that holds the agents (migrated to at least migration 2). */
  readonly store: Store;
  /** The source of `registeredAt` / `updatedAt`. Default the system clock. */
  readonly clock?: Clock;
  /** Where the `registry.*` events go (after each commit, as watchers are told). Default none. */
  readonly events?: EventSink<RegistryEvents>;
}

export interface AgentRegistry {
  /** Registers an agent. Throws `missing_field`, `invalid_health`, `invalid_input` or `agent_exists`. */
  register(input: AgentInput): Promise<Agent>;
  /** Registers every agent or none. */
  registerMany(inputs: readonly AgentInput[]): Promise<Agent[]>;
  /** The agent with this id, or undefined. */
  lookup(id: string): Promise<Agent | undefined>;
  /** The agent with this id; throws `agent_not_found`. */
  get(id: string): Promise<Agent>;
  /**
   * Changes an agent. A function receives the agent as it is inside the transaction (locked on
   * PostgreSQL), so concurrent read-modify-writes cannot lose an update. Throws `agent_not_found`.
   */
  update(id: string, update: AgentUpdate): Promise<Agent>;
  /** Replaces an agent's metadata. */
  updateMetadata(id: string, metadata: JsonObject): Promise<Agent>;
  /** Removes an agent and its index entries; throws `agent_not_found`. */
  unregister(id: string, options?: UnregisterOptions): Promise<Agent>;
  /**
   * Removes every agent owned by a process — the hook the runtime calls when that process dies (with
   * `reason: 'process_exited'`). Returns the removed agents; none is not an error.
   */
  unregisterProcess(processId: string, options?: UnregisterOptions): Promise<Agent[]>;
  count(filter?: AgentFilter): Promise<number>;
  /** The agents matching a simple filter, ordered by id. */
  list(filter?: AgentFilter): Promise<Agent[]>;
  /** The agents matching every criterion, ordered by id. Throws `invalid_criteria`. */
  query(criteria: readonly Criterion[]): Promise<Agent[]>;
  /** A page of `list`: at most `limit` agents (default 100, at most 1000) after `cursor`. */
  listPage(filter?: AgentFilter, page?: PageOptions): Promise<AgentPage>;
  /** A page of `query`: at most `limit` agents (default 100, at most 1000) after `cursor`. */
  queryPage(criteria: readonly Criterion[], page?: PageOptions): Promise<AgentPage>;
  findByCapability(capability: string): Promise<Agent[]>;
  findByHealth(health: Health): Promise<Agent[]>;
  findByNode(node: string): Promise<Agent[]>;
  /** Agents with the capability that are healthy. */
  findCapableHealthy(capability: string): Promise<Agent[]>;
  /** Agents reporting at least each given resource amount. */
  findWithResources(minimums: Readonly<Record<string, number>>): Promise<Agent[]>;
  /** Agents with all of the capabilities. */
  findWithCapabilities(capabilities: readonly string[]): Promise<Agent[]>;
  /** The least-loaded agents for a capability (see `LeastLoadedOptions`). */
  leastLoaded(capability: string, options?: LeastLoadedOptions): Promise<Agent[]>;
  countByCapability(): Promise<Record<string, number>>;
  healthSummary(): Promise<HealthSummary>;
  resourceSummary(): Promise<Record<string, ResourceSummary>>;
  /**
   * Runs `fn` in one store transaction: every change made through `tx` commits together or not at all.
   * If `fn` throws (or the store fails), nothing of it is visible and no event is sent.
   */
  transaction<T>(fn: (tx: RegistryTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** The registry's operations inside a store transaction someone else opened. */
  within(tx: Tx): RegistryTx;
  /**
   * Calls `listener` for every change this registry commits, after the commit, in commit order. Returns
   * the function that stops it.
   */
  watch(listener: RegistryListener): () => void;
}

export function createRegistry(options: RegistryOptions): AgentRegistry {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const watchers = new Watchers();
  const ctx: RegistryContext = {
    now: () => clock.now(),
    emit: (event) => {
      watchers.emit(event);
      emitRegistryEvent(options.events, event);
    },
  };
  // Single changes go through group commit, which already gives each write a savepoint of its own.
  const writeCtx: RegistryContext = { ...ctx, isolated: true };

  const registry: AgentRegistry = {
    async register(input) {
      const fields = parseAgentInput(input);
      const [agent] = await store.write((tx) => registerAll(tx, writeCtx, [fields]));
      return agent as Agent;
    },
    async registerMany(inputs) {
      const all = parseAgentInputs(inputs);
      return store.write((tx) => registerAll(tx, writeCtx, all));
    },
    async lookup(id) {
      return selectAgent(store, parseAgentId(id));
    },
    async get(id) {
      const agent = await registry.lookup(id);
      if (agent === undefined) throw new AgentNotFoundError(id);
      return agent;
    },
    async update(id, update) {
      const agentId = parseAgentId(id);
      return store.write((tx) => updateOne(tx, writeCtx, agentId, update));
    },
    async updateMetadata(id, metadata) {
      return registry.update(id, { metadata });
    },
    async unregister(id, unregisterOptions) {
      const agentId = parseAgentId(id);
      const reason = parseReason(unregisterOptions);
      return store.write((tx) => unregisterOne(tx, writeCtx, agentId, reason));
    },
    async unregisterProcess(processId, unregisterOptions) {
      const owner = parseText(processId, 'process');
      const reason = parseReason(unregisterOptions);
      return store.write((tx) => unregisterOwned(tx, writeCtx, owner, reason));
    },
    async count(filter = {}) {
      return countAgents(store, parseCriteria(filterCriteria(filter)));
    },
    async list(filter = {}) {
      return selectAgents(store, parseCriteria(filterCriteria(filter)));
    },
    async query(criteria) {
      return selectAgents(store, parseCriteria(criteria));
    },
    async listPage(filter = {}, page = {}) {
      const conditions = parseCriteria(filterCriteria(filter));
      return selectAgentsPage(store, conditions, parsePage(page));
    },
    async queryPage(criteria, page = {}) {
      const conditions = parseCriteria(criteria);
      return selectAgentsPage(store, conditions, parsePage(page));
    },
    findByCapability: (capability) => registry.list({ capability }),
    findByHealth: (health) => registry.list({ health }),
    findByNode: (node) => registry.list({ node }),
    findCapableHealthy: async (capability) => discovery.capableHealthy(store, capability),
    findWithResources: async (minimums) => discovery.withResources(store, minimums),
    findWithCapabilities: async (capabilities) => discovery.withCapabilities(store, capabilities),
    leastLoaded: (capability, leastLoadedOptions) =>
      discovery.leastLoaded(store, capability, leastLoadedOptions),
    countByCapability: () => discovery.countByCapability(store),
    healthSummary: () => discovery.healthSummary(store),
    resourceSummary: () => discovery.resourceSummary(store),
    transaction(fn, transactionOptions) {
      return store.transaction((tx) => fn(createRegistryTx(tx, ctx)), transactionOptions);
    },
    within(tx) {
      return createRegistryTx(tx, ctx);
    },
    watch(listener) {
      return watchers.add(listener);
    },
  };
  return registry;
}

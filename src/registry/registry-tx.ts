/**
 * The registry inside one store transaction. Every operation runs in its own savepoint, so an operation
 * that fails leaves nothing of itself behind and the transaction stays usable on both dialects (on
 * PostgreSQL a failed statement would otherwise abort the whole transaction). Events are queued with
 * `tx.afterCommit`: listeners hear of a change only once the transaction that made it has committed.
 */
import type { Tx } from '../store/index.js';
import { countAgents, selectAgents } from './agent-reads.js';
import {
  deleteAgent,
  insertAgent,
  selectByProcessForUpdate,
  selectForUpdate,
  updateAgent,
} from './agent-writes.js';
import { filterCriteria, parseCriteria } from './criteria.js';
import { AgentExistsError, AgentNotFoundError } from './errors.js';
import type {
  Agent,
  AgentFilter,
  AgentInput,
  AgentUpdate,
  Criterion,
  JsonObject,
  RegistryEvent,
  UnregisterOptions,
} from './types.js';
import {
  applyPatch,
  parseAgentId,
  parseAgentInput,
  parseAgentInputs,
  parseText,
  type AgentFields,
} from './validation.js';

/** What the operations need besides the transaction. */
export interface RegistryContext {
  /** The current time, UNIX epoch ms. */
  readonly now: () => number;
  /** Delivers a committed change to the watchers. */
  readonly emit: (event: RegistryEvent) => void;
  /**
   * True when the caller already runs each operation in a savepoint of its own (the store's group
   * commit does), so the operation need not open another. Default false.
   */
  readonly isolated?: boolean;
}

/** Runs one operation so that, if it fails, none of its writes remain. */
function atomically<T>(tx: Tx, ctx: RegistryContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return ctx.isolated === true ? fn(tx) : tx.savepoint(fn);
}

/** The registry inside a transaction: everything done through it commits together or not at all. */
export interface RegistryTx {
  /** The store transaction underneath, for writes of one's own that must commit with the registry's. */
  readonly sql: Tx;
  register(input: AgentInput): Promise<Agent>;
  /** Registers every agent or none (`agent_exists` names the first taken id). */
  registerMany(inputs: readonly AgentInput[]): Promise<Agent[]>;
  /** Applies a patch (or the patch a function returns for the current agent); throws `agent_not_found`. */
  update(id: string, update: AgentUpdate): Promise<Agent>;
  /** Replaces the agent's metadata. */
  updateMetadata(id: string, metadata: JsonObject): Promise<Agent>;
  /** Removes the agent and its index entries; throws `agent_not_found`. */
  unregister(id: string, options?: UnregisterOptions): Promise<Agent>;
  /** Removes every agent owned by the process (none is not an error); returns them. */
  unregisterProcess(processId: string, options?: UnregisterOptions): Promise<Agent[]>;
  /** Reads an agent; on PostgreSQL the row stays locked until the transaction ends. */
  lookup(id: string): Promise<Agent | undefined>;
  /** Like `lookup`, but throws `agent_not_found`. */
  get(id: string): Promise<Agent>;
  query(criteria: readonly Criterion[]): Promise<Agent[]>;
  list(filter?: AgentFilter): Promise<Agent[]>;
  count(filter?: AgentFilter): Promise<number>;
  /** Runs `fn` so that, if it throws, only its own changes (and events) are undone. */
  savepoint<T>(fn: (tx: RegistryTx) => Promise<T>): Promise<T>;
}

const DEFAULT_REASON = 'requested';

export async function registerAll(
  tx: Tx,
  ctx: RegistryContext,
  all: readonly AgentFields[],
): Promise<Agent[]> {
  const seen = new Set<string>();
  for (const fields of all) {
    if (seen.has(fields.id)) throw new AgentExistsError(fields.id);
    seen.add(fields.id);
  }
  const now = ctx.now();
  const agents = await atomically(tx, ctx, async (t) => {
    const done: Agent[] = [];
    for (const fields of all) done.push(await insertAgent(t, fields, now));
    return done;
  });
  for (const agent of agents) tx.afterCommit(() => ctx.emit({ type: 'registered', agent }));
  return agents;
}

export async function updateOne(
  tx: Tx,
  ctx: RegistryContext,
  id: string,
  update: AgentUpdate,
): Promise<Agent> {
  const [previous, agent] = await atomically(tx, ctx, async (t) => {
    const current = await selectForUpdate(t, id);
    if (current === undefined) throw new AgentNotFoundError(id);
    const patch = typeof update === 'function' ? update(current) : update;
    return [current, await updateAgent(t, current, applyPatch(current, patch), ctx.now())] as const;
  });
  tx.afterCommit(() => ctx.emit({ type: 'updated', agent, previous }));
  return agent;
}

export async function unregisterOne(
  tx: Tx,
  ctx: RegistryContext,
  id: string,
  reason: string,
): Promise<Agent> {
  const agent = await atomically(tx, ctx, async (t) => {
    const current = await selectForUpdate(t, id);
    if (current === undefined) throw new AgentNotFoundError(id);
    await deleteAgent(t, id);
    return current;
  });
  tx.afterCommit(() => ctx.emit({ type: 'unregistered', agent, reason }));
  return agent;
}

export async function unregisterOwned(
  tx: Tx,
  ctx: RegistryContext,
  processId: string,
  reason: string,
): Promise<Agent[]> {
  const agents = await atomically(tx, ctx, async (t) => {
    const owned = await selectByProcessForUpdate(t, processId);
    for (const agent of owned) await deleteAgent(t, agent.id);
    return owned;
  });
  for (const agent of agents) tx.afterCommit(() => ctx.emit({ type: 'unregistered', agent, reason }));
  return agents;
}

export function parseReason(options: UnregisterOptions | undefined): string {
  return options?.reason === undefined ? DEFAULT_REASON : parseText(options.reason, 'reason');
}

export function createRegistryTx(sql: Tx, ctx: RegistryContext): RegistryTx {
  const self: RegistryTx = {
    sql,
    async register(input) {
      const [agent] = await registerAll(sql, ctx, [parseAgentInput(input)]);
      return agent as Agent;
    },
    async registerMany(inputs) {
      return registerAll(sql, ctx, parseAgentInputs(inputs));
    },
    async update(id, update) {
      return updateOne(sql, ctx, parseAgentId(id), update);
    },
    async updateMetadata(id, metadata) {
      return updateOne(sql, ctx, parseAgentId(id), { metadata });
    },
    async unregister(id, options) {
      return unregisterOne(sql, ctx, parseAgentId(id), parseReason(options));
    },
    async unregisterProcess(processId, options) {
      return unregisterOwned(sql, ctx, parseText(processId, 'process'), parseReason(options));
    },
    async lookup(id) {
      return selectForUpdate(sql, parseAgentId(id));
    },
    async get(id) {
      const agent = await self.lookup(id);
      if (agent === undefined) throw new AgentNotFoundError(id);
      return agent;
    },
    async query(criteria) {
      return selectAgents(sql, parseCriteria(criteria));
    },
    async list(filter = {}) {
      return selectAgents(sql, parseCriteria(filterCriteria(filter)));
    },
    async count(filter = {}) {
      return countAgents(sql, parseCriteria(filterCriteria(filter)));
    },
    async savepoint(fn) {
      return sql.savepoint((t) => fn(createRegistryTx(t, ctx)));
    },
  };
  return self;
}

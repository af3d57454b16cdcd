/** The agent registry: agents, their indexes, queries, discovery, transactions and watches. */
export { createRegistry, type AgentRegistry, type RegistryOptions } from './registry.js';
export type { RegistryEvents } from './events.js';
export type { RegistryTx } from './registry-tx.js';
export {
  AgentExistsError,
  AgentNotFoundError,
  InvalidCriteriaError,
  InvalidHealthError,
  MissingFieldError,
  RegistryError,
  RegistryErrorCode,
} from './errors.js';
export { QUERY_PATHS } from './criteria.js';
export { REGISTRY_TABLES } from './rows.js';
export {
  Health,
  QueryOp,
  type Agent,
  type AgentFilter,
  type AgentInput,
  type AgentPage,
  type AgentPatch,
  type AgentUpdate,
  type Criterion,
  type HealthSummary,
  type JsonObject,
  type JsonValue,
  type LeastLoadedOptions,
  type PageOptions,
  type QueryScalar,
  type RegistryEvent,
  type RegistryListener,
  type ResourceSummary,
  type UnregisterOptions,
} from './types.js';

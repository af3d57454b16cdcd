/** How an agent is laid out in `garrison_agents`, and back. */
import { parseJson, type Row } from '../store/index.js';
import type { Agent, Health, JsonObject } from './types.js';

export const AGENTS = 'garrison_agents';
export const CAPABILITIES = 'garrison_agent_capabilities';
export const RESOURCES = 'garrison_agent_resources';

/** Every registry table, for tools that must see all of them (dumps, checks). */
export const REGISTRY_TABLES = [AGENTS, CAPABILITIES, RESOURCES] as const;

/** The columns an agent is read from, on the alias `a`. */
export const AGENT_COLUMNS =
  'a.id, a.type, a.health, a.node, a.process, a.capabilities, a.resources, a.metadata, a.version, ' +
  'a.registered_at, a.updated_at';

export interface AgentRow extends Row {
  id: string;
  type: string | null;
  health: string;
  node: string;
  process: string | null;
  capabilities: unknown;
  resources: unknown;
  metadata: unknown;
  version: number | string;
  registered_at: number | string;
  updated_at: number | string;
}

export function rowToAgent(row: AgentRow): Agent {
  return {
    id: row.id,
    type: row.type,
    capabilities: parseJson<string[]>(row.capabilities),
    health: row.health as Health,
    node: row.node,
    process: row.process,
    resources: parseJson<Record<string, number>>(row.resources),
    metadata: parseJson<JsonObject>(row.metadata),
    version: Number(row.version),
    registeredAt: Number(row.registered_at),
    updatedAt: Number(row.updated_at),
  };
}

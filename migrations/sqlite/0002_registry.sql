-- The agent registry. One row per agent holds the agent as registered (capabilities and resources as
-- JSON, in the order given); the two index tables mirror capabilities and resources so that finding by
-- capability or by a resource bound is an index lookup, not a scan. The registry keeps the mirrors in
-- step inside the same transaction as the row.
CREATE TABLE garrison_agents (
  id TEXT NOT NULL PRIMARY KEY,
  type TEXT,
  health TEXT NOT NULL CHECK (health IN ('healthy', 'degraded', 'unhealthy')),
  node TEXT NOT NULL,
  process TEXT,
  capabilities TEXT NOT NULL CHECK (json_valid(capabilities) AND json_type(capabilities) = 'array'),
  resources TEXT NOT NULL CHECK (json_valid(resources) AND json_type(resources) = 'object'),
  metadata TEXT NOT NULL CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  version INTEGER NOT NULL,
  registered_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX garrison_agents_by_health ON garrison_agents (health);
CREATE INDEX garrison_agents_by_node ON garrison_agents (node);
CREATE INDEX garrison_agents_by_type ON garrison_agents (type);
CREATE INDEX garrison_agents_by_process ON garrison_agents (process);

CREATE TABLE garrison_agent_capabilities (
  agent_id TEXT NOT NULL REFERENCES garrison_agents (id) ON DELETE CASCADE,
  capability TEXT NOT NULL,
  PRIMARY KEY (agent_id, capability)
) WITHOUT ROWID;
CREATE INDEX garrison_agent_capabilities_by_capability ON garrison_agent_capabilities (capability, agent_id);

CREATE TABLE garrison_agent_resources (
  agent_id TEXT NOT NULL REFERENCES garrison_agents (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (agent_id, name)
) WITHOUT ROWID;
CREATE INDEX garrison_agent_resources_by_name_value ON garrison_agent_resources (name, value, agent_id);

-- The agent registry. One row per agent holds the agent as registered (capabilities and resources as
-- JSON, in the order given); the two index tables mirror capabilities and resources so that finding by
-- capability or by a resource bound is an index lookup, not a scan. The registry keeps the mirrors in
-- step inside the same transaction as the row. Text columns use the "C" collation so that ordering is by
-- code point, exactly as on SQLite, whatever the database's locale.
CREATE TABLE garrison_agents (
  id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  type TEXT COLLATE "C",
  health TEXT COLLATE "C" NOT NULL CHECK (health IN ('healthy', 'degraded', 'unhealthy')),
  node TEXT COLLATE "C" NOT NULL,
  process TEXT COLLATE "C",
  capabilities JSONB NOT NULL CHECK (jsonb_typeof(capabilities) = 'array'),
  resources JSONB NOT NULL CHECK (jsonb_typeof(resources) = 'object'),
  metadata JSONB NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
  version INTEGER NOT NULL,
  registered_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX garrison_agents_by_health ON garrison_agents (health);
CREATE INDEX garrison_agents_by_node ON garrison_agents (node);
CREATE INDEX garrison_agents_by_type ON garrison_agents (type);
CREATE INDEX garrison_agents_by_process ON garrison_agents (process);
-- Serves metadata equality and membership criteria (compiled to `@>` containment).
CREATE INDEX garrison_agents_by_metadata ON garrison_agents USING GIN (metadata jsonb_path_ops);

CREATE TABLE garrison_agent_capabilities (
  agent_id TEXT COLLATE "C" NOT NULL REFERENCES garrison_agents (id) ON DELETE CASCADE,
  capability TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (agent_id, capability)
);
CREATE INDEX garrison_agent_capabilities_by_capability ON garrison_agent_capabilities (capability, agent_id);

CREATE TABLE garrison_agent_resources (
  agent_id TEXT COLLATE "C" NOT NULL REFERENCES garrison_agents (id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (agent_id, name)
);
CREATE INDEX garrison_agent_resources_by_name_value ON garrison_agent_resources (name, value, agent_id);

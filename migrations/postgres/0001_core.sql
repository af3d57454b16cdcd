-- Node membership: one row per Garrison node that has ever started against this store.
CREATE TABLE garrison_nodes (
  id TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('up', 'draining', 'down')),
  info JSONB NOT NULL DEFAULT '{}'
);

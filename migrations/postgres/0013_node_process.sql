-- The process behind a node: its host (os.hostname()), its operating-system pid and when that process
-- started (UNIX epoch ms, read from /proc on Linux; NULL elsewhere). A node that finds a row of its own
-- host whose process is gone takes the dead node's leases over at once (src/node/recovery.ts) instead
-- of waiting for them to expire. NULL in rows written before this migration: judged by silence only.
ALTER TABLE garrison_nodes ADD COLUMN host TEXT;
ALTER TABLE garrison_nodes ADD COLUMN pid INTEGER;
ALTER TABLE garrison_nodes ADD COLUMN process_started_at BIGINT;

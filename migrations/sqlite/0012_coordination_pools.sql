-- Resource pools: named items checked out under the leases of the coordination primitives (kind 'pool':
-- fenced, expiring, freed when the holding process exits), and a durable FIFO wait queue.
-- Times are UNIX epoch ms, durations ms.

-- A pool item's holder is a lease like a lock's. SQLite cannot change a CHECK in place: the lease table
-- is rebuilt with the new kind, every row (and its fence) kept.
CREATE TABLE garrison_coord_leases_new (
  kind TEXT NOT NULL CHECK (kind IN ('lock', 'leader', 'pool')),
  name TEXT NOT NULL,
  holder TEXT,
  token TEXT,
  fence BIGINT NOT NULL DEFAULT 0 CHECK (fence >= 0),
  acquired_at BIGINT,
  expires_at BIGINT,
  owner_node TEXT,
  owner_pid BIGINT,
  owner_boot TEXT,
  PRIMARY KEY (kind, name),
  CHECK ((holder IS NULL) = (token IS NULL) AND (holder IS NULL) = (expires_at IS NULL))
);
INSERT INTO garrison_coord_leases_new
  (kind, name, holder, token, fence, acquired_at, expires_at, owner_node, owner_pid, owner_boot)
  SELECT kind, name, holder, token, fence, acquired_at, expires_at, owner_node, owner_pid, owner_boot
    FROM garrison_coord_leases;
DROP TABLE garrison_coord_leases;
ALTER TABLE garrison_coord_leases_new RENAME TO garrison_coord_leases;
CREATE INDEX garrison_coord_leases_owner ON garrison_coord_leases (owner_node) WHERE owner_node IS NOT NULL;

-- A pool: named items (connections, licences, GPU slots…) checked out one at a time. `next_seq` numbers
-- the pool's waiters in arrival order (the wait queue is FIFO by it).
CREATE TABLE garrison_coord_pools (
  name TEXT PRIMARY KEY,
  next_seq BIGINT NOT NULL DEFAULT 0 CHECK (next_seq >= 0),
  created_at BIGINT NOT NULL
);
-- The pool's items, in `position` order. Who holds an item is its lease (kind 'pool', name
-- '<pool>/<item>'); the item row never changes while the pool exists.
CREATE TABLE garrison_coord_pool_items (
  pool TEXT NOT NULL REFERENCES garrison_coord_pools (name) ON DELETE CASCADE,
  item TEXT NOT NULL,
  position INTEGER NOT NULL CHECK (position >= 0),
  PRIMARY KEY (pool, item)
);
-- The wait queue: one row per check-out request still waiting (item NULL) or granted an item its
-- requester has not picked up yet (item, token, fence: the lease taken in its name). A request keeps its
-- place (`seq`) across a restart of its node; it leaves the queue at `deadline_at` if still waiting.
--   owner_node / owner_pid / owner_boot: the runtime process waiting, when the holder is one.
CREATE TABLE garrison_coord_pool_waiters (
  pool TEXT NOT NULL REFERENCES garrison_coord_pools (name) ON DELETE CASCADE,
  id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  holder TEXT NOT NULL,
  ttl_ms BIGINT NOT NULL CHECK (ttl_ms > 0),
  enqueued_at BIGINT NOT NULL,
  deadline_at BIGINT NOT NULL,
  owner_node TEXT,
  owner_pid BIGINT,
  owner_boot TEXT,
  item TEXT,
  token TEXT,
  fence BIGINT,
  granted_at BIGINT,
  PRIMARY KEY (pool, id),
  CHECK ((item IS NULL) = (token IS NULL) AND (item IS NULL) = (granted_at IS NULL))
);
CREATE INDEX garrison_coord_pool_waiters_seq ON garrison_coord_pool_waiters (pool, seq);
CREATE INDEX garrison_coord_pool_waiters_owner ON garrison_coord_pool_waiters (owner_node)
  WHERE owner_node IS NOT NULL;

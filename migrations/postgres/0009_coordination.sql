-- Coordination primitives: leases (locks and leadership), barriers, and consensus proposals with their
-- votes. Every row is the truth; the processes waiting on them hold nothing of value.
-- Times are UNIX epoch ms, durations ms.

-- One row per lock name or leadership group. The row stays when the lease is released (holder NULL) so
-- that `fence` — the lock's fencing number, the group's term — only ever grows.
--   kind: lock | leader.   holder: who holds it (NULL when free).   token: the current lease's secret;
--   a renew or release must present it.   expires_at: the lease ends here unless renewed.
--   owner_node / owner_pid / owner_boot: the runtime process holding it, when the holder is one: its
--   node, its pid number and the boot of that node's coordination service (a lease of an earlier boot
--   of the same node belongs to a process that cannot be alive any more).
CREATE TABLE garrison_coord_leases (
  kind TEXT NOT NULL CHECK (kind IN ('lock', 'leader')),
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
CREATE INDEX garrison_coord_leases_owner ON garrison_coord_leases (owner_node) WHERE owner_node IS NOT NULL;

-- A barrier opens once `parties` distinct participants have arrived; `released_at` records when.
CREATE TABLE garrison_coord_barriers (
  name TEXT PRIMARY KEY,
  parties INTEGER NOT NULL CHECK (parties > 0),
  arrived INTEGER NOT NULL DEFAULT 0 CHECK (arrived >= 0),
  created_at BIGINT NOT NULL,
  released_at BIGINT
);
CREATE TABLE garrison_coord_barrier_arrivals (
  barrier TEXT NOT NULL REFERENCES garrison_coord_barriers (name) ON DELETE CASCADE,
  participant TEXT NOT NULL,
  arrived_at BIGINT NOT NULL,
  PRIMARY KEY (barrier, participant)
);

-- A proposal: a question (`topic`) with its `options`, decided when `quorum` votes agree on one option,
-- closed with `timeout` when `deadline_at` passes first, or `no_quorum` when the known voters left can
-- no longer make any option reach the quorum. `voters` NULL: anyone may vote.
CREATE TABLE garrison_coord_proposals (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  options JSONB NOT NULL,
  voters JSONB,
  quorum INTEGER NOT NULL CHECK (quorum > 0),
  status TEXT NOT NULL CHECK (status IN ('open', 'decided', 'timeout', 'no_quorum')),
  decision TEXT,
  deadline_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  closed_at BIGINT,
  CHECK ((status = 'decided') = (decision IS NOT NULL))
);
CREATE INDEX garrison_coord_proposals_topic ON garrison_coord_proposals (topic, created_at);
-- One vote per voter per proposal: the primary key is what rejects a second one.
CREATE TABLE garrison_coord_votes (
  proposal_id TEXT NOT NULL REFERENCES garrison_coord_proposals (id) ON DELETE CASCADE,
  voter TEXT NOT NULL,
  choice TEXT NOT NULL,
  voted_at BIGINT NOT NULL,
  PRIMARY KEY (proposal_id, voter)
);

-- Coordination primitives, durable and shared by every node on the store.
-- Locks (and leader election, a lock per group): `fence` grows by one on every acquisition, so a holder
-- whose lease expired and was taken over can no longer renew or release (its fence is stale).
CREATE TABLE garrison_locks (
  name TEXT PRIMARY KEY,
  holder TEXT,
  fence BIGINT NOT NULL,
  -- UNIX epoch ms; the lock is free once it has passed.
  expires_at BIGINT NOT NULL,
  acquired_at BIGINT NOT NULL
);

-- Barriers: `parties` participants must arrive; an arrival is recorded once.
CREATE TABLE garrison_barriers (
  name TEXT PRIMARY KEY,
  parties INTEGER NOT NULL CHECK (parties >= 1),
  created_at BIGINT NOT NULL
);
CREATE TABLE garrison_barrier_arrivals (
  name TEXT NOT NULL REFERENCES garrison_barriers (name) ON DELETE CASCADE,
  participant TEXT NOT NULL,
  arrived_at BIGINT NOT NULL,
  PRIMARY KEY (name, participant)
);

-- Consensus: a proposal with options is decided when `quorum` votes agree on one; past `deadline`
-- without that, it is timed out. One vote per voter.
CREATE TABLE garrison_proposals (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  options TEXT NOT NULL,
  quorum INTEGER NOT NULL CHECK (quorum >= 1),
  deadline BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'decided', 'timeout')),
  decision TEXT,
  created_at BIGINT NOT NULL,
  decided_at BIGINT
);
CREATE TABLE garrison_votes (
  proposal_id TEXT NOT NULL REFERENCES garrison_proposals (id) ON DELETE CASCADE,
  voter TEXT NOT NULL,
  choice TEXT NOT NULL,
  voted_at BIGINT NOT NULL,
  PRIMARY KEY (proposal_id, voter)
);

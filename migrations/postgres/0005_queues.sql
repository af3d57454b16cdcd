-- Durable task queues. A task is one row from enqueue until it completes; completed tasks are deleted
-- at once unless `retain` is 1 (the queue keeps completed tasks, or the task has an idempotency key,
-- which must go on deduplicating), so the hot table holds only unfinished work.
--   state: queued (waiting for run_at; also a failed attempt waiting for its retry), running (leased
--          until lease_until to leased_by), completed, dead (attempts exhausted), cancelled.
--   token: the fencing token, incremented by every claim; complete, fail and renew name it.
--   run_at, lease_until, created_at, finished_at: UNIX epoch ms.
-- An identity never reuses an id, so a stale (id, token) can never match a newer task.
CREATE TABLE garrison_tasks (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'dead', 'cancelled')),
  priority INTEGER NOT NULL DEFAULT 0,
  run_at BIGINT NOT NULL,
  payload JSONB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  token INTEGER NOT NULL DEFAULT 0,
  lease_until BIGINT,
  leased_by TEXT,
  group_key TEXT,
  idempotency_key TEXT,
  retain INTEGER NOT NULL DEFAULT 0 CHECK (retain IN (0, 1)),
  last_error TEXT,
  created_at BIGINT NOT NULL,
  finished_at BIGINT
);
-- Claims take the head of this index: higher priority first, then earliest run_at, then enqueue order.
CREATE INDEX garrison_tasks_claim ON garrison_tasks (queue, priority DESC, run_at, id) WHERE state = 'queued';
-- When an idle worker should look again: the earliest run_at of delayed and retrying tasks.
CREATE INDEX garrison_tasks_due ON garrison_tasks (queue, run_at) WHERE state = 'queued';
-- Expired leases are found here for takeover.
CREATE INDEX garrison_tasks_leases ON garrison_tasks (queue, lease_until) WHERE state = 'running';
-- A second enqueue with the same key finds the first task instead of adding one.
CREATE UNIQUE INDEX garrison_tasks_idempotency ON garrison_tasks (queue, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Per-group concurrency limits count running tasks of a group.
CREATE INDEX garrison_tasks_groups ON garrison_tasks (queue, group_key)
  WHERE state = 'running' AND group_key IS NOT NULL;
-- Dead letters, retained completions and cancellations, listed and purged by age.
CREATE INDEX garrison_tasks_finished ON garrison_tasks (queue, state, finished_at)
  WHERE state IN ('completed', 'dead', 'cancelled');

-- Token buckets of per-queue (group_key '') and per-group rate limits, refilled lazily at claim time.
-- tokens: held at updated_at (fractional while refilling); updated_at: UNIX epoch ms.
CREATE TABLE garrison_queue_buckets (
  queue TEXT NOT NULL,
  group_key TEXT NOT NULL,
  tokens DOUBLE PRECISION NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (queue, group_key)
);

-- Counters kept in the store so that they survive restarts (e.g. lease_lost: late completions rejected).
CREATE TABLE garrison_queue_counters (
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (queue, name)
);

-- The durable side of running agents: one row per agent an agent host has started. The registry
-- (garrison_agents) says where an agent runs and what it can do; this row is what the agent is — its
-- checkpointed state, its status and its counters — and it outlives the agent's processes.
--   lifecycle: running (a host should run it: resumed after a node restart), stopped (by hand), exited
--              (its process died and was not restarted).
--   status: idle, processing (current_task is running), paused (refuses new work; pause_reason says
--           why), error (the last action failed).
--   version: checkpoints written so far. incarnation: processes started so far; a checkpoint names the
--            incarnation that read the row, so a superseded process cannot write.
--   restarts: restarts by a supervisor. last_task_id / last_outcome: the last queued task whose outcome
--            was checkpointed, so a retry of it after a crash is recognized and not run twice.
--   Durations and times: ms, UNIX epoch ms.
CREATE TABLE garrison_agent_states (
  id TEXT NOT NULL PRIMARY KEY,
  type TEXT NOT NULL,
  node TEXT NOT NULL,
  lifecycle TEXT NOT NULL CHECK (lifecycle IN ('running', 'stopped', 'exited')),
  status TEXT NOT NULL CHECK (status IN ('idle', 'processing', 'paused', 'error')),
  pause_reason TEXT,
  restart TEXT NOT NULL CHECK (restart IN ('permanent', 'transient', 'temporary')),
  state TEXT NOT NULL CHECK (json_valid(state)),
  version BIGINT NOT NULL DEFAULT 0,
  incarnation BIGINT NOT NULL DEFAULT 0,
  restarts BIGINT NOT NULL DEFAULT 0,
  queue_limit INTEGER NOT NULL CHECK (queue_limit > 0),
  max_consecutive_errors INTEGER NOT NULL CHECK (max_consecutive_errors > 0),
  processed BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0,
  consecutive_errors INTEGER NOT NULL DEFAULT 0,
  total_duration_ms BIGINT NOT NULL DEFAULT 0,
  current_task BIGINT,
  last_task_id BIGINT,
  last_outcome TEXT CHECK (last_outcome IS NULL OR json_valid(last_outcome)),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- A host resumes the agents recorded as running on its node.
CREATE INDEX garrison_agent_states_by_node ON garrison_agent_states (node, lifecycle);
CREATE INDEX garrison_agent_states_by_type ON garrison_agent_states (type);

-- Durable workflows. A run is one execution of a workflow definition; its journal (one row per step
-- index) holds every durable result, so a restarted node replays the run without redoing finished steps.

-- Runs. `owner`, `lease_until` and `fence` are the ownership lease: the node executing a run renews its
-- lease; another node may take the run over once the lease has expired, and every takeover bumps
-- `fence`, which each journal write checks, so a node that lost the run can no longer write to it.
CREATE TABLE garrison_workflow_runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN
    ('pending', 'running', 'sleeping', 'waiting', 'paused', 'completed', 'failed', 'cancelled')),
  input JSONB NOT NULL DEFAULT 'null',
  output JSONB,
  error JSONB,
  parent_id TEXT,
  parent_step INTEGER,
  owner TEXT,
  lease_until BIGINT,
  fence BIGINT NOT NULL DEFAULT 0,
  -- When a sleeping or waiting run next needs attention (UNIX epoch ms); NULL when nothing is due.
  wake_at BIGINT,
  -- A pause or cancel asked for and not yet carried out by the owner.
  control TEXT CHECK (control IN ('pause', 'cancel')),
  -- Bumped by every hand-off from outside (signal, dispatched result, child result).
  wake_seq BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX garrison_workflow_runs_status ON garrison_workflow_runs (status, created_at);
CREATE INDEX garrison_workflow_runs_name ON garrison_workflow_runs (name, created_at);
CREATE INDEX garrison_workflow_runs_active ON garrison_workflow_runs (owner, lease_until)
  WHERE status IN ('pending', 'running', 'sleeping', 'waiting');
CREATE INDEX garrison_workflow_runs_parent ON garrison_workflow_runs (parent_id) WHERE parent_id IS NOT NULL;

-- The step journal: exactly one row per (run, step index). Compensations are journaled at index
-- -(i + 1) for the step at index i.
CREATE TABLE garrison_workflow_steps (
  run_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN
    ('step', 'transaction', 'sleep', 'signal', 'child', 'dispatch', 'compensation')),
  status TEXT NOT NULL CHECK (status IN ('pending', 'retrying', 'completed', 'failed')),
  output JSONB,
  error JSONB,
  attempts INTEGER NOT NULL DEFAULT 1,
  -- A sleep's end, a retry's next attempt or a wait's timeout (UNIX epoch ms).
  due_at BIGINT,
  -- What a pending entry waits on (child id, dispatched request, signal name).
  detail JSONB,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (run_id, idx)
);

-- Signals sent to runs, kept in order; a wait consumes the oldest one of its name not yet consumed
-- (the journal entry of the wait records which).
CREATE TABLE garrison_workflow_signals (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  data JSONB NOT NULL DEFAULT 'null',
  created_at BIGINT NOT NULL
);
CREATE INDEX garrison_workflow_signals_run ON garrison_workflow_signals (run_id, seq);

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

-- One journal flush, as one statement: new runs, journal entries (written only where the run's fence
-- still holds; the run row is locked so a takeover cannot slip in before COMMIT), run updates
-- (fenced the same way; rows without a fence only bump `wake_seq`), and hand-offs into other runs'
-- pending entries (a child's result is handed to its parent only if the child's own fence holds).
-- A function, so PostgreSQL plans these statements once per connection instead of on every flush.
CREATE FUNCTION garrison_workflow_flush(p_now BIGINT, p_runs JSONB, p_steps JSONB, p_patches JSONB, p_handoffs JSONB)
RETURNS TABLE (r_kind TEXT, r_id TEXT, r_control TEXT, r_idx INTEGER)
-- Plans made once per connection (a custom plan per call costs more to plan than to run), and joins to
-- the runs table by index lookups: a plan cached while the table was small must not scan it later.
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
  -- Every run row this flush writes or fences on, locked up front in id order: a takeover waits for the
  -- commit, and two flushes (or a flush and a claim) never deadlock on a lock upgrade or a crossed order.
  PERFORM 1 FROM garrison_workflow_runs AS w
    WHERE w.id IN (SELECT b.r FROM jsonb_to_recordset(p_steps) AS b(r text)
                   UNION SELECT b.id FROM jsonb_to_recordset(p_patches) AS b(id text))
    ORDER BY w.id FOR UPDATE;
  IF p_runs IS NOT NULL THEN
    RETURN QUERY
      WITH ins AS (
        INSERT INTO garrison_workflow_runs (id, name, status, input, parent_id, parent_step, owner, lease_until,
          fence, created_at, updated_at)
        SELECT b.id, b.n, b.s, b.i::jsonb, b.p, b.ps, b.o, b.l, b.f, p_now, p_now
        FROM jsonb_to_recordset(p_runs) AS b(id text, n text, s text, i text, p text, ps int, o text, l bigint, f bigint)
        ON CONFLICT (id) DO NOTHING RETURNING id)
      SELECT 'r'::text, ins.id, NULL::text, NULL::int FROM ins;
  END IF;
  IF p_steps IS NOT NULL THEN
    RETURN QUERY
      WITH s AS (
        INSERT INTO garrison_workflow_steps AS t (run_id, idx, name, kind, status, output, error, attempts, due_at,
          detail, created_at, updated_at)
        SELECT b.r, b.i, b.n, b.k, b.s, b.o::jsonb, b.e::jsonb, b.a, b.d, b.x::jsonb, p_now, p_now
        FROM jsonb_to_recordset(p_steps) AS b(r text, f bigint, i int, n text, k text, s text, o text, e text, a int,
          d bigint, x text)
        JOIN garrison_workflow_runs AS w ON w.id = b.r AND w.fence = b.f
        ON CONFLICT (run_id, idx) DO UPDATE SET status = excluded.status, output = excluded.output,
          error = excluded.error, attempts = excluded.attempts, due_at = excluded.due_at, detail = excluded.detail,
          updated_at = excluded.updated_at
          WHERE t.status IN ('pending', 'retrying')
        RETURNING t.run_id)
      SELECT 's'::text, s.run_id, NULL::text, NULL::int FROM s;
  END IF;
  IF p_patches IS NOT NULL THEN
    RETURN QUERY
      WITH p AS (
        UPDATE garrison_workflow_runs AS w SET status = COALESCE(b.s, w.status),
          wake_at = CASE WHEN b.s IS NULL THEN w.wake_at ELSE b.wk END,
          output = COALESCE(b.o::jsonb, w.output), error = COALESCE(b.e::jsonb, w.error),
          finished_at = CASE WHEN b.fin = 1 THEN p_now ELSE w.finished_at END,
          lease_until = CASE WHEN b.fin = 1 THEN NULL ELSE w.lease_until END,
          control = CASE WHEN b.fin = 1 THEN NULL ELSE w.control END,
          wake_seq = w.wake_seq + b.bump, updated_at = p_now
        FROM jsonb_to_recordset(p_patches) AS b(id text, f bigint, s text, wk bigint, o text, e text, fin int, bump int)
        WHERE w.id = b.id AND (b.f IS NULL OR w.fence = b.f)
        RETURNING w.id, w.control, b.f)
      SELECT 'p'::text, p.id, p.control, NULL::int FROM p WHERE p.f IS NOT NULL;
  END IF;
  IF p_handoffs IS NOT NULL THEN
    RETURN QUERY
      WITH h AS (
        UPDATE garrison_workflow_steps AS t SET status = b.s, output = b.o::jsonb, error = b.e::jsonb,
          updated_at = p_now
        FROM jsonb_to_recordset(p_handoffs) AS b(r text, i int, k text, s text, o text, e text, fr text, ff bigint)
        WHERE t.run_id = b.r AND t.idx = b.i AND t.kind = b.k AND t.status = 'pending'
          AND (b.fr IS NULL OR EXISTS (SELECT 1 FROM garrison_workflow_runs AS c WHERE c.id = b.fr AND c.fence = b.ff))
        RETURNING t.run_id, t.idx)
      SELECT 'h'::text, h.run_id, NULL::text, h.idx FROM h;
  END IF;
END
$$;

-- Trace context stored with the work: the W3C `traceparent` and `tracestate` of the span that created a
-- run, a task (a dispatched step is a task on an agent's queue) or a message. Whichever node executes the
-- row restores it as the parent of its spans (docs/telemetry.md), after a failover or a kill -9 too.
-- NULL when tracing was off at creation, and in rows written before this migration.
ALTER TABLE garrison_workflow_runs ADD COLUMN traceparent TEXT;
ALTER TABLE garrison_workflow_runs ADD COLUMN tracestate TEXT;
ALTER TABLE garrison_tasks ADD COLUMN traceparent TEXT;
ALTER TABLE garrison_tasks ADD COLUMN tracestate TEXT;
ALTER TABLE garrison_messages ADD COLUMN traceparent TEXT;
ALTER TABLE garrison_messages ADD COLUMN tracestate TEXT;
-- The flush function takes each new run's context (`tp`, `ts`); otherwise as in 0010, replaced in place.
CREATE OR REPLACE FUNCTION garrison_workflow_flush(p_now BIGINT, p_runs JSONB, p_steps JSONB, p_patches JSONB, p_handoffs JSONB)
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
          fence, created_at, updated_at, traceparent, tracestate)
        SELECT b.id, b.n, b.s, b.i::jsonb, b.p, b.ps, b.o, b.l, b.f, p_now, p_now, b.tp, b.ts
        FROM jsonb_to_recordset(p_runs) AS b(id text, n text, s text, i text, p text, ps int, o text, l bigint, f bigint,
          tp text, ts text)
        ON CONFLICT (id) DO NOTHING RETURNING id)
      SELECT 'r'::text, ins.id, NULL::text, NULL::int FROM ins;
  END IF;
  IF p_steps IS NOT NULL THEN
    RETURN QUERY
      WITH s AS (
        INSERT INTO garrison_workflow_steps AS t (run_id, idx, name, kind, status, output, error, attempts, due_at,
          detail, created_at, updated_at)
        SELECT b.r, b.i, b.n, b.k, b.s, b.o::jsonb, b.e::jsonb, b.a, b.d, b.x::jsonb, COALESCE(b.st, p_now), p_now
        FROM jsonb_to_recordset(p_steps) AS b(r text, f bigint, i int, n text, k text, s text, o text, e text, a int,
          d bigint, x text, st bigint)
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

-- Durable timers: delayed deliveries, retries and cron schedules. A row is the timer; it survives
-- restarts and fires once per due time (claimed under a lease with a fencing token).
CREATE TABLE garrison_timers (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('once', 'cron', 'interval')),
  topic TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT 'null',
  due_at BIGINT NOT NULL,
  cron TEXT,
  timezone TEXT,
  interval_ms BIGINT,
  missed_policy TEXT NOT NULL DEFAULT 'run_once' CHECK (missed_policy IN ('run_once', 'skip')),
  owner TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  fired_count BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  claimed_by TEXT,
  claim_until BIGINT,
  fence BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE INDEX garrison_timers_due ON garrison_timers (due_at);
CREATE INDEX garrison_timers_owner ON garrison_timers (owner) WHERE owner IS NOT NULL;

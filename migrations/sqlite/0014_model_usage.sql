-- Tokens spent by durable agent loops (`garrison/ai`): one row per model call whose reply was journaled,
-- written in the transaction that journals the loop's usage step, so a replay never counts it twice.
-- run_id: the workflow run; loop: the loop's name in the run; turn: the model call's number (0 first);
-- workflow: the run's workflow name; agent: the loop's agent name (per-agent budgets sum over it);
-- model: `<provider>/<model id>`. at: UNIX epoch ms. Owned by src/governance/usage/model-usage.ts.
CREATE TABLE garrison_model_usage (
  run_id TEXT NOT NULL,
  loop TEXT NOT NULL,
  turn INTEGER NOT NULL,
  workflow TEXT NOT NULL,
  agent TEXT NOT NULL,
  model TEXT NOT NULL,
  input_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  total_tokens BIGINT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (run_id, loop, turn)
);
-- An agent's tokens over a period (per-agent budgets), and the usage listed by time.
CREATE INDEX garrison_model_usage_agent ON garrison_model_usage (agent, at);
CREATE INDEX garrison_model_usage_at ON garrison_model_usage (at);

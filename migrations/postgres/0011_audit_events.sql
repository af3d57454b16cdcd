-- The audit trail of operators' actions (pause, resume, stop of an agent, …): one row per request, never
-- updated. actor: who asked (`api` or `api:<token name>`, `cli:<user>@<host>`); action: what
-- (`agent.pause`, …); target: what it acted on (an agent's id); details: JSON (the reason, whether the
-- request changed anything). at: UNIX epoch ms.
CREATE TABLE garrison_audit_events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  details JSONB NOT NULL CHECK (jsonb_typeof(details) = 'object')
);
-- The trail of one target, in order.
CREATE INDEX garrison_audit_events_target ON garrison_audit_events (target, id);

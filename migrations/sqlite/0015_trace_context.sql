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

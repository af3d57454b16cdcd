-- Durable delivery between agents. A row is a message in a recipient's mailbox until its handler
-- acknowledges it (the row is deleted in the handler's own transaction) or it is dead-lettered
-- (status 'dead', kept with its last error until retried or purged).
--
-- available_at is when the message may next be claimed: the send time (plus any delay), then the end of
-- the lease while a consumer holds it, then the retry time after a failure. fence grows with every
-- claim, so only the current lease holder can acknowledge or fail the message.
CREATE TABLE garrison_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient TEXT NOT NULL,
  sender TEXT,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dead')),
  idempotency_key TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  available_at BIGINT NOT NULL,
  lease_owner TEXT,
  fence BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  dead_at BIGINT
);
-- Claims: a recipient's due messages in FIFO order.
CREATE INDEX garrison_messages_due ON garrison_messages (recipient, status, available_at, id);
-- The dead-letter queue, oldest first.
CREATE INDEX garrison_messages_dead ON garrison_messages (dead_at, id) WHERE status = 'dead';

-- Idempotency keys outlive their message (an acknowledged message is deleted) so that a resend with
-- the same key within the retention period is recognised as a duplicate.
CREATE TABLE garrison_message_keys (
  recipient TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  message_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (recipient, idempotency_key)
);
CREATE INDEX garrison_message_keys_created ON garrison_message_keys (created_at);

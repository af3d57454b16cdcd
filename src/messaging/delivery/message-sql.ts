/**
 * The hand-written SQL of durable delivery. Every function takes the executor to run on (a `tx` when it
 * must commit with other work) and switches dialects right at the statement that differs.
 */
import { parseJson, toJson, type Executor } from '../../store/index.js';
import { currentCarrier } from '../../telemetry/index.js';
import type { ErrorRecord } from '../errors.js';

/** A message row as both dialects return it (BIGINT columns arrive as numbers). */
export interface MessageRow {
  id: number;
  recipient: string;
  sender: string | null;
  body: unknown;
  status: 'pending' | 'dead';
  idempotency_key: string | null;
  attempts: number;
  max_attempts: number;
  available_at: number;
  lease_owner: string | null;
  fence: number;
  last_error: unknown;
  created_at: number;
  dead_at: number | null;
  traceparent: string | null;
  tracestate: string | null;
}

/** A message claimed under a lease: the fence proves the lease at ack or failure time. */
export interface ClaimedMessage {
  readonly id: number;
  readonly recipient: string;
  readonly sender: string | null;
  readonly body: unknown;
  /** Attempts including this one. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly fence: number;
  readonly idempotencyKey: string | null;
  readonly createdAt: number;
  readonly lastError: ErrorRecord | null;
  /** W3C trace context of the sender's span (null: none): the parent of the delivery's span. */
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
}

export interface NewMessage {
  readonly recipient: string;
  readonly sender: string | null;
  readonly body: unknown;
  readonly idempotencyKey: string | null;
  readonly maxAttempts: number;
  readonly availableAt: number;
  readonly now: number;
  /** Keys created before this time (UNIX epoch ms) have expired and may be reused. */
  readonly keyExpiredBefore: number;
}

export function readError(value: unknown): ErrorRecord | null {
  return value === null || value === undefined ? null : parseJson<ErrorRecord>(value);
}

/**
 * Inserts a message. With an idempotency key, a live key for the same recipient makes this a no-op that
 * returns the original message's id. The key is taken first, so two concurrent senders of one key
 * serialize on its primary key and exactly one inserts.
 */
export async function insertMessage(
  tx: Executor,
  m: NewMessage,
): Promise<{ id: number; duplicate: boolean }> {
  if (m.idempotencyKey !== null) {
    const taken = await tx.query(
      `INSERT INTO garrison_message_keys (recipient, idempotency_key, message_id, created_at)
       VALUES ($1, $2, 0, $3)
       ON CONFLICT (recipient, idempotency_key) DO UPDATE SET message_id = 0, created_at = excluded.created_at
       WHERE garrison_message_keys.created_at < $4
       RETURNING recipient`,
      [m.recipient, m.idempotencyKey, m.now, m.keyExpiredBefore],
    );
    if (taken.length === 0) {
      const rows = await tx.query<{ message_id: number }>(
        'SELECT message_id FROM garrison_message_keys WHERE recipient = $1 AND idempotency_key = $2',
        [m.recipient, m.idempotencyKey],
      );
      return { id: Number(rows[0]?.message_id ?? 0), duplicate: true };
    }
  }
  const trace = currentCarrier(); // the sender's span: the delivery's span continues its trace
  const rows = await tx.query<{ id: number }>(
    `INSERT INTO garrison_messages (recipient, sender, body, idempotency_key, max_attempts, available_at, created_at,
       traceparent, tracestate)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      m.recipient,
      m.sender,
      toJson(m.body),
      m.idempotencyKey,
      m.maxAttempts,
      m.availableAt,
      m.now,
      trace?.traceparent ?? null,
      trace?.tracestate ?? null,
    ],
  );
  const id = Number(rows[0]?.id);
  if (m.idempotencyKey !== null) {
    await tx.execute(
      'UPDATE garrison_message_keys SET message_id = $3 WHERE recipient = $1 AND idempotency_key = $2',
      [m.recipient, m.idempotencyKey, id],
    );
  }
  return { id, duplicate: false };
}

/** Inserts a message straight into the dead-letter queue (a send that failed elsewhere). */
export async function insertDeadLetter(
  tx: Executor,
  m: {
    recipient: string;
    sender: string | null;
    body: unknown;
    error: ErrorRecord;
    attempts: number;
    now: number;
  },
): Promise<number> {
  const rows = await tx.query<{ id: number }>(
    `INSERT INTO garrison_messages
       (recipient, sender, body, status, attempts, max_attempts, available_at, last_error, created_at, dead_at)
     VALUES ($1, $2, $3, 'dead', $4, $5, $6, $7, $6, $6) RETURNING id`,
    [m.recipient, m.sender, toJson(m.body), m.attempts, Math.max(1, m.attempts), m.now, toJson(m.error)],
  );
  return Number(rows[0]?.id);
}

function placeholders(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');
}

export interface ClaimResult {
  /** Claimed messages in mailbox order. */
  readonly claimed: ClaimedMessage[];
  /** Messages whose last lease ran out on their last attempt: moved to the dead-letter queue. */
  readonly expired: Array<{ id: number; attempts: number; error: ErrorRecord }>;
}

/**
 * Claims up to `limit` due messages of `recipient` in FIFO order (available_at, id) under a lease ending
 * at `leaseUntil`. On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent claimers on other
 * nodes take disjoint sets; SQLite has one writer, which serializes claims.
 */
export async function claimMessages(
  tx: Executor,
  c: { recipient: string; now: number; leaseUntil: number; owner: string; limit: number },
): Promise<ClaimResult> {
  const lock = tx.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const due = await tx.query<Pick<MessageRow, 'id' | 'attempts' | 'max_attempts'>>(
    `SELECT id, attempts, max_attempts FROM garrison_messages
     WHERE recipient = $1 AND status = 'pending' AND available_at <= $2
     ORDER BY available_at, id LIMIT $3${lock}`,
    [c.recipient, c.now, c.limit],
  );
  if (due.length === 0) return { claimed: [], expired: [] };
  const expired: ClaimResult['expired'] = [];
  const live: number[] = [];
  for (const row of due) {
    const attempts = Number(row.attempts);
    if (attempts >= Number(row.max_attempts)) {
      expired.push({
        id: Number(row.id),
        attempts,
        error: {
          name: 'LeaseExpired',
          code: 'lease_expired',
          message: `the consumer handling attempt ${attempts} of ${Number(row.max_attempts)} stopped before acknowledging it (its lease ran out)`,
        },
      });
    } else live.push(Number(row.id));
  }
  for (const e of expired) {
    await tx.execute(
      `UPDATE garrison_messages SET status = 'dead', dead_at = $2, lease_owner = NULL, last_error = $3 WHERE id = $1`,
      [e.id, c.now, toJson(e.error)],
    );
  }
  if (live.length === 0) return { claimed: [], expired };
  const rows = await tx.query<MessageRow>(
    `UPDATE garrison_messages
     SET attempts = attempts + 1, available_at = $1, lease_owner = $2, fence = fence + 1
     WHERE id IN (${placeholders(3, live.length)})
     RETURNING id, recipient, sender, body, attempts, max_attempts, fence, idempotency_key, created_at, last_error,
       traceparent, tracestate`,
    [c.leaseUntil, c.owner, ...live],
  );
  const order = new Map(live.map((id, i) => [id, i]));
  const claimed = rows
    .map((r): ClaimedMessage => ({
      id: Number(r.id),
      recipient: r.recipient,
      sender: r.sender,
      body: parseJson(r.body),
      attempts: Number(r.attempts),
      maxAttempts: Number(r.max_attempts),
      fence: Number(r.fence),
      idempotencyKey: r.idempotency_key,
      createdAt: Number(r.created_at),
      lastError: readError(r.last_error),
      traceparent: r.traceparent,
      tracestate: r.tracestate,
    }))
    .sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return { claimed, expired };
}

/** Acknowledges (deletes) a message if the lease with `fence` still holds it. */
export async function ackMessage(tx: Executor, id: number, fence: number): Promise<boolean> {
  const r = await tx.execute(
    `DELETE FROM garrison_messages WHERE id = $1 AND fence = $2 AND status = 'pending'`,
    [id, fence],
  );
  return r.rowCount === 1;
}

/**
 * Records a failed attempt if the lease with `fence` still holds the message: back to pending at
 * `retryAt`, or into the dead-letter queue when `dead`.
 */
export async function failMessage(
  tx: Executor,
  f: { id: number; fence: number; now: number; retryAt: number; error: ErrorRecord; dead: boolean },
): Promise<boolean> {
  const r = f.dead
    ? await tx.execute(
        `UPDATE garrison_messages SET status = 'dead', dead_at = $3, lease_owner = NULL, last_error = $4
         WHERE id = $1 AND fence = $2 AND status = 'pending'`,
        [f.id, f.fence, f.now, toJson(f.error)],
      )
    : await tx.execute(
        `UPDATE garrison_messages SET available_at = $3, lease_owner = NULL, last_error = $4
         WHERE id = $1 AND fence = $2 AND status = 'pending'`,
        [f.id, f.fence, f.retryAt, toJson(f.error)],
      );
  return r.rowCount === 1;
}

/** Gives back a claimed message that was never handed to its handler: due now, the attempt not counted. */
export async function releaseMessage(tx: Executor, id: number, fence: number, now: number): Promise<boolean> {
  const r = await tx.execute(
    `UPDATE garrison_messages SET attempts = attempts - 1, available_at = $3, lease_owner = NULL
     WHERE id = $1 AND fence = $2 AND status = 'pending'`,
    [id, fence, now],
  );
  return r.rowCount === 1;
}

/** The earliest time (UNIX epoch ms) a pending message of `recipient` becomes claimable, or null. */
export async function nextDueAt(db: Executor, recipient: string): Promise<number | null> {
  const rows = await db.query<{ at: number | string | null }>(
    `SELECT MIN(available_at) AS at FROM garrison_messages WHERE recipient = $1 AND status = 'pending'`,
    [recipient],
  );
  const at = rows[0]?.at;
  return at === null || at === undefined ? null : Number(at);
}

export interface MailboxDepth {
  /** Messages waiting to be claimed, due now or later. */
  readonly pending: number;
  /** Messages a consumer holds under a lease that has not run out. */
  readonly leased: number;
  /** Messages in the dead-letter queue. */
  readonly dead: number;
}

/** How many messages `recipient` has in each state at `now`. */
export async function mailboxDepth(db: Executor, recipient: string, now: number): Promise<MailboxDepth> {
  const rows = await db.query<{
    pending: number | string | null;
    leased: number | string | null;
    dead: number | string | null;
  }>(
    `SELECT
       SUM(CASE WHEN status = 'pending' AND (lease_owner IS NULL OR available_at <= $2) THEN 1 ELSE 0 END) AS pending,
       SUM(CASE WHEN status = 'pending' AND lease_owner IS NOT NULL AND available_at > $2 THEN 1 ELSE 0 END) AS leased,
       SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS dead
     FROM garrison_messages WHERE recipient = $1`,
    [recipient, now],
  );
  const r = rows[0];
  return { pending: Number(r?.pending ?? 0), leased: Number(r?.leased ?? 0), dead: Number(r?.dead ?? 0) };
}

/** Deletes idempotency keys created before `before` (UNIX epoch ms); returns how many. */
export async function pruneKeys(db: Executor, before: number): Promise<number> {
  const r = await db.execute('DELETE FROM garrison_message_keys WHERE created_at < $1', [before]);
  return r.rowCount;
}

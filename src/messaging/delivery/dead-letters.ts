/**
 * The dead-letter queue: messages that failed `maxAttempts` times (or were declared unprocessable) stay
 * in the store with their last error until someone retries or purges them. Nothing is ever dropped
 * without a trace.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Clock } from '../../runtime/index.js';
import { parseJson, type SqlValue, type Store, type Tx } from '../../store/index.js';
import { MessagingError, MessagingErrorCode, toErrorRecord, type ErrorRecord } from '../errors.js';
import { insertDeadLetter, readError, type MessageRow } from './message-sql.js';

/** A message in the dead-letter queue. */
export interface DeadLetter {
  readonly id: number;
  readonly recipient: string;
  readonly sender: string | null;
  readonly body: unknown;
  /** Delivery attempts made before it was dead-lettered. */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** The error of the last attempt. */
  readonly lastError: ErrorRecord | null;
  readonly idempotencyKey: string | null;
  /** When it was first sent, UNIX epoch ms. */
  readonly sentAt: number;
  /** When it entered the dead-letter queue, UNIX epoch ms. */
  readonly deadAt: number;
}

const filterSchema = z
  .object({
    recipient: z.string().min(1).max(200).optional(),
    /** Only letters dead-lettered before this time, UNIX epoch ms. */
    deadBefore: z.number().int().nonnegative().optional(),
  })
  .strict();
/** Selects dead letters. Every field narrows; an empty filter selects all. */
export interface DeadLetterFilter {
  /** Only letters for this recipient. */
  readonly recipient?: string;
  /** Only letters dead-lettered before this time, UNIX epoch ms. */
  readonly deadBefore?: number;
}

const listSchema = filterSchema
  .extend({ limit: z.number().int().min(1).max(10_000).optional(), afterId: z.number().int().optional() })
  .strict();
export interface DeadLetterListOptions extends DeadLetterFilter {
  /** Most letters returned. Default 100. */
  readonly limit?: number;
  /** Page on: only letters with a larger id than this. */
  readonly afterId?: number;
}

const idSchema = z.number().int().positive();

export interface DeadLetterQueue {
  /** Dead letters, oldest first (by id), optionally filtered. */
  list(options?: DeadLetterListOptions): Promise<DeadLetter[]>;
  /** How many dead letters match the filter. */
  count(filter?: DeadLetterFilter): Promise<number>;
  /** One dead letter; fails with `dead_letter_not_found` when no dead letter has that id. */
  get(id: number): Promise<DeadLetter>;
  /**
   * Puts a dead letter back in its recipient's mailbox: pending, due now, attempts reset to 0 (its last
   * error is kept for reference). Fails with `dead_letter_not_found` when no dead letter has that id.
   */
  retry(id: number): Promise<void>;
  /** Retries every dead letter matching the filter; returns how many. */
  retryAll(filter?: DeadLetterFilter): Promise<number>;
  /** Deletes one dead letter for good. Fails with `dead_letter_not_found` when there is none. */
  purge(id: number): Promise<void>;
  /** Deletes every dead letter matching the filter (all of them with no filter); returns how many. */
  purgeAll(filter?: DeadLetterFilter): Promise<number>;
  /**
   * Records a message that could not be delivered by other means (for example an in-memory send that
   * failed under a dead-letter policy) straight into the queue. Pass `tx` to commit it with other work.
   */
  record(
    entry: { recipient: string; body: unknown; error: unknown; sender?: string; attempts?: number },
    tx?: Tx,
  ): Promise<number>;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${describeIssues(r.error.issues)}`);
  return r.data;
}

function where(filter: DeadLetterFilter, params: SqlValue[]): string {
  const parts = [`status = 'dead'`];
  if (filter.recipient !== undefined) {
    params.push(filter.recipient);
    parts.push(`recipient = $${params.length}`);
  }
  if (filter.deadBefore !== undefined) {
    params.push(filter.deadBefore);
    parts.push(`dead_at < $${params.length}`);
  }
  return parts.join(' AND ');
}

function toDeadLetter(r: MessageRow): DeadLetter {
  return {
    id: Number(r.id),
    recipient: r.recipient,
    sender: r.sender,
    body: parseJson(r.body),
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    lastError: readError(r.last_error),
    idempotencyKey: r.idempotency_key,
    sentAt: Number(r.created_at),
    deadAt: Number(r.dead_at ?? r.created_at),
  };
}

function notFound(id: number): MessagingError {
  return new MessagingError(MessagingErrorCode.deadLetterNotFound, `no dead-lettered message has id ${id}`, {
    details: { id },
  });
}

/**
 * Retention: deletes one batch (at most `limit`, one short transaction) of letters dead-lettered before
 * `deadBefore`; answers how many went — fewer than `limit` once none that old is left.
 */
export async function purgeDeadLetterBatch(store: Store, deadBefore: number, limit: number): Promise<number> {
  const r = await store.write((tx) =>
    tx.execute(
      `DELETE FROM garrison_messages WHERE id IN (SELECT id FROM garrison_messages
        WHERE status = 'dead' AND dead_at < $1 ORDER BY dead_at, id LIMIT $2)`,
      [deadBefore, limit],
    ),
  );
  return r.rowCount;
}

export function createDeadLetterQueue(ctx: {
  store: Store;
  clock: Clock;
  /** Wakes the recipients' consumers after retried letters are committed. */
  wake: (recipient: string) => void;
  /** Told of every letter recorded through `record`. */
  onRecorded: (letter: { id: number; recipient: string; error: ErrorRecord; attempts: number }) => void;
}): DeadLetterQueue {
  const { store, clock } = ctx;

  const requeue = (tx: Tx, filterSql: string, params: SqlValue[]) => {
    const at = params.length + 1;
    return tx.query<{ recipient: string }>(
      `UPDATE garrison_messages
       SET status = 'pending', attempts = 0, available_at = $${at}, dead_at = NULL, lease_owner = NULL
       WHERE ${filterSql} RETURNING recipient`,
      [...params, clock.now()],
    );
  };
  const wakeAll = (rows: Array<{ recipient: string }>) => {
    for (const recipient of new Set(rows.map((r) => r.recipient))) ctx.wake(recipient);
  };

  return {
    async list(options = {}) {
      const o = parse(listSchema, options, 'dead-letter list options');
      const params: SqlValue[] = [];
      let sql = `SELECT * FROM garrison_messages WHERE ${where(o, params)}`;
      if (o.afterId !== undefined) {
        params.push(o.afterId);
        sql += ` AND id > $${params.length}`;
      }
      params.push(o.limit ?? 100);
      sql += ` ORDER BY id LIMIT $${params.length}`;
      return (await store.query<MessageRow>(sql, params)).map(toDeadLetter);
    },

    async count(filter = {}) {
      const params: SqlValue[] = [];
      const sql = where(parse(filterSchema, filter, 'dead-letter filter'), params);
      const rows = await store.query<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM garrison_messages WHERE ${sql}`,
        params,
      );
      return Number(rows[0]?.n ?? 0);
    },

    async get(id) {
      parse(idSchema, id, 'dead-letter id');
      const rows = await store.query<MessageRow>(
        `SELECT * FROM garrison_messages WHERE id = $1 AND status = 'dead'`,
        [id],
      );
      const row = rows[0];
      if (row === undefined) throw notFound(id);
      return toDeadLetter(row);
    },

    async retry(id) {
      parse(idSchema, id, 'dead-letter id');
      const rows = await store.write((tx) => requeue(tx, `id = $1 AND status = 'dead'`, [id]));
      if (rows.length === 0) throw notFound(id);
      wakeAll(rows);
    },

    async retryAll(filter = {}) {
      const params: SqlValue[] = [];
      const sql = where(parse(filterSchema, filter, 'dead-letter filter'), params);
      const rows = await store.write((tx) => requeue(tx, sql, params));
      wakeAll(rows);
      return rows.length;
    },

    async purge(id) {
      parse(idSchema, id, 'dead-letter id');
      const r = await store.write((tx) =>
        tx.execute(`DELETE FROM garrison_messages WHERE id = $1 AND status = 'dead'`, [id]),
      );
      if (r.rowCount === 0) throw notFound(id);
    },

    async purgeAll(filter = {}) {
      const params: SqlValue[] = [];
      const sql = where(parse(filterSchema, filter, 'dead-letter filter'), params);
      const r = await store.write((tx) => tx.execute(`DELETE FROM garrison_messages WHERE ${sql}`, params));
      return r.rowCount;
    },

    async record(entry, tx) {
      const e = parse(
        z
          .object({
            recipient: z.string().min(1).max(200),
            body: z.json(),
            error: z.unknown(),
            sender: z.string().min(1).max(200).optional(),
            attempts: z.number().int().min(0).optional(),
          })
          .strict(),
        entry,
        'dead letter',
      );
      const error = toErrorRecord(e.error);
      const attempts = e.attempts ?? 1;
      const insert = (t: Tx) =>
        insertDeadLetter(t, {
          recipient: e.recipient,
          sender: e.sender ?? null,
          body: e.body,
          error,
          attempts,
          now: clock.now(),
        });
      const id = tx === undefined ? await store.write(insert) : await insert(tx);
      const report = () => ctx.onRecorded({ id, recipient: e.recipient, error, attempts });
      if (tx === undefined) report();
      else tx.afterCommit(report);
      return id;
    },
  };
}

/**
 * Claims for a queue with concurrency or rate limits. The limits must hold across every worker and
 * process, so these claims are serialized per queue: on PostgreSQL by a transaction-scoped advisory lock
 * keyed by the queue, on SQLite by its single writer. Inside that transaction the claim counts what is
 * running (per queue and per group key), refills the token buckets, picks tasks in claim order that fit
 * every limit, leases them and takes their tokens — all or nothing.
 */
import { createHash } from 'node:crypto';
import type { Store, Tx } from '../../store/index.js';
import { CLAIM_SET, EXPIRED_RESET_SET, type ClaimRequest } from './claim.js';
import type { QueueDefinition, RateLimit } from './definition.js';
import { CLAIM_COLUMNS, type ClaimRow } from './rows.js';
import { bindIds, inIds } from './store-io.js';

/** How many candidates one scan of the queue's head looks at, at least. */
const SCAN_MIN = 256;
/** Scans per claim before giving up on filling the batch (each skips the groups found full). */
const SCAN_ROUNDS = 4;

function lockKey(queue: string): string {
  return createHash('sha256').update(`garrison.queue:${queue}`).digest().readBigInt64BE(0).toString();
}

interface Bucket {
  tokens: number;
  readonly limit: RateLimit;
}

function refill(limit: RateLimit, tokens: number, updatedAt: number, now: number): number {
  return Math.min(limit.limit, tokens + (Math.max(0, now - updatedAt) * limit.limit) / limit.intervalMs);
}

async function loadBuckets(
  tx: Tx,
  queue: string,
  limit: RateLimit,
  groups: boolean,
  now: number,
): Promise<Map<string, Bucket>> {
  // A bucket idle for a whole interval is full again: the same as no row at all.
  await tx.execute(
    `DELETE FROM garrison_queue_buckets WHERE queue = $1 AND group_key ${groups ? '<>' : '='} '' AND updated_at < $2`,
    [queue, now - limit.intervalMs],
  );
  const rows = await tx.query<{ group_key: string; tokens: number; updated_at: number }>(
    `SELECT group_key, tokens, updated_at FROM garrison_queue_buckets WHERE queue = $1 AND group_key ${groups ? '<>' : '='} ''`,
    [queue],
  );
  const buckets = new Map<string, Bucket>();
  for (const r of rows) {
    buckets.set(r.group_key, { tokens: refill(limit, Number(r.tokens), Number(r.updated_at), now), limit });
  }
  return buckets;
}

async function saveBucket(
  tx: Tx,
  queue: string,
  groupKey: string,
  tokens: number,
  now: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO garrison_queue_buckets (queue, group_key, tokens, updated_at) VALUES ($1, $2, $3, $4) ` +
      `ON CONFLICT (queue, group_key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
    [queue, groupKey, tokens, now],
  );
}

/** Claims from one limited queue; rows with state `dead` are expired leases that ran out of attempts. */
export function claimLimited(store: Store, def: QueueDefinition, request: ClaimRequest): Promise<ClaimRow[]> {
  const queue = def.name;
  const now = request.now;
  const pg = store.dialect === 'postgres';
  return store.transaction(async (tx) => {
    if (pg) await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(queue)]);
    // Expired leases go back to the queue first, so they compete for the limits like any other task.
    const expiredSet = EXPIRED_RESET_SET(pg ? '$2::bigint' : '$2');
    const dead = await tx.query<ClaimRow>(
      pg
        ? `UPDATE garrison_tasks t SET ${expiredSet} WHERE t.queue = $1 AND t.state = 'running' AND t.lease_until < $2 ` +
            `RETURNING ${CLAIM_COLUMNS}`
        : `UPDATE garrison_tasks AS t SET ${expiredSet} WHERE t.queue = $1 AND t.state = 'running' ` +
            `AND t.lease_until < $2 RETURNING ${CLAIM_COLUMNS.replace(/t\./g, '')}`,
      [queue, now],
    );
    const died = dead.filter((r) => r.state === 'dead');

    let budget = request.limit;
    if (def.concurrency !== undefined) {
      const running = await tx.query<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM garrison_tasks WHERE queue = $1 AND state = 'running'`,
        [queue],
      );
      budget = Math.min(budget, def.concurrency - Number(running[0]?.n ?? 0));
    }
    let queueBucket: Bucket | undefined;
    if (def.rateLimit !== undefined) {
      const b = await loadBuckets(tx, queue, def.rateLimit, false, now);
      queueBucket = b.get('') ?? { tokens: def.rateLimit.limit, limit: def.rateLimit };
      budget = Math.min(budget, Math.floor(queueBucket.tokens + 1e-9));
    }
    if (budget <= 0) return died;

    const picked = await pick(tx, store, def, budget, now);
    if (picked.ids.length === 0) return died;
    const claimed = await tx.query<ClaimRow>(
      pg
        ? `UPDATE garrison_tasks t SET ${CLAIM_SET('$1::bigint', '$2::bigint', '$3::text')} ` +
            `WHERE ${inIds(store, 't.id', 4)} RETURNING ${CLAIM_COLUMNS}`
        : `UPDATE garrison_tasks AS t SET ${CLAIM_SET('$1', '$2', '$3')} WHERE ${inIds(store, 't.id', 4)} ` +
            `RETURNING ${CLAIM_COLUMNS.replace(/t\./g, '')}`,
      [now, request.leaseUntil, request.workerId, bindIds(store, picked.ids)],
    );
    if (queueBucket !== undefined) await saveBucket(tx, queue, '', queueBucket.tokens - claimed.length, now);
    for (const [group, bucket] of picked.groupBuckets) await saveBucket(tx, queue, group, bucket.tokens, now);
    return [...died, ...claimed];
  });
}

interface Picked {
  readonly ids: number[];
  /** Group buckets whose tokens were taken, with what they hold now. */
  readonly groupBuckets: Map<string, Bucket>;
}

/** Picks up to `budget` runnable tasks in claim order that fit the per-group limits. */
async function pick(
  tx: Tx,
  store: Store,
  def: QueueDefinition,
  budget: number,
  now: number,
): Promise<Picked> {
  const queue = def.name;
  const grouped = def.groupConcurrency !== undefined || def.groupRateLimit !== undefined;
  if (!grouped) {
    const rows = await tx.query<{ id: number }>(
      `SELECT id FROM garrison_tasks WHERE queue = $1 AND state = 'queued' AND run_at <= $2 ` +
        `ORDER BY priority DESC, run_at, id LIMIT $3`,
      [queue, now, budget],
    );
    return { ids: rows.map((r) => Number(r.id)), groupBuckets: new Map() };
  }

  const running = new Map<string, number>();
  if (def.groupConcurrency !== undefined) {
    const rows = await tx.query<{ group_key: string; n: number | string }>(
      `SELECT group_key, COUNT(*) AS n FROM garrison_tasks WHERE queue = $1 AND state = 'running' ` +
        `AND group_key IS NOT NULL GROUP BY group_key`,
      [queue],
    );
    for (const r of rows) running.set(r.group_key, Number(r.n));
  }
  const buckets =
    def.groupRateLimit === undefined
      ? new Map<string, Bucket>()
      : await loadBuckets(tx, queue, def.groupRateLimit, true, now);
  const touched = new Map<string, Bucket>();
  const full = (group: string): boolean => {
    if (def.groupConcurrency !== undefined && (running.get(group) ?? 0) >= def.groupConcurrency) return true;
    if (def.groupRateLimit !== undefined) {
      const b = buckets.get(group);
      if (b !== undefined && b.tokens < 1 - 1e-9) return true;
    }
    return false;
  };

  const ids: number[] = [];
  const taken = new Set<number>();
  const scan = Math.max(SCAN_MIN, budget * 4);
  for (let round = 0; round < SCAN_ROUNDS && ids.length < budget; round++) {
    const blocked = new Set<string>();
    for (const g of running.keys()) if (full(g)) blocked.add(g);
    for (const g of buckets.keys()) if (full(g)) blocked.add(g);
    const exclude = JSON.stringify([...blocked]);
    const notBlocked =
      store.dialect === 'postgres'
        ? `(group_key IS NULL OR group_key NOT IN (SELECT json_array_elements_text($3::json)))`
        : `(group_key IS NULL OR group_key NOT IN (SELECT value FROM json_each($3)))`;
    const rows = await tx.query<{ id: number; group_key: string | null }>(
      `SELECT id, group_key FROM garrison_tasks WHERE queue = $1 AND state = 'queued' AND run_at <= $2 ` +
        `AND ${notBlocked} ORDER BY priority DESC, run_at, id LIMIT $4`,
      [queue, now, exclude, scan],
    );
    for (const r of rows) {
      if (ids.length >= budget) break;
      const id = Number(r.id);
      if (taken.has(id)) continue;
      const g = r.group_key;
      if (g !== null) {
        if (full(g)) continue;
        running.set(g, (running.get(g) ?? 0) + 1);
        if (def.groupRateLimit !== undefined) {
          const b = buckets.get(g) ?? { tokens: def.groupRateLimit.limit, limit: def.groupRateLimit };
          b.tokens -= 1;
          buckets.set(g, b);
          touched.set(g, b);
        }
      }
      taken.add(id);
      ids.push(id);
    }
    if (rows.length < scan) break;
  }
  return { ids, groupBuckets: touched };
}

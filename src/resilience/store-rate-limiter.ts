/**
 * A token bucket per key kept in the store, shared by every process and node using the same limiter name.
 * Each acquire is one atomic upsert: it refills, decides and takes in a single statement, so concurrent
 * callers anywhere are granted exactly what the bucket holds.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { StoreError, StoreErrorCode, type Store } from '../store/index.js';
import { emitTo, type EventSink, type ResilienceEvents } from '../telemetry/index.js';
import type { RateLimiterStats } from './rate-limiter.js';
import {
  assertKey,
  assertRequest,
  bucketSettingsSchema,
  fullAt,
  refilled,
  TOKEN_EPSILON,
  waitFor,
  wholeTokens,
  type BucketStatus,
  type RateDecision,
  type TokenBucketSettings,
} from './token-bucket.js';
import { parseOptions } from './validate.js';

export interface StoreRateLimiterOptions extends TokenBucketSettings {
  /**
   * The limiter's name: every limiter with this name on the same store shares its buckets. All of them must
   * use the same `capacity` and `refillPerSecond`.
   */
  readonly name: string;
  /**
   * Time source, in UNIX epoch ms. Default the system clock. Nodes should keep their clocks in sync: a node
   * whose clock runs ahead refills its buckets early (a bucket's time never moves backwards).
   */
  readonly clock?: Clock;
  /** Where `ratelimit.denied` events go. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

/** The store-backed limiter: the same operations as `RateLimiter`, answered after the store has. */
export interface StoreRateLimiter {
  readonly name: string;
  /** Takes `n` tokens (default 1) from `key`'s bucket when it holds them, in one atomic statement. */
  tryAcquire(key: string, n?: number): Promise<RateDecision>;
  status(key: string): Promise<BucketStatus>;
  /** Buckets this limiter has in the store, and the acquires granted and refused by this instance. */
  stats(): Promise<RateLimiterStats>;
  /** Removes this limiter's buckets idle for at least `olderThanMs` that have refilled completely. */
  cleanup(olderThanMs: number): Promise<number>;
}

const optionsSchema = bucketSettingsSchema.extend({ name: z.string().min(1) });

interface BucketRow {
  tokens: number;
  updated_at: number | string;
  last_allowed?: number | string;
}

export function createStoreRateLimiter(store: Store, options: StoreRateLimiterOptions): StoreRateLimiter {
  const parsed = parseOptions(optionsSchema, options, 'store rate limiter options');
  const settings: TokenBucketSettings = parsed;
  const name = parsed.name;
  const clock = options.clock ?? systemClock;
  const events = options.events;
  let allowed = 0;
  let denied = 0;

  const pg = store.dialect === 'postgres';
  const least = pg ? 'LEAST' : 'MIN';
  const greatest = pg ? 'GREATEST' : 'MAX';
  // $1 limiter, $2 key, $3 capacity, $4 tokens requested, $5 now (ms), $6 refill per second.
  // Casts give PostgreSQL the parameter types; SQLite reads them as the matching affinities.
  const capacity = 'CAST($3 AS DOUBLE PRECISION)';
  const n = 'CAST($4 AS DOUBLE PRECISION)';
  const now = 'CAST($5 AS BIGINT)';
  const available = `${least}(${capacity}, b.tokens + ${greatest}(0, ${now} - b.updated_at) * CAST($6 AS DOUBLE PRECISION) / 1000.0)`;
  const enough = `${available} + ${TOKEN_EPSILON} >= ${n}`;
  const acquireSql = `
    INSERT INTO garrison_rate_buckets AS b (limiter, bucket_key, tokens, updated_at, last_allowed)
    VALUES ($1, $2, ${capacity} - ${n}, ${now}, 1)
    ON CONFLICT (limiter, bucket_key) DO UPDATE SET
      tokens = CASE WHEN ${enough} THEN ${available} - ${n} ELSE ${available} END,
      updated_at = ${greatest}(b.updated_at, ${now}),
      last_allowed = CASE WHEN ${enough} THEN 1 ELSE 0 END
    RETURNING tokens, updated_at, last_allowed`;

  const acquire = async (key: string, count: number, at: number): Promise<BucketRow> => {
    const params = [name, key, settings.capacity, count, at, settings.refillPerSecond];
    // SQLite: the write connection, inside a (group-committed) write transaction. PostgreSQL: one
    // autocommitted statement, so a row lock is never held across other keys' statements.
    const rows = pg
      ? await store.query<BucketRow & Record<string, unknown>>(acquireSql, params)
      : await store.write((tx) => tx.query<BucketRow & Record<string, unknown>>(acquireSql, params));
    const row = rows[0];
    if (row === undefined) {
      throw new StoreError(
        StoreErrorCode.failed,
        `rate limiter ${name}: the acquire statement returned no row`,
      );
    }
    return row;
  };

  return {
    name,
    async tryAcquire(key, count = 1) {
      assertKey(name, key);
      assertRequest(settings, name, count);
      const at = clock.now();
      const row = await acquire(key, count, at);
      // The bucket's own time may be ahead of ours (another node's clock); decide from the row.
      const rowTime = Math.max(at, Number(row.updated_at));
      const tokens = Number(row.tokens);
      if (Number(row.last_allowed) === 1) {
        allowed++;
        return {
          allowed: true,
          remaining: wholeTokens(tokens),
          resetAtMs: fullAt(settings, tokens, rowTime),
          retryAfterMs: 0,
        };
      }
      denied++;
      const decision = {
        allowed: false,
        remaining: wholeTokens(tokens),
        resetAtMs: fullAt(settings, tokens, rowTime),
        retryAfterMs: waitFor(settings, tokens, count),
      };
      emitTo(events, 'ratelimit.denied', {
        limiter: name,
        key,
        requested: count,
        remaining: decision.remaining,
        retryAfterMs: decision.retryAfterMs,
      });
      return decision;
    },
    async status(key) {
      assertKey(name, key);
      const at = clock.now();
      const rows = await store.query<BucketRow & Record<string, unknown>>(
        'SELECT tokens, updated_at FROM garrison_rate_buckets WHERE limiter = $1 AND bucket_key = $2',
        [name, key],
      );
      const row = rows[0];
      const tokens =
        row === undefined
          ? settings.capacity
          : refilled(settings, Number(row.tokens), Number(row.updated_at), at);
      return {
        key,
        remaining: wholeTokens(tokens),
        capacity: settings.capacity,
        resetAtMs: fullAt(settings, tokens, at),
      };
    },
    async stats() {
      const rows = await store.query<{ n: number | string }>(
        'SELECT COUNT(*) AS n FROM garrison_rate_buckets WHERE limiter = $1',
        [name],
      );
      return { name, keys: Number(rows[0]?.n ?? 0), allowed, denied };
    },
    async cleanup(olderThanMs) {
      if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
        throw new ValidationError(`rate limiter ${name}: olderThanMs must be a non-negative number of ms`);
      }
      const at = clock.now();
      // Idle long enough and refilled to capacity: removing it changes no later decision.
      const result = await store.execute(
        `DELETE FROM garrison_rate_buckets
          WHERE limiter = $1 AND updated_at <= CAST($2 AS BIGINT)
            AND tokens + (CAST($3 AS BIGINT) - updated_at) * CAST($4 AS DOUBLE PRECISION) / 1000.0
                + ${TOKEN_EPSILON} >= CAST($5 AS DOUBLE PRECISION)`,
        [name, at - olderThanMs, at, settings.refillPerSecond, settings.capacity],
      );
      return result.rowCount;
    },
  };
}
